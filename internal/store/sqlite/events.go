package sqlite

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/gatehouse/gatehouse/internal/store"
)

// AppendEvent inserts e and sets e.ID. IDs come from AUTOINCREMENT, so they
// only ever increase, even after the newest events are deleted.
func (q *queries) AppendEvent(ctx context.Context, e *store.Event) error {
	ctxJSON := []byte("{}")
	if len(e.Context) > 0 {
		var err error
		if ctxJSON, err = json.Marshal(e.Context); err != nil {
			return fmt.Errorf("append %s event: encode context: %w", e.Action, err)
		}
	}
	var id int64
	err := q.write.QueryRowContext(ctx, `INSERT INTO events (time, action, outcome, actor_username, actor_type,
		client_ip, target_kind, target_name, context) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		micros(e.Time), e.Action, e.Outcome, e.ActorUsername, e.ActorType, e.ClientIP, e.TargetKind, e.TargetName,
		string(ctxJSON)).Scan(&id)
	if err != nil {
		return fmt.Errorf("append %s event: %w", e.Action, mapErr(err))
	}
	e.ID = id
	return nil
}

// ListEvents lists events newest first. Since is inclusive, Until
// exclusive: [Since, Until).
func (q *queries) ListEvents(ctx context.Context, f store.EventFilter) ([]store.Event, error) {
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
	rows, err := q.read.QueryContext(ctx, `SELECT id, time, action, outcome, actor_username, actor_type,
		client_ip, target_kind, target_name, context FROM events`+w.String()+` ORDER BY id DESC LIMIT ?`,
		append(w.args, limitArg(f.Limit))...)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	defer rows.Close()
	var out []store.Event
	for rows.Next() {
		var (
			e       store.Event
			t       int64
			ctxJSON string
		)
		if err := rows.Scan(&e.ID, &t, &e.Action, &e.Outcome, &e.ActorUsername, &e.ActorType,
			&e.ClientIP, &e.TargetKind, &e.TargetName, &ctxJSON); err != nil {
			return nil, fmt.Errorf("list events: %w", err)
		}
		e.Time = fromMicros(t)
		if ctxJSON != "" && ctxJSON != "{}" {
			if err := json.Unmarshal([]byte(ctxJSON), &e.Context); err != nil {
				return nil, fmt.Errorf("list events: decode context of event %d: %w", e.ID, err)
			}
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return out, nil
}
