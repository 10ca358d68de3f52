package server_test

// A PostgreSQL outage under load: gatehouse reaches its database through a
// TCP proxy that the test cuts and restores, while clients keep sending
// API tokens (warm in the cache and never seen), human passwords,
// forward-auth checks and writes.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/cluster"
	"github.com/gatehouse/gatehouse/internal/server/servertest"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/postgres"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
	"github.com/gatehouse/gatehouse/internal/testenv"
	"github.com/gatehouse/gatehouse/internal/ui"
)

// pgProxy forwards TCP connections to PostgreSQL. Cut closes every
// forwarded connection and makes new ones close at once (as a database
// that went away would); Restore forwards again.
type pgProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]struct{}
}

func startProxy(t *testing.T, target string) *pgProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &pgProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	t.Cleanup(func() { ln.Close(); p.Cut() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.forward(c)
		}
	}()
	return p
}

func (p *pgProxy) forward(c net.Conn) {
	if !p.track(c) {
		return
	}
	up, err := net.Dial("tcp", p.target)
	if err != nil || !p.track(up) {
		c.Close()
		if up != nil {
			up.Close()
		}
		return
	}
	go func() { _, _ = io.Copy(up, c); up.Close(); c.Close() }()
	_, _ = io.Copy(c, up)
	up.Close()
	c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}

// track registers c, or closes it and reports false while the proxy is cut.
func (p *pgProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *pgProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func (p *pgProxy) Restore() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

// outcome is one answer seen by the load.
type outcome struct {
	kind       string
	start, end time.Time
	status     int // 0: transport error
	problem    bool
	retryAfter bool
	name       string // the account a write tried to create
}

type recorder struct {
	mu  sync.Mutex
	all []outcome
}

func (r *recorder) add(o outcome) {
	r.mu.Lock()
	r.all = append(r.all, o)
	r.mu.Unlock()
}

func (r *recorder) snapshot() []outcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]outcome(nil), r.all...)
}

// counts tallies statuses by kind over the outcomes that keep(o) selects.
func counts(all []outcome, keep func(outcome) bool) map[string]map[int]int {
	out := map[string]map[int]int{}
	for _, o := range all {
		if !keep(o) {
			continue
		}
		if out[o.kind] == nil {
			out[o.kind] = map[int]int{}
		}
		out[o.kind][o.status]++
	}
	return out
}

func TestPostgresOutageFailsClosedAndRecovers(t *testing.T) {
	dsn := testenv.Postgres(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := startProxy(t, u.Host)
	viaProxy := *u
	viaProxy.Host = proxy.ln.Addr().String()

	// Two instances on one schema: "gh" reaches PostgreSQL through the
	// proxy and is the one under test; "peer" is connected directly and
	// makes the changes gh must hear of after it recovers.
	direct := storetest.NewPostgres(t)
	st, err := postgres.Open(context.Background(), viaProxy.String(), postgres.Options{
		Schema: direct.(*postgres.Store).Schema(), MaxConns: 8, QueryTimeout: 2 * time.Second, SlowQuery: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	// The listener as serve runs it (default reconnect backoff and
	// change-counter check), so recovery is measured as it would happen.
	gh := servertest.StartFollowing(t, st, cluster.Options{})
	peer := servertest.Start(t, direct)

	// The cast: API tokens to be warmed before the outage, API tokens
	// never used before it (cold), app passwords for forward-auth Basic,
	// and the bootstrap admin's password for API Basic.
	newKey := func(name, intent string) string {
		sa := peer.Must(201, peer.Admin("POST", "/api/v1/service-accounts", map[string]any{
			"username": name, "token_intent": intent})).JSON()
		return sa["token"].(map[string]any)["key"].(string)
	}
	var warm, cold, appPw []string
	for i := range 4 {
		warm = append(warm, newKey(fmt.Sprintf("warm-%d", i), "api"))
		cold = append(cold, newKey(fmt.Sprintf("cold-%d", i), "api"))
		appPw = append(appPw, newKey(fmt.Sprintf("app-%d", i), "app_password"))
	}
	peer.Must(201, peer.Admin("POST", "/api/v1/applications", map[string]any{"slug": "site", "name": "Site"}))

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	send := func(method, path, authz, body string) (int, http.Header) {
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, _ := http.NewRequest(method, gh.URL+path, rd)
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := client.Do(req)
		if err != nil {
			return 0, nil
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode, res.Header
	}
	basicAppPw := func(i int) string { return servertest.Basic(fmt.Sprintf("app-%d", i), appPw[i]) }

	// Warm: each warm key and app password used once, the admin's
	// password verified once.
	for i := range warm {
		if s, _ := send("GET", "/api/v1/me", servertest.Bearer(warm[i]), ""); s != 200 {
			t.Fatalf("warm key %d: %d", i, s)
		}
		if s, _ := send("GET", "/outpost/forward-auth/site", basicAppPw(i), ""); s != 200 {
			t.Fatalf("app password %d: %d", i, s)
		}
	}
	if s, _ := send("GET", "/api/v1/me", servertest.Basic("admin", servertest.AdminPassword), ""); s != 200 {
		t.Fatalf("admin password: %d", s)
	}

	// The load: each kind in its own loop until stopped.
	rec := &recorder{}
	var coldOn atomic.Bool // cold keys stay unused until the outage
	var writes atomic.Int64
	kinds := map[string]func(i int) (string, string, string, string){
		"bearer_warm": func(i int) (string, string, string, string) {
			return "GET", "/api/v1/me", servertest.Bearer(warm[i%len(warm)]), ""
		},
		"bearer_cold": func(i int) (string, string, string, string) {
			return "GET", "/api/v1/me", servertest.Bearer(cold[i%len(cold)]), ""
		},
		"basic_password": func(int) (string, string, string, string) {
			return "GET", "/api/v1/me", servertest.Basic("admin", servertest.AdminPassword), ""
		},
		"forward_auth_bearer": func(i int) (string, string, string, string) {
			return "GET", "/outpost/forward-auth/site", servertest.Bearer(warm[i%len(warm)]), ""
		},
		"forward_auth_basic": func(i int) (string, string, string, string) {
			return "GET", "/outpost/forward-auth/site", basicAppPw(i % len(appPw)), ""
		},
		"write": func(int) (string, string, string, string) {
			name := fmt.Sprintf("w-%d", writes.Add(1))
			return "POST", "/api/v1/service-accounts", servertest.Bearer(servertest.AdminToken),
				`{"username":"` + name + `","create_group":true,"token_intent":"api"}`
		},
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for kind, req := range kinds {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if kind == "bearer_cold" && !coldOn.Load() {
					time.Sleep(5 * time.Millisecond)
					continue
				}
				method, path, authz, body := req(i)
				o := outcome{kind: kind, start: time.Now()}
				if kind == "write" {
					o.name = strings.Split(body, `"`)[3]
				}
				status, h := send(method, path, authz, body)
				o.end, o.status = time.Now(), status
				o.problem = h.Get("Content-Type") == "application/problem+json"
				o.retryAfter = h.Get("Retry-After") != ""
				rec.add(o)
				if kind == "write" || kind == "basic_password" {
					// A few writes, and argon2id runs while the cache is
					// bypassed: keep both from starving the others.
					time.Sleep(20 * time.Millisecond)
				}
			}
		})
	}
	stopLoad := sync.OnceFunc(func() { close(stop); wg.Wait() })
	t.Cleanup(stopLoad)

	// successes counts, by kind, the successes of requests started at
	// or after from.
	successes := func(from time.Time) map[string]int {
		n := map[string]int{}
		for _, o := range rec.snapshot() {
			if !o.start.Before(from) && (o.status == 200 || o.status == 201) {
				n[o.kind]++
			}
		}
		return n
	}
	// everyKind waits (on a loaded machine, a kind may lag) until every
	// kind has succeeded a few times since from.
	everyKind := func(what string, from time.Time) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			n, all := successes(from), true
			for kind := range kinds {
				if n[kind] < 3 && !(kind == "bearer_cold" && !coldOn.Load()) {
					all = false
				}
			}
			if all {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not every kind succeeded: %v", what, n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	everyKind("before the cut", time.Time{})
	authn := gh.App.Core.Authenticator()

	// Cut the database.
	cutAt := time.Now()
	proxy.Cut()
	coldOn.Store(true)
	// The cache must stop being trusted: from then on every credential
	// goes to the (absent) database. If it never does, the counts below
	// show what that means.
	deadline := time.Now().Add(10 * time.Second)
	for !authn.Bypassed() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if !authn.Bypassed() {
		t.Error("the instance did not notice the database went away (cache still trusted)")
	}
	bypassAt := time.Now()
	t.Logf("cache bypassed %s after the cut", bypassAt.Sub(cutAt).Round(time.Microsecond))

	// Probes while down: not ready, still alive.
	time.Sleep(200 * time.Millisecond)
	if s, h := send("GET", "/readyz", "", ""); s != 503 || h.Get("Content-Type") != "application/problem+json" {
		t.Errorf("readyz during the outage: %d %q, want 503 problem+json", s, h.Get("Content-Type"))
	}
	if s, _ := send("GET", "/healthz", "", ""); s != 200 {
		t.Errorf("healthz during the outage: %d, want 200", s)
	}
	// Unchecked credentials that are plainly malformed are still 401:
	// no database is needed to know.
	if s, _ := send("GET", "/api/v1/me", "Bearer not-a-key", ""); s != 401 {
		t.Errorf("malformed key during the outage: %d, want 401", s)
	}
	// Stay down at least 1.5 s, and until every kind of request has been
	// answered during the outage (on a loaded machine one may lag; the
	// checks below name a kind still missing after 20 s).
	for downUntil, deadline := time.Now().Add(1500*time.Millisecond), time.Now().Add(20*time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		n, all := counts(rec.snapshot(), func(o outcome) bool { return !o.start.Before(bypassAt) }), true
		for kind := range kinds {
			all = all && len(n[kind]) > 0
		}
		if all && time.Now().After(downUntil) {
			break
		}
	}

	// Restore it; gatehouse must recover by itself.
	restoreAt := time.Now()
	proxy.Restore()
	recovered := func(what string, ok func() bool) time.Duration {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not recovered 10s after the database came back", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
		return time.Since(restoreAt)
	}
	readyIn := recovered("readyz", func() bool { s, _ := send("GET", "/readyz", "", ""); return s == 200 })
	listenerIn := recovered("change listener", func() bool { return gh.App.Listener().Connected() && !authn.Bypassed() })
	t.Logf("after restore: ready in %s, change listener reconnected in %s",
		readyIn.Round(time.Millisecond), listenerIn.Round(time.Millisecond))
	allOKFrom := time.Now()
	everyKind("after recovery", allOKFrom)
	stopLoad()

	all := rec.snapshot()
	before := counts(all, func(o outcome) bool { return o.end.Before(cutAt) })
	transition := counts(all, func(o outcome) bool { return o.start.Before(bypassAt) && !o.end.Before(cutAt) })
	down := counts(all, func(o outcome) bool { return !o.start.Before(bypassAt) && o.end.Before(restoreAt) })
	after := counts(all, func(o outcome) bool { return !o.start.Before(allOKFrom) })
	t.Logf("before the cut: %v", before)
	t.Logf("in flight at the cut: %v", transition)
	t.Logf("during the outage: %v", down)
	t.Logf("after recovery: %v", after)
	slowest := map[string]time.Duration{}
	for _, o := range all {
		slowest[o.kind] = max(slowest[o.kind], o.end.Sub(o.start))
	}
	t.Logf("slowest answer by kind: %v", slowest)
	for _, l := range strings.Split(gh.Logs.String(), "\n") {
		if strings.Contains(l, "level=ERROR") && !strings.Contains(l, "key lookup failed") {
			t.Log(l)
		}
	}

	for kind := range kinds {
		if before[kind][200]+before[kind][201] == 0 && kind != "bearer_cold" {
			t.Errorf("%s: no success before the cut: %v", kind, before[kind])
		}
		got := down[kind]
		if len(got) == 0 {
			t.Errorf("%s: no request during the outage", kind)
		}
		for status, n := range got {
			if status != http.StatusServiceUnavailable {
				t.Errorf("%s during the outage: %d answers %d, want only 503 (fail closed, and never 401 for a good credential)", kind, n, status)
			}
		}
		for status, n := range after[kind] {
			if status != 200 && status != 201 {
				t.Errorf("%s after recovery: %d answers %d, want only success", kind, n, status)
			}
		}
		if after[kind][200]+after[kind][201] == 0 {
			t.Errorf("%s: no success after recovery", kind)
		}
	}
	// Requests in flight at the cut may have been admitted (the cache was
	// still trusted for the moment it took to notice) or refused with 503,
	// never answered 401 or 500.
	for kind, got := range transition {
		for status, n := range got {
			if status != 200 && status != 201 && status != 503 {
				t.Errorf("%s in flight at the cut: %d answers %d, want success or 503", kind, n, status)
			}
		}
	}
	for _, o := range all {
		if o.status == 503 && (!o.problem || !o.retryAfter) && !o.start.Before(bypassAt) && o.end.Before(restoreAt) {
			t.Errorf("%s: a 503 without problem+json or Retry-After", o.kind)
			break
		}
	}
	// Nothing half-done: each attempted write exists whole (the account,
	// its group, its token) or not at all, and each acknowledged one exists.
	for _, o := range all {
		if o.kind != "write" {
			continue
		}
		sa := peer.Do("GET", "/api/v1/service-accounts/"+o.name, servertest.Bearer(servertest.AdminToken), nil)
		grp := peer.Do("GET", "/api/v1/groups/"+o.name, servertest.Bearer(servertest.AdminToken), nil)
		var toks struct{ Items []any }
		if r := peer.Admin("GET", "/api/v1/tokens?user="+o.name, nil); r.Status == 200 {
			r.Decode(t, &toks)
		} else if r.Status != 404 { // 404: no such owner
			t.Fatalf("tokens of %s: %d %s", o.name, r.Status, r.Body)
		}
		whole := sa.Status == 200 && grp.Status == 200 && len(toks.Items) == 1
		none := sa.Status == 404 && grp.Status == 404 && len(toks.Items) == 0
		switch {
		case o.status == 201 && !whole:
			t.Errorf("write %s acknowledged but not whole: account %d, group %d, tokens %d", o.name, sa.Status, grp.Status, len(toks.Items))
		case !whole && !none:
			t.Errorf("write %s (answered %d) half-done: account %d, group %d, tokens %d", o.name, o.status, sa.Status, grp.Status, len(toks.Items))
		}
	}

	// The outcomes are counted as unavailable, not as failed logins.
	res, err := client.Get(gh.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	metrics := string(body)
	for _, m := range []string{"bearer", "basic", "forward_auth_bearer", "forward_auth_basic"} {
		if !strings.Contains(metrics, `gatehouse_authentications_total{method="`+m+`",outcome="unavailable"}`) {
			t.Errorf("metrics: no unavailable outcome for %s", m)
		}
	}

	// Back to normal: a revocation made through the other instance just
	// after recovery is heard through the reconnected listener. (The
	// cluster's promise, 250 ms, is a budget the benchmark suite holds; a
	// test on a busy machine waits up to 10 s and says how long it took.)
	key := warm[0]
	if s, _ := send("GET", "/api/v1/me", servertest.Bearer(key), ""); s != 200 {
		t.Fatalf("warm key after recovery: %d", s)
	}
	heard := gh.App.Listener().Received()
	var list struct{ Items []struct{ Identifier string } }
	peer.Must(200, peer.Admin("GET", "/api/v1/tokens?user=warm-0", nil)).Decode(t, &list)
	peer.Must(204, peer.Admin("DELETE", "/api/v1/tokens/"+list.Items[0].Identifier, nil))
	revokedAt := time.Now()
	for {
		s, _ := send("GET", "/api/v1/me", servertest.Bearer(key), "")
		if s == 401 {
			break
		}
		if time.Since(revokedAt) > 10*time.Second {
			t.Fatalf("revocation after recovery not applied within 10 s (still %d)", s)
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Logf("revocation after recovery applied in %s", time.Since(revokedAt).Round(time.Microsecond))
	if gh.App.Listener().Received() == heard {
		t.Error("the revocation was not heard through the change listener")
	}
}

// downStore fails the calls a listing of users makes while broken is
// set, and the readiness ping while unreachable is set.
type downStore struct {
	store.Store
	broken, unreachable atomic.Bool
}

var errGone = errors.New("connection reset by peer")

func (s *downStore) ListUsers(ctx context.Context, f store.UserFilter) ([]store.User, error) {
	if s.broken.Load() {
		return nil, errGone
	}
	return s.Store.ListUsers(ctx, f)
}

func (s *downStore) Ping(ctx context.Context) error {
	if s.unreachable.Load() {
		return errGone
	}
	return s.Store.Ping(ctx)
}

// TestDatabaseLostAfterTheCredentialCheckIs503: a request admitted from
// the cache whose handler then finds the database gone is answered 503
// with Retry-After (retry later), not 500; the same error with the
// database answering stays a 500 (a bug to report). The outage test meets
// this only by chance, in the moment after the cut.
func TestDatabaseLostAfterTheCredentialCheckIs503(t *testing.T) {
	st := &downStore{Store: storetest.NewSQLite(t)}
	e := servertest.Start(t, st)
	e.Must(200, e.Admin("GET", "/api/v1/users", nil)) // the admin's key is now warm
	admin, err := e.App.Core.Authenticator().PrincipalByName(context.Background(), "admin")
	if err != nil {
		t.Fatal(err)
	}
	session, err := e.App.Core.Sessions.FinishLogin(context.Background(), admin, "127.0.0.1", "outage-test", "password")
	if err != nil {
		t.Fatal(err)
	}
	st.broken.Store(true)
	e.Must(500, e.Admin("GET", "/api/v1/users", nil))
	st.unreachable.Store(true)
	r := e.Admin("GET", "/api/v1/users", nil)
	if r.Status != 503 || r.Header.Get("Retry-After") == "" || r.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("database gone after the credential check: %d %v %s", r.Status, r.Header, r.Body)
	}
	e.Must(503, e.Do("GET", "/readyz", "", nil))

	// The web interface answers the same way: its session is checked,
	// then the page's query fails with the database gone.
	web := func() *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", e.URL+"/service-accounts", nil)
		req.AddCookie(&http.Cookie{Name: ui.SessionCookie, Value: session.ID})
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	if res := web(); res.StatusCode != 503 || res.Header.Get("Retry-After") == "" {
		t.Fatalf("web page with the database gone: %d %v", res.StatusCode, res.Header)
	}
	st.unreachable.Store(false)
	if res := web(); res.StatusCode != 500 {
		t.Fatalf("web page failing with the database answering: %d, want 500", res.StatusCode)
	}
	st.broken.Store(false)
	e.Must(200, e.Admin("GET", "/api/v1/users", nil))
	if res := web(); res.StatusCode != 200 {
		t.Fatalf("web page after recovery: %d", res.StatusCode)
	}
}
