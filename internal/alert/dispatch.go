package alert

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults applied by NewDispatcher to zero options.
const (
	DefaultBackoffMin       = 5 * time.Second
	DefaultBackoffMax       = 15 * time.Minute
	DefaultBackoffJitter    = 0.2
	DefaultMaxAge           = 24 * time.Hour
	DefaultSendTimeout      = 30 * time.Second
	DefaultDigestMaxMembers = 100
	pruneEvery              = time.Hour
	maxErrorText            = 512
	maxRetryAfter           = time.Hour
)

// Backoff is the delay before retrying an entry after a transient failure: Min doubled per attempt made,
// capped at Max, of which a random fraction up to Jitter is taken off so that retries spread out:
// delay(n) = min(Min·2^(n−1), Max) · (1 − Jitter·r), r in [0, 1). When the channel asked for a longer
// wait (a StatusError's RetryAfter), the dispatcher waits that long instead, up to an hour.
type Backoff struct {
	Min, Max time.Duration
	// Jitter is in [0, 1]; 0 is no jitter.
	Jitter float64
	// Rand returns r in [0, 1); math/rand/v2 when nil. Tests set it to fix the jitter.
	Rand func() float64
}

// DefaultBackoff is 5 s doubling to 15 min, with 20 % jitter.
func DefaultBackoff() Backoff {
	return Backoff{Min: DefaultBackoffMin, Max: DefaultBackoffMax, Jitter: DefaultBackoffJitter}
}

// Delay is the wait after the given number of attempts (1 for the first failure).
func (b Backoff) Delay(attempts int) time.Duration {
	d := b.Min
	for i := 1; i < attempts && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	if b.Jitter > 0 {
		r := rand.Float64
		if b.Rand != nil {
			r = b.Rand
		}
		d -= time.Duration(float64(d) * min(b.Jitter, 1) * r())
	}
	return d
}

// DispatcherOptions configures NewDispatcher. Zero values mean "off" for the features (dedupe, digests,
// rate limits, pruning) and the documented default for the rest.
type DispatcherOptions struct {
	// Outbox is the queue delivered from. Required.
	Outbox *Outbox
	// Sinks maps a channel name, as routed in Enqueue, to the Sink that delivers to it. An entry for a
	// channel with no sink fails for good.
	Sinks map[string]Sink
	// Clock is the time source for due times, backoff, dedupe windows, rate limits and ages; time.Now
	// when nil.
	Clock func() time.Time
	// Logger receives one record per delivery outcome (channel, key, rule, attempt, error; never alert
	// text); discarded when nil.
	Logger *slog.Logger

	// Backoff spaces retries after transient failures: DefaultBackoff when Min, Max and Jitter are all
	// zero; otherwise a zero Min or Max takes its default and a zero Jitter means none.
	Backoff Backoff
	// MaxAttempts is the number of attempts after which a transiently failing entry fails for good;
	// 0 is no limit.
	MaxAttempts int
	// MaxAge is the age after which a transiently failing entry fails for good; 24 h when 0, no limit
	// when negative.
	MaxAge time.Duration
	// SendTimeout bounds one Sink.Send; 30 s when 0.
	SendTimeout time.Duration
	// ShutdownGrace is how long an in-flight Send may go on once Run's context is done; 0 cancels it at
	// once. A send cut short stays committed as sending and is resumed on the next start.
	ShutdownGrace time.Duration

	// RatePerMinute caps the messages (a digest is one, a failed attempt counts) sent to a channel: at
	// most that many in any 60 s, on Clock. A channel not named, or with 0, is not limited.
	RatePerMinute map[string]int
	// DedupeWindow: a finding whose DedupeKey was already taken on the same channel by another alert
	// less than DedupeWindow ago is recorded as deduplicated and not sent. 0 turns dedupe off.
	DedupeWindow time.Duration
	// DigestOver: when more than DigestOver batchable alerts (findings never attempted before) are due
	// at once for one channel, they go as digests (one Alert with Members) instead of one message each.
	// 0 turns digests off.
	DigestOver int
	// DigestMaxMembers caps the members of one digest; more are split evenly over several. 100 when 0.
	DigestMaxMembers int
	// Retention: entries finished (sent, deduplicated, batched) longer ago than this are pruned, at most
	// hourly, by RunOnce. 0 keeps them forever.
	Retention time.Duration
}

// ChannelStats are the delivery counters of one channel since the Dispatcher was made.
type ChannelStats struct {
	// Sent counts messages the channel accepted (a digest counts once).
	Sent uint64
	// Failed counts entries that failed for good.
	Failed uint64
	// Retried counts transient failures that were scheduled for another attempt.
	Retried uint64
	// Deduplicated counts entries recorded as duplicates and not sent.
	Deduplicated uint64
	// Batched counts entries folded into digests; Digests counts the digests made.
	Batched, Digests uint64
}

// Stats is a snapshot for metrics: counters since the Dispatcher was made, in total and per channel,
// and gauges read from the outbox.
type Stats struct {
	ChannelStats
	// Channels holds the counters per channel.
	Channels map[string]ChannelStats
	// Resumed counts entries found interrupted mid-send when the outbox was opened.
	Resumed int
	// Pending is the number of entries not yet delivered (pending or sending).
	Pending int
	// OldestPending is the age of the oldest of them; 0 when there is none.
	OldestPending time.Duration
}

// Dispatcher delivers due outbox entries to their channels: retry with backoff, MaxAttempts / MaxAge,
// dedupe, digests and per-channel rate limits. A channel whose send failed transiently is paused until
// that entry's retry is due, so a channel that is down gets one probe per backoff step, not one request
// per queued alert. One Dispatcher drives one Outbox. Rounds are serialised, so RunOnce may be called
// while Run goes on; Stats and Kick may be called from any goroutine.
type Dispatcher struct {
	opts   DispatcherOptions
	box    *Outbox
	clock  func() time.Time
	log    *slog.Logger
	kick   chan struct{}
	runMu  sync.Mutex
	paused map[string]time.Time
	limits map[string]*slidingWindow

	lastPrune time.Time

	statsMu sync.Mutex
	stats   map[string]*ChannelStats
}

// NewDispatcher checks opts, fills in defaults and logs the entries that the outbox resumed on open.
func NewDispatcher(opts DispatcherOptions) (*Dispatcher, error) {
	if opts.Outbox == nil {
		return nil, errors.New("new dispatcher: no outbox")
	}
	for name, s := range opts.Sinks {
		if s == nil {
			return nil, fmt.Errorf("new dispatcher: channel %q: nil sink", name)
		}
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if b := &opts.Backoff; b.Min <= 0 && b.Max <= 0 && b.Jitter == 0 {
		b.Jitter = DefaultBackoffJitter // Min and Max take their defaults below
	}
	if opts.Backoff.Min <= 0 {
		opts.Backoff.Min = DefaultBackoffMin
	}
	if opts.Backoff.Max <= 0 {
		opts.Backoff.Max = DefaultBackoffMax
	}
	opts.Backoff.Max = max(opts.Backoff.Max, opts.Backoff.Min)
	if opts.Backoff.Jitter < 0 || opts.Backoff.Jitter > 1 {
		return nil, fmt.Errorf("new dispatcher: backoff jitter %v is outside [0, 1]", opts.Backoff.Jitter)
	}
	if opts.MaxAge == 0 {
		opts.MaxAge = DefaultMaxAge
	}
	if opts.SendTimeout <= 0 {
		opts.SendTimeout = DefaultSendTimeout
	}
	if opts.DigestMaxMembers <= 0 {
		opts.DigestMaxMembers = DefaultDigestMaxMembers
	}
	d := &Dispatcher{
		opts:   opts,
		box:    opts.Outbox,
		clock:  opts.Clock,
		log:    opts.Logger,
		kick:   make(chan struct{}, 1),
		paused: map[string]time.Time{},
		limits: map[string]*slidingWindow{},
		stats:  map[string]*ChannelStats{},
	}
	for ch, n := range opts.RatePerMinute {
		if n < 0 {
			return nil, fmt.Errorf("new dispatcher: channel %q: negative rate %d", ch, n)
		}
		if n > 0 {
			d.limits[ch] = &slidingWindow{n: n, span: time.Minute}
		}
	}
	for _, e := range d.box.Resumed() {
		d.log.Info("resuming interrupted send", "channel", e.Channel, "key", e.Key,
			"rule", e.Alert.RuleID, "attempts", e.Attempts)
	}
	return d, nil
}

// Kick makes a running Run look for due entries now, e.g. after an Enqueue. It never blocks.
func (d *Dispatcher) Kick() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// Run delivers due entries until ctx is done, then returns nil. Between rounds it waits for the next due
// time (measured on Clock, waited in real time), a Kick or ctx. When ctx ends during a send, the send is
// given ShutdownGrace to finish; if it does not, the entry stays committed as sending and is resumed, with
// the same idempotency key, the next time the outbox is opened.
func (d *Dispatcher) Run(ctx context.Context) error {
	for {
		next, err := d.RunOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		var timer *time.Timer
		switch {
		case err != nil:
			d.log.Error("alert dispatch round failed", "err", err)
			timer = time.NewTimer(d.opts.Backoff.Min)
		case !next.IsZero():
			timer = time.NewTimer(max(next.Sub(d.clock()), 0))
		}
		var wait <-chan time.Time
		if timer != nil {
			wait = timer.C
		}
		select {
		case <-ctx.Done():
		case <-d.kick:
		case <-wait:
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

// RunOnce delivers every entry due now (on Clock), channel by channel in enqueue order, and returns when
// the next delivery is due: the earliest retry, rate-limit or channel-pause time still ahead (zero when
// nothing is pending). Tests drive the dispatcher with it and a fake Clock, without sleeping. The error
// is an outbox failure or ctx's; delivery failures are recorded on the entries, not returned.
func (d *Dispatcher) RunOnce(ctx context.Context) (next time.Time, err error) {
	d.runMu.Lock()
	defer d.runMu.Unlock()
	now := d.clock()
	if err := d.prune(now); err != nil {
		return time.Time{}, err
	}
	due, next, err := d.box.due(now)
	if err != nil {
		return time.Time{}, err
	}
	byChannel := map[string][]Entry{}
	var channels []string
	for _, e := range due {
		if _, ok := byChannel[e.Channel]; !ok {
			channels = append(channels, e.Channel)
		}
		byChannel[e.Channel] = append(byChannel[e.Channel], e)
	}
	slices.Sort(channels)
	for _, ch := range channels {
		if err := ctx.Err(); err != nil {
			return next, err
		}
		chNext, err := d.runChannel(ctx, ch, byChannel[ch])
		next = earliestTime(next, chNext)
		if err != nil {
			return next, err
		}
	}
	return next, nil
}

// runChannel delivers the due entries of one channel and returns when the channel can take more (zero
// when it took them all).
func (d *Dispatcher) runChannel(ctx context.Context, ch string, entries []Entry) (time.Time, error) {
	now := d.clock()
	if until := d.paused[ch]; until.After(now) {
		return until, nil
	}
	delete(d.paused, ch)
	sink, ok := d.opts.Sinks[ch]
	if !ok {
		for _, e := range entries {
			if _, err := d.box.markFailed(ch, e.Key, now, "no sink configured for channel "+strconv.Quote(ch), DedupeKey); err != nil {
				return time.Time{}, err
			}
			d.count(ch, func(s *ChannelStats) { s.Failed++ })
			d.log.Error("alert failed: no sink for channel", "channel", ch, "key", e.Key, "rule", e.Alert.RuleID)
		}
		return time.Time{}, nil
	}
	if d.opts.DedupeWindow > 0 && slices.ContainsFunc(entries, needsClaim) {
		keep, dups, err := d.box.dedupe(ch, entries, DedupeKey, d.opts.DedupeWindow, now)
		if err != nil {
			return time.Time{}, err
		}
		for _, e := range dups {
			d.count(ch, func(s *ChannelStats) { s.Deduplicated++ })
			d.log.Info("alert deduplicated", "channel", ch, "key", e.Key, "rule", e.Alert.RuleID,
				"duplicate_of", e.DuplicateOf)
		}
		entries = keep
	}
	if d.opts.DigestOver > 0 {
		var err error
		if entries, err = d.digest(ch, entries, now); err != nil {
			return time.Time{}, err
		}
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return time.Time{}, err
		}
		now := d.clock()
		if wait := d.rateWait(ch, now); wait > 0 {
			d.log.Debug("channel rate-limited", "channel", ch, "wait", wait)
			return now.Add(wait), nil
		}
		retryAt, err := d.deliver(ctx, ch, sink, e)
		if err != nil {
			return time.Time{}, err
		}
		if !retryAt.IsZero() {
			d.paused[ch] = retryAt
			return retryAt, nil
		}
	}
	return time.Time{}, nil
}

// deliver runs the protocol for one entry: commit sending, Send, commit the outcome. It returns the retry
// time after a transient failure (zero otherwise), and an error for outbox failures and for a send
// abandoned because ctx ended (the entry then stays sending).
func (d *Dispatcher) deliver(ctx context.Context, ch string, sink Sink, e Entry) (retryAt time.Time, err error) {
	e, err = d.box.beginSend(ch, e.Key, d.clock())
	if err != nil {
		return time.Time{}, err
	}
	sctx, cancel := d.sendContext(ctx)
	sendErr := sink.Send(sctx, e.Alert)
	cancel()
	now := d.clock()
	attrs := []any{"channel", ch, "key", e.Key, "kind", e.Alert.Kind, "rule", e.Alert.RuleID, "attempt", e.Attempts}
	if sendErr == nil {
		if _, err := d.box.markSent(ch, e.Key, now); err != nil {
			return time.Time{}, err
		}
		d.count(ch, func(s *ChannelStats) { s.Sent++ })
		d.log.Debug("alert sent", attrs...)
		return time.Time{}, nil
	}
	msg := sendErrorText(sendErr)
	attrs = append(attrs, "err", msg)
	if ctx.Err() != nil {
		d.log.Warn("send abandoned at shutdown; resumed with the same key on next start", attrs...)
		return time.Time{}, ctx.Err()
	}
	giveUp := ""
	switch {
	case IsPermanent(sendErr):
		giveUp = "permanent error"
	case d.opts.MaxAttempts > 0 && e.Attempts >= d.opts.MaxAttempts:
		giveUp = fmt.Sprintf("%d attempts made", e.Attempts)
	case d.opts.MaxAge > 0 && now.Sub(e.Created) >= d.opts.MaxAge:
		giveUp = fmt.Sprintf("older than %s", d.opts.MaxAge)
	}
	if giveUp != "" {
		if _, err := d.box.markFailed(ch, e.Key, now, giveUp+": "+msg, DedupeKey); err != nil {
			return time.Time{}, err
		}
		d.count(ch, func(s *ChannelStats) { s.Failed++ })
		d.log.Error("alert failed for good", append(attrs, "reason", giveUp)...)
		return time.Time{}, nil
	}
	delay := d.opts.Backoff.Delay(e.Attempts)
	var se *StatusError
	if errors.As(sendErr, &se) {
		delay = max(delay, min(se.RetryAfter, maxRetryAfter))
	}
	retryAt = now.Add(delay)
	if _, err := d.box.markRetry(ch, e.Key, retryAt, msg); err != nil {
		return time.Time{}, err
	}
	d.count(ch, func(s *ChannelStats) { s.Retried++ })
	d.log.Warn("alert send failed; will retry", append(attrs, "retry_at", retryAt)...)
	return retryAt, nil
}

// sendContext is the context for one Send: bounded by SendTimeout, and cancelled ShutdownGrace after ctx
// is done.
func (d *Dispatcher) sendContext(ctx context.Context) (context.Context, context.CancelFunc) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.opts.SendTimeout)
	stop := context.AfterFunc(ctx, func() {
		if d.opts.ShutdownGrace <= 0 {
			cancel()
			return
		}
		time.AfterFunc(d.opts.ShutdownGrace, cancel)
	})
	return sctx, func() { stop(); cancel() }
}

// rateWait is how long ch must wait before its next message; 0 means send now, and counts the send.
func (d *Dispatcher) rateWait(ch string, now time.Time) time.Duration {
	w := d.limits[ch]
	if w == nil {
		return 0
	}
	return w.take(now)
}

// slidingWindow allows at most n events in any span of time. It keeps the times of the last n events,
// so it is exact on any clock, fake or real.
type slidingWindow struct {
	n    int
	span time.Duration
	last []time.Time // oldest first, at most n
}

// take records an event at now and returns 0 if the window allows it; otherwise it records nothing and
// returns how long until it would.
func (w *slidingWindow) take(now time.Time) time.Duration {
	if len(w.last) == w.n {
		if wait := w.last[0].Add(w.span).Sub(now); wait > 0 {
			return wait
		}
		w.last = w.last[1:]
	}
	w.last = append(w.last, now)
	return 0
}

// digest folds the batchable entries into digests when there are more than DigestOver of them. It returns
// the entries to send: the others in order, then the digests.
func (d *Dispatcher) digest(ch string, entries []Entry, now time.Time) ([]Entry, error) {
	var batchable, rest []Entry
	for _, e := range entries {
		if batchableEntry(e) {
			batchable = append(batchable, e)
		} else {
			rest = append(rest, e)
		}
	}
	if len(batchable) <= d.opts.DigestOver {
		return entries, nil
	}
	n := len(batchable)
	chunks := (n + d.opts.DigestMaxMembers - 1) / d.opts.DigestMaxMembers
	for i := range chunks {
		part := batchable[i*n/chunks : (i+1)*n/chunks]
		members := make([]Alert, len(part))
		for i, e := range part {
			members[i] = e.Alert
		}
		de, err := d.box.batch(ch, part, NewDigest(members), now)
		if err != nil {
			return nil, err
		}
		d.count(ch, func(s *ChannelStats) { s.Digests++; s.Batched += uint64(len(part)) })
		d.log.Info("alerts batched into a digest", "channel", ch, "key", de.Key, "members", len(part))
		rest = append(rest, de)
	}
	return rest, nil
}

// needsClaim reports whether e has a dedupe key but has not taken its claim yet.
func needsClaim(e Entry) bool { return e.DedupeKey == "" && DedupeKey(e.Alert) != "" }

// batchableEntry: only findings never attempted on their own go into a digest, so that no receiver gets
// an alert both under its own key and inside a digest.
func batchableEntry(e Entry) bool {
	return e.Attempts == 0 && e.Resumed == 0 && e.Alert.Kind == "finding"
}

func (d *Dispatcher) prune(now time.Time) error {
	if d.opts.Retention <= 0 || (!d.lastPrune.IsZero() && now.Sub(d.lastPrune) < pruneEvery) {
		return nil
	}
	d.lastPrune = now
	n, err := d.box.Prune(now.Add(-max(d.opts.Retention, d.opts.DedupeWindow)))
	if err != nil {
		return err
	}
	if n > 0 {
		d.log.Info("pruned finished alerts", "removed", n, "retention", d.opts.Retention)
	}
	return nil
}

func (d *Dispatcher) count(ch string, f func(*ChannelStats)) {
	d.statsMu.Lock()
	defer d.statsMu.Unlock()
	s := d.stats[ch]
	if s == nil {
		s = &ChannelStats{}
		d.stats[ch] = s
	}
	f(s)
}

// Stats returns the counters and reads the pending gauges from the outbox. If the outbox cannot be read,
// the gauges are left zero and the failure is logged.
func (d *Dispatcher) Stats() Stats {
	st := Stats{Channels: map[string]ChannelStats{}, Resumed: len(d.box.Resumed())}
	d.statsMu.Lock()
	for ch, s := range d.stats {
		st.Channels[ch] = *s
		st.Sent += s.Sent
		st.Failed += s.Failed
		st.Retried += s.Retried
		st.Deduplicated += s.Deduplicated
		st.Batched += s.Batched
		st.Digests += s.Digests
	}
	d.statsMu.Unlock()
	n, oldest, err := d.box.Pending()
	if err != nil {
		d.log.Error("read outbox for stats", "err", err)
		return st
	}
	st.Pending = n
	if n > 0 {
		st.OldestPending = max(d.clock().Sub(oldest), 0)
	}
	return st
}

// DedupeKey is what the dispatcher's dedupe window compares: for a finding, the rule (RuleID, else Rule),
// the principal (Principal, else SourceIP for unauthenticated calls) and the account, which is the
// resource scope an Alert carries. Alerts of other kinds (digest, summary, test) and findings without a
// rule have no dedupe key ("") and are never deduplicated. Dedupe is per channel.
func DedupeKey(a Alert) string {
	if a.Kind != "finding" {
		return ""
	}
	rule := cmp.Or(a.RuleID, a.Rule)
	if rule == "" {
		return ""
	}
	return "rule=" + strconv.Quote(rule) + " principal=" + strconv.Quote(cmp.Or(a.Principal, a.SourceIP)) +
		" account=" + strconv.Quote(a.Account)
}

// DigestKey is the idempotency key of a digest of alerts with the given keys: "digest-" and 32 hex
// digits of a SHA-256 over the sorted keys, so it depends on the set of members only.
func DigestKey(memberKeys []string) string {
	keys := slices.Clone(memberKeys)
	slices.Sort(keys)
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%d:%s\n", len(k), k)
	}
	return "digest-" + hex.EncodeToString(h.Sum(nil))[:32]
}

// digestLevelRank orders Sigma levels; unknown levels rank lowest.
var digestLevelRank = map[string]int{"informational": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}

// NewDigest makes one Alert of kind "digest" standing for members, which it carries whole in Members: Key
// from DigestKey, the highest level, the latest time, the union of PCI references, the account when all
// members share it, a Subject and Count. Text and HTML are left empty: Render builds the member list from
// Members, cleaning the event values as it does for findings.
func NewDigest(members []Alert) Alert {
	keys := make([]string, len(members))
	d := Alert{Kind: "digest", Count: len(members), Members: slices.Clone(members)}
	for i, m := range members {
		keys[i] = m.Key
		if d.Level == "" || digestLevelRank[m.Level] > digestLevelRank[d.Level] {
			d.Level = m.Level
		}
		if m.Time.After(d.Time) {
			d.Time = m.Time
		}
		d.PCIv4 = append(d.PCIv4, m.PCIv4...)
		d.PCIv321 = append(d.PCIv321, m.PCIv321...)
		if i == 0 {
			d.Account, d.AccountAlias = m.Account, m.AccountAlias
		} else if m.Account != d.Account {
			d.Account, d.AccountAlias = "", ""
		}
	}
	d.Key = DigestKey(keys)
	slices.Sort(d.PCIv4)
	d.PCIv4 = slices.Compact(d.PCIv4)
	slices.Sort(d.PCIv321)
	d.PCIv321 = slices.Compact(d.PCIv321)
	d.Title = fmt.Sprintf("Digest: %d alerts", len(members))
	d.Subject = "[trailwatch] " + d.Title
	if d.Level != "" {
		d.Subject += ", highest level " + strings.ToUpper(d.Level)
	}
	return d
}

// sendErrorText is err as stored and logged: URLs in *url.Error reduced to scheme and host (webhook URLs
// carry their secret in the path or query), and cut to a bounded length.
func sendErrorText(err error) string {
	msg := err.Error()
	var ue *url.Error
	if errors.As(err, &ue) && ue.URL != "" {
		red := "[url]"
		if u, perr := url.Parse(ue.URL); perr == nil && u.Host != "" {
			red = u.Scheme + "://" + u.Host + "/…"
		}
		msg = strings.ReplaceAll(msg, ue.URL, red)
	}
	return renderClip(msg, maxErrorText)
}
