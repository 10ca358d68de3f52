package server_test

// The doors' matrix (issue 15): every door, every kind of credential,
// every state of a credential and its owner, through the real doors (the
// HTTP handlers, the in-server LDAP door over a socket, a running
// outpost), with the expected answer written out below, not derived from
// the policy table in internal/core/doors.go that it checks.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/gatehouse/gatehouse/internal/ldap"
	"github.com/gatehouse/gatehouse/internal/outpost"
	"github.com/gatehouse/gatehouse/internal/server/servertest"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
)

// The doors, in the order of the expected table's columns.
var matrixDoors = []string{"api-bearer", "api-basic", "web", "fa-bearer", "fa-basic", "ldap", "outpost"}

// matrixExpected: one line per state and kind of credential; one cell per
// door. A cell is what the client sees, then after a slash the reason of
// the login_failed event the attempt must write (no slash: no event):
//
//	200 401 429 503   HTTP status (the API's GET /me, forward-auth)
//	in code           the web sign-in signed in (303 to /), or asks for the code
//	away              the web sign-in turned a service account away (its own valid key)
//	0 49              LDAP bind result
//	-                 not presented there (a password as a Bearer key)
//
// Owners: alice (a person), mfa (a person with two-factor on), robot (a
// service account), the outpost's internal account (managed token).
const matrixExpected = `
valid/token           200              401/wrong_intent 401/wrong_intent 200              401/wrong_intent 49/wrong_intent  49/wrong_intent
valid/app             401/wrong_intent 401/wrong_intent 401/wrong_intent 401/wrong_intent 200              0                0
valid/password        -                200              in               -                401/wrong_intent 0                0
wrong/token           401/mismatch     401/wrong_intent 401/wrong_intent 401/mismatch     401/wrong_intent 49/wrong_intent  49/wrong_intent
wrong/app             401/wrong_intent 401/wrong_intent 401/wrong_intent 401/wrong_intent 401/mismatch     49/mismatch      49/mismatch
wrong/password        -                401/mismatch     401/mismatch     -                401/wrong_intent 49/mismatch      49/mismatch
expired/token         401/expired      401/wrong_intent 401/wrong_intent 401/expired      401/wrong_intent 49/wrong_intent  49/wrong_intent
expired/app           401/wrong_intent 401/wrong_intent 401/wrong_intent 401/wrong_intent 401/expired      49/expired       49/expired
revoked/token         401/unknown      401/wrong_intent 401/wrong_intent 401/unknown      401/wrong_intent 49/wrong_intent  49/wrong_intent
revoked/app           401/wrong_intent 401/wrong_intent 401/wrong_intent 401/wrong_intent 401/unknown      49/unknown       49/unknown
rotated/token         401/revoked      401/wrong_intent 401/wrong_intent 401/revoked      401/wrong_intent 49/wrong_intent  49/wrong_intent
rotated/app           401/wrong_intent 401/wrong_intent 401/wrong_intent 401/wrong_intent 401/revoked      49/revoked       49/revoked
disabled/token        401/inactive     401/wrong_intent 401/wrong_intent 401/inactive     401/wrong_intent 49/wrong_intent  49/wrong_intent
disabled/app          401/wrong_intent 401/wrong_intent 401/wrong_intent 401/wrong_intent 401/inactive     49/inactive      49/inactive
disabled/password     -                401/inactive     401/inactive     -                401/wrong_intent 49/inactive      49/inactive
deleted/token         401/unknown      401/wrong_intent 401/wrong_intent 401/unknown      401/wrong_intent 49/wrong_intent  49/wrong_intent
deleted/app           401/wrong_intent 401/wrong_intent 401/wrong_intent 401/wrong_intent 401/unknown      49/unknown       49/unknown
deleted/password      -                401/unknown      401/unknown      -                401/wrong_intent 49/unknown       49/unknown
mfa/token             200              401/wrong_intent 401/wrong_intent 200              401/wrong_intent 49/wrong_intent  49/wrong_intent
mfa/app               401/wrong_intent 401/wrong_intent 401/wrong_intent 401/wrong_intent 200              0                0
mfa/password          -                401/second_factor_required code -     401/wrong_intent 49/second_factor_required 49/second_factor_required
service/token         200              401/wrong_intent away/service_account 200         401/wrong_intent 49/wrong_intent  49/wrong_intent
service/app           401/wrong_intent 401/wrong_intent away/service_account 401/wrong_intent 200         0                0
managed/token         200              401/wrong_intent away/service_account 200         401/wrong_intent 49/wrong_intent  49/wrong_intent
`

// matrixCredential is one credential of the table: who presents it and
// the secret.
type matrixCredential struct {
	user, secret string
	kind         string // token, app, password
}

func TestEveryDoorAnswersEveryCredentialAlike(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, st store.Store) {
		m := newMatrix(t, st)
		creds := m.credentials()
		for _, line := range strings.Split(strings.TrimSpace(matrixExpected), "\n") {
			f := strings.Fields(line)
			if len(f) != 1+len(matrixDoors) {
				t.Fatalf("table line %q has %d cells, want %d", line, len(f)-1, len(matrixDoors))
			}
			c, ok := creds[f[0]]
			if !ok {
				t.Fatalf("no credential %q", f[0])
			}
			for i, door := range matrixDoors {
				want := f[1+i]
				if want == "-" {
					continue
				}
				if got := m.try(door, c); got != want {
					t.Errorf("%s at %s: got %s, want %s", f[0], door, got, want)
				}
			}
		}
	})
}

type matrix struct {
	*servertest.Env
	t           *testing.T
	ldapAddr    string
	outpostAddr string
	outpostKey  string
	keys        map[string]string // name -> key
	lastEvent   int64
}

const (
	matrixBase     = "dc=matrix,dc=example"
	matrixPassword = "matrix-password-1"
)

func newMatrix(t *testing.T, st store.Store) *matrix {
	t.Helper()
	m := &matrix{Env: servertest.Start(t, st), t: t, keys: map[string]string{}}
	m.Must(201, m.Admin("POST", "/api/v1/ldap-providers", map[string]any{"name": "corp", "base_dn": matrixBase, "bind_mode": "direct"}))
	m.Must(201, m.Admin("POST", "/api/v1/applications", map[string]any{"slug": "site", "name": "Site"}))
	for _, u := range []string{"alice", "mfa", "gone", "off"} {
		m.Must(201, m.Admin("POST", "/api/v1/users", map[string]any{"username": u, "type": "human", "password": matrixPassword}))
	}
	m.Must(201, m.Admin("POST", "/api/v1/service-accounts", map[string]any{"username": "robot", "token_intent": "none"}))
	key := func(name, user, intent, ttl string) {
		body := map[string]any{"user": user, "intent": intent, "identifier": name}
		if ttl != "" {
			body["ttl"] = ttl
		}
		m.keys[name] = m.Must(201, m.Admin("POST", "/api/v1/tokens", body)).JSON()["key"].(string)
	}
	for _, u := range []string{"alice", "mfa", "gone", "off", "robot"} {
		key(u+"-token", u, "api", "")
		key(u+"-app", u, "app_password", "")
	}
	key("alice-short-token", "alice", "api", "1h")
	key("alice-short-app", "alice", "app_password", "1h")
	key("alice-revoked-token", "alice", "api", "")
	key("alice-revoked-app", "alice", "app_password", "")
	key("alice-rotated-token", "alice", "api", "")
	key("alice-rotated-app", "alice", "app_password", "")
	op := m.Must(201, m.Admin("POST", "/api/v1/outposts", map[string]any{"name": "rack1", "provider": "corp"})).JSON()
	m.outpostKey = op["token"].(map[string]any)["key"].(string)

	// The states.
	m.EnrolTOTP("mfa")
	m.Must(204, m.Admin("DELETE", "/api/v1/tokens/alice-revoked-token", nil))
	m.Must(204, m.Admin("DELETE", "/api/v1/tokens/alice-revoked-app", nil))
	m.Must(200, m.Admin("POST", "/api/v1/tokens/alice-rotated-token/rotate", map[string]any{"grace": "0s"}))
	m.Must(200, m.Admin("POST", "/api/v1/tokens/alice-rotated-app/rotate", map[string]any{"grace": "0s"}))
	m.Must(200, m.Admin("PATCH", "/api/v1/users/off", map[string]any{"is_active": false}))
	m.Must(204, m.Admin("DELETE", "/api/v1/users/gone", nil))
	m.Clock.Advance(2 * time.Hour) // the short keys expire

	// The in-server LDAP door, and an outpost in front of the server.
	door := ldap.NewServer(&ldap.CoreBackend{Core: m.App.Core.LDAP, Provider: "corp"}, ldap.Options{Clock: m.Clock})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m.ldapAddr = ln.Addr().String()
	go door.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		door.Shutdown(ctx)
	})
	srv := httptest.NewServer(m.App.Handler)
	t.Cleanup(srv.Close)
	ctx, stop := context.WithCancel(context.Background())
	ready, done := make(chan string, 1), make(chan error, 1)
	go func() {
		done <- outpost.Run(ctx, outpost.Config{Server: srv.URL, Token: m.outpostKey, Provider: "corp", Listen: "127.0.0.1:0",
			Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Ready: func(addr, _ string) { ready <- addr }})
	}()
	select {
	case m.outpostAddr = <-ready:
	case err := <-done:
		t.Fatalf("outpost: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the outpost did not start")
	}
	t.Cleanup(func() {
		stop()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("the outpost has not stopped 30 s after its context ended")
		}
	})
	return m
}

func (m *matrix) credentials() map[string]matrixCredential {
	// Secrets are key names (resolved when tried) or the secret itself.
	tok := func(user, name string) matrixCredential { return matrixCredential{user, name, "token"} }
	app := func(user, name string) matrixCredential { return matrixCredential{user, name, "app"} }
	pw := func(user, secret string) matrixCredential { return matrixCredential{user, secret, "password"} }
	return map[string]matrixCredential{
		"valid/token":       tok("alice", "alice-token"),
		"valid/app":         app("alice", "alice-app"),
		"valid/password":    pw("alice", matrixPassword),
		"wrong/token":       tok("alice", servertest.ForgeKey(m.t, m.keys["alice-token"])),
		"wrong/app":         app("alice", servertest.ForgeKey(m.t, m.keys["alice-app"])),
		"wrong/password":    pw("alice", "not-the-password"),
		"expired/token":     tok("alice", "alice-short-token"),
		"expired/app":       app("alice", "alice-short-app"),
		"revoked/token":     tok("alice", "alice-revoked-token"),
		"revoked/app":       app("alice", "alice-revoked-app"),
		"rotated/token":     tok("alice", "alice-rotated-token"),
		"rotated/app":       app("alice", "alice-rotated-app"),
		"disabled/token":    tok("off", "off-token"),
		"disabled/app":      app("off", "off-app"),
		"disabled/password": pw("off", matrixPassword),
		"deleted/token":     tok("gone", "gone-token"),
		"deleted/app":       app("gone", "gone-app"),
		"deleted/password":  pw("gone", matrixPassword),
		"mfa/token":         tok("mfa", "mfa-token"),
		"mfa/app":           app("mfa", "mfa-app"),
		"mfa/password":      pw("mfa", matrixPassword),
		"service/token":     tok("robot", "robot-token"),
		"service/app":       app("robot", "robot-app"),
		"managed/token":     {user: "outpost-rack1", secret: m.outpostKey, kind: "token"},
	}
}

// secretOf resolves a credential whose secret names a key.
func (m *matrix) secretOf(c matrixCredential) string {
	if k, ok := m.keys[c.secret]; ok {
		return k
	}
	return c.secret
}

// try presents c at door and returns the cell: the answer, and the reason
// of the login_failed event it wrote, if any.
func (m *matrix) try(door string, c matrixCredential) string {
	m.t.Helper()
	// A new limiter window for every attempt: the matrix is about the
	// credential, not the limiter (TestLimiterAtTheDoors is).
	m.Clock.Advance(61 * time.Second)
	secret := m.secretOf(c)
	var answer string
	switch door {
	case "api-bearer", "fa-bearer", "api-basic", "fa-basic":
		path := "/api/v1/me"
		if strings.HasPrefix(door, "fa-") {
			path = "/outpost/forward-auth/site"
		}
		req, _ := http.NewRequest("GET", m.URL+path, nil)
		if strings.HasSuffix(door, "bearer") {
			req.Header.Set("Authorization", "Bearer "+secret)
		} else {
			req.SetBasicAuth(c.user, secret)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			m.t.Fatal(err)
		}
		res.Body.Close()
		answer = fmt.Sprint(res.StatusCode)
	case "web":
		answer = m.webLogin(c.user, secret)
	case "ldap", "outpost":
		addr := m.ldapAddr
		if door == "outpost" {
			addr = m.outpostAddr
		}
		answer = ldapBind(m.t, addr, "cn="+c.user+",ou=users,"+matrixBase, secret)
	}
	if reason := m.newLoginFailed(); reason != "" {
		answer += "/" + reason
	}
	return answer
}

// newLoginFailed returns the reason of the login_failed event written
// since the last call ("" when none; two are a failure).
func (m *matrix) newLoginFailed() string {
	m.t.Helper()
	evs, err := m.App.Store.ListEvents(context.Background(), store.EventFilter{Action: "login_failed", Limit: 2})
	if err != nil {
		m.t.Fatal(err)
	}
	var fresh []store.Event
	for _, ev := range evs {
		if ev.ID > m.lastEvent {
			fresh = append(fresh, ev)
		}
	}
	if len(evs) > 0 && evs[0].ID > m.lastEvent {
		m.lastEvent = evs[0].ID
	}
	switch len(fresh) {
	case 0:
		return ""
	case 1:
		return fmt.Sprint(fresh[0].Context["reason"])
	}
	m.t.Errorf("one attempt wrote %d login_failed events: %+v", len(fresh), fresh)
	return "several"
}

// webLogin loads the sign-in page and posts it, as a browser does.
func (m *matrix) webLogin(user, password string) string {
	m.t.Helper()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := hc.Get(m.URL + "/login")
	if err != nil {
		m.t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	tok := loginCSRF.FindSubmatch(body)
	if tok == nil {
		m.t.Fatalf("no CSRF token in the sign-in page")
	}
	res, err = hc.PostForm(m.URL+"/login", url.Values{"username": {user}, "password": {password}, "csrf_token": {string(tok[1])}})
	if err != nil {
		m.t.Fatal(err)
	}
	res.Body.Close()
	loc := res.Header.Get("Location")
	switch {
	case res.StatusCode == http.StatusSeeOther && loc == "/":
		return "in"
	case res.StatusCode == http.StatusSeeOther && strings.HasPrefix(loc, "/login/code"):
		return "code"
	case res.StatusCode == http.StatusForbidden:
		return "away"
	}
	return fmt.Sprint(res.StatusCode)
}

// ldapBind binds over a new connection and returns the result code.
func ldapBind(t *testing.T, addr, dn, password string) string {
	t.Helper()
	conn, err := goldap.DialURL("ldap://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetTimeout(10 * time.Second)
	err = conn.Bind(dn, password)
	if err == nil {
		return "0"
	}
	var le *goldap.Error
	if !errors.As(err, &le) {
		t.Fatalf("bind %s: %v", dn, err)
	}
	return fmt.Sprint(le.ResultCode)
}
