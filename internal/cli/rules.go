package cli

import (
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/trailwatch/trailwatch/internal/config"
	"github.com/trailwatch/trailwatch/internal/engine"
	"github.com/trailwatch/trailwatch/internal/pci"
	"github.com/trailwatch/trailwatch/internal/rulefmt"
	"github.com/trailwatch/trailwatch/internal/ruletest"
	"github.com/trailwatch/trailwatch/internal/sigma"
	"github.com/trailwatch/trailwatch/rules"
)

// ruleFlags are the flags of every command that loads the rule library.
type ruleFlags struct {
	dirs      []string
	noBuiltin bool
}

func (f *ruleFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&f.dirs, "rules", nil, "folder of rules added to the built-in library; a rule with a built-in rule's id replaces it (repeatable)")
	cmd.Flags().BoolVar(&f.noBuiltin, "no-builtin", false, "leave out the built-in library: only the --rules folders")
}

// loadConfig reads the configuration named by --config, or trailwatch.yaml when it exists.
func (e *env) loadConfig() (*config.Config, error) {
	path := e.configPath
	if path == "" {
		if _, err := os.Stat(config.DefaultFile); err != nil {
			return config.Default(), nil
		}
		path = config.DefaultFile
	}
	return config.Load(path)
}

// loadRules reads the built-in library, the configured rule folders and the --rules folders, in that
// order. Problems in a file are returned with the rules that did decode.
func (e *env) loadRules(f ruleFlags) ([]*rulefmt.Rule, rulefmt.Problems, *config.Config, error) {
	cfg, err := e.loadConfig()
	if err != nil {
		return nil, nil, nil, err
	}
	var all []*rulefmt.Rule
	var problems rulefmt.Problems
	if !f.noBuiltin {
		rs, ps := rulefmt.LoadFS(rules.FS, ".", "builtin:")
		all, problems = append(all, rs...), append(problems, ps...)
	}
	var dirs []string
	for _, d := range cfg.Rules.Folders {
		dirs = append(dirs, cfg.Resolve(d))
	}
	dirs = append(dirs, f.dirs...)
	for _, d := range dirs {
		st, err := os.Stat(d)
		if err != nil {
			return nil, nil, nil, usageErr("rules folder %s: %v", d, err)
		}
		var rs []*rulefmt.Rule
		var ps rulefmt.Problems
		if st.IsDir() {
			rs, ps = rulefmt.LoadFS(os.DirFS(d), ".", d)
		} else {
			rs, ps = rulefmt.LoadFile(d)
		}
		all, problems = append(overridden(all, rs), rs...), append(problems, ps...)
	}
	return all, problems, cfg, nil
}

// overridden drops the rules of earlier sources that a later source replaces (same id).
func overridden(earlier, later []*rulefmt.Rule) []*rulefmt.Rule {
	ids := map[string]bool{}
	for _, r := range later {
		if r.ID != "" {
			ids[r.ID] = true
		}
	}
	kept := earlier[:0:0]
	for _, r := range earlier {
		if !ids[r.ID] || r.ID == "" {
			kept = append(kept, r)
		}
	}
	return kept
}

// compileRules loads and compiles the library; any problem is an error, since running half a library
// silently would hide a rule.
func (e *env) compileRules(f ruleFlags) (*engine.Set, *config.Config, error) {
	all, problems, cfg, err := e.loadRules(f)
	if err != nil {
		return nil, nil, err
	}
	set, cps := engine.Compile(all, sigma.DuckDB{}, cfg.Params())
	problems = append(problems, cps...)
	if len(problems) > 0 {
		problems.Sort()
		return nil, nil, fmt.Errorf("rules have problems:\n%w", problems)
	}
	return set, cfg, nil
}

func newRulesCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rules",
		Short: "List, show, test and lint detection rules",
		Long: `Detection rules are Sigma rules for AWS CloudTrail with the PCI DSS requirements they evidence, whether
they alert, and their own test events. The built-in library is embedded in trailwatch; --rules DIR adds your
own (see rules/README.md in the source for the format).`,
	}
	cmd.AddCommand(newRulesListCmd(e), newRulesShowCmd(e), newRulesTestCmd(e), newRulesLintCmd(e))
	return cmd
}

func newRulesListCmd(e *env) *cobra.Command {
	var rf ruleFlags
	var req string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "One line per rule: name, level, alert, PCI DSS v4.0.1 and v3.2.1 requirements, title",
		Example: `  trailwatch rules list
  trailwatch rules list --pci 10.2.1.4
  trailwatch rules list --pci 10.2.4        (v3.2.1 numbers work too)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			set, _, err := e.compileRules(rf)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tLEVEL\tALERT\tPCI v4.0.1\tPCI v3.2.1\tTITLE")
			n := 0
			for _, r := range set.Rules {
				if !r.Emits {
					continue
				}
				if req != "" && !matchesPCI(r.Rule, req) {
					continue
				}
				alert := "-"
				if r.Alerts() {
					alert = "yes"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Ref(), r.Level, alert, pciList(r.PCI.V4), pciList(r.PCI.V321), oneLine(r.Title))
				n++
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if req != "" && n == 0 {
				fmt.Fprintf(e.stderr, "no rule evidences PCI DSS %s\n", req)
			}
			return nil
		},
	}
	rf.add(cmd)
	cmd.Flags().StringVar(&req, "pci", "", "only rules evidencing this requirement or one below it (v4.0.1 or v3.2.1 number)")
	return cmd
}

func matchesPCI(r *rulefmt.Rule, req string) bool {
	for _, id := range r.PCI.V4 {
		if pci.Matches(req, id) {
			return true
		}
	}
	for _, id := range r.PCI.V321 {
		if pci.Matches(req, id) {
			return true
		}
	}
	return false
}

// pciList formats requirement numbers for display.
func pciList(ids []string) string {
	if len(ids) == 0 {
		return "-"
	}
	return strings.Join(ids, ",")
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func newRulesShowCmd(e *env) *cobra.Command {
	var rf ruleFlags
	cmd := &cobra.Command{
		Use:   "show NAME|ID",
		Short: "Print a rule's file and the SQL it compiles to",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			set, _, err := e.compileRules(rf)
			if err != nil {
				return err
			}
			r, ok := set.Lookup(args[0])
			if !ok {
				return usageErr("no rule named %q (see trailwatch rules list)", args[0])
			}
			src, err := ruleSource(r.Rule)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "# %s", r.Pos.File)
			if r.Source != nil && r.Source.Hash != "" {
				fmt.Fprintf(e.stdout, " (version %s)", r.Source.Hash)
			}
			fmt.Fprintf(e.stdout, "\n%s\n", strings.TrimRight(string(src), "\n"))
			for _, x := range set.Subset(r).Rules {
				if x.Where == "" {
					continue
				}
				fmt.Fprintf(e.stdout, "\n-- %s: the events it matches (a condition on %s)\n%s\n", x.Ref(), set.Dialect.Table(), x.Where)
				fmt.Fprintf(e.stdout, "-- %s: decided on eventSource and eventName alone, to skip events early\n%s\n", x.Ref(), x.Pre)
			}
			if r.Correlation != nil {
				c := r.Correlation
				fmt.Fprintf(e.stdout, "-- then, per group of %s, a sliding %s window: %s", strings.Join(c.GroupBy, ", "), c.Timespan, c.Type)
				if len(c.Condition.Ops) > 0 {
					var ops []string
					for op, v := range c.Condition.Ops {
						ops = append(ops, fmt.Sprintf("%s %g", op, v))
					}
					sort.Strings(ops)
					if c.Condition.Field != "" {
						fmt.Fprintf(e.stdout, " of distinct %s", c.Condition.Field)
					}
					fmt.Fprintf(e.stdout, " %s", strings.Join(ops, " and "))
				}
				fmt.Fprintln(e.stdout)
			}
			return nil
		},
	}
	rf.add(cmd)
	return cmd
}

func ruleSource(r *rulefmt.Rule) ([]byte, error) {
	name := r.Pos.File
	if p, ok := strings.CutPrefix(name, "builtin:"); ok {
		return fs.ReadFile(rules.FS, p)
	}
	return os.ReadFile(name)
}

func newRulesTestCmd(e *env) *cobra.Command {
	var rf ruleFlags
	var verbose bool
	cmd := &cobra.Command{
		Use:   "test",
		Short: "Run every rule's test events through the ingest path and check what fires",
		Long: `Each rule carries events that must fire and events that must not. rules test writes them into a CloudTrail
log file, ingests it into a throw-away store exactly as real logs are ingested, runs each rule, and reports a
pass or the failures for every rule. The exit status is 1 when any rule fails or has no tests.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			all, problems, _, err := e.loadRules(rf)
			if err != nil {
				return err
			}
			dir, err := os.MkdirTemp("", "trailwatch-ruletest-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			results, err := ruletest.Run(cmd.Context(), all, dir)
			if err != nil {
				return err
			}
			pass, fail, skip := 0, 0, 0
			for _, p := range problems {
				fmt.Fprintf(e.stdout, "FAIL  %s\n", p)
				fail++
			}
			for _, r := range results {
				switch {
				case r.Skipped != "":
					skip++
					fmt.Fprintf(e.stdout, "SKIP  %-45s %s (%s)\n", r.Rule.Ref(), r.Rule.Pos.File, r.Skipped)
				case r.Passed():
					pass++
					if verbose {
						fmt.Fprintf(e.stdout, "ok    %-45s %s\n", r.Rule.Ref(), r.Rule.Pos.File)
					}
				default:
					fail++
					fmt.Fprintf(e.stdout, "FAIL  %-45s %s\n", r.Rule.Ref(), r.Rule.Pos.File)
					for _, f := range r.Failures {
						fmt.Fprintf(e.stdout, "      %s\n", f)
					}
				}
			}
			fmt.Fprintf(e.stdout, "%d rules passed, %d failed, %d without tests\n", pass, fail, skip)
			if fail > 0 || skip > 0 {
				return &exitError{code: ExitFatal, err: fmt.Errorf("rule tests failed")}
			}
			return nil
		},
	}
	rf.add(cmd)
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "also list the rules that passed")
	return cmd
}

func newRulesLintCmd(e *env) *cobra.Command {
	var rf ruleFlags
	cmd := &cobra.Command{
		Use:   "lint",
		Short: "Check rule files strictly: unknown keys, missing PCI mapping, missing tests, SQL that does not compile",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			all, problems, cfg, err := e.loadRules(rf)
			if err != nil {
				return err
			}
			problems = append(problems, rulefmt.Lint(all)...)
			_, cps := engine.Compile(all, sigma.DuckDB{}, cfg.Params())
			problems = append(problems, cps...)
			problems.Sort()
			for _, p := range problems {
				fmt.Fprintln(e.stdout, p)
			}
			if len(problems) > 0 {
				return &exitError{code: ExitFatal, err: fmt.Errorf("%d problems in %d rules", len(problems), len(all))}
			}
			fmt.Fprintf(e.stdout, "%d rules, no problems\n", len(all))
			return nil
		},
	}
	rf.add(cmd)
	return cmd
}
