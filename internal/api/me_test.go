package api_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/gatehouse/gatehouse/internal/core"
	"github.com/gatehouse/gatehouse/internal/server/servertest"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
)

// rowCounter counts reads of one account's row by UID outside
// transactions: what /me did on every request before it answered from
// the cached principal.
type rowCounter struct {
	store.Store
	reads atomic.Int64
}

func (c *rowCounter) GetUserByUID(ctx context.Context, uid string) (store.User, error) {
	c.reads.Add(1)
	return c.Store.GetUserByUID(ctx, uid)
}

// rowCounterFeed is rowCounter over a store that also announces changes
// (PostgreSQL), so that the server still follows them.
type rowCounterFeed struct {
	*rowCounter
	store.ChangeFeed
}

// TestMeAnswersFromThePrincipal: once a key is warm, /me reads no account
// row, and yet every change to the account (profile, grants, disabling,
// a login) shows on the very next /me.
func TestMeAnswersFromThePrincipal(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, s store.Store) {
		c := &rowCounter{Store: s}
		var st store.Store = c
		if feed, ok := s.(store.ChangeFeed); ok {
			st = rowCounterFeed{c, feed}
		}
		e := servertest.Start(t, st)
		e.Must(201, e.Admin("POST", "/api/v1/roles", map[string]any{"name": "reader", "permissions": []string{"users.read"}}))
		created := e.Must(201, e.Admin("POST", "/api/v1/service-accounts", map[string]any{
			"username": "loop", "description": "before", "create_group": true, "token_intent": "api",
		})).JSON()
		key := bearer(created["token"].(map[string]any)["key"].(string))
		me := func() map[string]any { return e.Must(200, e.Do("GET", "/api/v1/me", key, nil)).JSON() }

		me()
		before := c.reads.Load()
		for range 20 {
			if m := me(); m["description"] != "before" || m["username"] != "loop" {
				t.Fatalf("me = %v", m)
			}
		}
		if n := c.reads.Load() - before; n != 0 {
			t.Fatalf("20 warm /me read the account row %d times", n)
		}

		e.Must(200, e.Admin("PATCH", "/api/v1/service-accounts/loop", map[string]any{"description": "after"}))
		if m := me(); m["description"] != "after" {
			t.Fatalf("description after the change: %v", m["description"])
		}
		e.Must(204, e.Admin("PUT", "/api/v1/roles/reader/assignments/users/loop", nil))
		if m := me(); fmt.Sprint(m["roles"]) != "[reader]" || fmt.Sprint(m["permissions"]) != "[users.read]" {
			t.Fatalf("roles %v permissions %v after the assignment", m["roles"], m["permissions"])
		}
		e.Must(204, e.Admin("DELETE", "/api/v1/roles/reader/assignments/users/loop", nil))
		if m := me(); fmt.Sprint(m["roles"]) != "[]" || fmt.Sprint(m["permissions"]) != "[]" {
			t.Fatalf("roles %v permissions %v after the removal", m["roles"], m["permissions"])
		}
		e.Must(200, e.Admin("PATCH", "/api/v1/service-accounts/loop", map[string]any{"is_active": false}))
		e.Must(401, e.Do("GET", "/api/v1/me", key, nil))
		e.Must(200, e.Admin("PATCH", "/api/v1/service-accounts/loop", map[string]any{"is_active": true}))
		if m := me(); m["is_active"] != true || m["last_login_at"] != nil {
			t.Fatalf("me after enabling = %v", m)
		}

		// A login stamps last_login_at, which the next /me shows.
		authn := e.App.Core.Authenticator()
		p, err := authn.PrincipalByName(context.Background(), "loop")
		if err != nil {
			t.Fatal(err)
		}
		if err := e.App.Core.Accounts.RecordLogin(context.Background(), core.Actor{P: p}, "ldap"); err != nil {
			t.Fatal(err)
		}
		if m := me(); m["last_login_at"] == nil {
			t.Fatalf("me after a login = %v", m)
		}
	})
}
