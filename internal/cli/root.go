// Package cli implements the trailwatch command line: one file per subcommand.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/trailwatch/trailwatch/internal/store"
)

// Exit statuses.
const (
	ExitOK      = 0 // success
	ExitFatal   = 1 // the command could not do its job
	ExitUsage   = 2 // bad flags or arguments
	ExitPartial = 3 // the command finished, but some input failed (e.g. files that could not be read)
)

// Version is set at build time with -ldflags "-X github.com/trailwatch/trailwatch/internal/cli.Version=…".
var Version = "dev"

// exitError carries an exit status other than ExitFatal.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, args ...any) error {
	return &exitError{code: ExitUsage, err: fmt.Errorf(format, args...)}
}

// env is what every command reads and writes through, so tests can run commands in-process.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	db             string
	lockWait       time.Duration
	memoryLimit    string
	configPath     string
}

func (e *env) openStore(ctx context.Context, readOnly bool) (*store.Store, error) {
	return store.Open(ctx, e.db, store.Options{ReadOnly: readOnly, LockWait: e.lockWait, MemoryLimit: e.memoryLimit})
}

// Main runs trailwatch with args and returns the exit status.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if os.Getenv("GOGC") == "" {
		// The ingest pipeline's live heap is small and churns fast: at the default GOGC=100 it spent 7% of
		// the CPU in thousands of collections per million events.
		debug.SetGCPercent(400)
	}
	if path := os.Getenv("TRAILWATCH_CPUPROFILE"); path != "" {
		// For performance work: a Go CPU profile of the whole command (see README, Performance).
		if f, err := os.Create(path); err == nil && pprof.StartCPUProfile(f) == nil {
			defer func() { pprof.StopCPUProfile(); f.Close() }()
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	root := newRoot(e)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	fmt.Fprintln(stderr, "trailwatch:", err)
	var xe *exitError
	if errors.As(err, &xe) {
		return xe.code
	}
	return ExitFatal
}

func newRoot(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "trailwatch",
		Short: "Daily PCI DSS requirement 10 review of AWS CloudTrail logs",
		Long: `trailwatch ingests AWS CloudTrail log files (from a folder or S3, single-account or organization
trails) into an embedded DuckDB store, lets you query them with the Athena SQL you already use, runs a
PCI-mapped Sigma rule library over them, writes the signed daily review an assessor reads, and, as
trailwatch serve, alerts within minutes of new logs.`,
		Version:       Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	defDB := os.Getenv("TRAILWATCH_DB")
	if defDB == "" {
		defDB = store.DefaultPath
	}
	root.PersistentFlags().StringVar(&e.db, "db", defDB, "store file (env TRAILWATCH_DB)")
	root.PersistentFlags().StringVar(&e.configPath, "config", os.Getenv("TRAILWATCH_CONFIG"), "configuration file (env TRAILWATCH_CONFIG; default ./trailwatch.yaml when it exists)")
	root.PersistentFlags().DurationVar(&e.lockWait, "lock-wait", 2*time.Minute, "how long to wait while another trailwatch process holds the store")
	root.PersistentFlags().StringVar(&e.memoryLimit, "memory-limit", "", "memory the database engine may use before it spills to disk, e.g. 4GB (default: 128MB for ingest, 80% of RAM otherwise)")
	root.PersistentPreRunE = func(c *cobra.Command, _ []string) error {
		// The configuration's store applies when neither --db nor TRAILWATCH_DB names one.
		if c.Flags().Changed("db") || os.Getenv("TRAILWATCH_DB") != "" {
			return nil
		}
		if cfg, err := e.loadConfig(); err == nil && cfg.Store != "" {
			e.db = cfg.Resolve(cfg.Store)
		}
		return nil
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageErr("%s: %v (see %s --help)", c.CommandPath(), err, c.CommandPath())
	})
	root.AddCommand(newIngestCmd(e), newQueryCmd(e), newRulesCmd(e), newDetectCmd(e), newGenerateCmd(e), newDemoCmd(e),
		newReviewCmd(e), newEvidenceCmd(e), newSuppressionsCmd(e), newServeCmd(e), newAlertCmd(e), newConfigCmd(e))
	return root
}
