// Package store is trailwatch's embedded DuckDB database: the schema of the Athena CloudTrail table,
// exactly-once ingest of log files, and the Athena (Presto/Trino) SQL surface users query it with.
package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/duckdb/duckdb-go/v2"
)

// DefaultPath is the database file used when neither --db nor TRAILWATCH_DB says otherwise.
const DefaultPath = "trailwatch.duckdb"

// Options configure Open.
type Options struct {
	// ReadOnly opens the database for reading; several read-only processes may share a file.
	ReadOnly bool
	// LockWait is how long to keep retrying while another process holds the database file.
	LockWait time.Duration
	// Threads limits DuckDB's worker threads; 0 means all cores.
	Threads int
	// MemoryLimit caps DuckDB's memory, e.g. "1GB"; empty means DuckDB's default.
	MemoryLimit string
}

// Store is an open database.
type Store struct {
	DB   *sql.DB
	path string
	opts Options
	conn *duckdb.Connector
	wait string // this process's wait file while it waits for the lock, see waitdir.go
	// stream is what tw_stream() reads while an ingest runs, see writer.go.
	stream atomic.Pointer[stream]
	// udfs is set once registerPrestoUDFs has run: later connections can create prestoLateMacros.
	udfs atomic.Bool
}

// Open opens (creating if needed) the database at path. An empty path opens a throw-away in-memory store.
// A read-only open that finds the file locked by a writing trailwatch process asks it to step aside (see
// waitdir.go) and retries for up to opts.LockWait.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	s := &Store{path: path, opts: opts}
	if err := s.connect(ctx, opts.LockWait); err != nil {
		return nil, err
	}
	if !opts.ReadOnly {
		if err := s.migrate(ctx); err != nil {
			s.Close()
			return nil, err
		}
	} else if err := s.checkVersion(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) connect(ctx context.Context, lockWait time.Duration) error {
	s.udfs.Store(false) // a new database instance (yield reconnects) has none yet
	opts := s.opts
	dsn := s.path
	if opts.ReadOnly && s.path != "" {
		if _, err := os.Stat(s.path); err != nil {
			return fmt.Errorf("open %s: no such store (run trailwatch ingest first, or pass --db)", s.path)
		}
		dsn += "?access_mode=READ_ONLY"
	}
	init := func(ex driver.ExecerContext) error {
		stmts := []string{
			"SET autoinstall_known_extensions=false",
			"SET autoload_known_extensions=false",
			"SET TimeZone='UTC'",
			// Return freed memory to the system in the background, rather than keeping it in the allocator's
			// caches: it keeps a long ingest's resident memory flat (measured with make bench).
			"SET allocator_background_threads=true",
		}
		if opts.Threads > 0 {
			stmts = append(stmts, "SET threads="+strconv.Itoa(opts.Threads))
		}
		if opts.MemoryLimit != "" {
			stmts = append(stmts, "SET memory_limit='"+strings.ReplaceAll(opts.MemoryLimit, "'", "")+"'")
		}
		for _, stmt := range stmts {
			if _, err := ex.ExecContext(ctx, stmt, nil); err != nil {
				return fmt.Errorf("%s: %w", stmt, err)
			}
		}
		return prestoInit(ctx, ex, s.udfs.Load())
	}
	deadline := time.Now().Add(lockWait)
	var (
		conn *duckdb.Connector
		err  error
	)
	for {
		conn, err = duckdb.NewConnector(dsn, init)
		if err == nil || !isLockErr(err) || time.Now().After(deadline) {
			break
		}
		if s.wait == "" && s.path != "" {
			s.wait = announceWait(s.path)
		}
		select {
		case <-ctx.Done():
			s.doneWaiting()
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	s.doneWaiting()
	if err != nil {
		if isLockErr(err) {
			return fmt.Errorf("open %s: the store is in use by another process (waited %s; raise --lock-wait): %w", s.path, lockWait, err)
		}
		return fmt.Errorf("open %s: %w", s.path, err)
	}
	db := sql.OpenDB(conn)
	if err := registerPrestoUDFs(ctx, db); err != nil {
		db.Close()
		conn.Close()
		return fmt.Errorf("open %s: %w", s.path, err)
	}
	s.udfs.Store(true)
	s.DB, s.conn = db, conn
	if !opts.ReadOnly {
		if err := s.registerStream(ctx); err != nil {
			s.closeDB()
			return fmt.Errorf("open %s: %w", s.path, err)
		}
	}
	return nil
}

func (s *Store) doneWaiting() {
	if s.wait != "" {
		os.Remove(s.wait)
		s.wait = ""
	}
}

// yield closes the database so that waiting readers can open it, then opens it again, waiting as long as
// ctx allows. It is called by a writer between commits, with no connection in use.
func (s *Store) yield(ctx context.Context) error {
	if err := s.closeDB(); err != nil {
		return fmt.Errorf("close %s for waiting readers: %w", s.path, err)
	}
	return s.connect(ctx, 24*time.Hour)
}

// Path returns the database file.
func (s *Store) Path() string { return s.path }

// Close closes the database, checkpointing it.
func (s *Store) Close() error {
	s.doneWaiting()
	return s.closeDB()
}

func (s *Store) closeDB() error {
	if s.DB == nil {
		return nil
	}
	err := s.DB.Close()
	if cerr := s.conn.Close(); err == nil {
		err = cerr
	}
	s.DB, s.conn = nil, nil
	return err
}

func isLockErr(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "Could not set lock") || strings.Contains(msg, "Conflicting lock")
}

func (s *Store) migrate(ctx context.Context) error {
	for _, stmt := range schemaDDL {
		if _, err := s.DB.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("create schema in %s: %w", s.path, err)
		}
	}
	var v string
	err := s.DB.QueryRowContext(ctx, `SELECT value FROM tw_meta WHERE key = 'schema_version'`).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		_, err = s.DB.ExecContext(ctx, `INSERT INTO tw_meta VALUES ('schema_version', ?)`, strconv.Itoa(SchemaVersion))
	} else if err == nil {
		err = s.versionOK(v)
	} else {
		err = fmt.Errorf("read schema version of %s: %w", s.path, err)
	}
	if err != nil {
		return err
	}
	if err := persistMacros(ctx, s.DB); err != nil {
		return fmt.Errorf("open %s: %w", s.path, err)
	}
	return nil
}

func (s *Store) checkVersion(ctx context.Context) error {
	var v string
	err := s.DB.QueryRowContext(ctx, `SELECT value FROM tw_meta WHERE key = 'schema_version'`).Scan(&v)
	if err != nil {
		return fmt.Errorf("open %s: not a trailwatch store: %w", s.path, err)
	}
	return s.versionOK(v)
}

func (s *Store) versionOK(v string) error {
	if v != strconv.Itoa(SchemaVersion) {
		return fmt.Errorf("open %s: store schema version %s, this trailwatch reads version %d", s.path, v, SchemaVersion)
	}
	return nil
}
