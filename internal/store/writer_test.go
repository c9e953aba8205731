package store

import (
	"context"
	"slices"
	"testing"

	"github.com/trailwatch/trailwatch/internal/cloudtrail"
	"github.com/trailwatch/trailwatch/internal/generate"
	"github.com/trailwatch/trailwatch/internal/source"
)

// TestRareServicesGathered checks that a large transaction writes the events of rare services into
// vectors of their own, and stores exactly what small transactions (whose cursors never gather) store.
func TestRareServicesGathered(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := generate.Run(ctx, generate.Options{Out: dir, Accounts: 2, Regions: 1, Days: 1, EventsPerDay: 100_000, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	src, err := source.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	ingest := func(batch int) *Store {
		st := openTemp(t)
		sum, err := st.Ingest(ctx, src, IngestOptions{BatchEvents: batch})
		if err != nil || sum.Failed > 0 || sum.Added != 100_000 {
			t.Fatalf("batch %d: %+v, %v", batch, sum, err)
		}
		return st
	}
	big, small := ingest(0), ingest(2000)

	// Each column's hash over every row (the order of rows aside): the same contents.
	hashes := func(st *Store) [][]string {
		h, err := athenaQuery(ctx, st.DB, `SELECT bit_xor(hash(COLUMNS(*))) FROM cloudtrail_logs`)
		if err != nil || len(h) != 1 || len(h[0]) < 30 {
			t.Fatalf("column hashes: %v, %v", h, err)
		}
		return h
	}
	if a, b := hashes(big), hashes(small); !slices.Equal(a[0], b[0]) {
		t.Fatalf("contents differ:\n%v\n%v", a, b)
	}

	// The vectors (2,048 rows) holding each service's events: a rare one's lie together, a busy one's
	// everywhere.
	rows, err := big.DB.QueryContext(ctx, `SELECT eventsource, count(*), count(DISTINCT rowid // 2048),
		(SELECT count(DISTINCT rowid // 2048) FROM ct_events) FROM ct_events GROUP BY ALL ORDER BY 2`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var rare, busy int
	for rows.Next() {
		var src string
		var n, in, total int
		if err := rows.Scan(&src, &n, &in, &total); err != nil {
			t.Fatal(err)
		}
		t.Logf("%-30s %6d events in %2d of %d vectors", src, n, in, total)
		switch {
		case n*rareShare < 100_000 && n > 100:
			rare++
			if in > total/3 {
				t.Errorf("%s, a rare service: %d events in %d of %d vectors, want at most a third", src, n, in, total)
			}
			if spread := count(t, small, `SELECT count(DISTINCT rowid // 2048) FROM ct_events WHERE eventsource = $1`, src); spread < total/2 {
				t.Errorf("%s in arrival order: in %d of %d vectors; the check proves nothing", src, spread, total)
			}
		case n*10 > 100_000:
			busy++
			if in < total*3/4 {
				t.Errorf("%s, a busy service: %d events in %d of %d vectors, want it in arrival order", src, n, in, total)
			}
		}
	}
	if rows.Err() != nil || rare < 2 || busy < 2 {
		t.Fatalf("%d rare and %d busy services (the data changed?), %v", rare, busy, rows.Err())
	}
}

func TestTailFits(t *testing.T) {
	listing := func(listed int, done bool) func(*Progress) {
		return func(p *Progress) { p.Listed, p.ListingDone = listed, done }
	}
	st := &stream{files: make([]*parsedFile, 100), events: 1000} // 10 events a file
	for _, c := range []struct {
		listed int
		done   bool
		want   bool
	}{
		{110, true, true},   // 10 files, ~100 events left: under an eighth of 1,000
		{112, true, true},   // ~120 events
		{113, true, false},  // ~130 events: a transaction of its own
		{110, false, false}, // the listing goes on: nothing is known about the rest
		{9000, true, false}, // too many files
		{100, true, true},   // nothing left
	} {
		prog := Progress{Done: 100}
		if got := tailFits(st, &prog, 1000, listing(c.listed, c.done)); got != c.want {
			t.Errorf("listed %d (done %v): %v, want %v", c.listed, c.done, got, c.want)
		}
	}
}

func TestEventKey(t *testing.T) {
	event := func(id string, recipient *string) *cloudtrail.Event {
		e := &cloudtrail.Event{}
		e.Vals[cloudtrail.ColEventID] = id
		e.Set |= 1 << uint(cloudtrail.ColEventID)
		if recipient != nil {
			e.Vals[cloudtrail.ColRecipientAccountID] = *recipient
			e.Set |= 1 << uint(cloudtrail.ColRecipientAccountID)
		}
		return e
	}
	empty, acct, other := "", "111122223333", "444455556666"
	keys := []uint64{
		eventKey(event("a", &acct)), eventKey(event("a", &other)), eventKey(event("a", &empty)),
		eventKey(event("a", nil)), eventKey(event("b", &acct)), eventKey(event("a1", &empty)),
	}
	if repeatedKeys(slices.Clone(keys)) {
		t.Fatalf("distinct events share a key: %v", keys)
	}
	if !repeatedKeys(append(keys, eventKey(event("a", nil)))) {
		t.Fatal("the same event twice: no repeated key")
	}
}
