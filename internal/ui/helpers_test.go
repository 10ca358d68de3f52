package ui_test

import (
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/server/servertest"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
)

// each runs fn on a fresh server over every backend.
func each(t *testing.T, fn func(t *testing.T, e *servertest.Env)) {
	storetest.ForEachBackend(t, func(t *testing.T, s store.Store) {
		fn(t, servertest.Start(t, s))
	})
}

// client is a browser stand-in: a cookie jar, redirects not followed (so
// tests see them), and the CSRF token of the last page it read.
type client struct {
	t    testing.TB
	e    *servertest.Env
	hc   *http.Client
	csrf string
}

func newClient(t testing.TB, e *servertest.Env) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, e: e, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type resp struct {
	Status   int
	Header   http.Header
	Body     string
	Location string
}

var (
	metaCSRF = regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)">`)
	formCSRF = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
)

func (c *client) do(req *http.Request) *resp {
	c.t.Helper()
	res, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	r := &resp{Status: res.StatusCode, Header: res.Header, Body: string(b), Location: res.Header.Get("Location")}
	if m := metaCSRF.FindStringSubmatch(r.Body); m != nil {
		c.csrf = html.UnescapeString(m[1])
	} else if m := formCSRF.FindStringSubmatch(r.Body); m != nil {
		c.csrf = html.UnescapeString(m[1])
	}
	return r
}

func (c *client) get(path string) *resp {
	c.t.Helper()
	req, err := http.NewRequest("GET", c.e.URL+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.do(req)
}

// post sends a form with the current CSRF token (unless the form sets
// csrf_token itself); mod may change the request (headers).
func (c *client) post(path string, form url.Values, mod ...func(*http.Request)) *resp {
	c.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf_token"]; !ok && c.csrf != "" {
		form.Set("csrf_token", c.csrf)
	}
	req, err := http.NewRequest("POST", c.e.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, m := range mod {
		m(req)
	}
	return c.do(req)
}

// login signs in through the login form.
func (c *client) login(user, pass string) *resp {
	c.t.Helper()
	c.get("/login")
	return c.post("/login", url.Values{"username": {user}, "password": {pass}})
}

// mustLogin signs in and fails the test unless it worked.
func (c *client) mustLogin(user, pass string) {
	c.t.Helper()
	r := c.login(user, pass)
	if r.Status != http.StatusSeeOther || r.Location != "/" {
		c.t.Fatalf("login %s: status %d, location %q: %s", user, r.Status, r.Location, r.Body)
	}
	c.get("/") // read the session's CSRF token
}

func (c *client) cookie(name string) *http.Cookie {
	u, _ := url.Parse(c.e.URL)
	for _, ck := range c.hc.Jar.Cookies(u) {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}

// must asserts a status.
func must(t testing.TB, status int, r *resp) *resp {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d (location %q)\n%s", r.Status, status, r.Location, r.Body)
	}
	return r
}

// contains asserts that the body holds every string.
func contains(t testing.TB, r *resp, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(r.Body, w) {
			t.Fatalf("page lacks %q:\n%s", w, r.Body)
		}
	}
}

// newHuman makes a human with a password through the API.
func newHuman(t testing.TB, e *servertest.Env, name, password string, roles ...string) {
	t.Helper()
	e.Must(201, e.Admin("POST", "/api/v1/users", map[string]any{"username": name, "password": password}))
	for _, r := range roles {
		e.Must(204, e.Admin("PUT", "/api/v1/roles/"+r+"/assignments/users/"+name, nil))
	}
}

// newGroup makes a group through the API, with members.
func newGroup(t testing.TB, e *servertest.Env, name string, members ...string) {
	t.Helper()
	e.Must(201, e.Admin("POST", "/api/v1/groups", map[string]any{"name": name}))
	for _, m := range members {
		e.Must(204, e.Admin("PUT", "/api/v1/groups/"+name+"/members/"+m, nil))
	}
}

// newRole makes a role holding perms through the API.
func newRole(t testing.TB, e *servertest.Env, name string, perms ...string) {
	t.Helper()
	e.Must(201, e.Admin("POST", "/api/v1/roles", map[string]any{"name": name, "permissions": perms}))
}

// signedIn is a client signed in as user.
func signedIn(t testing.TB, e *servertest.Env, user, password string) *client {
	t.Helper()
	c := newClient(t, e)
	c.mustLogin(user, password)
	return c
}

// lacks asserts that the body holds none of the strings.
func lacks(t testing.TB, r *resp, unwanted ...string) {
	t.Helper()
	for _, u := range unwanted {
		if strings.Contains(r.Body, u) {
			t.Fatalf("page holds %q:\n%s", u, r.Body)
		}
	}
}
