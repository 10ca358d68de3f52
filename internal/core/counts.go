package core

import (
	"context"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Counts is how many objects of each kind there are, as the dashboard
// shows them. A kind the actor may not read is nil: counts say no more
// than the lists they link to.
type Counts struct {
	ServiceAccounts, People, Sessions *int // users.read
	APITokens, AppPasswords           *int // tokens.read or tokens.write
	Groups                            *int // groups.read
	Roles                             *int // roles.read
}

// CountObjects counts what the actor may read (any signed-in actor).
func (s *Service) CountObjects(ctx context.Context, a Actor) (Counts, error) {
	if err := authenticated(a); err != nil {
		return Counts{}, err
	}
	n, err := s.store.CountObjects(ctx, s.clock.Now())
	if err != nil {
		return Counts{}, err
	}
	of := func(v int) *int { return &v }
	var c Counts
	if a.P.Can(authz.UsersRead) {
		c.ServiceAccounts = of(n.UsersByType[store.TypeServiceAccount] + n.UsersByType[store.TypeInternalServiceAccount])
		c.People, c.Sessions = of(n.UsersByType[store.TypeHuman]), of(n.Sessions)
	}
	if a.P.Can(authz.TokensRead) || a.P.Can(authz.TokensWrite) {
		c.APITokens, c.AppPasswords = of(n.TokensByIntent[store.IntentAPI]), of(n.TokensByIntent[store.IntentAppPassword])
	}
	if a.P.Can(authz.GroupsRead) {
		c.Groups = of(n.Groups)
	}
	if a.P.Can(authz.RolesRead) {
		c.Roles = of(n.Roles)
	}
	return c, nil
}
