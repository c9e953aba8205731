package serve_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/trailwatch/trailwatch/internal/alert"
	"github.com/trailwatch/trailwatch/internal/engine"
	"github.com/trailwatch/trailwatch/internal/generate"
	"github.com/trailwatch/trailwatch/internal/serve"
	"github.com/trailwatch/trailwatch/internal/sigma"
	"github.com/trailwatch/trailwatch/internal/source"
	"github.com/trailwatch/trailwatch/internal/store"
	"github.com/trailwatch/trailwatch/rules"
)

// notifier records the alerts queued, by key, and says when one arrives.
type notifier struct {
	mu     sync.Mutex
	byKey  map[string]alert.Alert
	queued int
}

func (n *notifier) Notify(_ context.Context, as []alert.Alert) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.byKey == nil {
		n.byKey = map[string]alert.Alert{}
	}
	for _, a := range as {
		n.queued++
		n.byKey[a.Key] = a
	}
	return nil
}

func (n *notifier) queuedCount() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.queued
}

func (n *notifier) find(pred func(alert.Alert) bool) []alert.Alert {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []alert.Alert
	for _, a := range n.byKey {
		if pred(a) {
			out = append(out, a)
		}
	}
	return out
}

// clock is a fake clock the server's Wait advances: a day of polls runs in milliseconds.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *clock) advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

func library(t *testing.T) *engine.Set {
	t.Helper()
	set, err := rules.Builtin(sigma.DuckDB{}, sigma.DefaultParams())
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// Logs arrive in two steps (the first day, then the second); each poll alerts on what is new, a finding is
// queued once however many polls see it, and the daily review runs at its scheduled time on the fake clock.
func TestServePollsAlertsAndReviewsOnSchedule(t *testing.T) {
	gen := t.TempDir()
	end := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	if _, err := generate.Run(context.Background(), generate.Options{Out: gen, Accounts: 2, Regions: 1, Days: 2, End: end, EventsPerDay: 2000, Seed: 5}); err != nil {
		t.Fatal(err)
	}
	// The watched folder gets the first day now, the second day later.
	watched := t.TempDir()
	copyDay := func(day string) {
		t.Helper()
		err := filepath.Walk(gen, func(p string, fi os.FileInfo, err error) error {
			if err != nil || fi.IsDir() || !strings.Contains(filepath.ToSlash(p), "/"+day+"/") {
				return err
			}
			rel, _ := filepath.Rel(gen, p)
			dst := filepath.Join(watched, rel)
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(dst, b, 0o644)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	copyDay("2026/03/01")
	src, err := source.NewLocal(watched)
	if err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "tw.duckdb")
	clk := &clock{now: time.Date(2026, 3, 2, 0, 10, 0, 0, time.UTC)}
	tick := make(chan struct{})
	sched, err := cron.ParseStandard("30 6 * * *")
	if err != nil {
		t.Fatal(err)
	}
	n := &notifier{}
	var reviewMu sync.Mutex
	var reviews []time.Time
	reviewed := func() []time.Time { reviewMu.Lock(); defer reviewMu.Unlock(); return slices.Clone(reviews) }
	steps := make(chan string, 100)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := serve.New(serve.Options{
		Open:     func(ctx context.Context) (*store.Store, error) { return store.Open(ctx, db, store.Options{}) },
		Sources:  []serve.Source{{Source: src}},
		Rules:    library(t),
		Interval: 30 * time.Minute,
		Alerting: func(r *engine.Rule) bool { return r.Alerts() },
		Notifier: n,
		Review: func(_ context.Context, at time.Time) (alert.Alert, error) {
			reviewMu.Lock()
			reviews = append(reviews, at)
			reviewMu.Unlock()
			return alert.Alert{Key: "summary/" + at.Format("2006-01-02"), Kind: "summary", Subject: "review"}, nil
		},
		Schedule: sched,
		Clock:    clk.Now,
		Wait: func(ctx context.Context, d time.Duration) error {
			select { // the test says when time moves on
			case <-ctx.Done():
				return ctx.Err()
			case <-tick:
			}
			clk.advance(d)
			return nil
		},
		After: func(step string, err error) {
			if err != nil {
				t.Errorf("%s: %v", step, err)
			}
			steps <- step
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	h := httptest.NewServer(srv.Handler())
	defer h.Close()
	if code := get(t, h.URL+"/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz before the first poll: %d", code)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()

	// First poll: day 1 is ingested.
	if s := <-steps; s != "poll" {
		t.Fatalf("first step %s", s)
	}
	if code := get(t, h.URL+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz after the first poll: %d", code)
	}
	rootAlerts := func() []alert.Alert {
		return n.find(func(a alert.Alert) bool { return a.Kind == "finding" && a.Rule == "root_console_login" })
	}
	if len(rootAlerts()) != 0 {
		t.Fatal("a root sign-in alert before its logs arrived")
	}
	// The second day's logs (with the planted root sign-in) arrive: the very next poll alerts.
	copyDay("2026/03/02")
	tick <- struct{}{}
	if s := <-steps; s != "poll" {
		t.Fatalf("step after the new files: %s", s)
	}
	if len(rootAlerts()) != 1 {
		t.Fatalf("the poll after the files arrived queued %d root sign-in alerts, want 1", len(rootAlerts()))
	}
	queuedAfter := n.queuedCount()
	// The polls go on (the fake clock runs) until the review at 06:30 has ended (its summary queued: the
	// Review hook returns before the summary is sent); later polls see nothing new.
	for ended := false; !ended; {
		select {
		case tick <- struct{}{}:
		case s := <-steps:
			ended = s == "review"
		case <-ctx.Done():
			t.Fatal("no review before the timeout")
		}
	}
	if n.queuedCount() != queuedAfter+1 { // the summary only
		t.Errorf("polls without new files queued %d alerts", n.queuedCount()-queuedAfter-1)
	}
	cancel()
	<-done
	if got := reviewed()[0]; got.Format("15:04") != "06:30" || got.Format("2006-01-02") != "2026-03-02" {
		t.Errorf("review ran at %s, want 2026-03-02 06:30", got)
	}
	for _, a := range n.find(func(a alert.Alert) bool { return a.Kind == "finding" }) {
		if a.Key == "" || !strings.HasPrefix(a.Link, "https://") || a.Level == "" || a.Account == "" {
			t.Errorf("alert %+v", a)
		}
	}
	if len(n.find(func(a alert.Alert) bool { return a.Kind == "summary" })) != 1 {
		t.Errorf("summary not queued")
	}
	body := getBody(t, h.URL+"/metrics")
	for _, m := range []string{"trailwatch_files_total", "trailwatch_events_added_total", "trailwatch_log_lag_seconds", "trailwatch_rule_run_seconds", "trailwatch_alerts_queued_total"} {
		if !strings.Contains(body, m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
}

func get(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func getBody(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
