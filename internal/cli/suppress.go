package cli

import (
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/trailwatch/trailwatch/internal/rulefmt"
	"github.com/trailwatch/trailwatch/internal/suppress"
)

// expiringSoon is how far ahead suppressions check counts the suppressions about to expire.
const expiringSoon = 30 * 24 * time.Hour

func newSuppressionsCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "suppressions",
		Short: "Check the suppressions file: known, accepted exceptions to the rules (PCI DSS 10.4.3)",
		Long: `A suppressions file documents known, accepted exceptions as code: each suppression names a rule, the
findings it covers (account, principal, event name, source IP… as globs or CIDR ranges), an owner, a reason
and an expiry date. A finding a suppression covers is kept, marked with the reason; a suppression applies
through the end of its expiry day (UTC) and not after. review.suppressions in the configuration names the file.`,
	}
	cmd.AddCommand(newSuppressionsCheckCmd(e))
	return cmd
}

func newSuppressionsCheckCmd(e *env) *cobra.Command {
	var rf ruleFlags
	cmd := &cobra.Command{
		Use:   "check [FILE]",
		Short: "Check a suppressions file strictly and against the rule library, and list when each expires",
		Long: `check reads the suppressions file (FILE, else review.suppressions of the configuration) strictly: unknown
keys, values of the wrong type, missing ids, rules, owners, reasons or expiry dates, bad dates, globs and CIDR
ranges, duplicate ids, and rules that are not in the library (the built-in library, the configured rule
folders and --rules) are each reported as file:line:col, and the exit status is 1. When the file is sound it
lists each suppression with its expiry: expired ones no longer apply.`,
		Example: `  trailwatch suppressions check
  trailwatch suppressions check suppressions.yaml --rules ./my-rules`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var path string
			if len(args) == 1 {
				path = args[0]
			} else {
				cfg, err := e.loadConfig()
				if err != nil {
					return err
				}
				if cfg.Review.Suppressions == "" {
					return usageErr("no suppressions file: name one, or set review.suppressions in the configuration")
				}
				path = cfg.Resolve(cfg.Review.Suppressions)
			}
			set, err := suppress.Load(path)
			var ps rulefmt.Problems
			if errors.As(err, &ps) {
				return e.suppressionProblems(path, ps)
			}
			if err != nil {
				return err
			}
			lib, _, err := e.compileRules(rf)
			if err != nil {
				return err
			}
			ps = set.Check(func(ref string) bool {
				_, ok := lib.Lookup(ref)
				return ok
			})
			for _, x := range set.Items {
				if r, ok := lib.Lookup(x.Rule); ok && !r.Emits {
					ps = append(ps, rulefmt.Problem{Pos: x.Pos, Msg: fmt.Sprintf(
						"rule %q raises no findings of its own (a correlation counts it), so suppression %s covers nothing", x.Rule, x.ID)})
				}
			}
			if len(ps) > 0 {
				ps.Sort()
				return e.suppressionProblems(path, ps)
			}
			return e.listSuppressions(set, time.Now())
		},
	}
	rf.add(cmd)
	return cmd
}

// suppressionProblems prints every problem and returns the failure.
func (e *env) suppressionProblems(path string, ps rulefmt.Problems) error {
	for _, p := range ps {
		fmt.Fprintln(e.stdout, p)
	}
	return &exitError{code: ExitFatal, err: fmt.Errorf("%s: %s", path, plural(len(ps), "problem"))}
}

// listSuppressions prints one line per suppression with its expiry status at now, and a summary.
func (e *env) listSuppressions(set *suppress.Set, now time.Time) error {
	if len(set.Items) == 0 {
		fmt.Fprintf(e.stdout, "%s: no suppressions\n", set.File)
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tRULE\tEXPIRES\tSTATUS\tOWNER\tWHERE")
	for _, x := range set.Items {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", x.ID, x.Rule, x.ExpiresDay, expiryStatus(x, now), x.Owner, x.Pos)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s, no problems; %d expired, %d expiring within %d days\n", plural(len(set.Items), "suppression"),
		len(set.Expired(now)), len(set.ExpiringWithin(now, expiringSoon)), int(expiringSoon/(24*time.Hour)))
	return nil
}

// expiryStatus says "expired", "expires today" (its last day) or "expires in N days", counting UTC days.
func expiryStatus(x *suppress.Suppression, now time.Time) string {
	if !x.ActiveAt(now) {
		return "expired"
	}
	u := now.UTC()
	today := time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC)
	days := int(x.Expires.Sub(today)/(24*time.Hour)) - 1
	if days == 0 {
		return "expires today"
	}
	return "expires in " + plural(days, "day")
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
