package evidence

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// AckSchema names the version of ack.json.
const AckSchema = "trailwatch.ack/v1"

// AckLog is the content of ack.json: every acknowledgement of a bundle, oldest first. Ack appends to it,
// so several people can acknowledge the same bundle. Each entry is signed on its own, so one reviewer's
// signature does not depend on, or vouch for, another's.
type AckLog struct {
	// Schema is AckSchema.
	Schema string `json:"schema"`
	// Acks are the acknowledgements, oldest first.
	Acks []AckRecord `json:"acks"`
}

// AckRecord is one person's acknowledgement that they reviewed a bundle (PCI DSS 10.4.1).
type AckRecord struct {
	// Label is the reviewed bundle's window label.
	Label string `json:"label"`
	// ManifestSHA256 is the hex SHA-256 of the bundle's manifest.json bytes when it was acknowledged:
	// the ack is for exactly those files.
	ManifestSHA256 string `json:"manifest_sha256"`
	// By names the reviewer.
	By string `json:"by"`
	// At is when the review was acknowledged (UTC, whole seconds).
	At time.Time `json:"at"`
	// Note is the reviewer's comment, e.g. what was followed up.
	Note string `json:"note"`
	// PublicKey is the base64 ed25519 public key that made Signature; empty when unsigned.
	PublicKey string `json:"public_key,omitempty"`
	// Signature is the base64 ed25519 signature of SignedBytes; empty when unsigned.
	Signature string `json:"signature,omitempty"`
}

// SignedBytes is what an ack's signature signs: the line "trailwatch.ack/v1" followed by the record's
// compact JSON encoding without its signature field (fields in the order of AckRecord, <, > and & not
// escaped, at in RFC 3339), and a newline.
func (r AckRecord) SignedBytes() ([]byte, error) {
	r.Signature = ""
	b, err := encodeJSON(r, "")
	if err != nil {
		return nil, err
	}
	return append([]byte(AckSchema+"\n"), b...), nil
}

// verify checks the record's signature with its own key; with a trusted key, the record's key must be
// that one. It returns the problem kind and text, or "" when the signature holds (or there is none).
func (r AckRecord) verify(trusted ed25519.PublicKey) (Kind, string) {
	if r.Signature == "" {
		if r.PublicKey != "" {
			return KindAckSignature, "names a key but has no signature"
		}
		return "", ""
	}
	pub, err := decodePublicKey(r.PublicKey)
	if err != nil {
		return KindAckSignature, "public_key: " + err.Error()
	}
	if trusted != nil && !pub.Equal(trusted) {
		return KindUntrustedKey, "signed by a key other than the trusted one (" + r.PublicKey + ")"
	}
	sig, err := base64.StdEncoding.DecodeString(r.Signature)
	if err != nil {
		return KindAckSignature, "signature is not base64"
	}
	msg, err := r.SignedBytes()
	if err != nil || !ed25519.Verify(pub, msg, sig) {
		return KindAckSignature, "bad signature (the entry was changed after it was signed, or signed by another key)"
	}
	return "", ""
}

// String names the reviewer and the time: "alice at 2026-03-02T09:00:00Z".
func (r AckRecord) String() string {
	return fmt.Sprintf("%s at %s", r.By, fmtTime(r.At))
}

// ParseAckLog decodes ack.json strictly.
func ParseAckLog(data []byte) (*AckLog, error) {
	var l AckLog
	if err := decodeStrict(data, &l); err != nil {
		return nil, err
	}
	if l.Schema != AckSchema {
		return nil, fmt.Errorf("schema %q: want %q", l.Schema, AckSchema)
	}
	return &l, nil
}

// LoadAckLog reads dir/ack.json; it returns nil and no error when the bundle has none.
func LoadAckLog(dir string) (*AckLog, error) {
	path := filepath.Join(dir, AckFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load acks: %w", err)
	}
	l, err := ParseAckLog(data)
	if err != nil {
		return nil, fmt.Errorf("load acks %s: %w", path, err)
	}
	return l, nil
}

// Ack records that by reviewed the bundle in dir: it appends an AckRecord for the bundle's current
// manifest.json to ack.json, signed with key when key is not nil. It refuses a bundle without a
// manifest, one whose files or signature do not match its manifest (an ack vouches for what the
// reviewer saw, so the bundle must be intact), and an ack.json it cannot read.
func Ack(dir, by, note string, key ed25519.PrivateKey, now time.Time) (*AckRecord, error) {
	fail := func(err error) (*AckRecord, error) { return nil, fmt.Errorf("evidence ack %s: %w", dir, err) }
	by = strings.TrimSpace(by)
	if by == "" {
		return fail(errors.New("the reviewer's name is empty"))
	}
	if !utf8.ValidString(by) || !utf8.ValidString(note) {
		return fail(errors.New("the name or note is not UTF-8"))
	}
	if key != nil && len(key) != ed25519.PrivateKeySize {
		return fail(fmt.Errorf("signing key is %d bytes, want %d", len(key), ed25519.PrivateKeySize))
	}
	b := checkBundle(readBundleDir(dir), VerifyOptions{})
	if b.Manifest == nil {
		p := b.Problems[0]
		if p.Path != "" {
			return fail(fmt.Errorf("%s: %s", p.Path, p.Detail))
		}
		return fail(errors.New(p.Detail))
	}
	var bad []string
	for _, p := range b.Problems {
		if p.Path != AckFile { // an unreadable or stale ack does not stop a new one
			bad = append(bad, "  "+p.String())
		}
	}
	if len(bad) > 0 {
		return fail(fmt.Errorf("the bundle does not match its manifest, so it cannot be acknowledged:\n%s", strings.Join(bad, "\n")))
	}
	log, err := LoadAckLog(dir)
	if err != nil {
		return fail(fmt.Errorf("%w (move it aside to acknowledge again)", err))
	}
	if log == nil {
		log = &AckLog{Schema: AckSchema}
	}
	r := AckRecord{
		Label:          b.Manifest.Label,
		ManifestSHA256: b.ManifestSHA256,
		By:             by,
		At:             now.UTC().Truncate(time.Second),
		Note:           note,
	}
	if key != nil {
		r.PublicKey = encodePublicKey(key.Public().(ed25519.PublicKey))
		msg, err := r.SignedBytes()
		if err != nil {
			return fail(err)
		}
		r.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(key, msg))
	}
	log.Acks = append(log.Acks, r)
	data, err := encodeJSON(log, "  ")
	if err != nil {
		return fail(err)
	}
	if err := writeFileAtomic(dir, AckFile, data, 0o644); err != nil {
		return fail(err)
	}
	return &r, nil
}

// Unreviewed returns the labels of the bundles in the evidence root whose window ends at or before
// before and that have no valid ack (one for the bundle's current manifest.json whose signature, if it
// has one, holds), newest first, at most limit of them (all when limit <= 0). Bundles whose manifest
// cannot be read are left out; Verify reports them. A root that does not exist has none.
func Unreviewed(root string, before time.Time, limit int) ([]string, error) {
	bundles, err := listRoot(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("evidence unreviewed %s: %w", root, err)
	}
	var open []*Manifest
	for _, b := range bundles {
		if b.m == nil || b.m.Until.After(before) {
			continue
		}
		if !acked(b.dir, b.sum) {
			open = append(open, b.m)
		}
	}
	sort.Slice(open, func(i, j int) bool { return chainsBefore(open[j], open[i]) })
	if limit > 0 && len(open) > limit {
		open = open[:limit]
	}
	var labels []string
	for _, m := range open {
		labels = append(labels, m.Label)
	}
	return labels, nil
}

// acked reports whether dir's ack.json holds a valid ack of the manifest whose SHA-256 is sum.
func acked(dir, sum string) bool {
	log, err := LoadAckLog(dir)
	if err != nil || log == nil {
		return false
	}
	for _, r := range log.Acks {
		if r.ManifestSHA256 == sum {
			if kind, _ := r.verify(nil); kind == "" {
				return true
			}
		}
	}
	return false
}
