// Package sqlite is gatehouse's embedded storage backend: one SQLite file,
// opened with the cgo-free modernc.org/sqlite driver.
//
// Two handles share the file. The writer is a pool of exactly one
// connection whose transactions start with BEGIN IMMEDIATE, so a
// transaction takes the write lock before its first read: concurrent
// writers queue on the Go side (and, across processes, on busy_timeout)
// instead of failing with SQLITE_BUSY when a read lock cannot be upgraded,
// and a read-modify-write inside InTx cannot lose an update. The reader is
// a small pool of query_only connections; in WAL mode they read a
// consistent snapshot without blocking the writer or each other.
//
// Storage conventions: times are INTEGER unix microseconds (returned as
// UTC time.Time, exact to the microsecond), durations INTEGER nanoseconds,
// booleans INTEGER 0/1, the event context JSON text, key hashes BLOBs.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/gatehouse/gatehouse/internal/store"
)

// readerConns is the size of the reader pool. Reads are short, indexed
// queries; a few connections are enough to keep every core busy.
const readerConns = 4

// busyTimeoutMillis bounds how long a connection waits for a lock held by
// another process (or, rarely, by a checkpoint) before SQLITE_BUSY.
const busyTimeoutMillis = 10000

// Store is the SQLite backend. It is safe for concurrent use.
type Store struct {
	queries // non-transactional reads go to the reader pool, writes to the writer
	writer  *sql.DB
	reader  *sql.DB
	path    string

	// Statement caches of the two handles, used by the embedded queries.
	preparedWriter *preparedDB
	preparedReader *preparedDB

	stopOnce  sync.Once
	stopStats chan struct{} // closed by Close: keepStatistics returns
	statsDone chan struct{} // closed when it has
}

var _ store.Store = (*Store)(nil)

// Open opens the database at path, creating the file if needed. It does not
// migrate: the caller runs Migrate.
func Open(ctx context.Context, path string) (*Store, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: resolve %q: %w", path, err)
	}
	// Create the file ourselves when it is missing: SQLite would create it
	// world-readable (0644), and it holds password and key hashes. The WAL
	// and shared-memory files SQLite adds inherit the database's mode.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %q: %w", abs, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("sqlite: open %q: %w", abs, err)
	}

	writer, err := sql.Open("sqlite", dsn(abs, false))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open writer %q: %w", abs, err)
	}
	// One connection: SQLite has one writer at a time anyway, and queueing
	// for it in Go is cheaper and fairer than busy-waiting in SQLite.
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	writer.SetConnMaxIdleTime(0)

	// The writer connects first: it switches the file to WAL, which is
	// persistent, before any reader looks at it.
	if err := checkWriter(ctx, writer); err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlite: open %q: %w", abs, err)
	}

	reader, err := sql.Open("sqlite", dsn(abs, true))
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlite: open reader %q: %w", abs, err)
	}
	reader.SetMaxOpenConns(readerConns)
	reader.SetMaxIdleConns(readerConns)
	reader.SetConnMaxLifetime(0)
	reader.SetConnMaxIdleTime(0)
	if err := reader.PingContext(ctx); err != nil {
		reader.Close()
		writer.Close()
		return nil, fmt.Errorf("sqlite: open reader %q: %w", abs, err)
	}

	s := &Store{writer: writer, reader: reader, path: abs,
		preparedWriter: newPreparedDB(writer), preparedReader: newPreparedDB(reader),
		stopStats: make(chan struct{}), statsDone: make(chan struct{})}
	s.queries = queries{read: s.preparedReader, write: s.preparedWriter, store: s}
	go s.keepStatistics()
	return s, nil
}

// Statistics. SQLite's planner knows how many rows an index narrows to
// only from the statistics ANALYZE stores, which it never gathers by
// itself: without them a million-token database is planned as an empty
// one. Migrate runs ANALYZE, every statsEvery PRAGMA optimize runs it
// again for the tables that changed much, and so does Close. Each
// reads at most analysisLimit rows per index (PRAGMA analysis_limit), so
// it takes milliseconds however large the file. The token listings
// choose their indexes themselves (ListTokens) and do not rest on them.
const (
	statsEvery    = time.Hour
	analysisLimit = 1000
)

// analyze runs stmt (ANALYZE, or PRAGMA optimize) on the writer within
// the analysis limit, then closes the idle readers: a connection reads
// the statistics when it loads the schema, so the next ones see the new.
func (s *Store) analyze(ctx context.Context, stmt string) error {
	conn, err := s.writer.Conn(ctx)
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", stmt, err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA analysis_limit = %d", analysisLimit)); err != nil {
		return fmt.Errorf("sqlite: analysis_limit: %w", err)
	}
	if _, err := conn.ExecContext(ctx, stmt); err != nil {
		return fmt.Errorf("sqlite: %s: %w", stmt, mapErr(err))
	}
	s.reader.SetMaxIdleConns(0)
	s.reader.SetMaxIdleConns(readerConns)
	return nil
}

// keepStatistics runs PRAGMA optimize every statsEvery until Close.
func (s *Store) keepStatistics() {
	defer close(s.statsDone)
	t := time.NewTicker(statsEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stopStats:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			_ = s.analyze(ctx, "PRAGMA optimize") // best effort: the next run tries again
			cancel()
		}
	}
}

// dsn builds the driver DSN. The pragmas are DSN parameters so that the
// driver applies them to every connection it opens, not just the first.
//
//   - journal_mode=WAL: readers never block the writer nor the reverse.
//   - synchronous=FULL: the WAL is synced at every commit, so no
//     acknowledged write is lost on power loss (NORMAL would only
//     protect against a process crash).
//   - foreign_keys=ON: cascades and referential checks; off by default in
//     SQLite and per connection.
//   - busy_timeout: wait for locks held by other processes (another
//     gatehouse running Migrate, a backup tool) instead of failing at once.
//   - query_only on readers: a write sent to the reader pool by mistake is
//     an error rather than a write outside the writer's serialisation.
//     The driver runs _pragma values sorted by name, so query_only comes
//     after journal_mode.
//   - _txlock=immediate on the writer: BEGIN IMMEDIATE (see the package
//     documentation).
//
// The path travels as a file: URI so that '?', '#' and '%' in it are not
// mistaken for URI syntax.
func dsn(absPath string, readOnly bool) string {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(absPath)}
	if !strings.HasPrefix(u.Path, "/") {
		// Windows drive paths: file:///C:/...
		u.Path = "/" + u.Path
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMillis))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(ON)")
	if readOnly {
		q.Add("_pragma", "query_only(ON)")
	} else {
		q.Set("_txlock", "immediate")
	}
	// url.URL.String renders "file:///path"; SQLite accepts an empty
	// authority.
	return u.String() + "?" + q.Encode()
}

// checkWriter connects the writer and verifies that the pragmas the
// durability and integrity promises rest on took effect: SQLite silently
// keeps the old journal mode when WAL is not possible (some network file
// systems), and an unknown pragma is silently ignored.
func checkWriter(ctx context.Context, db *sql.DB) error {
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("read journal_mode: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal_mode is %q, want wal (is the file on a file system without shared memory support?)", mode)
	}
	var fk, sync int
	if err := db.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil {
		return fmt.Errorf("read foreign_keys: %w", err)
	}
	if fk != 1 {
		return errors.New("foreign_keys is off")
	}
	if err := db.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil {
		return fmt.Errorf("read synchronous: %w", err)
	}
	if sync != 2 { // FULL
		return fmt.Errorf("synchronous is %d, want 2 (FULL)", sync)
	}
	return nil
}

// Dialect implements store.Store.
func (s *Store) Dialect() string { return "sqlite" }

// Path is the absolute path of the database file.
func (s *Store) Path() string { return s.path }

// Ping checks that both handles can reach the database.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.writer.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping writer: %w", err)
	}
	if err := s.reader.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping reader: %w", err)
	}
	return nil
}

// Close closes both handles. The last connection to close checkpoints the
// WAL into the database file and removes it.
func (s *Store) Close() error {
	s.stopOnce.Do(func() { close(s.stopStats) })
	<-s.statsDone
	// Statistics for the next start, as SQLite advises before closing
	// (best effort: a close must not fail on it).
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	_ = s.analyze(ctx, "PRAGMA optimize")
	cancel()
	// Readers first, so that the writer is the last connection and its
	// close can checkpoint.
	err := errors.Join(
		s.preparedReader.close(), s.reader.Close(),
		s.preparedWriter.close(), s.writer.Close())
	if err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}

// InTx runs fn in one writer transaction (BEGIN IMMEDIATE): committed when
// fn returns nil, rolled back when it returns an error or panics (the panic
// is then re-raised). All of fn's reads and writes run on the transaction,
// so fn sees its own writes and no other writer interleaves.
//
// fn must use only q: calling a write method of the Store itself (or InTx
// again) from inside fn waits for the writer connection fn holds, which
// never comes free.
func (s *Store) InTx(ctx context.Context, fn func(q store.Queries) error) error {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", mapErr(err))
	}
	committed := false
	defer func() {
		if !committed {
			// The rollback error is secondary: fn's error (or panic) is
			// what the caller needs, and a failed rollback leaves nothing
			// committed either.
			_ = tx.Rollback()
		}
	}()
	if err := fn(&queries{read: tx, write: tx, tx: tx}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", mapErr(err))
	}
	committed = true
	return nil
}

// atomically runs fn on one writer transaction: q's own when q is already
// inside InTx, a new one otherwise. Writes made of several statements go
// through here so that they are all-or-nothing.
func (q *queries) atomically(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if q.tx != nil {
		return fn(q.tx)
	}
	tx, err := q.store.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", mapErr(err))
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback() // fn's error is the one that matters
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", mapErr(err))
	}
	return nil
}

// mapErr turns constraint violations into the store's sentinel errors,
// keeping the driver error in the chain for logs: unique and primary-key
// violations are store.ErrConflict, foreign-key violations (the referenced
// row is gone) store.ErrNotFound. SQLite's messages name only the
// constraint's columns, never a value, so no secret can leak through them.
func mapErr(err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return &sentinelError{sentinel: store.ErrConflict, cause: err}
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return &sentinelError{sentinel: store.ErrNotFound, cause: err}
	}
	return err
}

// sentinelError is a driver error classified as one of the store's
// sentinels: errors.Is matches the sentinel, errors.As still reaches the
// driver error.
type sentinelError struct {
	sentinel error
	cause    error
}

func (e *sentinelError) Error() string   { return e.sentinel.Error() + ": " + e.cause.Error() }
func (e *sentinelError) Unwrap() []error { return []error{e.sentinel, e.cause} }
