package main

// The soak suite: one real `gatehouse serve` under a steady mixed workload
// for -duration (10 minutes unless set), watched from outside: the
// process's resident memory (/proc), its Go heap and goroutines
// (/metrics), its open descriptors and database connections
// (/proc/PID/fd). It passes when no answer was unexpected and none of
// those grew once warm. Unlike the other suites it has no baseline to
// compare with: the server is held to itself, earlier in the same run.
//
// This file holds its flags and the driver (soak: start the server, run
// the workers, sample, stop); soak_state.go the accounts, tokens and
// keys it keeps track of; soak_changes.go the changes it makes;
// soak_checks.go the credential checks and their pacing; soak_samples.go
// what it reads of the server; soak_report.go the trends, the verdict
// and the report.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"
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
	// Grace and ShortTTL: a rotation's grace and a short-lived token's
	// life (0: soakGrace and soakShortTTL); short runs use less, so that
	// their ends come due within the run on a busy machine.
	Grace, ShortTTL time.Duration
	Checkers        int
	Accounts        int
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
	if cfg.Grace <= 0 {
		cfg.Grace = soakGrace
	}
	if cfg.ShortTTL <= 0 {
		cfg.ShortTTL = soakShortTTL
	}

	db, _, err := newDatabase(ctx, cfg.Backend, "soak")
	if err != nil {
		return nil, err
	}
	defer db.drop()
	env := db.Env
	env.Args = []string{"--ldap-listen", "127.0.0.1:0"}
	env.Extra = append(env.Extra, "GATEHOUSE_LDAP_PROVIDER=soak")
	var p soakServer
	if cfg.HeapProfile != "" {
		// Finer than the default (a sample per 512 KiB): a slow leak
		// shows in a few minutes.
		runtime.MemProfileRate = 4096
		p, err = startInProcess(ctx, env, true, map[string]string{"GATEHOUSE_LDAP_PROVIDER": "soak"})
	} else {
		p, err = startServer(ctx, env)
	}
	if err != nil {
		return nil, err
	}
	defer p.Stop()

	s := &soakRun{cfg: cfg, base: p.URL(), ldapAddr: p.LDAPAddr(), rng: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
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
	LDAPAddr() string
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
