// Package postgres is gatehouse's PostgreSQL storage backend, built on
// pgx v5 and its connection pool (no database/sql in between).
//
// Storage conventions: times are timestamptz (microsecond precision; read
// back as UTC time.Time), durations BIGINT nanoseconds, booleans BOOLEAN,
// the event context JSONB, key hashes BYTEA. Every text key and name
// column uses the "C" collation, so that ORDER BY, keyset comparisons
// (name > $after) and uniqueness all work in byte order, the order Go's
// sort.Strings and the SQLite backend use, whatever the database's locale.
//
// Writes made of several statements run in a SERIALIZABLE transaction that
// is retried on serialization failure (see InTx). Statements are shaped so
// that the expected outcomes (a taken name, a vanished parent) are reported
// by row counts rather than by errors wherever that is cheap: inside a
// PostgreSQL transaction a failed statement aborts the whole transaction,
// and a caller that treats ErrConflict as an answer should still be able
// to go on.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gatehouse/gatehouse/internal/store"
)

// Defaults for the zero values of Options.
const (
	// DefaultMaxConns bounds the pool. Queries are short and indexed; a
	// few connections keep a couple of cores busy, and a small pool leaves
	// room in max_connections for other gatehouse instances.
	DefaultMaxConns = 10
	// DefaultConnMaxLifetime recycles connections so that server-side
	// memory (plan caches) and DNS/failover changes are picked up.
	DefaultConnMaxLifetime = time.Hour
	// DefaultQueryTimeout bounds one store call (pool wait included), so
	// that a stuck database turns into errors instead of piling up
	// requests.
	DefaultQueryTimeout = 30 * time.Second
	// DefaultSlowQuery is the threshold of the slow-query log.
	DefaultSlowQuery = 500 * time.Millisecond
)

// Options configure Open. Zero values mean the defaults above; a negative
// QueryTimeout or SlowQuery disables that feature. They take precedence
// over the pool settings a connection URL may carry (pool_max_conns,
// pool_min_conns, pool_max_conn_lifetime), so that the configuration has
// one place.
type Options struct {
	MaxConns        int32
	MinConns        int32
	ConnMaxLifetime time.Duration
	QueryTimeout    time.Duration
	// Schema, when set, is the only schema on every pooled connection's
	// search_path: gatehouse's tables live there (Migrate creates it if
	// needed) and nothing else is visible unqualified.
	Schema string
	// SlowQuery: statements taking longer are logged (SQL text and
	// duration only, never the arguments, which may hold hashes).
	SlowQuery time.Duration
	// Logger receives the slow-query log; nil means slog.Default().
	Logger *slog.Logger
}

// Store is the PostgreSQL backend. It is safe for concurrent use.
type Store struct {
	queries // non-transactional calls run on the pool
	pool    *pgxpool.Pool
	schema  string
	gateKey int32 // see InTx
	timeout time.Duration
	// turn lets one transaction of this process at a time take a pool
	// connection and queue on the gate: the others wait here, holding no
	// connection, so that credential checks and health checks still find
	// one during a burst of writes.
	turn chan struct{}
}

var _ store.Store = (*Store)(nil)

// Open connects to the database at url (a postgres:// URL or a key=value
// DSN) and checks that it answers. It does not migrate: the caller runs
// Migrate.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgconn's parse errors redact the password.
		return nil, fmt.Errorf("postgres: parse connection string: %w", err)
	}
	cfg.MaxConns = DefaultMaxConns
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	if opts.MinConns > 0 {
		cfg.MinConns = min(opts.MinConns, cfg.MaxConns)
	}
	cfg.MaxConnLifetime = DefaultConnMaxLifetime
	if opts.ConnMaxLifetime > 0 {
		cfg.MaxConnLifetime = opts.ConnMaxLifetime
	}
	// Spread reconnections so that a pool opened at once does not
	// reconnect all at once an hour later.
	cfg.MaxConnLifetimeJitter = cfg.MaxConnLifetime / 10
	if opts.Schema != "" {
		// A startup parameter, so it holds on every connection the pool
		// ever opens, and DISCARD ALL / RESET ALL return to it.
		cfg.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{opts.Schema}.Sanitize()
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	slow := DefaultSlowQuery
	if opts.SlowQuery != 0 {
		slow = opts.SlowQuery
	}
	if slow > 0 {
		cfg.ConnConfig.Tracer = &slowQueryTracer{threshold: slow, log: log}
	}
	timeout := DefaultQueryTimeout
	if opts.QueryTimeout != 0 {
		timeout = opts.QueryTimeout
	}

	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: create pool: %w", err)
	}
	s := &Store{pool: pool, schema: opts.Schema, gateKey: gateKey(opts.Schema), timeout: timeout, turn: make(chan struct{}, 1)}
	s.queries = queries{db: pool, store: s}
	if err := s.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// Pool is the underlying connection pool, for what the store interface
// does not cover (LISTEN/NOTIFY).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Dialect implements store.Store.
func (s *Store) Dialect() string { return "postgres" }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// Close waits for acquired connections to be released and closes the
// pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// withTimeout applies the per-call timeout, unless the caller's context
// already ends sooner.
func (s *Store) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.timeout <= 0 {
		return ctx, func() {}
	}
	if d, ok := ctx.Deadline(); ok && time.Until(d) <= s.timeout {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.timeout)
}

// slowQueryTracer logs statements slower than threshold. It logs the SQL
// text, which is a constant of this package, never the arguments.
type slowQueryTracer struct {
	threshold time.Duration
	log       *slog.Logger
}

type traceStartKey struct{}

type traceStart struct {
	at  time.Time
	sql string
}

func (t *slowQueryTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	return context.WithValue(ctx, traceStartKey{}, traceStart{at: time.Now(), sql: data.SQL})
}

func (t *slowQueryTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	st, ok := ctx.Value(traceStartKey{}).(traceStart)
	if !ok {
		return
	}
	d := time.Since(st.at)
	if d < t.threshold {
		return
	}
	attrs := []any{"duration", d, "sql", st.sql}
	// Only the SQLSTATE: a server message may quote a value (a unique
	// violation's detail names the key).
	var pgErr *pgconn.PgError
	if errors.As(data.Err, &pgErr) {
		attrs = append(attrs, "sqlstate", pgErr.Code)
	} else if data.Err != nil {
		attrs = append(attrs, "failed", true)
	}
	t.log.WarnContext(ctx, "postgres: slow query", attrs...)
}
