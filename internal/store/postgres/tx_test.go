package postgres

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gatehouse/gatehouse/internal/store"
)

// gateLocks counts this store's gate locks held in the database, by mode.
func gateLocks(t *testing.T, s *Store, mode string) int {
	t.Helper()
	var n int
	err := s.Pool().QueryRow(t.Context(), `SELECT count(*) FROM pg_locks
		WHERE locktype = 'advisory' AND classid = $1::int::oid AND objid = $2::bigint::oid
		AND objsubid = 2 AND mode = $3 AND granted`,
		txGateClass, int64(uint32(s.gateKey)), mode).Scan(&n)
	if err != nil {
		t.Fatalf("pg_locks: %v", err)
	}
	return n
}

// Every attempt runs holding the gate exclusively; after repeated
// serialization failures InTx gives up after maxTxAttempts and leaves no
// gate held.
func TestInTxHoldsTheGateAndGivesUp(t *testing.T) {
	t.Parallel()
	s := NewTestStore(t)
	ctx := t.Context()
	serialization := &pgconn.PgError{Code: codeSerializationFailure, Message: "synthetic"}

	attempts := 0
	err := s.InTx(ctx, func(q store.Queries) error {
		attempts++
		if err := q.PutSetting(ctx, "k", "v"); err != nil {
			return err
		}
		if shared, exclusive := gateLocks(t, s, "ShareLock"), gateLocks(t, s, "ExclusiveLock"); shared != 0 || exclusive != 1 {
			t.Errorf("attempt %d: %d shared and %d exclusive gate locks, want 1 exclusive", attempts, shared, exclusive)
		}
		return serialization
	})
	if attempts != maxTxAttempts {
		t.Fatalf("fn ran %d times, want %d", attempts, maxTxAttempts)
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != codeSerializationFailure {
		t.Fatalf("InTx returned %v, want the serialization failure", err)
	}
	if n := gateLocks(t, s, "ShareLock") + gateLocks(t, s, "ExclusiveLock"); n != 0 {
		t.Fatalf("%d gate locks left after InTx", n)
	}
	if _, err := s.GetSetting(ctx, "k"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a failed attempt committed: %v", err)
	}

	// A retry that then succeeds commits once.
	attempts = 0
	err = s.InTx(ctx, func(q store.Queries) error {
		attempts++
		if err := q.PutSetting(ctx, "k", "v"); err != nil {
			return err
		}
		if attempts < 3 {
			return serialization
		}
		return nil
	})
	if err != nil || attempts != 3 {
		t.Fatalf("InTx: %v after %d attempts", err, attempts)
	}
	if n := gateLocks(t, s, "ShareLock") + gateLocks(t, s, "ExclusiveLock"); n != 0 {
		t.Fatalf("%d gate locks left after InTx", n)
	}
}

// fn returning nil after ignoring a failed statement does not commit:
// PostgreSQL has aborted the transaction, and InTx says so.
func TestInTxIgnoredFailureDoesNotCommit(t *testing.T) {
	t.Parallel()
	s := NewTestStore(t)
	ctx := t.Context()
	err := s.InTx(ctx, func(q store.Queries) error {
		if err := q.PutSetting(ctx, "k", "v"); err != nil {
			return err
		}
		// jsonb rejects NUL characters: the statement fails.
		ev := &store.Event{Action: "x", Outcome: "success", Context: map[string]any{"bad": "nul\x00"}, Seq: 1, Hash: "h"}
		if err := q.AppendEvent(ctx, ev); err == nil {
			t.Error("AppendEvent with a NUL character succeeded")
		}
		return nil
	})
	if !errors.Is(err, pgx.ErrTxCommitRollback) {
		t.Fatalf("InTx returned %v, want ErrTxCommitRollback", err)
	}
	if _, err := s.GetSetting(ctx, "k"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the aborted transaction committed: %v", err)
	}
}

// TestWaitingTransactionsHoldNoConnection: while one transaction holds the
// gate, the others of the same process wait without a pool connection,
// so that credential checks and health checks still find one.
func TestWaitingTransactionsHoldNoConnection(t *testing.T) {
	t.Parallel()
	s := NewTestStore(t)
	ctx := t.Context()
	release := make(chan struct{})
	var once sync.Once
	// Released on every way out, so a failure does not leave the store's
	// cleanup waiting on a held connection.
	defer once.Do(func() { close(release) })
	started := make(chan struct{})
	done := make(chan error, 6)
	go func() {
		done <- s.InTx(ctx, func(q store.Queries) error {
			close(started)
			<-release
			return q.PutSetting(ctx, "held", "1")
		})
	}()
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("the holding transaction ended before it began: %v", err)
	}
	for i := range 5 {
		go func() {
			done <- s.InTx(ctx, func(q store.Queries) error { return q.PutSetting(ctx, fmt.Sprint("waiter-", i), "1") })
		}()
	}
	time.Sleep(100 * time.Millisecond) // let the waiters queue
	if n := s.Pool().Stat().AcquiredConns(); n > 1 {
		t.Fatalf("%d pool connections held while one transaction runs and five wait, want 1", n)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping while transactions wait: %v", err)
	}
	once.Do(func() { close(release) })
	for range 6 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
