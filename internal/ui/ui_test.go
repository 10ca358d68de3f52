package ui_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/core"
	"github.com/gatehouse/gatehouse/internal/server/servertest"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/ui"
)

const adminPW = servertest.AdminPassword

func TestLoginAndSessionCookie(t *testing.T) {
	each(t, func(t *testing.T, e *servertest.Env) {
		c := newClient(t, e)
		r := must(t, http.StatusSeeOther, c.get("/tokens?intent=api"))
		if r.Location != "/login?next=%2Ftokens%3Fintent%3Dapi" {
			t.Fatalf("redirect to %q", r.Location)
		}
		must(t, 200, c.get(r.Location))
		r = must(t, http.StatusSeeOther, c.post("/login", url.Values{"username": {"admin"}, "password": {adminPW}, "next": {"/tokens?intent=api"}}))
		if r.Location != "/tokens?intent=api" {
			t.Fatalf("after login, redirect to %q", r.Location)
		}
		var set *http.Cookie
		for _, ck := range (&http.Response{Header: r.Header}).Cookies() {
			if ck.Name == ui.SessionCookie {
				set = ck
			}
		}
		if set == nil || !set.HttpOnly || set.SameSite != http.SameSiteLaxMode || set.Path != "/" || set.Secure {
			t.Fatalf("session cookie = %+v", set)
		}
		raw, err := base64.RawURLEncoding.DecodeString(set.Value)
		if err != nil || len(raw) != 32 {
			t.Fatalf("session id %q is not 256 random bits", set.Value)
		}
		// Stored only as its SHA-256.
		sum := sha256.Sum256(raw)
		row, err := e.App.Store.GetSession(t.Context(), sum[:])
		if err != nil {
			t.Fatalf("session not stored by its hash: %v", err)
		}
		if bytes.Contains(row.IDHash, raw) || row.MFAPending {
			t.Fatalf("stored session = %+v", row)
		}
		contains(t, must(t, 200, c.get("/tokens?intent=api")), "Tokens and app passwords", `<meta name="csrf-token"`)
		// A login event with the method, and last_login_at.
		evs, _ := e.App.Store.ListEvents(t.Context(), store.EventFilter{Action: "login", Limit: 5})
		if len(evs) != 1 || evs[0].ActorUsername != "admin" || evs[0].Context["method"] != "password" {
			t.Fatalf("login events = %+v", evs)
		}
		// Open redirects are refused.
		for _, next := range []string{"//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"} {
			c2 := newClient(t, e)
			c2.get("/login")
			r := c2.post("/login", url.Values{"username": {"admin"}, "password": {adminPW}, "next": {next}})
			if r.Location != "/" {
				t.Fatalf("next=%q redirected to %q", next, r.Location)
			}
		}
		// Logout deletes the session: the old cookie is worthless.
		must(t, http.StatusSeeOther, c.post("/logout", nil))
		if _, err := e.App.Store.GetSession(t.Context(), sum[:]); err == nil {
			t.Fatal("session still stored after logout")
		}
		c3 := newClient(t, e)
		u, _ := url.Parse(e.URL)
		c3.hc.Jar.SetCookies(u, []*http.Cookie{{Name: ui.SessionCookie, Value: set.Value, Path: "/"}})
		must(t, http.StatusSeeOther, c3.get("/"))
		evs, _ = e.App.Store.ListEvents(t.Context(), store.EventFilter{Action: "logout", Limit: 5})
		if len(evs) != 1 || evs[0].ActorUsername != "admin" {
			t.Fatalf("logout events = %+v", evs)
		}
	})
}

func TestLoginFailures(t *testing.T) {
	each(t, func(t *testing.T, e *servertest.Env) {
		c := newClient(t, e)
		for _, tc := range []struct{ user, pass, reason string }{
			{"admin", "wrong-password", "mismatch"},
			{"nobody", "whatever-password", "unknown"},
			{"admin", "gat_" + strings.Repeat("A", 40), "wrong_intent"},
		} {
			r := must(t, http.StatusUnauthorized, c.login(tc.user, tc.pass))
			contains(t, r, "Invalid username or password.")
			if strings.Contains(r.Body, tc.pass) {
				t.Fatal("the password is echoed in the page")
			}
		}
		// A human's own app password is not a web password either.
		app := e.Must(201, e.Admin("POST", "/api/v1/tokens", map[string]any{"intent": "app_password"})).JSON()["key"].(string)
		must(t, http.StatusUnauthorized, c.login("admin", app))
		evs, _ := e.App.Store.ListEvents(t.Context(), store.EventFilter{Action: "login_failed", Limit: 10})
		if len(evs) != 4 {
			t.Fatalf("%d login_failed events, want 4: %+v", len(evs), evs)
		}
		for _, ev := range evs {
			if ev.Context["method"] != "web" || ev.ClientIP == "" {
				t.Fatalf("event = %+v", ev)
			}
		}
		if evs[3].Context["reason"] != "mismatch" || evs[2].Context["reason"] != "unknown" || evs[1].Context["reason"] != "wrong_intent" {
			t.Fatalf("reasons: %v %v %v", evs[3].Context, evs[2].Context, evs[1].Context)
		}
		// A login post without the form's token (login CSRF) is refused.
		c2 := newClient(t, e)
		r := must(t, http.StatusForbidden, c2.post("/login", url.Values{"username": {"admin"}, "password": {adminPW}}))
		if c2.cookie(ui.SessionCookie) != nil {
			t.Fatal("a session was made without the login form's token")
		}
		contains(t, r, "The sign-in form expired")
	})
}

func TestLoginRateLimit(t *testing.T) {
	each(t, func(t *testing.T, e *servertest.Env) {
		c := newClient(t, e)
		for range 10 {
			must(t, http.StatusUnauthorized, c.login("admin", "wrong-password"))
		}
		r := must(t, http.StatusTooManyRequests, c.login("admin", adminPW))
		if r.Header.Get("Retry-After") == "" {
			t.Fatal("no Retry-After")
		}
		contains(t, r, "Too many failed attempts")
		// Not checked: the refused attempt is one rate_limited event (at
		// most one a window per account and address), not a failure.
		evs, _ := e.App.Store.ListEvents(t.Context(), store.EventFilter{Action: "login_failed", Limit: 20})
		if len(evs) != 11 || evs[0].Context["reason"] != "rate_limited" {
			t.Fatalf("%d login_failed events, want 10 and one rate_limited", len(evs))
		}
		must(t, http.StatusTooManyRequests, c.login("admin", adminPW))
		if evs, _ = e.App.Store.ListEvents(t.Context(), store.EventFilter{Action: "login_failed", Limit: 20}); len(evs) != 11 {
			t.Fatalf("a second refusal in the window wrote an event: %d", len(evs))
		}
		e.Clock.Advance(time.Minute)
		c.mustLogin("admin", adminPW)
	})
}

func TestCSRF(t *testing.T) {
	each(t, func(t *testing.T, e *servertest.Env) {
		c := signedIn(t, e, "admin", adminPW)
		token := c.csrf
		for name, tc := range map[string]struct {
			form url.Values
			mod  func(*http.Request)
		}{
			"no token":          {url.Values{"name": {"g1"}, "csrf_token": nil}, nil},
			"wrong token":       {url.Values{"name": {"g2"}, "csrf_token": {token[:len(token)-2] + "xx"}}, nil},
			"cross-site":        {url.Values{"name": {"g3"}}, func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "cross-site") }},
			"same-site":         {url.Values{"name": {"g4"}}, func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "same-site") }},
			"foreign origin":    {url.Values{"name": {"g5"}}, func(r *http.Request) { r.Header.Set("Origin", "http://evil.example") }},
			"another's session": {url.Values{"name": {"g6"}, "csrf_token": {otherFirst(token)}}, nil},
		} {
			form := tc.form
			if v, ok := form["csrf_token"]; ok && v == nil {
				form = url.Values{"name": form["name"], "csrf_token": {""}}
			}
			mods := []func(*http.Request){}
			if tc.mod != nil {
				mods = append(mods, tc.mod)
			}
			r := c.post("/groups", form, mods...)
			if r.Status != http.StatusForbidden {
				t.Fatalf("%s: status %d", name, r.Status)
			}
			contains(t, r, "Access denied")
		}
		gs, _ := e.App.Store.ListGroups(t.Context(), store.GroupFilter{Limit: 10})
		if len(gs) != 0 {
			t.Fatalf("forged posts created groups: %+v", gs)
		}
		// The token in the htmx header works, and so does a same-origin Origin.
		must(t, http.StatusSeeOther, c.post("/groups", url.Values{"name": {"ok1"}, "csrf_token": {""}}, func(r *http.Request) {
			r.Header.Set(ui.CSRFHeader, token)
		}))
		must(t, http.StatusSeeOther, c.post("/groups", url.Values{"name": {"ok2"}}, func(r *http.Request) {
			r.Header.Set("Origin", e.URL)
			r.Header.Set("Sec-Fetch-Site", "same-origin")
		}))
		// Another user's token does not fit this session.
		newHuman(t, e, "bob", "bob-password-1")
		b := newClient(t, e)
		b.mustLogin("bob", "bob-password-1")
		must(t, http.StatusForbidden, c.post("/groups", url.Values{"name": {"g7"}, "csrf_token": {b.csrf}}))
	})
}

func TestSessionExpiry(t *testing.T) {
	each(t, func(t *testing.T, e *servertest.Env) {
		c := signedIn(t, e, "admin", adminPW)
		// Idle timeout: 12 hours without a request.
		e.Clock.Advance(core.SessionIdleTimeout - time.Minute)
		must(t, 200, c.get("/"))
		e.Clock.Advance(core.SessionIdleTimeout)
		r := must(t, http.StatusSeeOther, c.get("/groups"))
		if r.Location != "/login?ended=expired&next=%2Fgroups" {
			t.Fatalf("expired session sent to %q", r.Location)
		}
		contains(t, c.get(r.Location), "Your session has expired")

		// Absolute lifetime: busy all week, still over after 7 days.
		c.mustLogin("admin", adminPW)
		start := e.Clock.Now()
		for e.Clock.Now().Sub(start) < core.SessionLifetime-11*time.Hour {
			e.Clock.Advance(11 * time.Hour)
			must(t, 200, c.get("/"))
		}
		e.Clock.Set(start.Add(core.SessionLifetime))
		r = must(t, http.StatusSeeOther, c.get("/"))
		if !strings.HasPrefix(r.Location, "/login?ended=expired") {
			t.Fatalf("session past its lifetime sent to %q", r.Location)
		}
		// An htmx request is redirected with HX-Redirect, not a 303.
		c.mustLogin("admin", adminPW)
		e.Clock.Advance(core.SessionLifetime)
		req, _ := http.NewRequest("GET", e.URL+"/tokens?intent=api", nil)
		req.Header.Set("HX-Request", "true")
		req.Header.Set("HX-Current-URL", e.URL+"/tokens")
		r = c.do(req)
		if r.Status != 200 || r.Header.Get("HX-Redirect") != "/login?ended=expired&next=%2Ftokens" {
			t.Fatalf("htmx request: %d %v", r.Status, r.Header)
		}
		// The cleanup job removes the rows of ended sessions.
		if err := e.App.Core.Cleanup(t.Context()); err != nil {
			t.Fatal(err)
		}
		c2 := newClient(t, e)
		c2.mustLogin("admin", adminPW)
		n, _ := e.App.Store.CountObjects(t.Context(), e.Clock.Now())
		if n.Sessions != 1 {
			t.Fatalf("%d live sessions after cleanup, want 1", n.Sessions)
		}
	})
}

func TestDisabledUserAndPasswordChangeEndSessions(t *testing.T) {
	each(t, func(t *testing.T, e *servertest.Env) {
		newHuman(t, e, "bob", "bob-password-1")
		a, b := newClient(t, e), newClient(t, e)
		a.mustLogin("bob", "bob-password-1")
		b.mustLogin("bob", "bob-password-1")

		// An administrator sets bob's password: every session ends.
		e.Must(204, e.Admin("PUT", "/api/v1/users/bob/password", map[string]any{"password": "bob-password-2"}))
		for _, c := range []*client{a, b} {
			r := must(t, http.StatusSeeOther, c.get("/profile"))
			if !strings.HasPrefix(r.Location, "/login") {
				t.Fatalf("after a password change: %q", r.Location)
			}
		}

		// Changing one's own password keeps this browser and ends the others.
		a.mustLogin("bob", "bob-password-2")
		b.mustLogin("bob", "bob-password-2")
		a.get("/profile")
		r := must(t, http.StatusBadRequest, a.post("/profile/password", url.Values{"current_password": {"wrong-password"},
			"new_password": {"bob-password-3"}, "confirm_password": {"bob-password-3"}}))
		contains(t, r, "is not your current password")
		r = must(t, http.StatusBadRequest, a.post("/profile/password", url.Values{"current_password": {"bob-password-2"},
			"new_password": {"bob-password-3"}, "confirm_password": {"bob-password-4"}}))
		contains(t, r, "does not match")
		must(t, http.StatusSeeOther, a.post("/profile/password", url.Values{"current_password": {"bob-password-2"},
			"new_password": {"bob-password-3"}, "confirm_password": {"bob-password-3"}}))
		contains(t, must(t, 200, a.get("/profile")), "Password changed")
		must(t, http.StatusSeeOther, b.get("/profile"))
		// The old password no longer signs in; the new one does.
		must(t, http.StatusUnauthorized, newClient(t, e).login("bob", "bob-password-2"))

		// Disabling ends the sessions for good, even once re-enabled.
		b.mustLogin("bob", "bob-password-3")
		e.Must(200, e.Admin("PATCH", "/api/v1/users/bob", map[string]any{"is_active": false}))
		must(t, http.StatusSeeOther, a.get("/"))
		e.Must(200, e.Admin("PATCH", "/api/v1/users/bob", map[string]any{"is_active": true}))
		must(t, http.StatusSeeOther, b.get("/"))

		// Deleting the user: the session is gone with it.
		b.mustLogin("bob", "bob-password-3")
		e.Must(204, e.Admin("DELETE", "/api/v1/users/bob", nil))
		must(t, http.StatusSeeOther, b.get("/"))
	})
}

func TestServiceAccountsTurnedAway(t *testing.T) {
	each(t, func(t *testing.T, e *servertest.Env) {
		created := e.Must(201, e.Admin("POST", "/api/v1/service-accounts", map[string]any{"username": "ldap-bot", "token_intent": "app_password"})).JSON()
		appPW := created["token"].(map[string]any)["key"].(string)
		api := e.Must(201, e.Admin("POST", "/api/v1/tokens", map[string]any{"user": "ldap-bot", "intent": "api"})).JSON()["key"].(string)
		for _, key := range []string{appPW, api} {
			c := newClient(t, e)
			r := must(t, http.StatusForbidden, c.login("ldap-bot", key))
			contains(t, r, "Service accounts do not use the web interface")
			if c.cookie(ui.SessionCookie) != nil {
				t.Fatal("a service account got a session")
			}
		}
		// A wrong key, or another account's, is a plain failure.
		must(t, http.StatusUnauthorized, newClient(t, e).login("ldap-bot", "gap_"+strings.Repeat("A", 40)))
		must(t, http.StatusUnauthorized, newClient(t, e).login("ldap-bot", servertest.AdminToken))
		evs, _ := e.App.Store.ListEvents(t.Context(), store.EventFilter{Action: "login_failed", Actor: "ldap-bot", Limit: 10})
		if len(evs) < 2 || evs[len(evs)-1].Context["reason"] != "service_account" {
			t.Fatalf("events = %+v", evs)
		}
		// With a default application: sent there.
		e.Must(201, e.Admin("POST", "/api/v1/applications", map[string]any{"slug": "wiki", "name": "Wiki", "url": "https://wiki.example.org/"}))
		e.Must(200, e.Admin("PATCH", "/api/v1/brand", map[string]any{"default_application": "wiki"}))
		r := must(t, http.StatusSeeOther, newClient(t, e).login("ldap-bot", appPW))
		if r.Location != "https://wiki.example.org/" {
			t.Fatalf("service account sent to %q", r.Location)
		}
		// Service accounts cannot enrol a second factor, whatever door.
		p, err := e.App.Core.Authenticator().PrincipalByName(t.Context(), "ldap-bot")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.App.Core.Sessions.BeginTOTP(t.Context(), core.Actor{P: p}); err == nil {
			t.Fatal("a service account enrolled a second factor")
		}
		if _, err := e.App.Core.Sessions.StartSession(t.Context(), p, "127.0.0.1", "", core.SignedIn); err == nil {
			t.Fatal("a service account got a session from the core")
		}
	})
}

func TestPagesFollowPermissions(t *testing.T) {
	each(t, func(t *testing.T, e *servertest.Env) {
		newHuman(t, e, "carol", "carol-password-1")
		c := signedIn(t, e, "carol", "carol-password-1")
		home := must(t, 200, c.get("/"))
		for _, hidden := range []string{`href="/service-accounts"`, `href="/groups"`, `href="/roles"`, `href="/events"`, `href="/settings"`} {
			if strings.Contains(home.Body, hidden) {
				t.Fatalf("nav shows %s to a user without its permission", hidden)
			}
		}
		contains(t, home, `href="/tokens"`, `href="/profile"`)
		for _, path := range []string{"/service-accounts", "/service-accounts/new", "/groups", "/roles", "/roles/new", "/events", "/settings", "/roles/admin"} {
			contains(t, must(t, http.StatusForbidden, c.get(path)), "Access denied")
		}
		for path, form := range map[string]url.Values{
			"/groups":           {"name": {"sneaky"}},
			"/service-accounts": {"username": {"sneaky"}, "token_intent": {"none"}},
			"/roles":            {"name": {"sneaky"}},
			"/settings":         {"title": {"Mine"}},
		} {
			must(t, http.StatusForbidden, c.post(path, form))
		}
		evs, _ := e.App.Store.ListEvents(t.Context(), store.EventFilter{Action: "authz_denied", Actor: "carol", Limit: 50})
		if len(evs) < 4 {
			t.Fatalf("%d authz_denied events", len(evs))
		}
		// Given a role, the same pages open.
		newRole(t, e, "auditor", "events.read", "users.read")
		e.Must(204, e.Admin("PUT", "/api/v1/roles/auditor/assignments/users/carol", nil))
		home = must(t, 200, c.get("/"))
		contains(t, home, `href="/events"`, `href="/service-accounts"`)
		must(t, 200, c.get("/events"))
		must(t, 200, c.get("/service-accounts"))
		// users.read shows the list, but not the create form.
		contains(t, must(t, http.StatusForbidden, c.get("/service-accounts/new")), "Access denied")
	})
}

func TestNotFoundAndBadInput(t *testing.T) {
	each(t, func(t *testing.T, e *servertest.Env) {
		c := signedIn(t, e, "admin", adminPW)
		for _, path := range []string{"/service-accounts/nope", "/tokens/nope", "/groups/nope", "/roles/nope", "/no/such/page", "/service-accounts/nope/delete"} {
			contains(t, must(t, http.StatusNotFound, c.get(path)), "Not found")
		}
		// A path of another method keeps the mux's 405, catch-all or not.
		r := must(t, http.StatusMethodNotAllowed, c.post("/healthz", nil))
		if r.Header.Get("Allow") != "GET" {
			t.Fatalf("Allow = %q", r.Header.Get("Allow"))
		}
		req, _ := http.NewRequest("PUT", e.URL+"/service-accounts", nil)
		if r := c.do(req); r.Status != http.StatusMethodNotAllowed || r.Header.Get("Allow") != "GET, POST" {
			t.Fatalf("PUT /service-accounts: %d, Allow %q", r.Status, r.Header.Get("Allow"))
		}
		// Over-long and malformed fields: every problem listed, nothing made.
		r = must(t, http.StatusBadRequest, c.post("/service-accounts", url.Values{"username": {"Bad Name<script>"},
			"description": {strings.Repeat("x", 1025)}, "token_intent": {"api"}, "expiry": {"date"}, "expires_on": {"yesterday"}}))
		contains(t, r, "must be 1-63 characters", "must be at most 1024 characters", "must be an RFC 3339 time",
			"Bad Name&lt;script&gt;")
		if strings.Contains(r.Body, "Bad Name<script>") {
			t.Fatal("input echoed unescaped")
		}
		r = must(t, http.StatusBadRequest, c.post("/service-accounts", url.Values{"username": {"ci"}, "groups": {"missing-group"}, "token_intent": {"none"}}))
		contains(t, r, "group &#34;missing-group&#34; does not exist")
		if _, err := e.App.Store.GetUser(t.Context(), "ci"); err == nil {
			t.Fatal("a half-made service account exists")
		}
		// A form body over the limit.
		contains(t, must(t, http.StatusRequestEntityTooLarge, c.post("/groups", url.Values{"name": {"big"}, "description": {strings.Repeat("x", 70<<10)}})), "nothing was changed")
		if _, err := e.App.Store.GetGroup(t.Context(), "big"); err == nil {
			t.Fatal("an over-long form made a group")
		}

		// Double submission: the second is refused with a clear message.
		form := url.Values{"username": {"ci"}, "token_intent": {"api"}, "expiry": {"720h"}}
		must(t, http.StatusCreated, c.post("/service-accounts", form))
		contains(t, must(t, http.StatusConflict, c.post("/service-accounts", form)), "already exists", "submitted this form twice")
		page := must(t, 200, c.get("/tokens/new?user=ci"))
		nonce := regexp.MustCompile(`name="nonce" value="([a-z0-9]{8})"`).FindStringSubmatch(page.Body)
		if nonce == nil {
			t.Fatal("no nonce in the token form")
		}
		tf := url.Values{"user": {"ci"}, "intent": {"api"}, "expiry": {"720h"}, "nonce": {nonce[1]}}
		must(t, http.StatusCreated, c.post("/tokens", tf))
		contains(t, must(t, http.StatusConflict, c.post("/tokens", tf)), "This form was already submitted")
		ts, _ := e.App.Store.ListTokens(t.Context(), store.TokenFilter{Limit: 10, Search: "ci-"})
		if len(ts) != 2 { // the account's first token and one from the form
			t.Fatalf("%d tokens of ci, want 2", len(ts))
		}
		// Rotating twice from the same page: the second is refused.
		id := "ci-" + nonce[1]
		page = must(t, 200, c.get("/tokens/"+id))
		marker := regexp.MustCompile(`name="key_marker" value="([0-9a-f]+)"`).FindStringSubmatch(page.Body)[1]
		rot := url.Values{"grace": {"1h"}, "key_marker": {marker}}
		contains(t, must(t, 200, c.post("/tokens/"+id+"/rotate", rot)), "you will not see this again", "The old key keeps working for 1h0m0s")
		contains(t, must(t, http.StatusConflict, c.post("/tokens/"+id+"/rotate", rot)), "Nothing was changed")
		// Revoking twice: a clear note, not an error page.
		must(t, http.StatusSeeOther, c.post("/tokens/"+id+"/revoke", nil))
		r = must(t, http.StatusSeeOther, c.post("/tokens/"+id+"/revoke", nil))
		contains(t, c.get(r.Location), "already revoked")
		// Deleting needs the typed name.
		contains(t, must(t, http.StatusBadRequest, c.post("/service-accounts/ci/delete", url.Values{"confirm": {"c"}})), "Type the name exactly")
		must(t, http.StatusSeeOther, c.post("/service-accounts/ci/delete", url.Values{"confirm": {"ci"}}))
		must(t, http.StatusNotFound, c.post("/service-accounts/ci/delete", url.Values{"confirm": {"ci"}}))
	})
}

func TestHTMLInNamesIsText(t *testing.T) {
	each(t, func(t *testing.T, e *servertest.Env) {
		evil := `<script>alert(1)</script><img src=x onerror=alert(2)>"'`
		e.Must(201, e.Admin("POST", "/api/v1/service-accounts", map[string]any{"username": "bot", "description": evil, "token_intent": "api"}))
		e.Must(201, e.Admin("POST", "/api/v1/groups", map[string]any{"name": "grp", "description": evil}))
		e.Must(201, e.Admin("POST", "/api/v1/roles", map[string]any{"name": "rl", "description": evil}))
		e.Must(200, e.Admin("PATCH", "/api/v1/brand", map[string]any{"title": evil}))
		c := signedIn(t, e, "admin", adminPW)
		for _, path := range []string{"/", "/service-accounts", "/service-accounts/bot", "/groups", "/groups/grp", "/roles", "/roles/rl", "/tokens", "/events", "/settings"} {
			r := c.get(path)
			if r.Status != 200 {
				t.Fatalf("%s: status %d\n%s", path, r.Status, e.Logs.String())
			}
			if strings.Contains(r.Body, "<script>alert") || strings.Contains(r.Body, "<img src=x") {
				t.Fatalf("%s renders markup from data:\n%s", path, r.Body)
			}
			contains(t, r, "&lt;script&gt;alert(1)&lt;/script&gt;")
		}
	})
}

func TestStaticAssets(t *testing.T) {
	each(t, func(t *testing.T, e *servertest.Env) {
		c := newClient(t, e)
		page := must(t, 200, c.get("/login"))
		if csp := page.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Fatalf("CSP = %q", csp)
		}
		urls := regexp.MustCompile(`(?:href|src)="(/static/[^"]+)"`).FindAllStringSubmatch(page.Body, -1)
		if len(urls) != 4 {
			t.Fatalf("static URLs = %v", urls)
		}
		for _, m := range urls {
			if !regexp.MustCompile(`\.[0-9a-f]{16}\.(css|js|svg)$`).MatchString(m[1]) {
				t.Fatalf("%s has no content hash", m[1])
			}
			r := must(t, 200, c.get(m[1]))
			if r.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" || r.Header.Get("ETag") == "" || len(r.Body) == 0 {
				t.Fatalf("%s: %v", m[1], r.Header)
			}
		}
		if strings.Contains(page.Body, "<script>") || strings.Contains(page.Body, "style=") || strings.Contains(page.Body, "<style") {
			t.Fatal("inline script or style in a page")
		}
		must(t, 404, c.get("/static/app.0000000000000000.css"))
		must(t, 404, c.get("/static/app.css")) // only hashed names exist
	})
}

// codeAt is the TOTP code of a base32 secret shown on the page.
func codeAt(t testing.TB, secretText string, at time.Time) string {
	t.Helper()
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ReplaceAll(secretText, " ", ""))
	if err != nil {
		t.Fatalf("secret %q: %v", secretText, err)
	}
	return auth.TOTPCode(secret, auth.TOTPStep(at))
}

var secretOnPage = regexp.MustCompile(`<code id="totp-secret">([A-Z2-7 ]+)</code>`)

func TestTwoFactor(t *testing.T) {
	each(t, func(t *testing.T, e *servertest.Env) {
		newHuman(t, e, "dora", "dora-password-1")
		c := signedIn(t, e, "dora", "dora-password-1")
		must(t, 200, c.get("/profile"))
		page := must(t, 200, c.post("/profile/two-factor", nil))
		m := secretOnPage.FindStringSubmatch(page.Body)
		if m == nil {
			t.Fatalf("no secret on the page:\n%s", page.Body)
		}
		contains(t, page, "otpauth://totp/gatehouse:dora?", "data:image/png;base64,")
		// Stored sealed, never in plain text.
		u, _ := e.App.Store.GetUser(t.Context(), "dora")
		row, err := e.App.Store.GetTOTP(t.Context(), u.UID)
		if err != nil {
			t.Fatal(err)
		}
		plain, _ := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ReplaceAll(m[1], " ", ""))
		if bytes.Contains(row.Secret, plain) || row.Confirmed {
			t.Fatal("TOTP secret stored in plain text, or confirmed too early")
		}
		// Sign-in does not ask for a code before enrolment is confirmed.
		must(t, http.StatusSeeOther, newClient(t, e).login("dora", "dora-password-1"))
		contains(t, must(t, http.StatusBadRequest, c.post("/profile/two-factor/confirm", url.Values{"code": {"000000"}})), "is not the current code")
		codes := must(t, 200, c.post("/profile/two-factor/confirm", url.Values{"code": {codeAt(t, m[1], e.Clock.Now())}}))
		contains(t, codes, "You will not see them again", "save these codes")
		recovery := regexp.MustCompile(`<li>([a-z2-9]{5}-[a-z2-9]{5})</li>`).FindAllStringSubmatch(codes.Body, -1)
		if len(recovery) != 10 {
			t.Fatalf("%d recovery codes", len(recovery))
		}

		// With a second factor, the password alone no longer opens the API.
		e.Must(401, e.Do("GET", "/api/v1/me", servertest.Basic("dora", "dora-password-1"), nil))
		evs, _ := e.App.Store.ListEvents(t.Context(), store.EventFilter{Action: "login_failed", Actor: "dora", Limit: 1})
		if len(evs) != 1 || evs[0].Context["reason"] != "second_factor_required" {
			t.Fatalf("login_failed = %+v", evs)
		}

		// Sign in: password, then the code.
		d := newClient(t, e)
		r := must(t, http.StatusSeeOther, d.login("dora", "dora-password-1"))
		if r.Location != "/login/code?next=%2F" {
			t.Fatalf("after the password: %q", r.Location)
		}
		must(t, http.StatusSeeOther, d.get("/")) // nothing opens before the code
		must(t, 200, d.get("/login/code"))
		must(t, http.StatusUnauthorized, d.post("/login/code", url.Values{"code": {"123456"}}))
		// The code used to confirm enrolment is spent: a replay is refused.
		contains(t, must(t, http.StatusUnauthorized, d.post("/login/code", url.Values{"code": {codeAt(t, m[1], e.Clock.Now())}})), "already used")
		e.Clock.Advance(30 * time.Second)
		code := codeAt(t, m[1], e.Clock.Now())
		r = must(t, http.StatusSeeOther, d.post("/login/code", url.Values{"code": {code[:3] + " " + code[3:]}, "next": {"/profile"}}))
		if r.Location != "/profile" {
			t.Fatalf("after the code: %q", r.Location)
		}
		must(t, 200, d.get("/profile"))
		evs, _ = e.App.Store.ListEvents(t.Context(), store.EventFilter{Action: "login", Actor: "dora", Limit: 1})
		if len(evs) != 1 || evs[0].Context["method"] != "password+totp" {
			t.Fatalf("login event = %+v", evs)
		}
		// The same code again, in another sign-in: replay refused.
		x := newClient(t, e)
		x.login("dora", "dora-password-1")
		x.get("/login/code")
		must(t, http.StatusUnauthorized, x.post("/login/code", url.Values{"code": {code}}))
		// A recovery code works once.
		must(t, http.StatusSeeOther, x.post("/login/code", url.Values{"code": {strings.ToUpper(recovery[0][1])}}))
		y := newClient(t, e)
		y.login("dora", "dora-password-1")
		y.get("/login/code")
		must(t, http.StatusUnauthorized, y.post("/login/code", url.Values{"code": {recovery[0][1]}}))
		// Five wrong codes end the pending session.
		for range 3 {
			must(t, http.StatusUnauthorized, y.post("/login/code", url.Values{"code": {"000000"}}))
		}
		r = must(t, http.StatusSeeOther, y.post("/login/code", url.Values{"code": {"000000"}}))
		if !strings.HasPrefix(r.Location, "/login?ended=mfa_failed") {
			t.Fatalf("after 5 wrong codes: %q", r.Location)
		}
		// Turning it off needs the password.
		d.get("/profile")
		contains(t, must(t, http.StatusBadRequest, d.post("/profile/two-factor/disable", url.Values{"password": {"nope-nope"}})), "is not your current password")
		// An administrator resets the factor of someone who lost device and
		// codes: the password alone signs in again.
		e.Must(204, e.Admin("DELETE", "/api/v1/users/dora/totp", nil))
		if r := must(t, http.StatusSeeOther, newClient(t, e).login("dora", "dora-password-1")); r.Location != "/" {
			t.Fatalf("after a reset, sign-in went to %q", r.Location)
		}
		e.Must(404, e.Admin("DELETE", "/api/v1/users/dora/totp", nil))
		// Enrol again, then turn it off oneself.
		page = must(t, 200, d.post("/profile/two-factor", nil))
		m = secretOnPage.FindStringSubmatch(page.Body)
		e.Clock.Advance(30 * time.Second)
		must(t, 200, d.post("/profile/two-factor/confirm", url.Values{"code": {codeAt(t, m[1], e.Clock.Now())}}))
		if r := must(t, http.StatusSeeOther, newClient(t, e).login("dora", "dora-password-1")); !strings.HasPrefix(r.Location, "/login/code") {
			t.Fatalf("after enrolling again, sign-in went to %q", r.Location)
		}
		must(t, http.StatusSeeOther, d.post("/profile/two-factor/disable", url.Values{"password": {"dora-password-1"}}))
		if r := must(t, http.StatusSeeOther, newClient(t, e).login("dora", "dora-password-1")); r.Location != "/" {
			t.Fatalf("after turning it off, sign-in went to %q", r.Location)
		}
		e.Must(200, e.Do("GET", "/api/v1/me", servertest.Basic("dora", "dora-password-1"), nil))
		evs, _ = e.App.Store.ListEvents(t.Context(), store.EventFilter{Action: "totp_disabled", Target: "dora", Limit: 5})
		if len(evs) != 2 || evs[1].ActorUsername != "admin" || evs[0].ActorUsername != "dora" {
			t.Fatalf("totp_disabled events = %+v", evs)
		}
	})
}

// otherFirst changes a token's first character: a token that already
// began with the replacement would stay valid (a 1-in-64 flake).
func otherFirst(token string) string {
	if token[0] == 'A' {
		return "B" + token[1:]
	}
	return "A" + token[1:]
}
