package postgres

import (
	"context"
	"fmt"
	"testing"

	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
)

// NewTestStore gives a test its own empty, migrated store in a new schema
// of the test PostgreSQL (skips without one), closed and dropped when the
// test ends. Exported for this package's external tests; storetest has
// the same for every other package (it cannot be imported here: it
// imports this package).
func NewTestStore(t testing.TB) *Store {
	t.Helper()
	// Small pool: many test stores may be open at once against one
	// server's max_connections, and tests need little parallelism.
	return pgtest.OpenMigrated(t, func(ctx context.Context, dsn, schema string) (*Store, error) {
		return Open(ctx, dsn, Options{Schema: schema, MaxConns: 8, SlowQuery: -1})
	})
}

// SchemaVersion reports the highest applied migration (0: none): what
// the tests read of schema_migrations.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	// Look first: before the first Migrate the table does not exist, and
	// a query naming it would fail at parse time.
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return 0, fmt.Errorf("postgres: schema version: %w", err)
	}
	if !exists {
		return 0, nil
	}
	var v int
	if err := s.pool.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("postgres: schema version: %w", err)
	}
	return v, nil
}
