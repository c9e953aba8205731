package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/trailwatch/trailwatch/internal/generate"
)

func newGenerateCmd(e *env) *cobra.Command {
	var o generate.Options
	var end string
	cmd := &cobra.Command{
		Use:   "generate --out DIR",
		Short: "Write realistic synthetic organization-trail logs in the S3 layout",
		Long: `Write synthetic CloudTrail logs as an organization trail delivers them:
DIR/AWSLogs/o-<org>/<account>/CloudTrail/<region>/YYYY/MM/DD/*.json.gz, one gzip file about every five minutes
per account and region, with a realistic mix of services, principals, errors and console sign-ins, and planted
incidents that PCI DSS requirement 10 cares about. DIR/scenarios.json lists the incidents with their eventIDs
as ground truth. The same options and seed give the same bytes.`,
		Example: `  trailwatch generate --out ./demo-logs --accounts 3 --regions 2 --days 2 --events-per-day 20000
  trailwatch generate --out /tmp/bench --accounts 5 --regions 3 --days 1 --events-per-day 1000000 --seed 7`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Out == "" {
				return usageErr("--out is required")
			}
			if o.Accounts < 1 || o.Regions < 1 || o.Days < 1 || o.EventsPerDay < 1 {
				return usageErr("--accounts, --regions, --days and --events-per-day must be at least 1")
			}
			if end != "" {
				t, err := time.Parse("2006-01-02", end)
				if err != nil {
					return usageErr("--end %q: use YYYY-MM-DD", end)
				}
				o.End = t
			}
			sum, err := generate.Run(cmd.Context(), o)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "wrote %d events in %d files (%.1f MB gzip), %d planted scenarios, to %s\n",
				sum.Events, sum.Files, float64(sum.Bytes)/1e6, sum.Scenarios, o.Out)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Out, "out", "", "output folder")
	fl.IntVar(&o.Accounts, "accounts", 3, "accounts in the organization, management and log-archive accounts included (with --days >= 2 one more joins on the last day)")
	fl.IntVar(&o.Regions, "regions", 2, "regions per account")
	fl.IntVar(&o.Days, "days", 2, "days of logs")
	fl.IntVar(&o.EventsPerDay, "events-per-day", 10000, "events per day across all accounts and regions")
	fl.Int64Var(&o.Seed, "seed", 1, "random seed")
	fl.StringVar(&end, "end", "", "last day, YYYY-MM-DD (default 2024-03-31)")
	fl.IntVar(&o.Workers, "workers", 0, "parallel writers (default: one per core)")
	return cmd
}
