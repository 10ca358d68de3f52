package postgres

import (
	"context"
	"fmt"
	"hash/fnv"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gatehouse/gatehouse/internal/store"
)

// maxTxAttempts bounds the attempts of one transaction (see InTx).
const maxTxAttempts = 10

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
// continues).
//
// Write transactions run one at a time across every instance: each holds
// the "gate", an advisory lock of this schema, taken before BEGIN so that
// the transaction's snapshot already sees every earlier commit. Every
// gatehouse write appends to the audit chain, whose head is one row, so
// two write transactions at once would conflict on it anyway; with
// optimistic concurrency and retries, 8 concurrent writers measured 4.4 to
// 6.1 ms per write, with the gate 2.4 to 3.7 ms (and the chain never
// forks). Reads and credential checks do not take the gate.
//
// Serializable isolation still guards fn's read-modify-writes against the
// Store's non-transactional statements (such as the batched last-used
// writes): when PostgreSQL cannot order the transaction among them it
// fails it with a serialization failure (40001), or a deadlock (40P01),
// and InTx runs fn again in a new transaction, at most maxTxAttempts
// times.
//
// So fn must be safe to run more than once: it may only change the
// database through q, and anything else it changes (captured variables)
// must be reset at its start or simply overwritten. fn must use q from its
// own goroutine only. It must not call InTx, and should not call the
// Store's own methods that write: they run outside the transaction, on
// another connection from the same pool, and one that needs the gate
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
		retry, err := s.txOnce(ctx, fn)
		if err == nil || !retry {
			return err
		}
		if attempt == maxTxAttempts {
			return fmt.Errorf("postgres: transaction still conflicting after %d attempts: %w", attempt, err)
		}
	}
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

// gateKeys renders the gate's advisory lock keys as SQL arguments:
// integers formatted here rather than parameters, so that the lock and
// unlock statements need no preparation round trip.
func (s *Store) gateKeys() string {
	return "(" + strconv.Itoa(int(txGateClass)) + ", " + strconv.Itoa(int(s.gateKey)) + ")"
}

// txOnce runs one attempt on a connection of its own. retry reports
// whether a failure may go away on another attempt. The gate is a
// session-level lock taken before BEGIN (a lock taken inside the
// transaction would come after its snapshot, which would then miss the
// commit it waited for) and released after the transaction ends.
func (s *Store) txOnce(ctx context.Context, fn func(q *queries) error) (retry bool, err error) {
	beginCtx, cancel := s.withTimeout(ctx)
	defer cancel()
	select {
	case s.turn <- struct{}{}:
		defer func() { <-s.turn }()
	case <-beginCtx.Done():
		return false, fmt.Errorf("postgres: begin: wait for this process's turn: %w", beginCtx.Err())
	}
	conn, err := s.pool.Acquire(beginCtx)
	if err != nil {
		return false, fmt.Errorf("postgres: begin: acquire connection: %w", err)
	}
	defer conn.Release()

	if _, err := conn.Exec(beginCtx, "SELECT pg_advisory_lock"+s.gateKeys()); err != nil {
		// Interrupted while waiting: nothing is held (pgx closes a
		// connection whose statement was cut short).
		return false, fmt.Errorf("postgres: begin: take the transaction gate: %w", err)
	}
	defer s.releaseGate(ctx, conn)
	tx, err := conn.BeginTx(beginCtx, pgx.TxOptions{IsoLevel: pgx.Serializable})
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
		// A serialization failure can surface at commit.
		// pgx.ErrTxCommitRollback means fn returned nil after ignoring a
		// failed statement; st.retry says whether that one was retryable.
		return st.retry.Load() || retryable(err), fmt.Errorf("postgres: commit: %w", err)
	}
	return false, nil
}

// releaseGate releases the gate taken by txOnce, even when ctx
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
