package rules_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/trailwatch/trailwatch/internal/engine"
	"github.com/trailwatch/trailwatch/internal/generate"
	"github.com/trailwatch/trailwatch/internal/rulefmt"
	"github.com/trailwatch/trailwatch/internal/ruletest"
	"github.com/trailwatch/trailwatch/internal/sigma"
	"github.com/trailwatch/trailwatch/internal/source"
	"github.com/trailwatch/trailwatch/internal/store"
	"github.com/trailwatch/trailwatch/rules"
)

var update = flag.Bool("update", false, "rewrite testdata/precision.md")

func load(t *testing.T) []*rulefmt.Rule {
	t.Helper()
	all, ps := rulefmt.LoadFS(rules.FS, ".", "")
	if len(ps) > 0 {
		t.Fatalf("load:\n%v", ps)
	}
	return all
}

// TestLibraryLint holds the built-in library to the lint rules and the size the product promises.
func TestLibraryLint(t *testing.T) {
	all := load(t)
	if ps := rulefmt.Lint(all); len(ps) > 0 {
		t.Fatalf("lint:\n%v", ps)
	}
	set, ps := engine.Compile(all, sigma.DuckDB{}, sigma.DefaultParams())
	if len(ps) > 0 {
		t.Fatalf("compile:\n%v", ps)
	}
	n := 0
	covered := map[string]bool{}
	for _, r := range set.Rules {
		if r.Emits && len(r.PCI.V4) > 0 && len(r.PCI.V321) > 0 {
			n++
			for _, id := range r.PCI.V4 {
				covered[id] = true
			}
		}
	}
	if n < 80 {
		t.Errorf("%d mapped rules, want at least 80", n)
	}
	for _, req := range []string{"10.2.1.1", "10.2.1.2", "10.2.1.3", "10.2.1.4", "10.2.1.5", "10.2.1.6", "10.2.1.7", "10.2.2", "10.7.2"} {
		if !covered[req] {
			t.Errorf("no rule evidences PCI DSS v4.0.1 %s", req)
		}
	}
}

// TestLibraryRuleTests runs every built-in rule's own events through the ingest path, as `trailwatch
// rules test` does: CI fails when a rule breaks.
func TestLibraryRuleTests(t *testing.T) {
	results, err := ruletest.Run(context.Background(), load(t), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if r.Skipped != "" {
			t.Errorf("%s: %s", r.Rule.Ref(), r.Skipped)
		}
		for _, f := range r.Failures {
			t.Errorf("%s: %s", r.Rule.Ref(), f)
		}
	}
}

// meantFor maps each scenario the generator plants to the rules meant to find it.
var meantFor = map[string][]string{
	"root-console-login":         {"root_console_login"},
	"root-api-calls":             {"root_api_activity"},
	"console-login-failures":     {"console_login_failed", "console_login_failure_burst"},
	"cloudtrail-stopped":         {"cloudtrail_logging_stopped"},
	"cloudtrail-update-delete":   {"cloudtrail_trail_updated", "cloudtrail_trail_deleted"},
	"security-group-open-world":  {"security_group_open_to_world"},
	"iam-admin-group":            {"iam_user_added_to_admin_group"},
	"log-bucket-read":            {"log_bucket_read_unexpected_principal"},
	"kms-key-deletion":           {"kms_key_disabled_or_deletion_scheduled"},
	"iam-backdoor-admin-user":    {"iam_user_created", "iam_admin_policy_attached", "iam_access_key_created_for_other_user", "iam_login_profile_set_for_other_user"},
	"guardduty-detector-deleted": {"guardduty_detector_deleted"},
	"config-recorder-stopped":    {"config_recorder_stopped"},
	"console-login-no-mfa":       {"console_login_no_mfa"},
	"access-denied-storm":        {"access_denied_storm"},
	"xss-payload":                {"markup_in_event_fields"},
	"new-account":                {"organizations_account_created"},
}

// TestPrecisionRecall generates an organization's logs with planted incidents, ingests them, runs the whole
// library, and checks that every planted incident is found by the rule meant for it (recall) and that no
// alerting rule fires on the background traffic (precision). The table it computes is in the README.
func TestPrecisionRecall(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and ingests an organization's logs")
	}
	ctx := context.Background()
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	end := time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC)
	if _, err := generate.Run(ctx, generate.Options{Out: logs, Accounts: 4, Regions: 2, Days: 3, End: end, EventsPerDay: 40000, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	var manifest struct {
		Scenarios    []generate.Scenario `json:"scenarios"`
		Organization struct {
			LogBucket string `json:"log_bucket"`
		} `json:"organization"`
	}
	raw, err := os.ReadFile(filepath.Join(logs, "scenarios.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &manifest); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, filepath.Join(dir, "t.duckdb"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	src, err := source.NewLocal(logs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Ingest(ctx, src, store.IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	params := sigma.DefaultParams().With(sigma.Params{"log_buckets": {manifest.Organization.LogBucket}, "log_readers": {"trailwatch-reader"}})
	set, ps := engine.Compile(load(t), sigma.DuckDB{}, params)
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	findings, _, err := set.Detect(ctx, st.DB, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}

	planted := map[string]string{} // event ID -> scenario
	for _, s := range manifest.Scenarios {
		for _, id := range s.EventIDs {
			planted[id] = s.Name
		}
	}
	byRule := map[string][]engine.Finding{}
	for _, f := range findings {
		byRule[f.Rule.Ref()] = append(byRule[f.Rule.Ref()], f)
	}
	onPlanted := func(f engine.Finding, scenario string) bool {
		if planted[f.EventID] == scenario && scenario != "" {
			return true
		}
		for _, id := range f.EventIDs {
			if planted[id] == scenario && scenario != "" {
				return true
			}
		}
		return false
	}

	var b strings.Builder
	fmt.Fprintf(&b, "Generated organization: 4 accounts, 2 regions, 3 days, 40,000 events a day, seed 1; %d scenarios planted.\n\n", len(manifest.Scenarios))
	b.WriteString("| scenario | planted events | rule meant to find it | findings on the scenario | found |\n|---|---|---|---|---|\n")
	seen := map[string]bool{}
	for _, s := range manifest.Scenarios {
		seen[s.Name] = true
		rulesFor, ok := meantFor[s.Name]
		if !ok {
			t.Errorf("scenario %s has no rule meant for it", s.Name)
			continue
		}
		for _, ref := range rulesFor {
			if _, ok := set.Lookup(ref); !ok {
				t.Errorf("scenario %s: rule %s is not in the library", s.Name, ref)
			}
			n := 0
			for _, f := range byRule[ref] {
				if onPlanted(f, s.Name) {
					n++
				}
			}
			found := "yes"
			if n == 0 {
				found = "**no**"
				t.Errorf("scenario %s: rule %s did not fire on its events", s.Name, ref)
			}
			fmt.Fprintf(&b, "| %s | %d | %s | %d | %s |\n", s.Name, len(s.EventIDs), ref, n, found)
		}
	}
	for name := range meantFor {
		if !seen[name] {
			t.Errorf("scenario %s was not planted", name)
		}
	}

	b.WriteString("\n| alerting rule | findings | on planted incidents | on background traffic | precision |\n|---|---|---|---|---|\n")
	var alerting []*engine.Rule
	for _, r := range set.Rules {
		if r.Emits && r.Alerts() {
			alerting = append(alerting, r)
		}
	}
	sort.Slice(alerting, func(i, j int) bool { return alerting[i].Ref() < alerting[j].Ref() })
	quiet := 0
	for _, r := range alerting {
		fs := byRule[r.Ref()]
		hits := 0
		for _, f := range fs {
			if planted[f.EventID] != "" || anyPlanted(f.EventIDs, planted) {
				hits++
			}
		}
		if len(fs) == 0 {
			quiet++
			continue
		}
		bg := len(fs) - hits
		if bg > 0 {
			t.Errorf("alerting rule %s fired %d times on background traffic", r.Ref(), bg)
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %.0f%% |\n", r.Ref(), len(fs), hits, bg, 100*float64(hits)/float64(len(fs)))
	}
	fmt.Fprintf(&b, "\nThe other %d alerting rules raised nothing (no incident of their kind is planted, and the background stays silent).\n", quiet)

	golden := filepath.Join("testdata", "precision.md")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./rules -run PrecisionRecall -update)", err)
	}
	if string(want) != b.String() {
		t.Errorf("precision/recall table changed; review and run with -update:\n%s", b.String())
	}
}

func anyPlanted(ids []string, planted map[string]string) bool {
	for _, id := range ids {
		if planted[id] != "" {
			return true
		}
	}
	return false
}
