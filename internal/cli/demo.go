package cli

import (
	"bufio"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/trailwatch/trailwatch/internal/evidence"
	"github.com/trailwatch/trailwatch/internal/generate"
	"github.com/trailwatch/trailwatch/internal/report"
	"github.com/trailwatch/trailwatch/internal/source"
	"github.com/trailwatch/trailwatch/internal/store"
)

// demoSuppressions are the demo's exceptions (PCI DSS 10.4.3): one in force, one expired.
const demoSuppressions = `# Exceptions as code: findings these cover stay in the bundle, marked with the reason.
suppressions:
  - id: ci-lambda-deploys
    rule: lambda_function_code_updated
    match:
      principal: github-actions-deploy/*
    owner: platform-team@example.com
    reason: The GitHub Actions pipeline deploys Lambda code; every deploy has a reviewed pull request (CHG-2041)
    expires: 2099-12-31
  - id: weekly-lookup-events-audit
    rule: cloudtrail_lookup_events
    owner: security-team@example.com
    reason: The security team's weekly LookupEvents audit (expired; renew or remove)
    expires: 2024-01-31
`

//go:embed demoqueries/*.sql
var demoQueries embed.FS

// demoQuery is one of the seed articles' review queries, corrected.
type demoQuery struct {
	name, title, pci, sql string
}

func loadDemoQueries() ([]demoQuery, error) {
	var out []demoQuery
	err := fs.WalkDir(demoQueries, "demoqueries", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := demoQueries.ReadFile(p)
		if err != nil {
			return err
		}
		q := demoQuery{name: strings.TrimSuffix(filepath.Base(p), ".sql"), sql: string(b)}
		sc := bufio.NewScanner(strings.NewReader(q.sql))
		for sc.Scan() {
			line := sc.Text()
			if v, ok := strings.CutPrefix(line, "-- title: "); ok {
				q.title = v
			}
			if v, ok := strings.CutPrefix(line, "-- pci: "); ok {
				q.pci = v
			}
		}
		out = append(out, q)
		return nil
	})
	return out, err
}

func newDemoCmd(e *env) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Generate a small organization trail, ingest it and show what a reviewer looks at first",
		Long: `Generate a small synthetic organization trail (3 accounts, 2 regions, 2 days, with planted incidents),
ingest it into a store of its own in --dir (./trailwatch-demo), and print the results of the seed articles' PCI DSS review queries
(corrected where the articles' SQL was wrong). Nothing outside the demo folder is touched; run it again and
the unchanged files are skipped.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			logs := filepath.Join(dir, "logs")
			fmt.Fprintf(e.stdout, "== Generating a demo organization trail in %s\n", logs)
			end := time.Date(2024, 3, 31, 0, 0, 0, 0, time.UTC)
			days := []string{end.AddDate(0, 0, -1).Format("2006-01-02"), end.Format("2006-01-02")}
			gs, err := generate.Run(ctx, generate.Options{Out: logs, Accounts: 3, Regions: 2, Days: len(days), End: end, EventsPerDay: 20000, Seed: 1})
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "wrote %d events in %d files, %d planted incidents (listed in %s)\n\n",
				gs.Events, gs.Files, gs.Scenarios, filepath.Join(logs, "scenarios.json"))
			dbPath := filepath.Join(dir, "demo.duckdb")
			st, err := store.Open(ctx, dbPath, store.Options{})
			if err != nil {
				return err
			}
			defer st.Close()
			src, err := source.NewLocal(logs)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "== Ingesting into %s\n", dbPath)
			sum, err := st.Ingest(ctx, src, store.IngestOptions{})
			if err != nil {
				return err
			}
			printSummary(e.stdout, sum)
			qs, err := loadDemoQueries()
			if err != nil {
				return err
			}
			for _, q := range qs {
				fmt.Fprintf(e.stdout, "\n== %s\n   PCI DSS v4.0.1 %s\n", q.title, q.pci)
				rows, err := st.Query(ctx, q.sql)
				if err != nil {
					return fmt.Errorf("demo query %s: %w", q.name, err)
				}
				err = writeRows(e.stdout, rows, "table", 60, 10)
				rows.Close()
				if err != nil {
					return fmt.Errorf("demo query %s: %w", q.name, err)
				}
			}
			st.Close()

			// The daily review of each demo day, signed with a demo key, the second day chained to the first.
			e.db = dbPath
			keyPath, pubPath := filepath.Join(dir, "demo-signing-key.pem"), filepath.Join(dir, "demo-signing-key.pub.pem")
			if _, err := os.Stat(keyPath); err != nil {
				if err := evidence.GenerateKey(keyPath, pubPath); err != nil {
					return err
				}
			}
			suppFile := filepath.Join(dir, "demo-suppressions.yaml")
			if err := os.WriteFile(suppFile, []byte(demoSuppressions), 0o644); err != nil {
				return fmt.Errorf("demo: %w", err)
			}
			evidenceDir := filepath.Join(dir, "evidence")
			var last string
			for _, day := range days {
				fmt.Fprintf(e.stdout, "\n== Daily review of %s (PCI DSS 10.4.1)\n", day)
				bundle, rv, err := e.runReview(ctx, reviewFlags{date: day, out: evidenceDir, key: keyPath, suppFile: suppFile, force: true}, time.Now())
				if err != nil {
					return err
				}
				if err := report.SummaryText(e.stdout, report.NewSummary(rv)); err != nil {
					return err
				}
				last = bundle
			}
			rep := evidence.Verify([]string{evidenceDir}, evidence.VerifyOptions{})
			fmt.Fprintf(e.stdout, "\n== Evidence check (trailwatch evidence verify %s)\n", evidenceDir)
			if err := rep.Write(e.stdout); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "\nOpen the review:          %s\n", filepath.Join(last, report.ReportHTML))
			fmt.Fprintf(e.stdout, "Record who reviewed it:   %s review ack %s --by \"Your Name\" --key %s\n", os.Args[0], last, keyPath)
			fmt.Fprintf(e.stdout, "Try your own Athena SQL:  %s query --db %s \"SELECT eventname, count(*) FROM cloudtrail_logs GROUP BY 1 ORDER BY 2 DESC LIMIT 10\"\n", os.Args[0], dbPath)
			fmt.Fprintf(e.stdout, "Run the detection rules:  %s detect --db %s --level medium\n", os.Args[0], dbPath)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "trailwatch-demo", "folder for the demo logs and store; running the demo again reuses it")
	return cmd
}
