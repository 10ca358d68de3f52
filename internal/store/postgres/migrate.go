package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/store/migrate"
)

// migrateLockClass is the first key of Migrate's advisory lock ("gate" in
// ASCII). The second key is a hash of the schema name, so instances
// migrating the same schema take turns while different schemas (test
// schemas, or several gatehouse deployments in one database) do not wait
// for each other.
const migrateLockClass int32 = 0x67617465

// Migrate brings the schema to the latest version (see package migrate).
// Each migration's transaction first takes a transaction-scoped advisory
// lock, so instances starting at once take turns: the first applies, the
// others then find nothing pending. The lock is released by the commit
// or rollback, even if the process dies.
//
// When Options.Schema names a schema that does not exist yet, Migrate
// creates it.
//
// Migrate does not apply QueryTimeout: a future migration may rewrite a
// large table. The caller's context bounds it.
func (s *Store) Migrate(ctx context.Context) error {
	return migrate.Run(ctx, migrate.Postgres, s.beginMigration)
}

// beginMigration begins a transaction holding the schema's migration
// lock, the schema created if missing.
func (s *Store) beginMigration(ctx context.Context) (migrate.Tx, error) {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{})
	if err != nil {
		return nil, err
	}
	if err := s.lockForMigration(ctx, tx); err != nil {
		rollback(ctx, tx)
		return nil, err
	}
	return migrateTx{tx}, nil
}

func (s *Store) lockForMigration(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext(COALESCE(NULLIF($2::text, ''), current_schema(), '')))`,
		migrateLockClass, s.schema); err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	if s.schema == "" {
		return nil
	}
	// Look before creating: CREATE SCHEMA IF NOT EXISTS still needs the
	// CREATE privilege on the database, which a deployment whose schema
	// was made by an administrator need not have.
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, s.schema).Scan(&exists); err != nil {
		return fmt.Errorf("look up schema %q: %w", s.schema, err)
	}
	if !exists {
		if _, err := tx.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{s.schema}.Sanitize()); err != nil {
			return fmt.Errorf("create schema %q: %w", s.schema, err)
		}
	}
	return nil
}

// migrateTx is a transaction as the migration runner uses it.
type migrateTx struct{ tx pgx.Tx }

func (t migrateTx) Exec(ctx context.Context, query string, args ...any) error {
	_, err := t.tx.Exec(ctx, query, args...)
	return err
}

func (t migrateTx) QueryRow(ctx context.Context, query string, args ...any) migrate.Row {
	return t.tx.QueryRow(ctx, query, args...)
}

func (t migrateTx) Commit(ctx context.Context) error { return t.tx.Commit(ctx) }

// Rollback after Commit does nothing (pgx answers ErrTxClosed, ignored).
func (t migrateTx) Rollback(ctx context.Context) error {
	rollback(ctx, t.tx)
	return nil
}
