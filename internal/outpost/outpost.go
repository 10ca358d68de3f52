// Package outpost runs the LDAP front door as its own process, next to
// the applications it serves, talking only to the gatehouse REST API with
// the outpost's own managed API token.
//
// What it keeps and why it is never stale:
//
//   - Binds are forwarded to the server (POST /ldap-providers/{p}/bind),
//     which checks them against its credential cache, rate limits them
//     and records them, with the client's address. With the provider's
//     bind_mode "cached", a repeated successful bind may be answered from
//     memory: the outpost keeps a keyed hash (its own random key, never
//     sent anywhere) of name and password, valid only until anything
//     changes on the server, the credential expires, or the feed stops
//     answering.
//   - The directory (search_mode "cached") is a copy kept current by a
//     long poll of the server's directory feed, which answers the moment
//     anything changes and sends a heartbeat every second while quiet.
//   - Bound sessions are re-checked by the server whenever the feed says
//     something changed: a revoked credential, a disabled account or a
//     removed permission is seen within the feed's latency (milliseconds).
//   - When the feed falls silent for FeedIdle, the outpost stops
//     answering from memory (cached binds, the directory copy) and checks
//     every session again, until the feed is back: it fails closed.
//
// Its token is rotated by the outpost itself when a third of its lifetime
// is left; the new key replaces the old in memory and, when the key was
// read from a file, in that file.
package outpost

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/client"
	"github.com/gatehouse/gatehouse/internal/core"
	"github.com/gatehouse/gatehouse/internal/ldap"
	"github.com/gatehouse/gatehouse/internal/ldap/dn"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Config is an outpost's configuration.
type Config struct {
	Server    string // gatehouse URL
	Token     string // the outpost's API token
	TokenFile string // where the token was read from; rotated keys are written back
	Provider  string

	Listen      string // plain LDAP (and StartTLS with TLS); "" none
	LDAPSListen string // LDAPS; "" none
	TLS         *tls.Config

	// FeedWait is how long one long poll of the feed waits (default 25s);
	// FeedIdle how long the feed may be silent before the outpost stops
	// trusting what it holds (default 3s; the server beats every second).
	FeedWait time.Duration
	FeedIdle time.Duration
	// RotateCheck is how often the token's expiry is looked at (default:
	// a thirtieth of its lifetime, at least 1s, at most 1m).
	RotateCheck time.Duration

	Door ldap.Options
	Log  *slog.Logger

	// Ready, when set, is called once the first directory answer is in
	// and the listeners are open, with their addresses.
	Ready func(ldapAddr, ldapsAddr string)
}

// Outpost is a running outpost.
type Outpost struct {
	cfg  Config
	api  *api
	log  *slog.Logger
	door *ldap.Server

	name     string // the outpost's name
	tokenID  string // its token's identifier
	tokenTTL time.Duration

	mu       sync.RWMutex
	provider core.LDAPProviderView
	base     dn.DN
	dir      *core.Directory // nil: search_mode direct
	cursor   string
	entries  bool // the copy holds entries (the last answer was asked with entries)

	gen     atomic.Uint64 // moves on every change heard, and when the feed is lost
	healthy atomic.Bool

	binds bindCache
}

// Run starts the outpost and serves until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.FeedWait <= 0 {
		cfg.FeedWait = 25 * time.Second
	}
	if cfg.FeedIdle <= 0 {
		cfg.FeedIdle = 3 * time.Second
	}
	if cfg.Listen == "" && cfg.LDAPSListen == "" {
		return errors.New("nothing to listen on: give --listen or --ldaps-listen")
	}
	if cfg.LDAPSListen != "" && cfg.TLS == nil {
		return errors.New("--ldaps-listen needs --tls-cert and --tls-key")
	}
	api, err := newAPI(cfg.Server, cfg.Token, cfg.TokenFile)
	if err != nil {
		return err
	}
	o := &Outpost{cfg: cfg, api: api, log: cfg.Log}
	if err := o.binds.init(); err != nil {
		return err
	}
	if err := o.identify(ctx); err != nil {
		return err
	}
	if err := o.poll(ctx, 0); err != nil {
		return fmt.Errorf("first directory answer: %w", err)
	}
	door := cfg.Door
	door.TLS = cfg.TLS
	door.Log = cfg.Log
	o.door = ldap.NewServer(o, door)
	var addrs [2]string
	errs := make(chan error, 2)
	for i, addr := range []string{cfg.Listen, cfg.LDAPSListen} {
		if addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			_ = o.door.Shutdown(context.Background())
			return fmt.Errorf("listen on %s: %w", addr, err)
		}
		addrs[i] = ln.Addr().String()
		ldaps := i == 1
		go func() {
			var err error
			if ldaps {
				err = o.door.ServeTLS(ln)
			} else {
				err = o.door.Serve(ln)
			}
			if err != nil {
				errs <- err
			}
		}()
		o.log.Info("LDAP outpost is serving", "outpost", o.name, "provider", cfg.Provider, "listen", addrs[i], "ldaps", ldaps)
	}
	if cfg.Ready != nil {
		cfg.Ready(addrs[0], addrs[1])
	}
	loops, stop := context.WithCancel(ctx)
	defer stop()
	go o.feedLoop(loops)
	go o.rotateLoop(loops)
	select {
	case <-ctx.Done():
	case err := <-errs:
		stop()
		_ = o.door.Shutdown(context.Background())
		return err
	}
	o.log.Info("LDAP outpost is stopping")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return o.door.Shutdown(sctx)
}

// identify finds the outpost this token belongs to, and its token.
func (o *Outpost) identify(ctx context.Context) error {
	me, err := retry(o.api, func() (client.Me, error) { return o.api.Me(ctx) })
	if err != nil {
		return fmt.Errorf("the server refused the outpost's token: %w", err)
	}
	if me.Type != store.TypeInternalServiceAccount {
		return fmt.Errorf("the token belongs to %s %q, not to an outpost: register one with `gatehouse outpost create NAME --provider %s`", me.Type, me.Username, o.cfg.Provider)
	}
	name, ok := strings.CutPrefix(me.Username, core.OutpostAccountPrefix)
	var v client.Outpost
	if ok {
		v, err = retry(o.api, func() (client.Outpost, error) { return o.api.Outposts.Get(ctx, name) })
		if err != nil {
			return fmt.Errorf("read outpost %q: %w", name, err)
		}
	}
	if !ok || v.User != me.Username {
		return fmt.Errorf("no outpost is registered for account %q", me.Username)
	}
	if v.Provider != o.cfg.Provider {
		return fmt.Errorf("outpost %q serves provider %q, not %q", v.Name, v.Provider, o.cfg.Provider)
	}
	o.name = v.Name
	if v.Token != nil {
		o.tokenID = v.Token.Identifier
	}
	o.tokenTTL, _ = time.ParseDuration(v.TokenTTL)
	return nil
}

// feedLoop keeps the copy current; a lost feed makes the outpost stop
// trusting what it holds until the feed answers again.
func (o *Outpost) feedLoop(ctx context.Context) {
	delay := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := o.poll(ctx, o.cfg.FeedWait)
		if err == nil {
			delay = 100 * time.Millisecond
			continue
		}
		if ctx.Err() != nil {
			return
		}
		if o.healthy.Swap(false) {
			o.gen.Add(1) // sessions are checked again, cached binds dropped
			o.log.Warn("lost the directory feed; answering nothing from memory until it is back", "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(delay):
		}
		delay = min(2*delay, 5*time.Second)
	}
}

// poll asks the feed once (a long poll when wait > 0) and applies the answer.
func (o *Outpost) poll(ctx context.Context, wait time.Duration) error {
	o.mu.RLock()
	since, wantEntries := o.cursor, o.provider.SearchMode != store.LDAPModeDirect
	if wantEntries && !o.entries {
		since = "" // entries were not kept: start over
	}
	o.mu.RUnlock()
	q := client.DirectoryFeedQuery{Since: since, Wait: wait, NoEntries: !wantEntries, Idle: o.cfg.FeedIdle}
	feed, err := retry(o.api, func() (client.DirectoryFeed, error) {
		return o.api.LDAPDoor.DirectoryFeed(ctx, o.cfg.Provider, q)
	})
	if err != nil {
		return err
	}
	return o.apply(directoryFeed(feed), wantEntries)
}

func (o *Outpost) apply(f core.DirectoryFeed, withEntries bool) error {
	base, err := dn.Parse(f.Provider.BaseDN)
	if err != nil {
		return fmt.Errorf("the provider's base DN: %w", err)
	}
	o.mu.Lock()
	changed := f.Cursor != o.cursor
	o.provider, o.base, o.cursor = f.Provider, base, f.Cursor
	switch {
	case f.Provider.SearchMode == store.LDAPModeDirect:
		o.dir, o.entries = nil, false
	case withEntries:
		o.dir, o.entries = o.dir.Apply(f), true
	}
	users := 0
	if o.dir != nil {
		users = len(o.dir.Users)
	}
	o.mu.Unlock()
	if changed {
		o.gen.Add(1)
	}
	if !o.healthy.Swap(true) {
		o.log.Info("directory feed is current", "outpost", o.name, "provider", f.Provider.Name, "users", users,
			"search_mode", f.Provider.SearchMode, "bind_mode", f.Provider.BindMode)
	}
	return nil
}

// --- ldap.Backend ---------------------------------------------------------

func (o *Outpost) Bind(ctx context.Context, name, password, clientIP string) (core.LDAPBindResult, error) {
	o.mu.RLock()
	cached := o.provider.BindMode == store.LDAPModeCached
	o.mu.RUnlock()
	gen := o.gen.Load()
	var h [sha256.Size]byte
	if cached && password != "" {
		h = o.binds.hash(name, password)
		if res, ok := o.binds.get(h, gen, time.Now()); ok && o.healthy.Load() {
			return res, nil
		}
	}
	in := client.LDAPBindInput{Name: name, Password: password, ClientIP: clientIP}
	res, err := retry(o.api, func() (core.LDAPBindResult, error) { return o.api.LDAPDoor.Bind(ctx, o.cfg.Provider, in) })
	if err != nil {
		return core.LDAPBindResult{}, err
	}
	if cached && res.Outcome == core.LDAPBindSuccess && res.Session != nil && o.healthy.Load() {
		o.binds.put(h, gen, res)
	}
	return res, nil
}

func (o *Outpost) CheckSession(ctx context.Context, ref core.LDAPSessionRef) (core.LDAPSessionState, error) {
	refs := []client.LDAPSessionRef{client.LDAPSessionRef(ref)}
	states, err := retry(o.api, func() ([]client.LDAPSessionState, error) {
		return o.api.LDAPDoor.CheckSessions(ctx, o.cfg.Provider, refs)
	})
	if err != nil {
		return core.LDAPSessionState{}, err
	}
	return core.LDAPSessionState(states[0]), nil
}

func (o *Outpost) Generation() uint64 { return o.gen.Load() }

func (o *Outpost) Snapshot(context.Context) (ldap.Snapshot, error) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	if o.provider.SearchMode == store.LDAPModeDirect {
		return ldap.Snapshot{Base: o.base}, nil
	}
	if !o.healthy.Load() || o.dir == nil {
		return ldap.Snapshot{}, fmt.Errorf("%w: the directory feed is not current", ldap.ErrUnavailable)
	}
	return ldap.Snapshot{Base: o.base, Dir: o.dir}, nil
}

func (o *Outpost) Search(ctx context.Context, ref core.LDAPSessionRef, req *ldap.SearchRequest) ([]ldap.Entry, ldap.Result, error) {
	in := client.LDAPSearchInput{UserUID: ref.UserUID, Binding: ref.Binding, Base: req.Base, Scope: req.Scope,
		Filter: base64.StdEncoding.EncodeToString(req.FilterBER), SizeLimit: req.SizeLimit}
	out, err := retry(o.api, func() (client.LDAPSearchResult, error) { return o.api.LDAPDoor.Search(ctx, o.cfg.Provider, in) })
	if err != nil {
		return nil, ldap.Result{}, err
	}
	return searchEntries(out.Entries), ldap.Result(out.Result), nil
}

// --- cached binds ----------------------------------------------------------

// bindCache remembers successful binds of providers with bind_mode
// "cached", by a keyed hash of name and password under a key that lives
// in this process only. An entry is good for the change generation it was
// made in, until the credential's expiry.
type bindCache struct {
	key [32]byte
	mu  sync.Mutex
	gen uint64
	m   map[[sha256.Size]byte]core.LDAPBindResult
}

const maxCachedBinds = 10_000

func (b *bindCache) init() error {
	_, err := rand.Read(b.key[:])
	b.m = map[[sha256.Size]byte]core.LDAPBindResult{}
	return err
}

func (b *bindCache) hash(name, password string) (out [sha256.Size]byte) {
	m := hmac.New(sha256.New, b.key[:])
	m.Write([]byte(name))
	m.Write([]byte{0})
	m.Write([]byte(password))
	copy(out[:], m.Sum(nil))
	return out
}

func (b *bindCache) get(h [sha256.Size]byte, gen uint64, now time.Time) (core.LDAPBindResult, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.gen != gen {
		clear(b.m)
		b.gen = gen
		return core.LDAPBindResult{}, false
	}
	res, ok := b.m[h]
	if !ok || (res.Session.ValidUntil != nil && !now.Before(*res.Session.ValidUntil)) {
		return core.LDAPBindResult{}, false
	}
	return res, true
}

func (b *bindCache) put(h [sha256.Size]byte, gen uint64, res core.LDAPBindResult) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if gen < b.gen {
		return // something changed while the bind was checked: not kept
	}
	if b.gen != gen {
		clear(b.m)
		b.gen = gen
	}
	if len(b.m) >= maxCachedBinds {
		clear(b.m)
	}
	b.m[h] = res
}

// --- token rotation ----------------------------------------------------------

// rotateLoop rotates the outpost's token when a third of its lifetime is
// left, so that a failure has another third to be noticed (the server
// warns, with a token_expiring event, when a quarter is left).
func (o *Outpost) rotateLoop(ctx context.Context) {
	every := o.cfg.RotateCheck
	if every <= 0 {
		every = min(max(o.tokenTTL/30, time.Second), time.Minute)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := o.maybeRotate(ctx); err != nil && ctx.Err() == nil {
			o.log.Error("token rotation failed; will retry", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (o *Outpost) maybeRotate(ctx context.Context) error {
	if o.tokenID == "" || o.tokenTTL <= 0 {
		return nil
	}
	tok, err := retry(o.api, func() (client.Token, error) { return o.api.Tokens.Get(ctx, o.tokenID) })
	if err != nil {
		return fmt.Errorf("read the outpost's token: %w", err)
	}
	if tok.ExpiresAt == nil || time.Until(*tok.ExpiresAt) > o.tokenTTL/3 {
		return nil
	}
	grace := min(10*time.Minute, max(o.tokenTTL/10, time.Second)).Round(time.Second)
	// No ttl: a managed token's lifetime is the server's (the outpost's
	// token_ttl within GATEHOUSE_TOKEN_MAX_TTL); naming one is refused.
	rotated, err := retry(o.api, func() (client.Token, error) {
		return o.api.Tokens.Rotate(ctx, o.tokenID, client.TokenRotate{Grace: grace.String()})
	})
	if err != nil {
		return fmt.Errorf("rotate the outpost's token: %w", err)
	}
	if rotated.Key == "" {
		return errors.New("the rotation answered no key")
	}
	if o.cfg.TokenFile != "" {
		if err := writeKeyFile(o.cfg.TokenFile, rotated.Key); err != nil {
			o.log.Error("the rotated key could not be written to the token file; a restart after the old key's grace will need `gatehouse outpost rotate`",
				"file", o.cfg.TokenFile, "err", err)
		}
	}
	o.api.setKey(rotated.Key)
	o.log.Info("rotated the outpost's token", "token", o.tokenID, "expires_at", rotated.ExpiresAt, "old_key_grace", grace)
	return nil
}

// writeKeyFile replaces the token file atomically, readable by its owner only.
func writeKeyFile(path, key string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".gatehouse-token-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.WriteString(key + "\n"); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

var _ ldap.Backend = (*Outpost)(nil)
