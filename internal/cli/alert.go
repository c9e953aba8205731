package cli

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/trailwatch/trailwatch/internal/alert"
	"github.com/trailwatch/trailwatch/internal/config"
)

func newAlertCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "alert", Short: "Work with the alert channels"}
	test := &cobra.Command{
		Use:   "test",
		Short: "Send a test message through each configured channel and say which worked",
		Long: `alert test sends one test message straight through each channel of the configuration's alerts section
(not through the outbox), and prints OK or the error for each. The exit status is 1 when any channel failed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := e.loadConfig()
			if err != nil {
				return err
			}
			if len(cfg.Alerts.Channels) == 0 {
				return usageErr("alert test: the configuration has no alerts.channels")
			}
			sinks, err := openSinks(cfg)
			if err != nil {
				return err
			}
			now := time.Now().UTC()
			a := alert.Alert{Key: "test/" + now.Format("20060102T150405.000000000Z"), Kind: "test", Time: now,
				Subject: "trailwatch test message",
				Text:    "This is a test message from trailwatch alert test, sent at " + now.Format(time.RFC3339) + ". If you read it, the channel works.",
			}
			names := slices.Sorted(maps.Keys(sinks))
			failed := 0
			for _, n := range names {
				ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
				err := sinks[n].Send(ctx, a)
				cancel()
				if err != nil {
					failed++
					fmt.Fprintf(e.stdout, "FAIL %s: %v\n", n, err)
					continue
				}
				fmt.Fprintf(e.stdout, "OK   %s\n", n)
			}
			if failed > 0 {
				return &exitError{code: ExitFatal, err: fmt.Errorf("alert test: %d of %d channels failed", failed, len(names))}
			}
			return nil
		},
	}
	cmd.AddCommand(test)
	return cmd
}

func newConfigCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Check the configuration file or print an example"}
	cmd.AddCommand(&cobra.Command{
		Use:   "check [FILE]",
		Short: "Validate a configuration file: every problem with its line",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				e.configPath = args[0]
			}
			cfg, err := e.loadConfig()
			if err != nil {
				return err
			}
			if cfg.Path == "" {
				return usageErr("config check: no configuration file (name one, or use --config, TRAILWATCH_CONFIG or ./%s)", config.DefaultFile)
			}
			if _, _, err := e.compileRules(ruleFlags{}); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%s: ok (%d sources, %d channels, %d routes)\n", cfg.Path, len(cfg.Sources), len(cfg.Alerts.Channels), len(cfg.Alerts.Routes))
			return nil
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "example",
		Short: "Print a commented example configuration",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprint(e.stdout, config.Example)
			return err
		},
	})
	return cmd
}
