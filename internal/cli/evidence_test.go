package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trailwatch/trailwatch/internal/evidence"
)

type evidenceRun struct {
	stdout, stderr string
	code           int
}

// runEvidenceCmds runs trailwatch in-process, as Main, and returns its output and exit status.
func runEvidenceCmds(t *testing.T, args ...string) evidenceRun {
	t.Helper()
	var so, se bytes.Buffer
	code := Main(args, strings.NewReader(""), &so, &se)
	return evidenceRun{stdout: so.String(), stderr: se.String(), code: code}
}

func TestEvidenceCommands(t *testing.T) {
	dir := t.TempDir()
	priv, pub := filepath.Join(dir, "signing.pem"), filepath.Join(dir, "signing.pub.pem")
	expect := func(r evidenceRun, code int, stdout, stderr string) {
		t.Helper()
		if r.code != code || !strings.Contains(r.stdout, stdout) || !strings.Contains(r.stderr, stderr) {
			t.Errorf("exit %d (want %d)\nstdout (want %q):\n%s\nstderr (want %q):\n%s", r.code, code, stdout, r.stdout, stderr, r.stderr)
		}
	}

	expect(runEvidenceCmds(t, "evidence", "keygen", "--private", priv, "--public", pub), 0, "private key: "+priv, "")
	expect(runEvidenceCmds(t, "evidence", "keygen", "--private", priv, "--public", pub), 1, "", priv+" already exists")
	expect(runEvidenceCmds(t, "evidence", "keygen"), 2, "", "--private FILE and --public FILE are required")

	// Two signed days in the configured evidence folder.
	root := filepath.Join(dir, "evidence")
	key, err := evidence.LoadPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := range 2 {
		since := day.AddDate(0, 0, i)
		label := since.Format(time.DateOnly)
		b := filepath.Join(root, label)
		if err := os.MkdirAll(b, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(b, "report.md"), []byte("# "+label+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		prev, err := evidence.Previous(root, since)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := evidence.Seal(b, evidence.Meta{Label: label, Since: since, Until: since.AddDate(0, 0, 1)}, prev, key, since.AddDate(0, 0, 1)); err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(dir, "trailwatch.yaml")
	if err := os.WriteFile(cfg, []byte("review:\n  out: evidence\n  signing_key: signing.pem\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	// ack by label, signed with the configured key; then unsigned, with a warning.
	expect(runEvidenceCmds(t, "--config", cfg, "review", "ack", "2026-03-01", "--by", "alice", "--note", "checked"), 0, "acknowledged 2026-03-01 as alice at ", "")
	r := runEvidenceCmds(t, "--config", cfg, "review", "ack", filepath.Join(root, "2026-03-02"), "--by", "bob", "--key", "")
	expect(r, 0, "(unsigned; manifest sha256 ", "warning: no signing key")
	expect(runEvidenceCmds(t, "--config", cfg, "review", "ack", "2026-03-02"), 2, "", "--by NAME is required")
	expect(runEvidenceCmds(t, "--config", cfg, "review", "ack", "2026-03-09", "--by", "bob"), 2, "", "2026-03-09 is neither a bundle folder nor a bundle in "+root)

	// verify: the configured folder by default, a folder given, the trusted key, signatures required.
	expect(runEvidenceCmds(t, "--config", cfg, "evidence", "verify"), 0, "OK 2026-03-01: 1 file, signed by", "give --public-key")
	expect(runEvidenceCmds(t, "evidence", "verify", root, "--public-key", pub), 0, "2 bundles verified, no problems", "")
	expect(runEvidenceCmds(t, "evidence", "verify", root, "--public-key", pub, "--require-signature"), 1,
		"evidence verify 2026-03-02: ack.json: ack 1 by bob at ", "evidence verify: 1 problem\n")
	expect(runEvidenceCmds(t, "evidence", "verify", root, "--public-key", priv), 2, "", `--public-key: load public key `+priv+`: PEM block is "PRIVATE KEY"`)

	// A tampered bundle: verify fails with the file named, and ack refuses it.
	if err := os.WriteFile(filepath.Join(root, "2026-03-01", "report.md"), []byte("# nothing\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	expect(runEvidenceCmds(t, "evidence", "verify", root, "--public-key", pub), 1,
		"evidence verify 2026-03-01: report.md: changed (sha256 ", "evidence verify: 1 problem\n")
	expect(runEvidenceCmds(t, "--config", cfg, "review", "ack", "2026-03-01", "--by", "carol"), 1, "", "cannot be acknowledged")
}
