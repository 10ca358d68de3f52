// Package cluster keeps several gatehouse instances on one PostgreSQL
// database in step. Every write transaction announces itself on a
// notification channel (NOTIFY is delivered at commit, dropped on
// rollback); each instance listens and, on hearing of a change made by
// another, drops what it holds in memory, so the next check reads the
// database. Three things cover a lost notification connection: while it
// is down the instance checks every credential against the database
// (nothing cached); a periodic comparison of the change counter with the
// last number heard catches anything missed; and when that comparison
// cannot reach the database, the connection is presumed dead (a silent
// partition leaves it waiting forever) and is replaced.
package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// Cache is what the listener keeps in step: the credential cache.
type Cache interface {
	InstanceID() string
	InvalidateAll()
	SetBypass(on bool)
}

// Options tune the listener.
type Options struct {
	// CheckEvery is how often the change counter is compared with the
	// last number heard (default 1s).
	CheckEvery time.Duration
	// ReconnectDelay is the first wait before reconnecting (default
	// 100ms, doubling up to 5s).
	ReconnectDelay time.Duration
	// CheckTimeout bounds each check (default 2s). A check that fails or
	// times out means the database may be out of reach without the
	// listening connection having noticed (a silent network partition
	// leaves it waiting): the instance stops trusting its cache and
	// reconnects the listener.
	CheckTimeout time.Duration
}

// Listener follows the changes announced on one database (one schema).
type Listener struct {
	feed  store.ChangeFeed
	st    store.ChangeQueries // the change counter the periodic check reads
	cache Cache
	log   *slog.Logger
	opts  Options

	heard     atomic.Int64 // highest change number heard or checked
	connected atomic.Bool
	received  atomic.Int64 // notifications from other instances (metrics, tests)

	mu   sync.Mutex
	drop context.CancelFunc // ends the current listening connection
}

// New returns a listener that hears changes through feed and checks st's
// change counter (both are the same store in the server; tests put a
// store that stops answering in between).
func New(feed store.ChangeFeed, st store.ChangeQueries, cache Cache, log *slog.Logger, opts Options) *Listener {
	if opts.CheckEvery <= 0 {
		opts.CheckEvery = time.Second
	}
	if opts.ReconnectDelay <= 0 {
		opts.ReconnectDelay = 100 * time.Millisecond
	}
	if opts.CheckTimeout <= 0 {
		opts.CheckTimeout = 2 * time.Second
	}
	return &Listener{feed: feed, st: st, cache: cache, log: log, opts: opts}
}

// Connected reports whether notifications are being heard.
func (l *Listener) Connected() bool { return l.connected.Load() }

// Received counts notifications heard from other instances.
func (l *Listener) Received() int64 { return l.received.Load() }

// Run listens until ctx ends. Until the first connection is up, and
// whenever it drops, the cache is bypassed.
func (l *Listener) Run(ctx context.Context) {
	l.cache.SetBypass(true)
	go l.check(ctx)
	delay := l.opts.ReconnectDelay
	for ctx.Err() == nil {
		err := l.listen(ctx)
		if ctx.Err() != nil {
			return
		}
		if l.connected.Swap(false) {
			l.cache.SetBypass(true)
			delay = l.opts.ReconnectDelay
		}
		l.log.Warn("change notifications lost; checking credentials against the database until reconnected", "err", err, "retry_in", delay)
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(delay*2, 5*time.Second)
	}
}

// listen holds one connection in LISTEN until it fails or check drops it.
func (l *Listener) listen(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	l.mu.Lock()
	l.drop = cancel
	l.mu.Unlock()
	// Named after the instance, so an operator (or a test) can find it.
	sub, err := l.feed.ListenChanges(ctx, "gatehouse-listener-"+l.cache.InstanceID())
	if err != nil {
		return err
	}
	defer sub.Close()
	// Caught up: anything committed before LISTEN took effect is in the
	// database, and the cache is empty; from here on, notifications tell.
	v, err := l.st.ChangeVersion(ctx)
	if err != nil {
		return fmt.Errorf("change version: %w", err)
	}
	l.raise(v)
	// Under mu, against check: a connection check has just given up on
	// (ctx cancelled) must not be trusted again.
	l.mu.Lock()
	if ctx.Err() == nil {
		l.connected.Store(true)
		l.cache.SetBypass(false)
	}
	l.mu.Unlock()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	l.log.Info("listening for changes made by other instances", "channel", sub.Channel())
	for {
		c, err := sub.Next(ctx)
		if err != nil {
			return err
		}
		if c.Origin == l.cache.InstanceID() {
			l.raise(c.Seq) // our own change: already applied before we answered
			continue
		}
		l.received.Add(1)
		l.cache.InvalidateAll()
		l.raise(c.Seq)
	}
}

func (l *Listener) raise(v int64) {
	for {
		cur := l.heard.Load()
		if v <= cur || l.heard.CompareAndSwap(cur, v) {
			return
		}
	}
}

// check compares the change counter with what was heard. A number not
// heard by the next check (a rolled-back transaction, or a notification
// lost) empties the cache: rarely needed, always safe.
func (l *Listener) check(ctx context.Context) {
	t := time.NewTicker(l.opts.CheckEvery)
	defer t.Stop()
	var suspect int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cctx, cancel := context.WithTimeout(ctx, l.opts.CheckTimeout)
		v, err := l.st.ChangeVersion(cctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			l.log.Warn("change version check failed", "err", err)
			l.mu.Lock()
			if l.connected.Swap(false) {
				// The listening connection may be dead without knowing it:
				// trust nothing cached until it has reconnected and caught up.
				l.cache.SetBypass(true)
				l.log.Warn("the database did not answer; checking credentials against it until the change listener reconnects")
				if l.drop != nil {
					l.drop()
				}
			}
			l.mu.Unlock()
			continue
		}
		h := l.heard.Load()
		switch {
		case v <= h:
			suspect = 0
		case suspect != 0 && h < suspect:
			l.log.Warn("a change was not heard of; dropping cached credentials", "version", suspect, "heard", h)
			l.cache.InvalidateAll()
			l.raise(v)
			suspect = 0
		default:
			suspect = v
		}
	}
}
