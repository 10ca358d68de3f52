// Package pgtest gives tests a PostgreSQL schema of their own, so that
// tests sharing one server cannot see each other's rows. It is a leaf
// (it does not import the postgres store), so the store's own tests can
// use it as well as storetest.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/testenv"
)

// Prefix marks throwaway test schemas, so that leftovers of a killed test
// run are easy to find and drop.
const Prefix = "gh_test_"

// dropTimeout bounds the cleanup's DROP SCHEMA.
const dropTimeout = 30 * time.Second

// FreshSchema returns the name of a schema that does not exist yet in the
// database at dsn: "gh_test_" and 12 random hex digits. When t ends the
// schema is dropped with everything in it. Register the cleanup of
// anything using the schema after calling FreshSchema, so that it runs
// first (cleanups run last-in first-out). The drop never fails the test
// (a leftover schema is harmless), but it is waited for.
func FreshSchema(t testing.TB, dsn string) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("test schema name: %v", err)
	}
	schema := Prefix + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), dropTimeout)
		defer cancel()
		// A connection of its own: the test's stores are closed by now,
		// and their search_path is the schema being dropped.
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return
		}
		defer conn.Close(ctx)
		_, _ = conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`)
	})
	return schema
}

// store is what OpenMigrated opens: the postgres store, which this
// package cannot name.
type store interface {
	Migrate(ctx context.Context) error
	Close() error
}

// OpenMigrated gives a test a store of its own on the test PostgreSQL
// (GATEHOUSE_TEST_POSTGRES; skips when unset): open opens it on a fresh
// schema, which it migrates; the store is closed and the schema dropped
// when t ends.
func OpenMigrated[S store](t testing.TB, open func(ctx context.Context, dsn, schema string) (S, error)) S {
	t.Helper()
	dsn := testenv.Postgres(t)
	schema := FreshSchema(t, dsn)
	// Not t.Context(): it is cancelled before cleanups run, and the store
	// outlives this call.
	ctx := context.Background()
	s, err := open(ctx, dsn, schema)
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
