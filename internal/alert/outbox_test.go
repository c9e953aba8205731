package alert

import (
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

// dispatchClock is a settable Clock shared by the outbox and the dispatcher in tests.
type dispatchClock struct {
	mu sync.Mutex
	t  time.Time
}

func newDispatchClock() *dispatchClock {
	return &dispatchClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *dispatchClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *dispatchClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *dispatchClock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

// testFinding makes a finding alert with the fields dedupe looks at.
func testFinding(key, rule, principal, account string) Alert {
	return Alert{
		Key: key, Kind: "finding", Rule: rule, RuleID: rule, Title: "rule " + rule + " fired", Level: "high",
		PCIv4: []string{"10.2.1.2"}, Time: time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC),
		Account: account, Principal: principal, EventName: "ConsoleLogin", Text: "details of " + key,
	}
}

// routeTo routes every alert to the given channels.
func routeTo(channels ...string) func(Alert) []string {
	return func(Alert) []string { return channels }
}

// mustStep fails the test when a protocol step returns an error.
func mustStep(t *testing.T) func(Entry, error) {
	return func(_ Entry, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
}

func openTestOutbox(t *testing.T, path string, clock *dispatchClock) *Outbox {
	t.Helper()
	box, err := OpenOutbox(path, OutboxOptions{Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { box.Close() })
	return box
}

func TestEnqueueIdempotentAcrossReopen(t *testing.T) {
	clock := newDispatchClock()
	path := filepath.Join(t.TempDir(), "outbox.db")
	alerts := []Alert{testFinding("k1", "r1", "alice", "111"), testFinding("k2", "r1", "bob", "111"), testFinding("k3", "r2", "alice", "222")}

	box := openTestOutbox(t, path, clock)
	added, err := box.Enqueue(alerts, routeTo("slack", "email"))
	if err != nil || added != 6 {
		t.Fatalf("first Enqueue = %d, %v; want 6 entries (3 alerts × 2 channels)", added, err)
	}
	if added, err := box.Enqueue(alerts, routeTo("slack", "email")); err != nil || added != 0 {
		t.Fatalf("same alerts again = %d, %v; want 0", added, err)
	}
	// Within one batch, a repeated key or channel is added once.
	if added, err := box.Enqueue([]Alert{testFinding("k4", "r3", "carol", "111"), testFinding("k4", "r3", "carol", "111")}, routeTo("slack", "slack")); err != nil || added != 1 {
		t.Fatalf("repeated key in one batch = %d, %v; want 1", added, err)
	}
	if err := box.Close(); err != nil {
		t.Fatal(err)
	}

	// After a restart, re-detecting the same findings adds nothing; a new alert or a new channel does.
	clock.Advance(time.Hour)
	box = openTestOutbox(t, path, clock)
	added, err = box.Enqueue(append(alerts, testFinding("k5", "r1", "dave", "111")), routeTo("slack", "email"))
	if err != nil || added != 2 {
		t.Fatalf("Enqueue after reopen = %d, %v; want 2 (only k5 is new)", added, err)
	}
	added, err = box.Enqueue(alerts[:1], routeTo("pagerduty"))
	if err != nil || added != 1 {
		t.Fatalf("known alert to a new channel = %d, %v; want 1", added, err)
	}
	all, err := box.Entries()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 10 {
		t.Fatalf("%d entries, want 10", len(all))
	}
	for i, e := range all {
		if e.State != StatePending || e.Attempts != 0 {
			t.Errorf("%s/%s: state %s, %d attempts; want pending, 0", e.Channel, e.Key, e.State, e.Attempts)
		}
		if i > 0 && e.Seq <= all[i-1].Seq {
			t.Errorf("entries not in enqueue order: seq %d after %d", e.Seq, all[i-1].Seq)
		}
	}
	// The first enqueue's time survives the restart: the entry was not re-created.
	e, ok, err := box.Get("slack", "k1")
	if err != nil || !ok {
		t.Fatalf("Get slack/k1 = %v, %v", ok, err)
	}
	if want := clock.Now().Add(-time.Hour); !e.Created.Equal(want) {
		t.Errorf("k1 created %s, want %s (the first enqueue)", e.Created, want)
	}
	if e.Alert.Text != "details of k1" || !slices.Equal(e.Alert.PCIv4, []string{"10.2.1.2"}) || e.Alert.Principal != "alice" {
		t.Errorf("alert not kept whole: %+v", e.Alert)
	}
}

func TestEnqueueRejectsBadInputAndAddsNothing(t *testing.T) {
	box := openTestOutbox(t, filepath.Join(t.TempDir(), "outbox.db"), newDispatchClock())
	for name, tc := range map[string]struct {
		alerts []Alert
		route  func(Alert) []string
	}{
		"no key":        {[]Alert{testFinding("ok", "r", "p", "1"), {Kind: "finding", Title: "keyless"}}, routeTo("slack")},
		"empty channel": {[]Alert{testFinding("ok", "r", "p", "1")}, routeTo("slack", "")},
		"NUL channel":   {[]Alert{testFinding("ok", "r", "p", "1")}, routeTo("sl\x00ack")},
	} {
		t.Run(name, func(t *testing.T) {
			added, err := box.Enqueue(tc.alerts, tc.route)
			if err == nil || added != 0 {
				t.Fatalf("Enqueue = %d, %v; want an error and nothing added", added, err)
			}
		})
	}
	if all, err := box.Entries(); err != nil || len(all) != 0 {
		t.Fatalf("entries after rejected enqueues: %d, %v; want none", len(all), err)
	}
	if added, err := box.Enqueue([]Alert{testFinding("ok", "r", "p", "1")}, func(Alert) []string { return nil }); err != nil || added != 0 {
		t.Fatalf("alert routed nowhere = %d, %v; want 0, nil", added, err)
	}
}

func TestOpenResumesInterruptedSend(t *testing.T) {
	clock := newDispatchClock()
	path := filepath.Join(t.TempDir(), "outbox.db")
	box := openTestOutbox(t, path, clock)
	if _, err := box.Enqueue([]Alert{testFinding("k1", "r", "p", "1"), testFinding("k2", "r", "q", "1"), testFinding("k3", "r", "s", "1")}, routeTo("hook")); err != nil {
		t.Fatal(err)
	}
	// k1 was delivered; k2 was committed as sending when the process died.
	mustStep(t)(box.beginSend("hook", "k1", clock.Now()))
	mustStep(t)(box.markSent("hook", "k1", clock.Now()))
	mustStep(t)(box.beginSend("hook", "k2", clock.Now()))
	if err := box.Close(); err != nil {
		t.Fatal(err)
	}

	clock.Advance(10 * time.Minute)
	box = openTestOutbox(t, path, clock)
	resumed := box.Resumed()
	if len(resumed) != 1 || resumed[0].Key != "k2" {
		t.Fatalf("resumed %+v, want just k2", resumed)
	}
	e, _, err := box.Get("hook", "k2")
	if err != nil {
		t.Fatal(err)
	}
	if e.State != StatePending || e.Attempts != 1 || e.Resumed != 1 || !e.NextAttempt.Equal(clock.Now()) || e.Alert.Key != "k2" {
		t.Errorf("resumed entry = state %s, attempts %d, resumed %d, next %s, alert key %q; want pending, 1, 1, now, k2",
			e.State, e.Attempts, e.Resumed, e.NextAttempt, e.Alert.Key)
	}
	due, _, err := box.due(clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, e := range due {
		keys = append(keys, e.Key)
	}
	if !slices.Equal(keys, []string{"k2", "k3"}) {
		t.Errorf("due after reopen = %v, want [k2 k3]: the sent k1 is never due again", keys)
	}
	if n, oldest, err := box.Pending(); err != nil || n != 2 || !oldest.Equal(clock.Now().Add(-10*time.Minute)) {
		t.Errorf("Pending = %d, %s, %v; want 2, the enqueue time", n, oldest, err)
	}
}

func TestOpenFailsWhileAnotherOwnerHoldsTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	openTestOutbox(t, path, newDispatchClock())
	if box, err := OpenOutbox(path, OutboxOptions{LockTimeout: 50 * time.Millisecond}); err == nil {
		box.Close()
		t.Fatal("second OpenOutbox of a file in use succeeded; want a lock timeout")
	}
}

func TestPruneKeepsOpenAndFailedEntries(t *testing.T) {
	clock := newDispatchClock()
	box := openTestOutbox(t, filepath.Join(t.TempDir(), "outbox.db"), clock)
	if _, err := box.Enqueue([]Alert{testFinding("sent", "r", "a", "1"), testFinding("failed", "r", "b", "1"), testFinding("pending", "r", "c", "1")}, routeTo("hook")); err != nil {
		t.Fatal(err)
	}
	now := clock.Now()
	mustStep(t)(box.beginSend("hook", "sent", now))
	mustStep(t)(box.markSent("hook", "sent", now))
	mustStep(t)(box.beginSend("hook", "failed", now))
	mustStep(t)(box.markFailed("hook", "failed", now, "permanent error: 400", DedupeKey))
	if n, err := box.Prune(now); err != nil || n != 0 {
		t.Fatalf("Prune(before the send) = %d, %v; want 0", n, err)
	}
	clock.Advance(31 * 24 * time.Hour)
	if n, err := box.Prune(clock.Now().Add(-30 * 24 * time.Hour)); err != nil || n != 1 {
		t.Fatalf("Prune(30 days) = %d, %v; want 1", n, err)
	}
	left, err := box.Entries()
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, e := range left {
		keys = append(keys, e.Key+":"+string(e.State))
	}
	if !slices.Equal(keys, []string{"failed:failed", "pending:pending"}) {
		t.Errorf("after prune: %v", keys)
	}
	// A pruned key is new again, as documented.
	if added, err := box.Enqueue([]Alert{testFinding("sent", "r", "a", "1")}, routeTo("hook")); err != nil || added != 1 {
		t.Errorf("re-enqueue of a pruned key = %d, %v; want 1", added, err)
	}
}

func TestTransitionsCheckState(t *testing.T) {
	clock := newDispatchClock()
	box := openTestOutbox(t, filepath.Join(t.TempDir(), "outbox.db"), clock)
	if _, err := box.Enqueue([]Alert{testFinding("k", "r", "a", "1")}, routeTo("hook")); err != nil {
		t.Fatal(err)
	}
	if _, err := box.markSent("hook", "k", clock.Now()); err == nil {
		t.Error("markSent of a pending entry succeeded; a send must be committed as sending first")
	}
	if _, err := box.beginSend("hook", "missing", clock.Now()); err == nil {
		t.Error("beginSend of an unknown entry succeeded")
	}
	if _, err := box.beginSend("hook", "k", clock.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := box.beginSend("hook", "k", clock.Now()); err == nil {
		t.Error("beginSend twice succeeded")
	}
	if _, err := box.markSent("hook", "k", clock.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := box.markFailed("hook", "k", clock.Now(), "late", nil); err == nil {
		t.Error("markFailed of a sent entry succeeded")
	}
}
