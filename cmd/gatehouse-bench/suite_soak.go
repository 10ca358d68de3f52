package main

// The soak suite: one real `gatehouse serve` under a steady mixed workload
// for -duration (10 minutes unless set), watched from outside: the
// process's resident memory (/proc), its Go heap and goroutines
// (/metrics), its open descriptors and database connections
// (/proc/PID/fd). It passes when no answer was unexpected and none of
// those grew once warm. Unlike the other suites it has no baseline to
// compare with: the server is held to itself, earlier in the same run.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/gatehouse/gatehouse/client"
	goldap "github.com/go-ldap/ldap/v3"
)

var (
	soakSampleFlag   = flag.Duration("soak-sample", 0, "soak suite: interval between samples of the server (default: the duration / 200, between 250ms and 5s)")
	soakRateFlag     = flag.Int("soak-rate", 600, "soak suite: credential checks per second, all check workers together (0: as fast as they go)")
	soakChangesFlag  = flag.Int("soak-changes", 20, "soak suite: changes per second (creations, rotations, revocations, deletions)")
	soakWorkersFlag  = flag.Int("soak-workers", 4, "soak suite: concurrent credential-check workers (besides two change workers and one LDAP worker)")
	soakAccountsFlag = flag.Int("soak-accounts", 40, "soak suite: service accounts kept alive (up to 4 tokens each): the data set stays this size")
	soakHeapFlag     = flag.String("soak-heap-profile", "", "soak suite, to find a leak: run gatehouse inside this process (server.Run) and write heap profiles to `file`.warm (after warm-up) and file (at the end); compare with go tool pprof -base file.warm file")
)

func init() {
	register(Suite{
		Name: "soak",
		About: "one gatehouse process (SQLite; -backend postgres) for -duration (10m): creations, rotations with grace, " +
			"revocations, deletions and many credential checks (API, forward-auth, LDAP); no unexpected answer, flat memory, goroutines and descriptors",
		Run: runSoak,
	})
}

// The soak's workload. Rotations leave the old key working for soakGrace;
// short-lived tokens expire after soakShortTTL. A key is judged only on
// the right side of soakMargin around those ends: the server's clock
// starts them somewhere between our request and its answer.
const (
	soakGrace    = 4 * time.Second
	soakShortTTL = 3 * time.Second
	soakMargin   = time.Second
	soakMaxToks  = 4 // tokens per account
	soakBaseDN   = "dc=soak,dc=example"
	soakSlug     = "soak"
	// Failed credentials are limited per client address (the API: 10 a
	// minute for the address with no account; forward-auth and LDAP: 10
	// per account and address, 50 per address). Every refusal the soak
	// expects comes from an address of its own pool that has failed at
	// most this often within the last minute, so that the limiter never
	// answers instead of the credential check.
	soakRefusalsPerAddr = 6
	soakAddrs           = 2048
)

type soakConfig struct {
	Backend  string // sqliteBackend or postgresBackend
	Duration time.Duration
	Sample   time.Duration
	Rate     int // credential checks per second; 0: unpaced
	Changes  int // changes per second
	Checkers int
	Accounts int
	// HeapProfile, when set, runs the server in this process and writes
	// heap profiles there (see -soak-heap-profile).
	HeapProfile string
	Out         io.Writer // the timeline and the verdict
	Log         io.Writer // progress
}

// soakDuration is -duration when given, else 10 minutes: the flag's own
// default (10 s) is the http suite's.
func soakDuration() time.Duration {
	d := 10 * time.Minute
	flag.Visit(func(f *flag.Flag) {
		if f.Name == "duration" {
			d = *durationFlag
		}
	})
	return d
}

func runSoak(ctx context.Context) ([]Result, error) {
	cfg := soakConfig{Backend: sqliteBackend, Duration: soakDuration(), Sample: *soakSampleFlag, Rate: *soakRateFlag,
		Changes: *soakChangesFlag, Checkers: *soakWorkersFlag, Accounts: *soakAccountsFlag, HeapProfile: *soakHeapFlag,
		Out: os.Stdout, Log: os.Stderr}
	if *backendFlag == "postgres" {
		cfg.Backend = postgresBackend
		if postgresURL() == "" {
			return nil, errors.New("-backend postgres needs PostgreSQL: set -postgres, GATEHOUSE_BENCH_POSTGRES or GATEHOUSE_TEST_POSTGRES")
		}
	}
	rep, err := soak(ctx, cfg)
	if err != nil {
		return nil, err
	}
	rep.printTimeline(cfg.Out)
	return rep.results(), rep.verdict()
}

// What the soak does, each counted on its own.
type soakKind int

const (
	kCreateSA soakKind = iota
	kCreateAPI
	kCreateApp
	kCreateExtended
	kCreateShort
	kRotate
	kRevoke
	kDeleteSA
	kDeleteExpired
	kWarm
	kCold
	kFABasic
	kFABearer
	kGrace
	kRevoked
	kRevokedApp
	kAfterGrace
	kExpired
	kAppOnAPI
	kLDAPBind
	kLDAPRevoked
	nSoakKinds
)

var soakKindNames = [nSoakKinds]string{
	kCreateSA:       "change: create service account (with a first key)",
	kCreateAPI:      "change: create API token",
	kCreateApp:      "change: create app password",
	kCreateExtended: "change: create extended (sliding) token",
	kCreateShort:    "change: create token living 3s",
	kRotate:         "change: rotate, grace 4s",
	kRevoke:         "change: revoke (DELETE token)",
	kDeleteSA:       "change: delete service account",
	kDeleteExpired:  "change: delete expired token",
	kWarm:           "check: GET /me, key used before -> 200",
	kCold:           "check: GET /me, key never used -> 200",
	kFABasic:        "check: forward-auth Basic app password -> 200",
	kFABearer:       "check: forward-auth Bearer -> 200",
	kGrace:          "check: old key within grace -> 200",
	kRevoked:        "check: revoked/deleted API key -> 401",
	kRevokedApp:     "check: revoked/deleted app password, forward-auth -> 401",
	kAfterGrace:     "check: old key after grace -> 401",
	kExpired:        "check: expired key -> 401",
	kAppOnAPI:       "check: app password on the API -> 401",
	kLDAPBind:       "LDAP: bind with app password -> success",
	kLDAPRevoked:    "LDAP: bind with revoked app password -> 49",
}

func (k soakKind) change() bool { return k <= kDeleteExpired }

type soakToken struct {
	id, user, intent, key string
	used                  bool // checked at least once
	busy                  bool // a change is in flight: not checked meanwhile
	inflight              int  // checks in flight: not changed meanwhile
}

type soakAccount struct {
	name   string
	tokens []*soakToken
	busy   bool // a change is in flight
}

// deadKey is a key that must be refused from a time on.
type deadKey struct {
	key, user, intent string
	kind              soakKind
	from              time.Time
}

// graceKey is an old key that must still work until a time. Checking it
// reserves its token, as checking the new key does: a revocation or a
// deletion ends the grace too.
type graceKey struct {
	tok               *soakToken
	key, user, intent string
	until             time.Time
}

type expiredToken struct {
	id   string
	from time.Time
}

type soakRun struct {
	cfg       soakConfig
	base      string // http://addr
	ldapAddr  string
	admin     *client.Client // acting with a gat_ key of admin
	adminC    *benchClient
	mu        sync.Mutex
	rng       *rand.Rand
	accounts  []*soakAccount
	dead      []deadKey // a bounded ring of keys to refuse
	deadNext  int
	grace     []graceKey
	expired   []expiredToken // still in the database
	seq       int
	pool      *addrPool
	ok, bad   [nSoakKinds]atomic.Int64
	limited   atomic.Int64 // refusals answered 429
	undecided atomic.Int64 // grace checks answered too close to the end to judge
	skipped   atomic.Int64 // refusals skipped: no address with budget
	reconnect atomic.Int64 // LDAP sessions the server ended (a change to the bound user)
	failMu    sync.Mutex
	failures  []string
}

// fail records an unexpected answer. Messages name identifiers and
// statuses, never a key.
func (s *soakRun) fail(k soakKind, format string, args ...any) {
	s.bad[k].Add(1)
	s.failMu.Lock()
	defer s.failMu.Unlock()
	if len(s.failures) < 20 {
		s.failures = append(s.failures, soakKindNames[k]+": "+fmt.Sprintf(format, args...))
	}
}

func (s *soakRun) counts() (n [nSoakKinds]int64, bad int64) {
	for k := range nSoakKinds {
		n[k] = s.ok[k].Load() + s.bad[k].Load()
		bad += s.bad[k].Load()
	}
	return n, bad
}

// soak runs the workload and returns what it saw; an error only when it
// could not run (the verdict is the report's).
func soak(ctx context.Context, cfg soakConfig) (*soakReport, error) {
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if cfg.Sample <= 0 {
		cfg.Sample = min(max(cfg.Duration/200, 250*time.Millisecond), 5*time.Second)
	}
	cfg.Checkers = max(cfg.Checkers, 1)
	cfg.Accounts = max(cfg.Accounts, 4)
	cfg.Changes = max(cfg.Changes, 1)

	db, _, err := newDatabase(ctx, cfg.Backend, "soak")
	if err != nil {
		return nil, err
	}
	defer db.drop()
	ldapAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	env := db.Env
	env.Args = []string{"--ldap-listen", ldapAddr}
	env.Extra = append(env.Extra, "GATEHOUSE_LDAP_PROVIDER=soak")
	var p soakServer
	if cfg.HeapProfile != "" {
		// Finer than the default (a sample per 512 KiB): a slow leak
		// shows in a few minutes.
		runtime.MemProfileRate = 4096
		p, err = startInProcess(ctx, env, ldapAddr, map[string]string{"GATEHOUSE_LDAP_PROVIDER": "soak"})
	} else {
		p, err = startServer(ctx, env)
	}
	if err != nil {
		return nil, err
	}
	defer p.Stop()

	s := &soakRun{cfg: cfg, base: p.URL(), ldapAddr: ldapAddr, rng: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
		dead: make([]deadKey, 0, 512), pool: newAddrPool()}
	s.adminC = newClient(p.URL())
	defer s.adminC.close()
	key, err := adminKey(ctx, s.adminC, env.AdminToken)
	if err != nil {
		return nil, err
	}
	s.admin = s.adminC.as(key)
	if err := s.setup(ctx); err != nil {
		return nil, fmt.Errorf("soak setup: %w", err)
	}
	fmt.Fprintf(cfg.Log, "  soak: %s, %s, %d check workers at %d/s, 2 change workers at %d/s, 1 LDAP worker; sample every %s\n",
		cfg.Backend, cfg.Duration, cfg.Checkers, cfg.Rate, cfg.Changes, cfg.Sample)

	dbFile, pgPort := "", ""
	if path, ok := strings.CutPrefix(env.Database, "sqlite:"); ok {
		dbFile, _ = filepath.Abs(path)
	} else if u, err := url.Parse(env.Database); err == nil {
		pgPort = cmpOr(u.Port(), "5432")
	}

	runCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for range cfg.Checkers {
		wg.Go(func() { s.checker(runCtx) })
	}
	for range 2 {
		wg.Go(func() { s.changer(runCtx) })
	}
	wg.Go(func() { s.ldapWorker(runCtx) })

	rep := &soakReport{Cfg: cfg}
	mc := newClient(p.URL())
	defer mc.close()
	take := func() error {
		sm, err := sampleServer(ctx, mc, p.PID(), dbFile, pgPort)
		if err != nil {
			return err
		}
		sm.At = time.Since(start)
		sm.Counts, sm.Errors = s.counts()
		rep.Samples = append(rep.Samples, sm)
		return nil
	}
	if err := take(); err != nil {
		return nil, err
	}
	tick := time.NewTicker(cfg.Sample)
	defer tick.Stop()
	row := soakRowEvery(cfg.Duration)
	nextRow := row
	warmProfiled := false
loop:
	for {
		select {
		case <-runCtx.Done():
			break loop
		case <-tick.C:
			if err := take(); err != nil {
				cancel()
				wg.Wait()
				return nil, fmt.Errorf("sample the server: %w", err)
			}
			if cfg.HeapProfile != "" && !warmProfiled && time.Since(start) >= cfg.Duration/4 {
				warmProfiled = true
				if err := writeHeapProfile(cfg.HeapProfile + ".warm"); err != nil {
					return nil, err
				}
			}
			if sm := rep.Samples[len(rep.Samples)-1]; sm.At >= nextRow {
				fmt.Fprintf(cfg.Log, "  soak %s: %s ops, %d unexpected, RSS %s, heap %s, %0.f goroutines, %d fds (load %s)\n",
					sm.At.Round(time.Second), fmtCount(int(sum(sm.Counts[:]))), sm.Errors, fmtMiB(sm.RSS),
					fmtMiB(uint64(sm.HeapInuse)), sm.Goroutines, sm.FDs, sm.Load)
				nextRow += row
			}
		}
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	// The last sample closes the run, after the workers stopped.
	if err := take(); err != nil {
		return nil, err
	}
	rep.Elapsed = time.Since(start)
	if cfg.HeapProfile != "" {
		if err := writeHeapProfile(cfg.HeapProfile); err != nil {
			return nil, err
		}
		fmt.Fprintf(cfg.Log, "  soak: heap profiles in %s.warm and %s: go tool pprof -base %[1]s.warm -sample_index=inuse_space -top %[2]s\n",
			cfg.HeapProfile, cfg.HeapProfile)
	}
	rep.OK, rep.Bad = loadAll(&s.ok), loadAll(&s.bad)
	rep.Limited, rep.Undecided, rep.Skipped, rep.Reconnects = s.limited.Load(), s.undecided.Load(), s.skipped.Load(), s.reconnect.Load()
	rep.Failures = s.failures
	rep.analyse()
	return rep, nil
}

// soakServer is the server under soak: a process of its own, or (to
// profile its heap) server.Run inside this one.
type soakServer interface {
	URL() string
	PID() int
	Stop()
}

// PID of an in-process server is this process's: its memory, goroutines
// and descriptors then include the load's own.
func (p *inProcess) PID() int { return os.Getpid() }

// writeHeapProfile writes this process's live heap, after a collection.
func writeHeapProfile(path string) error {
	runtime.GC()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func loadAll(a *[nSoakKinds]atomic.Int64) (out [nSoakKinds]int64) {
	for i := range a {
		out[i] = a[i].Load()
	}
	return out
}

func sum(v []int64) (n int64) {
	for _, x := range v {
		n += x
	}
	return n
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// soakRowEvery is the timeline's step: a tenth of the run, in whole
// seconds when the run is long enough (a minute for 10 minutes).
func soakRowEvery(d time.Duration) time.Duration {
	if d >= 20*time.Second {
		return (d / 10).Round(time.Second)
	}
	return max(d/10, 100*time.Millisecond)
}

// setup makes the fixed part: a group every soak account joins, an
// application admitting that group (forward-auth), an LDAP provider (the
// in-server door), and the first population.
func (s *soakRun) setup(ctx context.Context) error {
	admin := s.admin
	steps := []func() error{
		func() error { _, err := admin.Groups.Create(ctx, client.GroupCreate{Name: "soak"}); return err },
		func() error {
			_, err := admin.Applications.Create(ctx, client.ApplicationInput{Slug: soakSlug, Name: new("Soak")})
			return err
		},
		func() error {
			_, err := admin.Applications.Bind(ctx, soakSlug, client.SubjectGroups, "soak", client.BindingInput{})
			return err
		},
		func() error {
			_, err := admin.LDAPProviders.Create(ctx, client.LDAPProviderInput{Name: "soak", BaseDN: new(soakBaseDN)})
			return err
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	for i := range s.cfg.Accounts {
		if err := s.createSA(ctx); err != nil {
			return err
		}
		// Half the accounts get a second key of the other intent, so
		// that every kind of check has keys from the start.
		if i%2 == 0 {
			if err := s.createToken(ctx, kCreateApp); err != nil {
				return err
			}
		}
	}
	// The door serves the provider once it sees it: wait for the first
	// good bind rather than count its "unavailable" as unexpected.
	for deadline := time.Now().Add(10 * time.Second); ; {
		err := s.ldapBindOnce(ctx)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the LDAP door does not take binds: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *soakRun) ldapBindOnce(ctx context.Context) error {
	t := s.pickToken("app_password", nil)
	if t == nil {
		return errors.New("no app password")
	}
	defer s.release(t)
	l, err := goldap.DialURL("ldap://" + s.ldapAddr)
	if err != nil {
		return err
	}
	defer l.Close()
	return l.Bind("cn="+t.user+",ou=users,"+soakBaseDN, t.key)
}

// ---- the state: accounts, their tokens, keys to refuse ----

// pickToken reserves a random token of that intent that no change is
// touching (used: nil any, else that state); release ends the
// reservation.
func (s *soakRun) pickToken(intent string, used *bool) *soakToken {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int
	var pick *soakToken
	for _, a := range s.accounts {
		for _, t := range a.tokens {
			if t.busy || t.intent != intent || (used != nil && t.used != *used) {
				continue
			}
			n++
			if s.rng.IntN(n) == 0 { // reservoir sampling: uniform, one pass
				pick = t
			}
		}
	}
	if pick != nil {
		pick.inflight++
	}
	return pick
}

func (s *soakRun) release(t *soakToken) {
	s.mu.Lock()
	t.inflight--
	t.used = true
	s.mu.Unlock()
}

func (s *soakRun) addDead(d deadKey) {
	if len(s.dead) < cap(s.dead) {
		s.dead = append(s.dead, d)
		return
	}
	s.dead[s.deadNext] = d
	s.deadNext = (s.deadNext + 1) % len(s.dead)
}

// pickDead returns a key that must be refused now.
func (s *soakRun) pickDead(intent string) (deadKey, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for range 8 {
		if len(s.dead) == 0 {
			break
		}
		d := s.dead[s.rng.IntN(len(s.dead))]
		if !d.from.After(now) && (intent == "" || d.intent == intent) {
			return d, true
		}
	}
	return deadKey{}, false
}

func (s *soakRun) pickGrace() (graceKey, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	live := s.grace[:0]
	for _, g := range s.grace {
		if g.until.After(now.Add(soakMargin)) {
			live = append(live, g)
		}
	}
	s.grace = live
	var n int
	var pick graceKey
	for _, g := range live {
		if g.tok.busy {
			continue
		}
		n++
		if s.rng.IntN(n) == 0 {
			pick = g
		}
	}
	if n == 0 {
		return graceKey{}, false
	}
	pick.tok.inflight++
	return pick, true
}

// dropGrace forgets the old keys of tokens a change ended (or rotated
// again): they are no longer sure to work.
func (s *soakRun) dropGrace(ts ...*soakToken) {
	live := s.grace[:0]
	for _, g := range s.grace {
		if !slices.Contains(ts, g.tok) {
			live = append(live, g)
		}
	}
	s.grace = live
}

// lockAccount reserves an account for a change: one with room for a
// token (room), or whose tokens no check holds (idle).
func (s *soakRun) lockAccount(room, idle bool) *soakAccount {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int
	var pick *soakAccount
next:
	for _, a := range s.accounts {
		if a.busy || (room && len(a.tokens) >= soakMaxToks) {
			continue
		}
		if idle {
			for _, t := range a.tokens {
				if t.inflight > 0 {
					continue next
				}
			}
		}
		n++
		if s.rng.IntN(n) == 0 {
			pick = a
		}
	}
	if pick != nil {
		pick.busy = true
		if idle {
			for _, t := range pick.tokens {
				t.busy = true
			}
		}
	}
	return pick
}

// lockToken reserves a token for a change: its account, and the token
// itself, which no check holds.
func (s *soakRun) lockToken(minTokens int) (*soakAccount, *soakToken) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int
	var pa *soakAccount
	var pt *soakToken
	for _, a := range s.accounts {
		if a.busy || len(a.tokens) < minTokens {
			continue
		}
		for _, t := range a.tokens {
			if t.busy || t.inflight > 0 {
				continue
			}
			n++
			if s.rng.IntN(n) == 0 {
				pa, pt = a, t
			}
		}
	}
	if pt != nil {
		pa.busy, pt.busy = true, true
	}
	return pa, pt
}

func (s *soakRun) nextName(prefix string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	return fmt.Sprintf("%s-%07d", prefix, s.seq)
}

func refusalKind(intent string) soakKind {
	if intent == "app_password" {
		return kRevokedApp
	}
	return kRevoked
}

// ---- changes ----

func (s *soakRun) createSA(ctx context.Context) error {
	name := s.nextName("soak")
	intent := "api"
	if s.randN(3) == 0 {
		intent = "app_password"
	}
	out, err := s.admin.ServiceAccounts.Create(ctx, client.ServiceAccountCreate{Username: name, Groups: []string{"soak"}, TokenIntent: intent})
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.accounts = append(s.accounts, &soakAccount{name: name, tokens: []*soakToken{{id: out.Token.Identifier, user: name, intent: intent, key: out.Token.Key}}})
	s.mu.Unlock()
	return nil
}

func (s *soakRun) createToken(ctx context.Context, k soakKind) error {
	a := s.lockAccount(k != kCreateShort, false)
	if a == nil {
		return nil
	}
	id := s.nextName("soak-t")
	in := client.TokenCreate{Identifier: id, User: a.name, Intent: client.IntentAPI, TTL: "24h"}
	switch k {
	case kCreateApp:
		in.Intent = client.IntentAppPassword
	case kCreateExtended:
		in.TTL, in.Extended, in.MaxAge = "", true, "1h"
	case kCreateShort:
		in.TTL = soakShortTTL.String()
	}
	out, err := s.admin.Tokens.Create(ctx, in)
	done := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	a.busy = false
	if err != nil {
		return err
	}
	intent := in.Intent
	if k == kCreateShort {
		// Never checked as good (it may be gone by then); refused once
		// its life is surely over, then deleted.
		s.addDead(deadKey{key: out.Key, user: a.name, intent: intent, kind: kExpired, from: done.Add(soakShortTTL + soakMargin)})
		s.expired = append(s.expired, expiredToken{id: id, from: done.Add(soakShortTTL + soakMargin)})
		return nil
	}
	a.tokens = append(a.tokens, &soakToken{id: id, user: a.name, intent: intent, key: out.Key})
	return nil
}

func (s *soakRun) rotate(ctx context.Context) error {
	a, t := s.lockToken(1)
	if t == nil {
		return nil
	}
	sent := time.Now()
	out, err := s.admin.Tokens.Rotate(ctx, t.id, client.TokenRotate{Grace: soakGrace.String()})
	done := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	a.busy, t.busy = false, false
	if err != nil {
		return err
	}
	s.dropGrace(t)
	s.grace = append(s.grace, graceKey{tok: t, key: t.key, user: t.user, intent: t.intent, until: sent.Add(soakGrace)})
	s.addDead(deadKey{key: t.key, user: t.user, intent: t.intent, kind: kAfterGrace, from: done.Add(soakGrace + soakMargin)})
	t.key, t.used = out.Key, false
	return nil
}

func (s *soakRun) revoke(ctx context.Context) error {
	a, t := s.lockToken(2) // every account keeps a key
	if t == nil {
		return nil
	}
	err := s.admin.Tokens.Revoke(ctx, t.id)
	done := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	a.busy, t.busy = false, false
	if err != nil {
		return err
	}
	a.tokens = slices.DeleteFunc(a.tokens, func(x *soakToken) bool { return x == t })
	s.dropGrace(t)
	s.addDead(deadKey{key: t.key, user: t.user, intent: t.intent, kind: refusalKind(t.intent), from: done})
	return nil
}

func (s *soakRun) deleteSA(ctx context.Context) error {
	a := s.lockAccount(false, true)
	if a == nil {
		return nil
	}
	err := s.admin.ServiceAccounts.Delete(ctx, a.name)
	done := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		a.busy = false
		for _, t := range a.tokens {
			t.busy = false
		}
		return err
	}
	s.accounts = slices.DeleteFunc(s.accounts, func(x *soakAccount) bool { return x == a })
	s.dropGrace(a.tokens...)
	for _, t := range a.tokens {
		s.addDead(deadKey{key: t.key, user: t.user, intent: t.intent, kind: refusalKind(t.intent), from: done})
	}
	return nil
}

func (s *soakRun) deleteExpired(ctx context.Context) (bool, error) {
	s.mu.Lock()
	var e expiredToken
	found := false
	for i, x := range s.expired {
		if !x.from.After(time.Now()) {
			e, found = x, true
			s.expired = append(s.expired[:i], s.expired[i+1:]...)
			break
		}
	}
	s.mu.Unlock()
	if !found {
		return false, nil
	}
	// An expired API token stays until deleted; its owner may have been
	// deleted meanwhile, and its tokens with it.
	if err := s.admin.Tokens.Revoke(ctx, e.id); err != nil && !errors.Is(err, client.ErrNotFound) {
		return true, err
	}
	return true, nil
}

func (s *soakRun) randN(n int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rng.IntN(n)
}

// changer makes changes at its share of -soak-changes: the population
// stays near -soak-accounts (creations and deletions balance around it),
// and every account holds one to four tokens.
func (s *soakRun) changer(ctx context.Context) {
	pace := newPacer(time.Duration(float64(time.Second) * 2 / float64(s.cfg.Changes)))
	for pace.wait(ctx) {
		s.mu.Lock()
		n := len(s.accounts)
		s.mu.Unlock()
		target := s.cfg.Accounts
		var k soakKind
		switch r := s.randN(100); {
		case n < target*3/4:
			k = kCreateSA
		case n > target*5/4:
			k = kDeleteSA
		case r < 8:
			k = kCreateSA
		case r < 16:
			k = kDeleteSA
		case r < 30:
			k = kCreateAPI
		case r < 38:
			k = kCreateApp
		case r < 42:
			k = kCreateExtended
		case r < 48:
			k = kCreateShort
		case r < 70:
			k = kRotate
		case r < 90:
			k = kRevoke
		default:
			k = kDeleteExpired
		}
		var err error
		did := true
		switch k {
		case kCreateSA:
			err = s.createSA(ctx)
		case kDeleteSA:
			err = s.deleteSA(ctx)
		case kCreateAPI, kCreateApp, kCreateExtended, kCreateShort:
			err = s.createToken(ctx, k)
		case kRotate:
			err = s.rotate(ctx)
		case kRevoke:
			err = s.revoke(ctx)
		case kDeleteExpired:
			did, err = s.deleteExpired(ctx)
		}
		switch {
		case ctx.Err() != nil:
			return // cut short by the end of the run: no verdict
		case err != nil:
			s.fail(k, "%v", err)
		case did:
			s.ok[k].Add(1)
		}
	}
}

// ---- checks ----

// checker sends credential checks at its share of -soak-rate: mostly
// good keys, some refused ones (revoked, deleted, expired, after grace,
// the wrong intent) from the address pool.
func (s *soakRun) checker(ctx context.Context) {
	var pace *pacer
	if s.cfg.Rate > 0 {
		pace = newPacer(time.Duration(float64(time.Second) * float64(s.cfg.Checkers) / float64(s.cfg.Rate)))
	} else {
		pace = newPacer(0)
	}
	c := newClient(s.base)
	defer c.close()
	yes, no := true, false
	for pace.wait(ctx) {
		r := s.randN(100)
		switch {
		case r < 50:
			if t := s.pickToken("api", &yes); t != nil {
				s.checkMe(ctx, c, kWarm, t)
				continue
			}
			fallthrough
		case r < 60:
			if t := s.pickToken("api", &no); t != nil {
				s.checkMe(ctx, c, kCold, t)
			}
		case r < 75:
			if t := s.pickToken("app_password", nil); t != nil {
				s.checkForward(ctx, c, kFABasic, t.user, t.key, t.intent, func() { s.release(t) })
			}
		case r < 80:
			if t := s.pickToken("api", nil); t != nil {
				s.checkForward(ctx, c, kFABearer, t.user, t.key, t.intent, func() { s.release(t) })
			}
		case r < 85:
			if g, ok := s.pickGrace(); ok {
				s.checkGrace(ctx, c, g)
			}
		default:
			s.checkRefused(ctx)
		}
	}
}

// soakGET sends one GET, with an Authorization header unless authz is
// empty, and returns the answer as it came: the soak judges status,
// headers and body of credential checks itself.
func soakGET(ctx context.Context, hc *http.Client, url, authz string) (int, http.Header, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, nil, err
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b, err
}

func basicAuth(user, pass string) string {
	req := http.Request{Header: http.Header{}}
	req.SetBasicAuth(user, pass)
	return req.Header.Get("Authorization")
}

// admitted reports whether an answer admits the expected user: /me names
// them, forward-auth's header does.
func admitted(status int, h http.Header, body []byte, user string) bool {
	if status != http.StatusOK {
		return false
	}
	if h.Get("X-Gatehouse-User") == user {
		return true
	}
	return bytes.Contains(body, []byte(`"username":"`+user+`"`))
}

func (s *soakRun) checkMe(ctx context.Context, c *benchClient, k soakKind, t *soakToken) {
	defer s.release(t)
	st, h, b, err := soakGET(ctx, c.hc, s.base+"/api/v1/me", "Bearer "+t.key)
	s.judgeGood(ctx, k, t.id, st, h, b, err, t.user)
}

func (s *soakRun) judgeGood(ctx context.Context, k soakKind, what string, st int, h http.Header, b []byte, err error, user string) {
	switch {
	case ctx.Err() != nil:
	case err != nil:
		s.fail(k, "%s: %v", what, err)
	case !admitted(st, h, b, user):
		s.fail(k, "%s of %s: status %d: %s", what, user, st, snippet(b))
	default:
		s.ok[k].Add(1)
	}
}

func (s *soakRun) checkForward(ctx context.Context, c *benchClient, k soakKind, user, key, intent string, release func()) {
	defer release()
	authz := "Bearer " + key
	if intent == "app_password" {
		authz = basicAuth(user, key)
	}
	st, h, b, err := soakGET(ctx, c.hc, s.base+"/outpost/forward-auth/"+soakSlug, authz)
	s.judgeGood(ctx, k, "forward-auth", st, h, b, err, user)
}

func (s *soakRun) checkGrace(ctx context.Context, c *benchClient, g graceKey) {
	defer func() {
		s.mu.Lock()
		g.tok.inflight--
		s.mu.Unlock()
	}()
	url, authz := s.base+"/api/v1/me", "Bearer "+g.key
	if g.intent == "app_password" {
		url, authz = s.base+"/outpost/forward-auth/"+soakSlug, basicAuth(g.user, g.key)
	}
	st, h, b, err := soakGET(ctx, c.hc, url, authz)
	if err == nil && st == http.StatusUnauthorized && !time.Now().Before(g.until) {
		// Answered after the grace could have ended: no verdict.
		s.undecided.Add(1)
		return
	}
	s.judgeGood(ctx, kGrace, "old key of "+g.intent, st, h, b, err, g.user)
}

// checkRefused presents a key that must be refused, from an address of
// the pool.
func (s *soakRun) checkRefused(ctx context.Context) {
	var d deadKey
	if s.randN(5) == 0 {
		t := s.pickToken("app_password", nil)
		if t == nil {
			return
		}
		d = deadKey{key: t.key, user: t.user, intent: "app_password", kind: kAppOnAPI}
		s.release(t)
	} else if x, ok := s.pickDead(""); ok {
		d = x
	} else {
		return
	}
	ip, ok := s.pool.take(time.Now())
	if !ok {
		s.skipped.Add(1)
		return
	}
	hc := addrClient(ip)
	defer hc.CloseIdleConnections()
	url, authz := s.base+"/api/v1/me", "Bearer "+d.key
	if d.intent == "app_password" && d.kind != kAppOnAPI {
		url, authz = s.base+"/outpost/forward-auth/"+soakSlug, basicAuth(d.user, d.key)
	}
	st, _, b, err := soakGET(ctx, hc, url, authz)
	switch {
	case ctx.Err() != nil:
	case err != nil:
		s.fail(d.kind, "%v", err)
	case st == http.StatusUnauthorized:
		s.ok[d.kind].Add(1)
	case st == http.StatusTooManyRequests:
		// Refused all the same, by the limiter: not admitted, but not
		// what the soak paces for; counted and shown.
		s.limited.Add(1)
		s.ok[d.kind].Add(1)
	default:
		s.fail(d.kind, "key of %s (%s): status %d, want 401: %s", d.user, d.intent, st, snippet(b))
	}
}

// addrClient is a client whose one connection comes from ip and closes
// after the request: the pool's addresses would otherwise hold thousands
// of idle connections open on the server.
func addrClient(ip net.IP) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: 10 * time.Second}
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true, DialContext: d.DialContext}, Timeout: 30 * time.Second}
}

// ldapWorker binds over the in-server LDAP door on two long-lived
// connections, as a service that binds for every login would, at a
// twentieth of the check rate; one bind in ten presents a revoked app
// password on a new connection from the address pool.
func (s *soakRun) ldapWorker(ctx context.Context) {
	rate := max(s.cfg.Rate/20, 5)
	pace := newPacer(time.Second / time.Duration(rate))
	conns := make([]*goldap.Conn, 2)
	defer func() {
		for _, l := range conns {
			if l != nil {
				l.Close()
			}
		}
	}()
	dial := func(i int) (*goldap.Conn, error) {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 83, 0, byte(1+i))}, Timeout: 10 * time.Second}
		return goldap.DialURL("ldap://"+s.ldapAddr, goldap.DialWithDialer(d))
	}
	for n := 0; pace.wait(ctx); n++ {
		if n%10 == 9 {
			s.ldapRefused(ctx)
			continue
		}
		t := s.pickToken("app_password", nil)
		if t == nil {
			continue
		}
		i := n % len(conns)
		err := func() error {
			defer s.release(t)
			dn := "cn=" + t.user + ",ou=users," + soakBaseDN
			for try := 0; ; try++ {
				if conns[i] == nil || conns[i].IsClosing() {
					if conns[i] != nil {
						// The server ends a bound session when its user
						// changes (a token revoked or rotated, the
						// account deleted).
						s.reconnect.Add(1)
						conns[i].Close()
					}
					l, err := dial(i)
					if err != nil {
						return err
					}
					conns[i] = l
				}
				err := conns[i].Bind(dn, t.key)
				if err != nil && try == 0 && goldap.IsErrorWithCode(err, goldap.ErrorNetwork) {
					// Ended while we sent: bind on a new connection.
					s.reconnect.Add(1)
					conns[i].Close()
					conns[i] = nil
					continue
				}
				return err
			}
		}()
		switch {
		case ctx.Err() != nil:
		case err != nil:
			s.fail(kLDAPBind, "bind as %s: %v", t.user, err)
		default:
			s.ok[kLDAPBind].Add(1)
		}
	}
}

func (s *soakRun) ldapRefused(ctx context.Context) {
	d, ok := s.pickDead("app_password")
	if !ok {
		return
	}
	ip, ok := s.pool.take(time.Now())
	if !ok {
		s.skipped.Add(1)
		return
	}
	dl := &net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: 10 * time.Second}
	l, err := goldap.DialURL("ldap://"+s.ldapAddr, goldap.DialWithDialer(dl))
	if err != nil {
		if ctx.Err() == nil {
			s.fail(kLDAPRevoked, "dial: %v", err)
		}
		return
	}
	defer l.Close()
	err = l.Bind("cn="+d.user+",ou=users,"+soakBaseDN, d.key)
	switch {
	case ctx.Err() != nil:
	case goldap.IsErrorWithCode(err, goldap.LDAPResultInvalidCredentials):
		s.ok[kLDAPRevoked].Add(1)
	case goldap.IsErrorWithCode(err, goldap.LDAPResultBusy):
		s.limited.Add(1)
		s.ok[kLDAPRevoked].Add(1)
	case err == nil:
		s.fail(kLDAPRevoked, "bind as %s with a dead app password succeeded", d.user)
	default:
		s.fail(kLDAPRevoked, "bind as %s: %v, want invalidCredentials (49)", d.user, err)
	}
}

func snippet(b []byte) string {
	if len(b) > 200 {
		b = b[:200]
	}
	return strings.TrimSpace(string(b))
}

// pacer spaces a loop's rounds evenly; a loop that falls behind does not
// burst to catch up.
type pacer struct {
	every time.Duration
	next  time.Time
}

func newPacer(every time.Duration) *pacer { return &pacer{every: every, next: time.Now()} }

// wait waits for the next round; false once ctx is done.
func (p *pacer) wait(ctx context.Context) bool {
	if ctx.Err() != nil {
		return false
	}
	if p.every <= 0 {
		return true
	}
	now := time.Now()
	if p.next.Before(now.Add(-p.every)) {
		p.next = now
	}
	d := p.next.Sub(now)
	p.next = p.next.Add(p.every)
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// addrPool hands out loopback client addresses, each at most
// soakRefusalsPerAddr times a minute.
type addrPool struct {
	mu   sync.Mutex
	ips  []net.IP
	used [][soakRefusalsPerAddr]time.Time // ring of each address's last uses
	pos  []int
	next int
}

func newAddrPool() *addrPool {
	p := &addrPool{used: make([][soakRefusalsPerAddr]time.Time, soakAddrs), pos: make([]int, soakAddrs)}
	for i := range soakAddrs {
		p.ips = append(p.ips, net.IPv4(127, 84, byte(i/250), byte(1+i%250)))
	}
	return p
}

func (p *addrPool) take(now time.Time) (net.IP, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for range len(p.ips) {
		i := p.next
		p.next = (p.next + 1) % len(p.ips)
		// A second over the limiter's minute: its window and ours start
		// at slightly different times.
		if oldest := p.used[i][p.pos[i]]; oldest.IsZero() || now.Sub(oldest) > time.Minute+time.Second {
			p.used[i][p.pos[i]] = now
			p.pos[i] = (p.pos[i] + 1) % soakRefusalsPerAddr
			return p.ips[i], true
		}
	}
	return nil, false
}

// ---- samples ----

type soakSample struct {
	At          time.Duration
	RSS         uint64
	HeapInuse   float64 // go_memstats_heap_inuse_bytes
	HeapObjects float64 // go_memstats_heap_objects
	Goroutines  float64 // go_goroutines
	FDs         int     // entries of /proc/PID/fd
	DBConns     int     // SQLite: descriptors on the database file; PostgreSQL: sockets to its port
	Load        string
	Counts      [nSoakKinds]int64
	Errors      int64
}

func sampleServer(ctx context.Context, c *benchClient, pid int, dbFile, pgPort string) (soakSample, error) {
	var sm soakSample
	m, err := readMemory(pid)
	if err != nil {
		return sm, err
	}
	sm.RSS = m.RSS
	st, _, b, err := soakGET(ctx, c.hc, c.api.Server()+"/metrics", "")
	if err != nil {
		return sm, err
	}
	if st != 200 {
		return sm, fmt.Errorf("GET /metrics: status %d", st)
	}
	vals := parseMetrics(b, "go_memstats_heap_inuse_bytes", "go_memstats_heap_objects", "go_goroutines")
	sm.HeapInuse, sm.HeapObjects, sm.Goroutines = vals[0], vals[1], vals[2]
	if math.IsNaN(sm.HeapInuse) || math.IsNaN(sm.Goroutines) {
		return sm, errors.New("/metrics has no go_memstats_heap_inuse_bytes or go_goroutines")
	}
	if sm.FDs, sm.DBConns, err = countFDs(pid, dbFile, pgPort); err != nil {
		return sm, err
	}
	sm.Load = loadAverage()
	return sm, nil
}

// parseMetrics reads the values of unlabelled series from Prometheus'
// text format; NaN for one not found.
func parseMetrics(b []byte, names ...string) []float64 {
	out := make([]float64, len(names))
	for i := range out {
		out[i] = math.NaN()
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		for i, n := range names {
			if name == n {
				if v, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
					out[i] = v
				}
			}
		}
	}
	return out
}

// countFDs counts a process's open descriptors, and among them its
// database connections: descriptors on the SQLite file (one per
// connection), or TCP sockets to PostgreSQL's port.
func countFDs(pid int, dbFile, pgPort string) (total, db int, err error) {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, 0, err
	}
	sockets := map[string]bool{}
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			continue // closed meanwhile
		}
		total++
		switch {
		case dbFile != "" && target == dbFile:
			db++
		case pgPort != "" && strings.HasPrefix(target, "socket:["):
			sockets[strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]")] = true
		}
	}
	if pgPort == "" {
		return total, db, nil
	}
	port, err := strconv.Atoi(pgPort)
	if err != nil {
		return total, 0, fmt.Errorf("PostgreSQL port %q: %w", pgPort, err)
	}
	for _, f := range []string{"tcp", "tcp6"} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, f))
		if err != nil {
			continue
		}
		db += pgSockets(b, port, sockets)
	}
	return total, db, nil
}

// pgSockets counts the lines of /proc/net/tcp whose remote port is port
// and whose inode is one of the process's sockets.
func pgSockets(table []byte, port int, inodes map[string]bool) int {
	n := 0
	want := fmt.Sprintf(":%04X", port)
	for _, line := range strings.Split(string(table), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 10 {
			continue
		}
		if strings.HasSuffix(f[2], want) && inodes[f[9]] {
			n++
		}
	}
	return n
}

// ---- analysis and report ----

type soakReport struct {
	Cfg                                     soakConfig
	Elapsed                                 time.Duration
	OK, Bad                                 [nSoakKinds]int64
	Limited, Undecided, Skipped, Reconnects int64
	Failures                                []string
	Samples                                 []soakSample
	Trends                                  []soakTrend
}

// soakTrend says whether one series stayed flat once warm.
type soakTrend struct {
	Name        string
	Unit        string // "MiB" or ""
	Start       float64
	Early, Late float64 // means over the run's second and last quarters
	Growth      float64 // least-squares slope over the last three quarters, times their length
	Limit       float64
	N           int // samples analysed
	Flat        bool
}

// The tolerances of "flat". A leak grows with the work done: at 600
// checks a second, 7.5 minutes after warm-up are some 270,000 checks and
// 9,000 changes, so the 4 MiB of heap allowed is 15 bytes per check, far
// less than any object kept per request or per token. What the limits
// must absorb is noise: the heap in use swings with the garbage collector
// (up to twice the live heap between cycles, but the regression over
// hundreds of samples averages that out), RSS with the runtime returning
// memory to the system lazily, goroutines and descriptors with the
// requests and connections in flight at the sampling instant (a dozen
// workers' worth). Below those floors, 10% of the warm level.
var soakLimits = []struct {
	name, unit string
	rel, abs   float64
	value      func(soakSample) float64
}{
	{"heap in use (go_memstats_heap_inuse_bytes)", "MiB", 0.10, 4 << 20, func(s soakSample) float64 { return s.HeapInuse }},
	{"resident memory (VmRSS)", "MiB", 0.10, 8 << 20, func(s soakSample) float64 { return float64(s.RSS) }},
	{"goroutines (go_goroutines)", "", 0.10, 8, func(s soakSample) float64 { return s.Goroutines }},
	{"open descriptors (/proc/PID/fd)", "", 0.10, 8, func(s soakSample) float64 { return float64(s.FDs) }},
}

// soakMinSamples is how many samples after warm-up a verdict needs.
const soakMinSamples = 8

// flatTrend judges a series sampled at times at over a run of length run.
// The first quarter is warm-up (caches filling, connection pools
// growing) and is left out. The series grew when both the least-squares
// slope over the rest, times its length, exceeds the limit and the last
// quarter's mean is above the second quarter's by more than half of it:
// a leak does both (for a steady leak the second is two thirds of the
// first), while noise seldom pushes both at once. The limit is
// max(rel × the second quarter's mean, abs).
func flatTrend(name string, at []time.Duration, vs []float64, run time.Duration, rel, abs float64) soakTrend {
	tr := soakTrend{Name: name}
	if len(vs) > 0 {
		tr.Start = vs[0]
	}
	q := run.Seconds() / 4
	var xs, ys, early, late []float64
	for i, v := range vs {
		x := at[i].Seconds()
		if x < q {
			continue
		}
		xs, ys = append(xs, x), append(ys, v)
		if x < 2*q {
			early = append(early, v)
		}
		if x >= 3*q {
			late = append(late, v)
		}
	}
	tr.N = len(xs)
	if tr.N < soakMinSamples || len(early) == 0 || len(late) == 0 {
		return tr // not flat: too few samples to tell
	}
	tr.Early, tr.Late = mean(early), mean(late)
	tr.Growth = slope(xs, ys) * (xs[len(xs)-1] - xs[0])
	tr.Limit = max(rel*tr.Early, abs)
	tr.Flat = !(tr.Growth > tr.Limit && tr.Late-tr.Early > tr.Limit/2)
	return tr
}

func mean(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// slope is the least-squares slope of ys over xs.
func slope(xs, ys []float64) float64 {
	mx, my := mean(xs), mean(ys)
	var num, den float64
	for i := range xs {
		num += (xs[i] - mx) * (ys[i] - my)
		den += (xs[i] - mx) * (xs[i] - mx)
	}
	if den == 0 {
		return 0
	}
	return num / den
}

func (r *soakReport) analyse() {
	at := make([]time.Duration, len(r.Samples))
	for i, s := range r.Samples {
		at[i] = s.At
	}
	r.Trends = nil
	for _, l := range soakLimits {
		vs := make([]float64, len(r.Samples))
		for i, s := range r.Samples {
			vs[i] = l.value(s)
		}
		tr := flatTrend(l.name, at, vs, r.Elapsed, l.rel, l.abs)
		tr.Unit = l.unit
		r.Trends = append(r.Trends, tr)
	}
}

func (r *soakReport) unexpected() int64 { return sum(r.Bad[:]) }

// verdict is nil when the soak passed: no unexpected answer, every
// series flat.
func (r *soakReport) verdict() error {
	var why []string
	if n := r.unexpected(); n > 0 {
		why = append(why, fmt.Sprintf("%d unexpected answers", n))
	}
	for _, t := range r.Trends {
		if !t.Flat {
			if t.N < soakMinSamples {
				why = append(why, fmt.Sprintf("%s: only %d samples after warm-up", t.Name, t.N))
			} else {
				why = append(why, fmt.Sprintf("%s grew by %s (limit %s)", t.Name, t.fmt(t.Growth), t.fmt(t.Limit)))
			}
		}
	}
	if len(why) > 0 {
		return fmt.Errorf("soak failed: %s", strings.Join(why, "; "))
	}
	return nil
}

func (t soakTrend) fmt(v float64) string {
	if t.Unit == "MiB" {
		return fmt.Sprintf("%.1f MiB", v/(1<<20))
	}
	return fmt.Sprintf("%.1f", v)
}

func (r *soakReport) results() []Result {
	secs := r.Elapsed.Seconds()
	be := r.Cfg.Backend
	var ops, checks int64
	for k := range nSoakKinds {
		ops += r.OK[k] + r.Bad[k]
		if !soakKind(k).change() {
			checks += r.OK[k] + r.Bad[k]
		}
	}
	rs := []Result{{
		Suite: "soak", Metric: fmt.Sprintf("operations in %s (%s), of them checks and binds", r.Elapsed.Round(time.Second), be),
		Value: fmt.Sprintf("%s (%.0f/s); %s (%.0f/s)", fmtCount(int(ops)), float64(ops)/secs, fmtCount(int(checks)), float64(checks)/secs),
	}}
	for k := range nSoakKinds {
		n := r.OK[k] + r.Bad[k]
		v := fmt.Sprintf("%s (%.1f/s)", fmtCount(int(n)), float64(n)/secs)
		if r.Bad[k] > 0 {
			v += fmt.Sprintf(", %d unexpected", r.Bad[k])
		}
		rs = append(rs, Result{Suite: "soak", Metric: "  " + soakKindNames[k], Value: v})
	}
	rs = append(rs,
		Result{Suite: "soak", Metric: "unexpected answers (5xx, refused good key, admitted dead key)", Value: fmtCount(int(r.unexpected())),
			Goal: "0", Met: met(r.unexpected() == 0)},
		Result{Suite: "soak", Metric: "  refusals answered 429 by the limiter (counted refused)", Value: fmtCount(int(r.Limited))},
		Result{Suite: "soak", Metric: "  LDAP sessions ended by the server after a change, bound again", Value: fmtCount(int(r.Reconnects))},
	)
	if r.Undecided+r.Skipped > 0 {
		rs = append(rs, Result{Suite: "soak", Metric: "  not judged: grace checks answered at its end; refusals without an address",
			Value: fmt.Sprintf("%d; %d", r.Undecided, r.Skipped)})
	}
	for _, t := range r.Trends {
		res := Result{Suite: "soak", Metric: t.Name + ": 2nd -> last quarter mean",
			Value:    fmt.Sprintf("%s -> %s (trend %+.1f%s)", t.fmt(t.Early), t.fmt(t.Late), t.Growth/unitDiv(t.Unit), unitSuffix(t.Unit)),
			Baseline: "start " + t.fmt(t.Start), Ratio: fmtRatio(t.Late, t.Early),
			Goal: "growth < " + t.fmt(t.Limit), Met: met(t.Flat)}
		if t.N < soakMinSamples {
			res.Value = fmt.Sprintf("%d samples after warm-up: too few to tell", t.N)
		}
		rs = append(rs, res)
	}
	if len(r.Samples) > 0 {
		last := r.Samples[len(r.Samples)-1]
		rs = append(rs, Result{Suite: "soak", Metric: "database connections at the end", Value: strconv.Itoa(last.DBConns)})
	}
	return rs
}

func unitDiv(u string) float64 {
	if u == "MiB" {
		return 1 << 20
	}
	return 1
}

func unitSuffix(u string) string {
	if u == "MiB" {
		return " MiB"
	}
	return ""
}

// printTimeline prints one row per tenth of the run (a minute of ten):
// the rates of the interval that ends there, and the sample taken then.
func (r *soakReport) printTimeline(w io.Writer) {
	if len(r.Samples) == 0 {
		return
	}
	step := soakRowEvery(r.Cfg.Duration)
	rows := []soakSample{r.Samples[0]}
	for _, s := range r.Samples[1:] {
		if s.At >= rows[len(rows)-1].At+step-r.Cfg.Sample/2 {
			rows = append(rows, s)
		}
	}
	if last := r.Samples[len(r.Samples)-1]; rows[len(rows)-1].At != last.At {
		rows = append(rows, last)
	}
	fmt.Fprintf(w, "soak timeline (%s, %s):\n", r.Cfg.Backend, r.Elapsed.Round(time.Second))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "TIME\tCHECKS/S\tCHANGES/S\tLDAP/S\tUNEXPECTED\tRSS\tHEAP INUSE\tHEAP OBJECTS\tGOROUTINES\tFDS\tDB CONNS\tLOAD\t")
	round := time.Second
	if step < 5*time.Second {
		round = 100 * time.Millisecond
	}
	for i, s := range rows {
		var checks, changes, ldap float64
		if i > 0 {
			p := rows[i-1]
			dt := (s.At - p.At).Seconds()
			for k := range nSoakKinds {
				d := float64(s.Counts[k]-p.Counts[k]) / dt
				switch kind := soakKind(k); {
				case kind.change():
					changes += d
				case kind == kLDAPBind || kind == kLDAPRevoked:
					ldap += d
				default:
					checks += d
				}
			}
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%.1f\t%.0f\t%d\t%s\t%s\t%s\t%.0f\t%d\t%d\t%s\t\n", s.At.Round(round), checks, changes, ldap, s.Errors,
			fmtMiB(s.RSS), fmtMiB(uint64(s.HeapInuse)), fmtCount(int(s.HeapObjects)), s.Goroutines, s.FDs, s.DBConns, s.Load)
	}
	tw.Flush()
	for _, f := range r.Failures {
		fmt.Fprintln(w, "unexpected:", f)
	}
	if err := r.verdict(); err != nil {
		fmt.Fprintln(w, "soak verdict: FAIL:", strings.TrimPrefix(err.Error(), "soak failed: "))
	} else {
		fmt.Fprintf(w, "soak verdict: PASS: no unexpected answer; heap, RSS, goroutines and descriptors flat after warm-up (%d samples)\n", len(r.Samples))
	}
}
