package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/trailwatch/trailwatch/internal/cloudtrail"
	"github.com/trailwatch/trailwatch/internal/source"
)

// File statuses recorded in tw_files.
const (
	StatusOK     = "ok"     // read completely
	StatusFailed = "failed" // read in part or not at all; read again on the next run
)

// IngestOptions tune an ingest run.
type IngestOptions struct {
	Filter source.Filter
	// Workers download and parse files in parallel; 0 means one per core.
	Workers int
	// BatchEvents is how many events a transaction takes (in whole files; one that would leave less than
	// an eighth of this takes the rest too); 0 means 983,040 (eight DuckDB row groups: the rows go straight
	// to the database file rather than through the write-ahead log, and few row groups are left part-filled).
	BatchEvents int
	// Progress, if set, is called, one call at a time, as each file goes into the store.
	Progress func(Progress)
	// OnFile, if set, is called from one goroutine with the outcome of each file read.
	OnFile func(FileResult)
	// CommitHook, if set, is called at points of each batch commit ("staged", "in-transaction",
	// "committed") with the number of the batch; crash tests kill the process there.
	CommitHook func(point string, batch int)
}

// Progress is a snapshot of a running ingest.
type Progress struct {
	Listed      int  // files listed so far that need reading
	ListingDone bool // whether Listed is final
	Done        int  // files read into the store (committed when their transaction ends)
	Events      int64
	Bytes       int64 // compressed bytes read
}

// FileResult is the outcome of reading one file.
type FileResult struct {
	URI        string
	Status     string
	Events     int // records parsed
	Added      int // stored now
	Duplicates int // already stored from another file or earlier in this one
	Rejected   int // records that could not be stored
	Err        error
	Warnings   []string
}

// Summary totals an ingest run.
type Summary struct {
	Source     string
	Listed     int // files the listing returned
	Read       int // files read completely
	Unchanged  int // files skipped because they were already ingested and have not changed
	Failed     int // files read in part or not at all
	Events     int64
	Added      int64
	Duplicates int64
	Rejected   int64
	Bytes      int64
	Elapsed    time.Duration
	Failures   []FileResult // every failed file, with its error
}

type knownFile struct {
	version string
	status  string
}

type parsedFile struct {
	obj      source.Object
	events   []cloudtrail.Event
	rejected int
	err      error
	warnings []string
	keys     []uint64  // eventKey of each event, for the duplicate check
	staged   int       // events handed to the store
	minT     time.Time // the earliest and latest eventTime of events
	maxT     time.Time
}

// eventSlices recycles the slices that parsed files hold their events in: a file's slice, ~770 bytes per
// event, goes back once the stream has written its events (cursor.release) and the next file parsed reuses
// it. Grown afresh by append for each file, these slices were most of what ingest allocated (1.5 GB per
// million events), with the page faults, zeroing and collections that come with it.
var eventSlices sync.Pool // of *[]cloudtrail.Event

// newEvents returns an empty slice to parse a file's events into.
func newEvents() []cloudtrail.Event {
	if p, ok := eventSlices.Get().(*[]cloudtrail.Event); ok {
		return (*p)[:0]
	}
	return nil
}

// recycleEvents gives back a slice that nothing reads any more.
func recycleEvents(events []cloudtrail.Event) {
	if cap(events) == 0 {
		return
	}
	clear(events) // let the events' strings go
	events = events[:0]
	eventSlices.Put(&events)
}

// Ingest reads every new or changed object src lists into the store, exactly once: an object already read
// with the same version is skipped, a changed or previously failed object is read again, and an event
// already stored (same eventID and recipient account, from any object) is not stored again. Events once
// stored are never removed by a later read: a log object that changes or disappears does not erase evidence. Each batch of files is
// committed in one transaction together with the record of those files, so a crash at any point loses
// nothing and duplicates nothing on the next run.
func (s *Store) Ingest(ctx context.Context, src source.Source, opts IngestOptions) (Summary, error) {
	start := time.Now()
	sum := Summary{Source: src.String()}
	if opts.Workers <= 0 {
		opts.Workers = runtime.NumCPU()
	}
	if opts.BatchEvents <= 0 {
		opts.BatchEvents = 8 * 122_880
	}
	known, err := s.knownFiles(ctx)
	if err != nil {
		return sum, err
	}

	g, gctx := errgroup.WithContext(ctx)
	todo := make(chan source.Object, 256)
	parsed := make(chan *parsedFile, opts.Workers*2)
	var listed atomic.Int64
	var listingDone atomic.Bool

	g.Go(func() error {
		defer close(todo)
		err := src.List(gctx, opts.Filter, func(o source.Object) error {
			sum.Listed++
			if k, ok := known[o.URI]; ok && k.status == StatusOK && k.version == o.Version {
				sum.Unchanged++
				return nil
			}
			listed.Add(1)
			select {
			case todo <- o:
				return nil
			case <-gctx.Done():
				return gctx.Err()
			}
		})
		listingDone.Store(true)
		if err != nil {
			return fmt.Errorf("list %s: %w", src, err)
		}
		return nil
	})

	var wg sync.WaitGroup
	for i := 0; i < opts.Workers; i++ {
		wg.Add(1)
		g.Go(func() error {
			defer wg.Done()
			for o := range todo {
				pf := readObject(gctx, src, o)
				select {
				case parsed <- pf:
				case <-gctx.Done():
					return gctx.Err()
				}
			}
			return nil
		})
	}
	go func() { wg.Wait(); close(parsed) }()

	g.Go(func() error {
		return s.write(gctx, parsed, opts, &sum, func(p *Progress) {
			p.Listed = int(listed.Load())
			p.ListingDone = listingDone.Load()
		})
	})

	err = g.Wait()
	sum.Elapsed = time.Since(start)
	return sum, err
}

// readObject downloads and parses one object. Errors are kept in the result: one bad file never stops a run.
func readObject(ctx context.Context, src source.Source, o source.Object) *parsedFile {
	pf := &parsedFile{obj: o, events: newEvents()}
	rc, err := src.Open(ctx, o)
	if err != nil {
		pf.err = fmt.Errorf("open: %w", err)
		return pf
	}
	defer rc.Close()
	var (
		repaired, synthesized int
		recErrs               []string
	)
	err = cloudtrail.Read(rc, func(raw []byte) error {
		pf.events = append(pf.events, cloudtrail.Event{})
		e := &pf.events[len(pf.events)-1]
		if err := cloudtrail.ParseEvent(raw, e); err != nil {
			pf.events = pf.events[:len(pf.events)-1]
			pf.rejected++
			if len(recErrs) < 5 {
				recErrs = append(recErrs, fmt.Sprintf("record %d: %v", len(pf.events)+pf.rejected, err))
			}
			return nil
		}
		if pf.minT.IsZero() || e.Time.Before(pf.minT) {
			pf.minT = e.Time
		}
		if e.Time.After(pf.maxT) {
			pf.maxT = e.Time
		}
		if e.Repaired {
			repaired++
		}
		if e.IDSynthesized {
			synthesized++
		}
		return ctx.Err()
	})
	switch {
	case err != nil && errors.Is(err, context.Canceled):
		pf.err = err
	case errors.Is(err, cloudtrail.ErrEmpty):
		pf.err = errors.New("empty file (0 bytes or only whitespace)")
	case err != nil:
		pf.err = err
	}
	if pf.rejected > 0 {
		more := ""
		if pf.rejected > len(recErrs) {
			more = fmt.Sprintf(" (and %d more)", pf.rejected-len(recErrs))
		}
		rerr := fmt.Errorf("%d records rejected: %s%s", pf.rejected, strings.Join(recErrs, "; "), more)
		if pf.err == nil {
			pf.err = rerr
		} else {
			pf.err = fmt.Errorf("%w; %w", pf.err, rerr)
		}
	}
	if pf.err == nil && len(pf.events) == 0 && pf.rejected == 0 && o.Layout.InLayout {
		// A delivered CloudTrail file always holds records; {"Records":[]} is legal but worth saying.
		pf.warnings = append(pf.warnings, "no records")
	}
	pf.keys = make([]uint64, len(pf.events))
	for i := range pf.events {
		pf.keys[i] = eventKey(&pf.events[i])
	}
	if repaired > 0 {
		pf.warnings = append(pf.warnings, fmt.Sprintf("%d records had invalid UTF-8, replaced with U+FFFD", repaired))
	}
	if synthesized > 0 {
		pf.warnings = append(pf.warnings, fmt.Sprintf("%d records had no eventID; a content hash (tw-…) stands in", synthesized))
	}
	return pf
}

func (s *Store) knownFiles(ctx context.Context) (map[string]knownFile, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT uri, version, status FROM tw_files`)
	if err != nil {
		return nil, fmt.Errorf("read ingested files: %w", err)
	}
	defer rows.Close()
	m := map[string]knownFile{}
	for rows.Next() {
		var uri string
		var k knownFile
		if err := rows.Scan(&uri, &k.version, &k.status); err != nil {
			return nil, err
		}
		m[uri] = k
	}
	return m, rows.Err()
}

var debugOn = os.Getenv("TRAILWATCH_DEBUG") != ""

func debugf(format string, args ...any) {
	if debugOn {
		fmt.Fprintf(os.Stderr, "debug: "+format+"\n", args...)
	}
}
