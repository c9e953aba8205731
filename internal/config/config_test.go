package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func write(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "trailwatch.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadValid(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "supp.yaml"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "trailwatch.yaml")
	text := `store: ./tw.duckdb
sources:
  - location: s3://org-trail/AWSLogs/
    region: eu-west-1
review:
  out: ./evidence
  time_zone: Europe/Paris
  suppressions: supp.yaml
  accounts: ["111122223333"]
  regions: [us-east-1, eu-west-1]
  object_lock: {mode: COMPLIANCE, days: 400}
rules:
  params:
    internal_cidrs: [10.0.0.0/8]
`
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	loc, err := c.Review.Location()
	if err != nil || loc.String() != "Europe/Paris" {
		t.Errorf("location %v %v", loc, err)
	}
	if c.Resolve(c.Review.Suppressions) != filepath.Join(dir, "supp.yaml") || c.Sources[0].Region != "eu-west-1" || c.Review.ObjectLock.Days != 400 {
		t.Errorf("config = %+v", c)
	}
}

// Every problem is reported, each with the file and line of its key.
func TestLoadReportsEveryProblemWithItsLine(t *testing.T) {
	p := write(t, `sources:
  - location: ./no-such-folder
review:
  time_zone: Mars/Olympus
  signing_key: missing.pem
  accounts: ["12345"]
  object_lock:
    mode: FOREVER
    days: 0
`)
	_, err := Load(p)
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	for _, want := range []string{
		p + ":2: source folder ./no-such-folder does not exist",
		p + `:4: time_zone "Mars/Olympus" is not a known time zone`,
		p + ":5: missing.pem is not a readable file",
		p + `:6: account "12345" is not a 12-digit AWS account id`,
		p + ":8: object_lock.mode must be GOVERNANCE or COMPLIANCE",
		p + ":9: object_lock.days must be at least 1",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

func TestLoadRejectsUnknownKeys(t *testing.T) {
	p := write(t, "review:\n  outt: ./evidence\n")
	if _, err := Load(p); err == nil || !strings.Contains(err.Error(), p+":2:") || !strings.Contains(err.Error(), "outt") {
		t.Errorf("unknown key: %v", err)
	}
}

// The example `trailwatch config example` prints is a valid configuration.
func TestExampleIsValid(t *testing.T) {
	p := write(t, Example)
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Alerts.Channels) != 2 || len(c.Alerts.Routes) != 2 || c.Serve.PollInterval.String() != "5m0s" || c.Alerts.DedupeWindow == nil {
		t.Errorf("example decoded as %+v", c)
	}
}

func TestAlertsProblems(t *testing.T) {
	p := write(t, `alerts:
  level: severe
  channels:
    - name: a
      file: {path: ./x.jsonl}
      slack: {webhook_url: {env: X}}
    - name: a
      file: {path: ./y.jsonl}
  routes:
    - channels: [nowhere]
  summary: [nobody]
serve:
  listen: 0.0.0.0:9107
  review_schedule: "every day"
`)
	_, err := Load(p)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{
		p + ":2: level must be",
		p + `:4: channel "a" needs exactly one of smtp, slack, sns, webhook, file`,
		p + `:7: channel name "a" is used twice`,
		p + `:10: route names channel "nowhere"`,
		`summary channel "nobody"`,
		p + `:13: listen "0.0.0.0:9107" reaches beyond this machine`,
		p + `:14: review_schedule "every day"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}
