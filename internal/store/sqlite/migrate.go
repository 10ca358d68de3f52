package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/gatehouse/gatehouse/internal/store/migrate"
)

// Migrate brings the database to the latest schema (see package migrate).
// Each migration's transaction is BEGIN IMMEDIATE on the writer, so
// processes migrating the same file at once take turns: the first
// applies, the others then find nothing pending.
//
// Then it gathers the planner's statistics (see analyze): a migration may
// add indexes, and a database loaded or grown since the last start has
// none that fit.
func (s *Store) Migrate(ctx context.Context) error {
	err := migrate.Run(ctx, migrate.SQLite, func(ctx context.Context) (migrate.Tx, error) {
		tx, err := s.writer.BeginTx(ctx, nil)
		if err != nil {
			return nil, err
		}
		return migrateTx{tx}, nil
	})
	if err != nil {
		return err
	}
	return s.analyze(ctx, "ANALYZE")
}

// migrateTx is a writer transaction as the migration runner uses it.
type migrateTx struct{ tx *sql.Tx }

func (t migrateTx) Exec(ctx context.Context, query string, args ...any) error {
	_, err := t.tx.ExecContext(ctx, query, args...)
	return err
}

func (t migrateTx) QueryRow(ctx context.Context, query string, args ...any) migrate.Row {
	return t.tx.QueryRowContext(ctx, query, args...)
}

func (t migrateTx) Commit(context.Context) error { return t.tx.Commit() }

func (t migrateTx) Rollback(context.Context) error {
	if err := t.tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
		return err
	}
	return nil
}
