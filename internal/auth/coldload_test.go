package auth_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
)

// queryCounter counts the reads a credential check may make.
type queryCounter struct {
	store.Store
	loads, lookups, users, grants atomic.Int64
}

func (c *queryCounter) LoadKey(ctx context.Context, l string) (store.KeyLoad, error) {
	c.loads.Add(1)
	return c.Store.LoadKey(ctx, l)
}

func (c *queryCounter) LookupKey(ctx context.Context, l string) (store.TokenKey, store.Token, error) {
	c.lookups.Add(1)
	return c.Store.LookupKey(ctx, l)
}

func (c *queryCounter) GetUserByUID(ctx context.Context, uid string) (store.User, error) {
	c.users.Add(1)
	return c.Store.GetUserByUID(ctx, uid)
}

func (c *queryCounter) UserGrants(ctx context.Context, uid string) (store.Grants, error) {
	c.grants.Add(1)
	return c.Store.UserGrants(ctx, uid)
}

// TestFirstUseIsOneQuery: the first use of a key, its owner not cached,
// is one store call (one round trip on PostgreSQL) that brings the key,
// its token, the owner and the owner's grants; the next use is none.
// A check of another key of the same owner reuses the cached principal.
func TestFirstUseIsOneQuery(t *testing.T) {
	for _, be := range storetest.Backends() {
		t.Run(be.Name, func(t *testing.T) {
			c := &queryCounter{Store: be.New(t)}
			authn, h := newAuthn(c)
			keys := seed(t, c, h, 2, 2)
			ctx := context.Background()
			counts := func() [4]int64 {
				return [4]int64{c.loads.Load(), c.lookups.Load(), c.users.Load(), c.grants.Load()}
			}
			for i, want := range [][4]int64{{1, 0, 0, 0}, {1, 0, 0, 0}, {2, 0, 0, 0}} {
				k := keys[min(i/2, 1)] // the first key twice, then the second
				p, _, err := authn.VerifyAPIKey(ctx, k)
				if err != nil {
					t.Fatal(err)
				}
				if p.Username != "bot" || !p.Can("users.read") || p.Profile == nil {
					t.Fatalf("principal %+v", p)
				}
				if got := counts(); got != want {
					t.Fatalf("after check %d: loads, lookups, user reads, grant reads = %v, want %v", i+1, got, want)
				}
			}
		})
	}
}
