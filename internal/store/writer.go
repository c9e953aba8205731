package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/trailwatch/trailwatch/internal/cloudtrail"
)

// The parsed events flow into ct_events through a table function, tw_stream(), that DuckDB pulls from
// while it runs one INSERT per transaction: nothing is staged in between, so an event's strings are copied
// once, from the parser's into DuckDB's vectors (rare services' events wait their turn, see rareShare). A
// transaction takes whole files until it holds BatchEvents events (or the small rest of the input, see
// tailFits), the input ends or a reader waits for the store; then the rows it added that repeat a stored
// event (or an earlier row of the same transaction) are deleted, the files are recorded with what each
// added, and it commits. A crash anywhere before the commit leaves the store as it was.

// streamCol is one column of tw_stream(): the flat values of cloudtrail.Col, then where the event belongs.
type streamCol struct {
	name string
	typ  duckdb.Type
}

// The stream's columns after the event's own.
const (
	colStructs = int(cloudtrail.NumCols) + iota
	colAccount
	colRegion
	colTimestamp
	colEventTime
	colSourceObject
	numStreamCols
)

var streamCols = func() []streamCol {
	names := `eventversion ui_type ui_principalid ui_arn ui_accountid ui_invokedby ui_accesskeyid ui_username
		sc_mfaauthenticated sc_creationdate si_type si_principalid si_arn si_accountid si_username
		sc_ec2roledelivery sc_webidfederationdata eventtime eventsource eventname awsregion sourceipaddress
		useragent errorcode errormessage requestparameters responseelements additionaleventdata requestid
		eventid readonly resources eventtype apiversion recipientaccountid serviceeventdetails sharedeventid
		vpcendpointid tls_version tls_ciphersuite tls_host eventcategory managementevent extra`
	fields := strings.Fields(names)
	if len(fields) != int(cloudtrail.NumCols) {
		panic(fmt.Sprintf("store: %d stream columns for %d event columns", len(fields), cloudtrail.NumCols))
	}
	cols := make([]streamCol, numStreamCols)
	for i, n := range fields {
		cols[i] = streamCol{n, duckdb.TYPE_VARCHAR}
	}
	cols[colStructs] = streamCol{"structs", duckdb.TYPE_UTINYINT}
	cols[colAccount] = streamCol{"account", duckdb.TYPE_VARCHAR}
	cols[colRegion] = streamCol{"region", duckdb.TYPE_VARCHAR}
	cols[colTimestamp] = streamCol{"timestamp", duckdb.TYPE_VARCHAR}
	cols[colEventTime] = streamCol{"event_time", duckdb.TYPE_TIMESTAMP_TZ}
	cols[colSourceObject] = streamCol{"source_object", duckdb.TYPE_VARCHAR}
	return cols
}()

// insertSQL assembles the Athena table's nested columns from the stream's flat ones.
const insertSQL = `INSERT INTO ct_events SELECT
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
FROM tw_stream()`

// firstNewRowSQL gives the row id at and above which the rows of the transaction about to insert lie: the
// table only grows (duplicates are deleted, never updated), and rows a transaction adds get row ids above
// every row committed before it.
const firstNewRowSQL = `SELECT coalesce(max(rowid) + 1, 0) FROM ct_events`

// dedupSQL deletes the rows this transaction added ($1: its first row id) that repeat an event already
// stored (same eventID and recipient account; stored events are looked up only within the transaction's
// time span, $2 to $3, as a repeated event carries the same eventTime), or an earlier row of this
// transaction. The window numbering repeats runs only on the events whose eventID an aggregate found more
// than once (the aggregate over-selects an eventID shared by two recipients; the window, which partitions
// by both, decides).
// Into an empty table ($1 = 0) only the second half can find anything: dedupNewSQL (the first million
// events of a new store: 0.54-0.65 s -> 0.32-0.35 s).
const (
	dedupSQL    = `DELETE FROM ct_events WHERE rowid IN (` + repeatsStored + ` UNION ALL ` + repeatsNew + `)`
	dedupNewSQL = `DELETE FROM ct_events WHERE rowid IN (` + repeatsNew + `)`
	// dedupStoredSQL is dedupSQL when no two events of the transaction share an eventKey.
	dedupStoredSQL = `DELETE FROM ct_events WHERE rowid IN (` + repeatsStored + `)`
	repeatsStored  = `
	SELECT n.rowid FROM ct_events n
	WHERE n.rowid >= $1 AND EXISTS (
		SELECT 1 FROM ct_events o
		WHERE o.rowid < $1 AND o.event_time BETWEEN $2 AND $3
		  AND o.eventid = n.eventid AND o.recipientaccountid IS NOT DISTINCT FROM n.recipientaccountid)`
	repeatsNew = `
	SELECT rowid FROM ct_events
	WHERE rowid >= $1 AND eventid IN (
		SELECT eventid FROM ct_events WHERE rowid >= $1 GROUP BY eventid HAVING count(*) > 1)
	QUALIFY row_number() OVER (PARTITION BY eventid, recipientaccountid ORDER BY rowid) > 1`
)

// keySeed seeds eventKey for the life of the process.
var keySeed = maphash.MakeSeed()

// eventKey hashes what makes an event the same as another (its eventID and recipient account, a missing
// recipient apart from an empty one). The transaction's keys tell, before any query, whether two of its
// events may be the same: when no key repeats, none are, and the duplicate check looks only at the stored
// events (or, into an empty store, does nothing). The same event always gives the same key; two events
// that merely collide only make the check run.
func eventKey(e *cloudtrail.Event) uint64 {
	var h maphash.Hash
	h.SetSeed(keySeed)
	h.WriteString(e.Vals[cloudtrail.ColEventID])
	recipient, ok := e.Get(cloudtrail.ColRecipientAccountID)
	if ok {
		h.WriteByte(1)
	} else {
		h.WriteByte(0)
	}
	h.WriteString(recipient)
	return h.Sum64()
}

// repeatedKeys reports whether two of keys are equal; it sorts them.
func repeatedKeys(keys []uint64) bool {
	slices.Sort(keys)
	for i := 1; i < len(keys); i++ {
		if keys[i] == keys[i-1] {
			return true
		}
	}
	return false
}

// addedSQL counts what each object added in this transaction, after a duplicate check that deleted rows
// (otherwise each added what it staged).
const addedSQL = `SELECT source_object, count(*) FROM ct_events WHERE rowid >= $1 GROUP BY source_object`

const stageFilesDDL = `CREATE OR REPLACE TEMP TABLE stage_files (
	uri VARCHAR, version VARCHAR, size BIGINT, account VARCHAR, region VARCHAR, day DATE, status VARCHAR,
	events BIGINT, added BIGINT, rejected BIGINT, error VARCHAR, ingested_at TIMESTAMPTZ
)`

const recordFilesSQL = `INSERT OR REPLACE INTO tw_files
	(uri, version, size, account, region, day, status, events, added, duplicates, rejected, error, ingested_at)
SELECT uri, version, size, account, region, day, status, events, added, events - added, rejected, error,
	ingested_at
FROM stage_files`

// stream is the source behind tw_stream(): it hands DuckDB the events of the parsed files, whole files at a
// time, until the transaction is full. Each of DuckDB's threads takes a file under the lock and fills its
// chunks from it without the lock, so both fill at once.
type stream struct {
	mu      sync.Mutex
	in      <-chan *parsedFile
	ctx     context.Context
	more    func() bool // whether the transaction may take another file
	cols    []duckdb.ColumnInfo
	files   []*parsedFile // files taken by this transaction, their events released once sent
	events  int
	keys    []uint64 // the eventKeys of the files taken
	minT    time.Time
	maxT    time.Time
	eof     bool
	onFile  func(*parsedFile)
	failure error
	cursors []*cursor // of the running statement, whose arenas free releases
}

// cursor is one DuckDB thread's place in the file it is sending, and its scratch space for a chunk.
type cursor struct {
	pf   *parsedFile
	pos  int
	rows []streamRow
	text [4]textColumn // a chunk's text columns, up to four at once
	// The events of rare services wait in lane, copied out of their files (which are released as soon as
	// their other events are sent), until they fill a chunk or nothing else is left.
	lane  []laneRow
	seen  map[string]int
	total int
	mem   arena // the chunk's out-of-line strings
	// sent holds the event slices of the files whose last events are in this chunk, recycled once the
	// chunk is filled (rows point into them until then).
	sent [][]cloudtrail.Event
}

// release recycles the event slices of the files the cursor has sent.
func (c *cursor) release() {
	for i, events := range c.sent {
		recycleEvents(events)
		c.sent[i] = nil
	}
	c.sent = c.sent[:0]
}

type laneRow struct {
	pf *parsedFile
	e  cloudtrail.Event
}

// streamRow is one event of a chunk, with the file it came from.
type streamRow struct {
	pf *parsedFile
	e  *cloudtrail.Event
}

func newStream(in <-chan *parsedFile) (*stream, error) {
	s := &stream{in: in}
	for _, c := range streamCols {
		t, err := duckdb.NewTypeInfo(c.typ)
		if err != nil {
			return nil, err
		}
		s.cols = append(s.cols, duckdb.ColumnInfo{Name: c.name, T: t})
	}
	return s, nil
}

// reset starts a transaction.
func (s *stream) reset(ctx context.Context, more func() bool) {
	s.ctx, s.more = ctx, more
	s.files, s.events, s.keys = nil, 0, s.keys[:0]
	s.minT, s.maxT = time.Time{}, time.Time{}
	s.failure = nil
}

func (s *stream) ColumnInfos() []duckdb.ColumnInfo     { return s.cols }
func (s *stream) Cardinality() *duckdb.CardinalityInfo { return nil }
func (s *stream) Init() duckdb.ParallelTableSourceInfo {
	return duckdb.ParallelTableSourceInfo{MaxThreads: 2}
}
func (s *stream) NewLocalState() any {
	c := &cursor{seen: map[string]int{}}
	s.mu.Lock()
	s.cursors = append(s.cursors, c)
	s.mu.Unlock()
	return c
}

// free releases the cursors' memory once the statement that read the stream has ended.
func (s *stream) free() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.cursors {
		c.mem.free()
	}
	s.cursors = nil
}

// take returns the next file for this transaction, or nil when there is none: the input ended, the
// transaction is full, or the run was cancelled (s.failure says so).
func (s *stream) take() *parsedFile {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.failure == nil && !s.eof && s.more() {
		var pf *parsedFile
		var ok bool
		select {
		case pf, ok = <-s.in:
		case <-s.ctx.Done():
			s.failure = s.ctx.Err()
			return nil
		}
		if !ok {
			s.eof = true
			return nil
		}
		pf.staged = len(pf.events)
		s.files = append(s.files, pf)
		s.events += len(pf.events)
		s.keys = append(s.keys, pf.keys...)
		pf.keys = nil
		if !pf.minT.IsZero() {
			if s.minT.IsZero() || pf.minT.Before(s.minT) {
				s.minT = pf.minT
			}
			if pf.maxT.After(s.maxT) {
				s.maxT = pf.maxT
			}
		}
		if s.onFile != nil {
			s.onFile(pf)
		}
		if len(pf.events) > 0 {
			return pf
		}
	}
	return nil
}

func (s *stream) fail(err error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failure == nil {
		s.failure = err
	}
	return s.failure
}

func (s *stream) FillChunk(local any, ch duckdb.DataChunk) error {
	c := local.(*cursor)
	capacity := duckdb.GetDataChunkCapacity()
	c.rows = c.rows[:0]
	// The lane holds at most a chunk: once it is full, this chunk ends (perhaps short) and the next is the
	// lane's.
	for len(c.rows) < capacity && len(c.lane) < capacity {
		if c.pf == nil || c.pos >= len(c.pf.events) {
			if c.pf != nil {
				c.sent = append(c.sent, c.pf.events)
				c.pf.events = nil
			}
			if c.pf = s.take(); c.pf == nil {
				break
			}
			c.pos = 0
		}
		e := &c.pf.events[c.pos]
		c.pos++
		if c.rare(e) {
			c.lane = append(c.lane, laneRow{c.pf, *e})
			continue
		}
		c.rows = append(c.rows, streamRow{c.pf, e})
	}
	lane := len(c.rows) == 0 // the lane's turn: it is full, or nothing else is left
	if lane {
		for i := range c.lane {
			c.rows = append(c.rows, streamRow{c.lane[i].pf, &c.lane[i].e})
		}
	}
	c.mem.reset() // DuckDB is done with the cursor's previous chunk (arena.go)
	err := fillChunk(&ch, c.rows, &c.text, &c.mem)
	c.release() // the chunk holds copies of what it needs from the events
	if err != nil {
		return s.fail(err)
	}
	if lane {
		clear(c.lane)
		c.lane = c.lane[:0]
	}
	s.mu.Lock()
	err = s.failure
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return ch.SetSize(len(c.rows))
}

// Rare services' events are written together. Most of a review's questions are about services that make
// few events (console sign-ins, IAM, the trail itself, Organizations), while most events come from a few
// busy ones (S3, KMS, EC2, STS). Written in arrival order, the events of a rare service lie in nearly every
// vector, so a query for them reads nearly every block of every column it needs; gathered, they fill a few
// vectors, and DuckDB reads the other columns only for the vectors whose filtered column matched. The 1M
// bench store: the failed console logins query 0.20-0.22 -> 0.11-0.12 s, ingest the same within the noise
// (three alternating runs), the findings of the whole rule library identical. Sorting groups of 16k-32k
// events by service instead held them all in the Go heap: 2-3x slower ingest under its memory limit.
const (
	rareShare = 64   // a service is rare while it made fewer than 1/rareShare of the cursor's events
	rareAfter = 4096 // events a cursor sees before it judges
)

// rare reports whether e belongs to a rare service, counting it.
func (c *cursor) rare(e *cloudtrail.Event) bool {
	src := e.Vals[cloudtrail.ColEventSource]
	n := c.seen[src] + 1
	c.seen[src] = n
	c.total++
	return c.total > rareAfter && n*rareShare < c.total
}

// fillChunk writes rows into the stream's chunk, a column at a time.
func fillChunk(ch *duckdb.DataChunk, rows []streamRow, text *[4]textColumn, mem *arena) error {
	fail := func(col int, err error) error {
		return fmt.Errorf("stream column %s: %w", streamCols[col].name, err)
	}
	for c := cloudtrail.Col(0); c < cloudtrail.NumCols; c++ {
		t := &text[0]
		t.reset()
		t.utf8 = true
		for _, r := range rows {
			t.add(r.e.Get(c))
		}
		if err := t.put(ch, int(c), mem); err != nil {
			return fail(int(c), err)
		}
	}
	// Where each event belongs: the S3 layout says, or outside it the event itself.
	account, region, ts, uri := &text[0], &text[1], &text[2], &text[3]
	for j := range text {
		text[j].reset()
	}
	var last *parsedFile
	var layoutTS string
	for _, r := range rows {
		k := r.pf.obj.Layout
		if !k.InLayout {
			account.addNullable(r.e.Vals[cloudtrail.ColRecipientAccountID])
			region.addNullable(r.e.Vals[cloudtrail.ColAWSRegion])
			ts.add(r.e.Time.Format("2006/01/02"), true)
		} else {
			if r.pf != last {
				last, layoutTS = r.pf, k.Timestamp()
			}
			account.addNullable(k.Account)
			region.addNullable(k.Region)
			ts.add(layoutTS, true)
		}
		uri.add(r.pf.obj.URI, true)
	}
	for _, c := range []struct {
		col  int
		text *textColumn
	}{{colAccount, account}, {colRegion, region}, {colTimestamp, ts}, {colSourceObject, uri}} {
		if err := c.text.put(ch, c.col, mem); err != nil {
			return fail(c.col, err)
		}
	}
	for n, r := range rows {
		if err := duckdb.SetChunkValue(*ch, colStructs, n, r.e.Structs); err != nil {
			return fail(colStructs, err)
		}
		if err := duckdb.SetChunkValue(*ch, colEventTime, n, r.e.Time); err != nil {
			return fail(colEventTime, err)
		}
	}
	return nil
}

// writer runs the transactions on one connection.
type writer struct {
	conn   *sql.Conn
	fapp   *duckdb.Appender // stage_files: the transaction's files
	stream *stream
}

// registerStream registers tw_stream() with the database; it reads the store's current stream.
func (s *Store) registerStream(ctx context.Context) error {
	conn, err := s.DB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return duckdb.RegisterTableUDF(conn, "tw_stream", duckdb.ParallelChunkTableFunction{
		BindArguments: func(map[string]any, ...any) (duckdb.ParallelChunkTableSource, error) {
			st := s.stream.Load()
			if st == nil {
				return nil, errors.New("tw_stream: no ingest is running")
			}
			return st, nil
		},
	})
}

func (s *Store) newWriter(ctx context.Context, st *stream) (*writer, error) {
	conn, err := s.DB.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("ingest: connect: %w", err)
	}
	w := &writer{conn: conn, stream: st}
	if _, err := conn.ExecContext(ctx, stageFilesDDL); err != nil {
		w.close()
		return nil, fmt.Errorf("ingest: create staging table: %w", err)
	}
	err = conn.Raw(func(dc any) error {
		w.fapp, err = duckdb.NewAppender(dc.(driver.Conn), "temp", "main", "stage_files")
		return err
	})
	if err != nil {
		w.close()
		return nil, fmt.Errorf("ingest: staging appender: %w", err)
	}
	return w, nil
}

func (w *writer) close() {
	if w.fapp != nil {
		_ = w.fapp.Close()
		w.fapp = nil
	}
	if w.conn != nil {
		_ = w.conn.Close()
		w.conn = nil
	}
}

// write runs transactions until the parsed files run out, yielding the store to waiting readers between
// them, and accounts for every file in sum.
func (s *Store) write(ctx context.Context, parsed <-chan *parsedFile, opts IngestOptions, sum *Summary, listing func(*Progress)) error {
	st, err := newStream(parsed)
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	var prog Progress
	st.onFile = func(pf *parsedFile) {
		prog.Done++
		prog.Events += int64(len(pf.events))
		prog.Bytes += pf.obj.Size
		if opts.Progress != nil {
			listing(&prog)
			opts.Progress(prog)
		}
	}
	s.stream.Store(st)
	defer s.stream.Store(nil)
	w, err := s.newWriter(ctx, st)
	if err != nil {
		return err
	}
	defer func() {
		if w != nil {
			w.close()
		}
	}()
	for batch := 1; ; batch++ {
		yield := false
		more := func() bool {
			if st.events >= opts.BatchEvents || len(st.files) >= maxBatchFiles {
				return tailFits(st, &prog, opts.BatchEvents, listing)
			}
			if len(st.files)%16 == 15 && readersWaiting(s.path) {
				yield = true
				return false
			}
			return true
		}
		results, err := w.transaction(ctx, batch, more, opts.CommitHook)
		if err != nil {
			return err
		}
		for i, r := range results {
			sum.Bytes += st.files[i].obj.Size
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
		}
		if st.eof {
			return nil
		}
		if len(results) == 0 && !yield {
			return errors.New("ingest: a transaction took no files before the input ended") // a bug, never spin
		}
		if yield {
			// Close the store so the waiting queries can run, and carry on after them.
			w.close()
			w = nil
			if err := s.yield(ctx); err != nil {
				return err
			}
			if w, err = s.newWriter(ctx, st); err != nil {
				return err
			}
		}
	}
}

// maxBatchFiles bounds the files of one transaction, whatever their events.
const maxBatchFiles = 8192

// tailFits reports whether a full transaction should also take the rest of the input: the listing has
// ended and what is left, at this transaction's events per file, is under an eighth of a batch. A last
// small transaction costs more than its share: its parsing starts only once the one before commits, and
// it pays again for the duplicate check against the stored events and the commit (1M events of make bench:
// a second transaction of 16,685 events took 0.38 s).
func tailFits(st *stream, prog *Progress, batchEvents int, listing func(*Progress)) bool {
	listing(prog)
	left := prog.Listed - prog.Done
	if !prog.ListingDone || len(st.files)+left > maxBatchFiles || len(st.files) == 0 {
		return false
	}
	return left*st.events/len(st.files) < batchEvents/8
}

// transaction streams files into ct_events until more says stop, removes the duplicates, records the
// files and commits, all in one transaction. It returns nothing when there were no files left.
func (w *writer) transaction(ctx context.Context, batch int, more func() bool, hook func(string, int)) ([]FileResult, error) {
	st := w.stream
	// Without insertion order DuckDB inserts on all its threads (measured: 1.2-1.5x faster, the same file
	// size). The setting is the database's, so it is lifted for the transaction only; row order means
	// nothing here (which of two copies of an event is kept is not specified).
	if _, err := w.conn.ExecContext(ctx, `SET preserve_insertion_order = false`); err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	defer w.conn.ExecContext(context.Background(), `RESET preserve_insertion_order`) //nolint:errcheck // best effort, after the transaction ends
	tx, err := w.conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("ingest: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit this is a no-op
	var first int64
	if err := tx.QueryRowContext(ctx, firstNewRowSQL).Scan(&first); err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	st.reset(ctx, more)
	t0 := time.Now()
	_, err = tx.ExecContext(ctx, insertSQL)
	st.free()
	if err != nil {
		if st.failure != nil {
			err = st.failure
		}
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return nil, err
		}
		return nil, fmt.Errorf("ingest: store events: %w", err)
	}
	if len(st.files) == 0 {
		return nil, nil
	}
	debugf("batch %d: %d files, %d events: insert %v", batch, len(st.files), st.events, time.Since(t0))
	if hook != nil {
		hook("staged", batch)
	}
	minT, maxT := st.minT, st.maxT
	if minT.IsZero() {
		minT, maxT = time.Unix(0, 0), time.Unix(0, 0)
	}
	repeats := repeatedKeys(st.keys)
	dedup, args := dedupSQL, []any{first, minT, maxT}
	switch {
	case first == 0 && !repeats:
		dedup = ""
	case first == 0:
		dedup, args = dedupNewSQL, []any{first}
	case !repeats:
		dedup = dedupStoredSQL
	}
	deleted := int64(0)
	if dedup != "" {
		res, err := tx.ExecContext(ctx, dedup, args...)
		if err == nil {
			deleted, err = res.RowsAffected()
		}
		if err != nil {
			return nil, fmt.Errorf("ingest: deduplicate: %w", err)
		}
	}
	debugf("batch %d: dedup %v (repeated keys %v, %d deleted)", batch, time.Since(t0), repeats, deleted)
	added := map[string]int{}
	if deleted == 0 {
		for _, pf := range st.files {
			added[pf.obj.URI] += pf.staged
		}
	} else if added, err = addedByObject(ctx, tx, first); err != nil {
		return nil, err
	}
	results := make([]FileResult, len(st.files))
	now := time.Now().UTC()
	for i, pf := range st.files {
		r := FileResult{URI: pf.obj.URI, Status: StatusOK, Events: pf.staged, Added: added[pf.obj.URI],
			Rejected: pf.rejected, Err: pf.err, Warnings: pf.warnings}
		r.Duplicates = r.Events - r.Added
		var errText any
		if pf.err != nil {
			r.Status = StatusFailed
			errText = pf.err.Error()
		}
		var day any
		if k := pf.obj.Layout; k.InLayout {
			day = k.Date()
		}
		if err := w.fapp.AppendRow(pf.obj.URI, pf.obj.Version, pf.obj.Size, nullable(pf.obj.Layout.Account),
			nullable(pf.obj.Layout.Region), day, r.Status, int64(r.Events), int64(r.Added), int64(r.Rejected),
			errText, now); err != nil {
			return nil, fmt.Errorf("ingest: stage file record %s: %w", pf.obj.URI, err)
		}
		results[i] = r
	}
	if err := w.fapp.Flush(); err != nil {
		return nil, fmt.Errorf("ingest: flush file records: %w", err)
	}
	if _, err := tx.ExecContext(ctx, recordFilesSQL); err != nil {
		return nil, fmt.Errorf("ingest: record files: %w", err)
	}
	if hook != nil {
		hook("in-transaction", batch)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("ingest: commit: %w", err)
	}
	if hook != nil {
		hook("committed", batch)
	}
	debugf("batch %d: committed %v", batch, time.Since(t0))
	if _, err := w.conn.ExecContext(ctx, `DELETE FROM stage_files`); err != nil {
		return nil, fmt.Errorf("ingest: clear staging: %w", err)
	}
	return results, nil
}

func addedByObject(ctx context.Context, tx *sql.Tx, first int64) (map[string]int, error) {
	rows, err := tx.QueryContext(ctx, addedSQL, first)
	if err != nil {
		return nil, fmt.Errorf("ingest: count: %w", err)
	}
	defer rows.Close()
	added := map[string]int{}
	for rows.Next() {
		var uri string
		var n int
		if err := rows.Scan(&uri, &n); err != nil {
			return nil, fmt.Errorf("ingest: count: %w", err)
		}
		added[uri] = n
	}
	return added, rows.Err()
}

// nullable stores an empty string as NULL.
func nullable(s string) driver.Value {
	if s == "" {
		return nil
	}
	return s
}
