package ratelimit

import (
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/clock"
)

func TestAttackerDoesNotLockOutOwner(t *testing.T) {
	clk := clock.NewFake(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	l := New(clk, Config{PerPair: 3, PerClient: 5, Window: time.Minute, AccountSlowdown: 100, AccountDelay: time.Second, MaxEntries: 1000})
	for i := 0; i < 3; i++ {
		if !l.Check("alice", "10.0.0.66").Allowed {
			t.Fatalf("attempt %d refused too early", i)
		}
		l.Failure("alice", "10.0.0.66")
	}
	if d := l.Check("alice", "10.0.0.66"); d.Allowed || d.RetryAfter <= 0 || d.RetryAfter > time.Minute {
		t.Fatalf("attacker not limited: %+v", d)
	}
	if !l.Check("alice", "10.0.0.1").Allowed {
		t.Fatal("the owner from another address is locked out")
	}
	// Per client: spraying many accounts from one address.
	l.Failure("bob", "10.0.0.66")
	l.Failure("carol", "10.0.0.66")
	if l.Check("dave", "10.0.0.66").Allowed {
		t.Fatal("a spraying client is not limited")
	}
	clk.Advance(time.Minute)
	if !l.Check("alice", "10.0.0.66").Allowed || !l.Check("dave", "10.0.0.66").Allowed {
		t.Fatal("limits outlive their window")
	}
}

func TestAccountSlowdownNeverRefuses(t *testing.T) {
	clk := clock.NewFake(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	l := New(clk, Config{PerPair: 1000, PerClient: 1000, Window: time.Minute, AccountSlowdown: 100, AccountDelay: time.Second, MaxEntries: 1000})
	for i := 0; i < 100; i++ {
		if d := l.Check("alice", "10.0.0.66"); !d.Allowed || d.Delay != 0 {
			t.Fatalf("attempt %d: %+v", i, d)
		}
		l.Failure("alice", "10.0.0.66")
	}
	d := l.Check("alice", "10.0.0.1")
	if !d.Allowed || d.Delay != time.Second {
		t.Fatalf("after 100 failures: %+v, want allowed with a delay", d)
	}
	l.Success("alice", "10.0.0.1")
	if d := l.Check("alice", "10.0.0.1"); d.Delay != 0 {
		t.Fatalf("success does not reset the streak: %+v", d)
	}
}

func TestMemoryBounded(t *testing.T) {
	clk := clock.NewFake(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	l := New(clk, Config{PerPair: 3, PerClient: 1 << 30, Window: time.Minute, AccountSlowdown: 100, AccountDelay: time.Second, MaxEntries: 50})
	for i := 0; i < 1000; i++ {
		l.Failure(string(rune('a'+i%26))+string(rune(i)), "10.0.0.1")
	}
	if len(l.pairs) > 50 || len(l.streak) > 50 {
		t.Fatalf("maps grew to %d / %d", len(l.pairs), len(l.streak))
	}
}

// TestExpiredWindowsAreDropped: failures from many addresses do not stay
// in memory once their window is over, long before the maps are full.
func TestExpiredWindowsAreDropped(t *testing.T) {
	clk := clock.NewFake(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	l := New(clk, Config{PerPair: 3, PerClient: 5, Window: time.Minute, AccountSlowdown: 100, AccountDelay: time.Second, MaxEntries: 100_000})
	for i := range 1000 {
		l.Failure("", fmt.Sprintf("10.0.%d.%d", i/256, i%256))
	}
	clk.Advance(61 * time.Second)
	l.Failure("", "10.9.9.9")
	if len(l.pairs) != 1 || len(l.clients) != 1 {
		t.Fatalf("after the window: %d pairs, %d clients kept, want 1 and 1", len(l.pairs), len(l.clients))
	}
}
