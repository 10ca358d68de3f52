package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// eventChainSQL reads the chain's head and base.
const eventChainSQL = `SELECT seq, hash, base_seq, base_hash FROM event_chain WHERE id = 1`

// EventChain reads the chain's head and base. Inside a transaction (where
// q.read is the transaction) SQLite's single writer already keeps every
// other appender out until it ends.
func (q *queries) EventChain(ctx context.Context) (store.EventChain, error) {
	var c store.EventChain
	if err := q.read.QueryRowContext(ctx, eventChainSQL).Scan(&c.Seq, &c.Hash, &c.BaseSeq, &c.BaseHash); err != nil {
		return c, fmt.Errorf("read the event chain: %w", mapErr(err))
	}
	return c, nil
}

// AppendEvent inserts e and moves the chain head to it, refusing (with
// store.ErrConflict) an event that is not the head's successor. IDs come
// from AUTOINCREMENT, so they only ever increase, even after the newest
// events are deleted.
func (q *queries) AppendEvent(ctx context.Context, e *store.Event) error {
	if e.Seq < 1 || e.Hash == "" {
		return fmt.Errorf("append %s event: not chained (seq %d)", e.Action, e.Seq)
	}
	ctxJSON := []byte("{}")
	if len(e.Context) > 0 {
		var err error
		if ctxJSON, err = json.Marshal(e.Context); err != nil {
			return fmt.Errorf("append %s event: encode context: %w", e.Action, err)
		}
	}
	return q.atomically(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE event_chain SET seq = ?, hash = ? WHERE id = 1 AND seq = ?`,
			e.Seq, e.Hash, e.Seq-1)
		if err != nil {
			return fmt.Errorf("append %s event: move the chain head: %w", e.Action, mapErr(err))
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return fmt.Errorf("append %s event: seq %d does not follow the chain head: %w", e.Action, e.Seq, store.ErrConflict)
		}
		err = tx.QueryRowContext(ctx, `INSERT INTO events (time, action, outcome, actor_username, actor_type,
			client_ip, target_kind, target_name, context, seq, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			micros(e.Time), e.Action, e.Outcome, e.ActorUsername, e.ActorType, e.ClientIP, e.TargetKind, e.TargetName,
			string(ctxJSON), e.Seq, e.Hash).Scan(&e.ID)
		if err != nil {
			return fmt.Errorf("append %s event: %w", e.Action, mapErr(err))
		}
		return nil
	})
}

// chainedEventsQuery walks the chain by its unique seq index.
const chainedEventsQuery = `SELECT ` + eventColumns + ` FROM events WHERE seq > ? ORDER BY seq LIMIT ?`

// pruneFirstKeptQuery finds the first event to keep: the first in the
// chain at or after a time (a range of the time index over the recent
// events only).
const pruneFirstKeptQuery = `SELECT min(seq) FROM events WHERE time >= ? AND seq > ?`

// ListChainedEvents lists chained events after a seq, in chain order.
func (q *queries) ListChainedEvents(ctx context.Context, after int64, limit int) ([]store.Event, error) {
	rows, err := q.read.QueryContext(ctx, chainedEventsQuery, after, limitArg(limit))
	if err != nil {
		return nil, fmt.Errorf("list chained events: %w", err)
	}
	return scanEvents(rows)
}

// PruneEvents removes a prefix of the chain: the events before the
// first one written at or after t, at most limit, and moves the base to
// the last one removed.
func (q *queries) PruneEvents(ctx context.Context, t time.Time, limit int) (store.EventPrune, error) {
	var p store.EventPrune
	err := q.atomically(ctx, func(tx *sql.Tx) error {
		p = store.EventPrune{}
		var base, head int64
		if err := tx.QueryRowContext(ctx, `SELECT base_seq, seq FROM event_chain WHERE id = 1`).Scan(&base, &head); err != nil {
			return fmt.Errorf("read the event chain: %w", mapErr(err))
		}
		var kept sql.NullInt64
		if err := tx.QueryRowContext(ctx, pruneFirstKeptQuery, micros(t), base).Scan(&kept); err != nil {
			return err
		}
		through := head // every event is older
		if kept.Valid {
			through = kept.Int64 - 1
		}
		through = min(through, base+int64(max(limit, 1)))
		if through <= base {
			return nil
		}
		if err := tx.QueryRowContext(ctx, `SELECT hash FROM events WHERE seq = ?`, through).Scan(&p.Anchor); err != nil {
			return fmt.Errorf("read the hash of event seq %d: %w", through, mapErr(err))
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM events WHERE seq <= ?`, through)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		p.Removed, p.ThroughSeq = int(n), through
		_, err = tx.ExecContext(ctx, `UPDATE event_chain SET base_seq = ?, base_hash = ? WHERE id = 1`, through, p.Anchor)
		return err
	})
	if err != nil {
		return p, fmt.Errorf("prune events: %w", mapErr(err))
	}
	return p, nil
}

// UnchainedEvents lists the events without a place in the chain, by ID.
func (q *queries) UnchainedEvents(ctx context.Context, limit int) ([]store.Event, error) {
	rows, err := q.read.QueryContext(ctx, `SELECT `+eventColumns+` FROM events WHERE seq IS NULL ORDER BY id LIMIT ?`, limitArg(limit))
	if err != nil {
		return nil, fmt.Errorf("list unchained events: %w", err)
	}
	return scanEvents(rows)
}

// ChainEvent gives a stored, unchained event its place in the chain.
func (q *queries) ChainEvent(ctx context.Context, e store.Event) error {
	if e.Seq < 1 || e.Hash == "" {
		return fmt.Errorf("chain event %d: no seq or hash", e.ID)
	}
	return q.atomically(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE event_chain SET seq = ?, hash = ? WHERE id = 1 AND seq = ?`, e.Seq, e.Hash, e.Seq-1)
		if err != nil {
			return fmt.Errorf("chain event %d: move the chain head: %w", e.ID, mapErr(err))
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return fmt.Errorf("chain event %d: seq %d does not follow the chain head: %w", e.ID, e.Seq, store.ErrConflict)
		}
		res, err = tx.ExecContext(ctx, `UPDATE events SET seq = ?, hash = ? WHERE id = ? AND seq IS NULL`, e.Seq, e.Hash, e.ID)
		if err != nil {
			return fmt.Errorf("chain event %d: %w", e.ID, mapErr(err))
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return fmt.Errorf("chain event %d: no such unchained event: %w", e.ID, store.ErrConflict)
		}
		return nil
	})
}

// ListEvents lists events newest first. Since is inclusive, Until
// exclusive: [Since, Until).
func (q *queries) ListEvents(ctx context.Context, f store.EventFilter) ([]store.Event, error) {
	query, args := listEventsQuery(f)
	rows, err := q.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return scanEvents(rows)
}

// listEventsQuery is ListEvents' statement and arguments.
func listEventsQuery(f store.EventFilter) (string, []any) {
	var w where
	if f.Action != "" {
		w.add("action = ?", f.Action)
	}
	if f.Actor != "" {
		w.add("actor_username = ?", f.Actor)
	}
	if f.Target != "" {
		w.add("target_name = ?", f.Target)
	}
	if f.Since != nil {
		w.add("time >= ?", micros(*f.Since))
	}
	if f.Until != nil {
		w.add("time < ?", micros(*f.Until))
	}
	if f.Before > 0 {
		w.add("id < ?", f.Before)
	}
	return `SELECT ` + eventColumns + ` FROM events` + w.String() + ` ORDER BY id DESC LIMIT ?`, append(w.args, limitArg(f.Limit))
}

// eventColumns are the columns scanEvents reads.
const eventColumns = `id, time, action, outcome, actor_username, actor_type,
	client_ip, target_kind, target_name, context, COALESCE(seq, 0), hash`

func scanEvents(rows *sql.Rows) ([]store.Event, error) {
	out, err := scanAll(rows, scanEvent)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return out, nil
}

func scanEvent(sc scanner) (store.Event, error) {
	var (
		e       store.Event
		t       int64
		ctxJSON string
	)
	if err := sc.Scan(&e.ID, &t, &e.Action, &e.Outcome, &e.ActorUsername, &e.ActorType,
		&e.ClientIP, &e.TargetKind, &e.TargetName, &ctxJSON, &e.Seq, &e.Hash); err != nil {
		return e, err
	}
	e.Time = fromMicros(t)
	if ctxJSON != "" && ctxJSON != "{}" {
		if err := json.Unmarshal([]byte(ctxJSON), &e.Context); err != nil {
			return e, fmt.Errorf("decode context of event %d: %w", e.ID, err)
		}
	}
	return e, nil
}
