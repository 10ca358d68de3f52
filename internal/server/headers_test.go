package server_test

// Security headers on every HTTP answer: every route of every route table
// (API, web interface, forward-auth, probes, metrics, static files), as
// anonymous, as a principal without roles and as admin, the API reference
// page, and the refusals written outside the handlers (unknown paths, 405,
// 413, 429).

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/api"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/forwardauth"
	"github.com/gatehouse/gatehouse/internal/server/servertest"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
	"github.com/gatehouse/gatehouse/internal/ui"
)

// wildcard fills every {name} of a route pattern with one absent object:
// the answers are refusals and 404s, and nothing is changed.
var wildcard = regexp.MustCompile(`\{[^}]+\}`)

func concretePath(pattern string) string {
	p := strings.Replace(pattern, "{$}", "", 1)
	return wildcard.ReplaceAllString(p, "absent-object")
}

// asTLS says the server is configured for HTTPS (only the flag matters to
// the handler; the test serves it over httptest's TLS).
func asTLS(c *config.Config) { c.TLSCert, c.TLSKey = "cert.pem", "key.pem" }

type headerClient struct {
	t    *testing.T
	base string
	hc   *http.Client
	seen int
}

func (c *headerClient) do(method, path, authz string, body io.Reader, mod ...func(*http.Request)) *http.Response {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	for _, m := range mod {
		m(req)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	c.seen++
	return res
}

// check asserts the headers every answer carries. cacheable: a static
// asset or the OpenAPI document, which hold nothing personal.
func (c *headerClient) check(what string, res *http.Response, cacheable bool) {
	c.t.Helper()
	h := res.Header
	what = what + " (" + strconv.Itoa(res.StatusCode) + ")"
	if h.Get("X-Content-Type-Options") != "nosniff" {
		c.t.Errorf("%s: X-Content-Type-Options %q", what, h.Get("X-Content-Type-Options"))
	}
	csp := h.Get("Content-Security-Policy")
	if h.Get("X-Frame-Options") != "DENY" && !strings.Contains(csp, "frame-ancestors 'none'") {
		c.t.Errorf("%s: may be framed (X-Frame-Options %q, CSP %q)", what, h.Get("X-Frame-Options"), csp)
	}
	if rp := h.Get("Referrer-Policy"); rp != "no-referrer" && rp != "same-origin" {
		c.t.Errorf("%s: Referrer-Policy %q", what, rp)
	}
	hsts := h.Get("Strict-Transport-Security")
	var age int
	if v, ok := strings.CutPrefix(hsts, "max-age="); ok {
		age, _ = strconv.Atoi(strings.SplitN(v, ";", 2)[0])
	}
	if age < 31536000 {
		c.t.Errorf("%s: Strict-Transport-Security %q, want max-age of a year or more", what, hsts)
	}
	if !cacheable && h.Get("Cache-Control") != "no-store" {
		c.t.Errorf("%s: Cache-Control %q, want no-store", what, h.Get("Cache-Control"))
	}
	if strings.HasPrefix(h.Get("Content-Type"), "text/html") && !strings.Contains(csp, "default-src 'self'") {
		c.t.Errorf("%s: an HTML page without the interface's CSP (%q)", what, csp)
	}
}

func TestSecurityHeadersOnEveryAnswer(t *testing.T) {
	e := servertest.Start(t, storetest.NewSQLite(t), asTLS)
	srv := httptest.NewTLSServer(e.App.Handler)
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	hc := srv.Client()
	hc.Jar = jar
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c := &headerClient{t: t, base: srv.URL, hc: hc}

	admin := servertest.Bearer(servertest.AdminToken)
	sa := e.Must(201, e.Admin("POST", "/api/v1/service-accounts", map[string]any{"username": "nobody", "token_intent": "api"})).JSON()
	noRoles := servertest.Bearer(sa["token"].(map[string]any)["key"].(string))
	e.Must(201, e.Admin("POST", "/api/v1/applications", map[string]any{"slug": "site", "name": "Site"}))
	e.Must(201, e.Admin("POST", "/api/v1/applications", map[string]any{"slug": "closed", "name": "Closed"}))
	e.Must(200, e.Admin("PUT", "/api/v1/applications/closed/bindings/users/admin", nil))

	// The API's route table: anonymous (401, or the public answer), a
	// principal without roles (403 and own-data answers), admin.
	for _, rt := range e.App.API.Routes() {
		path := concretePath(rt.Path)
		for _, who := range []struct{ name, authz string }{{"anonymous", ""}, {"no roles", noRoles}, {"admin", admin}} {
			var body io.Reader
			if rt.Method != "GET" {
				body = strings.NewReader("{}")
			}
			res := c.do(rt.Method, path, who.authz, body, func(r *http.Request) { r.Header.Set("Content-Type", "application/json") })
			c.check(rt.Method+" "+path+" as "+who.name, res, rt.Path == "/api/v1/openapi.json" && res.StatusCode == 200)
		}
	}

	// The web interface's route table: anonymous (redirects to the login
	// page, or the public page), then signed in as admin. Posts carry no
	// CSRF token, so they are refused and change nothing.
	routes := ui.RouteTable()
	if len(routes) == 0 {
		t.Fatal("no web routes")
	}
	for _, rt := range routes {
		method, pattern, _ := strings.Cut(rt.Pattern, " ")
		c.check("anonymous "+rt.Pattern, c.do(method, concretePath(pattern), "", nil), false)
	}
	login := c.do("GET", "/login", "", nil)
	c.check("GET /login", login, false)
	var token string
	for _, ck := range jar.Cookies(mustURL(t, srv.URL+"/login")) {
		if strings.Contains(ck.Name, "csrf") {
			token = ck.Value
		}
	}
	form := url.Values{"username": {"admin"}, "password": {servertest.AdminPassword}, "csrf_token": {token}}
	signIn := c.do("POST", "/login", "", strings.NewReader(form.Encode()), func(r *http.Request) {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	})
	c.check("POST /login", signIn, false)
	if signIn.StatusCode != http.StatusSeeOther || signIn.Header.Get("Location") != "/" {
		t.Fatalf("sign in: %d to %q", signIn.StatusCode, signIn.Header.Get("Location"))
	}
	for _, rt := range routes {
		method, pattern, _ := strings.Cut(rt.Pattern, " ")
		if rt.Pattern == "POST /logout" {
			continue // refused without its token anyway; kept for last
		}
		c.check("signed-in "+rt.Pattern, c.do(method, concretePath(pattern), "", nil), false)
	}

	// Static files: long-cached when they exist, refused like any page
	// when they do not.
	page, err := hc.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	html, _ := io.ReadAll(page.Body)
	page.Body.Close()
	assets := regexp.MustCompile(`/static/[^"]+`).FindAllString(string(html), -1)
	if len(assets) == 0 {
		t.Fatal("the dashboard names no static file")
	}
	for _, a := range assets {
		res := c.do("GET", a, "", nil)
		if res.StatusCode != 200 {
			t.Errorf("%s: %d", a, res.StatusCode)
		}
		c.check("GET "+a, res, true)
	}
	c.check("missing static file", c.do("GET", "/static/absent.css", "", nil), false)

	// The API reference page (a page) and its files (static, cacheable),
	// mounted beside the route table.
	for _, path := range api.DocsPaths() {
		res := c.do("GET", path, "", nil)
		if res.StatusCode != 200 {
			t.Errorf("%s: %d", path, res.StatusCode)
		}
		c.check("GET "+path, res, path != api.DocsPage)
	}

	// Forward-auth answers every status it has; Traefik and Caddy pass a
	// refusal on to the browser as it is.
	fa := strings.TrimPrefix(forwardauth.Route, "GET ")
	for _, tc := range []struct {
		name, path, authz string
		want              int
	}{
		{"no credential", "/site", "", 401},
		{"bad credential", "/site", servertest.Bearer("gat_not-a-key"), 401},
		{"admitted", "/site", noRoles, 200},
		{"refused by the bindings", "/closed", noRoles, 403},
		{"unknown application", "/absent", noRoles, 404},
	} {
		path := strings.Replace(fa, "/{slug}", tc.path, 1)
		for _, method := range []string{"GET", "HEAD"} {
			res := c.do(method, path, tc.authz, nil)
			if res.StatusCode != tc.want {
				t.Errorf("forward-auth %s: %d, want %d", tc.name, res.StatusCode, tc.want)
			}
			c.check("forward-auth "+method+" "+tc.name, res, false)
		}
	}

	// What no route table lists: the metrics, unknown paths, methods a
	// path does not take, a body too large.
	for _, tc := range []struct {
		name, method, path, authz string
		body                      io.Reader
		want                      int
	}{
		{"metrics", "GET", "/metrics", "", nil, 200},
		{"unknown API path", "GET", "/api/v1/absent", admin, nil, 404},
		{"unknown page", "GET", "/absent/page", "", nil, 404},
		{"unknown forward-auth path", "GET", "/outpost/forward-auth/a/b", "", nil, 404},
		{"method not allowed", "PUT", "/healthz", "", nil, 405},
		{"method not allowed (forward-auth)", "POST", "/outpost/forward-auth/site", "", nil, 405},
		{"too large", "POST", "/api/v1/users", admin, strings.NewReader(`{"description":"` + strings.Repeat("x", 1<<20) + `"}`), 413},
		{"too large (web form)", "POST", "/login", "", strings.NewReader("username=" + strings.Repeat("x", 1<<20)), 413},
	} {
		res := c.do(tc.method, tc.path, tc.authz, tc.body, func(r *http.Request) {
			if tc.path == "/login" {
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
		})
		if res.StatusCode != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, res.StatusCode, tc.want)
		}
		c.check(tc.name, res, false)
	}
	c.check("POST /logout without its token", c.do("POST", "/logout", "", nil), false)

	// 429 answers the overload limits give before any handler runs.
	limited := servertest.Start(t, storetest.NewSQLite(t), asTLS, func(c *config.Config) { c.ClientRate, c.ClientBurst = 0.001, 1 })
	lsrv := httptest.NewTLSServer(limited.App.Handler)
	t.Cleanup(lsrv.Close)
	lc := &headerClient{t: t, base: lsrv.URL, hc: lsrv.Client()}
	var res *http.Response
	for range 3 {
		res = lc.do("GET", "/api/v1/me", admin, nil)
	}
	if res.StatusCode != http.StatusTooManyRequests {
		t.Errorf("over the client rate: %d, want 429", res.StatusCode)
	}
	lc.check("over the client rate", res, false)
	t.Logf("%d answers checked", c.seen+lc.seen)
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
