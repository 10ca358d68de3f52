package core

import (
	"context"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/store"
)

// ListUserSessions lists a person's signed-in web sessions (users.read):
// where and when, never the session's ID.
func (s *Sessions) ListUserSessions(ctx context.Context, a Actor, username string) ([]SessionView, error) {
	if err := s.authorize(ctx, a, authz.UsersRead, audit.Target{Kind: audit.KindUser, Name: username}); err != nil {
		return nil, err
	}
	u, err := s.store.GetUser(ctx, username)
	if err != nil {
		return nil, notFound(err, "user", username)
	}
	return s.liveSessions(ctx, u.UID, nil)
}

// EndUserSessions signs a person out of every web session (users.write,
// and no way up: not an account that holds more than the actor). It
// answers how many sessions ended.
func (s *Sessions) EndUserSessions(ctx context.Context, a Actor, username string) (int, error) {
	target := audit.Target{Kind: audit.KindUser, Name: username}
	if err := s.authorize(ctx, a, authz.UsersWrite, target); err != nil {
		return 0, err
	}
	var n int
	err := s.write(ctx, func(q store.Queries, rec func(store.Event)) error {
		u, err := q.GetUser(ctx, username)
		if err != nil {
			return notFound(err, "user", username)
		}
		if err := mayActOn(ctx, q, a, u, authz.UsersWrite, target); err != nil {
			return err
		}
		if n, err = q.DeleteUserSessions(ctx, u.UID, nil); err != nil {
			return err
		}
		if n > 0 {
			rec(s.event(a, audit.ActionSessionsRevoked, audit.Success, target, map[string]any{"sessions": n}))
		}
		return nil
	})
	return n, err
}
