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
	conn *duckdb.Connector
}

// Open opens (creating if needed) the database at path. An empty path opens a throw-away in-memory store.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	dsn := path
	params := []string{}
	if opts.ReadOnly && path != "" {
		params = append(params, "access_mode=READ_ONLY")
	}
	if len(params) > 0 {
		dsn += "?" + strings.Join(params, "&")
	}
	init := func(ex driver.ExecerContext) error {
		stmts := []string{
			"SET autoinstall_known_extensions=false",
			"SET autoload_known_extensions=false",
			"SET TimeZone='UTC'",
		}
		if opts.Threads > 0 {
			stmts = append(stmts, "SET threads="+strconv.Itoa(opts.Threads))
		}
		if opts.MemoryLimit != "" {
			stmts = append(stmts, "SET memory_limit='"+strings.ReplaceAll(opts.MemoryLimit, "'", "")+"'")
		}
		for _, s := range stmts {
			if _, err := ex.ExecContext(ctx, s, nil); err != nil {
				return fmt.Errorf("%s: %w", s, err)
			}
		}
		return prestoInit(ctx, ex)
	}
	deadline := time.Now().Add(opts.LockWait)
	var (
		conn *duckdb.Connector
		err  error
	)
	for {
		conn, err = duckdb.NewConnector(dsn, init)
		if err == nil || !isLockErr(err) || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	if err != nil {
		if isLockErr(err) {
			return nil, fmt.Errorf("open %s: the database is in use by another trailwatch process (try again when it finishes, or raise --lock-wait): %w", path, err)
		}
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db := sql.OpenDB(conn)
	s := &Store{DB: db, path: path, conn: conn}
	if err := registerPrestoUDFs(ctx, db); err != nil {
		s.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
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

// Path returns the database file.
func (s *Store) Path() string { return s.path }

// Close closes the database, checkpointing it.
func (s *Store) Close() error {
	err := s.DB.Close()
	if cerr := s.conn.Close(); err == nil {
		err = cerr
	}
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
		return err
	}
	if err != nil {
		return fmt.Errorf("read schema version of %s: %w", s.path, err)
	}
	return s.versionOK(v)
}

func (s *Store) checkVersion(ctx context.Context) error {
	var v string
	err := s.DB.QueryRowContext(ctx, `SELECT value FROM tw_meta WHERE key = 'schema_version'`).Scan(&v)
	if err != nil {
		if _, statErr := os.Stat(s.path); statErr != nil {
			return fmt.Errorf("open %s: no such store (run trailwatch ingest first)", s.path)
		}
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
