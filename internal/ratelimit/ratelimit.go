// Package ratelimit slows down credential guessing on every door (HTTP
// Basic, the web login, LDAP binds) without letting an attacker lock a
// real user out.
//
// Failures are counted per (account, client address) pair and per client
// address. A pair or a client over its limit is refused until its window
// passes; the owner of the account, coming from another address, is not
// affected. Independently, an account with more than AccountSlowdown
// consecutive failures from anywhere (NIST SP 800-63B allows at most 100)
// is slowed: each further attempt waits AccountDelay, but is never
// refused outright, so no one can lock an account by failing on purpose.
// A success resets the pair and the account.
package ratelimit

import (
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/clock"
)

// Config sets the limits.
type Config struct {
	PerPair         int           // failures of one account from one address within Window
	PerClient       int           // failures from one address within Window, any accounts
	Window          time.Duration // how long a failure counts
	AccountSlowdown int           // consecutive failures of an account before every attempt is delayed
	AccountDelay    time.Duration // the delay then
	MaxEntries      int           // bound on tracked keys (memory); oldest are dropped
}

// Defaults: 10 failures a minute per account and address, 50 per
// address, slowdown after 100 consecutive failures of an account.
var Defaults = Config{PerPair: 10, PerClient: 50, Window: time.Minute, AccountSlowdown: 100, AccountDelay: time.Second, MaxEntries: 100_000}

type counter struct {
	n     int
	start time.Time
}

// Limiter tracks failures. It is safe for concurrent use.
type Limiter struct {
	cfg   Config
	clock clock.Clock

	// mu is read-locked on the paths every request takes (Check, and
	// Success when there is nothing to clear): a door busy with good
	// credentials, such as forward-auth, then never waits on the lock.
	mu      sync.RWMutex
	pairs   map[[2]string]*counter
	clients map[string]*counter
	streak  map[string]int // consecutive failures per account
	// pruned is when expired windows were last dropped: at most once a
	// window, so that a steady trickle of distinct failures does not
	// hold memory until the maps are full.
	pruned time.Time
}

// New returns a limiter.
func New(c clock.Clock, cfg Config) *Limiter {
	return &Limiter{cfg: cfg, clock: c, pairs: map[[2]string]*counter{}, clients: map[string]*counter{}, streak: map[string]int{}}
}

// Decision says whether an attempt may go ahead.
type Decision struct {
	Allowed    bool
	RetryAfter time.Duration // when refused
	Delay      time.Duration // when allowed but slowed
}

// Check decides whether an attempt for account from client may be made.
// It does not count anything: call Failure or Success with the outcome.
func (l *Limiter) Check(account, client string) Decision {
	now := l.clock.Now()
	l.mu.RLock()
	defer l.mu.RUnlock()
	if c := l.live(l.clients[client], now); c != nil && c.n >= l.cfg.PerClient {
		return Decision{RetryAfter: c.start.Add(l.cfg.Window).Sub(now)}
	}
	if c := l.live(l.pairs[[2]string{account, client}], now); c != nil && c.n >= l.cfg.PerPair {
		return Decision{RetryAfter: c.start.Add(l.cfg.Window).Sub(now)}
	}
	d := Decision{Allowed: true}
	if l.streak[account] >= l.cfg.AccountSlowdown {
		d.Delay = l.cfg.AccountDelay
	}
	return d
}

func (l *Limiter) live(c *counter, now time.Time) *counter {
	if c == nil || now.Sub(c.start) >= l.cfg.Window {
		return nil
	}
	return c
}

// Failure counts a failed attempt.
func (l *Limiter) Failure(account, client string) {
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.pruned) >= l.cfg.Window ||
		len(l.pairs) >= l.cfg.MaxEntries || len(l.clients) >= l.cfg.MaxEntries || len(l.streak) >= l.cfg.MaxEntries {
		l.prune(now)
		l.pruned = now
	}
	bump := func(c *counter) *counter {
		if c == nil || now.Sub(c.start) >= l.cfg.Window {
			return &counter{n: 1, start: now}
		}
		c.n++
		return c
	}
	k := [2]string{account, client}
	l.pairs[k] = bump(l.pairs[k])
	l.clients[client] = bump(l.clients[client])
	if account != "" {
		l.streak[account]++
	}
}

// Success clears the failures of the account (and of the pair).
func (l *Limiter) Success(account, client string) {
	k := [2]string{account, client}
	l.mu.RLock()
	_, pair := l.pairs[k]
	_, streak := l.streak[account]
	l.mu.RUnlock()
	if !pair && !streak {
		return // nothing to clear, the usual case
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.pairs, k)
	delete(l.streak, account)
}

// prune drops expired windows, and if still full, everything: memory is
// bounded even under a flood of distinct names.
func (l *Limiter) prune(now time.Time) {
	for k, c := range l.pairs {
		if now.Sub(c.start) >= l.cfg.Window {
			delete(l.pairs, k)
		}
	}
	for k, c := range l.clients {
		if now.Sub(c.start) >= l.cfg.Window {
			delete(l.clients, k)
		}
	}
	if len(l.pairs) >= l.cfg.MaxEntries {
		clear(l.pairs)
	}
	if len(l.clients) >= l.cfg.MaxEntries {
		clear(l.clients)
	}
	if len(l.streak) >= l.cfg.MaxEntries {
		clear(l.streak)
	}
}
