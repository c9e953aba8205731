package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// recordingSink records what it is sent; fail, when set, decides each send's error (n counts calls from 1).
type recordingSink struct {
	mu   sync.Mutex
	sent []Alert
	fail func(a Alert, n int) error
}

var _ Sink = (*recordingSink)(nil)

func (s *recordingSink) Name() string { return "fake" }

func (s *recordingSink) Send(_ context.Context, a Alert) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, a)
	if s.fail != nil {
		return s.fail(a, len(s.sent))
	}
	return nil
}

func (s *recordingSink) keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, a := range s.sent {
		out = append(out, a.Key)
	}
	return out
}

var errTestUnavailable = errors.New("503 Service Unavailable")

// exactBackoff is a Backoff that makes delays exact: 5 s doubling to 15 min.
var exactBackoff = Backoff{Min: 5 * time.Second, Max: 15 * time.Minute}

func newTestDispatcher(t *testing.T, box *Outbox, clock *dispatchClock, opts DispatcherOptions) *Dispatcher {
	t.Helper()
	opts.Outbox, opts.Clock = box, clock.Now
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	d, err := NewDispatcher(opts)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func mustRunOnce(t *testing.T, d *Dispatcher) time.Time {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	next, err := d.RunOnce(ctx)
	if err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	return next
}

// runUntilIdle runs rounds, setting the clock to each next due time RunOnce returns, until nothing is
// pending, and returns the waits between rounds. It fails the test if a next time is not ahead of the
// clock, or if entries are still pending after maxRounds.
func runUntilIdle(t *testing.T, d *Dispatcher, clock *dispatchClock, maxRounds int) []time.Duration {
	t.Helper()
	var waits []time.Duration
	for next := mustRunOnce(t, d); !next.IsZero(); next = mustRunOnce(t, d) {
		if len(waits) == maxRounds {
			t.Fatalf("still pending after %d rounds", maxRounds)
		}
		if !next.After(clock.Now()) {
			t.Fatalf("RunOnce returned next %s, not after now %s", next, clock.Now())
		}
		waits = append(waits, next.Sub(clock.Now()))
		clock.Set(next)
	}
	return waits
}

func mustEntry(t *testing.T, box *Outbox, channel, key string) Entry {
	t.Helper()
	e, ok, err := box.Get(channel, key)
	if err != nil || !ok {
		t.Fatalf("Get %s/%s = %v, %v", channel, key, ok, err)
	}
	return e
}

func mustEnqueue(t *testing.T, box *Outbox, route func(Alert) []string, alerts ...Alert) {
	t.Helper()
	if _, err := box.Enqueue(alerts, route); err != nil {
		t.Fatal(err)
	}
}

func TestBackoffDelay(t *testing.T) {
	b := exactBackoff
	for attempts, want := range map[int]time.Duration{
		1: 5 * time.Second, 2: 10 * time.Second, 3: 20 * time.Second, 8: 640 * time.Second,
		9: 15 * time.Minute, 10: 15 * time.Minute, 1000: 15 * time.Minute,
	} {
		if got := b.Delay(attempts); got != want {
			t.Errorf("Delay(%d) = %s, want %s", attempts, got, want)
		}
	}
	b.Jitter = 0.2
	for _, r := range []float64{0, 0.5, 0.999999} {
		b.Rand = func() float64 { return r }
		got := b.Delay(2)
		if want := 10*time.Second - time.Duration(float64(10*time.Second)*0.2*r); got != want {
			t.Errorf("Delay(2) with r=%v = %s, want %s", r, got, want)
		}
	}
	b.Rand = nil
	for range 100 {
		if got := b.Delay(3); got <= 16*time.Second || got > 20*time.Second {
			t.Fatalf("Delay(3) with 20%% jitter = %s, want in (16s, 20s]", got)
		}
	}
}

func TestRetryWithBackoffPausesTheChannel(t *testing.T) {
	clock := newDispatchClock()
	t0 := clock.Now()
	box := openTestOutbox(t, filepath.Join(t.TempDir(), "outbox.db"), clock)
	sink := &recordingSink{fail: func(a Alert, n int) error {
		if n <= 2 {
			return fmt.Errorf("post: %w", errTestUnavailable)
		}
		return nil
	}}
	d := newTestDispatcher(t, box, clock, DispatcherOptions{Sinks: map[string]Sink{"hook": sink}, Backoff: exactBackoff})
	mustEnqueue(t, box, routeTo("hook"), testFinding("k1", "r1", "a", "1"), testFinding("k2", "r2", "b", "1"))

	if next := mustRunOnce(t, d); !next.Equal(t0.Add(5 * time.Second)) {
		t.Fatalf("after the first failure next = %s, want t0+5s", next.Sub(t0))
	}
	if got := sink.keys(); !slices.Equal(got, []string{"k1"}) {
		t.Fatalf("sends %v: a channel that just failed gets no more sends this round", got)
	}
	e := mustEntry(t, box, "hook", "k1")
	if e.State != StatePending || e.Attempts != 1 || !strings.Contains(e.LastError, "503") || !e.NextAttempt.Equal(t0.Add(5*time.Second)) {
		t.Fatalf("k1 after failure: %+v", e)
	}
	clock.Advance(time.Second)
	if next := mustRunOnce(t, d); !next.Equal(t0.Add(5*time.Second)) || len(sink.keys()) != 1 {
		t.Fatalf("before the retry is due: next %s, %d sends; want t0+5s, 1", next.Sub(t0), len(sink.keys()))
	}
	clock.Set(t0.Add(5 * time.Second))
	if next := mustRunOnce(t, d); !next.Equal(t0.Add(15 * time.Second)) {
		t.Fatalf("after the second failure next = %s, want t0+15s (5s+10s)", next.Sub(t0))
	}
	clock.Set(t0.Add(15 * time.Second))
	if next := mustRunOnce(t, d); !next.IsZero() {
		t.Fatalf("after delivery next = %s, want zero (nothing pending)", next)
	}
	if got := sink.keys(); !slices.Equal(got, []string{"k1", "k1", "k1", "k2"}) {
		t.Fatalf("sends %v, want k1 ×3 then k2", got)
	}
	if e := mustEntry(t, box, "hook", "k1"); e.State != StateSent || e.Attempts != 3 || e.LastError != "" || !e.Sent.Equal(clock.Now()) {
		t.Errorf("k1: %+v", e)
	}
	st := d.Stats()
	if st.Sent != 2 || st.Retried != 2 || st.Failed != 0 || st.Pending != 0 || st.Channels["hook"].Retried != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestRetryAfterFromTheChannelIsHonoured(t *testing.T) {
	clock := newDispatchClock()
	t0 := clock.Now()
	box := openTestOutbox(t, filepath.Join(t.TempDir(), "outbox.db"), clock)
	sink := &recordingSink{fail: func(_ Alert, n int) error {
		switch n {
		case 1:
			return fmt.Errorf("post: %w", &StatusError{Channel: "hook", Code: 429, RetryAfter: 2 * time.Minute})
		case 2:
			return &StatusError{Channel: "hook", Code: 503, RetryAfter: 48 * time.Hour}
		case 3:
			return &StatusError{Channel: "hook", Code: 503, RetryAfter: time.Second}
		}
		return nil
	}}
	d := newTestDispatcher(t, box, clock, DispatcherOptions{Sinks: map[string]Sink{"hook": sink}, Backoff: exactBackoff, MaxAge: -1})
	mustEnqueue(t, box, routeTo("hook"), testFinding("k", "r", "a", "1"))
	waits := runUntilIdle(t, d, clock, 10)
	// 2 min asked (more than the 5 s backoff); 48 h asked, capped at 1 h; 1 s asked, less than the 20 s backoff.
	if want := []time.Duration{2 * time.Minute, time.Hour, 20 * time.Second}; !slices.Equal(waits, want) {
		t.Fatalf("waits %v, want %v", waits, want)
	}
	if e := mustEntry(t, box, "hook", "k"); e.State != StateSent || e.Attempts != 4 || !e.Sent.Equal(t0.Add(time.Hour+140*time.Second)) {
		t.Fatalf("entry %+v", e)
	}
}

func TestPermanentFailureIsKeptAndNotRetried(t *testing.T) {
	clock := newDispatchClock()
	box := openTestOutbox(t, filepath.Join(t.TempDir(), "outbox.db"), clock)
	sink := &recordingSink{fail: func(a Alert, _ int) error {
		if a.Key == "bad" {
			return Permanent(errors.New("400 Bad Request: invalid payload"))
		}
		return nil
	}}
	d := newTestDispatcher(t, box, clock, DispatcherOptions{Sinks: map[string]Sink{"hook": sink}, Backoff: exactBackoff})
	mustEnqueue(t, box, routeTo("hook"), testFinding("bad", "r1", "a", "1"), testFinding("good", "r2", "b", "1"))
	if next := mustRunOnce(t, d); !next.IsZero() {
		t.Fatalf("next = %s, want zero: a permanent failure is not retried", next)
	}
	clock.Advance(time.Hour)
	mustRunOnce(t, d)
	if got := sink.keys(); !slices.Equal(got, []string{"bad", "good"}) {
		t.Fatalf("sends %v, want bad once, then good: a permanent failure does not pause the channel", got)
	}
	failed, err := box.Entries(StateFailed)
	if err != nil {
		t.Fatal(err)
	}
	if len(failed) != 1 || failed[0].Key != "bad" || failed[0].Attempts != 1 || !strings.Contains(failed[0].LastError, "permanent error: 400 Bad Request") {
		t.Fatalf("failed entries %+v", failed)
	}
	if st := d.Stats(); st.Failed != 1 || st.Sent != 1 || st.Retried != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestGiveUpAfterMaxAttemptsOrMaxAge(t *testing.T) {
	down := func(Alert, int) error { return errTestUnavailable }
	t.Run("MaxAttempts", func(t *testing.T) {
		clock := newDispatchClock()
		box := openTestOutbox(t, filepath.Join(t.TempDir(), "outbox.db"), clock)
		sink := &recordingSink{fail: down}
		d := newTestDispatcher(t, box, clock, DispatcherOptions{Sinks: map[string]Sink{"hook": sink}, Backoff: exactBackoff, MaxAttempts: 3})
		mustEnqueue(t, box, routeTo("hook"), testFinding("k", "r", "a", "1"))
		runUntilIdle(t, d, clock, 10)
		e := mustEntry(t, box, "hook", "k")
		if e.State != StateFailed || e.Attempts != 3 || len(sink.keys()) != 3 || !strings.HasPrefix(e.LastError, "3 attempts made: ") {
			t.Fatalf("entry %+v after %d sends; want failed after 3", e, len(sink.keys()))
		}
	})
	t.Run("MaxAge", func(t *testing.T) {
		clock := newDispatchClock()
		t0 := clock.Now()
		box := openTestOutbox(t, filepath.Join(t.TempDir(), "outbox.db"), clock)
		sink := &recordingSink{fail: down}
		d := newTestDispatcher(t, box, clock, DispatcherOptions{Sinks: map[string]Sink{"hook": sink}, Backoff: exactBackoff, MaxAge: time.Minute})
		mustEnqueue(t, box, routeTo("hook"), testFinding("k", "r", "a", "1"))
		runUntilIdle(t, d, clock, 20)
		// Attempts at 0, 5, 15, 35 and 75 s: the one at 75 s is past the minute and gives up.
		e := mustEntry(t, box, "hook", "k")
		if e.State != StateFailed || e.Attempts != 5 || !e.Done.Equal(t0.Add(75*time.Second)) || !strings.HasPrefix(e.LastError, "older than 1m0s: ") {
			t.Fatalf("entry %+v; want failed at the 5th attempt, 75 s in", e)
		}
		if st := d.Stats(); st.Failed != 1 || st.Retried != 4 || st.Pending != 0 {
			t.Errorf("stats %+v", st)
		}
	})
}

func TestDedupeWindow(t *testing.T) {
	clock := newDispatchClock()
	box := openTestOutbox(t, filepath.Join(t.TempDir(), "outbox.db"), clock)
	sink := &recordingSink{}
	d := newTestDispatcher(t, box, clock, DispatcherOptions{Sinks: map[string]Sink{"a": sink, "b": &recordingSink{}}, DedupeWindow: time.Hour})
	summary := Alert{Key: "sum1", Kind: "summary", Title: "daily review"}
	anon := testFinding("anon1", "r1", "", "111")
	anon.SourceIP = "198.51.100.7"
	mustEnqueue(t, box, routeTo("a", "b"),
		testFinding("k1", "r1", "alice", "111"),
		testFinding("k2", "r1", "alice", "111"),                             // same rule, principal and account as k1
		testFinding("k3", "r1", "bob", "111"),                               // other principal
		testFinding("k4", "r1", "alice", "222"),                             // other account
		testFinding("k5", "r2", "alice", "111"),                             // other rule
		summary, Alert{Key: "sum2", Kind: "summary", Title: "daily review"}, // not findings: never deduplicated
		anon,
	)
	mustRunOnce(t, d)
	if got := sink.keys(); !slices.Equal(got, []string{"k1", "k3", "k4", "k5", "sum1", "sum2", "anon1"}) {
		t.Fatalf("sent %v", got)
	}
	if e := mustEntry(t, box, "a", "k2"); e.State != StateDeduplicated || e.DuplicateOf != "k1" || e.Attempts != 0 {
		t.Fatalf("k2: %+v", e)
	}
	if e := mustEntry(t, box, "b", "k2"); e.State != StateDeduplicated {
		t.Fatalf("b/k2 is %s: dedupe applies per channel, and b also got k1", e.State)
	}

	clock.Advance(59 * time.Minute)
	anon2 := testFinding("anon2", "r1", "", "111")
	anon2.SourceIP = "198.51.100.7"
	mustEnqueue(t, box, routeTo("a"), testFinding("k6", "r1", "alice", "111"), anon2)
	mustRunOnce(t, d)
	if e := mustEntry(t, box, "a", "k6"); e.State != StateDeduplicated || e.DuplicateOf != "k1" {
		t.Fatalf("k6 59 min after k1: %+v", e)
	}
	if e := mustEntry(t, box, "a", "anon2"); e.State != StateDeduplicated || e.DuplicateOf != "anon1" {
		t.Fatalf("anon2 (same source IP, no principal): %+v", e)
	}

	clock.Advance(2 * time.Minute)
	mustEnqueue(t, box, routeTo("a"), testFinding("k7", "r1", "alice", "111"))
	mustRunOnce(t, d)
	if e := mustEntry(t, box, "a", "k7"); e.State != StateSent {
		t.Fatalf("k7 61 min after k1 is %s, want sent: the window has passed", e.State)
	}
	if st := d.Stats(); st.Channels["a"].Deduplicated != 3 || st.Channels["b"].Deduplicated != 1 || st.Deduplicated != 4 {
		t.Errorf("stats %+v", st)
	}
}

func TestDedupeClaimReleasedWhenTheFirstFails(t *testing.T) {
	clock := newDispatchClock()
	box := openTestOutbox(t, filepath.Join(t.TempDir(), "outbox.db"), clock)
	sink := &recordingSink{fail: func(a Alert, _ int) error {
		if a.Key == "k1" {
			return Permanent(errors.New("410 Gone"))
		}
		return nil
	}}
	d := newTestDispatcher(t, box, clock, DispatcherOptions{Sinks: map[string]Sink{"a": sink}, DedupeWindow: time.Hour})
	mustEnqueue(t, box, routeTo("a"), testFinding("k1", "r1", "alice", "111"))
	mustRunOnce(t, d)
	clock.Advance(time.Minute)
	mustEnqueue(t, box, routeTo("a"), testFinding("k2", "r1", "alice", "111"))
	mustRunOnce(t, d)
	if e := mustEntry(t, box, "a", "k2"); e.State != StateSent {
		t.Fatalf("k2 is %s: an alert that never arrived must not silence the next one", e.State)
	}
}

func TestRateLimitPerChannel(t *testing.T) {
	clock := newDispatchClock()
	t0 := clock.Now()
	box := openTestOutbox(t, filepath.Join(t.TempDir(), "outbox.db"), clock)
	limited, free := &recordingSink{}, &recordingSink{}
	d := newTestDispatcher(t, box, clock, DispatcherOptions{
		Sinks:         map[string]Sink{"limited": limited, "free": free},
		RatePerMinute: map[string]int{"limited": 2},
	})
	var alerts []Alert
	for i := range 5 {
		alerts = append(alerts, testFinding(fmt.Sprintf("k%d", i), "r", fmt.Sprintf("p%d", i), "1"))
	}
	mustEnqueue(t, box, routeTo("limited", "free"), alerts...)

	next := mustRunOnce(t, d)
	if len(limited.keys()) != 2 || len(free.keys()) != 5 {
		t.Fatalf("first round: %d to limited, %d to free; want 2 (the burst) and 5", len(limited.keys()), len(free.keys()))
	}
	if !next.Equal(t0.Add(time.Minute)) {
		t.Fatalf("next = %s after t0, want 1m (2 per minute)", next.Sub(t0))
	}
	clock.Advance(59 * time.Second)
	if next := mustRunOnce(t, d); len(limited.keys()) != 2 || !next.Equal(t0.Add(time.Minute)) {
		t.Fatalf("at 59s: %d sent, next %s; want still 2, 1m", len(limited.keys()), next.Sub(t0))
	}
	var rounds []string
	for i := 0; i < 10 && !next.IsZero(); i++ {
		clock.Set(next)
		before := len(limited.keys())
		next = mustRunOnce(t, d)
		rounds = append(rounds, fmt.Sprintf("%s:%d", clock.Now().Sub(t0), len(limited.keys())-before))
	}
	if want := []string{"1m0s:2", "2m0s:1"}; !slices.Equal(rounds, want) {
		t.Fatalf("further rounds (time:sent) %v, want %v", rounds, want)
	}
	if got := limited.keys(); !slices.Equal(got, []string{"k0", "k1", "k2", "k3", "k4"}) {
		t.Fatalf("limited channel got %v, want all five in order", got)
	}
}

func TestDigestBatching(t *testing.T) {
	clock := newDispatchClock()
	box := openTestOutbox(t, filepath.Join(t.TempDir(), "outbox.db"), clock)
	failDigestOnce := true
	sink := &recordingSink{fail: func(a Alert, _ int) error {
		if a.Kind == "digest" && failDigestOnce {
			failDigestOnce = false
			return errTestUnavailable
		}
		return nil
	}}
	d := newTestDispatcher(t, box, clock, DispatcherOptions{Sinks: map[string]Sink{"a": sink, "b": &recordingSink{}}, DigestOver: 3, Backoff: exactBackoff})
	var keys []string
	var alerts []Alert
	for i := range 5 {
		a := testFinding(fmt.Sprintf("k%d", i), fmt.Sprintf("r%d", i), "alice", "111")
		a.PCIv4 = []string{fmt.Sprintf("10.2.1.%d", i%2+1)}
		if i == 3 {
			a.Level = "critical"
		}
		alerts = append(alerts, a)
		keys = append(keys, a.Key)
	}
	mustEnqueue(t, box, routeTo("a"), append(alerts, Alert{Key: "sum", Kind: "summary", Title: "daily"})...)
	mustEnqueue(t, box, routeTo("b"), alerts[:3]...) // 3 is not more than DigestOver: sent one by one

	next := mustRunOnce(t, d)
	sent := sink.sent
	if len(sent) != 2 || sent[0].Key != "sum" || sent[1].Kind != "digest" {
		t.Fatalf("channel a got %v, want the summary alone, then one digest", sink.keys())
	}
	dg := sent[1]
	if want := DigestKey(keys); dg.Key != want {
		t.Fatalf("digest key %s, want %s (from the member keys)", dg.Key, want)
	}
	if DigestKey([]string{"k4", "k3", "k2", "k1", "k0"}) != dg.Key {
		t.Error("DigestKey depends on member order")
	}
	if len(dg.Members) != 5 || dg.Count != 5 || dg.Level != "critical" || dg.Account != "111" ||
		!slices.Equal(dg.PCIv4, []string{"10.2.1.1", "10.2.1.2"}) || !strings.Contains(dg.Subject, "5 alerts") {
		t.Fatalf("digest %+v", dg)
	}
	if subject, text, html := Render(dg); subject != dg.Subject || !strings.Contains(text, "rule r3 fired") || strings.Count(html, "<li>") != 5 {
		t.Fatalf("Render(digest) = %q, %q, %q; want the subject and the members listed", subject, text, html)
	}
	for _, k := range keys {
		if e := mustEntry(t, box, "a", k); e.State != StateBatched || e.Digest != dg.Key || e.Attempts != 0 {
			t.Fatalf("member %s: %+v", k, e)
		}
	}
	// The digest failed once; its retry carries the same key.
	clock.Set(next)
	mustRunOnce(t, d)
	if got := sink.keys(); len(got) != 3 || got[2] != dg.Key {
		t.Fatalf("after retry: %v, want the digest again under %s", got, dg.Key)
	}
	if e := mustEntry(t, box, "a", dg.Key); e.State != StateSent || e.Attempts != 2 || e.Alert.Kind != "digest" {
		t.Fatalf("digest entry %+v", e)
	}
	st := d.Stats()
	if st.Channels["a"].Digests != 1 || st.Channels["a"].Batched != 5 || st.Channels["a"].Sent != 2 || st.Channels["b"].Sent != 3 || st.Channels["b"].Digests != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestDigestSplitsAndSkipsAttemptedAlerts(t *testing.T) {
	clock := newDispatchClock()
	box := openTestOutbox(t, filepath.Join(t.TempDir(), "outbox.db"), clock)
	down := true
	sink := &recordingSink{fail: func(Alert, int) error {
		if down {
			return errTestUnavailable
		}
		return nil
	}}
	d := newTestDispatcher(t, box, clock, DispatcherOptions{Sinks: map[string]Sink{"a": sink}, DigestOver: 2, DigestMaxMembers: 3, Backoff: exactBackoff})
	mustEnqueue(t, box, routeTo("a"), testFinding("first", "r", "p", "1"))
	next := mustRunOnce(t, d) // "first" fails once: it has been seen under its own key
	for i := range 7 {
		mustEnqueue(t, box, routeTo("a"), testFinding(fmt.Sprintf("k%d", i), "r", fmt.Sprintf("p%d", i), "1"))
	}
	down = false
	clock.Set(next)
	mustRunOnce(t, d)
	got := sink.sent[1:]
	if len(got) != 4 || got[0].Key != "first" {
		t.Fatalf("sent %v; want first alone, then 7 members in 3 digests", sink.keys())
	}
	var sizes []int
	for _, a := range got[1:] {
		sizes = append(sizes, len(a.Members))
	}
	if !slices.Equal(sizes, []int{2, 2, 3}) {
		t.Errorf("digest sizes %v, want [2 2 3] (7 split evenly under 3)", sizes)
	}
}

func TestNoSinkForChannelFails(t *testing.T) {
	clock := newDispatchClock()
	box := openTestOutbox(t, filepath.Join(t.TempDir(), "outbox.db"), clock)
	d := newTestDispatcher(t, box, clock, DispatcherOptions{Sinks: map[string]Sink{}})
	mustEnqueue(t, box, routeTo("ghost"), testFinding("k", "r", "p", "1"))
	mustRunOnce(t, d)
	if e := mustEntry(t, box, "ghost", "k"); e.State != StateFailed || !strings.Contains(e.LastError, `"ghost"`) {
		t.Fatalf("entry %+v", e)
	}
}

func TestStatsGauges(t *testing.T) {
	clock := newDispatchClock()
	box := openTestOutbox(t, filepath.Join(t.TempDir(), "outbox.db"), clock)
	sink := &recordingSink{}
	d := newTestDispatcher(t, box, clock, DispatcherOptions{Sinks: map[string]Sink{"a": sink}})
	mustEnqueue(t, box, routeTo("a"), testFinding("k1", "r", "p", "1"))
	clock.Advance(10 * time.Minute)
	mustEnqueue(t, box, routeTo("a"), testFinding("k2", "r", "q", "1"))
	clock.Advance(time.Minute)
	if st := d.Stats(); st.Pending != 2 || st.OldestPending != 11*time.Minute || st.Sent != 0 {
		t.Fatalf("stats before delivery %+v", st)
	}
	mustRunOnce(t, d)
	if st := d.Stats(); st.Pending != 0 || st.OldestPending != 0 || st.Sent != 2 || st.Channels["a"].Sent != 2 {
		t.Fatalf("stats after delivery %+v", st)
	}
}

// hangingSink signals each send on started and blocks until its context ends.
type hangingSink struct{ started chan string }

func (s hangingSink) Name() string { return "blocking" }

func (s hangingSink) Send(ctx context.Context, a Alert) error {
	s.started <- a.Key
	<-ctx.Done()
	return ctx.Err()
}

func TestRunDeliversOnKickAndLeavesAnAbandonedSendToResume(t *testing.T) {
	clock := newDispatchClock()
	path := filepath.Join(t.TempDir(), "outbox.db")
	box, err := OpenOutbox(path, OutboxOptions{Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	delivered := make(chan string, 10)
	sink := &recordingSink{fail: func(a Alert, _ int) error { delivered <- a.Key; return nil }}
	blocking := hangingSink{started: make(chan string, 1)}
	d := newTestDispatcher(t, box, clock, DispatcherOptions{Sinks: map[string]Sink{"ok": sink, "stuck": blocking}})

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx) }()

	mustEnqueue(t, box, routeTo("ok"), testFinding("k1", "r", "p", "1"))
	d.Kick()
	select {
	case k := <-delivered:
		if k != "k1" {
			t.Fatalf("delivered %s, want k1", k)
		}
	case <-ctx.Done():
		t.Fatal("Run did not deliver after Kick")
	}

	mustEnqueue(t, box, routeTo("stuck"), testFinding("k2", "r", "q", "1"))
	d.Kick()
	select {
	case <-blocking.started:
	case <-ctx.Done():
		t.Fatal("Run did not start the second send")
	}
	stop() // shut down mid-send, no grace
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v, want nil at shutdown", err)
		}
	case <-ctx.Done():
		t.Fatal("Run did not return after its context ended")
	}
	if e := mustEntry(t, box, "stuck", "k2"); e.State != StateSending || e.Attempts != 1 {
		t.Fatalf("abandoned entry %+v, want left sending", e)
	}
	if err := box.Close(); err != nil {
		t.Fatal(err)
	}

	box = openTestOutbox(t, path, clock)
	d = newTestDispatcher(t, box, clock, DispatcherOptions{Sinks: map[string]Sink{"ok": sink, "stuck": sink}})
	if st := d.Stats(); st.Resumed != 1 || st.Pending != 1 {
		t.Fatalf("after restart stats %+v, want 1 resumed, 1 pending", st)
	}
	mustRunOnce(t, d)
	if k := <-delivered; k != "k2" {
		t.Fatalf("resumed send delivered %s, want k2", k)
	}
	if e := mustEntry(t, box, "stuck", "k2"); e.State != StateSent || e.Attempts != 2 || e.Resumed != 1 {
		t.Fatalf("resumed entry %+v", e)
	}
}

func TestErrorTextRedactsURLs(t *testing.T) {
	secret := "https://hooks.example.com/services/T000/B000/SeCrEtToKeN?token=abc"
	err := fmt.Errorf("webhook: %w", &url.Error{Op: "Post", URL: secret, Err: errors.New("connection refused")})
	got := sendErrorText(err)
	if strings.Contains(got, "SeCrEt") || strings.Contains(got, "token=abc") || !strings.Contains(got, "https://hooks.example.com/…") {
		t.Fatalf("errorText = %q", got)
	}
	long := sendErrorText(errors.New(strings.Repeat("é", 1000)))
	if len(long) > maxErrorText+len("…") || !strings.HasSuffix(long, "…") || !strings.HasPrefix(long, "éé") {
		t.Fatalf("long error cut to %d bytes: %q…", len(long), long[:10])
	}
}

// --- Fault tests over real HTTP on loopback -----------------------------------------------------------

// testWebhook is the webhook channel, posting to url with client (the receivers here do not check the
// signature).
func testWebhook(url string, client *http.Client) *Webhook {
	return &Webhook{name: "webhook", url: url, secret: []byte("test-secret"), headers: http.Header{}, client: client, now: time.Now}
}

// hookRequest is one request as the receiver saw it; Status 0 means it got no answer (the sender died).
type hookRequest struct {
	Key     string
	BodyKey string
	Status  int
}

// hookReceiver is the loopback HTTP end of a webhook. respond picks the status of the n-th request (from 1);
// a negative status makes the request hang: it is recorded, its key goes to hung, and it waits for the
// client to go away or for release.
type hookReceiver struct {
	mu      sync.Mutex
	reqs    []hookRequest
	respond func(n int) int
	hung    chan string
	release chan struct{}
}

func (rc *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var a Alert
	if err := json.NewDecoder(r.Body).Decode(&a); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	status := rc.respond(len(rc.reqs) + 1)
	rc.reqs = append(rc.reqs, hookRequest{Key: r.Header.Get("Idempotency-Key"), BodyKey: a.Key, Status: max(status, 0)})
	rc.mu.Unlock()
	if status < 0 {
		rc.hung <- a.Key
		select {
		case <-r.Context().Done():
		case <-rc.release:
		}
		return
	}
	w.WriteHeader(status)
}

func (rc *hookReceiver) log() []hookRequest {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.reqs)
}

func startHookReceiver(t *testing.T, respond func(n int) int) (*hookReceiver, *httptest.Server) {
	t.Helper()
	rc := &hookReceiver{respond: respond, hung: make(chan string, 1), release: make(chan struct{})}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(rc.release) }) // runs before srv.Close: frees a hung handler
	return rc, srv
}

func TestFaultChannelDownThenBack(t *testing.T) {
	const downFor = 4 // the first four requests get 503
	rc, srv := startHookReceiver(t, func(n int) int {
		if n <= downFor {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	clock := newDispatchClock()
	box := openTestOutbox(t, filepath.Join(t.TempDir(), "outbox.db"), clock)
	d := newTestDispatcher(t, box, clock, DispatcherOptions{
		Sinks:   map[string]Sink{"hook": testWebhook(srv.URL, srv.Client())},
		Backoff: DefaultBackoff(), // real jitter: the test follows whatever next time RunOnce returns
	})
	var keys []string
	var alerts []Alert
	for i := range 5 {
		a := testFinding(fmt.Sprintf("finding-%d", i), "r", fmt.Sprintf("p%d", i), "1")
		alerts, keys = append(alerts, a), append(keys, a.Key)
	}
	mustEnqueue(t, box, routeTo("hook"), alerts...)

	runUntilIdle(t, d, clock, 50)

	log := rc.log()
	okByKey := map[string]int{}
	for i, r := range log {
		if r.Key != r.BodyKey {
			t.Errorf("request %d: Idempotency-Key %q but body key %q", i+1, r.Key, r.BodyKey)
		}
		if r.Status == http.StatusOK {
			okByKey[r.Key]++
		} else if r.Key != keys[0] {
			t.Errorf("request %d for %s while the channel was down: want only the head alert to probe it", i+1, r.Key)
		}
	}
	for _, k := range keys {
		if okByKey[k] != 1 {
			t.Errorf("%s delivered %d times, want exactly once", k, okByKey[k])
		}
	}
	if len(log) != len(keys)+downFor {
		t.Errorf("%d requests, want %d (one per alert + %d refused probes)", len(log), len(keys)+downFor, downFor)
	}
	if e := mustEntry(t, box, "hook", keys[0]); e.State != StateSent || e.Attempts != downFor+1 {
		t.Errorf("head alert: state %s after %d attempts, want sent after %d", e.State, e.Attempts, downFor+1)
	}
	sent, err := box.Entries(StateSent)
	if err != nil || len(sent) != len(keys) {
		t.Fatalf("%d entries sent, %v; want %d", len(sent), err, len(keys))
	}
	if st := d.Stats(); st.Sent != 5 || st.Retried != downFor || st.Pending != 0 {
		t.Errorf("stats %+v", st)
	}
}

// The kill test's child process: it opens the outbox named in the environment and delivers everything
// due to the receiver, printing "resumed=KEY" for each interrupted send it found.
const (
	helperEnv     = "TRAILWATCH_ALERT_HELPER"
	helperOutbox  = "TRAILWATCH_ALERT_HELPER_OUTBOX"
	helperURL     = "TRAILWATCH_ALERT_HELPER_URL"
	helperChannel = "hook"
)

func TestHelperProcess(t *testing.T) {
	if os.Getenv(helperEnv) != "dispatch" {
		t.Skip("child process of TestFaultKillMidSend")
	}
	box, err := OpenOutbox(os.Getenv(helperOutbox), OutboxOptions{LockTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer box.Close()
	for _, e := range box.Resumed() {
		fmt.Printf("resumed=%s\n", e.Key)
	}
	d, err := NewDispatcher(DispatcherOptions{
		Outbox: box,
		Sinks:  map[string]Sink{helperChannel: testWebhook(os.Getenv(helperURL), &http.Client{})},
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := d.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	st := d.Stats()
	fmt.Printf("sent=%d pending=%d\n", st.Sent, st.Pending)
}

func outboxHelperCommand(ctx context.Context, path, url string) (*exec.Cmd, *bytes.Buffer) {
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"=dispatch", helperOutbox+"="+path, helperURL+"="+url)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	return cmd, &out
}

func TestFaultKillMidSend(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGKILL")
	}
	const (
		total  = 6
		hangAt = 3 // the receiver hangs on the third request; the child is killed then
	)
	rc, srv := startHookReceiver(t, func(n int) int {
		if n == hangAt {
			return -1
		}
		return http.StatusOK
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	path := filepath.Join(t.TempDir(), "outbox.db")
	box, err := OpenOutbox(path, OutboxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	var alerts []Alert
	for i := range total {
		a := testFinding(fmt.Sprintf("finding-%d", i), "r", fmt.Sprintf("p%d", i), "1")
		alerts, keys = append(alerts, a), append(keys, a.Key)
	}
	mustEnqueue(t, box, routeTo(helperChannel), alerts...)
	if err := box.Close(); err != nil {
		t.Fatal(err)
	}

	// First run: killed with SIGKILL while the third send hangs.
	child, out := outboxHelperCommand(ctx, path, srv.URL)
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	var hungKey string
	select {
	case hungKey = <-rc.hung:
	case <-ctx.Done():
		child.Process.Kill()
		child.Wait()
		t.Fatalf("the child never reached the hanging request; its output:\n%s", out)
	}
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	err = child.Wait()
	if ws, ok := child.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v, want killed by SIGKILL; output:\n%s", err, out)
	}
	if hungKey != keys[hangAt-1] {
		t.Fatalf("hung on %s, want %s (enqueue order)", hungKey, keys[hangAt-1])
	}
	before := rc.log()
	ackedBeforeKill := map[string]bool{}
	for _, r := range before {
		if r.Status == http.StatusOK {
			ackedBeforeKill[r.Key] = true
		}
	}
	if len(before) != hangAt || len(ackedBeforeKill) != hangAt-1 {
		t.Fatalf("before the kill the receiver saw %+v", before)
	}

	// Second run, a new process on the same file: it resumes the interrupted send and finishes.
	child, out = outboxHelperCommand(ctx, path, srv.URL)
	if err := child.Run(); err != nil {
		t.Fatalf("restarted child: %v\n%s", err, out)
	}
	if !strings.Contains(out.String(), "resumed="+hungKey+"\n") {
		t.Errorf("restarted child did not report resuming %s:\n%s", hungKey, out)
	}
	if !strings.Contains(out.String(), fmt.Sprintf("sent=%d pending=0\n", total-hangAt+1)) {
		t.Errorf("restarted child did not send the remaining %d:\n%s", total-hangAt+1, out)
	}

	// The receiver's view: nothing lost, the interrupted alert sent again under the same key, nothing
	// acknowledged before the kill sent again, and each alert exactly once by distinct key.
	log := rc.log()
	count := map[string]int{}
	for i, r := range log {
		if r.Key != r.BodyKey {
			t.Errorf("request %d: Idempotency-Key %q but body key %q", i+1, r.Key, r.BodyKey)
		}
		count[r.Key]++
		if i >= len(before) && ackedBeforeKill[r.Key] {
			t.Errorf("request %d re-sent %s, which was delivered and marked sent before the kill", i+1, r.Key)
		}
	}
	var distinct []string
	for k := range count {
		distinct = append(distinct, k)
	}
	slices.Sort(distinct)
	if !slices.Equal(distinct, keys) {
		t.Errorf("distinct keys received %v, want %v", distinct, keys)
	}
	for _, k := range keys {
		want := 1
		if k == hungKey {
			want = 2 // once to the killed child (no answer), once resumed
		}
		if count[k] != want {
			t.Errorf("%s received %d times, want %d", k, count[k], want)
		}
	}
	if last := log[len(log)-1]; len(log) != total+1 || last.Status != http.StatusOK {
		t.Errorf("%d requests, last %+v; want %d, all answered but the hung one", len(log), last, total+1)
	}

	// The outbox's view.
	box, err = OpenOutbox(path, OutboxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer box.Close()
	if r := box.Resumed(); len(r) != 0 {
		t.Errorf("third open resumed %v, want nothing", r)
	}
	all, err := box.Entries()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range all {
		wantAttempts, wantResumed := 1, 0
		if e.Key == hungKey {
			wantAttempts, wantResumed = 2, 1
		}
		if e.State != StateSent || e.Attempts != wantAttempts || e.Resumed != wantResumed {
			t.Errorf("%s: state %s, attempts %d, resumed %d; want sent, %d, %d", e.Key, e.State, e.Attempts, e.Resumed, wantAttempts, wantResumed)
		}
	}
	if len(all) != total {
		t.Errorf("%d entries, want %d", len(all), total)
	}
}
