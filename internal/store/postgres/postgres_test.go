package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/postgres"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

func open(t *testing.T, dsn string, opts postgres.Options) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), dsn, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func user(name string) store.User {
	var b [8]byte
	rand.Read(b[:])
	return store.User{UID: name + "-" + hex.EncodeToString(b[:]), Username: name, Type: store.TypeHuman,
		IsActive: true, CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
}

// storeWithUser returns a fresh test store holding one user (see user).
func storeWithUser(t *testing.T, name string) (*postgres.Store, store.User) {
	t.Helper()
	s := postgres.NewTestStore(t)
	u := user(name)
	mustNil(t, s.CreateUser(t.Context(), u), "CreateUser")
	return s, u
}

func mustNil(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func TestDialectAndPing(t *testing.T) {
	t.Parallel()
	s := postgres.NewTestStore(t)
	if d := s.Dialect(); d != "postgres" {
		t.Fatalf("Dialect() = %q", d)
	}
	mustNil(t, s.Ping(t.Context()), "Ping")
	if s.Pool() == nil {
		t.Fatal("Pool() is nil")
	}
}

// Two instances starting at once against a fresh schema both migrate
// successfully, and the schema ends with one record per migration.
func TestConcurrentMigrate(t *testing.T) {
	t.Parallel()
	dsn := testenv.Postgres(t)
	schema := pgtest.FreshSchema(t, dsn)
	const instances = 4
	stores := make([]*postgres.Store, instances)
	for i := range stores {
		stores[i] = open(t, dsn, postgres.Options{Schema: schema, MaxConns: 2})
	}
	v, err := stores[0].SchemaVersion(t.Context())
	mustNil(t, err, "SchemaVersion before Migrate")
	if v != 0 {
		t.Fatalf("SchemaVersion before Migrate = %d", v)
	}

	start := make(chan struct{})
	errs := make([]error, instances)
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Go(func() {
			<-start
			errs[i] = s.Migrate(t.Context())
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		mustNil(t, err, "Migrate #"+strconv.Itoa(i))
	}

	var rows, highest int
	err = stores[0].Pool().QueryRow(t.Context(), `SELECT count(*), max(version) FROM schema_migrations`).Scan(&rows, &highest)
	mustNil(t, err, "read schema_migrations")
	if rows != highest || rows == 0 {
		t.Fatalf("schema_migrations has %d rows, highest version %d: want one row per version", rows, highest)
	}
	for _, s := range stores {
		v, err := s.SchemaVersion(t.Context())
		mustNil(t, err, "SchemaVersion")
		if v != highest {
			t.Fatalf("SchemaVersion = %d, want %d", v, highest)
		}
	}
	// Idempotent.
	mustNil(t, stores[1].Migrate(t.Context()), "Migrate again")
	var again int
	mustNil(t, stores[0].Pool().QueryRow(t.Context(), `SELECT count(*) FROM schema_migrations`).Scan(&again), "count")
	if again != rows {
		t.Fatalf("a second Migrate changed schema_migrations from %d to %d rows", rows, again)
	}
	// The tables work.
	mustNil(t, stores[2].CreateUser(t.Context(), user("alice")), "CreateUser")
}

// A database migrated by a newer gatehouse is refused, not run against.
func TestMigrateRefusesNewerSchema(t *testing.T) {
	t.Parallel()
	s := postgres.NewTestStore(t)
	_, err := s.Pool().Exec(t.Context(), `INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future', now())`)
	mustNil(t, err, "insert a future version")
	err = s.Migrate(t.Context())
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("Migrate on a newer schema: %v", err)
	}
}

// Stores in two schemas of one database do not see each other's rows,
// and the same names do not conflict across them.
func TestSchemaIsolation(t *testing.T) {
	t.Parallel()
	a, b := postgres.NewTestStore(t), postgres.NewTestStore(t)
	ua, ub := user("alice"), user("alice")
	mustNil(t, a.CreateUser(t.Context(), ua), "CreateUser in a")
	mustNil(t, b.CreateUser(t.Context(), ub), "CreateUser in b (same name)")
	mustNil(t, a.PutSetting(t.Context(), "k", "a"), "PutSetting in a")

	got, err := a.GetUser(t.Context(), "alice")
	mustNil(t, err, "GetUser in a")
	if got.UID != ua.UID {
		t.Fatalf("a sees user %s, want %s", got.UID, ua.UID)
	}
	if _, err := a.GetUserByUID(t.Context(), ub.UID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a sees b's user: %v", err)
	}
	if _, err := b.GetSetting(t.Context(), "k"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("b sees a's setting: %v", err)
	}
	n, err := b.CountUsers(t.Context())
	mustNil(t, err, "CountUsers in b")
	if n != 1 {
		t.Fatalf("b counts %d users, want 1", n)
	}
	// Every pooled connection has the schema, not just the first.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			conn, err := a.Pool().Acquire(t.Context())
			if err != nil {
				t.Errorf("Acquire: %v", err)
				return
			}
			defer conn.Release()
			var n int
			if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM users`).Scan(&n); err != nil || n != 1 {
				t.Errorf("count on a pooled connection: %d, %v", n, err)
			}
			time.Sleep(10 * time.Millisecond) // hold it, so that others open new ones
		})
	}
	wg.Wait()
}

// waitBlocked waits until n backends are blocked by the one holding tx:
// the statements under test wait for the open transaction.
func waitBlocked(t *testing.T, s *postgres.Store, tx pgx.Tx, n int) {
	t.Helper()
	var blocker int
	mustNil(t, tx.QueryRow(t.Context(), `SELECT pg_backend_pid()`).Scan(&blocker), "pg_backend_pid")
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var waiting int
		err := s.Pool().QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity
			WHERE $1::int = ANY (pg_blocking_pids(pid))`, blocker).Scan(&waiting)
		mustNil(t, err, "pg_blocking_pids")
		if waiting >= n {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("fewer than %d statements ever blocked", n)
}

// raceCommit runs setup in a transaction, then calls concurrently; once
// every call is blocked on the transaction's rows it commits, and returns
// what each call returned.
func raceCommit(t *testing.T, s *postgres.Store, setup func(tx pgx.Tx), calls ...func() error) []error {
	t.Helper()
	ctx := t.Context()
	tx, err := s.Pool().Begin(ctx)
	mustNil(t, err, "Begin")
	defer tx.Rollback(ctx)
	setup(tx)
	done := make([]chan error, len(calls))
	for i, call := range calls {
		done[i] = make(chan error, 1)
		go func() { done[i] <- call() }()
	}
	waitBlocked(t, s, tx, len(calls))
	mustNil(t, tx.Commit(ctx), "Commit")
	errs := make([]error, len(calls))
	for i := range calls {
		errs[i] = <-done[i]
	}
	return errs
}

// wantDriverError fails unless the PostgreSQL error with the code is in
// err's chain.
func wantDriverError(t *testing.T, err error, code string) {
	t.Helper()
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != code {
		t.Fatalf("the driver error %s is not in the chain: %v", code, err)
	}
}

// A name taken by a transaction that commits while the insert waits for
// it is store.ErrConflict, never a raw driver error: whether PostgreSQL
// resolves the race through ON CONFLICT (CreateUser) or by raising a
// unique violation (CreateToken's identifier, checked before the insert).
func TestErrorMappingRacingUniqueViolation(t *testing.T) {
	t.Parallel()
	s, owner := storeWithUser(t, "owner")
	ctx := t.Context()

	first := user("racer")
	tok := store.Token{UID: "t-second", Identifier: "ci", UserUID: owner.UID, Intent: store.IntentAPI, CreatedAt: owner.CreatedAt}
	errs := raceCommit(t, s, func(tx pgx.Tx) {
		_, err := tx.Exec(ctx, `INSERT INTO users (uid, username, type, created_at) VALUES ($1, $2, 'human', now())`, first.UID, first.Username)
		mustNil(t, err, "insert a user in the open transaction")
		_, err = tx.Exec(ctx, `INSERT INTO tokens (uid, identifier, user_uid, intent, created_at) VALUES ('t-first', 'ci', $1, 'api', now())`, owner.UID)
		mustNil(t, err, "insert a token in the open transaction")
	}, func() error { return s.CreateUser(ctx, user("racer")) }, func() error {
		return s.CreateToken(ctx, tok, store.TokenKey{Lookup: "lk", Hash: []byte{1}, CreatedAt: owner.CreatedAt})
	})
	if !errors.Is(errs[0], store.ErrConflict) {
		t.Fatalf("CreateUser racing a committed insert: %v, want ErrConflict", errs[0])
	}
	if !errors.Is(errs[1], store.ErrConflict) {
		t.Fatalf("CreateToken racing a committed insert: %v, want ErrConflict", errs[1])
	}
	wantDriverError(t, errs[1], "23505")
	if _, _, err := s.LookupKey(ctx, "lk"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the losing token's key was written: %v", err)
	}
}

// A foreign key violation (the parent deleted after the statement looked)
// is store.ErrNotFound.
func TestErrorMappingRacingForeignKeyViolation(t *testing.T) {
	t.Parallel()
	s, u := storeWithUser(t, "leaving")
	ctx := t.Context()
	g := store.Group{UID: "g-" + u.UID, Name: "ops", CreatedAt: u.CreatedAt}
	mustNil(t, s.CreateGroup(ctx, g), "CreateGroup")

	err := raceCommit(t, s, func(tx pgx.Tx) {
		_, err := tx.Exec(ctx, `DELETE FROM users WHERE uid = $1`, u.UID)
		mustNil(t, err, "delete in the open transaction")
	}, func() error { return s.AddMember(ctx, g.UID, u.UID) })[0]
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("AddMember racing the user's deletion: %v, want ErrNotFound", err)
	}
	wantDriverError(t, err, "23503")
	members, err := s.ListMembers(ctx, g.UID)
	mustNil(t, err, "ListMembers")
	if len(members) != 0 {
		t.Fatalf("members: %v", members)
	}
}

// Error messages never carry a key's hash, even when the write fails.
func TestErrorsDoNotLeakHashes(t *testing.T) {
	t.Parallel()
	s, u := storeWithUser(t, "alice")
	ctx := t.Context()
	secret := []byte("SECRET-HASH-BYTES")
	tok := store.Token{UID: "t-" + u.UID, Identifier: "ci", UserUID: u.UID, Intent: store.IntentAPI, CreatedAt: u.CreatedAt}
	mustNil(t, s.CreateToken(ctx, tok, store.TokenKey{Lookup: "lk", Hash: secret, CreatedAt: u.CreatedAt}), "CreateToken")
	for _, err := range []error{
		s.AddTokenKey(ctx, store.TokenKey{Lookup: "lk", TokenUID: tok.UID, Hash: secret, CreatedAt: u.CreatedAt}),
		s.CreateToken(ctx, store.Token{UID: "t2", Identifier: "ci", UserUID: u.UID, Intent: store.IntentAPI},
			store.TokenKey{Lookup: "lk2", Hash: secret}),
	} {
		if !errors.Is(err, store.ErrConflict) {
			t.Fatalf("want ErrConflict, got %v", err)
		}
		if strings.Contains(err.Error(), string(secret)) || strings.Contains(err.Error(), hex.EncodeToString(secret)) {
			t.Fatalf("error message carries the hash: %v", err)
		}
	}
}

// TestInTxRetriesSerializationFailures: a transaction whose read is
// overtaken by a write outside any transaction (as the batched last-used
// writes are) fails to serialize, and InTx runs it again on fresh data:
// no update is lost.
func TestInTxRetriesSerializationFailures(t *testing.T) {
	t.Parallel()
	s := postgres.NewTestStore(t)
	ctx := t.Context()
	mustNil(t, s.PutSetting(ctx, "n", "0"), "PutSetting")

	attempts := 0
	err := s.InTx(ctx, func(q store.Queries) error {
		attempts++
		v, err := q.GetSetting(ctx, "n")
		if err != nil {
			return err
		}
		if attempts == 1 {
			// Another connection changes n after this snapshot.
			mustNil(t, s.PutSetting(ctx, "n", "10"), "PutSetting outside the transaction")
		}
		n, _ := strconv.Atoi(v)
		return q.PutSetting(ctx, "n", strconv.Itoa(n+1))
	})
	mustNil(t, err, "InTx")
	v, err := s.GetSetting(ctx, "n")
	mustNil(t, err, "GetSetting")
	if v != "11" || attempts != 2 {
		t.Fatalf("n = %s after %d attempts, want 11 after 2: the overtaken transaction was not retried", v, attempts)
	}
}

// InTx rolls back when fn fails or panics, re-raises the panic, and gives
// the connection back to the pool.
func TestInTxRollback(t *testing.T) {
	t.Parallel()
	s := postgres.NewTestStore(t)
	ctx := t.Context()
	boom := errors.New("boom")
	err := s.InTx(ctx, func(q store.Queries) error {
		if err := q.CreateUser(ctx, user("failed")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx returned %v, want fn's error", err)
	}
	func() {
		defer func() {
			if r := recover(); r != "panic in fn" {
				t.Fatalf("recovered %v, want the panic of fn", r)
			}
		}()
		_ = s.InTx(ctx, func(q store.Queries) error {
			if err := q.CreateUser(ctx, user("panicked")); err != nil {
				return err
			}
			panic("panic in fn")
		})
	}()
	for _, name := range []string{"failed", "panicked"} {
		if _, err := s.GetUser(ctx, name); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("GetUser(%s) after rollback: %v", name, err)
		}
	}
	if n := s.Pool().Stat().AcquiredConns(); n != 0 {
		t.Fatalf("%d connections still acquired after the rollbacks", n)
	}
	// A conflict inside a transaction does not abort it: fn may go on.
	mustNil(t, s.CreateUser(ctx, user("taken")), "CreateUser")
	err = s.InTx(ctx, func(q store.Queries) error {
		if err := q.CreateUser(ctx, user("taken")); !errors.Is(err, store.ErrConflict) {
			t.Errorf("CreateUser(taken) in InTx: %v", err)
		}
		return q.CreateUser(ctx, user("after-conflict"))
	})
	mustNil(t, err, "InTx going on after a conflict")
	if _, err := s.GetUser(ctx, "after-conflict"); err != nil {
		t.Fatalf("GetUser(after-conflict): %v", err)
	}
}

// The slow-query log names the statement and its duration, never its
// arguments.
func TestSlowQueryLogOmitsArguments(t *testing.T) {
	t.Parallel()
	var out testenv.Buffer
	s := open(t, testenv.Postgres(t), postgres.Options{
		SlowQuery: time.Nanosecond, Logger: slog.New(slog.NewTextHandler(&out, nil)),
	})
	const secret = "argon2id-SECRET-ARGUMENT"
	var got string
	mustNil(t, s.Pool().QueryRow(t.Context(), `SELECT $1::text`, secret).Scan(&got), "query")
	log := out.String()
	if !strings.Contains(log, "slow query") || !strings.Contains(log, "SELECT $1::text") {
		t.Fatalf("slow query not logged: %q", log)
	}
	if strings.Contains(log, secret) {
		t.Fatalf("the slow-query log carries an argument: %q", log)
	}
}

// QueryTimeout bounds a call.
func TestQueryTimeout(t *testing.T) {
	t.Parallel()
	// The timeout bounds every call, opening a connection included. It is
	// long enough (2 s) for a busy two-core machine to open connections
	// within it, so the only call that can run into it is the Ping on a
	// pool whose every connection is held. A small pool keeps that short.
	const timeout = 2 * time.Second
	s, err := postgres.Open(t.Context(), testenv.Postgres(t), postgres.Options{MaxConns: 2, QueryTimeout: timeout, SlowQuery: -1})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	size := int(s.Pool().Config().MaxConns)
	held := make([]*pgxpool.Conn, 0, size)
	for range size {
		c, err := s.Pool().Acquire(t.Context())
		if err != nil {
			t.Fatalf("Acquire: %v", err)
		}
		held = append(held, c)
	}
	start := time.Now()
	err = s.Ping(t.Context())
	d := time.Since(start)
	for _, c := range held {
		c.Release()
	}
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Ping on an exhausted pool: %v, want a deadline error", err)
	}
	// It waited for the timeout, not for ever: the lower bound cannot be
	// missed however busy the machine is; the upper bound is generous.
	if d < timeout || d > timeout+30*time.Second {
		t.Fatalf("Ping gave up after %s, want the %s timeout", d, timeout)
	}
	// Released, the pool answers again within the same timeout.
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping after release: %v", err)
	}
}
