package core

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/store"
)

// EventView is an audit event as the API shows it.
type EventView struct {
	ID       int64          `json:"id"`
	Time     time.Time      `json:"time"`
	Action   string         `json:"action"`
	Outcome  string         `json:"outcome"`
	Actor    EventActor     `json:"actor"`
	ClientIP string         `json:"client_ip"`
	Target   EventTarget    `json:"target"`
	Context  map[string]any `json:"context"`
}

// EventActor is who acted.
type EventActor struct {
	Username string `json:"username"`
	Type     string `json:"type"`
}

// EventTarget is what the event is about.
type EventTarget struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
}

// EventView renders a stored event.
func NewEventView(e store.Event) EventView {
	c := e.Context
	if c == nil {
		c = map[string]any{}
	}
	return EventView{ID: e.ID, Time: e.Time, Action: e.Action, Outcome: e.Outcome,
		Actor: EventActor{e.ActorUsername, e.ActorType}, ClientIP: e.ClientIP,
		Target: EventTarget{e.TargetKind, e.TargetName}, Context: c}
}

// EventQuery selects events.
type EventQuery struct {
	Action, Actor, Target string
	Since, Until          string
	Before                int64
	Limit                 int
}

// ListEvents lists audit events, newest first (events.read).
func (s *Service) ListEvents(ctx context.Context, a Actor, eq EventQuery) ([]EventView, error) {
	if err := s.authorize(ctx, a, authz.EventsRead, audit.Target{Kind: "event"}); err != nil {
		return nil, err
	}
	var f fields
	filter := store.EventFilter{Action: eq.Action, Actor: eq.Actor, Target: eq.Target, Before: eq.Before, Limit: eq.Limit}
	parse := func(field, v string) *time.Time {
		if v == "" {
			return nil
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			f.add(field, "must be an RFC 3339 time such as 2030-01-02T15:04:05Z")
			return nil
		}
		t = t.UTC()
		return &t
	}
	filter.Since = parse("since", eq.Since)
	filter.Until = parse("until", eq.Until)
	for field, v := range map[string]string{"action": eq.Action, "actor": eq.Actor, "target": eq.Target} {
		f.maxLen(field, v, 256)
	}
	if err := f.err(); err != nil {
		return nil, err
	}
	evs, err := s.store.ListEvents(ctx, filter)
	if err != nil {
		return nil, err
	}
	out := make([]EventView, len(evs))
	for i, e := range evs {
		out[i] = NewEventView(e)
	}
	return out, nil
}
