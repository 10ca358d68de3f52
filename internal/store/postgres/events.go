package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/store"
)

// AppendEvent inserts the event and sets e.ID from the identity column,
// which only grows. (IDs are assigned at insert, not at commit: a reader
// may briefly see a later ID before an earlier one's transaction commits.)
func (q *queries) AppendEvent(ctx context.Context, e *store.Event) error {
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
	err = q.db.QueryRow(ctx, `INSERT INTO events (time, action, outcome, actor_username, actor_type,
			client_ip, target_kind, target_name, context)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb) RETURNING id`,
		e.Time, e.Action, e.Outcome, e.ActorUsername, e.ActorType,
		e.ClientIP, e.TargetKind, e.TargetName, string(doc)).Scan(&e.ID)
	if err != nil {
		return fmt.Errorf("postgres: append %s event: %w", e.Action, q.fail(err))
	}
	return nil
}

// ListEvents returns events newest first. Since is inclusive, Until
// exclusive, so that consecutive windows neither overlap nor leave gaps.
func (q *queries) ListEvents(ctx context.Context, f store.EventFilter) ([]store.Event, error) {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
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
	rows, err := q.db.Query(ctx, `SELECT id, time, action, outcome, actor_username, actor_type,
		client_ip, target_kind, target_name, context FROM events`+w.sql("id DESC", f.Limit), w.args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list events: %w", q.fail(err))
	}
	evs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Event, error) {
		var e store.Event
		var doc []byte
		if err := r.Scan(&e.ID, &e.Time, &e.Action, &e.Outcome, &e.ActorUsername, &e.ActorType,
			&e.ClientIP, &e.TargetKind, &e.TargetName, &doc); err != nil {
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
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list events: %w", q.fail(err))
	}
	return evs, nil
}
