// Package audit writes events. Every event is appended inside the same
// transaction as the change it records, so the two commit together or not
// at all; after commit, events may also be copied to a stream (JSON lines)
// for a SIEM.
package audit

import (
	"context"
	"fmt"

	"github.com/gatehouse/gatehouse/internal/store"
)

// Actions.
const (
	ActionLogin         = "login"
	ActionLoginFailed   = "login_failed"
	ActionLogout        = "logout"
	ActionAuthzDenied   = "authz_denied"
	ActionModelCreated  = "model_created"
	ActionModelUpdated  = "model_updated"
	ActionModelDeleted  = "model_deleted"
	ActionTokenCreated  = "token_created"
	ActionTokenRotated  = "token_rotated"
	ActionTokenRevoked  = "token_revoked"
	ActionTokenExpired  = "token_expired"
	ActionTokenUpdated  = "token_updated"
	ActionPasswordSet   = "password_set"
	ActionMemberAdded   = "member_added"
	ActionMemberRemoved = "member_removed"
	ActionRoleAssigned  = "role_assigned"
	ActionRoleRemoved   = "role_unassigned"
	// ActionRecoveryTokenCreated: gatehouse recover minted an
	// administrator's token beside the database, outside every door.
	ActionRecoveryTokenCreated = "recovery_token_created"
)

// Outcomes.
const (
	Success = "success"
	Failure = "failure"
)

// Target kinds.
const (
	KindUser    = "user"
	KindGroup   = "group"
	KindRole    = "role"
	KindToken   = "token"
	KindSetting = "setting"
)

// Target is what an event is about.
type Target struct{ Kind, Name string }

// Log appends events to the chain and copies committed ones to a stream.
type Log struct {
	key    []byte
	stream *Stream
}

// New returns an event log that seals events with key (see ChainKey) and,
// when stream is not nil, copies them there once committed.
func New(key []byte, stream *Stream) *Log { return &Log{key: key, stream: stream} }

// Append seals e as the chain's next event and writes it with q, which
// must be the transaction of the change. It sets e's ID, Seq and Hash.
func (l *Log) Append(ctx context.Context, q store.Queries, e *store.Event) error {
	head, err := q.EventChain(ctx)
	if err != nil {
		return fmt.Errorf("append %s event: %w", e.Action, err)
	}
	e.Time = normalTime(e.Time)
	if err := l.follow(head, e); err != nil {
		return fmt.Errorf("append %s event: %w", e.Action, err)
	}
	if err := q.AppendEvent(ctx, e); err != nil {
		return fmt.Errorf("append %s event: %w", e.Action, err)
	}
	return nil
}

// ChainLegacy gives events written before the chain existed their place
// in it, oldest first, with q (a transaction): once, on a chain that has
// no event yet. After that, an event without a place is one added behind
// the store's back, and Verify reports it. It returns how many it chained.
func (l *Log) ChainLegacy(ctx context.Context, q store.Queries) (int, error) {
	head, err := q.EventChain(ctx)
	if err != nil {
		return 0, err
	}
	if head.Seq != 0 || head.BaseSeq != 0 {
		return 0, nil
	}
	n := 0
	for {
		evs, err := q.UnchainedEvents(ctx, 1000)
		if err != nil {
			return n, err
		}
		if len(evs) == 0 {
			return n, nil
		}
		for i := range evs {
			e := &evs[i]
			if err := l.follow(head, e); err != nil {
				return n, fmt.Errorf("chain event %d: %w", e.ID, err)
			}
			if err := q.ChainEvent(ctx, *e); err != nil {
				return n, err
			}
			head.Seq, head.Hash = e.Seq, e.Hash
			n++
		}
	}
}

// follow gives e the place after head and the hash that chains it there.
func (l *Log) follow(head store.EventChain, e *store.Event) error {
	e.Seq = head.Seq + 1
	var err error
	e.Hash, err = seal(l.key, head.Hash, e)
	return err
}

// Committed hands events whose transaction has committed to the stream.
func (l *Log) Committed(evs ...store.Event) {
	if l.stream != nil {
		l.stream.Emit(evs)
	}
}
