package evidence

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var day0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func label(i int) string { return day0.AddDate(0, 0, i).Format(time.DateOnly) }

// writeBundle writes the files of a small review bundle for window [since, until).
func writeBundle(t testing.TB, dir, lbl string) {
	t.Helper()
	files := map[string]string{
		"report.md":          "# Review " + lbl + "\n\nNo findings.\n",
		"findings.json":      `{"schema":"trailwatch.review/v1","window":{"label":"` + lbl + `"}}` + "\n",
		"findings/x.csv":     "rule,event_id\nroot_console_login,abc-" + lbl + "\n",
		"summary.txt":        "0 findings\n",
		"findings/empty.csv": "",
	}
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// sealDay writes and seals the bundle for [since, until) under root, linked to the bundle before it.
func sealDay(t *testing.T, root, lbl string, since, until time.Time, key ed25519.PrivateKey) *Manifest {
	t.Helper()
	dir := filepath.Join(root, lbl)
	writeBundle(t, dir, lbl)
	return reseal(t, dir, lbl, since, until, key)
}

// reseal seals dir again, with the link Previous finds now.
func reseal(t *testing.T, dir, lbl string, since, until time.Time, key ed25519.PrivateKey) *Manifest {
	t.Helper()
	prev, err := Previous(filepath.Dir(dir), since)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Seal(dir, Meta{Label: lbl, Since: since, Until: until, Version: "test"}, prev, key, until.Add(90*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// chain builds an evidence root with four daily bundles, 2026-03-01 to 2026-03-04, sealed with key.
func chain(t *testing.T, key ed25519.PrivateKey) string {
	t.Helper()
	root := t.TempDir()
	for i := range 4 {
		sealDay(t, root, label(i), day0.AddDate(0, 0, i), day0.AddDate(0, 0, i+1), key)
	}
	return root
}

func newKey(t *testing.T) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

func bundle(root string, i int) string { return filepath.Join(root, label(i)) }

// problems returns the report's problems as "kind|label|path|detail" for failure messages.
func problemLines(r Report) []string {
	var out []string
	for _, p := range r.Problems() {
		out = append(out, string(p.Kind)+" | "+p.String())
	}
	return out
}

// wantProblems checks that the report has exactly the problems given as kind, label, path and a piece of
// the line.
func wantProblems(t *testing.T, r Report, want ...Problem) {
	t.Helper()
	got := r.Problems()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(want); i++ {
		g, w := got[i], want[i]
		ok = g.Kind == w.Kind && g.Label == w.Label && g.Path == w.Path && strings.Contains(g.String(), w.Detail)
	}
	if !ok {
		t.Errorf("problems:\n  %s\nwant:\n  %v\nreport:\n%s", strings.Join(problemLines(r), "\n  "), want, r)
	}
	if r.OK() != (len(want) == 0) {
		t.Errorf("OK() = %v with %d problems", r.OK(), len(want))
	}
}

func flipByte(t *testing.T, path string, at int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[at] ^= 0x01
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// corruptSignature flips one bit of the signature itself, keeping the file valid base64 (flipping a byte
// of the text could make it unreadable instead of wrong, depending on the random key).
func corruptSignature(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	sig[0] ^= 0x01
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(sig)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyChain(t *testing.T) {
	pub, priv := newKey(t)
	strict := VerifyOptions{PublicKey: pub, RequireSignature: true}

	t.Run("ok", func(t *testing.T) {
		root := chain(t, priv)
		r := Verify([]string{root}, strict)
		wantProblems(t, r)
		if len(r.Bundles) != 4 {
			t.Fatalf("%d bundles, want 4:\n%s", len(r.Bundles), r)
		}
		for i, b := range r.Bundles {
			if b.Label != label(i) || b.SignedBy != encodePublicKey(pub) || len(b.Notes) != 0 {
				t.Errorf("bundle %d: label %s, signed by %q, notes %q", i, b.Label, b.SignedBy, b.Notes)
			}
			if i > 0 && (b.Manifest.Previous == nil || b.Manifest.Previous.Label != label(i-1)) {
				t.Errorf("bundle %s links to %+v", b.Label, b.Manifest.Previous)
			}
		}
		if r.Bundles[0].Manifest.Previous != nil {
			t.Errorf("first bundle links to %+v", r.Bundles[0].Manifest.Previous)
		}
		out := r.String()
		for _, want := range []string{"OK 2026-03-01: 5 files, signed by " + encodePublicKey(pub) + ", not acknowledged\n", "4 bundles verified, no problems\n"} {
			if !strings.Contains(out, want) {
				t.Errorf("report lacks %q:\n%s", want, out)
			}
		}
		// The same bundles given one by one, in any order, and twice.
		dirs := []string{bundle(root, 3), bundle(root, 0), bundle(root, 2), bundle(root, 1), bundle(root, 0)}
		if r := Verify(dirs, strict); !r.OK() || len(r.Bundles) != 4 || r.Bundles[0].Label != label(0) {
			t.Errorf("bundles given one by one:\n%s", r)
		}
		// A bundle reached through a symbolic link.
		link := filepath.Join(t.TempDir(), "link")
		if err := os.Symlink(bundle(root, 0), link); err == nil {
			if r := Verify([]string{link}, strict); !r.OK() {
				t.Errorf("bundle through a symlink:\n%s", r)
			}
		}
		// A later part of the chain: its first bundle's link to a day not given is a note.
		r = Verify([]string{bundle(root, 2), bundle(root, 1)}, strict)
		wantProblems(t, r)
		if n := r.Bundles[0].Notes; len(n) != 1 || n[0] != "2026-03-02 links to 2026-03-01, which is not among the bundles given" {
			t.Errorf("notes: %q", n)
		}
		if !strings.Contains(r.String(), "note 2026-03-02: 2026-03-02 links to 2026-03-01, which is not among the bundles given\n") {
			t.Errorf("report:\n%s", r)
		}
	})

	t.Run("changed byte", func(t *testing.T) {
		root := chain(t, priv)
		flipByte(t, filepath.Join(bundle(root, 1), "report.md"), 3)
		wantProblems(t, Verify([]string{root}, strict),
			Problem{KindChanged, "2026-03-02", "report.md", "evidence verify 2026-03-02: report.md: changed (sha256 "})
	})

	t.Run("changed size", func(t *testing.T) {
		root := chain(t, priv)
		if err := os.WriteFile(filepath.Join(bundle(root, 1), "summary.txt"), []byte("no findings at all\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		wantProblems(t, Verify([]string{root}, strict),
			Problem{KindChanged, "2026-03-02", "summary.txt", "size 19 != 11)"})
	})

	t.Run("deleted file", func(t *testing.T) {
		root := chain(t, priv)
		if err := os.Remove(filepath.Join(bundle(root, 2), "findings", "x.csv")); err != nil {
			t.Fatal(err)
		}
		wantProblems(t, Verify([]string{root}, strict),
			Problem{KindMissing, "2026-03-03", "findings/x.csv", "evidence verify 2026-03-03: findings/x.csv: missing"})
	})

	t.Run("added file", func(t *testing.T) {
		root := chain(t, priv)
		if err := os.WriteFile(filepath.Join(bundle(root, 0), "findings", "extra.csv"), []byte("x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		wantProblems(t, Verify([]string{root}, strict),
			Problem{KindAdded, "2026-03-01", "findings/extra.csv", "added (not in the manifest)"})
	})

	t.Run("every problem of a bundle", func(t *testing.T) {
		root := chain(t, priv)
		dir := bundle(root, 3)
		flipByte(t, filepath.Join(dir, "findings.json"), 0)
		if err := os.Remove(filepath.Join(dir, "summary.txt")); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "a.txt"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		flipByte(t, filepath.Join(bundle(root, 0), "findings", "x.csv"), 0)
		wantProblems(t, Verify([]string{root}, strict),
			Problem{KindChanged, "2026-03-01", "findings/x.csv", "changed"},
			Problem{KindAdded, "2026-03-04", "a.txt", "added"},
			Problem{KindChanged, "2026-03-04", "findings.json", "changed"},
			Problem{KindMissing, "2026-03-04", "summary.txt", "missing"})
	})

	t.Run("day removed from the middle", func(t *testing.T) {
		root := chain(t, priv)
		if err := os.RemoveAll(bundle(root, 1)); err != nil {
			t.Fatal(err)
		}
		wantProblems(t, Verify([]string{root}, strict),
			Problem{KindChainBroken, "2026-03-03", "", "evidence verify 2026-03-03: chain broken: 2026-03-03 links to 2026-03-02, which is missing (not among the bundles given; the bundle before 2026-03-03 is 2026-03-01)"})
	})

	t.Run("day left out of the dirs given", func(t *testing.T) {
		root := chain(t, priv)
		wantProblems(t, Verify([]string{bundle(root, 0), bundle(root, 2), bundle(root, 3)}, strict),
			Problem{KindChainBroken, "2026-03-03", "", "2026-03-03 links to 2026-03-02, which is missing"})
	})

	t.Run("manifest rewritten", func(t *testing.T) {
		root := chain(t, priv)
		dir := bundle(root, 1)
		if err := os.WriteFile(filepath.Join(dir, "report.md"), []byte("# Nothing to see\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		// Sealed again with the right key and link: the bundle verifies on its own, the chain does not.
		reseal(t, dir, label(1), day0.AddDate(0, 0, 1), day0.AddDate(0, 0, 2), priv)
		r := Verify([]string{root}, strict)
		wantProblems(t, r,
			Problem{KindChainChanged, "2026-03-02", "manifest.json", "evidence verify 2026-03-02: manifest.json: changed after 2026-03-03 was sealed (sha256 "})
	})

	t.Run("manifest unreadable", func(t *testing.T) {
		root := chain(t, priv)
		if err := os.WriteFile(filepath.Join(bundle(root, 1), ManifestFile), []byte(`{"schema":"trailwatch.manifest/v1","extra":1}`), 0o644); err != nil {
			t.Fatal(err)
		}
		wantProblems(t, Verify([]string{root}, strict),
			Problem{KindChainBroken, "2026-03-03", "", "chain broken: 2026-03-03 links to 2026-03-02, whose manifest.json cannot be read"},
			Problem{KindUnreadable, "2026-03-02", "manifest.json", `invalid: json: unknown field "extra"`})
	})

	t.Run("bad signature", func(t *testing.T) {
		root := chain(t, priv)
		corruptSignature(t, filepath.Join(bundle(root, 3), SignatureFile))
		wantProblems(t, Verify([]string{root}, strict),
			Problem{KindSignatureBad, "2026-03-04", "manifest.sig", "evidence verify 2026-03-04: manifest.sig: bad signature (manifest.json changed after it was signed"})
		// Without a trusted key the key named in the manifest is used, and the signature is still bad.
		wantProblems(t, Verify([]string{root}, VerifyOptions{}),
			Problem{KindSignatureBad, "2026-03-04", "manifest.sig", "bad signature"})
	})

	t.Run("manifest edited, signature kept", func(t *testing.T) {
		root := chain(t, priv)
		p := filepath.Join(bundle(root, 3), ManifestFile)
		b, _ := os.ReadFile(p)
		if err := os.WriteFile(p, bytes.Replace(b, []byte(`"trailwatch_version": "test"`), []byte(`"trailwatch_version": "tesT"`), 1), 0o644); err != nil {
			t.Fatal(err)
		}
		wantProblems(t, Verify([]string{root}, strict),
			Problem{KindSignatureBad, "2026-03-04", "manifest.sig", "bad signature"})
	})

	t.Run("signed by another key", func(t *testing.T) {
		root := chain(t, priv)
		_, other := newKey(t)
		reseal(t, bundle(root, 3), label(3), day0.AddDate(0, 0, 3), day0.AddDate(0, 0, 4), other)
		wantProblems(t, Verify([]string{root}, strict),
			Problem{KindUntrustedKey, "2026-03-04", "manifest.sig", "signed by a key other than the trusted one (manifest.json names " + encodePublicKey(other.Public().(ed25519.PublicKey)) + ")"})
		// Trusting the key each manifest names, it verifies.
		wantProblems(t, Verify([]string{root}, VerifyOptions{RequireSignature: true}))
	})

	t.Run("signature missing", func(t *testing.T) {
		root := chain(t, priv)
		if err := os.Remove(filepath.Join(bundle(root, 0), SignatureFile)); err != nil {
			t.Fatal(err)
		}
		// The manifest names a key, so a missing signature is a problem even when none is required.
		wantProblems(t, Verify([]string{root}, VerifyOptions{}),
			Problem{KindSignatureMissing, "2026-03-01", "manifest.sig", "missing, but manifest.json names a signing key"})
	})

	t.Run("unsigned chain", func(t *testing.T) {
		root := chain(t, nil)
		wantProblems(t, Verify([]string{root}, VerifyOptions{}))
		var want []Problem
		for i := range 4 {
			want = append(want, Problem{KindSignatureMissing, label(i), "manifest.sig", "missing (the bundle is not signed, and a signature is required)"})
		}
		wantProblems(t, Verify([]string{root}, VerifyOptions{RequireSignature: true}), want...)
		if !strings.Contains(Verify([]string{root}, VerifyOptions{}).String(), "OK 2026-03-02: 5 files, unsigned, not acknowledged\n") {
			t.Error("unsigned bundle not described as unsigned")
		}
	})

	t.Run("not a bundle", func(t *testing.T) {
		empty := t.TempDir()
		wantProblems(t, Verify([]string{empty, filepath.Join(empty, "nope")}, strict),
			Problem{KindUnreadable, filepath.Base(empty), "manifest.json", "missing (the folder is neither a sealed bundle nor an evidence folder of bundles)"},
			Problem{KindUnreadable, "nope", "", "cannot read the bundle folder: no such file or directory"})
		if r := Verify(nil, strict); r.OK() || !strings.Contains(r.String(), "no bundles to verify") {
			t.Errorf("no dirs: %s", r)
		}
	})

	t.Run("gap and ad-hoc windows", func(t *testing.T) {
		root := t.TempDir()
		sealDay(t, root, label(0), day0, day0.AddDate(0, 0, 1), priv)
		// An ad-hoc window inside the next day, then that day, then a day after a day nobody reviewed.
		noon := day0.AddDate(0, 0, 1).Add(12 * time.Hour)
		adhoc := noon.Format("2006-01-02T15:04") + "--" + day0.AddDate(0, 0, 2).Format("2006-01-02T15:04")
		sealDay(t, root, adhoc, noon, day0.AddDate(0, 0, 2), priv)
		sealDay(t, root, label(1), day0.AddDate(0, 0, 1), day0.AddDate(0, 0, 2), priv)
		m := sealDay(t, root, label(3), day0.AddDate(0, 0, 3), day0.AddDate(0, 0, 4), priv)
		if m.Previous == nil || m.Previous.Label != label(1) {
			t.Fatalf("2026-03-04 links to %+v, want 2026-03-02 (the day, not the ad-hoc window ending with it)", m.Previous)
		}
		r := Verify([]string{root}, strict)
		wantProblems(t, r)
		if len(r.Bundles) != 4 {
			t.Fatalf("report:\n%s", r)
		}
		if n := r.Bundles[3].Notes; len(n) != 1 || !strings.Contains(n[0], "no bundle covers 2026-03-03T00:00:00Z to 2026-03-04T00:00:00Z") {
			t.Errorf("notes of %s: %q", r.Bundles[3].Label, n)
		}
	})
}

func TestPrevious(t *testing.T) {
	root := t.TempDir()
	if l, err := Previous(filepath.Join(root, "none"), day0); l != nil || err != nil {
		t.Errorf("missing root: %v, %v", l, err)
	}
	sealDay(t, root, label(0), day0, day0.AddDate(0, 0, 1), nil)
	sealDay(t, root, label(1), day0.AddDate(0, 0, 1), day0.AddDate(0, 0, 2), nil)
	// Folders that are not bundles, or whose manifest cannot be read, are passed over.
	for _, d := range []string{"keys", "2026-03-05"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "2026-03-05", ManifestFile), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(bundle(root, 1), ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	l, err := Previous(root, day0.AddDate(0, 0, 7))
	if err != nil || l == nil || *l != (Link{Label: label(1), ManifestSHA256: sha256Hex(raw)}) {
		t.Errorf("Previous(2026-03-08) = %+v, %v", l, err)
	}
	// A window starting inside 2026-03-02 links to 2026-03-01; one starting before everything, to nothing.
	if l, _ := Previous(root, day0.AddDate(0, 0, 1).Add(time.Hour)); l == nil || l.Label != label(0) {
		t.Errorf("Previous(2026-03-02T01:00) = %+v", l)
	}
	if l, _ := Previous(root, day0); l != nil {
		t.Errorf("Previous(2026-03-01) = %+v", l)
	}
}

func TestSeal(t *testing.T) {
	_, priv := newKey(t)
	dir := t.TempDir()
	writeBundle(t, dir, "2026-03-01")
	meta := Meta{Label: "2026-03-01", Since: day0, Until: day0.AddDate(0, 0, 1), Version: "v1.2.3"}
	now := day0.AddDate(0, 0, 1).Add(time.Hour)
	m, err := Seal(dir, meta, nil, priv, now)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range m.Files {
		paths = append(paths, f.Path)
	}
	if want := []string{"findings.json", "findings/empty.csv", "findings/x.csv", "report.md", "summary.txt"}; !reflect.DeepEqual(paths, want) {
		t.Errorf("files %q, want %q", paths, want)
	}
	first, _ := os.ReadFile(filepath.Join(dir, ManifestFile))
	firstSig, _ := os.ReadFile(filepath.Join(dir, SignatureFile))
	if !strings.HasPrefix(string(first), "{\n  \"schema\": \"trailwatch.manifest/v1\",\n  \"label\": \"2026-03-01\",\n") ||
		!strings.Contains(string(first), `"previous": null`) || !strings.HasSuffix(string(firstSig), "\n") {
		t.Errorf("manifest.json:\n%s\nmanifest.sig: %q", first, firstSig)
	}
	// Sealing again with the same inputs gives the same bytes; the bundle's own files are not listed.
	if _, err := Seal(dir, meta, nil, priv, now); err != nil {
		t.Fatal(err)
	}
	again, _ := os.ReadFile(filepath.Join(dir, ManifestFile))
	againSig, _ := os.ReadFile(filepath.Join(dir, SignatureFile))
	if !bytes.Equal(first, again) || !bytes.Equal(firstSig, againSig) {
		t.Errorf("sealing twice differs:\n%s\n%s", first, again)
	}
	// Sealing unsigned removes the old signature and the key.
	m, err = Seal(dir, meta, nil, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, SignatureFile)); !os.IsNotExist(err) || m.PublicKey != "" {
		t.Errorf("unsigned seal left manifest.sig (%v) or key %q", err, m.PublicKey)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 5 {
		t.Errorf("seal left temporary files: %v", entries)
	}
	// Bad input.
	if _, err := Seal(dir, Meta{Label: "x", Since: day0, Until: day0}, nil, nil, now); err == nil || !strings.Contains(err.Error(), "until (2026-03-01T00:00:00Z) must be after since") {
		t.Errorf("empty window: %v", err)
	}
	if _, err := Seal(filepath.Join(dir, "nope"), meta, nil, nil, now); err == nil || !strings.Contains(err.Error(), "evidence seal "+filepath.Join(dir, "nope")) {
		t.Errorf("missing folder: %v", err)
	}
	if err := os.Symlink("report.md", filepath.Join(dir, "link.md")); err == nil {
		if _, err := Seal(dir, meta, nil, nil, now); err == nil || !strings.Contains(err.Error(), "link.md: not a regular file") {
			t.Errorf("symlink: %v", err)
		}
	}
}

func TestAck(t *testing.T) {
	pub, priv := newKey(t)
	strict := VerifyOptions{PublicKey: pub, RequireSignature: true}
	at := day0.AddDate(0, 0, 5).Add(9 * time.Hour)

	t.Run("valid acks verify", func(t *testing.T) {
		root := chain(t, priv)
		dir := bundle(root, 0)
		r, err := Ack(dir, " alice ", "root sign-in was the break-glass test <SEC-114> & \"ok\" ü", priv, at)
		if err != nil {
			t.Fatal(err)
		}
		if r.By != "alice" || r.Label != label(0) || r.Signature == "" {
			t.Errorf("ack %+v", r)
		}
		if _, err := Ack(dir, "bob", "", nil, at.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		rep := Verify([]string{root}, VerifyOptions{PublicKey: pub})
		wantProblems(t, rep)
		if !strings.Contains(rep.String(), "OK 2026-03-01: 5 files, signed by "+encodePublicKey(pub)+", acknowledged by alice at 2026-03-06T09:00:00Z, bob at 2026-03-06T10:00:00Z\n") {
			t.Errorf("report:\n%s", rep)
		}
		// bob's ack is unsigned: a problem when signatures are required.
		wantProblems(t, Verify([]string{dir}, strict),
			Problem{KindAckSignature, label(0), "ack.json", "ack 2 by bob at 2026-03-06T10:00:00Z is not signed, and a signature is required"})
	})

	t.Run("ack of a tampered bundle is refused", func(t *testing.T) {
		root := chain(t, priv)
		dir := bundle(root, 1)
		flipByte(t, filepath.Join(dir, "report.md"), 0)
		_, err := Ack(dir, "alice", "", priv, at)
		if err == nil || !strings.Contains(err.Error(), "cannot be acknowledged:\n  evidence verify 2026-03-02: report.md: changed (sha256 ") {
			t.Errorf("Ack: %v", err)
		}
		if _, err := os.Stat(filepath.Join(dir, AckFile)); !os.IsNotExist(err) {
			t.Errorf("ack.json written: %v", err)
		}
		if _, err := Ack(t.TempDir(), "alice", "", priv, at); err == nil || !strings.Contains(err.Error(), "manifest.json: missing") {
			t.Errorf("Ack of an unsealed folder: %v", err)
		}
		if _, err := Ack(bundle(root, 0), "  ", "", priv, at); err == nil || !strings.Contains(err.Error(), "name is empty") {
			t.Errorf("Ack without a name: %v", err)
		}
	})

	t.Run("tampered ack.json", func(t *testing.T) {
		root := chain(t, priv)
		dir := bundle(root, 2)
		if _, err := Ack(dir, "alice", "all fine", priv, at); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, AckFile)
		b, _ := os.ReadFile(p)
		if err := os.WriteFile(p, bytes.Replace(b, []byte(`"all fine"`), []byte(`"all fine, escalated"`), 1), 0o644); err != nil {
			t.Fatal(err)
		}
		wantProblems(t, Verify([]string{root}, strict),
			Problem{KindAckSignature, label(2), "ack.json", "evidence verify 2026-03-03: ack.json: ack 1 by alice at 2026-03-06T09:00:00Z: bad signature"})
		if err := os.WriteFile(p, []byte("{"), 0o644); err != nil {
			t.Fatal(err)
		}
		wantProblems(t, Verify([]string{root}, strict),
			Problem{KindUnreadable, label(2), "ack.json", "cannot read it: unexpected EOF"})
		if _, err := Ack(dir, "bob", "", priv, at); err == nil || !strings.Contains(err.Error(), "move it aside") {
			t.Errorf("Ack over an unreadable ack.json: %v", err)
		}
	})

	t.Run("ack by another key", func(t *testing.T) {
		root := chain(t, priv)
		_, other := newKey(t)
		if _, err := Ack(bundle(root, 0), "mallory", "", other, at); err != nil {
			t.Fatal(err)
		}
		wantProblems(t, Verify([]string{root}, strict),
			Problem{KindUntrustedKey, label(0), "ack.json", "ack 1 by mallory at 2026-03-06T09:00:00Z: signed by a key other than the trusted one"})
	})

	t.Run("bundle sealed again after its ack", func(t *testing.T) {
		root := chain(t, priv)
		dir := bundle(root, 3)
		if _, err := Ack(dir, "alice", "", priv, at); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "report.md"), []byte("rewritten\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		reseal(t, dir, label(3), day0.AddDate(0, 0, 3), day0.AddDate(0, 0, 4), priv)
		wantProblems(t, Verify([]string{root}, strict),
			Problem{KindAckMismatch, label(3), "ack.json", "ack 1 by alice at 2026-03-06T09:00:00Z is for another manifest (sha256 "})
	})
}

func TestUnreviewed(t *testing.T) {
	_, priv := newKey(t)
	root := chain(t, priv)
	at := day0.AddDate(0, 0, 5)
	for _, i := range []int{0, 2} {
		if _, err := Ack(bundle(root, i), "alice", "", priv, at); err != nil {
			t.Fatal(err)
		}
	}
	check := func(before time.Time, limit int, want ...string) {
		t.Helper()
		got, err := Unreviewed(root, before, limit)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("Unreviewed(%s, %d) = %q, %v; want %q", before.Format(time.DateOnly), limit, got, err, want)
		}
	}
	check(day0.AddDate(0, 0, 4), 0, "2026-03-04", "2026-03-02")
	check(day0.AddDate(0, 0, 4), 1, "2026-03-04")
	check(day0.AddDate(0, 0, 3), 0, "2026-03-02")
	check(day0.AddDate(0, 0, 1), 0)
	// An ack whose bytes were changed no longer counts.
	p := filepath.Join(bundle(root, 2), AckFile)
	b, _ := os.ReadFile(p)
	if err := os.WriteFile(p, bytes.Replace(b, []byte(`"by": "alice"`), []byte(`"by": "alicia"`), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	check(day0.AddDate(0, 0, 4), 0, "2026-03-04", "2026-03-03", "2026-03-02")
	if got, err := Unreviewed(filepath.Join(root, "none"), at, 0); got != nil || err != nil {
		t.Errorf("missing root: %q, %v", got, err)
	}
}

func TestKeys(t *testing.T) {
	dir := t.TempDir()
	priv, pub := filepath.Join(dir, "key.pem"), filepath.Join(dir, "key.pub.pem")
	if err := GenerateKey(priv, pub); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(priv); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("private key file: %v, %v", st.Mode(), err)
	}
	sk, err := LoadPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := LoadPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if !pk.Equal(sk.Public()) {
		t.Error("public key does not match the private key")
	}
	if err := GenerateKey(priv, filepath.Join(dir, "other.pem")); err == nil || !strings.Contains(err.Error(), priv+" already exists") {
		t.Errorf("GenerateKey over an existing key: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "other.pem")); !os.IsNotExist(err) {
		t.Error("GenerateKey wrote the public key while refusing")
	}

	// Errors name the file and the reason.
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(ec)
	ecPath := filepath.Join(dir, "ec.pem")
	if err := os.WriteFile(ecPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		load func(string) error
		path string
		want string
	}{
		{loadPriv, pub, "load private key " + pub + `: PEM block is "PUBLIC KEY", want "PRIVATE KEY"`},
		{loadPub, priv, "load public key " + priv + `: PEM block is "PRIVATE KEY", want "PUBLIC KEY"`},
		{loadPriv, filepath.Join(dir, "nope.pem"), "load private key " + filepath.Join(dir, "nope.pem") + ": no such file or directory"},
		{loadPriv, ecPath, "load private key " + ecPath + ": the key is ECDSA, want ed25519"},
		{loadPub, ecPath, `PEM block is "PRIVATE KEY"`},
	} {
		if err := c.load(c.path); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("load %s: %v, want %q", c.path, err, c.want)
		}
	}
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := loadPriv(garbage); err == nil || err.Error() != "load private key "+garbage+`: no PEM block (want "PRIVATE KEY")` {
		t.Errorf("garbage: %v", err)
	}
}

func loadPriv(p string) error { _, err := LoadPrivateKey(p); return err }
func loadPub(p string) error  { _, err := LoadPublicKey(p); return err }

// TestOpenSSLKey checks that a key made the way the documentation suggests loads and signs.
func TestOpenSSLKey(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl is not installed")
	}
	dir := t.TempDir()
	priv, pub := filepath.Join(dir, "key.pem"), filepath.Join(dir, "pub.pem")
	for _, args := range [][]string{{"genpkey", "-algorithm", "ed25519", "-out", priv}, {"pkey", "-in", priv, "-pubout", "-out", pub}} {
		if out, err := exec.Command("openssl", args...).CombinedOutput(); err != nil {
			t.Skipf("openssl %s: %v\n%s", args[0], err, out)
		}
	}
	sk, err := LoadPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := LoadPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	sealDay(t, root, label(0), day0, day0.AddDate(0, 0, 1), sk)
	wantProblems(t, Verify([]string{root}, VerifyOptions{PublicKey: pk, RequireSignature: true}))
}

func TestParseManifest(t *testing.T) {
	ok := `{"schema":"trailwatch.manifest/v1","label":"2026-03-01","since":"2026-03-01T00:00:00Z","until":"2026-03-02T00:00:00Z",` +
		`"created":"2026-03-02T01:00:00Z","trailwatch_version":"x","previous":null,"files":[` +
		`{"path":"a","sha256":"` + strings.Repeat("a", 64) + `","size":1}]}`
	if _, err := ParseManifest([]byte(ok)); err != nil {
		t.Fatalf("valid manifest: %v", err)
	}
	for _, c := range []struct{ from, to, want string }{
		{`"previous":null`, `"previous":null,"extra":true`, `unknown field "extra"`},
		{`/v1"`, `/v2"`, `schema "trailwatch.manifest/v2"`},
		{`"path":"a"`, `"path":"../a"`, `path "../a" is not a file of the bundle`},
		{`"path":"a"`, `"path":"/etc/passwd"`, `is not a file of the bundle`},
		{`"path":"a"`, `"path":"manifest.json"`, `is not a file of the bundle`},
		{`"size":1`, `"size":-1`, `negative size`},
		{`"sha256":"a`, `"sha256":"A`, `not a lowercase hex SHA-256`},
		{`"label":"2026-03-01"`, `"label":""`, `label is empty`},
		{`"until":"2026-03-02`, `"until":"2026-02-28`, `must be after since`},
		{`"previous":null`, `"previous":{"label":"x","manifest_sha256":"zz"}`, `previous: manifest_sha256 "zz"`},
		{`"previous":null`, `"previous":null,"public_key":"AAAA"`, `public_key: 3 bytes`},
		{`}]}`, `},{"path":"a","sha256":"` + strings.Repeat("b", 64) + `","size":1}]}`, `files must be sorted and unique`},
		{`]}`, `]} {}`, `data after the JSON object`},
	} {
		in := strings.Replace(ok, c.from, c.to, 1)
		if in == ok {
			t.Fatalf("case %q does not change the manifest", c.want)
		}
		if _, err := ParseManifest([]byte(in)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.to, err, c.want)
		}
	}
}

func FuzzLoadManifest(f *testing.F) {
	dir := f.TempDir()
	writeBundle(f, dir, "2026-03-01")
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	if _, err := Seal(dir, Meta{Label: "2026-03-01", Since: day0, Until: day0.AddDate(0, 0, 1)}, &Link{Label: "2026-02-28", ManifestSHA256: strings.Repeat("0", 64)}, priv, day0); err != nil {
		f.Fatal(err)
	}
	sealed, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sealed)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"schema":"trailwatch.manifest/v1","files":[{"path":"a/../b"}]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(data)
		if err != nil {
			return
		}
		// What parses must encode and parse back to the same manifest.
		enc, err := m.encode()
		if err != nil {
			t.Fatalf("encode a parsed manifest: %v", err)
		}
		m2, err := ParseManifest(enc)
		if err != nil {
			t.Fatalf("parse an encoded manifest: %v\n%s", err, enc)
		}
		enc2, _ := m2.encode()
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("round trip differs:\n%s\n%s", enc, enc2)
		}
	})
}

func FuzzParseAckLog(f *testing.F) {
	dir := f.TempDir()
	writeBundle(f, dir, "2026-03-01")
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	if _, err := Seal(dir, Meta{Label: "2026-03-01", Since: day0, Until: day0.AddDate(0, 0, 1)}, nil, priv, day0); err != nil {
		f.Fatal(err)
	}
	if _, err := Ack(dir, "alice", "<note> & \"quotes\" ü", priv, day0); err != nil {
		f.Fatal(err)
	}
	acked, err := os.ReadFile(filepath.Join(dir, AckFile))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(acked)
	f.Add([]byte(`{"schema":"trailwatch.ack/v1","acks":[{"signature":"x","public_key":"AAAA"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := ParseAckLog(data)
		if err != nil {
			return
		}
		for _, r := range l.Acks {
			r.verify(nil) // must not panic on any input
		}
	})
}
