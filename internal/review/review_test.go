package review_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trailwatch/trailwatch/internal/engine"
	"github.com/trailwatch/trailwatch/internal/generate"
	"github.com/trailwatch/trailwatch/internal/review"
	"github.com/trailwatch/trailwatch/internal/sigma"
	"github.com/trailwatch/trailwatch/internal/source"
	"github.com/trailwatch/trailwatch/internal/store"
	"github.com/trailwatch/trailwatch/internal/suppress"
	"github.com/trailwatch/trailwatch/rules"
)

// The generated organization: 3 accounts from the first day, a fourth joining on the last, 2 regions,
// 3 days ending 2026-03-03. The management account's eu-west-1 logs of the last day are removed.
const (
	lastDay    = "2026-03-03"
	quietRegio = "eu-west-1"
)

var (
	// mgmt is the account whose eu-west-1 logs of the last day are removed: the first (by id) of those
	// present from the first day.
	mgmt        string
	fixtureOnce sync.Once
	fixtureDir  string
	fixtureErr  error
)

// fixture generates, trims and ingests the test organization once per test binary.
func fixture(t *testing.T) (*store.Store, *engine.Set) {
	t.Helper()
	fixtureOnce.Do(func() { fixtureDir, fixtureErr = buildFixture() })
	if fixtureErr != nil {
		t.Fatalf("fixture: %v", fixtureErr)
	}
	st, err := store.Open(context.Background(), filepath.Join(fixtureDir, "tw.duckdb"), store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	set, err := rules.Builtin(sigma.DuckDB{}, sigma.DefaultParams())
	if err != nil {
		t.Fatal(err)
	}
	return st, set
}

// buildFixture writes the store of the test organization into a new folder (returned also on error, for
// TestMain to remove) and names mgmt.
func buildFixture() (string, error) {
	dir, err := os.MkdirTemp("", "trailwatch-review-")
	if err != nil {
		return "", err
	}
	logs := filepath.Join(dir, "logs")
	end, _ := time.Parse("2006-01-02", lastDay)
	if _, err := generate.Run(context.Background(), generate.Options{Out: logs, Accounts: 3, Regions: 2, Days: 3,
		End: end, EventsPerDay: 3000, Seed: 7}); err != nil {
		return dir, err
	}
	firstDay, _ := filepath.Glob(filepath.Join(logs, "AWSLogs", "*", "*", "CloudTrail", "us-east-1", "2026", "03", "01"))
	if len(firstDay) == 0 {
		return dir, os.ErrNotExist
	}
	rel, _ := filepath.Rel(filepath.Join(logs, "AWSLogs"), firstDay[0])
	mgmt = strings.Split(filepath.ToSlash(rel), "/")[1] // o-org/account/CloudTrail/…
	removed := 0
	err = filepath.WalkDir(logs, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.Contains(p, "/"+mgmt+"/CloudTrail/"+quietRegio+"/2026/03/03/") {
			removed++
			return os.Remove(p)
		}
		return nil
	})
	if err == nil && removed == 0 {
		err = os.ErrNotExist
	}
	if err != nil {
		return dir, err
	}
	st, err := store.Open(context.Background(), filepath.Join(dir, "tw.duckdb"), store.Options{})
	if err != nil {
		return dir, err
	}
	defer st.Close()
	src, err := source.NewLocal(logs)
	if err != nil {
		return dir, err
	}
	_, err = st.Ingest(context.Background(), src, store.IngestOptions{})
	return dir, err
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fixtureDir != "" {
		os.RemoveAll(fixtureDir)
	}
	os.Exit(code)
}

func runReview(t *testing.T, supp *suppress.Set, opts review.Options) *review.Review {
	t.Helper()
	st, set := fixture(t)
	w, err := review.Day(lastDay, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	opts.Window, opts.Rules, opts.Suppressions, opts.Version = w, set, supp, "test"
	opts.Now = func() time.Time { return time.Date(2026, 3, 4, 6, 0, 0, 0, time.UTC) }
	rv, err := review.Run(context.Background(), st.DB, opts)
	if err != nil {
		t.Fatal(err)
	}
	return rv
}

func findings(rv *review.Review, rule string) []review.Finding {
	var out []review.Finding
	for _, f := range rv.Findings {
		if f.Rule == rule {
			out = append(out, f)
		}
	}
	return out
}

func TestReviewShowsRemovedRegionAsGap(t *testing.T) {
	rv := runReview(t, nil, review.Options{})
	if rv.Coverage.ExpectedFrom != "seen in the previous 7 days" {
		t.Errorf("expected from %q", rv.Coverage.ExpectedFrom)
	}
	var silent []review.Gap
	for _, g := range rv.Coverage.Gaps {
		if g.Silent {
			silent = append(silent, g)
		}
	}
	if len(silent) != 1 || silent[0].Account != mgmt || silent[0].Region != quietRegio {
		t.Fatalf("silent sources = %+v, want only %s %s", silent, mgmt, quietRegio)
	}
	fs := findings(rv, "log_source_silent")
	if len(fs) != 1 || fs[0].Account != mgmt || fs[0].Region != quietRegio || !strings.Contains(fs[0].Detail, "no CloudTrail log file") {
		t.Fatalf("log_source_silent findings = %+v", fs)
	}
	for _, r := range rv.Requirements {
		if r.ID == "10.7.2" && r.Findings == 0 {
			t.Errorf("10.7.2 shows no findings despite the silent region")
		}
	}
	for _, c := range rv.Coverage.Cells {
		var files int
		for _, n := range c.Files {
			files += n
		}
		if c.Account == mgmt && c.Region == quietRegio && files != 0 {
			t.Errorf("removed cell has %d files", files)
		}
		if (c.Account != mgmt || c.Region != quietRegio) && files == 0 {
			t.Errorf("cell %s %s has no files", c.Account, c.Region)
		}
	}
}

func TestReviewFindsNewAccountAndCountsEvents(t *testing.T) {
	rv := runReview(t, nil, review.Options{})
	if len(rv.Coverage.NewAccounts) != 1 {
		t.Fatalf("new accounts = %v, want the account that joined on the last day", rv.Coverage.NewAccounts)
	}
	if fs := findings(rv, "account_first_seen"); len(fs) != 1 || fs[0].Account != rv.Coverage.NewAccounts[0] {
		t.Fatalf("account_first_seen = %+v", fs)
	}
	if rv.Events < 2000 || rv.Events > 3000 {
		t.Errorf("events examined = %d, want the day's 3000 less the removed files", rv.Events)
	}
	var sum int64
	for _, p := range rv.Charts.EventsByHour {
		sum += p.Value
	}
	if sum != rv.Events || len(rv.Charts.EventsByHour) != 24 {
		t.Errorf("events by hour: %d bars summing to %d, want 24 summing to %d", len(rv.Charts.EventsByHour), sum, rv.Events)
	}
	if len(rv.Queries) != rv.Rules || rv.RuleSet == "" {
		t.Errorf("%d queries for %d rules, rule set %q", len(rv.Queries), rv.Rules, rv.RuleSet)
	}
	for _, q := range rv.Queries {
		if q.VersionHash == "" || !strings.Contains(q.SQL, "cloudtrail_logs") {
			t.Errorf("query of %s: hash %q, SQL %.80q", q.Rule, q.VersionHash, q.SQL)
		}
	}
	// Every requirement of the v4.0.1 catalog is stated, and the retention check flags a 3-day store.
	if len(rv.Requirements) < 25 {
		t.Errorf("%d requirements", len(rv.Requirements))
	}
	if fs := findings(rv, "log_retention_short"); len(fs) == 0 {
		t.Errorf("retention of 3 days not flagged")
	}
	detailed := 0
	for _, f := range rv.Findings {
		if f.Event != nil {
			detailed++
		}
	}
	if detailed == 0 {
		t.Errorf("no finding carries its event")
	}
}

func TestReviewAppliesAndReportsSuppressions(t *testing.T) {
	base := runReview(t, nil, review.Options{})
	// Suppress the findings of one rule that fired, once with a live suppression, once with an expired one.
	var rule string
	for _, f := range base.Findings {
		if f.Level != "informational" && f.EventID != "" && f.Principal != "" {
			rule = f.Rule
			break
		}
	}
	if rule == "" {
		t.Fatal("no finding to suppress")
	}
	file := filepath.Join(t.TempDir(), "suppressions.yaml")
	doc := `suppressions:
  - id: live
    rule: ` + rule + `
    owner: alice@example.com
    reason: accepted for the test
    expires: 2026-12-31
  - id: old
    rule: ` + rule + `
    owner: bob@example.com
    reason: a past exception
    expires: 2026-01-31
`
	if err := os.WriteFile(file, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	supp, err := suppress.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	rv := runReview(t, supp, review.Options{})
	total := len(findings(base, rule))
	for _, f := range findings(rv, rule) {
		if f.Suppressed == nil || f.Suppressed.ID != "live" || f.Suppressed.Reason != "accepted for the test" {
			t.Fatalf("finding of %s not suppressed by live: %+v", rule, f.Suppressed)
		}
	}
	if len(findings(rv, rule)) != total {
		t.Errorf("suppressed findings must stay in the bundle: %d of %d", len(findings(rv, rule)), total)
	}
	if len(rv.Suppressions) != 2 || rv.Suppressions[0].Matched != total || rv.Suppressions[0].Expired || !rv.Suppressions[1].Expired {
		t.Fatalf("suppressions = %+v", rv.Suppressions)
	}
	exp := findings(rv, "suppression_expired")
	if len(exp) != 1 || !strings.Contains(exp[0].Detail, "old") || !strings.Contains(exp[0].Detail, "2026-01-31") {
		t.Fatalf("expired suppression not reported: %+v", exp)
	}

	// Alone, the expired suppression no longer applies: the findings are back, unsuppressed.
	oldOnly := &suppress.Set{File: supp.File, Items: supp.Items[1:]}
	rv = runReview(t, oldOnly, review.Options{})
	for _, f := range findings(rv, rule) {
		if f.Suppressed != nil {
			t.Fatalf("an expired suppression still applies: %+v", f)
		}
	}
	if rv.Suppressions[0].Matched != total {
		t.Errorf("expired suppression matched %d, want %d (the findings it would have covered)", rv.Suppressions[0].Matched, total)
	}
}

func TestReviewWithConfiguredSourcesFlagsMissingRegion(t *testing.T) {
	rv := runReview(t, nil, review.Options{ExpectedAccounts: []string{mgmt}, ExpectedRegions: []string{"us-east-1", "ap-south-1"}})
	if rv.Coverage.ExpectedFrom != "config" {
		t.Fatalf("expected from %q", rv.Coverage.ExpectedFrom)
	}
	var regions []string
	for _, g := range rv.Coverage.Gaps {
		if g.Silent {
			regions = append(regions, g.Region)
		}
	}
	if strings.Join(regions, ",") != "ap-south-1" {
		t.Errorf("silent regions = %v, want the configured region that sent nothing", regions)
	}
}

func TestReviewRetentionCountsTheSource(t *testing.T) {
	fixture(t) // names mgmt
	old := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	rv := runReview(t, nil, review.Options{SourceHistory: []source.Oldest{{Account: mgmt, Region: "us-east-1", Day: old}}})
	for _, r := range rv.Retention {
		if r.Account != mgmt || r.Region != "us-east-1" {
			if r.OldestInSource != "" {
				t.Errorf("%s %s: oldest in source %q, the source listed none", r.Account, r.Region, r.OldestInSource)
			}
			continue
		}
		if r.OldestInSource != "2025-01-01" || r.AvailableDays < 365 || r.StoreDays > 5 {
			t.Fatalf("retention = %+v", r)
		}
		if len(r.Problems) != 1 || !strings.Contains(r.Problems[0], "in the store") {
			t.Errorf("problems = %v, want only the store's 3 months", r.Problems)
		}
		return
	}
	t.Fatalf("no retention row for %s us-east-1: %+v", mgmt, rv.Retention)
}
