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
