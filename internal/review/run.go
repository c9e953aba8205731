package review

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/trailwatch/trailwatch/internal/engine"
	"github.com/trailwatch/trailwatch/internal/pci"
	"github.com/trailwatch/trailwatch/internal/source"
	"github.com/trailwatch/trailwatch/internal/suppress"
)

// DetailPerRule is how many findings of a rule carry their event in the bundle.
const DetailPerRule = 50

// Options say what to review and how.
type Options struct {
	Window Window
	Rules  *engine.Set
	// Suppressions are the exceptions; nil means none.
	Suppressions *suppress.Set
	// ExpectedAccounts and ExpectedRegions are those that should deliver logs; empty means those seen in
	// the 7 days before the window.
	ExpectedAccounts, ExpectedRegions []string
	// SourceHistory is the oldest day of logs per account and region in the configured sources (the S3
	// trail usually keeps more than the store); nil when no source is configured.
	SourceHistory []source.Oldest
	// Unreviewed are earlier days nobody acknowledged, as the evidence folder says.
	Unreviewed []string
	Version    string
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Day returns the window of one calendar day in a time zone.
func Day(day string, loc *time.Location) (Window, error) {
	t, err := time.ParseInLocation("2006-01-02", day, loc)
	if err != nil {
		return Window{}, fmt.Errorf("day %q is not YYYY-MM-DD", day)
	}
	return Window{Since: t, Until: t.AddDate(0, 0, 1), TimeZone: loc.String(), Label: day}, nil
}

// Range returns the window [since, until) labelled by its ends.
func Range(since, until time.Time, loc *time.Location) Window {
	label := since.In(loc).Format("2006-01-02T15:04") + "--" + until.In(loc).Format("2006-01-02T15:04")
	if since.In(loc).Format("15:04:05") == "00:00:00" && until.In(loc).Format("15:04:05") == "00:00:00" {
		label = since.In(loc).Format("2006-01-02") + "--" + until.In(loc).AddDate(0, 0, -1).Format("2006-01-02")
	}
	return Window{Since: since, Until: until, TimeZone: loc.String(), Label: label}
}

// Yesterday returns the window of the day before now, in a time zone.
func Yesterday(now time.Time, loc *time.Location) Window {
	w, _ := Day(now.In(loc).AddDate(0, 0, -1).Format("2006-01-02"), loc)
	return w
}

// Checks the review makes itself, beside the rules: each is a finding's rule name when it fails.
var checks = map[string]check{
	"log_delivery_gap": {"Hours without CloudTrail log files for an expected account and region", "high",
		[]string{"10.2.1", "10.7.2"}, []string{"10.2", "10.8"}},
	"log_source_silent": {"An expected account or region delivered no CloudTrail logs in the whole window", "high",
		[]string{"10.2.1", "10.7.2"}, []string{"10.2", "10.8"}},
	"account_first_seen": {"An account delivered CloudTrail logs for the first time", "medium",
		[]string{"10.2.1"}, []string{"10.2"}},
	"log_retention_short": {"Less log history than PCI DSS 10.5.1 asks for", "medium",
		[]string{"10.5.1"}, []string{"10.7"}},
	"suppression_expired": {"A suppression has expired and no longer applies", "low",
		[]string{"10.4.3"}, []string{"10.6.3"}},
}

type check struct {
	title, level  string
	pciV4, pci321 []string
}

// Run reviews a window: it runs the rules, applies the suppressions, measures coverage and retention,
// and gathers the charts and the SQL.
func Run(ctx context.Context, q engine.Querier, opts Options) (*Review, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	w := opts.Window
	rv := &Review{Schema: Schema, Version: opts.Version, Window: w, Started: opts.Now().UTC(), Rules: len(opts.Rules.Rules),
		Unreviewed: opts.Unreviewed}
	if rv.Unreviewed == nil {
		rv.Unreviewed = []string{}
	}
	loc, err := time.LoadLocation(w.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("review: time zone %q: %w", w.TimeZone, err)
	}
	rv.RuleSet, rv.Queries = ruleSet(opts.Rules, w)

	found, _, err := opts.Rules.Detect(ctx, q, engine.Options{Since: w.Since, Until: w.Until})
	if err != nil {
		return nil, fmt.Errorf("review %s: %w", w.Label, err)
	}
	var items []*suppress.Suppression
	if opts.Suppressions != nil {
		items = opts.Suppressions.Items
	}
	rv.Suppressions = make([]SuppressionNote, len(items))
	noteOf := make(map[*suppress.Suppression]*SuppressionNote, len(items))
	for i, s := range items {
		rv.Suppressions[i] = SuppressionNote{ID: s.ID, Rule: s.Rule, Owner: s.Owner, Reason: s.Reason, Expires: s.ExpiresDay,
			Where: s.Pos.String(), Expired: w.Until.After(s.Expires)}
		noteOf[s] = &rv.Suppressions[i]
	}
	rv.Findings = make([]Finding, 0, len(found)+64)
	for i := range found {
		f := &found[i]
		rf := findingOf(f)
		if opts.Suppressions != nil {
			active, expired := opts.Suppressions.Match(f, f.Time)
			switch {
			case active != nil:
				rf.Suppressed = &Suppressed{ID: active.ID, Reason: active.Reason, Owner: active.Owner, Expires: active.ExpiresDay}
				noteOf[active].Matched++
			case expired != nil:
				noteOf[expired].Matched++
				noteOf[expired].Expired = true
			}
		}
		rv.Findings = append(rv.Findings, rf)
	}
	for _, n := range rv.Suppressions {
		if n.Expired {
			rv.Findings = append(rv.Findings, checkFinding("suppression_expired", w.Since, Finding{
				Detail: fmt.Sprintf("suppression %s (%s, owner %s) expired on %s; %d findings of %s it would have covered are reported",
					n.ID, n.Where, n.Owner, n.Expires, n.Matched, n.Rule)}))
		}
	}

	if err := eachRow(ctx, q, "SELECT count(*) FROM cloudtrail_logs WHERE event_time >= ? AND event_time < ?", []any{w.Since, w.Until},
		func(rows *sql.Rows) error { return rows.Scan(&rv.Events) }); err != nil {
		return nil, fmt.Errorf("review: %w", err)
	}
	// Sources: where the window's log files came from, up to the AWSLogs/ folder (from the files table,
	// thousands of rows where the events are millions).
	if rv.Sources, err = strs(ctx, q, `SELECT DISTINCT coalesce(nullif(regexp_extract(uri, '^(.*?)AWSLogs/', 1), ''), uri)
		FROM tw_files WHERE day BETWEEN CAST(? AS DATE) - 1 AND CAST(? AS DATE) + 1 ORDER BY 1`,
		w.Since.UTC().Format("2006-01-02"), w.Until.UTC().Format("2006-01-02")); err != nil {
		return nil, err
	}
	if err := coverage(ctx, q, rv, opts, loc); err != nil {
		return nil, err
	}
	if err := retention(ctx, q, rv, w.Until, opts.SourceHistory); err != nil {
		return nil, err
	}
	sortFindings(rv.Findings)
	if err := details(ctx, q, rv); err != nil {
		return nil, err
	}
	rv.Requirements = requirements(opts.Rules, rv.Findings)
	if err := charts(ctx, q, rv, loc); err != nil {
		return nil, err
	}
	rv.Ended = opts.Now().UTC()
	return rv, nil
}

func findingOf(f *engine.Finding) Finding {
	r := f.Rule
	out := Finding{Rule: r.Ref(), RuleID: r.ID, Title: r.Title, Level: r.Level, PCIv4: r.PCI.V4, PCIv321: r.PCI.V321,
		Alert: r.Alerts(), Time: f.Time, Account: f.Account, Region: f.Region, Principal: f.Principal,
		PrincipalARN: f.PrincipalARN, IdentityType: f.IdentityType, EventSource: f.EventSource, EventName: f.EventName,
		SourceIP: f.SourceIP, UserAgent: f.UserAgent, ErrorCode: f.ErrorCode, EventID: f.EventID, Object: f.Object,
		Count: f.Count, EventIDs: f.EventIDs, Group: f.Group}
	out.ID = FindingID(f)
	return out
}

// FindingID is the stable identity of a finding: the same rule on the same event(s) gives the same id in
// every review and every alert, whatever the run.
func FindingID(f *engine.Finding) string {
	ids := f.EventID
	if len(f.EventIDs) > 0 {
		ids = strings.Join(f.EventIDs, ",")
	}
	return findingID(f.Rule.ID+"/"+f.Rule.Ref(), ids)
}

func findingID(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(h[:8])
}

func checkFinding(name string, at time.Time, f Finding) Finding {
	c := checks[name]
	f.Rule, f.Title, f.Level, f.PCIv4, f.PCIv321, f.Time = name, c.title, c.level, c.pciV4, c.pci321, at
	f.Alert = c.level == "high"
	f.ID = findingID("check/"+name, f.Account, f.Region, f.Detail)
	return f
}

// sortFindings orders findings by time, then rule, then event.
func sortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if !a.Time.Equal(b.Time) {
			return a.Time.Before(b.Time)
		}
		if a.Rule != b.Rule {
			return a.Rule < b.Rule
		}
		return a.ID < b.ID
	})
}

// ruleSet returns the hash of the library (each rule's ref and version hash) and the SQL of each rule.
func ruleSet(set *engine.Set, w Window) (string, []Query) {
	var lines []string
	var qs []Query
	for _, r := range set.Rules {
		hash := ""
		if r.Source != nil {
			hash = r.Source.Hash
		}
		lines = append(lines, r.ID+" "+r.Ref()+" "+hash)
		qs = append(qs, Query{Rule: r.Ref(), RuleID: r.ID, VersionHash: hash, SQL: ruleSQL(set, r, w)})
	}
	sort.Strings(lines)
	h := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return hex.EncodeToString(h[:]), qs
}

// ruleSQL is the query that gives a rule's events on its own: what the one-pass run evaluates for it.
func ruleSQL(set *engine.Set, r *engine.Rule, w Window) string {
	window := fmt.Sprintf("%s >= TIMESTAMPTZ '%s' AND %s < TIMESTAMPTZ '%s'", set.Dialect.EventTime(),
		w.Since.UTC().Format(time.RFC3339), set.Dialect.EventTime(), w.Until.UTC().Format(time.RFC3339))
	if r.Correlation == nil {
		return fmt.Sprintf("SELECT *\nFROM %s\nWHERE %s\nAND (%s)", set.Dialect.Table(), window, r.Where)
	}
	c := r.Correlation
	var b strings.Builder
	fmt.Fprintf(&b, "-- threshold rule: %s over %s within %s", c.Type, strings.Join(c.Rules, ", "), c.Timespan)
	if len(c.GroupBy) > 0 {
		fmt.Fprintf(&b, ", grouped by %s", strings.Join(c.GroupBy, ", "))
	}
	var ops []string
	for op, v := range c.Condition.Ops {
		ops = append(ops, fmt.Sprintf("%s %g", op, v))
	}
	sort.Strings(ops)
	counted := "count"
	if c.Condition.Field != "" {
		counted = "count of distinct " + c.Condition.Field
	}
	fmt.Fprintf(&b, ", fires when the %s is %s;\n-- the sliding window is evaluated on the events of these queries:", counted, strings.Join(ops, " and "))
	for _, base := range r.Bases {
		fmt.Fprintf(&b, "\n-- %s\nSELECT *\nFROM %s\nWHERE %s\nAND (%s);", base.Ref(), set.Dialect.Table(), window, base.Where)
	}
	return strings.TrimSuffix(b.String(), ";")
}

// requirements states each PCI DSS v4.0.1 requirement-10 item: the rules and checks mapped to it and what
// they found. Informational rules record activity for the reviewer; they are not findings. A parent
// requirement does not count its children's findings: each has its own line.
func requirements(set *engine.Set, fs []Finding) []Requirement {
	active, suppressed := map[string]int{}, map[string]int{}
	for _, f := range fs {
		if f.Level == "informational" {
			continue
		}
		for i, id := range f.PCIv4 {
			if slices.Index(f.PCIv4, id) != i {
				continue // listed twice, counted once
			}
			if f.Suppressed != nil {
				suppressed[id]++
			} else {
				active[id]++
			}
		}
	}
	var out []Requirement
	for _, p := range pci.V4 {
		req := Requirement{ID: p.ID, V321: pci.V321For(p.ID), Title: p.Title, Rules: []string{}}
		if req.V321 == nil {
			req.V321 = []string{}
		}
		for _, r := range set.Rules {
			if r.Emits && slices.Contains(r.PCI.V4, p.ID) {
				req.Rules = append(req.Rules, r.Ref())
			}
		}
		for name, c := range checks {
			if slices.Contains(c.pciV4, p.ID) {
				req.Rules = append(req.Rules, name)
			}
		}
		sort.Strings(req.Rules)
		req.Findings, req.Suppressed = active[p.ID], suppressed[p.ID]
		req.Evidenced = len(req.Rules) > 0
		req.Note = notes[p.ID]
		out = append(out, req)
	}
	return out
}

// notes say where the evidence of each requirement lives when it is not (only) the rules'.
var notes = map[string]string{
	"10.1.1":   "Policies and procedures: outside CloudTrail; keep them with this bundle.",
	"10.1.2":   "Roles and responsibilities: outside CloudTrail.",
	"10.3.2":   "Log files protected from change: see the CloudTrail digest verification and S3 Object Lock on the log bucket.",
	"10.3.3":   "Central store: the CloudTrail S3 bucket this review read (see Sources).",
	"10.3.4":   "Change detection on logs: CloudTrail log-file validation (rules above) and digest verification.",
	"10.4.1":   "This bundle is the daily review; the acknowledgement (ack.json) records who reviewed it.",
	"10.4.1.1": "This review is the automated mechanism: every rule above ran over every event of the window.",
	"10.4.2":   "Other system components: outside CloudTrail.",
	"10.4.2.1": "Targeted risk analysis: outside CloudTrail.",
	"10.4.3":   "Exceptions are recorded as suppressions with owner, reason and expiry (see Suppressions).",
	"10.5.1":   "See Retention: oldest log day per account and region.",
	"10.6.1":   "Time synchronisation of AWS services is AWS's; rules watch changes to time settings.",
	"10.6.2":   "Time synchronisation of AWS services is AWS's; rules watch changes to time settings.",
	"10.7.1":   "Superseded by 10.7.2 after 31 March 2025.",
}

// details attaches the stored event to the first DetailPerRule findings of each rule.
func details(ctx context.Context, q engine.Querier, rv *Review) error {
	per := map[string]int{}
	want := map[string][]int{}
	var ids []string
	for i, f := range rv.Findings {
		if f.EventID == "" || per[f.Rule] >= DetailPerRule {
			continue
		}
		per[f.Rule]++
		if _, ok := want[f.EventID]; !ok {
			ids = append(ids, f.EventID)
		}
		want[f.EventID] = append(want[f.EventID], i)
	}
	const chunk = 500
	for start := 0; start < len(ids); start += chunk {
		part := ids[start:min(start+chunk, len(ids))]
		args := []any{rv.Window.Since, rv.Window.Until}
		for _, id := range part {
			args = append(args, id)
		}
		err := eachRow(ctx, q, `SELECT eventid, requestparameters, responseelements, additionaleventdata, errormessage,
			CASE WHEN len(resources) > 0 THEN CAST(to_json(resources) AS VARCHAR) END, recipientaccountid
			FROM cloudtrail_logs WHERE event_time >= ? AND event_time < ? AND eventid IN (?`+strings.Repeat(", ?", len(part)-1)+`)`, args,
			func(rows *sql.Rows) error {
				var id string
				var c [6]sql.NullString
				if err := rows.Scan(&id, &c[0], &c[1], &c[2], &c[3], &c[4], &c[5]); err != nil {
					return err
				}
				ev := &Event{RequestParameters: c[0].String, ResponseElements: c[1].String, AdditionalData: c[2].String,
					ErrorMessage: c[3].String, Resources: c[4].String, RecipientAccountID: c[5].String}
				for _, i := range want[id] {
					if rv.Findings[i].Event == nil {
						rv.Findings[i].Event = ev
					}
				}
				return nil
			})
		if err != nil {
			return fmt.Errorf("review: read finding events: %w", err)
		}
	}
	return nil
}

// eachRow runs a query and hands each row to scan.
func eachRow(ctx context.Context, q engine.Querier, query string, args []any, scan func(*sql.Rows) error) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// strs runs a query of one string column; NULLs are left out.
func strs(ctx context.Context, q engine.Querier, query string, args ...any) ([]string, error) {
	out := []string{}
	err := eachRow(ctx, q, query, args, func(rows *sql.Rows) error {
		var s sql.NullString
		if err := rows.Scan(&s); err != nil {
			return err
		}
		if s.Valid {
			out = append(out, s.String)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("review: %w", err)
	}
	return out, nil
}
