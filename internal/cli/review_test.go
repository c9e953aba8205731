package cli_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/trailwatch/trailwatch/internal/testenv"
)

// The days of the small generated organization (generate's default end, 2024-03-31).
const day1, day2 = "2024-03-30", "2024-03-31"

// reviewedStore ingests the small organization into a store of its own and returns the environment.
func reviewedStore(t *testing.T) []string {
	t.Helper()
	dir, _ := generated(t, small)
	env := dbEnv(t)
	mustRun(t, env, "ingest", "--quiet", dir)
	return env
}

func TestReviewCommandWritesAChainThatVerifies(t *testing.T) {
	env := reviewedStore(t)
	tmp := t.TempDir()
	ev := filepath.Join(tmp, "evidence")
	key, pub := filepath.Join(tmp, "key.pem"), filepath.Join(tmp, "key.pub.pem")
	mustRun(t, env, "evidence", "keygen", "--private", key, "--public", pub)

	r := mustRun(t, env, "review", "--date", day1, "--out", ev, "--key", key)
	if !strings.Contains(r.stdout, "PCI DSS log review for "+day1) || !strings.Contains(r.stdout, filepath.Join(ev, day1, "report.html")) {
		t.Fatalf("review output: %s", r.stdout)
	}
	for _, f := range []string{"report.html", "report.md", "findings.json", "queries.sql", "coverage.json", "run.json",
		"summary.txt", "summary.html", "manifest.json", "manifest.sig"} {
		if _, err := os.Stat(filepath.Join(ev, day1, f)); err != nil {
			t.Errorf("bundle lacks %s", f)
		}
	}
	csvs, _ := filepath.Glob(filepath.Join(ev, day1, "findings", "*.csv"))
	if len(csvs) == 0 {
		t.Error("no findings/<rule>.csv")
	}
	r = mustRun(t, env, "review", "--date", day2, "--out", ev, "--key", key)
	if !strings.Contains(r.stdout, "Not yet reviewed: "+day1) {
		t.Errorf("day 2 does not say day 1 is unreviewed: %s", r.stdout)
	}
	r = mustRun(t, env, "evidence", "verify", "--public-key", pub, "--require-signature", ev)
	if !strings.Contains(r.stdout, "OK "+day1) || !strings.Contains(r.stdout, "OK "+day2) {
		t.Errorf("verify: %s", r.stdout)
	}

	// A day already sealed is not overwritten by accident.
	if r := run(t, env, "", "review", "--date", day1, "--out", ev, "--key", key); r.code != 1 || !strings.Contains(r.stderr, "--force") {
		t.Errorf("second review of a sealed day: exit %d %s", r.code, r.stderr)
	}

	// The human review is recorded and signed; the report of a later window no longer lists the day.
	mustRun(t, env, "review", "ack", filepath.Join(ev, day1), "--by", "Alice Martin", "--note", "checked", "--key", key)
	r = mustRun(t, env, "evidence", "verify", "--public-key", pub, ev)
	if !strings.Contains(r.stdout, "Alice Martin") {
		t.Errorf("verify does not show the ack: %s", r.stdout)
	}
	r = mustRun(t, env, "review", "--since", day2+"T00:00:00Z", "--until", day2+"T06:00:00Z", "--out", ev, "--key", key)
	if strings.Contains(r.stdout, "Not yet reviewed: "+day1) {
		t.Errorf("acknowledged day still listed as unreviewed: %s", r.stdout)
	}

	// One changed byte is caught.
	md := filepath.Join(ev, day1, "report.md")
	b, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	b[10] ^= 1
	if err := os.WriteFile(md, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if r := run(t, env, "", "evidence", "verify", ev); r.code != 1 || !strings.Contains(r.stdout+r.stderr, "report.md: changed") {
		t.Errorf("tampered bundle: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestReviewToS3WithObjectLock(t *testing.T) {
	if testing.Short() {
		t.Skip("needs MinIO")
	}
	env := reviewedStore(t)
	m := testenv.StartMinIO(t)
	ctx := context.Background()
	if _, err := m.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("evidence"), ObjectLockEnabledForBucket: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	cfg := filepath.Join(tmp, "trailwatch.yaml")
	if err := os.WriteFile(cfg, []byte("review:\n  out: s3://evidence/pci/\n  object_lock:\n    mode: GOVERNANCE\n    days: 30\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env = append(append(env, m.Env()...), "TRAILWATCH_CONFIG="+cfg, "TRAILWATCH_S3_ENDPOINT="+m.Endpoint)
	for _, d := range []string{day1, day2} {
		r := mustRun(t, env, "review", "--date", d)
		if !strings.Contains(r.stdout, "s3://evidence/pci/"+d+"/") {
			t.Fatalf("review %s: %s", d, r.stdout)
		}
	}
	if r := run(t, env, "", "review", "--date", day2); r.code != 1 || !strings.Contains(r.stderr, "already holds a sealed bundle") {
		t.Errorf("second review to S3: exit %d %s", r.code, r.stderr)
	}
	ret, err := m.Client().GetObjectRetention(ctx, &s3.GetObjectRetentionInput{Bucket: aws.String("evidence"), Key: aws.String("pci/" + day2 + "/manifest.json")})
	if err != nil {
		t.Fatal(err)
	}
	if ret.Retention == nil || ret.Retention.Mode != types.ObjectLockRetentionModeGovernance {
		t.Fatalf("manifest.json retention = %+v", ret.Retention)
	}

	// Download the bucket as an assessor would and verify the chain.
	local := filepath.Join(tmp, "copy")
	p := s3.NewListObjectsV2Paginator(m.Client(), &s3.ListObjectsV2Input{Bucket: aws.String("evidence"), Prefix: aws.String("pci/")})
	n := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			out, err := m.Client().GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("evidence"), Key: o.Key})
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(out.Body)
			out.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(local, filepath.FromSlash(strings.TrimPrefix(*o.Key, "pci/")))
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			n++
		}
	}
	r := mustRun(t, env, "evidence", "verify", local)
	if !strings.Contains(r.stdout, "OK "+day1) || !strings.Contains(r.stdout, "OK "+day2) || strings.Contains(r.stdout, "not among") {
		t.Errorf("verify of the S3 copy (%d objects): %s", n, r.stdout)
	}
}

// The demo a newcomer runs first ends with a verified, signed review of each demo day.
func TestDemoEndsWithAVerifiedReview(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and reviews 40,000 events")
	}
	dir := filepath.Join(t.TempDir(), "demo")
	r := mustRun(t, nil, "demo", "--dir", dir)
	report := filepath.Join(dir, "evidence", day2, "report.html")
	for _, want := range []string{"Open the review:          " + report, "OK " + day1 + ":", "OK " + day2 + ":", "2 bundles verified, no problems"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, r.stdout)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "evidence", day2, "findings.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"id":"ci-lambda-deploys"`, `"suppression_expired"`, `"reason":"The GitHub Actions pipeline deploys Lambda code`} {
		if !strings.Contains(strings.ReplaceAll(string(b), `": `, `":`), want) {
			t.Errorf("demo findings.json lacks %s", want)
		}
	}
}
