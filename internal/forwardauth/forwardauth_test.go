package forwardauth_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/forwardauth"
	"github.com/gatehouse/gatehouse/internal/ratelimit"
	"github.com/gatehouse/gatehouse/internal/server/servertest"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
)

type env = servertest.Env

var (
	bearer = servertest.Bearer
	basic  = servertest.Basic
)

func each(t *testing.T, fn func(t *testing.T, e *env), mutate ...func(*config.Config)) {
	storetest.ForEachBackend(t, func(t *testing.T, s store.Store) {
		fn(t, servertest.Start(t, s, mutate...))
	})
}

// ask sends GET /outpost/forward-auth/slug with the given headers (a
// header may repeat: "Authorization", "a", "Authorization", "b").
func ask(e *env, slug string, kv ...string) *servertest.Resp {
	e.T.Helper()
	return askMethod(e, "GET", slug, kv...)
}

func askMethod(e *env, method, slug string, kv ...string) *servertest.Resp {
	e.T.Helper()
	req, err := http.NewRequest(method, e.URL+"/outpost/forward-auth/"+slug, nil)
	if err != nil {
		e.T.Fatal(err)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		req.Header.Add(kv[i], kv[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.T.Fatalf("forward-auth %s: %v", slug, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return &servertest.Resp{Status: res.StatusCode, Header: res.Header, Body: b}
}

func want(t *testing.T, r *servertest.Resp, status int, what string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s: status %d, want %d: %s", what, r.Status, status, r.Body)
	}
}

// setup makes applications and a service account "bot" in group "ci" with
// an API token and an app password, and a second account "other".
type fixture struct {
	key, app, otherKey string
}

func setup(e *env) fixture {
	e.T.Helper()
	created := e.Must(201, e.Admin("POST", "/api/v1/service-accounts", map[string]any{
		"username": "bot", "create_group": true, "token_intent": "api"})).JSON()
	key := created["token"].(map[string]any)["key"].(string)
	e.Must(201, e.Admin("POST", "/api/v1/groups", map[string]any{"name": "deployers"}))
	e.Must(204, e.Admin("PUT", "/api/v1/groups/deployers/members/bot", nil))
	app := e.Must(201, e.Admin("POST", "/api/v1/tokens", map[string]any{"user": "bot", "intent": "app_password", "identifier": "bot-app"})).JSON()["key"].(string)
	other := e.Must(201, e.Admin("POST", "/api/v1/service-accounts", map[string]any{"username": "other", "token_intent": "api"})).JSON()
	e.Must(201, e.Admin("POST", "/api/v1/applications", map[string]any{"slug": "wiki", "name": "Wiki"}))
	return fixture{key: key, app: app, otherKey: other["token"].(map[string]any)["key"].(string)}
}

func eventsOf(e *env, q url.Values) []map[string]any {
	e.T.Helper()
	var page struct {
		Items []map[string]any `json:"items"`
	}
	e.Must(200, e.Admin("GET", "/api/v1/events?"+q.Encode(), nil)).Decode(e.T, &page)
	return page.Items
}

func TestStatusesAndHeaders(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		f := setup(e)

		// No credential: 401 and a challenge naming the application.
		r := ask(e, "wiki")
		want(t, r, 401, "no credential")
		if got := r.Header.Get("WWW-Authenticate"); got != `Basic realm="wiki", Bearer realm="wiki"` {
			t.Fatalf("WWW-Authenticate = %q", got)
		}
		if r.Header.Get("X-Gatehouse-User") != "" || r.Header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("401 headers: %v", r.Header)
		}
		// An unknown application looks the same to a caller without a
		// good credential: nothing to enumerate.
		for _, kv := range [][]string{nil, {"Authorization", bearer("gat_nope")}} {
			known, unknown := ask(e, "wiki", kv...), ask(e, "nope", kv...)
			want(t, unknown, 401, "unknown application, no good credential")
			if !bytes.Equal(known.Body, unknown.Body) || known.Status != unknown.Status {
				t.Fatalf("known and unknown applications differ: %s / %s", known.Body, unknown.Body)
			}
		}
		if r := ask(e, "Bad%22Slug"); r.Status != 401 || r.Header.Get("WWW-Authenticate") != `Basic realm="gatehouse", Bearer realm="gatehouse"` {
			t.Fatalf("bad slug: %d %v", r.Status, r.Header)
		}

		// A bound-to-nothing application admits every active principal.
		for name, authz := range map[string]string{"api token": bearer(f.key), "app password": basic("bot", f.app)} {
			r := ask(e, "wiki", "Authorization", authz)
			want(t, r, 200, name)
			if r.Header.Get("X-Gatehouse-User") != "bot" || r.Header.Get("X-Gatehouse-Type") != "service_account" ||
				r.Header.Get("X-Gatehouse-Groups") != "bot,deployers" || r.Header.Get("Cache-Control") != "no-store" || len(r.Body) != 0 {
				t.Fatalf("%s: headers %v body %q", name, r.Header, r.Body)
			}
		}
		// HEAD too (Caddy and some nginx setups send it).
		want(t, askMethod(e, "HEAD", "wiki", "Authorization", bearer(f.key)), 200, "HEAD")
		// A human's own token; the bootstrap admin has no groups.
		r = ask(e, "wiki", "Authorization", bearer(servertest.AdminToken))
		want(t, r, 200, "admin")
		if r.Header.Get("X-Gatehouse-User") != "admin" || r.Header.Get("X-Gatehouse-Type") != "human" || r.Header.Get("X-Gatehouse-Groups") != "" {
			t.Fatalf("admin headers: %v", r.Header)
		}

		// A good credential learns that an application does not exist.
		want(t, ask(e, "nope", "Authorization", bearer(f.key)), 404, "unknown application, good credential")

		// Bad credentials: 401, each a login_failed event.
		for name, authz := range map[string]string{
			"unknown token":             bearer("gat_0123456789abcdefghijABCDEFGHIJ0123456789"),
			"app password as bearer":    bearer(f.app),
			"api token as password":     basic("bot", f.key),
			"a person's password":       basic("admin", servertest.AdminPassword),
			"app password, wrong user":  basic("other", f.app),
			"app password, no such one": basic("bot", "gap_0123456789abcdefghijABCDEFGHIJ0123456789"),
			"unknown scheme":            "Digest username=bot",
			"malformed basic":           "Basic !!!",
			"basic without colon":       "Basic " + "Ym90",
			"empty bearer":              "Bearer ",
		} {
			r := ask(e, "wiki", "Authorization", authz)
			if r.Status != 401 || r.Header.Get("WWW-Authenticate") == "" || r.Header.Get("X-Gatehouse-User") != "" {
				t.Errorf("%s: %d %v", name, r.Status, r.Header)
			}
		}
		failed := eventsOf(e, url.Values{"action": {"login_failed"}})
		if len(failed) < 9 {
			t.Fatalf("login_failed events: %d", len(failed))
		}
		var sawIntent bool
		for _, ev := range failed {
			c := ev["context"].(map[string]any)
			if !strings.HasPrefix(c["method"].(string), "forward_auth_") {
				t.Fatalf("event method: %v", ev)
			}
			if ev["actor"].(map[string]any)["username"] == "admin" && c["reason"] == "wrong_intent" {
				sawIntent = true
			}
		}
		if !sawIntent {
			t.Fatalf("a person's password was not refused as the wrong intent: %v", failed)
		}
		// Counted in the request and credential metrics like any route.
		m := string(e.Must(200, e.Do("GET", "/metrics", "", nil)).Body)
		for _, want := range []string{
			`gatehouse_http_requests_total{method="GET",route="GET /outpost/forward-auth/{slug}",status="200"}`,
			`gatehouse_http_requests_total{method="HEAD",route="GET /outpost/forward-auth/{slug}",status="200"} 1`,
			`gatehouse_http_requests_total{method="GET",route="GET /outpost/forward-auth/{slug}",status="404"} 1`,
			`gatehouse_http_request_duration_seconds_count{method="GET",route="GET /outpost/forward-auth/{slug}"}`,
			`gatehouse_authentications_total{method="forward_auth_basic",outcome="success"} 1`,
			`gatehouse_authentications_total{method="forward_auth_bearer",outcome="failure"}`,
		} {
			if !strings.Contains(m, want) {
				t.Errorf("metrics lack %s", want)
			}
		}

		// No key or password in any event.
		all := e.Must(200, e.Admin("GET", "/api/v1/events?page_size=500", nil))
		for _, secret := range []string{f.key, f.app, servertest.AdminPassword} {
			if strings.Contains(string(all.Body), secret) {
				t.Fatal("a secret reached the events")
			}
		}
	})
}

// TestBindingsApplyAtOnce: every change of bindings, membership, mode,
// the account or the token applies to the very next request.
func TestBindingsApplyAtOnce(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		f := setup(e)
		bot := func() int { return ask(e, "wiki", "Authorization", bearer(f.key)).Status }
		other := func() int { return ask(e, "wiki", "Authorization", bearer(f.otherKey)).Status }
		viaApp := func() int { return ask(e, "wiki", "Authorization", basic("bot", f.app)).Status }
		check := func(step string, wantBot, wantOther int) {
			t.Helper()
			if b, o, a := bot(), other(), viaApp(); b != wantBot || o != wantOther || a != wantBot {
				t.Fatalf("%s: bot %d (app password %d), other %d; want %d, %d", step, b, a, o, wantBot, wantOther)
			}
		}
		check("no bindings", 200, 200)
		e.Must(200, e.Admin("PUT", "/api/v1/applications/wiki/bindings/users/other", nil))
		check("bound to other", 403, 200)
		e.Must(200, e.Admin("PUT", "/api/v1/applications/wiki/bindings/groups/deployers", nil))
		check("and to deployers", 200, 200)
		e.Must(204, e.Admin("DELETE", "/api/v1/groups/deployers/members/bot", nil))
		check("bot left deployers", 403, 200)
		e.Must(204, e.Admin("PUT", "/api/v1/groups/deployers/members/bot", nil))
		check("bot back in deployers", 200, 200)
		e.Must(200, e.Admin("PATCH", "/api/v1/applications/wiki", map[string]any{"policy_engine_mode": "all"}))
		check("mode all: nobody is both", 403, 403)
		e.Must(200, e.Admin("PUT", "/api/v1/applications/wiki/bindings/users/other", map[string]any{"negate": true}))
		check("mode all: deployers and not other", 200, 403)
		e.Must(200, e.Admin("PATCH", "/api/v1/applications/wiki", map[string]any{"policy_engine_mode": "any"}))
		check("mode any: deployers or not other", 200, 403)
		e.Must(204, e.Admin("DELETE", "/api/v1/applications/wiki/bindings/users/other", nil))
		check("only deployers", 200, 403)
		// Deleting the group deletes its binding: open again.
		e.Must(204, e.Admin("DELETE", "/api/v1/groups/deployers", nil))
		check("deployers deleted: no bindings", 200, 200)
		// A group recreated under the same name is not bound.
		e.Must(200, e.Admin("PUT", "/api/v1/applications/wiki/bindings/users/other", nil))
		e.Must(201, e.Admin("POST", "/api/v1/groups", map[string]any{"name": "deployers"}))
		e.Must(204, e.Admin("PUT", "/api/v1/groups/deployers/members/bot", nil))
		check("recreated group", 403, 200)

		// Denials are authz_denied events about the application.
		denied := eventsOf(e, url.Values{"action": {"authz_denied"}, "target": {"wiki"}})
		if len(denied) == 0 {
			t.Fatal("no authz_denied event")
		}
		ev := denied[0]
		c := ev["context"].(map[string]any)
		if ev["target"].(map[string]any)["kind"] != "application" || ev["actor"].(map[string]any)["username"] != "bot" ||
			c["reason"] != "not_bound" || c["policy_engine_mode"] != "any" {
			t.Fatalf("denial event = %v", ev)
		}

		// Disabling the account, revoking the token: 401 at once.
		e.Must(200, e.Admin("PATCH", "/api/v1/service-accounts/other", map[string]any{"is_active": false}))
		want(t, ask(e, "wiki", "Authorization", bearer(f.otherKey)), 401, "disabled account")
		e.Must(200, e.Admin("PATCH", "/api/v1/service-accounts/other", map[string]any{"is_active": true}))
		want(t, ask(e, "wiki", "Authorization", bearer(f.otherKey)), 200, "enabled again")
		e.Must(204, e.Admin("DELETE", "/api/v1/tokens/bot-app", nil))
		want(t, ask(e, "wiki", "Authorization", basic("bot", f.app)), 401, "revoked app password")
		// Deleting the bound user opens the application again.
		e.Must(204, e.Admin("DELETE", "/api/v1/service-accounts/other", nil))
		want(t, ask(e, "wiki", "Authorization", bearer(f.key)), 200, "bound user deleted: no bindings")
		// Expiry.
		exp := e.Must(201, e.Admin("POST", "/api/v1/tokens", map[string]any{"user": "bot", "ttl": "1h"})).JSON()["key"].(string)
		want(t, ask(e, "wiki", "Authorization", bearer(exp)), 200, "fresh token")
		e.Clock.Advance(time.Hour)
		want(t, ask(e, "wiki", "Authorization", bearer(exp)), 401, "expired token")
	})
}

// TestBadHeaders: nothing is admitted by a header that is not exactly one
// well-formed credential.
func TestBadHeaders(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		f := setup(e)
		for name, kv := range map[string][]string{
			"repeated, both good":     {"Authorization", bearer(f.key), "Authorization", bearer(f.key)},
			"repeated, good then bad": {"Authorization", bearer(f.key), "Authorization", "Bearer x"},
			"bad then good":           {"Authorization", "Basic x", "Authorization", bearer(f.key)},
			"over the limit":          {"Authorization", bearer(f.key) + strings.Repeat("A", 3000)},
			"token and trailing junk": {"Authorization", bearer(f.key) + " extra"},
			"tab inside":              {"Authorization", "Bearer\t" + f.key},
		} {
			if r := ask(e, "wiki", kv...); r.Status != 401 {
				t.Errorf("%s: %d", name, r.Status)
			}
		}
		// The scheme is case-insensitive (RFC 9110).
		want(t, ask(e, "wiki", "Authorization", "bearer "+f.key), 200, "lower-case scheme")
		want(t, ask(e, "wiki", "Authorization", "BASIC "+basic("bot", f.app)[len("Basic "):]), 200, "upper-case scheme")

		// Headers of several megabytes are refused (by the HTTP server,
		// before any handler); the connection may also just be closed.
		for name, h := range map[string][2]string{
			"huge other header":         {"X-Padding", strings.Repeat("p", 3<<20)},
			"huge Authorization header": {"Authorization", "Bearer " + f.key + strings.Repeat("A", 3<<20)},
		} {
			req, _ := http.NewRequest("GET", e.URL+"/outpost/forward-auth/wiki", nil)
			req.Header.Set("Authorization", bearer(f.key))
			req.Header.Set(h[0], h[1])
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				continue
			}
			res.Body.Close()
			if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
				t.Errorf("%s: status %d", name, res.StatusCode)
			}
		}
	})
}

// TestRateLimitAndTrustedProxies: failures are counted per client address,
// which comes from X-Forwarded-For only when a trusted proxy sends it.
func TestRateLimitAndTrustedProxies(t *testing.T) {
	t.Run("loopback trusted (default)", func(t *testing.T) {
		each(t, func(t *testing.T, e *env) {
			f := setup(e)
			bad := basic("bot", "gap_0123456789abcdefghijABCDEFGHIJ0123456789")
			for i := range 10 {
				want(t, ask(e, "wiki", "Authorization", bad, "X-Forwarded-For", "198.51.100.7"), 401, fmt.Sprint("failure ", i))
			}
			r := ask(e, "wiki", "Authorization", bad, "X-Forwarded-For", "198.51.100.7")
			want(t, r, 429, "over the limit")
			if r.Header.Get("Retry-After") == "" {
				t.Fatal("429 without Retry-After")
			}
			// Even the right password waits: the pair is blocked.
			want(t, ask(e, "wiki", "Authorization", basic("bot", f.app), "X-Forwarded-For", "198.51.100.7"), 429, "blocked pair")
			// The account from another address is not locked out.
			want(t, ask(e, "wiki", "Authorization", basic("bot", f.app), "X-Forwarded-For", "203.0.113.9"), 200, "other address")
			// A spoofed left-most entry does not move the client.
			want(t, ask(e, "wiki", "Authorization", basic("bot", f.app), "X-Forwarded-For", "203.0.113.1, 198.51.100.7"), 429, "spoofed prefix")
			// The window passes.
			e.Clock.Advance(time.Minute)
			want(t, ask(e, "wiki", "Authorization", basic("bot", f.app), "X-Forwarded-For", "198.51.100.7"), 200, "after the window")
			// The client address of events is the forwarded one.
			ev := eventsOf(e, url.Values{"action": {"login_failed"}})
			if len(ev) == 0 || ev[0]["client_ip"] != "198.51.100.7" {
				t.Fatalf("event client_ip = %v", ev)
			}
		})
	})
	t.Run("no trusted proxy", func(t *testing.T) {
		each(t, func(t *testing.T, e *env) {
			f := setup(e)
			bad := basic("bot", "gap_0123456789abcdefghijABCDEFGHIJ0123456789")
			for i := range 10 {
				// Each claims another address; none is believed.
				want(t, ask(e, "wiki", "Authorization", bad, "X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i), "X-Real-IP", "203.0.113.5"), 401, fmt.Sprint("failure ", i))
			}
			want(t, ask(e, "wiki", "Authorization", basic("bot", f.app), "X-Forwarded-For", "203.0.113.9"), 429, "one client whatever it claims")
			ev := eventsOf(e, url.Values{"action": {"login_failed"}})
			if len(ev) == 0 || ev[0]["client_ip"] != "127.0.0.1" {
				t.Fatalf("event client_ip = %v", ev)
			}
		}, func(c *config.Config) { c.TrustedProxies = nil })
	})
}

// TestNoQueryOnceWarm: once the credential and the applications are in
// memory, forward-auth answers with the database closed.
func TestNoQueryOnceWarm(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		f := setup(e)
		e.Must(200, e.Admin("PUT", "/api/v1/applications/wiki/bindings/groups/deployers", nil))
		e.Must(201, e.Admin("POST", "/api/v1/applications", map[string]any{"slug": "cold", "name": "Cold"}))
		want(t, ask(e, "wiki", "Authorization", bearer(f.key)), 200, "warm-up token")
		want(t, ask(e, "wiki", "Authorization", basic("bot", f.app)), 200, "warm-up app password")
		// One instance alone: on PostgreSQL the change listener would
		// otherwise notice the closed database at its next check (every
		// 100 ms here) and stop trusting the cache, as it must when other
		// instances may be changing things; that is
		// TestPostgresOutageFailsClosedAndRecovers's subject.
		e.StopFollowing()
		if err := e.App.Store.Close(); err != nil {
			t.Fatal(err)
		}
		for i := range 20 {
			want(t, ask(e, "wiki", "Authorization", bearer(f.key)), 200, fmt.Sprint("warm token ", i))
			want(t, ask(e, "wiki", "Authorization", basic("bot", f.app)), 200, fmt.Sprint("warm app password ", i))
		}
		// What is not in memory fails closed: 503, never 200.
		r := ask(e, "wiki", "Authorization", bearer(f.otherKey))
		want(t, r, 503, "cold token, database closed")
		if r.Header.Get("Retry-After") == "" {
			t.Fatal("503 without Retry-After")
		}
		e.App.Core.Authenticator().InvalidatePrincipals() // as any membership change would
		want(t, ask(e, "wiki", "Authorization", bearer(f.key)), 503, "cold principal and admission, database closed")
	})
}

// TestAdmissionFailsClosed: the credential is good and in memory, but the
// bindings cannot be loaded.
func TestAdmissionFailsClosed(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		f := setup(e)
		want(t, ask(e, "wiki", "Authorization", bearer(f.key)), 200, "warm")
		// A change of applications drops the admission cache only.
		e.Must(201, e.Admin("POST", "/api/v1/applications", map[string]any{"slug": "other", "name": "Other"}))
		if err := e.App.Store.Close(); err != nil {
			t.Fatal(err)
		}
		want(t, ask(e, "wiki", "Authorization", bearer(f.key)), 503, "admission unavailable")
	})
}

// TestForwardAuthOnlyGETAndHEAD: other methods are not forward-auth (nginx
// must be told proxy_method GET; see the README).
func TestForwardAuthOnlyGETAndHEAD(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		f := setup(e)
		for _, m := range []string{"POST", "PUT", "DELETE"} {
			// 405 from the route, or 404 from a catch-all of another door:
			// never an answer of forward-auth.
			r := askMethod(e, m, "wiki", "Authorization", bearer(f.key))
			if (r.Status != http.StatusMethodNotAllowed && r.Status != http.StatusNotFound) || r.Header.Get("X-Gatehouse-User") != "" {
				t.Errorf("%s: %d %v", m, r.Status, r.Header)
			}
		}
		// Paths that are not one clean segment go through the router.
		for _, path := range []string{"wiki/", "%2e%2e", "wiki%2Fx"} {
			if r := ask(e, path, "Authorization", bearer(f.key)); r.Status == 200 {
				t.Errorf("%s admitted", path)
			}
		}
		// Not under the API: no API route answers there.
		if r := ask(e, "wiki/extra", "Authorization", bearer(f.key)); r.Status != 404 {
			t.Errorf("nested path: %d", r.Status)
		}
	})
}

// TestSlowedRequestGivenUpIsRefused: a request held back by the account
// slowdown whose client goes away is answered with a refusal, never with
// the 200 net/http sends for a handler that wrote nothing.
func TestSlowedRequestGivenUpIsRefused(t *testing.T) {
	e := servertest.Start(t, storetest.NewSQLite(t))
	f := setup(e)
	e.App.Core.Credentials.UseLimiter(ratelimit.New(e.Clock, ratelimit.Config{
		PerPair: 100, PerClient: 100, Window: time.Minute, AccountSlowdown: 0, AccountDelay: time.Hour, MaxEntries: 100}))
	h := forwardauth.New(e.App.Core, forwardauth.Config{})
	mux := http.NewServeMux()
	h.Mount(mux)
	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequestWithContext(ctx, "GET", "/outpost/forward-auth/wiki", nil)
	// A name with a secret is what the slowdown holds back (a key alone
	// that verifies is never refused or slowed).
	req.SetBasicAuth("bot", f.app)
	w := httptest.NewRecorder()
	done := make(chan struct{})
	go func() { mux.ServeHTTP(w, req); close(done) }()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the handler did not give up with its client")
	}
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("X-Gatehouse-User") != "" {
		t.Fatalf("status %d, headers %v", w.Code, w.Header())
	}
}
