package ui_test

import (
	"net/http"
	"net/url"
	"regexp"
	"testing"

	"github.com/gatehouse/gatehouse/internal/server/servertest"
)

func appForm(slug, name, link string) url.Values {
	return url.Values{"slug": {slug}, "name": {name}, "url": {link}, "description": {"Dashboards"}, "policy_engine_mode": {"any"}}
}

// forwardAuth asks forward-auth whether user, with a new app password,
// may enter the application.
func forwardAuth(t *testing.T, e *servertest.Env, slug, user string) int {
	t.Helper()
	key := e.Must(201, e.Admin("POST", "/api/v1/tokens", map[string]any{"user": user, "intent": "app_password"})).JSON()["key"].(string)
	return e.Do("GET", "/outpost/forward-auth/"+slug, servertest.Basic(user, key), nil).Status
}

func TestApplicationPages(t *testing.T) {
	each(t, func(t *testing.T, e *servertest.Env) {
		newHuman(t, e, "alice", "alice-password-1")
		newHuman(t, e, "bob", "bob-password-1")
		newHuman(t, e, "carol", "carol-password-1")
		newGroup(t, e, "ops", "alice")
		c := signedIn(t, e, "admin", adminPW)
		contains(t, must(t, 200, c.get("/applications")), "No applications yet", "New application")

		r := must(t, 400, c.post("/applications", appForm("grafana", "", "ftp://grafana.example")))
		contains(t, r, `id="err-name"`, `id="err-url"`, `value="grafana"`, `value="ftp://grafana.example"`, `value="Dashboards"`)
		e.Must(404, e.Admin("GET", "/api/v1/applications/grafana", nil))
		r = must(t, 303, c.post("/applications", appForm("grafana", "Grafana", "https://grafana.example/")))
		if r.Location != "/applications/grafana" {
			t.Fatalf("created application: redirect to %q", r.Location)
		}
		contains(t, must(t, 200, c.get("/applications/grafana")), "No bindings: every active account may enter", `href="/applications/grafana/entrants"`)
		contains(t, must(t, 200, c.get("/applications/grafana/entrants")), "every active account may enter", `href="/people/carol"`)

		// Bindings: an unknown group is the name field's error, as typed.
		r = must(t, 400, c.post("/applications/grafana/bindings", url.Values{"kind": {"groups"}, "subject": {"opz"}, "order": {"10"}}))
		contains(t, r, `id="err-subject"`, `value="opz"`, `value="10"`)
		contains(t, must(t, 400, c.post("/applications/grafana/bindings", url.Values{"kind": {"users"}, "subject": {"bob"}, "order": {"first"}})), `id="err-order"`, `value="first"`)
		must(t, 303, c.post("/applications/grafana/bindings", url.Values{"kind": {"groups"}, "subject": {"ops"}, "order": {"10"}}))
		must(t, 303, c.post("/applications/grafana/bindings", url.Values{"kind": {"users"}, "subject": {"bob"}, "order": {"20"}}))
		app := e.Must(200, e.Admin("GET", "/api/v1/applications/grafana", nil)).JSON()
		if bs, _ := app["bindings"].([]any); len(bs) != 2 {
			t.Fatalf("bindings after the form: %v", app)
		}
		// Who can enter: what forward-auth decides.
		r = must(t, 200, c.get("/applications/grafana/entrants"))
		contains(t, r, `href="/people/alice"`, "group ops", `href="/people/bob"`, "user bob")
		lacks(t, r, `href="/people/carol"`, "every active account")
		for user, want := range map[string]int{"alice": 200, "bob": 200, "carol": 403} {
			if got := forwardAuth(t, e, "grafana", user); got != want {
				t.Fatalf("forward-auth for %s: %d, want %d", user, got, want)
			}
		}
		must(t, 303, c.post("/applications/grafana/bindings/users/bob/remove", nil))
		lacks(t, must(t, 200, c.get("/applications/grafana/entrants")), `href="/people/bob"`)
		if got := forwardAuth(t, e, "grafana", "bob"); got != 403 {
			t.Fatalf("forward-auth for bob after the binding went: %d", got)
		}

		// Settings keep what was typed.
		v := appForm("", "Grafana 11", "grafana.example")
		v.Set("policy_engine_mode", "all")
		r = must(t, 400, c.post("/applications/grafana", v))
		contains(t, r, `id="err-url"`, `value="Grafana 11"`, `value="grafana.example"`)
		if !regexp.MustCompile(`value="all" checked`).MatchString(r.Body) {
			t.Fatal("the refused form lost the mode")
		}
		v.Set("url", "https://grafana.example/")
		must(t, 303, c.post("/applications/grafana", v))
		if got := e.Must(200, e.Admin("GET", "/api/v1/applications/grafana", nil)).JSON(); got["name"] != "Grafana 11" || got["policy_engine_mode"] != "all" {
			t.Fatalf("after the settings form: %v", got)
		}

		contains(t, must(t, 400, c.post("/applications/grafana/delete", url.Values{"confirm": {"graf"}})), `id="err-confirm"`)
		must(t, 303, c.post("/applications/grafana/delete", url.Values{"confirm": {"grafana"}}))
		must(t, 404, c.get("/applications/grafana"))
	})
}

func TestApplicationPagesPermissions(t *testing.T) {
	each(t, func(t *testing.T, e *servertest.Env) {
		for _, slug := range []string{"wiki", "payroll"} {
			e.Must(201, e.Admin("POST", "/api/v1/applications", map[string]any{"slug": slug, "name": slug}))
		}
		newGroup(t, e, "ops")
		e.Must(201, e.Admin("POST", "/api/v1/roles", map[string]any{"name": "wiki-owner",
			"permissions": []string{"applications.read@application/wiki", "applications.write@application/wiki", "groups.read"}}))
		newHuman(t, e, "owner", "owner-password-1", "wiki-owner")

		c := signedIn(t, e, "owner", "owner-password-1")
		contains(t, must(t, 200, c.get("/")), `href="/applications"`)
		r := must(t, 200, c.get("/applications"))
		contains(t, r, `href="/applications/wiki"`)
		lacks(t, r, `href="/applications/payroll"`, "New application")
		// Its own application: bindings, but no deletion and no list of accounts (users.read).
		r = must(t, 200, c.get("/applications/wiki"))
		contains(t, r, "Add a binding", "Save application")
		lacks(t, r, "/delete", "/entrants")
		contains(t, must(t, 403, c.get("/applications/wiki/entrants")), "users.read")
		must(t, 303, c.post("/applications/wiki/bindings", url.Values{"kind": {"groups"}, "subject": {"ops"}}))
		must(t, 403, c.post("/applications/wiki/bindings", url.Values{"kind": {"users"}, "subject": {"admin"}}))
		must(t, 403, c.get("/applications/payroll"))
		must(t, 403, c.post("/applications/payroll/bindings", url.Values{"kind": {"groups"}, "subject": {"ops"}}))
		must(t, 403, c.post("/applications", appForm("mine", "Mine", "")))
		must(t, 403, c.post("/applications/wiki/delete", url.Values{"confirm": {"wiki"}}))
		must(t, 403, c.post("/applications/wiki/bindings/groups/ops/remove", url.Values{"csrf_token": {""}}))
		if bs, _ := e.Must(200, e.Admin("GET", "/api/v1/applications/payroll", nil)).JSON()["bindings"].([]any); len(bs) != 0 {
			t.Fatalf("payroll was bound: %v", bs)
		}
		if bs, _ := e.Must(200, e.Admin("GET", "/api/v1/applications/wiki", nil)).JSON()["bindings"].([]any); len(bs) != 1 {
			t.Fatalf("wiki's bindings: %v", bs)
		}
		e.Must(200, e.Admin("GET", "/api/v1/applications/wiki", nil))
		newHuman(t, e, "nobody", "nobody-password-1")
		n := newClient(t, e)
		n.mustLogin("nobody", "nobody-password-1")
		must(t, http.StatusForbidden, n.get("/applications"))
	})
}
