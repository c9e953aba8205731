// Package serve is trailwatch's long-running process: it polls the sources, ingests new log files, runs the
// rules over the new events and hands the alerts to a Notifier (the outbox), runs the daily review on a
// schedule, and serves /healthz, /readyz and /metrics. Every dependency comes in through Options, the clock
// included, so that tests drive a day in milliseconds.
package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/trailwatch/trailwatch/internal/alert"
	"github.com/trailwatch/trailwatch/internal/engine"
	"github.com/trailwatch/trailwatch/internal/review"
	"github.com/trailwatch/trailwatch/internal/source"
	"github.com/trailwatch/trailwatch/internal/store"
)

// Notifier takes alerts for delivery. The outbox implements it: once Notify returns, the alerts are
// durably queued.
type Notifier interface {
	Notify(ctx context.Context, alerts []alert.Alert) error
}

// Schedule says when the daily review runs next (robfig/cron's Schedule satisfies it).
type Schedule interface {
	Next(time.Time) time.Time
}

// Source is one place to poll.
type Source struct {
	Source source.Source
	// Filter narrows each poll (accounts, regions); Since and Until are set by the poll.
	Filter source.Filter
}

// Options are what a Server needs.
type Options struct {
	// Open opens the store for writing; the server opens it for each poll and closes it after, so other
	// trailwatch commands can use the store in between.
	Open    func(ctx context.Context) (*store.Store, error)
	Sources []Source
	Rules   *engine.Set
	// Interval is the time between polls.
	Interval time.Duration
	// Lookback is how far before the oldest new event the rules look, so that threshold rules see the
	// events before it; default: the longest correlation timespan, at least 15 minutes.
	Lookback time.Duration
	// Alerting says which rules alert (rules with alert: true, or at or above the configured level).
	Alerting func(*engine.Rule) bool
	// Enrich completes an alert (account alias, link); may be nil.
	Enrich   func(*alert.Alert)
	Notifier Notifier
	// Review runs the review of the day before `at` and returns the summary to send (none when its Key is
	// empty, e.g. the day was already reviewed); nil disables it.
	Review   func(ctx context.Context, at time.Time) (alert.Alert, error)
	Schedule Schedule
	// Clock and Wait are the time source and the way to wait for the next step (tests replace them).
	Clock func() time.Time
	Wait  func(ctx context.Context, d time.Duration) error
	// After, if set, is called after each poll and each review (tests wait on it).
	After   func(step string, err error)
	Logger  *slog.Logger
	Metrics *Metrics
}

// Server is a running serve process.
type Server struct {
	o     Options
	ready atomic.Bool
}

// New checks the options and returns a server.
func New(o Options) (*Server, error) {
	if o.Open == nil || o.Rules == nil || o.Notifier == nil || o.Alerting == nil {
		return nil, errors.New("serve: Open, Rules, Notifier and Alerting are required")
	}
	if o.Interval <= 0 {
		return nil, errors.New("serve: the poll interval must be positive")
	}
	if o.Review != nil && o.Schedule == nil {
		return nil, errors.New("serve: a review needs a schedule")
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Wait == nil {
		o.Wait = func(ctx context.Context, d time.Duration) error {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-t.C:
				return nil
			}
		}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics()
	}
	if o.Lookback <= 0 {
		o.Lookback = 15 * time.Minute
		for _, r := range o.Rules.Rules {
			if r.Correlation != nil && r.Correlation.Timespan > o.Lookback {
				o.Lookback = r.Correlation.Timespan
			}
		}
	}
	return &Server{o: o}, nil
}

// Ready reports whether the first poll finished (for /readyz).
func (s *Server) Ready() bool { return s.ready.Load() }

// Run polls and reviews until ctx is done. A step in progress when ctx ends is finished or, for the
// ingest, abandoned safely (an interrupted batch is not committed, and the next start reads it again).
func (s *Server) Run(ctx context.Context) error {
	o := s.o
	nextPoll := o.Clock()
	var nextReview time.Time
	if o.Review != nil {
		nextReview = o.Schedule.Next(o.Clock())
		o.Logger.Info("daily review scheduled", "next", nextReview)
	}
	for {
		now := o.Clock()
		if !now.Before(nextPoll) {
			err := s.poll(ctx, now)
			s.step("poll", err)
			if ctx.Err() != nil {
				return nil
			}
			nextPoll = now.Add(o.Interval)
		}
		if o.Review != nil && !now.Before(nextReview) {
			err := s.review(ctx, now)
			s.step("review", err)
			if ctx.Err() != nil {
				return nil
			}
			nextReview = o.Schedule.Next(now)
			o.Logger.Info("daily review scheduled", "next", nextReview)
		}
		wake := nextPoll
		if o.Review != nil && nextReview.Before(wake) {
			wake = nextReview
		}
		if err := o.Wait(ctx, wake.Sub(o.Clock())); err != nil {
			return nil
		}
	}
}

func (s *Server) step(name string, err error) {
	if err != nil && !errors.Is(err, context.Canceled) {
		s.o.Logger.Error(name+" failed", "err", err)
	}
	if s.o.After != nil {
		s.o.After(name, err)
	}
}

// poll ingests what is new in every source and alerts on it.
func (s *Server) poll(ctx context.Context, now time.Time) error {
	o := s.o
	start := time.Now()
	st, err := o.Open(ctx)
	if err != nil {
		return fmt.Errorf("poll: %w", err)
	}
	defer st.Close()
	var added int64
	var errs []error
	for _, src := range o.Sources {
		f := src.Filter
		// Today's and yesterday's prefixes: CloudTrail delivers a file up to about 15 minutes after its
		// period, so just after midnight yesterday's folder still receives files.
		f.Since = now.UTC().Truncate(24*time.Hour).AddDate(0, 0, -1)
		f.Until = now.UTC()
		sum, err := st.Ingest(ctx, src.Source, store.IngestOptions{Filter: f})
		o.Metrics.observeIngest(src.Source.String(), sum)
		if err != nil {
			errs = append(errs, fmt.Errorf("poll %s: %w", src.Source, err))
			continue
		}
		if sum.Failed > 0 {
			o.Logger.Warn("files failed", "source", src.Source.String(), "failed", sum.Failed)
		}
		if sum.Added > 0 {
			o.Logger.Info("ingested", "source", src.Source.String(), "files", sum.Read, "events", sum.Added)
		}
		added += sum.Added
	}
	if err := o.Metrics.observeLag(ctx, st.DB, o.Clock()); err != nil {
		errs = append(errs, err)
	}
	if added > 0 {
		if err := s.detect(ctx, st, start); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		s.ready.Store(true)
	}
	return errors.Join(errs...)
}

// detect runs the rules over the events ingested since `since` (and the lookback before them) and hands
// the alerting findings to the notifier. A finding seen in an earlier poll has the same key: the outbox
// does not queue it twice.
func (s *Server) detect(ctx context.Context, st *store.Store, since time.Time) error {
	o := s.o
	var oldest, newest *time.Time
	err := st.DB.QueryRowContext(ctx, `SELECT min(event_time), max(event_time) FROM cloudtrail_logs
		WHERE source_object IN (SELECT uri FROM tw_files WHERE ingested_at >= ?)`, since).Scan(&oldest, &newest)
	if err != nil {
		return fmt.Errorf("detect: new events: %w", err)
	}
	if oldest == nil {
		return nil
	}
	started := time.Now()
	findings, _, err := o.Rules.Detect(ctx, st.DB, engine.Options{Since: oldest.Add(-o.Lookback), Until: newest.Add(time.Second)})
	o.Metrics.RuleRun.Observe(time.Since(started).Seconds())
	if err != nil {
		return fmt.Errorf("detect: %w", err)
	}
	var alerts []alert.Alert
	for i := range findings {
		f := &findings[i]
		if !o.Alerting(f.Rule) {
			continue
		}
		a := FromFinding(f)
		if o.Enrich != nil {
			o.Enrich(&a)
		}
		alerts = append(alerts, a)
	}
	if len(alerts) == 0 {
		return nil
	}
	if err := o.Notifier.Notify(ctx, alerts); err != nil {
		return fmt.Errorf("detect: queue %d alerts: %w", len(alerts), err)
	}
	o.Metrics.Alerts.Add(float64(len(alerts)))
	return nil
}

// review runs the daily review and queues its summary.
func (s *Server) review(ctx context.Context, now time.Time) error {
	a, err := s.o.Review(ctx, now)
	if err != nil {
		return fmt.Errorf("review: %w", err)
	}
	if a.Key == "" {
		return nil
	}
	return s.o.Notifier.Notify(ctx, []alert.Alert{a})
}

// FromFinding makes the alert of a finding; its key is the finding's id in every review bundle.
func FromFinding(f *engine.Finding) alert.Alert {
	r := f.Rule
	return alert.Alert{Key: "finding/" + review.FindingID(f), Kind: "finding", Rule: r.Ref(), RuleID: r.ID, Title: r.Title,
		Level: r.Level, PCIv4: r.PCI.V4, PCIv321: r.PCI.V321, Time: f.Time, Account: f.Account, Region: f.Region,
		Principal: f.Principal, SourceIP: f.SourceIP, EventSource: f.EventSource, EventName: f.EventName,
		EventID: f.EventID, ErrorCode: f.ErrorCode, UserAgent: f.UserAgent, Count: f.Count, Link: ConsoleLink(f.Region, f.EventID)}
}

// ConsoleLink is the AWS console page of a CloudTrail event ("" without an event id).
func ConsoleLink(region, eventID string) string {
	if eventID == "" || region == "" {
		return ""
	}
	return "https://" + url.PathEscape(region) + ".console.aws.amazon.com/cloudtrailv2/home?region=" + url.QueryEscape(region) +
		"#/events/" + url.PathEscape(eventID)
}
