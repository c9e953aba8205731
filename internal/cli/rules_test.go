package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRulesCommands runs the rule commands as a user does: the built-in library lints and passes its
// tests, a broken rule fails loudly with its file and line, and detect finds a planted incident.
func TestRulesCommands(t *testing.T) {
	if r := mustRun(t, nil, "rules", "lint"); !strings.Contains(r.stdout, "no problems") {
		t.Errorf("rules lint: %s", r.stdout)
	}
	if r := mustRun(t, nil, "rules", "test"); !strings.Contains(r.stdout, " 0 failed, 0 without tests") {
		t.Errorf("rules test: %s", r.stdout)
	}
	r := mustRun(t, nil, "rules", "list", "--pci", "10.2.4")
	if !strings.Contains(r.stdout, "console_login_failure_burst") || strings.Contains(r.stdout, "cloudtrail_logging_stopped") {
		t.Errorf("rules list --pci 10.2.4:\n%s", r.stdout)
	}
	r = mustRun(t, nil, "rules", "show", "root_console_login")
	if !strings.Contains(r.stdout, "lower(useridentity.type) = 'root'") {
		t.Errorf("rules show:\n%s", r.stdout)
	}

	// A rule whose detection no longer matches its must-fire event, and one with a typo in a key.
	dir := t.TempDir()
	src, err := os.ReadFile("../../rules/access/root_console_login.yml")
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(src), "userIdentity.type: Root", "userIdentity.type: IAMUser", 1)
	if err := os.WriteFile(filepath.Join(dir, "broken.yml"), []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	typo := strings.Replace(string(src), "falsepositives:", "falsepositive:", 1)
	typo = strings.Replace(typo, "17a29cfd-ecb7-4f6b-a9bd-dcef4cb773a9", "27a29cfd-ecb7-4f6b-a9bd-dcef4cb773a9", 1)
	typo = strings.Replace(typo, "name: root_console_login", "name: root_console_login_copy", 1)
	if err := os.WriteFile(filepath.Join(dir, "typo.yml"), []byte(typo), 0o644); err != nil {
		t.Fatal(err)
	}
	r = run(t, nil, "", "rules", "test", "--no-builtin", "--rules", dir)
	if r.code != 1 || !strings.Contains(r.stdout, "FAIL  root_console_login") || !strings.Contains(r.stdout, "broken.yml:") ||
		!strings.Contains(r.stdout, "must_fire event 1 did not fire") || !strings.Contains(r.stdout, "must_not_fire event 1 fired") {
		t.Errorf("rules test on a broken rule: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, nil, "", "rules", "lint", "--no-builtin", "--rules", dir)
	if r.code != 1 || !strings.Contains(r.stdout, filepath.Join(dir, "typo.yml")+`:29:1: unknown key "falsepositive"`) {
		t.Errorf("rules lint: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// detect over generated logs finds the planted root sign-in.
	logs, sc := generated(t, small)
	env := dbEnv(t)
	mustRun(t, env, "ingest", "--quiet", logs)
	r = mustRun(t, env, "detect", "--format", "csv", "--level", "high")
	var rootIDs []string
	for _, s := range sc.Scenarios {
		if s.Name == "root-console-login" {
			rootIDs = s.EventIDs
		}
	}
	if len(rootIDs) == 0 {
		t.Fatal("no root-console-login scenario planted")
	}
	for _, id := range rootIDs {
		if !strings.Contains(r.stdout, `root_console_login,high,"10.2.1.2`) || !strings.Contains(r.stdout, id) {
			t.Errorf("detect did not report root sign-in %s:\n%s", id, r.stdout)
		}
	}
}
