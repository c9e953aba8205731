package serve

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/trailwatch/trailwatch/internal/store"
)

// Metrics are what /metrics exposes. Delivery figures come from the outbox through Delivery.
type Metrics struct {
	Registry *prometheus.Registry
	Files    *prometheus.CounterVec // by source and outcome
	Events   *prometheus.CounterVec // by source
	Lag      prometheus.Gauge
	RuleRun  prometheus.Histogram
	Alerts   prometheus.Counter
	Reviews  *prometheus.CounterVec // by outcome
}

// NewMetrics registers trailwatch's metrics in a registry of their own.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Files: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "trailwatch_files_total",
			Help: "CloudTrail log files handled by the polls, by source and outcome (read, unchanged, failed)."}, []string{"source", "outcome"}),
		Events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "trailwatch_events_added_total",
			Help: "Events added to the store, by source."}, []string{"source"}),
		Lag: prometheus.NewGauge(prometheus.GaugeOpts{Name: "trailwatch_log_lag_seconds",
			Help: "How far the newest event in the store is behind the clock."}),
		RuleRun: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "trailwatch_rule_run_seconds",
			Help: "Time to run the rule library over newly ingested events.", Buckets: prometheus.ExponentialBuckets(0.05, 2, 10)}),
		Alerts: prometheus.NewCounter(prometheus.CounterOpts{Name: "trailwatch_alerts_queued_total",
			Help: "Alerts handed to the outbox (a finding already queued is not queued again)."}),
		Reviews: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "trailwatch_reviews_total",
			Help: "Daily reviews run, by outcome."}, []string{"outcome"}),
	}
	m.Registry.MustRegister(m.Files, m.Events, m.Lag, m.RuleRun, m.Alerts, m.Reviews,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *Metrics) observeIngest(src string, s store.Summary) {
	m.Files.WithLabelValues(src, "read").Add(float64(s.Read))
	m.Files.WithLabelValues(src, "unchanged").Add(float64(s.Unchanged))
	m.Files.WithLabelValues(src, "failed").Add(float64(s.Failed))
	m.Events.WithLabelValues(src).Add(float64(s.Added))
}

func (m *Metrics) observeLag(ctx context.Context, db *sql.DB, now time.Time) error {
	var newest *time.Time
	if err := db.QueryRowContext(ctx, "SELECT max(event_time) FROM cloudtrail_logs").Scan(&newest); err != nil {
		return fmt.Errorf("metrics: newest event: %w", err)
	}
	if newest != nil {
		m.Lag.Set(now.Sub(*newest).Seconds())
	}
	return nil
}

// Handler serves /healthz (the process runs), /readyz (the first poll succeeded) and /metrics.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !s.Ready() {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "not ready: the first poll has not succeeded yet")
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.o.Metrics.Registry, promhttp.HandlerOpts{}))
	return mux
}
