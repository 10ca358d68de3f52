package postgres

import (
	"context"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gatehouse/gatehouse/internal/store"
)

// Retry policy of serializable transactions (see InTx).
const (
	// maxTxAttempts bounds the attempts of one transaction.
	maxTxAttempts = 10
	// exclusiveFromAttempt is the first attempt that runs alone (holding
	// the transaction gate exclusively). Earlier attempts are optimistic.
	exclusiveFromAttempt = 4
	// backoffBase and backoffCap bound the jittered pause between
	// optimistic attempts; exclusive attempts need no pause, they queue
	// on the gate.
	backoffBase = 2 * time.Millisecond
	backoffCap  = 20 * time.Millisecond
)

// cleanupTimeout bounds the rollback (and gate release) of an abandoned
// transaction. It runs on a context detached from the caller's
// cancellation: a transaction abandoned because its context ended must
// still be rolled back and its gate released, or the connection is closed.
const cleanupTimeout = 5 * time.Second

// txGateClass is the first key of the transaction gate's advisory lock
// ("gtx" in ASCII); the second is a hash of the schema, so that stores on
// different schemas do not share a gate. Migrate's lock has its own class.
const txGateClass int32 = 0x00677478

// txState is what a transaction's queries report back to the retry loop.
type txState struct {
	// retry is set when any statement failed with a serialization failure
	// or deadlock. fn may wrap, replace or (wrongly) swallow that error,
	// and every later statement fails with "current transaction is
	// aborted"; the flag still tells InTx that running fn again may work.
	retry atomic.Bool
}

// InTx runs fn in one SERIALIZABLE transaction: committed when fn returns
// nil, rolled back when it returns an error or panics (the panic then
// continues). Serializable isolation makes every read-modify-write in fn
// safe against concurrent transactions without explicit locks: when
// PostgreSQL cannot order the transaction among concurrent ones it fails
// it with a serialization failure (40001), or a deadlock (40P01), and InTx
// runs fn again in a new transaction.
//
// Retries are bounded, and contention between transactions cannot
// livelock them. Every transaction holds a "gate", an advisory lock of
// this schema: shared on the first attempts, which run concurrently and
// optimistically, retrying after a short jittered pause; exclusive from
// the fourth attempt, which therefore waits for the transactions in flight
// and runs with no other transaction of any gatehouse instance beside it
// (briefly holding up the others), so it can only fail on a conflict with
// one of the Store's non-transactional statements. The shared gate travels
// with BEGIN and is released by COMMIT: it costs no extra round trip.
//
// So fn must be safe to run more than once: it may only change the
// database through q, and anything else it changes (captured variables)
// must be reset at its start or simply overwritten. fn must use q from its
// own goroutine only. It must not call InTx, and should not call the
// Store's own methods: they run outside the transaction, on another
// connection from the same pool, and a nested transaction that escalates
// would wait for the gate its caller holds until the query timeout.
//
// As in any PostgreSQL transaction, a statement that fails with an error
// aborts the transaction, and later statements fail too. The Queries
// methods report the ordinary outcomes (a name taken, a row missing) as
// store.ErrConflict and store.ErrNotFound without such a failure, so fn
// can go on after them; after any other error fn should return it (if it
// returns nil instead, the commit fails with pgx.ErrTxCommitRollback).
func (s *Store) InTx(ctx context.Context, fn func(q store.Queries) error) error {
	return s.runTx(ctx, func(q *queries) error { return fn(q) })
}

// runTx is InTx for this package's own multi-statement writes.
func (s *Store) runTx(ctx context.Context, fn func(q *queries) error) error {
	for attempt := 1; ; attempt++ {
		exclusive := attempt >= exclusiveFromAttempt
		retry, err := s.txOnce(ctx, fn, exclusive)
		if err == nil || !retry {
			return err
		}
		if attempt == maxTxAttempts {
			return fmt.Errorf("postgres: transaction still conflicting after %d attempts: %w", attempt, err)
		}
		if exclusive {
			continue
		}
		t := time.NewTimer(backoff(attempt))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("postgres: transaction abandoned while waiting to retry (%w) after: %w", ctx.Err(), err)
		case <-t.C:
		}
	}
}

// backoff is the pause before attempt+1: uniformly random up to an
// exponentially growing bound ("full jitter"), so that the transactions
// that lost a round do not all come back at once.
func backoff(attempt int) time.Duration {
	bound := min(backoffCap, backoffBase<<min(attempt-1, 16))
	return time.Duration(rand.Int64N(int64(bound)) + 1)
}

// gateKey is the second key of the transaction gate: a hash of the schema
// name (0 without one).
func gateKey(schema string) int32 {
	if schema == "" {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(schema))
	return int32(h.Sum32())
}

// gateKeys renders the gate's advisory lock keys as SQL arguments. They
// are integers formatted here rather than parameters, so that taking the
// shared gate can share BEGIN's simple-protocol round trip.
func (s *Store) gateKeys() string {
	return "(" + strconv.Itoa(int(txGateClass)) + ", " + strconv.Itoa(int(s.gateKey)) + ")"
}

// txOnce runs one attempt on a connection of its own. retry reports
// whether a failure may go away on another attempt.
//
// An optimistic attempt takes the gate shared, as a transaction-level
// lock right after BEGIN, released by COMMIT or ROLLBACK. An exclusive
// attempt must hold the gate before its transaction takes its snapshot
// (at its first statement), or the transactions it waited for would be
// concurrent with it after all; so it takes a session-level lock before
// BEGIN and releases it after the transaction ends.
func (s *Store) txOnce(ctx context.Context, fn func(q *queries) error, exclusive bool) (retry bool, err error) {
	beginCtx, cancel := s.withTimeout(ctx)
	defer cancel()
	conn, err := s.pool.Acquire(beginCtx)
	if err != nil {
		return false, fmt.Errorf("postgres: begin: acquire connection: %w", err)
	}
	defer conn.Release()

	opts := pgx.TxOptions{BeginQuery: "BEGIN ISOLATION LEVEL SERIALIZABLE; SELECT pg_advisory_xact_lock_shared" + s.gateKeys()}
	if exclusive {
		if _, err := conn.Exec(beginCtx, "SELECT pg_advisory_lock"+s.gateKeys()); err != nil {
			// Interrupted while waiting: nothing is held (pgx closes a
			// connection whose statement was cut short).
			return false, fmt.Errorf("postgres: begin: take the transaction gate: %w", err)
		}
		defer s.releaseGate(ctx, conn)
		opts = pgx.TxOptions{IsoLevel: pgx.Serializable}
	}
	tx, err := conn.BeginTx(beginCtx, opts)
	if err != nil {
		return false, fmt.Errorf("postgres: begin: %w", err)
	}
	// Deferred, so it also runs while a panic in fn unwinds; after a
	// commit it is a no-op.
	defer rollback(ctx, tx)

	st := &txState{}
	if err := fn(&queries{db: tx, store: s, tx: st}); err != nil {
		return st.retry.Load() || retryable(err), err
	}
	commitCtx, cancel := s.withTimeout(ctx)
	defer cancel()
	if err := tx.Commit(commitCtx); err != nil {
		// A serialization failure can surface at commit (when this
		// transaction is the one chosen to break a dependency cycle).
		// pgx.ErrTxCommitRollback means fn returned nil after ignoring a
		// failed statement; st.retry says whether that one was retryable.
		return st.retry.Load() || retryable(err), fmt.Errorf("postgres: commit: %w", err)
	}
	return false, nil
}

// releaseGate releases the exclusive gate taken by txOnce, even when ctx
// is already done. If that fails the connection is closed, which releases
// it on the server: it must not go back to the pool holding the gate.
func (s *Store) releaseGate(ctx context.Context, conn *pgxpool.Conn) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_unlock"+s.gateKeys()); err != nil {
		_ = conn.Conn().Close(ctx)
	}
}

// rollback ends tx if it is still open (after a commit it is a no-op),
// even when ctx is already done. Its error is dropped on purpose: the
// caller is returning the error (or panic) that made it roll back, and a
// failed rollback leaves nothing committed either (pgx then closes the
// connection).
func rollback(ctx context.Context, tx pgx.Tx) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	_ = tx.Rollback(ctx)
}

// atomically runs fn as one transaction: q's own when q is already inside
// one, a new serializable one (with retries) otherwise. The package's
// writes whose correctness needs serializable isolation go through here.
func (q *queries) atomically(ctx context.Context, fn func(q *queries) error) error {
	if q.tx != nil {
		return fn(q)
	}
	return q.store.runTx(ctx, fn)
}
