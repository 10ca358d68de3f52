// Package authzmatrix_test calls every route of every door of gatehouse
// (the REST API and introspection, the web interface, forward-auth) as
// every kind of principal, and compares what each was allowed to do with
// testdata/expected.txt, which is kept by hand and reviewed like code.
//
// The routes come from the doors' own route tables (api.Server.Routes,
// ui.RouteTable, forwardauth.Route), so a new route is called the day it
// is added, and fails the test until its line is in the table.
//
// The principals: anonymous; "none", a person holding no role, and
// "sa-none", a service account holding none; "member-a" and "member-b",
// service accounts in the groups mx-a and mx-b that own the tokens tok-a
// and tok-b (so their rows are what one may do with one's own tokens);
// "pending", a person whose web session still owes its second factor;
// one person per permission of the catalogue, holding it through a role;
// for each scopable permission, one holding it scoped to the object the
// request names ("@right": group mx-a, application app-a, LDAP provider
// ldap-a) and one scoped to another object of the same kind ("@wrong");
// "outpost-a" and "outpost-b", the accounts of the LDAP outposts of
// ldap-a and ldap-b; and admin. API and forward-auth requests carry the
// principal's API token; web requests its session cookie and CSRF token.
//
// Outcome classes (unambiguous by construction):
//
//	allow    the request did its work: a 2xx answer; on the web interface
//	         also a redirect anywhere but the sign-in pages (after a form)
//	         and the sign-out page after signing out
//	hidden   a 2xx answer that shows nothing of the object the request
//	         names: a list filtered down to the caller's own objects, an
//	         introspection answering {"active": false}
//	bounced  the web interface sent a signed-in person back to the
//	         dashboard from a sign-in page, having done nothing
//	deny     401 or 403; on the web interface also a redirect to the
//	         sign-in page or to the second-factor page
//	status-N any other status: a fixture or body the matrix got wrong
//
// Every principal not listed on a route's line is expected to be denied.
// Requests that need a body get a valid one, so that a 400 cannot hide
// an allow; requests that delete or rotate what they name either get a
// fresh object or have the fixture brought back after they succeeded, so
// each request sees the same world whatever ran before.
package authzmatrix_test

import (
	"bufio"
	"flag"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/api"
	"github.com/gatehouse/gatehouse/internal/forwardauth"
	"github.com/gatehouse/gatehouse/internal/server/servertest"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
	"github.com/gatehouse/gatehouse/internal/ui"
)

var update = flag.Bool("update", false, "rewrite testdata/expected.txt from what the server answers; review every line of the diff")

const expectedFile = "testdata/expected.txt"

// workers is how many principals call a route at once.
const workers = 4

const howToAdd = "run `go test ./internal/authzmatrix -run TestAuthorizationMatrix -update`, " +
	"check every allow of the new line against the permission model (README, Permissions), and commit it"

// route is one route of one door.
type route struct {
	door, method, path string
}

func (r route) key() string { return r.door + " " + r.method + " " + r.path }

// routes lists every route of every door, from the doors' own tables.
func routes(e *servertest.Env) []route {
	var out []route
	for _, rt := range e.App.API.Routes() {
		out = append(out, route{"api", rt.Method, rt.Path})
	}
	// Mounted beside the table by api.Server.Mount.
	out = append(out, route{"api", "GET", "/metrics"})
	for _, path := range api.DocsPaths() {
		out = append(out, route{"api", "GET", path})
	}
	for _, rt := range ui.RouteTable() {
		method, path, _ := strings.Cut(rt.Pattern, " ")
		out = append(out, route{"ui", method, path})
	}
	method, path, _ := strings.Cut(forwardauth.Route, " ")
	out = append(out, route{"fa", method, path})
	sort.Slice(out, func(i, j int) bool { return out[i].key() < out[j].key() })
	return out
}

var wildcard = regexp.MustCompile(`\{([a-z_$]+)\}`)

// observation is one route's outcome for each principal.
type observation map[string]string // principal name -> class

func TestAuthorizationMatrix(t *testing.T) {
	var want map[string]line
	if !*update {
		var err error
		if want, err = readExpected(expectedFile); err != nil {
			t.Fatalf("%v (to create it, %s)", err, howToAdd)
		}
	}
	storetest.ForEachBackend(t, func(t *testing.T, s store.Store) {
		start := time.Now()
		e := servertest.Start(t, s)
		w := newWorld(t, e)
		setup := time.Since(start)
		rs := routes(e)
		got := map[string]observation{}
		requests := 0
		for _, rt := range rs {
			var ps []*principal
			for _, p := range w.principals {
				if p.calls(rt.door) {
					ps = append(ps, p)
				}
			}
			classes := make([]string, len(ps))
			if specs[rt.key()].concurrent() {
				// A few principals at a time: the server is built for
				// concurrent requests, and each principal's request
				// touches only its own state here.
				var wg sync.WaitGroup
				sem := make(chan struct{}, workers)
				for i, p := range ps {
					wg.Add(1)
					sem <- struct{}{}
					go func() {
						defer func() { <-sem; wg.Done() }()
						classes[i] = w.run(rt, p)
					}()
				}
				wg.Wait()
			} else {
				for i, p := range ps {
					classes[i] = w.run(rt, p)
				}
			}
			got[rt.key()] = observation{}
			for i, p := range ps {
				got[rt.key()][p.name] = classes[i]
			}
			requests += len(ps)
		}
		t.Logf("%s: %d routes, %d principals, %d requests in %v (setup %v)", s.Dialect(), len(rs), len(w.principals),
			requests, time.Since(start).Round(time.Millisecond), setup.Round(time.Millisecond))
		if *update && want == nil {
			if err := writeExpected(expectedFile, rs, w.principals, got); err != nil {
				t.Fatal(err)
			}
			t.Logf("wrote %s: review the diff line by line before committing it", expectedFile)
			var err error
			if want, err = readExpected(expectedFile); err != nil {
				t.Fatal(err)
			}
		}
		compare(t, rs, w.principals, want, got)
	})
}

// run makes one request of rt as p and returns its class.
func (w *world) run(rt route, p *principal) string {
	w.t.Helper()
	sp := specs[rt.key()]
	c := &call{w: w, p: p, door: rt.door, vars: map[string]string{}}
	for k, v := range sp.vars {
		c.vars[k] = v
	}
	if sp.before != nil {
		sp.before(c)
	}
	var body any
	if sp.body != nil {
		body = sp.body(c)
	}
	c.path = wildcard.ReplaceAllStringFunc(rt.path, func(m string) string {
		name := m[1 : len(m)-1]
		if name == "$" {
			return ""
		}
		v, ok := c.vars[name]
		if !ok {
			v = defaultVar(rt.path, name)
		}
		return url.PathEscape(v)
	})
	var extra []*httpCookie
	if tok := c.vars["login_csrf"]; tok != "" {
		extra = append(extra, &httpCookie{Name: "gatehouse_login_csrf", Value: tok})
	}
	r := w.send(rt.door, p, rt.method, c.path, body, extra...)
	class := classify(rt.door, sp, r)
	if rt.door == "ui" {
		w.adoptSession(p, r)
	}
	if sp.after != nil {
		sp.after(c, r, class == "allow" || class == "hidden")
	}
	if rt.door == "ui" {
		w.stillSignedIn(p)
	}
	return class
}

// classify turns an answer into its outcome class (see the package doc).
func classify(door string, sp spec, r *resp) string {
	ok := func() string {
		if sp.reveal != "" && !strings.Contains(r.body, sp.reveal) {
			return "hidden"
		}
		return "allow"
	}
	switch {
	case r.status >= 200 && r.status < 300:
		return ok()
	case r.status == 401 || r.status == 403:
		return "deny"
	case door == "ui" && (r.status == 302 || r.status == 303):
		loc := r.location
		switch {
		case strings.HasPrefix(loc, "/login?ended=signed_out"):
			return "allow"
		case loc == "/login" || strings.HasPrefix(loc, "/login?") || strings.HasPrefix(loc, "/login/code"):
			return "deny"
		case loc == "/" && sp.home && !setsSession(r):
			return "bounced"
		}
		return "allow"
	}
	return fmt.Sprintf("status-%d", r.status)
}

func setsSession(r *resp) bool {
	for _, ck := range cookies(r) {
		if ck.Name == "gatehouse_session" && ck.Value != "" {
			return true
		}
	}
	return false
}

// line is a route's line of the table: class -> principal names, where
// "*" stands for every principal that calls the route's door and "-name"
// takes one away from it.
type line map[string][]string

// expand resolves a line for the principals of a door. It returns the
// names that are no principal, and the principals two classes claim.
func (l line) expand(ps []*principal, door string) (observation, []string) {
	known := map[string]bool{}
	for _, p := range ps {
		known[p.name] = true
	}
	out := observation{}
	var bad []string
	claim := func(name, class string) {
		if c, dup := out[name]; dup && c != class {
			bad = append(bad, name+" (in two classes)")
		}
		out[name] = class
	}
	for class, names := range l {
		set := map[string]bool{}
		for _, n := range names {
			switch {
			case n == "*":
				for _, p := range ps {
					if p.calls(door) {
						set[p.name] = true
					}
				}
			case strings.HasPrefix(n, "-"):
				delete(set, n[1:])
				if !known[n[1:]] {
					bad = append(bad, n[1:])
				}
			default:
				set[n] = true
				if !known[n] {
					bad = append(bad, n)
				}
			}
		}
		for n := range set {
			claim(n, class)
		}
	}
	return out, bad
}

// compare fails the test for every difference, naming route and principal.
func compare(t *testing.T, rs []route, ps []*principal, want map[string]line, got map[string]observation) {
	t.Helper()
	for _, rt := range rs {
		k := rt.key()
		l, ok := want[k]
		if !ok {
			t.Errorf("route %q has no line in %s: %s", k, expectedFile, howToAdd)
			continue
		}
		exp, bad := l.expand(ps, rt.door)
		for _, name := range bad {
			t.Errorf("%s: the line of %q names %q, which is no principal of the matrix", expectedFile, k, name)
		}
		for _, p := range ps {
			g, ran := got[k][p.name]
			if !ran {
				continue
			}
			x := exp[p.name]
			if x == "" {
				x = "deny"
			}
			if g == x {
				continue
			}
			switch {
			case g == "allow" || g == "hidden" && x == "deny":
				t.Errorf("UNEXPECTED ALLOW: %s as %s: got %s, the table says %s", k, p.name, g, x)
			default:
				t.Errorf("%s as %s: got %s, the table says %s", k, p.name, g, x)
			}
		}
	}
	have := map[string]bool{}
	for _, rt := range rs {
		have[rt.key()] = true
	}
	var gone []string
	for k := range want {
		if !have[k] {
			gone = append(gone, k)
		}
	}
	slices.Sort(gone)
	for _, k := range gone {
		t.Errorf("%s has a line for %q, which no route table has any more: remove it (or -update)", expectedFile, k)
	}
}

// The expected table: one line per route,
//
//	door METHOD /path | allow: p1 p2 ... | hidden: p3 ...
//
// every principal not named is expected to be denied.

func readExpected(path string) (map[string]line, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]line{}
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		parts := strings.Split(text, " | ")
		key := strings.Join(strings.Fields(parts[0]), " ")
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("%s:%d: a second line for %q", path, n, key)
		}
		l := line{}
		for _, part := range parts[1:] {
			class, names, ok := strings.Cut(part, ":")
			if !ok {
				return nil, fmt.Errorf("%s:%d: %q is not \"class: principal ...\"", path, n, part)
			}
			class = strings.TrimSpace(class)
			l[class] = append(l[class], strings.Fields(names)...)
		}
		out[key] = l
	}
	return out, sc.Err()
}

func writeExpected(path string, rs []route, ps []*principal, got map[string]observation) error {
	var b strings.Builder
	b.WriteString(`# The authorization matrix: what each principal may do on each route of
# each door. Kept by hand and reviewed like code: every "allow" here is a
# promise. Written by -update from what the server answered; the
# principals and classes are described in matrix_test.go. A principal not
# named on a line is denied (401/403, or sent to the sign-in page).
# "*" is every principal that calls the route's door (api and fa: all but
# "pending"; ui: anonymous, the people and admin), "-name" takes one away.
#
# door METHOD /path | class: principal ...
`)
	door := ""
	for _, rt := range rs {
		if rt.door != door {
			door = rt.door
			b.WriteString("\n")
		}
		text := fmt.Sprintf("%-3s %-6s %-56s", rt.door, rt.method, rt.path)
		byClass := map[string][]string{}
		var classes []string
		for _, p := range ps {
			c, ok := got[rt.key()][p.name]
			if !ok || c == "deny" {
				continue
			}
			if _, seen := byClass[c]; !seen {
				classes = append(classes, c)
			}
			byClass[c] = append(byClass[c], p.name)
		}
		slices.Sort(classes)
		var door []string
		for _, p := range ps {
			if p.calls(rt.door) {
				door = append(door, p.name)
			}
		}
		for _, c := range classes {
			text += fmt.Sprintf(" | %s: %s", c, compact(byClass[c], door))
		}
		b.WriteString(strings.TrimRight(text, " ") + "\n")
	}
	if err := os.MkdirAll("testdata", 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// compact writes a long list of principals as "*" less the few missing.
func compact(names, door []string) string {
	var missing []string
	for _, d := range door {
		if !slices.Contains(names, d) {
			missing = append(missing, "-"+d)
		}
	}
	if len(names) < 12 || len(missing) > 6 {
		return strings.Join(names, " ")
	}
	return strings.Join(append([]string{"*"}, missing...), " ")
}
