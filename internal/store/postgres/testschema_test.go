package postgres

import (
	"context"
	"testing"

	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

// NewTestStore gives a test its own empty, migrated store in a new schema
// of the test PostgreSQL (skips without one), closed and dropped when the
// test ends. Exported for this package's external tests; storetest has
// the same for every other package (it cannot be imported here: it
// imports this package).
func NewTestStore(t testing.TB) *Store {
	t.Helper()
	dsn := testenv.Postgres(t)
	schema := pgtest.FreshSchema(t, dsn)
	// Not t.Context(): it is cancelled before cleanups run.
	ctx := context.Background()
	// Small pool: many test stores may be open at once against one
	// server's max_connections, and tests need little parallelism.
	s, err := Open(ctx, dsn, Options{Schema: schema, MaxConns: 8, SlowQuery: -1})
	if err != nil {
		t.Fatalf("open postgres test store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	// Migrate creates the schema.
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate postgres test store: %v", err)
	}
	return s
}
