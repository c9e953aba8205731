// The persistent outbox: every alert bound for a channel is written to disk before anything is sent, and
// every step of its delivery is committed there.
//
// # Delivery guarantee
//
// For each (alert key, channel) pair that Enqueue has accepted (Enqueue returned nil):
//
//   - Nothing is lost. The entry is in the outbox file, committed with fsync, before Enqueue returns (an
//     alert whose Enqueue returned an error was not accepted and is the caller's to retry). It leaves the
//     open states (pending, sending) only by being delivered (sent), by being folded into a digest that
//     is itself an outbox entry (batched), by being recognised as a duplicate within the dedupe window
//     (deduplicated), or by failing for good (failed: a permanent error from the channel, no sink for
//     the channel, or MaxAttempts / MaxAge reached); a failed entry stays in the outbox, visible, with
//     its last error. No transition is silent: each is one fsync'd bbolt transaction.
//   - At-least-once delivery to the channel, with a stable idempotency key, of every entry that does not
//     end deduplicated, batched (its digest is delivered instead) or failed. The dispatcher commits the
//     entry as sending (fsync), calls the Sink, then commits it as sent (fsync). A crash or kill between
//     the two leaves the entry sending; the next OpenOutbox finds it, counts it as resumed and sends it
//     again with the same Alert, hence the same Key. The same holds when the process stays up but the
//     send is abandoned at shutdown, or committing its outcome fails: the entry stays sending until the
//     next open. The channel may therefore see a message more than once, but never under two different
//     keys. An entry committed as sent is never sent again.
//   - Exactly once as the receiver sees it, when the receiver honours the key (drops a message whose key
//     it has already accepted). Retries and resumed sends reuse the entry's key; a digest's key is
//     derived from its members' keys and stored with it, so a retried digest keeps its key; only alerts
//     that were never attempted on their own are folded into a digest, so no alert reaches a receiver
//     both alone and inside a digest.
//   - Enqueue is idempotent: a (key, channel) already in the outbox is not added again, so a finding
//     detected again after a restart does not alert twice. This holds for as long as the entry is kept:
//     Prune drops finished entries older than the retention, after which the same key would be new again;
//     keep the retention longer than any window in which the same finding can be re-detected.
//
// One process at a time owns an outbox file (bbolt holds an exclusive lock on it); that is what makes an
// entry found in the sending state on open an interrupted send rather than one in flight.

package alert

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// State is where an outbox entry stands in its delivery.
type State string

// The states of an outbox entry. Pending and sending are open; the others are final.
const (
	// StatePending: waiting to be sent, at NextAttempt or later.
	StatePending State = "pending"
	// StateSending: committed as handed to the channel, not yet committed as sent. Found on open, it
	// means a crash interrupted the send; the entry is resumed (sent again with the same key).
	StateSending State = "sending"
	// StateSent: the channel accepted it. Never sent again.
	StateSent State = "sent"
	// StateFailed: failed for good (permanent error, or MaxAttempts / MaxAge reached). Kept, visible.
	StateFailed State = "failed"
	// StateDeduplicated: the same rule, principal and account was already alerted on this channel within
	// the dedupe window; DuplicateOf names the alert that was.
	StateDeduplicated State = "deduplicated"
	// StateBatched: delivered as a member of the digest named in Digest.
	StateBatched State = "batched"
)

// open reports whether an entry in state s still has to be delivered.
func (s State) open() bool { return s == StatePending || s == StateSending }

// Entry is one alert bound for one channel, as the outbox keeps it.
type Entry struct {
	Channel string `json:"channel"`
	Key     string `json:"key"`
	// Seq orders entries by when they were enqueued; delivery follows it.
	Seq         uint64    `json:"seq"`
	State       State     `json:"state"`
	Alert       Alert     `json:"alert"`
	Attempts    int       `json:"attempts"`
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	Created     time.Time `json:"created"`
	LastAttempt time.Time `json:"last_attempt,omitzero"`
	// Sent is when the channel accepted the entry.
	Sent time.Time `json:"sent,omitzero"`
	// Done is when the entry reached a final state; Prune goes by it.
	Done time.Time `json:"done,omitzero"`
	// Resumed counts the times the entry was found sending on open (an interrupted send).
	Resumed int `json:"resumed,omitempty"`
	// DuplicateOf is the key of the alert that made this one a duplicate (state deduplicated).
	DuplicateOf string `json:"duplicate_of,omitempty"`
	// Digest is the key of the digest entry this one was delivered in (state batched).
	Digest string `json:"digest,omitempty"`
	// DedupeKey is the dedupe claim this entry holds on its channel, if any.
	DedupeKey string `json:"dedupe_key,omitempty"`
}

// OutboxOptions configures OpenOutbox.
type OutboxOptions struct {
	// Clock stamps entries; time.Now when nil.
	Clock func() time.Time
	// LockTimeout is how long OpenOutbox waits for another process to release the file; 1 s when zero.
	LockTimeout time.Duration
}

// Outbox is the persistent, crash-safe queue of alerts per channel, in one bbolt file. Its methods are
// safe for concurrent use; one Dispatcher at a time drives delivery from it.
//
// Guarantee, for every (alert key, channel) that Enqueue accepted: nothing is lost (it is on disk, fsync'd,
// before Enqueue returns, and ends sent, batched into a digest, deduplicated, or failed and kept visible);
// delivery to the channel is at least once, always under the same idempotency key (a send interrupted by
// a crash is resumed on the next open with that key; an entry committed as sent is never sent again); so
// a receiver that honours the key sees each alert exactly once. The full statement heads outbox.go.
type Outbox struct {
	db      *bolt.DB
	path    string
	clock   func() time.Time
	resumed []Entry
}

var (
	bucketEntries = []byte("entries") // channel NUL key → Entry JSON
	bucketOpen    = []byte("open")    // channel NUL key → nothing, for entries pending or sending
	bucketDedupe  = []byte("dedupe")  // channel NUL dedupe key → dedupeClaim JSON
)

// dedupeClaim records which alert took a dedupe key on a channel, and when.
type dedupeClaim struct {
	Key string    `json:"key"`
	At  time.Time `json:"at"`
}

// OpenOutbox opens (creating if needed) the outbox file at path. Entries found in the sending state were
// interrupted by a crash: they are made pending again, due at once, with their key unchanged, counted in
// Entry.Resumed and listed by Resumed.
func OpenOutbox(path string, opts OutboxOptions) (*Outbox, error) {
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = time.Second
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.LockTimeout})
	if err != nil {
		return nil, fmt.Errorf("open outbox %s: %w", path, err)
	}
	o := &Outbox{db: db, path: path, clock: opts.Clock}
	now := o.clock()
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketEntries, bucketOpen, bucketDedupe} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		var ids [][]byte
		if err := tx.Bucket(bucketOpen).ForEach(func(k, _ []byte) error {
			ids = append(ids, bytes.Clone(k))
			return nil
		}); err != nil {
			return err
		}
		for _, id := range ids {
			e, err := getEntry(tx, id)
			if err != nil {
				return err
			}
			if e.State != StateSending {
				continue
			}
			e.State = StatePending
			e.Resumed++
			e.NextAttempt = now
			e.LastError = "interrupted while sending; resent with the same idempotency key"
			if err := putEntry(tx, e); err != nil {
				return err
			}
			o.resumed = append(o.resumed, e)
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open outbox %s: resume interrupted sends: %w", path, err)
	}
	return o, nil
}

// Close closes the outbox file.
func (o *Outbox) Close() error {
	if err := o.db.Close(); err != nil {
		return fmt.Errorf("close outbox %s: %w", o.path, err)
	}
	return nil
}

// Path is the outbox file.
func (o *Outbox) Path() string { return o.path }

// Resumed lists the entries that OpenOutbox found in the sending state (interrupted by a crash) and made
// pending again, as they were right after that.
func (o *Outbox) Resumed() []Entry { return slices.Clone(o.resumed) }

// Enqueue adds one entry per alert and channel that route names for it, in one fsync'd transaction. A
// (key, channel) already in the outbox, in any state, is not added again; added counts the new entries.
// Every alert needs a Key; channel names may not be empty or hold a NUL byte. On error nothing is added.
func (o *Outbox) Enqueue(alerts []Alert, route func(Alert) []string) (added int, err error) {
	type item struct {
		id []byte
		e  Entry
	}
	var items []item
	for _, a := range alerts {
		if a.Key == "" {
			return 0, fmt.Errorf("outbox enqueue: alert %q (rule %s) has no key", a.Title, a.RuleID)
		}
		var channels []string
		if route != nil {
			channels = route(a)
		}
		for _, ch := range channels {
			if ch == "" || strings.IndexByte(ch, 0) >= 0 {
				return 0, fmt.Errorf("outbox enqueue: alert %s: invalid channel name %q", a.Key, ch)
			}
			items = append(items, item{id: entryID(ch, a.Key), e: Entry{Channel: ch, Key: a.Key, Alert: a}})
		}
	}
	if len(items) == 0 {
		return 0, nil
	}
	now := o.clock()
	err = o.db.Update(func(tx *bolt.Tx) error {
		added = 0
		entries := tx.Bucket(bucketEntries)
		for _, it := range items {
			if entries.Get(it.id) != nil {
				continue
			}
			seq, err := entries.NextSequence()
			if err != nil {
				return err
			}
			e := it.e
			e.Seq, e.State, e.Created, e.NextAttempt = seq, StatePending, now, now
			if err := putEntry(tx, e); err != nil {
				return err
			}
			added++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("outbox enqueue: %w", err)
	}
	return added, nil
}

// Get returns the entry for key on channel.
func (o *Outbox) Get(channel, key string) (Entry, bool, error) {
	var (
		e     Entry
		found bool
	)
	err := o.db.View(func(tx *bolt.Tx) error {
		id := entryID(channel, key)
		if tx.Bucket(bucketEntries).Get(id) == nil {
			return nil
		}
		var err error
		e, err = getEntry(tx, id)
		found = err == nil
		return err
	})
	if err != nil {
		return Entry{}, false, fmt.Errorf("outbox get %s/%s: %w", channel, key, err)
	}
	return e, found, nil
}

// Entries returns the entries in the given states (all entries when none is given), in enqueue order.
func (o *Outbox) Entries(states ...State) ([]Entry, error) {
	var out []Entry
	err := o.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketEntries).ForEach(func(_, v []byte) error {
			var e Entry
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			if len(states) == 0 || slices.Contains(states, e.State) {
				out = append(out, e)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("outbox list: %w", err)
	}
	sortBySeq(out)
	return out, nil
}

// Pending counts the entries still to be delivered (pending or sending) and returns the creation time of
// the oldest of them (zero when there is none).
func (o *Outbox) Pending() (n int, oldest time.Time, err error) {
	err = o.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketOpen).ForEach(func(id, _ []byte) error {
			e, err := getEntry(tx, id)
			if err != nil {
				return err
			}
			n++
			if oldest.IsZero() || e.Created.Before(oldest) {
				oldest = e.Created
			}
			return nil
		})
	})
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("outbox pending: %w", err)
	}
	return n, oldest, nil
}

// Prune deletes the entries that reached sent, deduplicated or batched before the given time, and the
// dedupe claims taken before it. Failed entries are kept: they are what an operator has to look at.
// A pruned key is new again to Enqueue.
func (o *Outbox) Prune(before time.Time) (removed int, err error) {
	err = o.db.Update(func(tx *bolt.Tx) error {
		var err error
		removed, err = deleteWhere(tx.Bucket(bucketEntries), func(k, v []byte) (bool, error) {
			var e Entry
			if err := json.Unmarshal(v, &e); err != nil {
				return false, fmt.Errorf("entry %q: %w", k, err)
			}
			switch e.State {
			case StateSent, StateDeduplicated, StateBatched:
				return e.Done.Before(before), nil
			}
			return false, nil
		})
		if err != nil {
			return err
		}
		_, err = deleteWhere(tx.Bucket(bucketDedupe), func(k, v []byte) (bool, error) {
			var c dedupeClaim
			if err := json.Unmarshal(v, &c); err != nil {
				return false, fmt.Errorf("dedupe claim %q: %w", k, err)
			}
			return c.At.Before(before), nil
		})
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("outbox prune: %w", err)
	}
	return removed, nil
}

// The transitions below are the delivery protocol; only the Dispatcher drives them. Each is one bbolt
// read-write transaction, so each is fsync'd before it returns.

// due returns the pending entries due at now, in enqueue order, and the earliest NextAttempt of the
// pending entries not yet due (zero when there is none). Entries in sending are not returned.
func (o *Outbox) due(now time.Time) (due []Entry, next time.Time, err error) {
	err = o.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketOpen).ForEach(func(id, _ []byte) error {
			e, err := getEntry(tx, id)
			if err != nil {
				return err
			}
			if e.State != StatePending {
				return nil
			}
			if e.NextAttempt.After(now) {
				next = earliestTime(next, e.NextAttempt)
				return nil
			}
			due = append(due, e)
			return nil
		})
	})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("outbox due: %w", err)
	}
	sortBySeq(due)
	return due, next, nil
}

// dedupe settles the dedupe claims for candidate entries on one channel. An entry whose dedupe key
// (keyOf) is held by another alert's claim younger than window becomes deduplicated; any other entry with
// a dedupe key takes the claim. It returns the entries still to send, in order, and those deduplicated.
func (o *Outbox) dedupe(channel string, cands []Entry, keyOf func(Alert) string, window time.Duration, now time.Time) (keep, dups []Entry, err error) {
	err = o.db.Update(func(tx *bolt.Tx) error {
		keep, dups = keep[:0], dups[:0]
		claims := tx.Bucket(bucketDedupe)
		for _, c := range cands {
			dk := keyOf(c.Alert)
			if dk == "" || c.DedupeKey != "" {
				keep = append(keep, c)
				continue
			}
			e, err := getEntry(tx, entryID(channel, c.Key))
			if err != nil {
				return err
			}
			if e.State != StatePending {
				continue
			}
			cid := entryID(channel, dk)
			if v := claims.Get(cid); v != nil {
				var held dedupeClaim
				if err := json.Unmarshal(v, &held); err != nil {
					return fmt.Errorf("dedupe claim %q: %w", cid, err)
				}
				if held.Key != e.Key && now.Sub(held.At) < window {
					e.State, e.DuplicateOf, e.Done = StateDeduplicated, held.Key, now
					if err := putEntry(tx, e); err != nil {
						return err
					}
					dups = append(dups, e)
					continue
				}
			}
			v, err := json.Marshal(dedupeClaim{Key: e.Key, At: now})
			if err != nil {
				return err
			}
			if err := claims.Put(cid, v); err != nil {
				return err
			}
			e.DedupeKey = dk
			if err := putEntry(tx, e); err != nil {
				return err
			}
			keep = append(keep, e)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("outbox dedupe %s: %w", channel, err)
	}
	return keep, dups, nil
}

// batch folds pending members into one new digest entry on channel, in one transaction: the digest is
// added pending and due at now, the members become batched under its key.
func (o *Outbox) batch(channel string, members []Entry, digest Alert, now time.Time) (Entry, error) {
	var d Entry
	err := o.db.Update(func(tx *bolt.Tx) error {
		entries := tx.Bucket(bucketEntries)
		did := entryID(channel, digest.Key)
		if entries.Get(did) != nil {
			return fmt.Errorf("digest %s already exists", digest.Key)
		}
		for _, m := range members {
			e, err := getEntry(tx, entryID(channel, m.Key))
			if err != nil {
				return err
			}
			if e.State != StatePending || e.Attempts > 0 {
				return fmt.Errorf("member %s is %s after %d attempts, not batchable", e.Key, e.State, e.Attempts)
			}
			e.State, e.Digest, e.Done = StateBatched, digest.Key, now
			if err := putEntry(tx, e); err != nil {
				return err
			}
		}
		seq, err := entries.NextSequence()
		if err != nil {
			return err
		}
		d = Entry{Channel: channel, Key: digest.Key, Seq: seq, State: StatePending, Alert: digest,
			Created: now, NextAttempt: now}
		return putEntry(tx, d)
	})
	if err != nil {
		return Entry{}, fmt.Errorf("outbox batch %s: %w", channel, err)
	}
	return d, nil
}

// beginSend commits a pending entry as sending and counts the attempt. It must be committed before the
// Sink is called: that is what lets a crash during the send be found on the next open.
func (o *Outbox) beginSend(channel, key string, now time.Time) (Entry, error) {
	e, err := o.transition(channel, key, []State{StatePending}, func(_ *bolt.Tx, e *Entry) error {
		e.State = StateSending
		e.Attempts++
		e.LastAttempt = now
		return nil
	})
	if err != nil {
		return Entry{}, fmt.Errorf("outbox begin send: %w", err)
	}
	return e, nil
}

// markSent commits a sending entry as sent.
func (o *Outbox) markSent(channel, key string, now time.Time) (Entry, error) {
	e, err := o.transition(channel, key, []State{StateSending}, func(_ *bolt.Tx, e *Entry) error {
		e.State, e.Sent, e.Done, e.LastError = StateSent, now, now, ""
		return nil
	})
	if err != nil {
		return Entry{}, fmt.Errorf("outbox mark sent: %w", err)
	}
	return e, nil
}

// markRetry puts a sending entry back to pending, due at next.
func (o *Outbox) markRetry(channel, key string, next time.Time, lastErr string) (Entry, error) {
	e, err := o.transition(channel, key, []State{StateSending}, func(_ *bolt.Tx, e *Entry) error {
		e.State, e.NextAttempt, e.LastError = StatePending, next, lastErr
		return nil
	})
	if err != nil {
		return Entry{}, fmt.Errorf("outbox mark retry: %w", err)
	}
	return e, nil
}

// markFailed commits an open entry as failed for good and gives up the dedupe claims it held (its own,
// or for a digest its members'), so that a later alert on the same subject is not silenced by one that
// never arrived.
func (o *Outbox) markFailed(channel, key string, now time.Time, lastErr string, keyOf func(Alert) string) (Entry, error) {
	e, err := o.transition(channel, key, []State{StatePending, StateSending}, func(tx *bolt.Tx, e *Entry) error {
		e.State, e.Done, e.LastError = StateFailed, now, lastErr
		release := func(dk, owner string) error {
			if dk == "" {
				return nil
			}
			claims := tx.Bucket(bucketDedupe)
			cid := entryID(channel, dk)
			var held dedupeClaim
			if v := claims.Get(cid); v == nil || json.Unmarshal(v, &held) != nil || held.Key != owner {
				return nil
			}
			return claims.Delete(cid)
		}
		if err := release(e.DedupeKey, e.Key); err != nil {
			return err
		}
		if keyOf != nil {
			for _, m := range e.Alert.Members {
				if err := release(keyOf(m), m.Key); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return Entry{}, fmt.Errorf("outbox mark failed: %w", err)
	}
	return e, nil
}

// transition applies change to the entry for (channel, key), which must be in one of the states from, and
// stores it, in one transaction (change may update other records in tx).
func (o *Outbox) transition(channel, key string, from []State, change func(tx *bolt.Tx, e *Entry) error) (Entry, error) {
	var e Entry
	err := o.db.Update(func(tx *bolt.Tx) error {
		var err error
		e, err = getEntry(tx, entryID(channel, key))
		if err != nil {
			return err
		}
		if !slices.Contains(from, e.State) {
			want := make([]string, len(from))
			for i, s := range from {
				want[i] = string(s)
			}
			return fmt.Errorf("entry %s/%s is %s, want %s", channel, key, e.State, strings.Join(want, " or "))
		}
		if err := change(tx, &e); err != nil {
			return err
		}
		return putEntry(tx, e)
	})
	return e, err
}

// deleteWhere deletes the keys of a bucket that drop says to, after reading them all (bbolt forbids
// deleting while iterating), and returns how many it deleted.
func deleteWhere(b *bolt.Bucket, drop func(k, v []byte) (bool, error)) (int, error) {
	var keys [][]byte
	err := b.ForEach(func(k, v []byte) error {
		ok, err := drop(k, v)
		if ok {
			keys = append(keys, bytes.Clone(k))
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return 0, err
		}
	}
	return len(keys), nil
}

// entryID is the bbolt key of an entry (or of a dedupe claim): the channel, a NUL byte, the key.
// Channel names hold no NUL, so the split is unambiguous.
func entryID(channel, key string) []byte {
	id := make([]byte, 0, len(channel)+1+len(key))
	id = append(id, channel...)
	id = append(id, 0)
	return append(id, key...)
}

func getEntry(tx *bolt.Tx, id []byte) (Entry, error) {
	v := tx.Bucket(bucketEntries).Get(id)
	if v == nil {
		return Entry{}, fmt.Errorf("entry %q not found", id)
	}
	var e Entry
	if err := json.Unmarshal(v, &e); err != nil {
		return Entry{}, fmt.Errorf("entry %q: %w", id, err)
	}
	return e, nil
}

// putEntry stores e and keeps the open index in step with its state.
func putEntry(tx *bolt.Tx, e Entry) error {
	v, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("entry %s/%s: %w", e.Channel, e.Key, err)
	}
	id := entryID(e.Channel, e.Key)
	if err := tx.Bucket(bucketEntries).Put(id, v); err != nil {
		return err
	}
	if e.State.open() {
		return tx.Bucket(bucketOpen).Put(id, []byte{})
	}
	return tx.Bucket(bucketOpen).Delete(id)
}

func sortBySeq(es []Entry) {
	slices.SortFunc(es, func(a, b Entry) int {
		return cmp.Or(cmp.Compare(a.Seq, b.Seq), strings.Compare(a.Channel, b.Channel))
	})
}

// earliestTime returns the earlier of a and b, where zero means none.
func earliestTime(a, b time.Time) time.Time {
	switch {
	case a.IsZero():
		return b
	case b.IsZero() || a.Before(b):
		return a
	}
	return b
}
