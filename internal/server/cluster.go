package server

import (
	"context"

	"github.com/gatehouse/gatehouse/internal/cluster"
	"github.com/gatehouse/gatehouse/internal/store"
)

// FollowChanges keeps this instance in step with others on the same
// PostgreSQL database until ctx ends (see package cluster). On SQLite,
// which serves one instance, it returns at once. The listener is kept in
// the App for health and tests.
func (a *App) FollowChanges(ctx context.Context, opts cluster.Options) {
	feed, ok := a.Store.(store.ChangeFeed)
	if !ok {
		return
	}
	l := cluster.New(feed, a.Store, a.Core.Authenticator(), a.Log, opts)
	a.listener.Store(l)
	l.Run(ctx)
}

// Listener is the change listener, nil before FollowChanges or on SQLite.
func (a *App) Listener() *cluster.Listener { return a.listener.Load() }
