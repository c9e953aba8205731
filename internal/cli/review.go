package cli

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/trailwatch/trailwatch/internal/config"
	"github.com/trailwatch/trailwatch/internal/engine"
	"github.com/trailwatch/trailwatch/internal/evidence"
	"github.com/trailwatch/trailwatch/internal/report"
	"github.com/trailwatch/trailwatch/internal/review"
	"github.com/trailwatch/trailwatch/internal/source"
	"github.com/trailwatch/trailwatch/internal/suppress"
)

// reviewFlags are the flags of review.
type reviewFlags struct {
	rules               ruleFlags
	date, since, until  string
	out, key, suppFile  string
	endpoint, region    string
	force, quiet, stats bool
}

func newReviewCmd(e *env) *cobra.Command {
	var f reviewFlags
	cmd := &cobra.Command{
		Use:   "review",
		Short: "Review a day of logs: run every rule and write a signed, hash-chained evidence bundle",
		Long: `review runs the whole rule library over one day (default: yesterday in the configured time zone) or any
window, measures log coverage and retention, applies the suppressions file, and writes an evidence bundle
into --out/<day>/ (default ./evidence/<day>/): report.html (opens offline), report.md, findings.json,
findings/<rule>.csv, queries.sql (the exact SQL, with each rule's version hash), coverage.json, run.json,
summary.txt and summary.html, and manifest.json with the SHA-256 of every file and of the previous day's
manifest, signed (manifest.sig) when review.signing_key is configured.

A day already reviewed is not overwritten unless --force (the next day's link to it would break).
Check a bundle with 'trailwatch evidence verify'; record the human review with 'trailwatch review ack'.`,
		Example: `  trailwatch review                       # yesterday
  trailwatch review --date 2026-03-01 --out ./evidence
  trailwatch review --since 2026-03-01T00:00:00Z --until 2026-03-01T06:00:00Z`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, rv, err := e.runReview(cmd.Context(), f, time.Now())
			if err != nil {
				return err
			}
			if !f.quiet {
				if err := report.SummaryText(e.stdout, report.NewSummary(rv)); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "\nEvidence bundle: %s\nReport:          %s\n", dir, filepath.Join(dir, report.ReportHTML))
			}
			if f.stats {
				fmt.Fprintf(e.stderr, "%d events, %d rules, %d findings; %.2f s\n", rv.Events, rv.Rules, len(rv.Findings), rv.Ended.Sub(rv.Started).Seconds())
			}
			return nil
		},
	}
	f.rules.add(cmd)
	fl := cmd.Flags()
	fl.StringVar(&f.date, "date", "", "the day to review, YYYY-MM-DD in the configured time zone (default: yesterday)")
	fl.StringVar(&f.since, "since", "", "start of a window (RFC 3339 or YYYY-MM-DD), instead of --date")
	fl.StringVar(&f.until, "until", "", "end of the window, exclusive (RFC 3339 or YYYY-MM-DD)")
	fl.StringVar(&f.out, "out", "", "evidence folder (default: review.out from the config, else ./evidence)")
	fl.StringVar(&f.key, "key", "", "ed25519 private key (PEM) to sign the manifest (default: review.signing_key)")
	fl.StringVar(&f.suppFile, "suppressions", "", "suppressions file (default: review.suppressions)")
	fl.StringVar(&f.endpoint, "endpoint", os.Getenv("TRAILWATCH_S3_ENDPOINT"), "S3 endpoint URL for an s3:// --out on an S3-compatible store (env TRAILWATCH_S3_ENDPOINT)")
	fl.StringVar(&f.region, "region", "", "AWS region of the --out bucket (default: from the AWS environment)")
	fl.BoolVar(&f.force, "force", false, "replace a bundle already written for the window")
	fl.BoolVar(&f.quiet, "quiet", false, "print nothing but errors")
	fl.BoolVar(&f.stats, "stats", false, "print counts and the run time on stderr")
	cmd.AddCommand(newReviewAckCmd(e))
	return cmd
}

// window turns the review flags into a window in the review time zone.
func (f reviewFlags) window(loc *time.Location, now time.Time) (review.Window, error) {
	if f.date != "" && (f.since != "" || f.until != "") {
		return review.Window{}, usageErr("--date and --since/--until exclude each other")
	}
	if f.since == "" && f.until == "" {
		if f.date == "" {
			return review.Yesterday(now, loc), nil
		}
		w, err := review.Day(f.date, loc)
		if err != nil {
			return w, usageErr("--date: %v", err)
		}
		return w, nil
	}
	if f.since == "" || f.until == "" {
		return review.Window{}, usageErr("--since and --until go together")
	}
	parse := func(s string) (time.Time, error) {
		if t, err := time.ParseInLocation("2006-01-02", s, loc); err == nil {
			return t, nil
		}
		return time.Parse(time.RFC3339, s)
	}
	since, err := parse(f.since)
	if err != nil {
		return review.Window{}, usageErr("--since %q: use YYYY-MM-DD or RFC 3339", f.since)
	}
	until, err := parse(f.until)
	if err != nil {
		return review.Window{}, usageErr("--until %q: use YYYY-MM-DD or RFC 3339", f.until)
	}
	if !until.After(since) {
		return review.Window{}, usageErr("--until must come after --since")
	}
	if since.In(loc).AddDate(0, 0, 1).Equal(until) && since.In(loc).Format("15:04:05") == "00:00:00" {
		return review.Day(since.In(loc).Format("2006-01-02"), loc)
	}
	return review.Range(since, until, loc), nil
}

// errSealed says the window's bundle is already written.
var errSealed = errors.New("already holds a sealed bundle")

// runReview reviews the window the flags name and writes its sealed bundle; it returns the bundle folder.
func (e *env) runReview(ctx context.Context, f reviewFlags, now time.Time) (string, *review.Review, error) {
	set, cfg, err := e.compileRules(f.rules)
	if err != nil {
		return "", nil, err
	}
	loc, err := cfg.Review.Location()
	if err != nil {
		return "", nil, err
	}
	w, err := f.window(loc, now)
	if err != nil {
		return "", nil, err
	}
	supp, err := loadSuppressions(cfg, f.suppFile, set)
	if err != nil {
		return "", nil, err
	}
	key, err := signingKey(cfg, f.key)
	if err != nil {
		return "", nil, err
	}
	root := f.out
	if root == "" {
		root = evidenceRoot(cfg)
	}
	// An s3:// evidence folder is mirrored (manifests and acks only) into a local staging folder, the bundle
	// is written and sealed there, then uploaded.
	var remote *evidence.S3Root
	if strings.HasPrefix(root, "s3://") {
		if remote, err = e.s3Evidence(ctx, root, f, cfg); err != nil {
			return "", nil, err
		}
		sealed, err := remote.Sealed(ctx, w.Label)
		if err != nil {
			return "", nil, err
		}
		if sealed && !f.force {
			return "", nil, fmt.Errorf("review %s: %s%s/ %w; use --force to write it again (with Object Lock, S3 keeps the first as an older version)", w.Label, root, w.Label, errSealed)
		}
		if root, err = os.MkdirTemp("", "trailwatch-evidence-"); err != nil {
			return "", nil, fmt.Errorf("review: %w", err)
		}
		defer os.RemoveAll(root)
		if err := remote.Fetch(ctx, root); err != nil {
			return "", nil, err
		}
	}
	dir := filepath.Join(root, w.Label)
	if _, err := os.Stat(filepath.Join(dir, evidence.ManifestFile)); err == nil && !f.force && remote == nil {
		return "", nil, fmt.Errorf("review %s: %s %w; use --force to replace it (the next day's link to it will break)", w.Label, dir, errSealed)
	}
	unreviewed, err := evidence.Unreviewed(root, w.Since, 30)
	if err != nil {
		return "", nil, err
	}
	prev, err := evidence.Previous(root, w.Since)
	if err != nil {
		return "", nil, err
	}

	st, err := e.openStore(ctx, true)
	if err != nil {
		return "", nil, err
	}
	defer st.Close()
	history, err := sourceHistory(ctx, cfg)
	if err != nil {
		return "", nil, err
	}
	opts := review.Options{Window: w, Rules: set, Suppressions: supp, ExpectedAccounts: cfg.Review.Accounts,
		ExpectedRegions: cfg.Review.Regions, Unreviewed: unreviewed, SourceHistory: history, Version: Version}
	rv, err := review.Run(ctx, st.DB, opts)
	if err != nil {
		return "", nil, err
	}

	// Write beside the final folder, seal, then move into place: a crash leaves no half bundle.
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", nil, fmt.Errorf("review: %w", err)
	}
	tmp, err := os.MkdirTemp(root, "."+w.Label+".tmp-")
	if err != nil {
		return "", nil, fmt.Errorf("review: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := report.WriteBundle(tmp, rv); err != nil {
		return "", nil, err
	}
	meta := evidence.Meta{Label: w.Label, Since: w.Since, Until: w.Until, Version: Version}
	if _, err := evidence.Seal(tmp, meta, prev, key, time.Now()); err != nil {
		return "", nil, err
	}
	if remote != nil {
		if err := remote.Upload(ctx, w.Label, tmp, time.Now()); err != nil {
			return "", nil, err
		}
		return "s3://" + remote.Bucket + "/" + remote.Prefix + w.Label + "/", rv, nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", nil, fmt.Errorf("review: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", nil, fmt.Errorf("review: %w", err)
	}
	return dir, rv, nil
}

// sourceHistory asks each configured source how far back its logs go; nil when none is configured.
func sourceHistory(ctx context.Context, cfg *config.Config) ([]source.Oldest, error) {
	srcs, err := openSources(ctx, cfg)
	if err != nil || len(srcs) == 0 {
		return nil, err
	}
	out := []source.Oldest{}
	for _, src := range srcs {
		h, ok := src.(source.Historian)
		if !ok {
			continue
		}
		days, err := h.OldestDays(ctx)
		if err != nil {
			return nil, fmt.Errorf("review: retention: %w", err)
		}
		out = append(out, days...)
	}
	return out, nil
}

// openSources opens the configured sources (folders relative to the configuration file).
func openSources(ctx context.Context, cfg *config.Config) ([]source.Source, error) {
	var out []source.Source
	for _, c := range cfg.Sources {
		loc := c.Location
		if !strings.HasPrefix(loc, "s3://") {
			loc = cfg.Resolve(loc)
		}
		src, err := source.New(ctx, loc, source.Options{Endpoint: c.Endpoint, Region: c.Region})
		if err != nil {
			return nil, err
		}
		out = append(out, src)
	}
	return out, nil
}

// s3Evidence opens an s3://bucket/prefix evidence folder, with the configured Object Lock.
func (e *env) s3Evidence(ctx context.Context, location string, f reviewFlags, cfg *config.Config) (*evidence.S3Root, error) {
	bucket, prefix, err := source.ParseS3Location(location)
	if err != nil {
		return nil, usageErr("--out: %v", err)
	}
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	client, err := source.NewS3Client(ctx, source.Options{Endpoint: f.endpoint, Region: f.region})
	if err != nil {
		return nil, fmt.Errorf("review --out %s: %w", location, err)
	}
	r := &evidence.S3Root{Client: client, Bucket: bucket, Prefix: prefix}
	if ol := cfg.Review.ObjectLock; ol.Mode != "" {
		r.Lock = &evidence.ObjectLock{Mode: ol.Mode, Days: ol.Days}
	}
	return r, nil
}

// loadSuppressions reads the suppressions file (flag, else config) and checks that its rules exist.
func loadSuppressions(cfg *config.Config, flag string, set *engine.Set) (*suppress.Set, error) {
	path := flag
	if path == "" {
		path = resolveIf(cfg, cfg.Review.Suppressions)
	}
	if path == "" {
		return nil, nil
	}
	s, err := suppress.Load(path)
	if err != nil {
		return nil, err
	}
	if ps := s.Check(func(ref string) bool { _, ok := set.Lookup(ref); return ok }); len(ps) > 0 {
		return nil, fmt.Errorf("suppressions:\n%w", ps)
	}
	return s, nil
}

// signingKey loads the private key named by the flag or the config; nil when neither names one.
func signingKey(cfg *config.Config, flag string) (ed25519.PrivateKey, error) {
	path := flag
	if path == "" {
		path = resolveIf(cfg, cfg.Review.SigningKey)
	}
	if path == "" {
		return nil, nil
	}
	return evidence.LoadPrivateKey(path)
}
