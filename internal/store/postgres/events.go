package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/store"
)

// EventChain reads the chain's head and base. Inside a transaction it
// locks the row (FOR UPDATE) until commit: appenders on every instance
// take turns, and one whose snapshot predates another's commit fails with
// a serialization failure that InTx retries, so the chain never forks.
func (q *queries) EventChain(ctx context.Context) (store.EventChain, error) {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	sql := `SELECT seq, hash, base_seq, base_hash FROM event_chain WHERE id = 1`
	if q.tx != nil {
		sql += ` FOR UPDATE`
	}
	var c store.EventChain
	if err := q.db.QueryRow(ctx, sql).Scan(&c.Seq, &c.Hash, &c.BaseSeq, &c.BaseHash); err != nil {
		return c, fmt.Errorf("postgres: read the event chain: %w", q.fail(err))
	}
	return c, nil
}

// AppendEvent inserts the event and moves the chain head to it in one
// statement, refusing (store.ErrConflict) an event that is not the head's
// successor; sets e.ID from the identity column, which only grows.
func (q *queries) AppendEvent(ctx context.Context, e *store.Event) error {
	if e.Seq < 1 || e.Hash == "" {
		return fmt.Errorf("postgres: append %s event: not chained (seq %d)", e.Action, e.Seq)
	}
	evCtx := e.Context
	if evCtx == nil {
		evCtx = map[string]any{}
	}
	doc, err := json.Marshal(evCtx)
	if err != nil {
		return fmt.Errorf("postgres: append %s event: encode context: %w", e.Action, err)
	}
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	err = q.db.QueryRow(ctx, `WITH head AS (
			UPDATE event_chain SET seq = $10, hash = $11 WHERE id = 1 AND seq = $10 - 1 RETURNING 1)
		INSERT INTO events (time, action, outcome, actor_username, actor_type,
			client_ip, target_kind, target_name, context, seq, hash)
		SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11 WHERE EXISTS (SELECT 1 FROM head)
		RETURNING id`,
		e.Time, e.Action, e.Outcome, e.ActorUsername, e.ActorType,
		e.ClientIP, e.TargetKind, e.TargetName, string(doc), e.Seq, e.Hash).Scan(&e.ID)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("postgres: append %s event: seq %d does not follow the chain head: %w", e.Action, e.Seq, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("postgres: append %s event: %w", e.Action, q.fail(err))
	}
	return nil
}

// ListChainedEvents lists chained events after a seq, in chain order.
func (q *queries) ListChainedEvents(ctx context.Context, after int64, limit int) ([]store.Event, error) {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	evs, err := queryAll(ctx, q, scanEvent, `SELECT `+eventColumns+` FROM events WHERE seq > $1 ORDER BY seq LIMIT $2`, after, limitOrAll(limit))
	if err != nil {
		return nil, fmt.Errorf("postgres: list chained events: %w", err)
	}
	return evs, nil
}

// PruneEvents removes a prefix of the chain: the events before the
// first one written at or after t, at most limit, and moves the base to
// the last one removed.
func (q *queries) PruneEvents(ctx context.Context, t time.Time, limit int) (store.EventPrune, error) {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	var p store.EventPrune
	err := q.atomically(ctx, func(q *queries) error {
		p = store.EventPrune{}
		var base, head int64
		if err := q.db.QueryRow(ctx, `SELECT base_seq, seq FROM event_chain WHERE id = 1 FOR UPDATE`).Scan(&base, &head); err != nil {
			return q.fail(err)
		}
		var kept *int64
		if err := q.db.QueryRow(ctx, `SELECT min(seq) FROM events WHERE time >= $1 AND seq > $2`, t, base).Scan(&kept); err != nil {
			return q.fail(err)
		}
		through := head // every event is older
		if kept != nil {
			through = *kept - 1
		}
		through = min(through, base+int64(max(limit, 1)))
		if through <= base {
			return nil
		}
		if err := q.db.QueryRow(ctx, `SELECT hash FROM events WHERE seq = $1`, through).Scan(&p.Anchor); err != nil {
			return fmt.Errorf("read the hash of event seq %d: %w", through, q.fail(err))
		}
		tag, err := q.db.Exec(ctx, `DELETE FROM events WHERE seq <= $1`, through)
		if err != nil {
			return q.fail(err)
		}
		p.Removed, p.ThroughSeq = int(tag.RowsAffected()), through
		if _, err := q.db.Exec(ctx, `UPDATE event_chain SET base_seq = $1, base_hash = $2 WHERE id = 1`, through, p.Anchor); err != nil {
			return q.fail(err)
		}
		return nil
	})
	if err != nil {
		return p, fmt.Errorf("postgres: prune events: %w", err)
	}
	return p, nil
}

// UnchainedEvents lists the events without a place in the chain, by ID.
func (q *queries) UnchainedEvents(ctx context.Context, limit int) ([]store.Event, error) {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	evs, err := queryAll(ctx, q, scanEvent, `SELECT `+eventColumns+` FROM events WHERE seq IS NULL ORDER BY id LIMIT $1`, limitOrAll(limit))
	if err != nil {
		return nil, fmt.Errorf("postgres: list unchained events: %w", err)
	}
	return evs, nil
}

// ChainEvent gives a stored, unchained event its place in the chain, in
// one statement.
func (q *queries) ChainEvent(ctx context.Context, e store.Event) error {
	if e.Seq < 1 || e.Hash == "" {
		return fmt.Errorf("postgres: chain event %d: no seq or hash", e.ID)
	}
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	var chained, moved bool
	err := q.db.QueryRow(ctx, `WITH
		ev AS (SELECT id FROM events WHERE id = $1 AND seq IS NULL),
		head AS (UPDATE event_chain SET seq = $2, hash = $3
			WHERE id = 1 AND seq = $2 - 1 AND EXISTS (SELECT 1 FROM ev) RETURNING 1),
		upd AS (UPDATE events SET seq = $2, hash = $3
			WHERE id = $1 AND seq IS NULL AND EXISTS (SELECT 1 FROM event_chain WHERE id = 1 AND seq = $2 - 1) RETURNING 1)
		SELECT EXISTS (SELECT 1 FROM head), EXISTS (SELECT 1 FROM upd)`, e.ID, e.Seq, e.Hash).Scan(&moved, &chained)
	if err != nil {
		return fmt.Errorf("postgres: chain event %d: %w", e.ID, q.fail(err))
	}
	if !moved || !chained {
		return fmt.Errorf("postgres: chain event %d as seq %d: not unchained, or not the head's successor: %w", e.ID, e.Seq, store.ErrConflict)
	}
	return nil
}

// ListEvents returns events newest first. Since is inclusive, Until
// exclusive, so that consecutive windows neither overlap nor leave gaps.
func (q *queries) ListEvents(ctx context.Context, f store.EventFilter) ([]store.Event, error) {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	query, args := listEventsSQL(f)
	evs, err := queryAll(ctx, q, scanEvent, query, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list events: %w", err)
	}
	return evs, nil
}

// listEventsSQL is ListEvents' statement and arguments.
func listEventsSQL(f store.EventFilter) (string, []any) {
	var w where
	if f.Action != "" {
		w.add("action = " + w.arg(f.Action))
	}
	if f.Actor != "" {
		w.add("actor_username = " + w.arg(f.Actor))
	}
	if f.Target != "" {
		w.add("target_name = " + w.arg(f.Target))
	}
	if f.Since != nil {
		w.add("time >= " + w.arg(*f.Since))
	}
	if f.Until != nil {
		w.add("time < " + w.arg(*f.Until))
	}
	if f.Before > 0 {
		w.add("id < " + w.arg(f.Before))
	}
	return `SELECT ` + eventColumns + ` FROM events` + w.sql("id DESC", f.Limit), w.args
}

// eventColumns are the columns scanEvent reads.
const eventColumns = `id, time, action, outcome, actor_username, actor_type,
	client_ip, target_kind, target_name, context, COALESCE(seq, 0), hash`

func scanEvent(r pgx.Row) (store.Event, error) {
	var e store.Event
	var doc []byte
	if err := r.Scan(&e.ID, &e.Time, &e.Action, &e.Outcome, &e.ActorUsername, &e.ActorType,
		&e.ClientIP, &e.TargetKind, &e.TargetName, &doc, &e.Seq, &e.Hash); err != nil {
		return e, err
	}
	e.Time = e.Time.UTC()
	if err := json.Unmarshal(doc, &e.Context); err != nil {
		return e, fmt.Errorf("decode context of event %d: %w", e.ID, err)
	}
	if len(e.Context) == 0 {
		// Stored as {} when the event had none; read back as none.
		e.Context = nil
	}
	return e, nil
}

// limitOrAll is a LIMIT argument: n, or NULL (no limit) when n <= 0.
func limitOrAll(n int) *int {
	if n <= 0 {
		return nil
	}
	return &n
}
