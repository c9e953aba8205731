package report

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/trailwatch/trailwatch/internal/review"
	"github.com/trailwatch/trailwatch/internal/rulefmt"
)

// FindingsJSON writes findings.json: the whole review (schema review.Schema, documented in
// docs/findings-json.md), compact, with one finding per line so that the file stays quick to write and
// to grep at hundreds of thousands of findings.
func FindingsJSON(w io.Writer, rv *review.Review) error {
	head := *rv
	head.Findings = nil
	b, err := json.MarshalIndent(&head, "", "  ")
	if err != nil {
		return err
	}
	const slot = `"findings": null`
	i := bytes.Index(b, []byte(slot))
	if i < 0 {
		return fmt.Errorf("findings.json: no findings slot")
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	bw.Write(b[:i])
	bw.WriteString("\"findings\": [")
	for k := range rv.Findings {
		if k > 0 {
			bw.WriteByte(',')
		}
		bw.WriteByte('\n')
		line, err := json.Marshal(&rv.Findings[k])
		if err != nil {
			return err
		}
		bw.Write(line)
	}
	bw.WriteString("\n  ]")
	bw.Write(b[i+len(slot):])
	bw.WriteByte('\n')
	return bw.Flush()
}

// CoverageJSON writes coverage.json: which account × region × hour had log files and events, and the gaps.
func CoverageJSON(w io.Writer, rv *review.Review) error {
	return writeJSON(w, struct {
		Schema string        `json:"schema"`
		Window review.Window `json:"window"`
		review.Coverage
	}{"trailwatch.coverage/v1", rv.Window, rv.Coverage})
}

// Run is run.json: what ran, over what, when.
type Run struct {
	Schema     string        `json:"schema"`
	Version    string        `json:"trailwatch_version"`
	RuleSet    string        `json:"rule_set"`
	Rules      int           `json:"rules"`
	Window     review.Window `json:"window"`
	Events     int64         `json:"events"`
	Sources    []string      `json:"sources"`
	Started    time.Time     `json:"started"`
	Ended      time.Time     `json:"ended"`
	Findings   int           `json:"findings"`
	Suppressed int           `json:"suppressed"`
}

// RunJSON writes run.json.
func RunJSON(w io.Writer, rv *review.Review) error {
	r := Run{Schema: "trailwatch.run/v1", Version: rv.Version, RuleSet: rv.RuleSet, Rules: rv.Rules, Window: rv.Window,
		Events: rv.Events, Sources: rv.Sources, Started: rv.Started, Ended: rv.Ended}
	for _, f := range rv.Findings {
		if f.Suppressed != nil {
			r.Suppressed++
		} else {
			r.Findings++
		}
	}
	return writeJSON(w, r)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// QueriesSQL writes queries.sql: the exact SQL of every rule, with the rule's version hash.
func QueriesSQL(w io.Writer, rv *review.Review) error {
	fmt.Fprintf(w, "-- trailwatch %s: the SQL each rule ran over %s (%s to %s)\n", rv.Version, rv.Window.Label,
		rv.Window.Since.UTC().Format(time.RFC3339), rv.Window.Until.UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "-- rule set %s. All rules ran in one pass over the table (see `trailwatch detect --print-sql`);\n", rv.RuleSet)
	fmt.Fprintln(w, "-- each query below gives the same events for its rule on its own. Table: the Athena CloudTrail table.")
	for _, q := range rv.Queries {
		fmt.Fprintf(w, "\n-- rule %s (id %s, version %s)\n%s;\n", q.Rule, q.RuleID, q.VersionHash, q.SQL)
	}
	return nil
}

// CSVHeader is the header of each findings/<rule>.csv.
var CSVHeader = []string{"id", "time", "rule", "level", "pci_v4", "pci_v3_2_1", "account", "region", "principal",
	"principal_arn", "identity_type", "event_source", "event_name", "source_ip", "user_agent", "error_code", "event_id",
	"source_object", "count", "event_ids", "detail", "suppressed_by", "suppression_reason"}

// RuleCSV writes one rule's findings as CSV. Cells a spreadsheet would read as a formula (starting with
// = + - @ or a tab) get a leading apostrophe: the values are attacker-controlled.
func RuleCSV(w io.Writer, fs []review.Finding) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for _, f := range fs {
		count := ""
		if f.Count > 0 {
			count = strconv.Itoa(f.Count)
		}
		var by, reason string
		if f.Suppressed != nil {
			by, reason = f.Suppressed.ID, f.Suppressed.Reason
		}
		rec := []string{f.ID, f.Time.UTC().Format(time.RFC3339), f.Rule, f.Level, strings.Join(f.PCIv4, " "),
			strings.Join(f.PCIv321, " "), f.Account, f.Region, f.Principal, f.PrincipalARN, f.IdentityType, f.EventSource,
			f.EventName, f.SourceIP, f.UserAgent, f.ErrorCode, f.EventID, f.Object, count, strings.Join(f.EventIDs, " "),
			f.Detail, by, reason}
		for i, v := range rec {
			rec[i] = defuse(v)
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func defuse(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

// ByRule groups findings by rule, rules ordered by level (highest first) then name.
func ByRule(fs []review.Finding) []RuleFindings {
	idx := map[string]int{}
	var out []RuleFindings
	var counts []int
	for i := range fs {
		f := &fs[i]
		k, ok := idx[f.Rule]
		if !ok {
			k = len(out)
			idx[f.Rule] = k
			out = append(out, RuleFindings{Rule: f.Rule, RuleID: f.RuleID, Title: f.Title, Level: f.Level, PCIv4: f.PCIv4, PCIv321: f.PCIv321})
			counts = append(counts, 0)
		}
		counts[k]++
	}
	for k := range out {
		out[k].Findings = make([]review.Finding, 0, counts[k])
	}
	for i := range fs {
		k := idx[fs[i].Rule]
		out[k].Findings = append(out[k].Findings, fs[i])
		if fs[i].Suppressed != nil {
			out[k].Suppressed++
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := rulefmt.LevelRank(out[i].Level), rulefmt.LevelRank(out[j].Level)
		if a != b {
			return a > b
		}
		return out[i].Rule < out[j].Rule
	})
	return out
}

// RuleFindings are the findings of one rule.
type RuleFindings struct {
	Rule, RuleID, Title, Level string
	PCIv4, PCIv321             []string
	Findings                   []review.Finding
	Suppressed                 int
}
