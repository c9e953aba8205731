package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/duckdb/duckdb-go/v2"
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
	// BatchEvents is how many events are committed together; 0 means 245,760 (two DuckDB row groups, so
	// the rows are written straight to the database file rather than through the write-ahead log).
	BatchEvents int
	// Progress, if set, is called from one goroutine after each file is committed and after listing.
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
	Done        int  // files committed
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
	staged   int // events appended to the staging table
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
		opts.BatchEvents = 2 * 122_880
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
		// Two staging slots: one fills while the other commits.
		var slots [2]*writer
		defer func() {
			for _, w := range slots {
				if w != nil {
					w.close()
				}
			}
		}()
		for i := range slots {
			w, err := s.newWriter(gctx)
			if err != nil {
				return err
			}
			slots[i] = w
		}
		type done struct {
			batch   []*parsedFile
			results []FileResult
			err     error
		}
		commits := make(chan done, 1)
		pending := false
		var prog Progress
		account := func(d done) error {
			if d.err != nil {
				return d.err
			}
			for _, r := range d.results {
				sum.Events += int64(r.Events)
				sum.Added += int64(r.Added)
				sum.Duplicates += int64(r.Duplicates)
				sum.Rejected += int64(r.Rejected)
				if r.Status == StatusOK {
					sum.Read++
				} else {
					sum.Failed++
					sum.Failures = append(sum.Failures, r)
				}
				if opts.OnFile != nil {
					opts.OnFile(r)
				}
				prog.Done++
				prog.Events += int64(r.Events)
			}
			for _, pf := range d.batch {
				prog.Bytes += pf.obj.Size
				sum.Bytes += pf.obj.Size
			}
			if opts.Progress != nil {
				prog.Listed = int(listed.Load())
				prog.ListingDone = listingDone.Load()
				opts.Progress(prog)
			}
			return nil
		}
		collect := func() error {
			d := <-commits
			pending = false
			return account(d)
		}
		cur, nbatch := 0, 0
		var batch []*parsedFile
		events := 0
		// flush hands the current slot to a committing goroutine once the previous commit has finished.
		flush := func() error {
			if len(batch) == 0 {
				return nil
			}
			if pending {
				if err := collect(); err != nil {
					return err
				}
			}
			w, b := slots[cur], batch
			batch, events = nil, 0
			nbatch++
			w.hook, w.batchNo = opts.CommitHook, nbatch
			if w.hook != nil {
				w.hook("staged", nbatch)
			}
			if readersWaiting(s.path) {
				// Commit here, close the store so the waiting queries can run, and carry on after them.
				res, err := w.commit(gctx, b)
				if err := account(done{b, res, err}); err != nil {
					return err
				}
				for i := range slots {
					slots[i].close()
				}
				if err := s.yield(gctx); err != nil {
					return err
				}
				for i := range slots {
					if slots[i], err = s.newWriter(gctx); err != nil {
						return err
					}
				}
				return nil
			}
			pending = true
			go func() {
				res, err := w.commit(gctx, b)
				commits <- done{b, res, err}
			}()
			cur ^= 1
			return nil
		}
		err := func() error {
			for pf := range parsed {
				if err := slots[cur].stage(pf); err != nil {
					return err
				}
				batch = append(batch, pf)
				events += len(pf.events)
				pf.events = nil // staged: let the memory go
				if events >= opts.BatchEvents || len(batch) >= 4096 {
					if err := flush(); err != nil {
						return err
					}
				}
			}
			return flush()
		}()
		if pending {
			if cerr := collect(); err == nil {
				err = cerr
			}
		}
		return err
	})

	err = g.Wait()
	sum.Elapsed = time.Since(start)
	return sum, err
}

// readObject downloads and parses one object. Errors are kept in the result: one bad file never stops a run.
func readObject(ctx context.Context, src source.Source, o source.Object) *parsedFile {
	pf := &parsedFile{obj: o}
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

// writer stages parsed events with an Appender on one connection and moves each batch into ct_events.
type writer struct {
	hook    func(string, int)
	batchNo int
	conn    *sql.Conn
	app     *duckdb.Appender
	fapp    *duckdb.Appender // stage_files: the batch's files
	files   int              // files staged in the current batch
	row     []driver.Value
	minT    time.Time
	maxT    time.Time
}

// stageCols follows cloudtrail.Col, then the columns below.
const stageDDL = `CREATE OR REPLACE TEMP TABLE stage (
	eventversion VARCHAR, ui_type VARCHAR, ui_principalid VARCHAR, ui_arn VARCHAR, ui_accountid VARCHAR,
	ui_invokedby VARCHAR, ui_accesskeyid VARCHAR, ui_username VARCHAR, sc_mfaauthenticated VARCHAR,
	sc_creationdate VARCHAR, si_type VARCHAR, si_principalid VARCHAR, si_arn VARCHAR, si_accountid VARCHAR,
	si_username VARCHAR, sc_ec2roledelivery VARCHAR, sc_webidfederationdata VARCHAR, eventtime VARCHAR,
	eventsource VARCHAR, eventname VARCHAR, awsregion VARCHAR, sourceipaddress VARCHAR, useragent VARCHAR,
	errorcode VARCHAR, errormessage VARCHAR, requestparameters VARCHAR, responseelements VARCHAR,
	additionaleventdata VARCHAR, requestid VARCHAR, eventid VARCHAR, readonly VARCHAR, resources VARCHAR,
	eventtype VARCHAR, apiversion VARCHAR, recipientaccountid VARCHAR, serviceeventdetails VARCHAR,
	sharedeventid VARCHAR, vpcendpointid VARCHAR, tls_version VARCHAR, tls_ciphersuite VARCHAR, tls_host VARCHAR,
	eventcategory VARCHAR, managementevent VARCHAR, extra VARCHAR,
	structs UTINYINT, account VARCHAR, region VARCHAR, "timestamp" VARCHAR, event_time TIMESTAMPTZ,
	source_object VARCHAR, file_idx INTEGER
)`

const stageFilesDDL = `CREATE OR REPLACE TEMP TABLE stage_files (
	file_idx INTEGER, uri VARCHAR, version VARCHAR, size BIGINT, account VARCHAR, region VARCHAR, day DATE,
	status VARCHAR, events BIGINT, rejected BIGINT, error VARCHAR, ingested_at TIMESTAMPTZ
)`

// recordFilesSQL records the batch's files, with the events each added as keepSQL counted them.
const recordFilesSQL = `INSERT OR REPLACE INTO tw_files
	(uri, version, size, account, region, day, status, events, added, duplicates, rejected, error, ingested_at)
SELECT f.uri, f.version, f.size, f.account, f.region, f.day, f.status, f.events, coalesce(k.n, 0),
	f.events - coalesce(k.n, 0), f.rejected, f.error, f.ingested_at
FROM stage_files f LEFT JOIN (SELECT file_idx, count(*) AS n FROM keep GROUP BY file_idx) k USING (file_idx)`

const moveSQL = `INSERT INTO ct_events SELECT
	eventversion,
	CASE WHEN structs & 1 <> 0 THEN struct_pack(
		type := ui_type, principalid := ui_principalid, arn := ui_arn, accountid := ui_accountid,
		invokedby := ui_invokedby, accesskeyid := ui_accesskeyid, username := ui_username,
		sessioncontext := CASE WHEN structs & 2 <> 0 THEN struct_pack(
			attributes := CASE WHEN structs & 4 <> 0 THEN struct_pack(
				mfaauthenticated := sc_mfaauthenticated, creationdate := sc_creationdate) END,
			sessionissuer := CASE WHEN structs & 8 <> 0 THEN struct_pack(
				type := si_type, principalid := si_principalid, arn := si_arn, accountid := si_accountid,
				username := si_username) END,
			ec2roledelivery := sc_ec2roledelivery,
			webidfederationdata := from_json(sc_webidfederationdata, '"MAP(VARCHAR, VARCHAR)"')) END) END,
	eventtime, eventsource, eventname, awsregion, sourceipaddress, useragent, errorcode, errormessage,
	requestparameters, responseelements, additionaleventdata, requestid, eventid, readonly,
	from_json(resources, '[{"arn":"VARCHAR","accountid":"VARCHAR","type":"VARCHAR"}]'),
	eventtype, apiversion, recipientaccountid, serviceeventdetails, sharedeventid, vpcendpointid,
	CASE WHEN structs & 16 <> 0 THEN struct_pack(tlsversion := tls_version, ciphersuite := tls_ciphersuite,
		clientprovidedhostheader := tls_host) END,
	eventcategory, managementevent, extra, account, region, "timestamp", event_time, source_object
FROM stage s
WHERE s.rowid IN (SELECT rid FROM keep)`

// keepSQL picks the staged rows to store: the first of each (eventID, recipient account) in the batch, and
// none already stored. Stored events are looked up only within the batch's time span.
const keepSQL = `CREATE OR REPLACE TEMP TABLE keep AS
SELECT s.rowid AS rid, s.file_idx
FROM stage s
WHERE NOT EXISTS (
	SELECT 1 FROM ct_events c
	WHERE c.event_time BETWEEN $1 AND $2
	  AND c.eventid = s.eventid
	  AND c.recipientaccountid IS NOT DISTINCT FROM s.recipientaccountid)
QUALIFY row_number() OVER (PARTITION BY s.eventid, s.recipientaccountid ORDER BY s.file_idx, s.rowid) = 1`

func (s *Store) newWriter(ctx context.Context) (*writer, error) {
	conn, err := s.DB.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("ingest: connect: %w", err)
	}
	for _, ddl := range []string{stageDDL, stageFilesDDL} {
		if _, err := conn.ExecContext(ctx, ddl); err != nil {
			conn.Close()
			return nil, fmt.Errorf("ingest: create staging table: %w", err)
		}
	}
	w := &writer{conn: conn, row: make([]driver.Value, int(cloudtrail.NumCols)+7)}
	err = conn.Raw(func(dc any) error {
		a, err := duckdb.NewAppender(dc.(driver.Conn), "temp", "main", "stage")
		if err != nil {
			return err
		}
		w.app = a
		w.fapp, err = duckdb.NewAppender(dc.(driver.Conn), "temp", "main", "stage_files")
		return err
	})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("ingest: staging appender: %w", err)
	}
	return w, nil
}

func (w *writer) close() {
	if w.fapp != nil {
		_ = w.fapp.Close()
		w.fapp = nil
	}
	if w.app != nil {
		_ = w.app.Close()
		w.app = nil
	}
	if w.conn != nil {
		_ = w.conn.Close()
		w.conn = nil
	}
}

// stage appends one file's events to the staging table.
func (w *writer) stage(pf *parsedFile) error {
	idx := w.files
	w.files++
	pf.staged = len(pf.events)
	k := pf.obj.Layout
	row := w.row
	for i := range pf.events {
		e := &pf.events[i]
		for c := cloudtrail.Col(0); c < cloudtrail.NumCols; c++ {
			if v, ok := e.Get(c); ok {
				row[c] = v
			} else {
				row[c] = nil
			}
		}
		n := int(cloudtrail.NumCols)
		row[n] = e.Structs
		if k.InLayout {
			row[n+1], row[n+2], row[n+3] = k.Account, k.Region, k.Timestamp()
		} else {
			// Outside the S3 layout the event itself says where it belongs.
			row[n+1] = nullable(e.Vals[cloudtrail.ColRecipientAccountID])
			row[n+2] = nullable(e.Vals[cloudtrail.ColAWSRegion])
			row[n+3] = e.Time.Format("2006/01/02")
		}
		row[n+4] = e.Time
		row[n+5] = pf.obj.URI
		row[n+6] = int32(idx)
		if w.minT.IsZero() || e.Time.Before(w.minT) {
			w.minT = e.Time
		}
		if e.Time.After(w.maxT) {
			w.maxT = e.Time
		}
		if err := w.app.AppendRow(row...); err != nil {
			return fmt.Errorf("ingest %s: stage event %d: %w", pf.obj.URI, i, err)
		}
	}
	return nil
}

func nullable(s string) driver.Value {
	if s == "" {
		return nil
	}
	return s
}

// commit moves the staged batch into ct_events and records its files, in one transaction.
func (w *writer) commit(ctx context.Context, batch []*parsedFile) ([]FileResult, error) {
	if err := w.app.Flush(); err != nil {
		return nil, fmt.Errorf("ingest: flush staging: %w", err)
	}
	results := make([]FileResult, len(batch))
	now := time.Now().UTC()
	for i, pf := range batch {
		r := FileResult{URI: pf.obj.URI, Status: StatusOK, Events: pf.staged, Rejected: pf.rejected, Err: pf.err, Warnings: pf.warnings}
		var errText any
		if pf.err != nil {
			r.Status = StatusFailed
			errText = pf.err.Error()
		}
		var day any
		if k := pf.obj.Layout; k.InLayout {
			day = k.Date()
		}
		if err := w.fapp.AppendRow(int32(i), pf.obj.URI, pf.obj.Version, pf.obj.Size, nullable(pf.obj.Layout.Account),
			nullable(pf.obj.Layout.Region), day, r.Status, int64(r.Events), int64(r.Rejected), errText, now); err != nil {
			return nil, fmt.Errorf("ingest: stage file record %s: %w", pf.obj.URI, err)
		}
		results[i] = r
	}
	if err := w.fapp.Flush(); err != nil {
		return nil, fmt.Errorf("ingest: flush file records: %w", err)
	}
	c := w.conn
	tx, err := c.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("ingest: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit this is a no-op
	minT, maxT := w.minT, w.maxT
	if minT.IsZero() {
		minT, maxT = time.Unix(0, 0), time.Unix(0, 0)
	}
	t0 := time.Now()
	defer func() { debugf("commit %d files: total %v", len(batch), time.Since(t0)) }()
	if _, err := tx.ExecContext(ctx, keepSQL, minT, maxT); err != nil {
		return nil, fmt.Errorf("ingest: deduplicate: %w", err)
	}
	debugf("keep %v", time.Since(t0))
	if _, err := tx.ExecContext(ctx, moveSQL); err != nil {
		return nil, fmt.Errorf("ingest: store events: %w", err)
	}
	debugf("move %v", time.Since(t0))
	added := make([]int, len(batch))
	rows, err := tx.QueryContext(ctx, `SELECT file_idx, count(*) FROM keep GROUP BY file_idx`)
	if err != nil {
		return nil, fmt.Errorf("ingest: count: %w", err)
	}
	for rows.Next() {
		var idx, n int
		if err := rows.Scan(&idx, &n); err != nil {
			rows.Close()
			return nil, err
		}
		added[idx] = n
	}
	rows.Close()
	for i := range results {
		results[i].Added = added[i]
		results[i].Duplicates = results[i].Events - added[i]
	}
	if _, err := tx.ExecContext(ctx, recordFilesSQL); err != nil {
		return nil, fmt.Errorf("ingest: record files: %w", err)
	}
	debugf("files %v", time.Since(t0))
	if w.hook != nil {
		w.hook("in-transaction", w.batchNo)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("ingest: commit: %w", err)
	}
	if w.hook != nil {
		w.hook("committed", w.batchNo)
	}
	debugf("commit %v", time.Since(t0))
	if _, err := c.ExecContext(ctx, `DELETE FROM stage; DELETE FROM stage_files`); err != nil {
		return nil, fmt.Errorf("ingest: clear staging: %w", err)
	}
	w.files = 0
	w.minT, w.maxT = time.Time{}, time.Time{}
	return results, nil
}

var debugOn = os.Getenv("TRAILWATCH_DEBUG") != ""

func debugf(format string, args ...any) {
	if debugOn {
		fmt.Fprintf(os.Stderr, "debug: "+format+"\n", args...)
	}
}
