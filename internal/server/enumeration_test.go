package server_test

// Brute force and enumeration at every door that takes a username: the
// REST API's Basic, the web sign-in form, LDAP simple binds and
// forward-auth's Basic with an app password (and, for keys, Bearer).
//
//   - Answers and timing do not reveal whether a username exists: attempts
//     on existing accounts with a wrong secret and on names that do not
//     exist are interleaved, their answers compared byte for byte and their
//     timings statistically (enumeration_stats_test.go).
//   - The failed-login limiter treats existing and missing names alike,
//     and an attacker hammering an account from one address does not lock
//     its owner out from another.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/ldap"
	"github.com/gatehouse/gatehouse/internal/ratelimit"
	"github.com/gatehouse/gatehouse/internal/server/servertest"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
)

const (
	enumBase     = "dc=example,dc=com"
	enumPassword = "the-right-password-1"
	enumWrong    = "a-wrong-password-42" // what the attacker tries
	// enumPool accounts of each kind share the attempts.
	enumPool = 8
)

// Names of equal length, so that an answer echoing the name has the same
// length either way; answers are compared with the name replaced.
func existingName(i int) string { return fmt.Sprintf("exists-%d", i%enumPool) }
func missingName(i int) string  { return fmt.Sprintf("absent-%d", i%enumPool) }
func robotName(i int) string    { return fmt.Sprintf("robot-%d", i%enumPool) }
func ghostName(i int) string    { return fmt.Sprintf("ghost-%d", i%enumPool) }

// enumEnv is a test server with enumPool people (existingName(i), with
// enumPassword), enumPool service accounts (robotName(i), each with an app
// password and an API token), LDAP provider "corp" and its in-server door,
// and application "site" for forward-auth.
type enumEnv struct {
	*servertest.Env
	ldapAddr string
	appKeys  []string // robotName(i)'s app password
	apiKeys  []string // robotName(i)'s API token
}

func newEnumEnv(t *testing.T, st store.Store) *enumEnv {
	t.Helper()
	e := &enumEnv{Env: servertest.Start(t, st)}
	e.Must(201, e.Admin("POST", "/api/v1/ldap-providers", map[string]any{"name": "corp", "base_dn": enumBase}))
	e.Must(201, e.Admin("POST", "/api/v1/applications", map[string]any{"slug": "site", "name": "Site"}))
	for i := range enumPool {
		e.Must(201, e.Admin("POST", "/api/v1/users", map[string]any{"username": existingName(i), "password": enumPassword}))
		sa := e.Must(201, e.Admin("POST", "/api/v1/service-accounts", map[string]any{"username": robotName(i), "token_intent": "app_password"})).JSON()
		e.appKeys = append(e.appKeys, sa["token"].(map[string]any)["key"].(string))
		tok := e.Must(201, e.Admin("POST", "/api/v1/tokens", map[string]any{"user": robotName(i), "intent": "api"})).JSON()
		e.apiKeys = append(e.apiKeys, tok["key"].(string))
	}
	door := ldap.NewServer(&ldap.CoreBackend{Core: e.App.Core.LDAP, Provider: "corp"}, ldap.Options{Clock: e.Clock})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.ldapAddr = ln.Addr().String()
	go door.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		door.Shutdown(ctx)
	})
	return e
}

// forgetStreaks clears every pooled name's run of consecutive failures,
// as a success of that name would.
func (e *enumEnv) forgetStreaks() {
	for i := range enumPool {
		for _, name := range []string{existingName(i), missingName(i), robotName(i), ghostName(i)} {
			e.App.Limiter.Success(name, "")
		}
	}
}

// --- the doors, as a client sees them ----------------------------------------

// doorAnswer is what a client learns from one attempt, timing aside:
// status and headers (without Date and X-Request-Id, which differ between
// any two answers whatever was asked) and body of an HTTP answer, or an LDAP
// result code, matched DN and diagnostic message; the username tried is
// replaced by a placeholder.
type doorAnswer string

func httpAnswer(res *http.Response, user string) doorAnswer {
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", res.Status)
	h := res.Header.Clone()
	h.Del("Date")
	h.Del("X-Request-Id")
	_ = h.Write(&b)
	b.WriteString("\n")
	b.Write(body)
	return doorAnswer(strings.ReplaceAll(b.String(), user, "{user}"))
}

// doorClient is one HTTP client (keep-alive, cookies, redirects not followed)
// whose requests seem to come from addr: the test server trusts loopback
// proxies, as serve does by default, so X-Forwarded-For names the client.
type doorClient struct {
	t    testing.TB
	e    *enumEnv
	hc   *http.Client
	addr string
	csrf string // the login form's token
}

func newDoorClient(t testing.TB, e *enumEnv, addr string) *doorClient {
	jar, _ := cookiejar.New(nil)
	return &doorClient{t: t, e: e, addr: addr, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

func (c *doorClient) do(req *http.Request) *http.Response {
	c.t.Helper()
	req.Header.Set("X-Forwarded-For", c.addr)
	res, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	return res
}

// basic asks GET /api/v1/me with Basic user:password.
func (c *doorClient) basic(user, password string) doorAnswer {
	req, _ := http.NewRequest("GET", c.e.URL+"/api/v1/me", nil)
	req.SetBasicAuth(user, password)
	return httpAnswer(c.do(req), user)
}

// bearer asks GET /api/v1/me with a Bearer key.
func (c *doorClient) bearer(key string) doorAnswer {
	req, _ := http.NewRequest("GET", c.e.URL+"/api/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	return httpAnswer(c.do(req), "\x00")
}

// forward asks forward-auth for application "site" with Basic user:key.
func (c *doorClient) forward(user, key string) doorAnswer {
	req, _ := http.NewRequest("GET", c.e.URL+"/outpost/forward-auth/site", nil)
	req.SetBasicAuth(user, key)
	return httpAnswer(c.do(req), user)
}

var loginCSRF = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// login posts the web sign-in form, as a browser does after loading it.
func (c *doorClient) login(user, password string) doorAnswer {
	c.t.Helper()
	if c.csrf == "" {
		req, _ := http.NewRequest("GET", c.e.URL+"/login", nil)
		res := c.do(req)
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		m := loginCSRF.FindSubmatch(body)
		if m == nil {
			c.t.Fatalf("no CSRF token in the sign-in page: %s", body)
		}
		c.csrf = string(m[1])
	}
	form := url.Values{"username": {user}, "password": {password}, "csrf_token": {c.csrf}}
	req, _ := http.NewRequest("POST", c.e.URL+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return httpAnswer(c.do(req), user)
}

// ldapDoorClient binds on the in-server door over one connection from a
// local address of its own (the door sees the TCP peer).
type ldapDoorClient struct {
	t    testing.TB
	conn *goldap.Conn
}

func newLDAPDoorClient(t testing.TB, e *enumEnv, localIP string) *ldapDoorClient {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(localIP)}, Timeout: 5 * time.Second}
	conn, err := goldap.DialURL("ldap://"+e.ldapAddr, goldap.DialWithDialer(d))
	if err != nil {
		t.Fatalf("dial the LDAP door from %s: %v", localIP, err)
	}
	conn.SetTimeout(10 * time.Second)
	t.Cleanup(func() { conn.Close() })
	return &ldapDoorClient{t: t, conn: conn}
}

func (l *ldapDoorClient) bind(user, password string) doorAnswer {
	err := l.conn.Bind("cn="+user+",ou=users,"+enumBase, password)
	if err == nil {
		return "success"
	}
	var le *goldap.Error
	if !errors.As(err, &le) {
		l.t.Fatalf("bind as %s: %v", user, err)
	}
	return doorAnswer(strings.ReplaceAll(fmt.Sprintf("%d matched=%q %v", le.ResultCode, le.MatchedDN, le.Err), user, "{user}"))
}

// randomKey returns a well-formed key of the prefix whose lookup part no
// stored key has.
func randomKey(t testing.TB, intent string) string {
	t.Helper()
	k, err := auth.NewKey(intent)
	if err != nil {
		t.Fatal(err)
	}
	return k.Raw
}

// --- the timing comparison ---------------------------------------------------

// timing is a budget of attempts: at least minPairs pairs, then more until
// maxPairs or the time budget, whichever comes first (stopping on time
// keeps each door within its budget on a slow machine), and the tolerance
// of the verdict.
type timing struct {
	minPairs, maxPairs int
	budget             time.Duration
	tolerance          float64
	// hashRuns is what one attempt of either kind costs in argon2id runs,
	// counted: the half of the comparison no load on the machine can blur.
	hashRuns uint64
}

// argon2 doors: an attempt costs one argon2id run (19 MiB, t=2: 25-30 ms
// on the CI machine when it is idle, much more when it is not). The leak
// they guard against (a missing name answered without the run) is a
// factor of 10 or more. Beside two busy loops on two cores the 10th
// percentiles of equal work were measured 1.27-1.30 apart on the LDAP
// door (medians 1.01-1.04, Mann-Whitney p 0.66-0.96), so the tolerance
// is 2: five times short of the smallest leak, clear of that noise.
const slowTolerance = 2.0

var slowDoor = timing{minPairs: 36, maxPairs: 120, budget: 3 * time.Second, tolerance: slowTolerance, hashRuns: 1}

// Username doors of app passwords: an attempt costs a key lookup, an
// HMAC and a login_failed event, about a millisecond.
var fastDoor = timing{minPairs: 120, maxPairs: 400, budget: 600 * time.Millisecond, tolerance: strictTolerance}

// keyTolerance is what separates a key whose public lookup part exists
// from one whose lookup part does not: the first is answered from the
// verifier cache, the second costs one indexed query. Measured under a
// load average of 9-11: +2% to +10% on SQLite, +10% to +25% on PostgreSQL
// (a round trip, up to 0.2 ms) at the 10th percentile. It reveals whether a lookup part, 71 random bits that
// only someone who has seen the key knows, is in use, and nothing about
// accounts; what this tolerance still catches is a slow path on one side
// (a slow hash run only for stored keys, a query only for them).
const keyTolerance = 2.0

var keyDoor = timing{minPairs: 120, maxPairs: 400, budget: 600 * time.Millisecond, tolerance: keyTolerance}

// extraRounds: when a verdict finds a difference, sample this many more
// budgets, then judge all the attempts together. A real leak stays a
// leak with more data; an unlucky stretch of load is diluted.
const extraRounds = 2

// compareTiming interleaves attempts of kind a (an existing account or key
// with a wrong secret) and kind b (a name or key that does not exist),
// alternating which goes first in each pair so that neither benefits from
// the other's warm caches and load hits both alike. Every answer must be
// the same; the first attempt of each kind must cost tm.hashRuns argon2id
// runs, counted; the timings must be indistinguishable.
func compareTiming(t *testing.T, e *enumEnv, tm timing, a, b func(i int) doorAnswer) {
	t.Helper()
	authn := e.App.Core.Authenticator()
	runs0 := authn.PasswordHashRuns()
	want := a(0)
	runs1 := authn.PasswordHashRuns()
	got := b(0) // also warms both paths up
	runs2 := authn.PasswordHashRuns()
	if got != want {
		t.Fatalf("answers differ:\nexisting:\n%s\nmissing:\n%s", want, got)
	}
	if runs1-runs0 != tm.hashRuns || runs2-runs1 != tm.hashRuns {
		t.Fatalf("argon2id runs: %d for an existing account, %d for a missing one; want %d each", runs1-runs0, runs2-runs1, tm.hashRuns)
	}
	var ta, tb []float64
	run := func(f func(int) doorAnswer, i int, into *[]float64) {
		start := time.Now()
		got := f(i)
		*into = append(*into, float64(time.Since(start).Microseconds())/1000)
		if got != want {
			t.Fatalf("attempt %d answered differently:\n%s\nwant:\n%s", i, got, want)
		}
	}
	begin := time.Now()
	for round, i := 0, 0; ; round++ {
		start, first := time.Now(), i
		for ; i-first < tm.maxPairs && (i-first < tm.minPairs || time.Since(start) < tm.budget); i++ {
			// Each block of 4 pairs gives an account of the pool at most
			// one failure and the client 8, under the limits of a window
			// (10 per account and address, which for keys is the address
			// alone; 50 per address); the fake clock then starts the next
			// window. The slowdown of names failing from everywhere
			// (after 100 in a row, existing or not) is cleared as a
			// success would clear it.
			if i%4 == 0 {
				e.Clock.Advance(ratelimit.Defaults.Window)
				e.forgetStreaks()
			}
			if i%2 == 0 {
				run(a, i, &ta)
				run(b, i, &tb)
			} else {
				run(b, i, &tb)
				run(a, i, &ta)
			}
		}
		summary, err := timingVerdict(ta, tb, tm.tolerance)
		t.Logf("%s (%.1f s)", summary, time.Since(begin).Seconds())
		if err == nil {
			return
		}
		// A gross difference needs no more data.
		if l := sampleQuantile(tb, lowQuantile) / sampleQuantile(ta, lowQuantile); round == extraRounds || l > tm.tolerance*tm.tolerance || l < 1/(tm.tolerance*tm.tolerance) {
			t.Errorf("timing tells an existing account from a missing one: %v", err)
			return
		}
		t.Logf("%v: sampling more", err)
	}
}

// TestNoUsernameEnumeration: on every door, an existing account tried
// with a wrong secret and a name that does not exist get the same answer,
// byte for byte, in the same time. The password doors owe this to the
// dummy argon2id run made for unknown names (auth.VerifyPassword);
// without it a missing name is answered in well under a millisecond
// instead of tens.
func TestNoUsernameEnumeration(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, st store.Store) {
		e := newEnumEnv(t, st)
		c := newDoorClient(t, e, "198.51.100.1")
		t.Run("api-basic", func(t *testing.T) {
			compareTiming(t, e, slowDoor,
				func(i int) doorAnswer { return c.basic(existingName(i), enumWrong) },
				func(i int) doorAnswer { return c.basic(missingName(i), enumWrong) })
		})
		t.Run("web-login", func(t *testing.T) {
			compareTiming(t, e, slowDoor,
				func(i int) doorAnswer { return c.login(existingName(i), enumWrong) },
				func(i int) doorAnswer { return c.login(missingName(i), enumWrong) })
		})
		t.Run("ldap-bind", func(t *testing.T) {
			l := newLDAPDoorClient(t, e, "127.0.0.1")
			compareTiming(t, e, slowDoor,
				func(i int) doorAnswer { return l.bind(existingName(i), enumWrong) },
				func(i int) doorAnswer { return l.bind(missingName(i), enumWrong) })
		})
		// App passwords: the key is checked before the name, so an
		// existing account with a guessed key and a missing name take
		// the same path.
		t.Run("forward-auth-basic", func(t *testing.T) {
			compareTiming(t, e, fastDoor,
				func(i int) doorAnswer { return c.forward(robotName(i), randomKey(t, "app_password")) },
				func(i int) doorAnswer { return c.forward(ghostName(i), randomKey(t, "app_password")) })
		})
		t.Run("ldap-bind-app-password", func(t *testing.T) {
			l := newLDAPDoorClient(t, e, "127.0.0.1")
			compareTiming(t, e, fastDoor,
				func(i int) doorAnswer { return l.bind(robotName(i), randomKey(t, "app_password")) },
				func(i int) doorAnswer { return l.bind(ghostName(i), randomKey(t, "app_password")) })
		})
		// Keys: one whose public lookup part exists, with a wrong
		// secret, against one whose lookup part does not.
		t.Run("api-bearer-lookup", func(t *testing.T) {
			compareTiming(t, e, keyDoor,
				func(i int) doorAnswer { return c.bearer(servertest.ForgeKey(t, e.apiKeys[i%enumPool])) },
				func(i int) doorAnswer { return c.bearer(randomKey(t, "api")) })
		})
		t.Run("forward-auth-lookup", func(t *testing.T) {
			compareTiming(t, e, keyDoor,
				func(i int) doorAnswer { return c.forward(robotName(i), servertest.ForgeKey(t, e.appKeys[i%enumPool])) },
				func(i int) doorAnswer { return c.forward(robotName(i), randomKey(t, "app_password")) })
		})
	})
}

// --- the limiter at the doors -----------------------------------------------

// TestLimiterAtTheDoors: on Basic, the web sign-in and LDAP binds (and
// forward-auth), 10 failures of one account from one address refuse that
// account from that address, even with the right password, with the same
// answer whether the account exists or not; its owner, from another
// address, signs in at once.
func TestLimiterAtTheDoors(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, st store.Store) {
		e := newEnumEnv(t, st)
		type door struct {
			name string
			// try is an attempt from the attacker's address (from the
			// owner's when owner is true).
			try func(owner bool, user, secret string) doorAnswer
			// rightSecret of account i.
			rightSecret  func(i int) string
			user, absent func(i int) string
			ok           doorAnswer // what the owner's success starts with
			limited      string     // what a limited attempt starts with
		}
		attacker, owner := newDoorClient(t, e, "203.0.113.66"), newDoorClient(t, e, "198.51.100.7")
		// The LDAP clients connect when the LDAP door's turn comes, not
		// here: the door closes a connection whose first request does not
		// come within its FirstMessageTimeout (10 s), and the doors before
		// it can take longer than that on a busy machine.
		var ldapAttacker, ldapOwner *ldapDoorClient
		ldapClient := func(own bool) *ldapDoorClient {
			if ldapAttacker == nil {
				ldapAttacker, ldapOwner = newLDAPDoorClient(t, e, "127.0.0.66"), newLDAPDoorClient(t, e, "127.0.0.7")
			}
			if own {
				return ldapOwner
			}
			return ldapAttacker
		}
		pick := func(own bool, a, o *doorClient) *doorClient {
			if own {
				return o
			}
			return a
		}
		doors := []door{
			{name: "api-basic", user: existingName, absent: missingName, ok: "200 OK", limited: "429 Too Many Requests",
				rightSecret: func(int) string { return enumPassword },
				try:         func(own bool, u, s string) doorAnswer { return pick(own, attacker, owner).basic(u, s) }},
			{name: "web-login", user: existingName, absent: missingName, ok: "303 See Other", limited: "429 Too Many Requests",
				rightSecret: func(int) string { return enumPassword },
				try:         func(own bool, u, s string) doorAnswer { return pick(own, attacker, owner).login(u, s) }},
			{name: "ldap-bind", user: existingName, absent: missingName, ok: "success", limited: "51 ",
				rightSecret: func(int) string { return enumPassword },
				try:         func(own bool, u, s string) doorAnswer { return ldapClient(own).bind(u, s) }},
			{name: "forward-auth-basic", user: robotName, absent: ghostName, ok: "200 OK", limited: "429 Too Many Requests",
				rightSecret: func(i int) string { return e.appKeys[i] },
				try:         func(own bool, u, s string) doorAnswer { return pick(own, attacker, owner).forward(u, s) }},
		}
		for k, d := range doors {
			t.Run(d.name, func(t *testing.T) {
				e.Clock.Advance(ratelimit.Defaults.Window) // a fresh window for each door
				// Account k of the pool: each door's attacker starts afresh.
				user, absent, right := d.user(k), d.absent(k), d.rightSecret(k)
				wrong := enumWrong
				if d.name == "forward-auth-basic" {
					wrong = randomKey(t, "app_password")
				}
				for i := range ratelimit.Defaults.PerPair {
					a, b := d.try(false, user, wrong), d.try(false, absent, wrong)
					if a != b || strings.HasPrefix(string(a), d.limited) {
						t.Fatalf("failure %d: existing\n%s\nmissing\n%s", i+1, a, b)
					}
				}
				// Refused now, right secret or not, existing or not, alike.
				a, b := d.try(false, user, right), d.try(false, absent, right)
				if a != b || !strings.HasPrefix(string(a), d.limited) {
					t.Fatalf("after %d failures, want both refused alike:\nexisting, right secret:\n%s\nmissing:\n%s",
						ratelimit.Defaults.PerPair, a, b)
				}
				// The owner, elsewhere, is not locked out.
				if got := d.try(true, user, right); !strings.HasPrefix(string(got), string(d.ok)) {
					t.Fatalf("the owner from another address is locked out:\n%s", got)
				}
				// And the attacker is still refused: the owner's success
				// clears the owner's pair, not the attacker's.
				if got := d.try(false, user, right); !strings.HasPrefix(string(got), d.limited) {
					t.Fatalf("the attacker's limit ended with the owner's success:\n%s", got)
				}
				if d.name == "ldap-bind" {
					// the owner's connection is bound now; bind it back to
					// anonymous for the next door (a failed bind does)
					ldapClient(true).bind(user, enumWrong)
				}
			})
		}
	})
}
