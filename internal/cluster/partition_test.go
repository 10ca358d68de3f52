package cluster_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/cluster"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/postgres"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
)

// fakeCache records what the listener tells the credential cache.
type fakeCache struct {
	mu     sync.Mutex
	bypass bool
	flips  []bool
}

func (c *fakeCache) InstanceID() string { return "partition-test" }
func (c *fakeCache) InvalidateAll()     {}
func (c *fakeCache) SetBypass(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.bypass = on
	c.flips = append(c.flips, on)
}
func (c *fakeCache) state() (bool, []bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bypass, append([]bool(nil), c.flips...)
}

// silentStore stops answering the change check while silent is set, as a
// database behind a silent network partition does (no error, no answer).
type silentStore struct {
	store.Store
	silent atomic.Bool
}

func (s *silentStore) ChangeVersion(ctx context.Context) (int64, error) {
	if s.silent.Load() {
		<-ctx.Done()
		return 0, ctx.Err()
	}
	return s.Store.ChangeVersion(ctx)
}

// TestSilentPartitionStopsTrustingTheCache: the listening connection does
// not notice a partition that drops packets without closing anything, but
// the periodic check does: the cache is bypassed within the check's
// interval and timeout, and the listener reconnects (and trusts the cache
// again) once the database answers.
func TestSilentPartitionStopsTrustingTheCache(t *testing.T) {
	pg := storetest.NewPostgres(t).(*postgres.Store)
	st := &silentStore{Store: pg}
	cache := &fakeCache{}
	l := cluster.New(pg, st, cache, slog.New(slog.NewTextHandler(io.Discard, nil)),
		cluster.Options{CheckEvery: 50 * time.Millisecond, CheckTimeout: 500 * time.Millisecond, ReconnectDelay: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); l.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	waitFor := func(what string, cond func() bool) time.Duration {
		t.Helper()
		start := time.Now()
		for !cond() {
			if time.Since(start) > 20*time.Second {
				t.Fatalf("%s: not after 20s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
		return time.Since(start)
	}
	waitFor("listener connected", func() bool { on, _ := cache.state(); return l.Connected() && !on })

	st.silent.Store(true)
	took := waitFor("cache bypassed during the partition", func() bool { on, _ := cache.state(); return on })
	t.Logf("partition noticed after %s", took)
	if l.Connected() {
		t.Fatal("listener still reports connected after the check failed")
	}

	st.silent.Store(false)
	waitFor("listener reconnected after the partition", func() bool { on, _ := cache.state(); return l.Connected() && !on })
	if _, flips := cache.state(); len(flips) < 3 {
		t.Fatalf("bypass flips %v, want on, off, on, off", flips)
	}
}
