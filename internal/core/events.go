package core

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/store"
)

// EventView is an audit event as the API shows it (and the event stream
// writes it).
type EventView = audit.View

// NewEventView renders a stored event.
func NewEventView(e store.Event) EventView { return audit.NewView(e) }

// EventQuery selects events.
type EventQuery struct {
	Action, Actor, Target string
	Since, Until          string
	Before                int64
	Limit                 int
}

// ListEvents lists audit events, newest first (events.read).
func (s *Events) ListEvents(ctx context.Context, a Actor, eq EventQuery) ([]EventView, error) {
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
	return listOf(ctx, nil, s.store.ListEvents, filter, NewEventView)
}

// VerifyLimit is how many events one verification checks at the most
// by default (about ten seconds' work): a longer chain is checked in
// parts, each going on from where the last stopped.
const VerifyLimit = 1_000_000

// VerifyEvents checks the audit chain (events.read): at most limit events
// (0: VerifyLimit) after seq after (0: from the start). One check runs at
// a time: it reads every event.
func (s *Events) VerifyEvents(ctx context.Context, a Actor, after, limit int64) (audit.Verification, error) {
	if err := s.authorize(ctx, a, authz.EventsRead, audit.Target{Kind: "event"}); err != nil {
		return audit.Verification{}, err
	}
	var f fields
	if after < 0 {
		f.add("after_seq", "must be 0 or more")
	}
	if limit < 0 || limit > 10*VerifyLimit {
		f.add("limit", fmt.Sprintf("must be from 1 to %d", 10*VerifyLimit))
	}
	if err := f.err(); err != nil {
		return audit.Verification{}, err
	}
	if limit == 0 {
		limit = VerifyLimit
	}
	select {
	case s.verifying <- struct{}{}:
		defer func() { <-s.verifying }()
	case <-ctx.Done():
		return audit.Verification{}, ctx.Err()
	}
	return s.audit.Verify(ctx, s.store, after, limit)
}

// ChainLegacyEvents gives the events written before the audit chain
// existed their place in it, once, at the first start on a chain with no
// event yet (before anything else writes).
func (s *Events) ChainLegacyEvents(ctx context.Context) error {
	var n int
	err := s.store.InTx(ctx, func(q store.Queries) error {
		var err error
		n, err = s.audit.ChainLegacy(ctx, q)
		return err
	})
	if err != nil {
		return fmt.Errorf("chain the events from before the audit chain: %w", err)
	}
	if n > 0 {
		s.log.Info("events from before the audit chain are now part of it", "events", n)
	}
	return nil
}

// pruneBatch bounds the events one retention transaction removes.
const pruneBatch = 10_000

// errNothingPruned rolls back a retention transaction that removed
// nothing: it must not write an event or tell other instances of a change.
var errNothingPruned = errors.New("nothing to prune")

// PruneEvents removes events older than the retention period, in
// batches, each with an events_pruned event naming the chain's new base
// so that the rest of the chain still verifies.
func (s *Events) PruneEvents(ctx context.Context) error {
	if s.cfg.EventRetention <= 0 {
		return nil
	}
	before := s.now().Add(-s.cfg.EventRetention)
	for {
		var p store.EventPrune
		err := s.write(ctx, func(q store.Queries, rec func(store.Event)) error {
			var err error
			if p, err = q.PruneEvents(ctx, before, pruneBatch); err != nil {
				return err
			}
			if p.Removed == 0 {
				return errNothingPruned
			}
			rec(s.event(systemActor, audit.ActionEventsPruned, audit.Success, audit.Target{Kind: "event"},
				map[string]any{"removed": p.Removed, "before": before.Format(time.RFC3339),
					"through_seq": p.ThroughSeq, "anchor": p.Anchor, "retention": s.cfg.EventRetention.String()}))
			return nil
		})
		if errors.Is(err, errNothingPruned) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("event retention: %w", err)
		}
		s.log.Info("removed old audit events", "removed", p.Removed, "through_seq", p.ThroughSeq)
		if p.Removed < pruneBatch {
			return nil
		}
	}
}
