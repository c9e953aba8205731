// Package ruletest runs every rule's own test events through the real ingest path into a throw-away store
// and checks that the must-fire events fire and the must-not-fire events do not.
package ruletest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/trailwatch/trailwatch/internal/engine"
	"github.com/trailwatch/trailwatch/internal/rulefmt"
	"github.com/trailwatch/trailwatch/internal/sigma"
	"github.com/trailwatch/trailwatch/internal/source"
	"github.com/trailwatch/trailwatch/internal/store"
)

// Params are the parameters rules are tested with (rules/README.md lists them).
func Params() sigma.Params {
	return sigma.DefaultParams().With(sigma.Params{
		"log_buckets":       {"aws-cloudtrail-logs-111122223333"},
		"log_readers":       {"trailwatch-reader"},
		"cde_accounts":      {"444455556666"},
		"cde_buckets":       {"cardholder-data-prod"},
		"break_glass_roles": {"BreakGlassAdmin"},
	})
}

// BaseTime is the event time of the first test event that gives none.
var BaseTime = time.Date(2026, 1, 14, 10, 0, 0, 0, time.UTC)

// Result is the outcome of one rule's tests.
type Result struct {
	Rule     *rulefmt.Rule
	Skipped  string   // why the rule was not tested (no tests)
	Failures []string // empty when the rule passed
}

// Passed reports whether the rule's tests all held.
func (r Result) Passed() bool { return r.Skipped == "" && len(r.Failures) == 0 }

type testEvent struct {
	id   string
	pos  rulefmt.Pos
	json []byte
}

type ruleCase struct {
	rule         *rulefmt.Rule
	fire, noFire []testEvent
	params       sigma.Params
}

// Run tests every rule that carries tests. dir is a scratch folder for the log files and the store.
func Run(ctx context.Context, rules []*rulefmt.Rule, dir string) ([]Result, error) {
	var cases []*ruleCase
	var results []Result
	var records [][]byte
	counted := rulefmt.Counted(rules)
	for ri, r := range rules {
		if r.Tests == nil || len(r.Tests.MustFire)+len(r.Tests.MustNotFire) == 0 {
			if counted[r] {
				continue // tested through its correlation
			}
			results = append(results, Result{Rule: r, Skipped: "no tests"})
			continue
		}
		c := &ruleCase{rule: r, params: Params().With(r.Tests.Params)}
		n := 0
		mk := func(evs []rulefmt.Event, kind string) ([]testEvent, error) {
			var out []testEvent
			for i, ev := range evs {
				id := fmt.Sprintf("tw-test-%03d-%s-%d", ri, kind, i)
				raw, err := Fill(ev.JSON, id, BaseTime.Add(time.Duration(n)*time.Second))
				if err != nil {
					return nil, fmt.Errorf("%s: %s event %d: %w", ev.Pos, kind, i+1, err)
				}
				n++
				out = append(out, testEvent{id: id, pos: ev.Pos, json: raw})
				records = append(records, raw)
			}
			return out, nil
		}
		var err error
		if c.fire, err = mk(r.Tests.MustFire, "fire"); err != nil {
			return nil, err
		}
		if c.noFire, err = mk(r.Tests.MustNotFire, "quiet"); err != nil {
			return nil, err
		}
		cases = append(cases, c)
	}
	if len(cases) == 0 {
		return results, nil
	}

	st, err := Ingest(ctx, dir, records)
	if err != nil {
		return nil, err
	}
	defer st.Close()

	for _, c := range cases {
		results = append(results, c.run(ctx, st, rules))
	}
	sort.SliceStable(results, func(i, j int) bool { return results[i].Rule.Pos.File < results[j].Rule.Pos.File })
	return results, nil
}

func (c *ruleCase) run(ctx context.Context, st *store.Store, all []*rulefmt.Rule) Result {
	res := Result{Rule: c.rule}
	// Compile the rule (and the rules it counts) with its test parameters.
	input := []*rulefmt.Rule{c.rule}
	if c.rule.Correlation != nil {
		for _, ref := range c.rule.Correlation.Rules {
			for _, o := range all {
				if o != c.rule && (o.Name == ref || o.ID == ref) {
					input = append(input, o)
				}
			}
		}
	}
	set, problems := engine.Compile(input, sigma.DuckDB{}, c.params)
	if len(problems) > 0 {
		for _, p := range problems {
			res.Failures = append(res.Failures, "compile: "+p.String())
		}
		return res
	}
	target, ok := lookup(set, c.rule)
	if !ok {
		res.Failures = append(res.Failures, "the rule did not compile")
		return res
	}
	set = set.Subset(target)
	check := func(evs []testEvent, mustFire bool) {
		if len(evs) == 0 {
			return
		}
		ids := make([]string, len(evs))
		for i, e := range evs {
			ids[i] = sigma.DuckDB{}.String(e.id)
		}
		findings, _, err := set.Detect(ctx, st.DB, engine.Options{Scope: "eventid IN (" + strings.Join(ids, ", ") + ")"})
		if err != nil {
			res.Failures = append(res.Failures, err.Error())
			return
		}
		hit := map[string]bool{}
		n := 0
		for _, f := range findings {
			if f.Rule != target {
				continue
			}
			n++
			hit[f.EventID] = true
			for _, id := range f.EventIDs {
				hit[id] = true
			}
		}
		corr := c.rule.Correlation != nil
		switch {
		case mustFire && corr && n == 0:
			res.Failures = append(res.Failures, fmt.Sprintf("%s: the %d must_fire events raised no finding", evs[0].pos, len(evs)))
		case !mustFire && corr && n > 0:
			res.Failures = append(res.Failures, fmt.Sprintf("%s: the must_not_fire events raised %d findings", evs[0].pos, n))
		case !corr:
			for i, e := range evs {
				if mustFire && !hit[e.id] {
					res.Failures = append(res.Failures, fmt.Sprintf("%s: must_fire event %d did not fire", e.pos, i+1))
				}
				if !mustFire && hit[e.id] {
					res.Failures = append(res.Failures, fmt.Sprintf("%s: must_not_fire event %d fired", e.pos, i+1))
				}
			}
		}
	}
	check(c.fire, true)
	check(c.noFire, false)
	if len(c.fire) == 0 {
		res.Failures = append(res.Failures, "no must_fire events")
	}
	if len(c.noFire) == 0 {
		res.Failures = append(res.Failures, "no must_not_fire events")
	}
	return res
}

func lookup(set *engine.Set, r *rulefmt.Rule) (*engine.Rule, bool) {
	for _, cr := range set.Rules {
		if cr.Rule == r {
			return cr, true
		}
	}
	return nil, false
}

// Fill gives a test event what CloudTrail always writes and a short test leaves out (eventTime t), and its
// own eventID id so the same real record can serve several rules.
func Fill(raw []byte, id string, t time.Time) ([]byte, error) {
	var ev map[string]json.RawMessage
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, err
	}
	set := func(k string, v any) {
		if _, ok := ev[k]; !ok {
			b, _ := json.Marshal(v)
			ev[k] = b
		}
	}
	set("eventVersion", "1.09")
	set("eventTime", t.Format(time.RFC3339))
	set("awsRegion", "us-east-1")
	set("recipientAccountId", "111122223333")
	set("eventType", "AwsApiCall")
	b, _ := json.Marshal(id)
	ev["eventID"] = b
	return json.Marshal(ev)
}

// Ingest writes records into one CloudTrail log file under dir and ingests it into a new store in dir,
// exactly as real logs are ingested. The caller closes the store.
func Ingest(ctx context.Context, dir string, records [][]byte) (*store.Store, error) {
	logDir := filepath.Join(dir, "AWSLogs", "111122223333", "CloudTrail", "us-east-1", "2026", "01", "14")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.WriteString(`{"Records":[`)
	for i, rec := range records {
		if i > 0 {
			buf.WriteString(",\n")
		}
		buf.Write(rec)
	}
	buf.WriteString("]}\n")
	file := filepath.Join(logDir, "111122223333_CloudTrail_us-east-1_20260114T1000Z_ruletests.json")
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, filepath.Join(dir, "ruletest.duckdb"), store.Options{})
	if err != nil {
		return nil, err
	}
	src, err := source.NewLocal(filepath.Join(dir, "AWSLogs"))
	if err == nil {
		var sum store.Summary
		sum, err = st.Ingest(ctx, src, store.IngestOptions{})
		if err == nil && sum.Failed > 0 {
			var msgs []string
			for _, f := range sum.Failures {
				msgs = append(msgs, f.Err.Error())
			}
			err = errors.New(strings.Join(msgs, "; "))
		}
	}
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("ingest test events: %w", err)
	}
	return st, nil
}
