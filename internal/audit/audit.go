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

// Log appends events.
type Log struct{}

// New returns an event log.
func New() *Log { return &Log{} }

// Append writes e with q, which must be the transaction of the change.
func (l *Log) Append(ctx context.Context, q store.Queries, e store.Event) error {
	if err := q.AppendEvent(ctx, &e); err != nil {
		return fmt.Errorf("append %s event: %w", e.Action, err)
	}
	return nil
}
