package cli

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/trailwatch/trailwatch/internal/source"
	"github.com/trailwatch/trailwatch/internal/store"
)

type ingestFlags struct {
	since, until string
	accounts     []string
	regions      []string
	workers      int
	quiet        bool
	endpoint     string
	region       string
	batchEvents  int
}

func newIngestCmd(e *env) *cobra.Command {
	var f ingestFlags
	cmd := &cobra.Command{
		Use:   "ingest SOURCE...",
		Short: "Read CloudTrail log files from folders or S3 into the store, exactly once",
		Long: `Read CloudTrail log files into the store. A SOURCE is a local folder (walked recursively), a file, or
s3://bucket/prefix (credentials and region from the standard AWS chain). Files already ingested and unchanged
are skipped; changed files and files that failed before are read again without duplicating events.

Accepted files: .json.gz or .json in the S3 delivery form {"Records":[...]}, a JSON array of events, JSON lines,
and LookupEvents output. Digest files (CloudTrail-Digest/) are not read as events.

Exit status: 0 all files read, 3 some files failed (listed on stderr, retried next run), 1 fatal error.`,
		Example: `  trailwatch ingest ./logs
  trailwatch ingest s3://org-trail-bucket/AWSLogs/ --since 2024-03-01 --until 2024-03-31 --regions us-east-1,eu-west-1
  trailwatch ingest s3://bucket --endpoint http://127.0.0.1:9000   # S3-compatible store`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runIngest(cmd, e, f, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.since, "since", "", "first delivery day to read: YYYY-MM-DD, RFC 3339, today, yesterday or Nd (N days ago)")
	fl.StringVar(&f.until, "until", "", "last delivery day to read (inclusive), same forms as --since")
	fl.StringSliceVar(&f.accounts, "accounts", nil, "only these account IDs (comma-separated)")
	fl.StringSliceVar(&f.regions, "regions", nil, "only these regions (comma-separated)")
	fl.IntVar(&f.workers, "workers", 0, "parallel downloads and parsers (default: one per core)")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "print only errors and the summary")
	fl.StringVar(&f.endpoint, "endpoint", os.Getenv("TRAILWATCH_S3_ENDPOINT"), "S3 endpoint URL for S3-compatible stores (env TRAILWATCH_S3_ENDPOINT)")
	fl.StringVar(&f.region, "region", "", "AWS region of the bucket (default: from the AWS environment)")
	fl.IntVar(&f.batchEvents, "batch-events", 0, "events per transaction, in whole files; a rest under an eighth of it joins the last (default 983040)")
	_ = fl.MarkHidden("batch-events")
	return cmd
}

func runIngest(cmd *cobra.Command, e *env, f ingestFlags, args []string) error {
	ctx := cmd.Context()
	now := time.Now().UTC()
	since, err := parseDay(f.since, now)
	if err != nil {
		return usageErr("--since: %v", err)
	}
	until, err := parseDay(f.until, now)
	if err != nil {
		return usageErr("--until: %v", err)
	}
	if !since.IsZero() && !until.IsZero() && until.Before(since) {
		return usageErr("--until %s is before --since %s", f.until, f.since)
	}
	for _, a := range f.accounts {
		if len(a) != 12 || strings.Trim(a, "0123456789") != "" {
			return usageErr("--accounts: %q is not a 12-digit AWS account ID", a)
		}
	}
	filter := source.Filter{Since: since, Until: until, Accounts: f.accounts, Regions: f.regions}
	var srcs []source.Source
	for _, a := range args {
		src, err := source.New(ctx, a, source.Options{Endpoint: f.endpoint, Region: f.region})
		if err != nil {
			return err
		}
		srcs = append(srcs, src)
	}
	if e.memoryLimit == "" {
		// Ingest streams: more memory does not make it faster (measured on 1M and 4M events), and a larger buffer
		// pool only holds on to blocks the duplicate check read.
		e.memoryLimit = "128MB"
	}
	// The parser allocates a string per value of every event, and the events live only until DuckDB has
	// them: collecting less often saves CPU for some memory (1M events, GOGC 300 against the default 100:
	// 18.0/17.9 s against 20.0/19.7 s, peak 0.37 against 0.32 GB). 400 is bench/floor's setting (not
	// measured apart from 300).
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	// The parsed events waiting for the store grow with file size (make bench: ~930 events a file at 4M
	// events a day, ~230 at 1M), and GOGC multiplies them; a soft limit on the heap keeps peak memory flat
	// (4M events: 645 MB without it, 455 MB with it; 1M: 394 MB; the same speed).
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(128 << 20)
	}
	st, err := e.openStore(ctx, false)
	if err != nil {
		return err
	}
	defer st.Close()

	failed := 0
	for _, src := range srcs {
		pr := newProgress(e.stderr, f.quiet, src.String())
		sum, err := st.Ingest(ctx, src, store.IngestOptions{
			Filter:      filter,
			Workers:     f.workers,
			BatchEvents: f.batchEvents,
			CommitHook:  crashHook(),
			Progress:    pr.update,
			OnFile: func(r store.FileResult) {
				if r.Err != nil {
					pr.clear()
					fmt.Fprintf(e.stderr, "error: %s: %v\n", r.URI, r.Err)
				} else if len(r.Warnings) > 0 && !f.quiet {
					pr.clear()
					fmt.Fprintf(e.stderr, "warning: %s: %s\n", r.URI, strings.Join(r.Warnings, "; "))
				}
			},
		})
		pr.finish()
		printSummary(e.stdout, sum)
		if err != nil {
			return fmt.Errorf("ingest %s: %w", src, err)
		}
		failed += sum.Failed
	}
	if failed > 0 {
		return &exitError{code: ExitPartial, err: fmt.Errorf("%d files failed; they are recorded and will be read again on the next run", failed)}
	}
	return nil
}

func printSummary(w io.Writer, s store.Summary) {
	rate := 0.0
	if s.Elapsed > 0 {
		rate = float64(s.Events) / s.Elapsed.Seconds()
	}
	fmt.Fprintf(w, "%s: %d files listed: %d read, %d unchanged (skipped), %d failed; %d events: %d added, %d duplicates, %d rejected; %.1f s, %.0f events/s\n",
		s.Source, s.Listed, s.Read, s.Unchanged, s.Failed, s.Events, s.Added, s.Duplicates, s.Rejected, s.Elapsed.Seconds(), rate)
}

// parseDay reads a day as YYYY-MM-DD, RFC 3339, today, yesterday or Nd. Empty gives the zero time.
func parseDay(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	day := func(t time.Time) time.Time {
		t = t.UTC()
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	}
	switch {
	case s == "":
		return time.Time{}, nil
	case s == "today":
		return day(now), nil
	case s == "yesterday":
		return day(now).AddDate(0, 0, -1), nil
	case strings.HasSuffix(s, "d"):
		if n, err := strconv.Atoi(strings.TrimSuffix(s, "d")); err == nil && n >= 0 {
			return day(now).AddDate(0, 0, -n), nil
		}
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a day: use YYYY-MM-DD, RFC 3339, today, yesterday or Nd", s)
}

// progress shows a bar on a terminal, a line every few seconds elsewhere, or nothing with --quiet.
type progress struct {
	w     io.Writer
	quiet bool
	tty   bool
	name  string
	bar   *progressbar.ProgressBar
	start time.Time
	last  time.Time
	p     store.Progress
}

func newProgress(w io.Writer, quiet bool, name string) *progress {
	p := &progress{w: w, quiet: quiet, name: name, start: time.Now(), last: time.Now()}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
	}
	return p
}

func (p *progress) update(s store.Progress) {
	if p.quiet {
		return
	}
	p.p = s
	elapsed := time.Since(p.start).Seconds()
	rate := float64(s.Events) / max(elapsed, 0.001)
	if p.tty {
		if p.bar == nil {
			p.bar = progressbar.NewOptions(-1,
				progressbar.OptionSetWriter(p.w),
				progressbar.OptionSetDescription("ingest "+p.name),
				progressbar.OptionShowCount(),
				progressbar.OptionSetPredictTime(true),
				progressbar.OptionShowElapsedTimeOnFinish(),
				progressbar.OptionClearOnFinish(),
				progressbar.OptionThrottle(200*time.Millisecond),
			)
		}
		if s.ListingDone {
			p.bar.ChangeMax(s.Listed)
		}
		p.bar.Describe(fmt.Sprintf("ingest %s: %d files, %.0f events/s", p.name, s.Done, rate))
		_ = p.bar.Set(s.Done)
		return
	}
	if time.Since(p.last) >= 5*time.Second {
		p.last = time.Now()
		total := "?"
		if s.ListingDone {
			total = strconv.Itoa(s.Listed)
		}
		fmt.Fprintf(p.w, "ingest %s: %d/%s files, %d events, %.0f events/s\n", p.name, s.Done, total, s.Events, rate)
	}
}

func (p *progress) clear() {
	if p.bar != nil {
		_ = p.bar.Clear()
	}
}

func (p *progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}

// crashHook lets the crash tests kill this process with SIGKILL at a chosen point of a chosen commit:
// TRAILWATCH_TEST_CRASH=<point>:<batch>, point being staged, in-transaction or committed. It also prints
// "committed <batch>" lines to stderr when TRAILWATCH_TEST_CRASH=trace, so a test can kill the process from
// outside at a moment it observed.
func crashHook() func(string, int) {
	spec := os.Getenv("TRAILWATCH_TEST_CRASH")
	if spec == "" {
		return nil
	}
	if spec == "trace" {
		return func(point string, batch int) {
			if point == "committed" {
				fmt.Fprintf(os.Stderr, "committed %d\n", batch)
			}
		}
	}
	point, n, _ := strings.Cut(spec, ":")
	want, _ := strconv.Atoi(n)
	return func(p string, batch int) {
		if p == point && batch == want {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way
		}
	}
}
