package storetest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/postgres"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
)

// Backend makes fresh stores of one kind for tests.
type Backend struct {
	Name string
	// New returns a fresh, migrated, empty store, closed (and its data
	// dropped) when t ends. It skips t when the backend is not available
	// (see testenv).
	New func(t testing.TB) store.Store
}

// Backends lists every storage backend.
func Backends() []Backend {
	return []Backend{
		{Name: "sqlite", New: NewSQLite},
		{Name: "postgres", New: NewPostgres},
	}
}

// Runner is a test or a benchmark: what ForEachBackend runs under.
type Runner[T any] interface {
	testing.TB
	Run(name string, f func(T)) bool
}

// ForEachBackend runs fn as a subtest (or sub-benchmark), named after the
// backend, on a fresh store of each backend. A backend that is not
// available skips its subtest. The subtests are not parallel; fn may call
// t.Parallel.
func ForEachBackend[T Runner[T]](t T, fn func(t T, s store.Store)) {
	t.Helper()
	for _, b := range Backends() {
		t.Run(b.Name, func(t T) {
			fn(t, b.New(t))
		})
	}
}

// NewSQLite gives t a fresh, migrated SQLite store in t.TempDir, closed
// when t ends. Creating and migrating a database takes tens of
// milliseconds (a dozen tables, each creation synced), so the schema is
// built once per process into a template whose bytes every store then
// starts from; Open and Migrate (a no-op by then) still run on each copy.
// The sqlite package's own tests cover migrating an empty file.
func NewSQLite(t testing.TB) store.Store {
	t.Helper()
	tmpl, err := sqliteTemplate()
	if err != nil {
		t.Fatalf("sqlite template: %v", err)
	}
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	if err := os.WriteFile(path, tmpl, 0o600); err != nil {
		t.Fatalf("write sqlite database: %v", err)
	}
	// Not t.Context(): it is cancelled before cleanups run, and the store
	// outlives this call.
	ctx := context.Background()
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("open sqlite store: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close sqlite store: %v", err)
		}
	})
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate sqlite store: %v", err)
	}
	return s
}

// sqliteTemplate returns the bytes of an empty, migrated database file,
// built on first use.
var sqliteTemplate = sync.OnceValues(func() ([]byte, error) {
	dir, err := os.MkdirTemp("", "gatehouse-storetest-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "template.db")
	ctx := context.Background()
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	if err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.Close(); err != nil {
		return nil, err
	}
	// Closing the last connection checkpoints the WAL into the file and
	// deletes it; a WAL left behind would hold part of the schema.
	if _, err := os.Stat(path + "-wal"); !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("template WAL not checkpointed on close (stat: %v)", err)
	}
	return os.ReadFile(path)
})

// NewPostgres opens a store on a schema of its own in the test PostgreSQL
// (GATEHOUSE_TEST_POSTGRES; skips when unset), migrated; the schema is
// dropped when t ends.
func NewPostgres(t testing.TB) store.Store {
	t.Helper()
	// Small pool: many test stores may be open at once against one
	// server's max_connections, and tests need little parallelism.
	return pgtest.OpenMigrated(t, func(ctx context.Context, dsn, schema string) (*postgres.Store, error) {
		return postgres.Open(ctx, dsn, postgres.Options{Schema: schema, MaxConns: 8, SlowQuery: -1})
	})
}

// Exec runs a statement on the store's database behind the store's back,
// as someone with access to the database could (tamper tests). Write
// parameters as $1, $2, ...: they become ?1, ?2, ... on SQLite.
func Exec(t testing.TB, st store.Store, query string, args ...any) {
	t.Helper()
	ctx := context.Background()
	switch s := st.(type) {
	case *sqlite.Store:
		db, err := sql.Open("sqlite", "file:"+s.Path())
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.ExecContext(ctx, dollarParams.ReplaceAllString(query, "?$1"), args...); err != nil {
			t.Fatalf("exec %q: %v", query, err)
		}
	case *postgres.Store:
		if _, err := s.Pool().Exec(ctx, query, args...); err != nil {
			t.Fatalf("exec %q: %v", query, err)
		}
	default:
		t.Fatalf("exec: unknown store %T", st)
	}
}

var dollarParams = regexp.MustCompile(`\$([0-9]+)`)
