package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/store"
)

// testSchemaPrefix marks throwaway test schemas, so that leftovers of a
// killed test run are easy to find and drop.
const testSchemaPrefix = "gh_test_"

// testDropTimeout bounds the cleanup's DROP SCHEMA.
const testDropTimeout = 30 * time.Second

// NewTestSchemaStore gives a test its own empty, migrated store in a new
// schema of the database at dsn: tests sharing one PostgreSQL cannot see
// each other's rows. The schema is "gh_test_" and 12 random hex digits.
// cleanup closes the store and drops the schema with everything in it; it
// never fails the test (a leftover schema is harmless), but it does wait
// for the drop.
func NewTestSchemaStore(ctx context.Context, dsn string) (store.Store, func(), error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, nil, fmt.Errorf("postgres: test schema name: %w", err)
	}
	schema := testSchemaPrefix + hex.EncodeToString(b[:])
	// Small pool: many test stores may be open at once against one
	// server's max_connections, and tests need little parallelism.
	s, err := Open(ctx, dsn, Options{Schema: schema, MaxConns: 8, SlowQuery: -1})
	if err != nil {
		return nil, nil, err
	}
	drop := func() {
		s.Close()
		ctx, cancel := context.WithTimeout(context.Background(), testDropTimeout)
		defer cancel()
		// A connection of its own: the store's pool is closed, and its
		// search_path is the schema being dropped.
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return
		}
		defer conn.Close(ctx)
		_, _ = conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`)
	}
	// Migrate creates the schema.
	if err := s.Migrate(ctx); err != nil {
		drop()
		return nil, nil, err
	}
	return s, drop, nil
}
