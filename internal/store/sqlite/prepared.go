package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// preparedDB runs queries through statements prepared once and kept for
// the life of the Store. With SQLite, parsing and planning a statement
// costs more than running a typical indexed query (a key lookup runs in
// about half the time when prepared), and database/sql keeps one prepared
// copy per pooled connection. The set of query texts is bounded by the
// code (list filters combine into a few hundred at most), so the cache
// needs no eviction.
//
// Only the Store's own handles use it: inside a transaction, statements
// run directly on the *sql.Tx, because preparing on the writer's pool
// would wait for the very connection the transaction holds.
type preparedDB struct {
	db    *sql.DB
	mu    sync.RWMutex
	stmts map[string]*sql.Stmt
}

var _ dbtx = (*preparedDB)(nil)

func newPreparedDB(db *sql.DB) *preparedDB {
	return &preparedDB{db: db, stmts: map[string]*sql.Stmt{}}
}

// stmt returns the prepared statement for query, preparing it on first use.
// The lock is not held while preparing: on the writer, preparing waits for
// its single connection.
func (p *preparedDB) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	p.mu.RLock()
	st := p.stmts[query]
	p.mu.RUnlock()
	if st != nil {
		return st, nil
	}
	st, err := p.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if existing := p.stmts[query]; existing != nil {
		st.Close() // another goroutine won the race
		return existing, nil
	}
	p.stmts[query] = st
	return st, nil
}

func (p *preparedDB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := p.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

func (p *preparedDB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := p.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (p *preparedDB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := p.stmt(ctx, query)
	if err != nil {
		// A *sql.Row cannot be built with an error from outside
		// database/sql; running the query unprepared yields the same
		// error (a missing table, a syntax error) in the Row.
		return p.db.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// close closes every prepared statement.
func (p *preparedDB) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	for q, st := range p.stmts {
		errs = append(errs, st.Close())
		delete(p.stmts, q)
	}
	return errors.Join(errs...)
}
