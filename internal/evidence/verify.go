package evidence

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// VerifyOptions says what Verify trusts and requires.
type VerifyOptions struct {
	// PublicKey is the trusted key: manifests and acks must be signed by it. Nil trusts the key each
	// manifest and ack names, which detects accidental change but not someone who re-signs with their
	// own key.
	PublicKey ed25519.PublicKey
	// RequireSignature makes an unsigned manifest or ack a problem.
	RequireSignature bool
}

// Kind classifies a problem.
type Kind string

// The kinds of problem Verify reports.
const (
	KindChanged          Kind = "changed"           // a file's bytes differ from the manifest
	KindMissing          Kind = "missing"           // a file in the manifest is not in the folder
	KindAdded            Kind = "added"             // a file in the folder is not in the manifest
	KindUnreadable       Kind = "unreadable"        // a folder, manifest.json, ack.json or file cannot be read or decoded
	KindSignatureMissing Kind = "signature missing" // no manifest.sig where one is required or expected
	KindSignatureBad     Kind = "bad signature"     // manifest.sig does not verify
	KindUntrustedKey     Kind = "untrusted key"     // signed, but not by the trusted key
	KindAckMismatch      Kind = "ack mismatch"      // an ack is for another manifest
	KindAckSignature     Kind = "ack signature"     // an ack's signature is bad or missing
	KindChainBroken      Kind = "chain broken"      // a bundle does not link to the one before it
	KindChainChanged     Kind = "chain changed"     // a manifest differs from the hash the next bundle links to
)

// Problem is one thing wrong with a bundle.
type Problem struct {
	Kind Kind
	// Label is the bundle's window label, or its folder name when its manifest cannot be read.
	Label string
	// Path is the file concerned, relative to the bundle folder; empty for the bundle as a whole.
	Path string
	// Detail says what is wrong.
	Detail string
}

// String is one line: "evidence verify 2026-03-01: report.md: changed (sha256 … != …)".
func (p Problem) String() string {
	if p.Path == "" {
		return fmt.Sprintf("evidence verify %s: %s", p.Label, p.Detail)
	}
	return fmt.Sprintf("evidence verify %s: %s: %s", p.Label, p.Path, p.Detail)
}

// BundleResult is what Verify found for one bundle.
type BundleResult struct {
	// Dir is the bundle folder.
	Dir string
	// Label is the manifest's label, or the folder name when the manifest cannot be read.
	Label string
	// Manifest is nil when manifest.json cannot be read.
	Manifest *Manifest
	// ManifestSHA256 is the hex SHA-256 of the manifest.json bytes.
	ManifestSHA256 string
	// SignedBy is the base64 public key whose signature of manifest.json holds; empty when unsigned.
	SignedBy string
	// Acks are the valid acks of the current manifest.
	Acks []AckRecord
	// Problems are failures; Notes are worth knowing but not failures.
	Problems []Problem
	Notes    []string
}

// OK reports whether the bundle has no problems.
func (b *BundleResult) OK() bool { return len(b.Problems) == 0 }

func (b *BundleResult) problem(kind Kind, path, format string, args ...any) {
	b.Problems = append(b.Problems, Problem{Kind: kind, Label: b.Label, Path: path, Detail: fmt.Sprintf(format, args...)})
}

// Report is the outcome of Verify, one result per bundle, ordered by window (bundles whose manifest
// cannot be read last).
type Report struct {
	Bundles []*BundleResult
}

// OK reports whether every bundle verified and there was at least one.
func (r Report) OK() bool {
	if len(r.Bundles) == 0 {
		return false
	}
	for _, b := range r.Bundles {
		if !b.OK() {
			return false
		}
	}
	return true
}

// Problems returns every problem of every bundle.
func (r Report) Problems() []Problem {
	var ps []Problem
	for _, b := range r.Bundles {
		ps = append(ps, b.Problems...)
	}
	return ps
}

// Write writes one line per problem, an "OK" line per good bundle, a "note" line per note, and a summary.
func (r Report) Write(w io.Writer) error {
	var buf bytes.Buffer
	bad, problems := 0, 0
	for _, b := range r.Bundles {
		if b.OK() {
			fmt.Fprintf(&buf, "OK %s: %s\n", b.Label, b.describe())
		}
		for _, n := range b.Notes {
			fmt.Fprintf(&buf, "note %s: %s\n", b.Label, n)
		}
		for _, p := range b.Problems {
			fmt.Fprintln(&buf, p)
		}
		if !b.OK() {
			bad++
			problems += len(b.Problems)
		}
	}
	switch {
	case len(r.Bundles) == 0:
		fmt.Fprintln(&buf, "no bundles to verify")
	case bad == 0:
		fmt.Fprintf(&buf, "%s verified, no problems\n", plural(len(r.Bundles), "bundle"))
	default:
		fmt.Fprintf(&buf, "%s verified: %d OK, %d with problems (%s)\n", plural(len(r.Bundles), "bundle"), len(r.Bundles)-bad, bad, plural(problems, "problem"))
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// String is what Write writes.
func (r Report) String() string {
	var sb strings.Builder
	_ = r.Write(&sb)
	return sb.String()
}

func (b *BundleResult) describe() string {
	parts := []string{plural(len(b.Manifest.Files), "file")}
	if b.SignedBy != "" {
		parts = append(parts, "signed by "+b.SignedBy)
	} else {
		parts = append(parts, "unsigned")
	}
	if len(b.Acks) == 0 {
		parts = append(parts, "not acknowledged")
	} else {
		var by []string
		for _, a := range b.Acks {
			by = append(by, a.String())
		}
		parts = append(parts, "acknowledged by "+strings.Join(by, ", "))
	}
	return strings.Join(parts, ", ")
}

// Verify checks bundles and the chain between them, reporting every problem rather than stopping at the
// first. Each of dirs is a bundle folder, or an evidence root whose bundle sub-folders are all checked.
//
// For each bundle it checks every file against the manifest (changed, missing, added), manifest.sig
// against manifest.json (with opts.PublicKey when given, else the key manifest.json names), and each ack
// in ack.json (for the current manifest, signature). Then, ordering the bundles by window, it checks that
// each links to the latest bundle ending before it starts and that the linked manifest.json still has the
// hash recorded in the link. The earliest bundle may link to one not given: that is a note.
func Verify(dirs []string, opts VerifyOptions) Report {
	var results []*BundleResult
	seen := map[string]bool{}
	add := func(bd bundleDir) {
		key := bd.dir
		if abs, err := filepath.Abs(bd.dir); err == nil {
			key = abs
		}
		if seen[key] {
			return
		}
		seen[key] = true
		results = append(results, checkBundle(bd, opts))
	}
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, ManifestFile)); errors.Is(err, fs.ErrNotExist) {
			if subs, err := listRoot(d); err == nil && len(subs) > 0 {
				for _, s := range subs {
					add(s)
				}
				continue
			}
		}
		add(readBundleDir(d))
	}
	checkChain(results)
	sort.SliceStable(results, func(i, j int) bool {
		a, b := results[i].Manifest, results[j].Manifest
		switch {
		case a == nil || b == nil:
			return a != nil && b == nil
		case !a.Since.Equal(b.Since):
			return a.Since.Before(b.Since)
		case !a.Until.Equal(b.Until):
			return a.Until.Before(b.Until)
		}
		return a.Label < b.Label
	})
	return Report{Bundles: results}
}

// checkBundle checks one bundle folder on its own, from its manifest as readBundleDir read it: manifest,
// files, signature, acks.
func checkBundle(bd bundleDir, opts VerifyOptions) *BundleResult {
	b := &BundleResult{Dir: bd.dir, Label: filepath.Base(filepath.Clean(bd.dir))}
	if st, err := os.Stat(bd.dir); err != nil || !st.IsDir() {
		if err == nil {
			err = errors.New("not a folder")
		}
		b.problem(KindUnreadable, "", "cannot read the bundle folder: %v", unwrapPath(err))
		return b
	}
	b.ManifestSHA256 = bd.sum
	switch {
	case errors.Is(bd.err, fs.ErrNotExist):
		b.problem(KindUnreadable, ManifestFile, "missing (the folder is neither a sealed bundle nor an evidence folder of bundles)")
		return b
	case bd.raw == nil:
		b.problem(KindUnreadable, ManifestFile, "cannot read it: %v", unwrapPath(bd.err))
		return b
	case bd.err != nil:
		b.problem(KindUnreadable, ManifestFile, "invalid: %v", errors.Unwrap(bd.err))
		return b
	}
	b.Manifest, b.Label = bd.m, bd.m.Label
	b.checkFiles()
	b.checkSignature(bd.raw, opts)
	b.checkAcks(opts)
	return b
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func (b *BundleResult) checkFiles() {
	t, err := scanTree(b.Dir)
	if err != nil {
		b.problem(KindUnreadable, "", "cannot list the bundle's files: %v", unwrapPath(err))
		return
	}
	first := len(b.Problems)
	listed := make(map[string]File, len(b.Manifest.Files))
	for _, f := range b.Manifest.Files {
		listed[f.Path] = f
	}
	present := make(map[string]bool, len(t.files))
	for _, p := range t.files {
		present[p] = true
		want, ok := listed[p]
		if !ok {
			b.problem(KindAdded, p, "added (not in the manifest)")
			continue
		}
		got, err := hashFile(filepath.Join(b.Dir, filepath.FromSlash(p)))
		switch {
		case err != nil:
			b.problem(KindUnreadable, p, "cannot read it: %v", unwrapPath(err))
		case got.SHA256 != want.SHA256 && got.Size != want.Size:
			b.problem(KindChanged, p, "changed (sha256 %s != %s, size %d != %d)", short(got.SHA256), short(want.SHA256), got.Size, want.Size)
		case got.SHA256 != want.SHA256:
			b.problem(KindChanged, p, "changed (sha256 %s != %s)", short(got.SHA256), short(want.SHA256))
		}
	}
	for _, p := range t.irregular {
		present[p] = true
		if _, ok := listed[p]; ok {
			b.problem(KindChanged, p, "changed (no longer a regular file)")
		} else {
			b.problem(KindAdded, p, "added (not in the manifest, and not a regular file)")
		}
	}
	for _, u := range t.unreadable {
		present[u.path] = true
		b.problem(KindUnreadable, u.path, "cannot read it: %v", unwrapPath(u.err))
	}
	for _, f := range b.Manifest.Files {
		if !present[f.Path] {
			b.problem(KindMissing, f.Path, "missing")
		}
	}
	ps := b.Problems[first:]
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Path < ps[j].Path })
}

func (b *BundleResult) checkSignature(raw []byte, opts VerifyOptions) {
	m := b.Manifest
	data, err := os.ReadFile(filepath.Join(b.Dir, SignatureFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if m.PublicKey != "" {
			b.problem(KindSignatureMissing, SignatureFile, "missing, but manifest.json names a signing key")
		} else if opts.RequireSignature {
			b.problem(KindSignatureMissing, SignatureFile, "missing (the bundle is not signed, and a signature is required)")
		}
		return
	case err != nil:
		b.problem(KindUnreadable, SignatureFile, "cannot read it: %v", unwrapPath(err))
		return
	}
	sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(sig) != ed25519.SignatureSize {
		b.problem(KindSignatureBad, SignatureFile, "bad signature (not a base64 ed25519 signature)")
		return
	}
	var key ed25519.PublicKey
	if m.PublicKey != "" {
		key, _ = decodePublicKey(m.PublicKey) // checked by ParseManifest
	}
	if opts.PublicKey != nil {
		if key != nil && !key.Equal(opts.PublicKey) {
			b.problem(KindUntrustedKey, SignatureFile, "signed by a key other than the trusted one (manifest.json names %s)", m.PublicKey)
			return
		}
		key = opts.PublicKey
	}
	if key == nil {
		b.problem(KindSignatureBad, SignatureFile, "cannot check the signature: manifest.json names no key and no trusted key was given")
		return
	}
	if !ed25519.Verify(key, raw, sig) {
		b.problem(KindSignatureBad, SignatureFile, "bad signature (manifest.json changed after it was signed, or another key signed it)")
		return
	}
	b.SignedBy = encodePublicKey(key)
}

func (b *BundleResult) checkAcks(opts VerifyOptions) {
	log, err := LoadAckLog(b.Dir)
	if err != nil {
		b.problem(KindUnreadable, AckFile, "cannot read it: %v", unwrapAck(err))
		return
	}
	if log == nil {
		return
	}
	for i, r := range log.Acks {
		what := fmt.Sprintf("ack %d by %s", i+1, r)
		if r.ManifestSHA256 != b.ManifestSHA256 {
			b.problem(KindAckMismatch, AckFile, "%s is for another manifest (sha256 %s != %s; was the bundle sealed again after the review?)", what, short(b.ManifestSHA256), short(r.ManifestSHA256))
			continue
		}
		if r.Label != b.Manifest.Label {
			b.problem(KindAckMismatch, AckFile, "%s names bundle %q", what, r.Label)
			continue
		}
		if r.Signature == "" && r.PublicKey == "" && opts.RequireSignature {
			b.problem(KindAckSignature, AckFile, "%s is not signed, and a signature is required", what)
			continue
		}
		if kind, msg := r.verify(opts.PublicKey); kind != "" {
			b.problem(kind, AckFile, "%s: %s", what, msg)
			continue
		}
		b.Acks = append(b.Acks, r)
	}
}

func unwrapAck(err error) error {
	if u := errors.Unwrap(err); u != nil {
		return unwrapPath(u)
	}
	return err
}

// checkChain checks the links between the bundles whose manifest could be read.
func checkChain(results []*BundleResult) {
	byLabel := map[string][]*BundleResult{}
	unreadable := map[string]bool{}
	var ok []*BundleResult
	for _, b := range results {
		if b.Manifest == nil {
			unreadable[b.Label] = true
			continue
		}
		ok = append(ok, b)
		byLabel[b.Manifest.Label] = append(byLabel[b.Manifest.Label], b)
	}
	for _, b := range ok {
		m := b.Manifest
		// before is the bundle b should link to: the one Previous would have found among those given.
		var before *BundleResult
		for _, c := range ok {
			if c != b && !c.Manifest.Until.After(m.Since) && (before == nil || chainsBefore(before.Manifest, c.Manifest)) {
				before = c
			}
		}
		link := m.Previous
		if link == nil {
			if before != nil {
				b.problem(KindChainBroken, "", "chain broken: %s has no previous link, but %s ends before it starts", m.Label, before.Label)
			}
			continue
		}
		var target *BundleResult
		for _, c := range byLabel[link.Label] {
			if c != b && (target == nil || c.ManifestSHA256 == link.ManifestSHA256) {
				target = c
			}
		}
		switch {
		case target == nil && unreadable[link.Label]:
			b.problem(KindChainBroken, "", "chain broken: %s links to %s, whose manifest.json cannot be read", m.Label, link.Label)
			continue
		case target == nil && before == nil:
			b.Notes = append(b.Notes, fmt.Sprintf("%s links to %s, which is not among the bundles given", m.Label, link.Label))
			continue
		case target == nil:
			b.problem(KindChainBroken, "", "chain broken: %s links to %s, which is missing (not among the bundles given; the bundle before %s is %s)", m.Label, link.Label, m.Label, before.Label)
			continue
		}
		if target.ManifestSHA256 != link.ManifestSHA256 {
			target.problem(KindChainChanged, ManifestFile, "changed after %s was sealed (sha256 %s != %s in the link from %s)", m.Label, short(target.ManifestSHA256), short(link.ManifestSHA256), m.Label)
		}
		switch {
		case target.Manifest.Until.After(m.Since):
			b.problem(KindChainBroken, "", "chain broken: %s links to %s, which does not end before %s starts", m.Label, link.Label, m.Label)
		case before != target && chainsBefore(target.Manifest, before.Manifest):
			b.problem(KindChainBroken, "", "chain broken: %s links to %s, not to %s, which ends between them (sealed after %s, or the link was rewritten)", m.Label, link.Label, before.Label, m.Label)
		case target.Manifest.Until.Before(m.Since):
			b.Notes = append(b.Notes, fmt.Sprintf("no bundle covers %s to %s (between %s and %s)", fmtTime(target.Manifest.Until), fmtTime(m.Since), link.Label, m.Label))
		}
	}
}

// plural is "1 file" or "2 files".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
