package cli

import (
	"bytes"
	"cmp"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/robfig/cron/v3"
	"github.com/spf13/cobra"

	"github.com/trailwatch/trailwatch/internal/alert"
	"github.com/trailwatch/trailwatch/internal/config"
	"github.com/trailwatch/trailwatch/internal/engine"
	"github.com/trailwatch/trailwatch/internal/report"
	"github.com/trailwatch/trailwatch/internal/review"
	"github.com/trailwatch/trailwatch/internal/rulefmt"
	"github.com/trailwatch/trailwatch/internal/serve"
	"github.com/trailwatch/trailwatch/internal/store"
)

// Defaults of the serve and alerts sections.
const (
	defaultListen   = "127.0.0.1:9107"
	defaultInterval = 5 * time.Minute
	defaultSchedule = "30 6 * * *"
	defaultLevel    = "high"
)

func newServeCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run continuously: poll the sources, alert within a poll of new logs, review every day",
		Long: `serve is one long-running process. Every serve.poll_interval (default 5m) it lists today's and
yesterday's folders of each configured source, ingests the new files, runs the rules over the new events and
queues an alert for every finding of an alerting rule (alert: true, or alerts.level and above) in a persistent
outbox; the dispatcher delivers the outbox to the configured channels (e-mail, Slack, SNS, webhook, file) with
retries, deduplication, rate limits and digests, so that a channel that is down gets every alert once it is
back, and a restart, even after kill -9, loses nothing and sends nothing twice under the alert's idempotency
key. At serve.review_schedule (cron, in review.time_zone; default 06:30) it reviews the day before into the
evidence folder and sends the summary.

/healthz, /readyz and /metrics (Prometheus) listen on serve.listen (default 127.0.0.1:9107). SIGTERM or
Ctrl-C stops it cleanly: the step in progress finishes or is abandoned safely and resumed at the next start.`,
		Example: `  trailwatch config example > trailwatch.yaml   # edit it
  trailwatch config check
  trailwatch alert test
  trailwatch serve --config trailwatch.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return e.serve(cmd.Context()) },
	}
}

func (e *env) serve(ctx context.Context) error {
	set, cfg, err := e.compileRules(ruleFlags{})
	if err != nil {
		return err
	}
	if len(cfg.Sources) == 0 {
		return usageErr("serve: the configuration names no sources (sources: - location: s3://… or a folder)")
	}
	log := slog.New(slog.NewTextHandler(e.stderr, nil))
	loc, err := cfg.Review.Location()
	if err != nil {
		return err
	}
	sinks, err := openSinks(cfg)
	if err != nil {
		return err
	}
	outboxPath := cfg.Resolve(cfg.Serve.Outbox)
	if cfg.Serve.Outbox == "" {
		outboxPath = filepath.Join(filepath.Dir(e.db), "trailwatch-outbox.db")
	}
	box, err := alert.OpenOutbox(outboxPath, alert.OutboxOptions{})
	if err != nil {
		return err
	}
	defer box.Close()
	if n := len(box.Resumed()); n > 0 {
		log.Warn("resuming alerts interrupted mid-send (same idempotency keys)", "count", n)
	}
	disp, err := alert.NewDispatcher(dispatcherOptions(cfg, box, sinks, log))
	if err != nil {
		return err
	}
	srcs, err := openSources(ctx, cfg)
	if err != nil {
		return err
	}
	var sources []serve.Source
	for _, src := range srcs {
		sources = append(sources, serve.Source{Source: src})
	}
	spec := cmp.Or(cfg.Serve.ReviewSchedule, defaultSchedule)
	sched, err := cron.ParseStandard(spec)
	if err != nil {
		return fmt.Errorf("serve: review_schedule %q: %w", spec, err)
	}
	interval := cmp.Or(cfg.Serve.PollInterval, defaultInterval)
	metrics := serve.NewMetrics()
	registerDeliveryMetrics(metrics.Registry, disp)
	srv, err := serve.New(serve.Options{
		Open: func(ctx context.Context) (*store.Store, error) {
			return store.Open(ctx, e.db, store.Options{LockWait: e.lockWait, MemoryLimit: e.memoryLimit})
		},
		Sources:  sources,
		Rules:    set,
		Interval: interval,
		Alerting: alerting(cfg),
		Enrich: func(a *alert.Alert) {
			a.AccountAlias = cfg.Alerts.AccountAliases[a.Account]
		},
		Notifier: &outboxNotifier{box: box, disp: disp, route: router(cfg)},
		Review: func(ctx context.Context, at time.Time) (alert.Alert, error) {
			day := at.In(loc).AddDate(0, 0, -1).Format("2006-01-02")
			dir, rv, err := e.runReview(ctx, reviewFlags{date: day, quiet: true}, at)
			if errors.Is(err, errSealed) {
				log.Info("daily review already written", "day", day)
				return alert.Alert{}, nil
			}
			if err != nil {
				metrics.Reviews.WithLabelValues("failed").Inc()
				return alert.Alert{}, err
			}
			metrics.Reviews.WithLabelValues("ok").Inc()
			log.Info("daily review written", "day", day, "bundle", dir, "findings", len(rv.Findings))
			return summaryAlert(rv, dir)
		},
		Schedule: inZone{sched, loc},
		Logger:   log,
		Metrics:  metrics,
	})
	if err != nil {
		return err
	}

	listen := cmp.Or(cfg.Serve.Listen, defaultListen)
	handler, err := metricsAuth(srv.Handler(), cfg.Serve.MetricsToken)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("serve: listen %s: %w", listen, err)
	}
	httpSrv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	log.Info("trailwatch serve", "version", Version, "listen", ln.Addr().String(), "sources", len(sources),
		"channels", len(sinks), "poll_interval", interval, "review_schedule", spec, "time_zone", loc.String(), "outbox", outboxPath)
	httpDone := make(chan error, 1)
	go func() { httpDone <- httpSrv.Serve(ln) }()
	dispDone := make(chan error, 1)
	go func() { dispDone <- disp.Run(ctx) }()

	runErr := srv.Run(ctx)
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = httpSrv.Shutdown(shutdown)
	<-httpDone
	dispErr := <-dispDone
	log.Info("trailwatch serve stopped")
	if errors.Is(dispErr, context.Canceled) {
		dispErr = nil
	}
	return errors.Join(runErr, dispErr)
}

// inZone evaluates a cron schedule in the review time zone.
type inZone struct {
	s   cron.Schedule
	loc *time.Location
}

func (z inZone) Next(t time.Time) time.Time { return z.s.Next(t.In(z.loc)) }

// alerting says which rules alert: those marked alert: true, and those at or above alerts.level.
func alerting(cfg *config.Config) func(*engine.Rule) bool {
	least := rulefmt.LevelRank(cmp.Or(cfg.Alerts.Level, defaultLevel))
	return func(r *engine.Rule) bool { return r.Alerts() || rulefmt.LevelRank(r.Level) >= least }
}

// router returns the channels an alert goes to: the first matching route's, or every channel; the daily
// summary goes to alerts.summary (default every channel).
func router(cfg *config.Config) func(alert.Alert) []string {
	var all []string
	for _, c := range cfg.Alerts.Channels {
		all = append(all, c.Name)
	}
	return func(a alert.Alert) []string {
		if a.Kind == "summary" {
			if len(cfg.Alerts.Summary) > 0 {
				return cfg.Alerts.Summary
			}
			return all
		}
		if len(cfg.Alerts.Routes) == 0 {
			return all
		}
		for _, r := range cfg.Alerts.Routes {
			if (len(r.Rules) == 0 || slices.Contains(r.Rules, a.Rule) || slices.Contains(r.Rules, a.RuleID)) &&
				(len(r.Levels) == 0 || slices.Contains(r.Levels, a.Level)) &&
				(len(r.Accounts) == 0 || slices.Contains(r.Accounts, a.Account)) {
				return r.Channels
			}
		}
		return nil
	}
}

// outboxNotifier queues alerts durably and wakes the dispatcher.
type outboxNotifier struct {
	box   *alert.Outbox
	disp  *alert.Dispatcher
	route func(alert.Alert) []string
}

func (n *outboxNotifier) Notify(_ context.Context, as []alert.Alert) error {
	if _, err := n.box.Enqueue(as, n.route); err != nil {
		return err
	}
	n.disp.Kick()
	return nil
}

// openSinks builds a sink per configured channel.
func openSinks(cfg *config.Config) (map[string]alert.Sink, error) {
	sinks := map[string]alert.Sink{}
	for _, c := range cfg.Alerts.Channels {
		var s alert.Sink
		var err error
		switch {
		case c.SMTP != nil:
			sc := *c.SMTP
			sc.Name, sc.CAFile = c.Name, resolveIf(cfg, sc.CAFile)
			s, err = alert.NewSMTP(sc)
		case c.Slack != nil:
			sc := *c.Slack
			sc.Name = c.Name
			s, err = alert.NewSlack(sc)
		case c.SNS != nil:
			sc := *c.SNS
			sc.Name = c.Name
			s, err = alert.NewSNS(sc)
		case c.Webhook != nil:
			sc := *c.Webhook
			sc.Name = c.Name
			s, err = alert.NewWebhook(sc)
		case c.File != nil:
			sc := *c.File
			sc.Name = c.Name
			if sc.Path != "-" {
				sc.Path = cfg.Resolve(sc.Path)
			}
			s, err = alert.NewFile(sc)
		}
		if err != nil {
			return nil, fmt.Errorf("channel %s: %w", c.Name, err)
		}
		sinks[c.Name] = s
	}
	return sinks, nil
}

func resolveIf(cfg *config.Config, p string) string {
	if p == "" {
		return ""
	}
	return cfg.Resolve(p)
}

// dispatcherOptions maps the alerts section onto the dispatcher.
func dispatcherOptions(cfg *config.Config, box *alert.Outbox, sinks map[string]alert.Sink, log *slog.Logger) alert.DispatcherOptions {
	a := cfg.Alerts
	o := alert.DispatcherOptions{Outbox: box, Sinks: sinks, Logger: log, DedupeWindow: time.Hour, DigestOver: 10,
		RatePerMinute: map[string]int{}, Retention: 30 * 24 * time.Hour, ShutdownGrace: 5 * time.Second, MaxAge: 72 * time.Hour}
	if a.DedupeWindow != nil {
		o.DedupeWindow = *a.DedupeWindow
	}
	if a.DigestOver != nil {
		o.DigestOver = *a.DigestOver
	}
	rate := 30
	if a.RatePerMinute != nil {
		rate = *a.RatePerMinute
	}
	for name := range sinks {
		o.RatePerMinute[name] = rate
	}
	return o
}

// summaryAlert is the daily review's summary as an alert; its key names the day, so a review run again
// for the same day does not send the summary twice.
func summaryAlert(rv *review.Review, dir string) (alert.Alert, error) {
	s := report.NewSummary(rv)
	var text, html bytes.Buffer
	if err := report.SummaryText(&text, s); err != nil {
		return alert.Alert{}, err
	}
	fmt.Fprintf(&text, "\nEvidence bundle: %s\n", dir)
	if err := report.SummaryHTML(&html, s); err != nil {
		return alert.Alert{}, err
	}
	return alert.Alert{Key: "summary/" + rv.Window.Label, Kind: "summary", Time: rv.Window.Since, Subject: s.Subject,
		Text: text.String(), HTML: html.String()}, nil
}

// metricsAuth requires the bearer token on /metrics when one is configured.
func metricsAuth(h http.Handler, token alert.Secret) (http.Handler, error) {
	if token.IsZero() {
		return h, nil
	}
	want, err := token.Value()
	if err != nil {
		return nil, fmt.Errorf("serve.metrics_token: %w", err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/metrics" {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="trailwatch"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
		}
		h.ServeHTTP(w, r)
	}), nil
}

// registerDeliveryMetrics exposes the dispatcher's counters and the outbox's gauges.
func registerDeliveryMetrics(reg *prometheus.Registry, d *alert.Dispatcher) {
	metric := func(name, help string, typ prometheus.ValueType, value func(alert.Stats) float64) deliveryMetric {
		return deliveryMetric{desc: prometheus.NewDesc(name, help, nil, nil), typ: typ, value: value}
	}
	counter, gauge := prometheus.CounterValue, prometheus.GaugeValue
	reg.MustRegister(&deliveryCollector{d: d, metrics: []deliveryMetric{
		metric("trailwatch_alerts_sent_total", "Messages the channels accepted (a digest counts once).", counter, func(s alert.Stats) float64 { return float64(s.Sent) }),
		metric("trailwatch_alerts_failed_total", "Alerts that failed for good (see the logs).", counter, func(s alert.Stats) float64 { return float64(s.Failed) }),
		metric("trailwatch_alert_retries_total", "Transient delivery failures scheduled for another attempt.", counter, func(s alert.Stats) float64 { return float64(s.Retried) }),
		metric("trailwatch_alerts_deduplicated_total", "Alerts recorded as duplicates within the dedupe window and not sent.", counter, func(s alert.Stats) float64 { return float64(s.Deduplicated) }),
		metric("trailwatch_outbox_pending", "Alerts waiting for delivery.", gauge, func(s alert.Stats) float64 { return float64(s.Pending) }),
		metric("trailwatch_outbox_oldest_pending_seconds", "Age of the oldest alert waiting for delivery.", gauge, func(s alert.Stats) float64 { return s.OldestPending.Seconds() }),
	}})
}

// deliveryCollector reads the dispatcher's Stats, which reads the outbox file, once per scrape for all
// its metrics.
type deliveryCollector struct {
	d       *alert.Dispatcher
	metrics []deliveryMetric
}

type deliveryMetric struct {
	desc  *prometheus.Desc
	typ   prometheus.ValueType
	value func(alert.Stats) float64
}

func (c *deliveryCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range c.metrics {
		ch <- m.desc
	}
}

func (c *deliveryCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.d.Stats()
	for _, m := range c.metrics {
		ch <- prometheus.MustNewConstMetric(m.desc, m.typ, m.value(st))
	}
}
