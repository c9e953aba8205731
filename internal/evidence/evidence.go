// Package evidence makes an evidence bundle tamper-evident and checks it: a manifest of every file's
// SHA-256, a hash chain from each bundle to the one before it, ed25519 signatures, and the acks that
// record a person's review (PCI DSS 10.4.1).
//
// A bundle is a folder of files written by the daily review (one per reviewed window); an evidence root
// is a folder holding one bundle per sub-folder. Seal writes a bundle's manifest.json and, with a key,
// manifest.sig; Ack appends a reviewer's acknowledgement to ack.json; Verify checks bundles and the chain
// between them and reports every problem it finds.
package evidence

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// The files evidence adds to a bundle. They are left out of the manifest's file list: the manifest cannot
// hash itself, its signature signs it, and acks are made after sealing.
const (
	ManifestFile     = "manifest.json"
	SignatureFile    = "manifest.sig"
	AckFile          = "ack.json"
	AckSignatureFile = "ack.sig" // reserved: each entry of ack.json carries its own signature (see Ack)
)

// ManifestSchema names the version of manifest.json. A change that removes or renames a field, or
// changes its meaning, makes a new version.
const ManifestSchema = "trailwatch.manifest/v1"

// Manifest is the content of manifest.json: what a bundle holds, which window it reviews, and the link
// to the bundle before it.
type Manifest struct {
	// Schema is ManifestSchema.
	Schema string `json:"schema"`
	// Label names the reviewed window: the day (2026-03-01) or since--until.
	Label string `json:"label"`
	// Since and Until bound the reviewed window, Until exclusive.
	Since time.Time `json:"since"`
	Until time.Time `json:"until"`
	// Created is when the bundle was sealed.
	Created time.Time `json:"created"`
	// Version is the trailwatch version that sealed the bundle.
	Version string `json:"trailwatch_version"`
	// Previous links to the bundle before this one; nil for the first bundle of a chain.
	Previous *Link `json:"previous"`
	// PublicKey is the base64 ed25519 public key whose signature is in manifest.sig; empty when the
	// bundle is not signed.
	PublicKey string `json:"public_key,omitempty"`
	// Files are every file of the bundle folder, recursively, except the files evidence adds
	// (manifest.json, manifest.sig, ack.json, ack.sig at the top), sorted by path.
	Files []File `json:"files"`
}

// File is one file of a bundle.
type File struct {
	// Path is relative to the bundle folder, with slashes.
	Path string `json:"path"`
	// SHA256 is the lowercase hex SHA-256 of the file's bytes.
	SHA256 string `json:"sha256"`
	// Size is the file's length in bytes.
	Size int64 `json:"size"`
}

// Link names the bundle before this one and pins its manifest.
type Link struct {
	// Label is the earlier bundle's window label.
	Label string `json:"label"`
	// ManifestSHA256 is the lowercase hex SHA-256 of the earlier bundle's manifest.json bytes.
	ManifestSHA256 string `json:"manifest_sha256"`
}

// Meta describes the window a bundle reviews.
type Meta struct {
	// Label names the window: the day (2026-03-01) or since--until.
	Label string
	// Since and Until bound the window, Until exclusive.
	Since, Until time.Time
	// Version is the trailwatch version sealing the bundle.
	Version string
}

// Seal hashes every file of the bundle folder dir and writes manifest.json (indented, deterministic for
// the same files, meta, prev and now). With a key it also writes manifest.sig, the base64 ed25519
// signature of the exact manifest.json bytes and a newline; without one it removes any manifest.sig left
// from an earlier seal. prev is the link from Previous (nil for the first bundle of a chain).
//
// Sealing an acknowledged bundle again leaves ack.json alone: its acks name the old manifest, so Verify
// reports them until the bundle is acknowledged again.
func Seal(dir string, meta Meta, prev *Link, key ed25519.PrivateKey, now time.Time) (*Manifest, error) {
	fail := func(err error) (*Manifest, error) { return nil, fmt.Errorf("evidence seal %s: %w", dir, err) }
	if err := meta.check(); err != nil {
		return fail(err)
	}
	if prev != nil {
		if err := prev.check(); err != nil {
			return fail(fmt.Errorf("previous link: %w", err))
		}
	}
	if key != nil && len(key) != ed25519.PrivateKeySize {
		return fail(fmt.Errorf("signing key is %d bytes, want %d", len(key), ed25519.PrivateKeySize))
	}
	tree, err := scanTree(dir)
	if err != nil {
		return fail(err)
	}
	if len(tree.irregular) > 0 {
		return fail(fmt.Errorf("%s: not a regular file", tree.irregular[0]))
	}
	if len(tree.unreadable) > 0 {
		return fail(tree.unreadable[0].err)
	}
	m := &Manifest{
		Schema:   ManifestSchema,
		Label:    meta.Label,
		Since:    meta.Since,
		Until:    meta.Until,
		Created:  now.UTC().Truncate(time.Second),
		Version:  meta.Version,
		Previous: prev,
		Files:    []File{},
	}
	for _, p := range tree.files {
		f, err := hashFile(filepath.Join(dir, filepath.FromSlash(p)))
		if err != nil {
			return fail(err)
		}
		f.Path = p
		m.Files = append(m.Files, f)
	}
	if key != nil {
		m.PublicKey = encodePublicKey(key.Public().(ed25519.PublicKey))
	}
	data, err := m.encode()
	if err != nil {
		return fail(err)
	}
	// The old signature goes first, so that a crash between the two writes leaves a bundle that reads as
	// unsigned rather than one whose signature does not match.
	if err := os.Remove(filepath.Join(dir, SignatureFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fail(err)
	}
	if err := writeFileAtomic(dir, ManifestFile, data, 0o644); err != nil {
		return fail(err)
	}
	if key != nil {
		sig := base64.StdEncoding.EncodeToString(ed25519.Sign(key, data)) + "\n"
		if err := writeFileAtomic(dir, SignatureFile, []byte(sig), 0o644); err != nil {
			return fail(err)
		}
	}
	return m, nil
}

func (m Meta) check() error {
	if err := checkLabel(m.Label); err != nil {
		return err
	}
	if m.Since.IsZero() || m.Until.IsZero() || !m.Until.After(m.Since) {
		return fmt.Errorf("window %s: until (%s) must be after since (%s)", m.Label, fmtTime(m.Until), fmtTime(m.Since))
	}
	return nil
}

func (l *Link) check() error {
	if err := checkLabel(l.Label); err != nil {
		return err
	}
	return checkHex("manifest_sha256", l.ManifestSHA256)
}

// encode is the exact manifest.json bytes for m.
func (m *Manifest) encode() ([]byte, error) { return encodeJSON(m, "  ") }

// encodeJSON encodes v without escaping <, > and &, indented when indent is not empty, ending with a
// newline.
func encodeJSON(v any, indent string) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", indent)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ParseManifest decodes manifest.json strictly: unknown fields, trailing data, another schema, and
// values that cannot be right (a path leaving the folder, a malformed hash, files out of order) are
// errors.
func ParseManifest(data []byte) (*Manifest, error) {
	var m Manifest
	if err := decodeStrict(data, &m); err != nil {
		return nil, err
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// LoadManifest reads dir/manifest.json and returns it with its exact bytes, whose SHA-256 the next
// bundle's link pins.
func LoadManifest(dir string) (*Manifest, []byte, error) {
	path := filepath.Join(dir, ManifestFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("load manifest: %w", err)
	}
	m, err := ParseManifest(data)
	if err != nil {
		return nil, data, fmt.Errorf("load manifest %s: %w", path, err)
	}
	return m, data, nil
}

func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("data after the JSON object")
	}
	return nil
}

func (m *Manifest) validate() error {
	if m.Schema != ManifestSchema {
		return fmt.Errorf("schema %q: want %q", m.Schema, ManifestSchema)
	}
	if err := (Meta{Label: m.Label, Since: m.Since, Until: m.Until}).check(); err != nil {
		return err
	}
	if m.Created.IsZero() {
		return errors.New("created is missing")
	}
	if m.Files == nil {
		return errors.New("files is missing")
	}
	if m.Previous != nil {
		if err := m.Previous.check(); err != nil {
			return fmt.Errorf("previous: %w", err)
		}
	}
	if m.PublicKey != "" {
		if _, err := decodePublicKey(m.PublicKey); err != nil {
			return fmt.Errorf("public_key: %w", err)
		}
	}
	for i, f := range m.Files {
		if !fs.ValidPath(f.Path) || f.Path == "." || strings.Contains(f.Path, `\`) || reserved(f.Path) {
			return fmt.Errorf("files[%d]: path %q is not a file of the bundle", i, f.Path)
		}
		if i > 0 && f.Path <= m.Files[i-1].Path {
			return fmt.Errorf("files[%d]: path %q is not after %q (files must be sorted and unique)", i, f.Path, m.Files[i-1].Path)
		}
		if err := checkHex("sha256", f.SHA256); err != nil {
			return fmt.Errorf("files[%d] %s: %w", i, f.Path, err)
		}
		if f.Size < 0 {
			return fmt.Errorf("files[%d] %s: negative size", i, f.Path)
		}
	}
	return nil
}

// reserved reports whether path (relative, slashes) is one of the files evidence adds to a bundle.
func reserved(path string) bool {
	switch path {
	case ManifestFile, SignatureFile, AckFile, AckSignatureFile:
		return true
	}
	return false
}

func checkLabel(label string) error {
	if label == "" {
		return errors.New("label is empty")
	}
	if !utf8.ValidString(label) || strings.ContainsFunc(label, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return fmt.Errorf("label %q has control characters or is not UTF-8", label)
	}
	return nil
}

func checkHex(name, s string) error {
	if len(s) != 2*sha256.Size || strings.Trim(s, "0123456789abcdef") != "" {
		return fmt.Errorf("%s %q is not a lowercase hex SHA-256", name, s)
	}
	return nil
}

func decodePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("not base64: %w", err)
	}
	if len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%d bytes, an ed25519 public key has %d", len(b), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}

func encodePublicKey(k ed25519.PublicKey) string { return base64.StdEncoding.EncodeToString(k) }

// Previous finds, in the evidence root folder, the bundle the one reviewing a window starting at since
// links to: of the bundles with a readable manifest.json whose window ends at or before since, the one
// ending last (of those, the longest window, so that day bundles chain to each other rather than to a
// shorter ad-hoc window ending at the same time). It returns nil when there is none, or when root does
// not exist. Bundles whose manifest cannot be read are passed over; Verify reports them.
func Previous(root string, since time.Time) (*Link, error) {
	bundles, err := listRoot(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("evidence previous %s: %w", root, err)
	}
	var best *bundleDir
	for i := range bundles {
		b := &bundles[i]
		if b.m == nil || b.m.Until.After(since) {
			continue
		}
		if best == nil || chainsBefore(best.m, b.m) {
			best = b
		}
	}
	if best == nil {
		return nil, nil
	}
	return &Link{Label: best.m.Label, ManifestSHA256: best.sum}, nil
}

// chainsBefore orders candidates for a previous link: a comes before b when b would be preferred.
func chainsBefore(a, b *Manifest) bool {
	if !a.Until.Equal(b.Until) {
		return a.Until.Before(b.Until)
	}
	if !a.Since.Equal(b.Since) {
		return a.Since.After(b.Since)
	}
	return a.Label < b.Label
}

// bundleDir is a bundle folder with its manifest when it could be read.
type bundleDir struct {
	dir string
	m   *Manifest
	raw []byte // manifest.json bytes
	sum string // hex SHA-256 of raw
	err error  // why m is nil
}

// listRoot returns the bundle folders of an evidence root: the sub-folders that hold a manifest.json or
// whose name starts like a label (YYYY-MM-DD), hidden folders excepted.
func listRoot(root string) ([]bundleDir, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	var out []bundleDir
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		dir := filepath.Join(root, e.Name())
		if !e.IsDir() {
			// A symbolic link to a bundle folder counts; other files do not.
			if st, err := os.Stat(dir); e.Type()&fs.ModeSymlink == 0 || err != nil || !st.IsDir() {
				continue
			}
		}
		_, statErr := os.Stat(filepath.Join(dir, ManifestFile))
		if statErr != nil && !looksLikeLabel(e.Name()) {
			continue
		}
		out = append(out, readBundleDir(dir))
	}
	return out, nil
}

func readBundleDir(dir string) bundleDir {
	b := bundleDir{dir: dir}
	b.m, b.raw, b.err = LoadManifest(dir)
	if b.raw != nil {
		b.sum = sha256Hex(b.raw)
	}
	return b
}

// looksLikeLabel reports whether a folder name starts with a date, YYYY-MM-DD.
func looksLikeLabel(name string) bool {
	if len(name) < 10 {
		return false
	}
	for i, c := range name[:10] {
		if i == 4 || i == 7 {
			if c != '-' {
				return false
			}
		} else if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// tree is what scanTree found in a bundle folder.
type tree struct {
	files      []string // regular files, relative slash paths, sorted
	irregular  []string // symlinks, devices and the like
	unreadable []pathErr
}

type pathErr struct {
	path string
	err  error
}

// scanTree lists the files of a bundle folder, leaving out the files evidence adds at its top.
func scanTree(dir string) (*tree, error) {
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real // WalkDir does not descend into a root that is a symbolic link
	}
	st, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, errors.New("not a folder")
	}
	t := &tree{}
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		rel, relErr := filepath.Rel(dir, path)
		if relErr != nil {
			return relErr
		}
		rel = filepath.ToSlash(rel)
		if err != nil {
			if rel == "." {
				return err
			}
			t.unreadable = append(t.unreadable, pathErr{rel, err})
			return nil
		}
		switch {
		case d.IsDir():
			return nil
		case reserved(rel):
			return nil
		case !d.Type().IsRegular():
			t.irregular = append(t.irregular, rel)
		default:
			t.files = append(t.files, rel)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(t.files)
	sort.Strings(t.irregular)
	return t, nil
}

func hashFile(path string) (File, error) {
	f, err := os.Open(path)
	if err != nil {
		return File{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return File{}, fmt.Errorf("read %s: %w", path, err)
	}
	return File{SHA256: hex.EncodeToString(h.Sum(nil)), Size: n}, nil
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// writeFileAtomic writes dir/name through a temporary file renamed over it, so that a reader never sees
// half a manifest.
func writeFileAtomic(dir, name string, data []byte, perm fs.FileMode) error {
	f, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, perm)
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", filepath.Join(dir, name), err)
	}
	return nil
}

func fmtTime(t time.Time) string { return t.Format(time.RFC3339) }

// short abbreviates a hex hash for messages.
func short(h string) string {
	if len(h) > 12 {
		return h[:12] + "…"
	}
	return h
}
