package sqlite

// These tests cover what is particular to SQLite. The behaviour shared
// with the other backends is tested by the conformance suite in
// internal/store/storetest, which runs on this package too.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"modernc.org/sqlite"

	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/migrate"
)

func openTemp(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// SchemaVersion reports the highest applied migration (0: none): what
// the tests read of schema_migrations.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var exists int
	if err := s.reader.QueryRowContext(ctx,
		`SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'`).Scan(&exists); err != nil {
		return 0, fmt.Errorf("sqlite: schema version: %w", err)
	}
	if exists == 0 {
		return 0, nil
	}
	var v int
	if err := s.reader.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("sqlite: schema version: %w", err)
	}
	return v, nil
}

func openMigrated(t *testing.T) *Store {
	t.Helper()
	s := openTemp(t)
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return s
}

func TestOpenDoesNotMigrate(t *testing.T) {
	t.Parallel()
	s := openTemp(t)
	v, err := s.SchemaVersion(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if v != 0 {
		t.Fatalf("schema version after Open = %d, want 0", v)
	}
	if _, err := s.GetUser(t.Context(), "alice"); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetUser on an unmigrated database: %v, want a missing-table error", err)
	}
}

func TestMigrateFromEmpty(t *testing.T) {
	t.Parallel()
	s := openTemp(t)
	ctx := t.Context()
	for i := range 3 { // the second and third runs are no-ops
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("Migrate #%d: %v", i+1, err)
		}
		v, err := s.SchemaVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if v != migrate.Latest() {
			t.Fatalf("schema version after Migrate #%d = %d, want %d", i+1, v, migrate.Latest())
		}
		var n int
		if err := s.reader.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != migrate.Latest() {
			t.Fatalf("schema_migrations has %d rows, want %d", n, migrate.Latest())
		}
	}
	for _, table := range []string{"users", "groups", "group_members", "roles", "role_permissions",
		"role_user_assignments", "role_group_assignments", "user_permissions", "tokens", "token_keys",
		"events", "settings"} {
		var n int
		if err := s.reader.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name = ?`, table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("table %s missing", table)
		}
	}
	// The schema is sound: no foreign key points at a missing column or
	// table (foreign_key_check reports violations and fails on a broken
	// definition).
	if _, err := s.reader.ExecContext(ctx, `PRAGMA foreign_key_check`); err != nil {
		t.Fatalf("foreign_key_check: %v", err)
	}
}

// TestConcurrentMigrate: several processes (here: stores with their own
// connections) migrating one file at once all succeed and apply each
// migration once.
func TestConcurrentMigrate(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	const n = 4
	stores := make([]*Store, n)
	for i := range stores {
		s, err := Open(t.Context(), path)
		if err != nil {
			t.Fatalf("Open #%d: %v", i, err)
		}
		t.Cleanup(func() { s.Close() })
		stores[i] = s
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, s := range stores {
		wg.Go(func() { errs[i] = s.Migrate(t.Context()) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate #%d: %v", i, err)
		}
	}
	var rows int
	if err := stores[0].reader.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM schema_migrations`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != migrate.Latest() {
		t.Fatalf("schema_migrations has %d rows, want %d", rows, migrate.Latest())
	}
}

func TestMigrateRejectsNewerSchema(t *testing.T) {
	t.Parallel()
	s := openMigrated(t)
	if _, err := s.writer.ExecContext(t.Context(), `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'future', 0)`,
		migrate.Latest()+1); err != nil {
		t.Fatal(err)
	}
	err := s.Migrate(t.Context())
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("Migrate on a newer schema: %v, want an error", err)
	}
}

// TestPragmasOnEveryConnection holds every connection of both pools at
// once and checks each has the settings durability and integrity rest on.
func TestPragmasOnEveryConnection(t *testing.T) {
	t.Parallel()
	s := openMigrated(t)
	ctx := t.Context()
	check := func(db *sql.DB, n int, queryOnly int) {
		t.Helper()
		var conns []*sql.Conn
		for range n {
			c, err := db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
		}
		for i, c := range conns {
			for pragma, want := range map[string]string{
				"journal_mode": "wal",
				"foreign_keys": "1",
				"synchronous":  "2", // FULL
				"busy_timeout": strconv.Itoa(busyTimeoutMillis),
				"query_only":   strconv.Itoa(queryOnly),
			} {
				var got string
				if err := c.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
					t.Fatalf("conn %d: PRAGMA %s: %v", i, pragma, err)
				}
				if got != want {
					t.Errorf("conn %d: %s = %s, want %s", i, pragma, got, want)
				}
			}
		}
		for _, c := range conns {
			c.Close()
		}
	}
	check(s.reader, readerConns, 1)
	check(s.writer, 1, 0)
}

func TestReaderRefusesWrites(t *testing.T) {
	t.Parallel()
	s := openMigrated(t)
	if _, err := s.reader.ExecContext(t.Context(), `INSERT INTO settings (key, value) VALUES ('k', 'v')`); err == nil {
		t.Fatal("a write on the reader pool succeeded")
	}
}

func TestDataSurvivesReopen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	ctx := t.Context()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	u := store.User{UID: "3f1c5a4e-0000-4000-8000-000000000001", Username: "alice", Type: store.TypeHuman, IsActive: true,
		CreatedAt: time.Date(2025, 1, 2, 3, 4, 5, 6000, time.UTC)}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + "-wal"); !os.IsNotExist(err) {
		t.Errorf("WAL left after Close (stat: %v); the last close should checkpoint and remove it", err)
	}
	s, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.GetUser(ctx, "alice")
	if err != nil {
		t.Fatalf("GetUser after reopening: %v", err)
	}
	if got.UID != u.UID || !got.CreatedAt.Equal(u.CreatedAt) {
		t.Fatalf("user after reopening: %+v", got)
	}
}

// TestFileMode: the database holds password and key hashes, so a new file
// (and its WAL) is readable by its owner only.
func TestFileMode(t *testing.T) {
	t.Parallel()
	s := openMigrated(t)
	if err := s.PutSetting(t.Context(), "k", "v"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{s.Path(), s.Path() + "-wal"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if mode := fi.Mode().Perm(); mode != 0o600 {
			t.Errorf("%s has mode %o, want 600", filepath.Base(p), mode)
		}
	}
}

func TestPathWithURICharacters(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "a dir?with#odd%20chars&_pragma=x")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "gate house?.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	defer s.Close()
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database not at the given path: %v", err)
	}
	if s.Path() != path {
		t.Fatalf("Path() = %q, want %q", s.Path(), path)
	}
}

// TestWritersAcrossProcesses: two stores on one file stand for two
// processes. Their read-modify-write transactions must neither fail with
// SQLITE_BUSY (BEGIN IMMEDIATE takes the write lock up front, and
// busy_timeout waits for it) nor lose an update.
func TestWritersAcrossProcesses(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	ctx := t.Context()
	var stores []*Store
	for range 2 {
		s, err := Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		stores = append(stores, s)
	}
	if err := stores[0].PutSetting(ctx, "counter", "0"); err != nil {
		t.Fatal(err)
	}
	const perWorker, workersPerStore = 20, 3
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for _, s := range stores {
		for range workersPerStore {
			wg.Go(func() {
				for range perWorker {
					err := s.InTx(ctx, func(q store.Queries) error {
						v, err := q.GetSetting(ctx, "counter")
						if err != nil {
							return err
						}
						n, _ := strconv.Atoi(v)
						return q.PutSetting(ctx, "counter", strconv.Itoa(n+1))
					})
					if err != nil {
						mu.Lock()
						errs = append(errs, err)
						mu.Unlock()
					}
				}
			})
		}
	}
	wg.Wait()
	for _, err := range errs {
		t.Errorf("InTx: %v", err)
	}
	v, err := stores[1].GetSetting(ctx, "counter")
	if err != nil {
		t.Fatal(err)
	}
	if want := strconv.Itoa(len(stores) * workersPerStore * perWorker); v != want {
		t.Fatalf("counter = %s, want %s", v, want)
	}
}

// TestConstraintErrors: sentinels for errors.Is, the driver error for
// errors.As, and no secret in the message.
func TestConstraintErrors(t *testing.T) {
	t.Parallel()
	s := openMigrated(t)
	ctx := t.Context()
	const secretHash = "$argon2id$v=19$m=65536,t=3,p=4$c2VjcmV0c2FsdA$c2VjcmV0aGFzaA"
	u := store.User{UID: "3f1c5a4e-0000-4000-8000-000000000001", Username: "alice", Type: store.TypeHuman,
		PasswordHash: secretHash, CreatedAt: time.Now()}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	u.UID = "3f1c5a4e-0000-4000-8000-000000000002"
	err := s.CreateUser(ctx, u)
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate username: %v", err)
	}
	var se *sqlite.Error
	if !errors.As(err, &se) {
		t.Fatalf("duplicate username: %v does not wrap the driver error", err)
	}
	if strings.Contains(err.Error(), secretHash) || strings.Contains(err.Error(), "c2VjcmV0") {
		t.Fatalf("error message contains the password hash: %v", err)
	}
	if !strings.Contains(err.Error(), `"alice"`) {
		t.Errorf("error message lacks context: %v", err)
	}

	hash := []byte("very-secret-key-hash-bytes")
	tok := store.Token{UID: "3f1c5a4e-0000-4000-8000-000000000003", Identifier: "t", UserUID: "3f1c5a4e-0000-4000-8000-000000000001",
		Intent: store.IntentAPI, CreatedAt: time.Now()}
	k := store.TokenKey{Lookup: "lk", Hash: hash, CreatedAt: time.Now()}
	if err := s.CreateToken(ctx, tok, k); err != nil {
		t.Fatal(err)
	}
	tok.UID, tok.Identifier = "3f1c5a4e-0000-4000-8000-000000000004", "t2"
	err = s.CreateToken(ctx, tok, k)
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate lookup: %v", err)
	}
	if strings.Contains(err.Error(), string(hash)) || strings.Contains(err.Error(), fmt.Sprintf("%x", hash)) {
		t.Fatalf("error message contains the key hash: %v", err)
	}
	k.TokenUID, k.Lookup = "3f1c5a4e-0000-4000-8000-00000000dead", "lk2"
	err = s.AddTokenKey(ctx, k)
	if !errors.Is(err, store.ErrNotFound) || !errors.As(err, &se) {
		t.Fatalf("key of a missing token: %v, want ErrNotFound wrapping the driver error", err)
	}
}

// TestEventIDsNeverReused: AUTOINCREMENT keeps IDs increasing even when
// the newest events are deleted (by retention), so keyset pagination and
// SIEM cursors never see an ID twice.
func TestEventIDsNeverReused(t *testing.T) {
	t.Parallel()
	s := openMigrated(t)
	ctx := t.Context()
	e1 := store.Event{Time: time.Now(), Action: "a", Outcome: "success", Seq: 1, Hash: "h1"}
	if err := s.AppendEvent(ctx, &e1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.writer.ExecContext(ctx, `DELETE FROM events`); err != nil {
		t.Fatal(err)
	}
	e2 := store.Event{Time: time.Now(), Action: "b", Outcome: "success", Seq: 2, Hash: "h2"}
	if err := s.AppendEvent(ctx, &e2); err != nil {
		t.Fatal(err)
	}
	if e2.ID <= e1.ID {
		t.Fatalf("event ID %d reused after %d was deleted", e2.ID, e1.ID)
	}
}

// TestQueryPlans checks that the hot and sweeping queries use indexes
// rather than scanning a table: they must stay fast with a million tokens.
func TestQueryPlans(t *testing.T) {
	t.Parallel()
	s := openMigrated(t)
	for _, c := range []struct {
		name  string
		query string
		args  []any
	}{
		{"LookupKey", lookupKeyQuery, []any{"lk"}},
		{"TouchTokens", touchToken, []any{"uid", int64(1), nil}},
		{"ExpiredTokens", expiredTokensQuery, []any{store.IntentAPI, int64(1), 10}},
		{"ManagedTokensExpiringBefore", managedExpiringQuery, []any{store.IntentAPI, int64(1), 10}},
		{"DeleteTokenKeysBefore", deleteKeysBeforeQuery, []any{int64(1)}},
		{"UserGrants", userGrantsQuery, []any{"uid"}},
		{"ListChainedEvents", chainedEventsQuery, []any{int64(1), 1000}},
		{"PruneEvents", pruneFirstKeptQuery, []any{int64(1), int64(0)}},
	} {
		rows, err := s.reader.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+c.query, c.args...)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		for _, step := range plan {
			// "SCAN m" over a CTE's own rows is fine; a SCAN of a table is not.
			if strings.HasPrefix(step, "SCAN ") && !strings.HasPrefix(step, "SCAN my_") {
				t.Errorf("%s scans a table: %q\nplan: %q", c.name, step, plan)
			}
		}
	}
}

// BenchmarkLookupKey measures the credential lookup on a database with a
// million tokens (and keys). Building it takes some seconds.
func BenchmarkLookupKey(b *testing.B) {
	const tokens = 1_000_000
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	setup := []string{
		`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
		 INSERT INTO users (uid, username, type, created_at) SELECT 'u' || i, 'user' || i, 'human', 0 FROM n`,
		fmt.Sprintf(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d)
		 INSERT INTO tokens (uid, identifier, user_uid, intent, created_at, expiring, expires_at)
		 SELECT 't' || i, 'token' || i, 'u' || (i %% 1000 + 1), 'api', 0, 1, i FROM n`, tokens),
		`INSERT INTO token_keys (lookup, token_uid, hash, created_at)
		 SELECT 'lk' || substr(uid, 2), uid, randomblob(32), 0 FROM tokens`,
	}
	for _, q := range setup {
		if _, err := s.writer.ExecContext(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	i := 0
	for b.Loop() {
		i = i*7919%tokens + 1
		if _, _, err := s.LookupKey(ctx, "lk"+strconv.Itoa(i)); err != nil {
			b.Fatal(err)
		}
	}
}
