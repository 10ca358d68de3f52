package main

// The ldap suite: simple binds per second and their p99 on gatehouse's
// in-server LDAP door against OpenLDAP's slapd (Debian's package, mdb
// backend, {SSHA} passwords, logging off as Debian configures it), with the same users, the same client (16
// go-ldap connections binding in a loop) and the same duration, in
// alternating rounds on the same machine; and the resident memory of an
// outpost holding a directory of 100,000 users.
//
// Knobs (environment): GATEHOUSE_BENCH_LDAP_USERS (1000),
// GATEHOUSE_BENCH_LDAP_DURATION (20s per server, in 4 alternating rounds),
// GATEHOUSE_BENCH_LDAP_CONNS (16), GATEHOUSE_BENCH_OUTPOST_USERS (100000;
// 0 skips the memory measurement). Needs slapd and slapadd (run as root,
// as slapd is here) and go on the PATH (it builds the gatehouse binary).

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/gatehouse/gatehouse/client"
	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/clock"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
	"github.com/gatehouse/gatehouse/internal/syncbuf"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

func init() {
	register(Suite{Name: "ldap", About: "LDAP simple binds: gatehouse against OpenLDAP slapd ({SSHA}), 16 connections; outpost memory with 100,000 users", Run: runLDAP})
}

const (
	benchBase      = "dc=example,dc=com"
	benchSecretKey = "bench-secret-key-0123456789abcdefghijklmnop"
	benchAdmin     = "bench-admin-token-0123456789abcdefghijklmn"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v >= 0 {
		return v
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// benchUser is one user with the password both servers know.
type benchUser struct{ name, password string }

func runLDAP(ctx context.Context) ([]Result, error) {
	users := envInt("GATEHOUSE_BENCH_LDAP_USERS", 1000)
	duration := envDuration("GATEHOUSE_BENCH_LDAP_DURATION", 20*time.Second)
	conns := envInt("GATEHOUSE_BENCH_LDAP_CONNS", 16)
	outpostUsers := envInt("GATEHOUSE_BENCH_OUTPOST_USERS", 100_000)
	for _, tool := range []string{"slapd", "slapadd", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("%s is needed (apt-get install slapd; run as root): %w", tool, err)
		}
	}
	dir, err := os.MkdirTemp("", "gatehouse-bench-ldap-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	bin, err := buildGatehouse(dir)
	if err != nil {
		return nil, err
	}

	// The same users, passwords and DNs on both servers.
	us := make([]benchUser, users)
	for i := range us {
		pk, err := auth.NewKey(store.IntentAppPassword)
		if err != nil {
			return nil, err
		}
		us[i] = benchUser{fmt.Sprintf("user%06d", i), pk.Raw}
	}
	gh, err := startBenchGatehouse(ctx, dir, bin, us)
	if err != nil {
		return nil, fmt.Errorf("gatehouse: %w", err)
	}
	defer gh.stop()
	slapd, err := startSlapd(ctx, dir, us)
	if err != nil {
		return nil, fmt.Errorf("slapd: %w", err)
	}
	defer slapd.stop()

	fmt.Fprintf(os.Stderr, "  %d users, %d connections, %s per server in alternating rounds\n", users, conns, duration)
	for _, addr := range []string{slapd.ldap, gh.ldap} { // warm both: every user binds once
		if _, err := driveBinds(ctx, addr, us, conns, 0, len(us)); err != nil {
			return nil, fmt.Errorf("warm-up on %s: %w", addr, err)
		}
	}
	const rounds = 4
	var slapdRuns, ghRuns []bindRun
	for r := 0; r < rounds; r++ {
		for _, s := range []struct {
			addr string
			runs *[]bindRun
		}{{slapd.ldap, &slapdRuns}, {gh.ldap, &ghRuns}} {
			run, err := driveBinds(ctx, s.addr, us, conns, duration/rounds, 0)
			if err != nil {
				return nil, err
			}
			*s.runs = append(*s.runs, run)
		}
	}
	sl, g := mergeRuns(slapdRuns), mergeRuns(ghRuns)
	rate := g.rate() / sl.rate()
	results := []Result{
		{Suite: "ldap", Metric: "binds/s, in-server door", Value: fmt.Sprintf("%.0f", g.rate()), Baseline: fmt.Sprintf("%.0f (slapd)", sl.rate()),
			Ratio: fmt.Sprintf("%.2f", rate), Goal: ">= 1.00", Met: met(rate >= 1)},
		{Suite: "ldap", Metric: "bind p99, in-server door", Value: g.p99().String(), Baseline: sl.p99().String() + " (slapd)",
			Ratio: fmt.Sprintf("%.2f", float64(g.p99())/float64(sl.p99()))},
	}
	if outpostUsers > 0 {
		rs, err := outpostMemory(ctx, dir, bin, outpostUsers)
		if err != nil {
			return nil, fmt.Errorf("outpost memory: %w", err)
		}
		results = append(results, rs...)
	}
	return results, nil
}

// buildGatehouse builds the binary of this module.
func buildGatehouse(dir string) (string, error) {
	mod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(mod)) == "" || strings.TrimSpace(string(mod)) == os.DevNull {
		return "", errors.New("run from the gatehouse module (go env GOMOD is empty)")
	}
	bin := filepath.Join(dir, "gatehouse")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/gatehouse")
	cmd.Dir = filepath.Dir(strings.TrimSpace(string(mod)))
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build gatehouse: %w", err)
	}
	return bin, nil
}

// freeAddr is an address for a program the suite starts that cannot
// listen on port 0 and say where (slapd, nginx) or that is started that
// way here: outside the ephemeral range, so that no outgoing connection
// takes it before the program binds it.
func freeAddr() (string, error) { return testenv.DaemonPort() }

// process is a server the suite started.
type process struct {
	cmd     *exec.Cmd
	done    chan struct{} // closed when it has exited, with waitErr
	waitErr error
	http    string
	ldap    string
	stderr  *syncbuf.Buffer // read while the server may still write
}

func (p *process) stop() { stopCommand(p.cmd, p.done, os.Interrupt, 10*time.Second) }

// start runs cmd and waits (at most within) until it accepts
// connections at addr; one that does not is stopped.
func start(ctx context.Context, cmd *exec.Cmd, addr string, within time.Duration) (*process, error) {
	p := &process{cmd: cmd, done: make(chan struct{}), stderr: &syncbuf.Buffer{}}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() { p.waitErr = cmd.Wait(); close(p.done) }()
	if err := waitTCP(ctx, p, addr, within); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// waitTCP waits until addr accepts connections.
func waitTCP(ctx context.Context, p *process, addr string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("exited (%v): %s", p.waitErr, p.stderr.String())
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not listening on %s after %s: %s", addr, within, p.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// seedGatehouse writes users (service accounts, each with a non-expiring
// app password), an LDAP provider "bench", and extra (in the same
// transaction) into a new SQLite database.
func seedGatehouse(ctx context.Context, path string, us []benchUser, extra func(q store.Queries) error) error {
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return err
	}
	h := auth.NewHasher([]byte(benchSecretKey))
	now := time.Now().UTC().Truncate(time.Microsecond)
	return st.InTx(ctx, func(q store.Queries) error {
		if err := q.CreateLDAPProvider(ctx, store.LDAPProvider{UID: newUID(), Name: "bench", BaseDN: benchBase,
			BindMode: store.LDAPModeDirect, SearchMode: store.LDAPModeCached, CreatedAt: now}); err != nil {
			return err
		}
		for _, u := range us {
			uid := newUID()
			if err := q.CreateUser(ctx, store.User{UID: uid, Username: u.name, Type: store.TypeServiceAccount, IsActive: true, CreatedAt: now}); err != nil {
				return err
			}
			if u.password == "" {
				continue
			}
			pk, err := auth.ParseKey(u.password)
			if err != nil {
				return err
			}
			tok := store.Token{UID: newUID(), Identifier: u.name + "-ldap", UserUID: uid, Intent: store.IntentAppPassword, CreatedAt: now, CreatedBy: "bench"}
			if err := q.CreateToken(ctx, tok, store.TokenKey{Lookup: pk.Lookup, TokenUID: tok.UID, Hash: h.Sum(u.password), CreatedAt: now}); err != nil {
				return err
			}
		}
		if extra != nil {
			return extra(q)
		}
		return nil
	})
}

func newUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func startBenchGatehouse(ctx context.Context, dir, bin string, us []benchUser) (*process, error) {
	db := filepath.Join(dir, "gatehouse.db")
	if err := seedGatehouse(ctx, db, us, nil); err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	httpAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	ldapAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, "serve")
	cmd.Env = append(os.Environ(), "GATEHOUSE_DATABASE=sqlite:"+db, "GATEHOUSE_SECRET_KEY="+benchSecretKey, "GATEHOUSE_LISTEN="+httpAddr,
		"GATEHOUSE_LDAP_PROVIDER=bench", "GATEHOUSE_LDAP_LISTEN="+ldapAddr, "GATEHOUSE_LOG_LEVEL=warn")
	p, err := start(ctx, cmd, ldapAddr, 30*time.Second)
	if err != nil {
		return nil, err
	}
	p.http, p.ldap = httpAddr, ldapAddr
	return p, nil
}

// ssha is an OpenLDAP {SSHA} password: SHA-1 of password and an 8-byte
// salt, with the salt.
func ssha(password string) string {
	salt := make([]byte, 8)
	_, _ = rand.Read(salt)
	h := sha1.New()
	h.Write([]byte(password))
	h.Write(salt)
	return "{SSHA}" + base64.StdEncoding.EncodeToString(append(h.Sum(nil), salt...))
}

func startSlapd(ctx context.Context, dir string, us []benchUser) (*process, error) {
	sd := filepath.Join(dir, "slapd")
	if err := os.MkdirAll(filepath.Join(sd, "db"), 0o700); err != nil {
		return nil, err
	}
	conf := filepath.Join(sd, "slapd.conf")
	err := os.WriteFile(conf, []byte(fmt.Sprintf(`include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile %[1]s/slapd.pid
argsfile %[1]s/slapd.args
loglevel 0
database mdb
maxsize 1073741824
suffix "%[2]s"
rootdn "cn=admin,%[2]s"
directory %[1]s/db
index objectClass eq
index cn eq
`, sd, benchBase)), 0o600)
	if err != nil {
		return nil, err
	}
	var ldif bytes.Buffer
	fmt.Fprintf(&ldif, "dn: %s\nobjectClass: dcObject\nobjectClass: organization\no: example\ndc: example\n\n", benchBase)
	fmt.Fprintf(&ldif, "dn: ou=users,%s\nobjectClass: organizationalUnit\nou: users\n\n", benchBase)
	for _, u := range us {
		fmt.Fprintf(&ldif, "dn: cn=%s,ou=users,%s\nobjectClass: inetOrgPerson\ncn: %s\nsn: %s\nuid: %s\nuserPassword: %s\n\n",
			u.name, benchBase, u.name, u.name, u.name, ssha(u.password))
	}
	add := exec.CommandContext(ctx, "slapadd", "-q", "-f", conf)
	add.Stdin = &ldif
	if out, err := add.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("slapadd: %v: %s", err, out)
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	p, err := start(ctx, exec.CommandContext(ctx, "slapd", "-f", conf, "-h", "ldap://"+addr+"/", "-d", "0"), addr, 30*time.Second)
	if err != nil {
		return nil, err
	}
	p.ldap = addr
	return p, nil
}

// bindRun is what one measurement saw.
type bindRun struct {
	binds     int
	elapsed   time.Duration
	latencies []time.Duration
}

func (r bindRun) rate() float64 { return float64(r.binds) / r.elapsed.Seconds() }

func (r bindRun) p99() time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	s := slices.Clone(r.latencies)
	slices.Sort(s)
	return s[len(s)*99/100]
}

func mergeRuns(runs []bindRun) bindRun {
	var out bindRun
	for _, r := range runs {
		out.binds += r.binds
		out.elapsed += r.elapsed
		out.latencies = append(out.latencies, r.latencies...)
	}
	return out
}

// driveBinds binds with conns connections in a loop, connection i as
// users i, i+conns, i+2*conns..., for d (or, when d is 0, count binds in
// all), and measures every bind.
func driveBinds(ctx context.Context, addr string, us []benchUser, conns int, d time.Duration, count int) (bindRun, error) {
	type result struct {
		lat []time.Duration
		err error
	}
	out := make(chan result, conns)
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for c := 0; c < conns; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := goldap.DialURL("ldap://" + addr)
			if err != nil {
				out <- result{err: err}
				return
			}
			defer l.Close()
			lat := make([]time.Duration, 0, 1<<16)
			for i := c; ; i += conns {
				if d > 0 && (time.Now().After(deadline) || ctx.Err() != nil) {
					break
				}
				if d == 0 && i >= count {
					break
				}
				u := us[i%len(us)]
				t0 := time.Now()
				if err := l.Bind("cn="+u.name+",ou=users,"+benchBase, u.password); err != nil {
					out <- result{err: fmt.Errorf("bind as %s: %w", u.name, err)}
					return
				}
				lat = append(lat, time.Since(t0))
			}
			out <- result{lat: lat}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(out)
	run := bindRun{elapsed: elapsed}
	for r := range out {
		if r.err != nil {
			return run, r.err
		}
		run.binds += len(r.lat)
		run.latencies = append(run.latencies, r.lat...)
	}
	return run, nil
}

// outpostMemory starts an outpost for a directory of n users and reads
// its resident memory once the copy is loaded, and at its peak after a
// paged search of the whole directory.
func outpostMemory(ctx context.Context, dir, bin string, n int) ([]Result, error) {
	fmt.Fprintf(os.Stderr, "  outpost memory: seeding %d users\n", n)
	db := filepath.Join(dir, "outpost.db")
	us := make([]benchUser, n)
	for i := range us {
		us[i] = benchUser{name: fmt.Sprintf("person%06d", i)}
	}
	searcher, err := auth.NewKey(store.IntentAppPassword)
	if err != nil {
		return nil, err
	}
	us = append(us, benchUser{name: "searcher", password: searcher.Raw})
	// Groups of 100 users each, so that memberships are part of the copy.
	err = seedGatehouse(ctx, db, us, func(q store.Queries) error {
		all, err := q.ListUsers(ctx, store.UserFilter{Limit: 0})
		if err != nil {
			return err
		}
		var g store.Group
		for i, u := range all {
			if u.Username == "searcher" {
				if err := q.SetUserPermissions(ctx, u.UID, []string{authz.LDAPSearchFullDirectory}); err != nil {
					return err
				}
				continue
			}
			if i%100 == 0 {
				g = store.Group{UID: newUID(), Name: fmt.Sprintf("team%04d", i/100), CreatedAt: time.Now().UTC()}
				if err := q.CreateGroup(ctx, g); err != nil {
					return err
				}
			}
			if err := q.AddMember(ctx, g.UID, u.UID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	httpAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, "serve")
	cmd.Env = append(os.Environ(), "GATEHOUSE_DATABASE=sqlite:"+db, "GATEHOUSE_SECRET_KEY="+benchSecretKey, "GATEHOUSE_LISTEN="+httpAddr,
		"GATEHOUSE_BOOTSTRAP_TOKEN="+benchAdmin, "GATEHOUSE_LOG_LEVEL=warn")
	srv, err := start(ctx, cmd, httpAddr, 30*time.Second)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	// The seeded database has users, so the server made no bootstrap
	// admin: one is added, and registers the outpost through the API.
	key, err := registerOutpost(ctx, db, httpAddr)
	if err != nil {
		return nil, err
	}
	tokenFile := filepath.Join(dir, "outpost-token")
	if err := os.WriteFile(tokenFile, []byte(key+"\n"), 0o600); err != nil {
		return nil, err
	}
	ldapAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	oc := exec.CommandContext(ctx, bin, "ldap", "--server", "http://"+httpAddr, "--provider", "bench", "--listen", ldapAddr)
	oc.Env = append(os.Environ(), "GATEHOUSE_API_TOKEN_FILE="+tokenFile, "GATEHOUSE_LOG_LEVEL=warn")
	t0 := time.Now()
	op, err := start(ctx, oc, ldapAddr, 5*time.Minute)
	if err != nil {
		return nil, err
	}
	defer op.stop()
	loaded := time.Since(t0)
	time.Sleep(2 * time.Second) // let the first answer's garbage be collected
	rss, _, err := procMemory(op.cmd.Process.Pid)
	if err != nil {
		return nil, err
	}
	// A paged search of everything through the outpost.
	l, err := goldap.DialURL("ldap://" + ldapAddr)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	if err := l.Bind("cn=searcher,ou=users,"+benchBase, searcher.Raw); err != nil {
		return nil, fmt.Errorf("bind on the outpost: %w", err)
	}
	s0 := time.Now()
	res, err := l.SearchWithPaging(goldap.NewSearchRequest(benchBase, goldap.ScopeWholeSubtree, 0, 0, 0, false,
		"(objectClass=inetOrgPerson)", []string{"uid", "memberOf"}, nil), 1000)
	if err != nil {
		return nil, fmt.Errorf("paged search on the outpost: %w", err)
	}
	searched := time.Since(s0)
	if len(res.Entries) < n {
		return nil, fmt.Errorf("the outpost listed %d users of %d", len(res.Entries), n)
	}
	_, peak, err := procMemory(op.cmd.Process.Pid)
	if err != nil {
		return nil, err
	}
	const goal = 512 << 20
	return []Result{
		{Suite: "ldap", Metric: fmt.Sprintf("outpost RSS, %d users loaded", n), Value: mib(rss), Goal: "< 512 MiB", Met: met(rss < goal)},
		{Suite: "ldap", Metric: "outpost peak RSS, after a paged search of all", Value: mib(peak), Goal: "< 512 MiB", Met: met(peak < goal)},
		{Suite: "ldap", Metric: "outpost start (first full copy)", Value: loaded.Round(time.Millisecond).String()},
		{Suite: "ldap", Metric: fmt.Sprintf("paged search of %d entries via outpost", len(res.Entries)), Value: searched.Round(time.Millisecond).String()},
	}, nil
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

// registerOutpost adds an admin and registers an outpost through the
// API, returning its key.
func registerOutpost(ctx context.Context, db, httpAddr string) (string, error) {
	if err := seedAdminToken(ctx, db); err != nil {
		return "", err
	}
	c := newClient("http://" + httpAddr)
	defer c.close()
	out, err := c.as(benchAdmin).Outposts.Create(ctx, client.OutpostCreate{Name: "bench", Provider: "bench"})
	if err != nil {
		return "", fmt.Errorf("register the outpost: %w", err)
	}
	if out.Token.Key == "" {
		return "", errors.New("register the outpost: the answer holds no key")
	}
	return out.Token.Key, nil
}

// seedAdminToken adds a human admin holding the admin role and the
// bench's admin token, as gatehouse's bootstrap would on an empty database.
func seedAdminToken(ctx context.Context, db string) error {
	st, err := sqlite.Open(ctx, db)
	if err != nil {
		return err
	}
	defer st.Close()
	h := auth.NewHasher([]byte(benchSecretKey))
	authn := auth.NewAuthenticator(st, h, clock.Real{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	lookup, err := authn.LookupFor(benchAdmin)
	if err != nil {
		return err
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	return st.InTx(ctx, func(q store.Queries) error {
		role, err := q.GetRole(ctx, authz.AdminRole)
		if err != nil {
			return err
		}
		u := store.User{UID: newUID(), Username: "bench-admin", Type: store.TypeHuman, IsActive: true, CreatedAt: now}
		if err := q.CreateUser(ctx, u); err != nil {
			return err
		}
		if err := q.AssignRoleToUser(ctx, role.UID, u.UID); err != nil {
			return err
		}
		t := store.Token{UID: newUID(), Identifier: "bench-admin", UserUID: u.UID, Intent: store.IntentAPI, CreatedAt: now, CreatedBy: "bench"}
		return q.CreateToken(ctx, t, store.TokenKey{Lookup: lookup, TokenUID: t.UID, Hash: h.Sum(benchAdmin), CreatedAt: now})
	})
}

// procMemory reads a process's resident memory and its peak.
func procMemory(pid int) (rss, peak int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(fields[1], 10, 64)
		switch fields[0] {
		case "VmRSS:":
			rss = kb << 10
		case "VmHWM:":
			peak = kb << 10
		}
	}
	return rss, peak, sc.Err()
}
