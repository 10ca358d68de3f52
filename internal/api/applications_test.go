package api_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/server/servertest"
)

// app creates an application and returns the answer.
func newApp(e *env, body map[string]any) map[string]any {
	e.T.Helper()
	return e.Must(201, e.Admin("POST", "/api/v1/applications", body)).JSON()
}

// bindingNames renders an application's bindings as "order:kind/name", with
// "!" before negated ones.
func bindingNames(app map[string]any) []string {
	out := []string{}
	for _, b := range app["bindings"].([]any) {
		m := b.(map[string]any)
		neg := ""
		if m["negate"] == true {
			neg = "!"
		}
		out = append(out, fmt.Sprintf("%v:%s%s/%s", m["order"], neg, m["kind"], m["name"]))
	}
	return out
}

// events returns the events of an action about a target, newest first.
func events(e *env, action, target string) []map[string]any {
	e.T.Helper()
	q := url.Values{"action": {action}, "target": {target}}
	var page struct {
		Items []map[string]any `json:"items"`
	}
	e.Must(200, e.Admin("GET", "/api/v1/events?"+q.Encode(), nil)).Decode(e.T, &page)
	return page.Items
}

func TestApplicationsCRUD(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		created := newApp(e, map[string]any{"slug": "grafana", "name": "Grafana", "url": "https://grafana.example.org/d",
			"description": "Dashboards"})
		want := map[string]any{"uid": created["uid"], "slug": "grafana", "name": "Grafana", "url": "https://grafana.example.org/d",
			"description": "Dashboards", "policy_engine_mode": "any", "bindings": []any{}, "created_at": "2030-01-01T12:00:00Z"}
		if !reflect.DeepEqual(created, want) {
			t.Fatalf("created = %v\nwant %v", created, want)
		}
		if got := e.Must(200, e.Admin("GET", "/api/v1/applications/grafana", nil)).JSON(); !reflect.DeepEqual(got, want) {
			t.Fatalf("get = %v", got)
		}
		newApp(e, map[string]any{"slug": "wiki", "name": "Wiki", "policy_engine_mode": "all"})
		newApp(e, map[string]any{"slug": "git", "name": "Forge", "description": "source code"})

		// List: by slug, paginated, searchable.
		list := e.Must(200, e.Admin("GET", "/api/v1/applications?page_size=2", nil)).JSON()
		items := list["items"].([]any)
		if len(items) != 2 || items[0].(map[string]any)["slug"] != "git" || items[1].(map[string]any)["slug"] != "grafana" || list["next_page_token"] == "" {
			t.Fatalf("first page = %v", list)
		}
		list = e.Must(200, e.Admin("GET", "/api/v1/applications?page_size=2&page_token="+list["next_page_token"].(string), nil)).JSON()
		if items := list["items"].([]any); len(items) != 1 || items[0].(map[string]any)["slug"] != "wiki" || list["next_page_token"] != "" {
			t.Fatalf("second page = %v", list)
		}
		list = e.Must(200, e.Admin("GET", "/api/v1/applications?search=SOURCE", nil)).JSON()
		if items := list["items"].([]any); len(items) != 1 || items[0].(map[string]any)["slug"] != "git" {
			t.Fatalf("search = %v", list)
		}

		// PATCH changes what is given, and records which fields.
		got := e.Must(200, e.Admin("PATCH", "/api/v1/applications/grafana", map[string]any{
			"slug": "grafana", "name": "Grafana 11", "policy_engine_mode": "all", "url": ""})).JSON()
		if got["name"] != "Grafana 11" || got["policy_engine_mode"] != "all" || got["url"] != "" || got["description"] != "Dashboards" {
			t.Fatalf("patched = %v", got)
		}
		ev := events(e, "model_updated", "grafana")
		if len(ev) != 1 || fmt.Sprint(ev[0]["context"].(map[string]any)["fields"]) != "[name url policy_engine_mode]" ||
			ev[0]["target"].(map[string]any)["kind"] != "application" {
			t.Fatalf("update events = %v", ev)
		}
		// A PATCH that changes nothing records nothing.
		e.Must(200, e.Admin("PATCH", "/api/v1/applications/grafana", map[string]any{"name": "Grafana 11"}))
		if ev := events(e, "model_updated", "grafana"); len(ev) != 1 {
			t.Fatalf("no-op patch recorded: %v", ev)
		}
		e.Must(404, e.Admin("PATCH", "/api/v1/applications/nope", map[string]any{"name": "x"}))

		// DELETE.
		e.Must(204, e.Admin("DELETE", "/api/v1/applications/git", nil))
		e.Must(404, e.Admin("GET", "/api/v1/applications/git", nil))
		e.Must(404, e.Admin("DELETE", "/api/v1/applications/git", nil))
		if ev := events(e, "model_created", "git"); len(ev) != 1 || ev[0]["actor"].(map[string]any)["username"] != "admin" {
			t.Fatalf("create events = %v", ev)
		}
		if ev := events(e, "model_deleted", "git"); len(ev) != 1 {
			t.Fatalf("delete events = %v", ev)
		}
	})
}

func TestApplicationBadInputChangesNothing(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		newApp(e, map[string]any{"slug": "wiki", "name": "Wiki", "url": "https://wiki.example.org/"})
		newSA(e, "bot")
		long := strings.Repeat("x", 257)
		cases := []struct {
			name, method, path string
			body               any
			status             int
			fields             []string
		}{
			{"missing slug and name", "POST", "/api/v1/applications", map[string]any{"url": "https://x.example/"}, 400, []string{"name", "slug"}},
			{"bad slug", "POST", "/api/v1/applications", map[string]any{"slug": "Bad Slug", "name": "x"}, 400, []string{"slug"}},
			{"every bad field at once", "POST", "/api/v1/applications", map[string]any{"slug": "-x", "name": long, "url": "ftp://x.example/",
				"description": strings.Repeat("d", 1025), "policy_engine_mode": "some"}, 400, []string{"description", "name", "policy_engine_mode", "slug", "url"}},
			{"empty name", "POST", "/api/v1/applications", map[string]any{"slug": "a1", "name": ""}, 400, []string{"name"}},
			{"relative url", "POST", "/api/v1/applications", map[string]any{"slug": "a2", "name": "x", "url": "/wiki"}, 400, []string{"url"}},
			{"url with credentials", "POST", "/api/v1/applications", map[string]any{"slug": "a3", "name": "x", "url": "https://u:p@x.example/"}, 400, []string{"url"}},
			{"javascript url", "POST", "/api/v1/applications", map[string]any{"slug": "a4", "name": "x", "url": "javascript:alert(1)"}, 400, []string{"url"}},
			{"unknown field", "POST", "/api/v1/applications", map[string]any{"slug": "a5", "name": "x", "launch_url": "y"}, 400, []string{"launch_url"}},
			{"wrong type", "POST", "/api/v1/applications", map[string]any{"slug": "a6", "name": 7}, 400, []string{"name"}},
			{"duplicate", "POST", "/api/v1/applications", map[string]any{"slug": "wiki", "name": "again"}, 409, nil},
			{"rename", "PATCH", "/api/v1/applications/wiki", map[string]any{"slug": "wiki2", "name": "Renamed"}, 400, []string{"slug"}},
			{"bad patch", "PATCH", "/api/v1/applications/wiki", map[string]any{"name": "", "url": "nope", "policy_engine_mode": "ALL"}, 400, []string{"name", "policy_engine_mode", "url"}},
			{"bad order type", "PUT", "/api/v1/applications/wiki/bindings/users/bot", map[string]any{"order": "first"}, 400, []string{"order"}},
			{"order out of range", "PUT", "/api/v1/applications/wiki/bindings/users/bot", map[string]any{"order": 1 << 40}, 400, []string{"order"}},
			{"unknown binding field", "PUT", "/api/v1/applications/wiki/bindings/users/bot", map[string]any{"negated": true}, 400, []string{"negated"}},
			{"binding body not an object", "PUT", "/api/v1/applications/wiki/bindings/users/bot", `[1]`, 400, []string{"body"}},
			{"missing user", "PUT", "/api/v1/applications/wiki/bindings/users/nobody", nil, 404, nil},
			{"missing group", "PUT", "/api/v1/applications/wiki/bindings/groups/nobody", nil, 404, nil},
			{"missing application", "PUT", "/api/v1/applications/nope/bindings/users/bot", nil, 404, nil},
			{"unknown binding kind", "PUT", "/api/v1/applications/wiki/bindings/roles/admin", nil, 404, nil},
			{"absent binding", "DELETE", "/api/v1/applications/wiki/bindings/users/bot", nil, 404, nil},
			{"page size", "GET", "/api/v1/applications?page_size=0", nil, 400, []string{"page_size"}},
		}
		snapshot := func() string {
			return string(e.Must(200, e.Admin("GET", "/api/v1/applications?page_size=500", nil)).Body)
		}
		for _, c := range cases {
			before := snapshot()
			r := e.Do(c.method, c.path, bearer(servertest.AdminToken), c.body)
			if r.Status != c.status {
				t.Errorf("%s: status %d, want %d: %s", c.name, r.Status, c.status, r.Body)
				continue
			}
			if r.Header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("%s: content type %q", c.name, r.Header.Get("Content-Type"))
			}
			var p struct {
				Errors []struct{ Field string } `json:"errors"`
			}
			r.Decode(t, &p)
			var got []string
			for _, f := range p.Errors {
				got = append(got, f.Field)
			}
			slices.Sort(got)
			if !reflect.DeepEqual(got, c.fields) {
				t.Errorf("%s: fields %v, want %v: %s", c.name, got, c.fields, r.Body)
			}
			if after := snapshot(); after != before {
				t.Errorf("%s: applications changed:\n%s\n%s", c.name, before, after)
			}
		}
		for _, slug := range []string{"a1", "a2", "a3", "a4", "a5", "a6", "x", "wiki2"} {
			e.Must(404, e.Admin("GET", "/api/v1/applications/"+slug, nil))
		}
	})
}

func TestApplicationBindings(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		newApp(e, map[string]any{"slug": "wiki", "name": "Wiki"})
		newSA(e, "bot")
		newSA(e, "ci")
		e.Must(201, e.Admin("POST", "/api/v1/groups", map[string]any{"name": "ops"}))

		// No body: the defaults.
		b := e.Must(200, e.Admin("PUT", "/api/v1/applications/wiki/bindings/users/bot", nil)).JSON()
		if !reflect.DeepEqual(b, map[string]any{"application": "wiki", "kind": "user", "name": "bot", "order": 0.0, "negate": false}) {
			t.Fatalf("binding = %v", b)
		}
		e.Must(200, e.Admin("PUT", "/api/v1/applications/wiki/bindings/groups/ops", map[string]any{"order": -5}))
		e.Must(200, e.Admin("PUT", "/api/v1/applications/wiki/bindings/users/ci", map[string]any{"order": 10, "negate": true}))
		app := e.Must(200, e.Admin("GET", "/api/v1/applications/wiki", nil)).JSON()
		if got := bindingNames(app); fmt.Sprint(got) != "[-5:group/ops 0:user/bot 10:!user/ci]" {
			t.Fatalf("bindings = %v", got)
		}
		// PUT replaces; the same PUT again changes and records nothing.
		e.Must(200, e.Admin("PUT", "/api/v1/applications/wiki/bindings/users/bot", map[string]any{"order": 20, "negate": true}))
		e.Must(200, e.Admin("PUT", "/api/v1/applications/wiki/bindings/users/bot", map[string]any{"order": 20, "negate": true}))
		app = e.Must(200, e.Admin("GET", "/api/v1/applications/wiki", nil)).JSON()
		if got := bindingNames(app); fmt.Sprint(got) != "[-5:group/ops 10:!user/ci 20:!user/bot]" {
			t.Fatalf("bindings after replace = %v", got)
		}
		ev := events(e, "model_updated", "wiki")
		if len(ev) != 4 {
			t.Fatalf("binding events = %v", ev)
		}
		if c := ev[0]["context"].(map[string]any); c["binding"] != "user/bot" || c["change"] != "replaced" || c["order"] != 20.0 || c["negate"] != true {
			t.Fatalf("latest binding event = %v", c)
		}

		// DELETE removes one; twice is 404.
		e.Must(204, e.Admin("DELETE", "/api/v1/applications/wiki/bindings/users/ci", nil))
		e.Must(404, e.Admin("DELETE", "/api/v1/applications/wiki/bindings/users/ci", nil))
		if c := events(e, "model_updated", "wiki")[0]["context"].(map[string]any); c["binding"] != "user/ci" || c["change"] != "deleted" {
			t.Fatalf("unbind event = %v", c)
		}

		// Deleting a user or a group takes its bindings along.
		e.Must(204, e.Admin("DELETE", "/api/v1/service-accounts/bot", nil))
		e.Must(204, e.Admin("DELETE", "/api/v1/groups/ops", nil))
		app = e.Must(200, e.Admin("GET", "/api/v1/applications/wiki", nil)).JSON()
		if got := bindingNames(app); len(got) != 0 {
			t.Fatalf("bindings after deleting their subjects = %v", got)
		}
		// And deleting the application takes the rest.
		e.Must(200, e.Admin("PUT", "/api/v1/applications/wiki/bindings/users/ci", nil))
		e.Must(204, e.Admin("DELETE", "/api/v1/applications/wiki", nil))
		newApp(e, map[string]any{"slug": "wiki", "name": "Wiki again"})
		if got := bindingNames(e.Must(200, e.Admin("GET", "/api/v1/applications/wiki", nil)).JSON()); len(got) != 0 {
			t.Fatalf("a new application inherited bindings: %v", got)
		}
	})
}

func TestApplicationPermissions(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		newApp(e, map[string]any{"slug": "wiki", "name": "Wiki"})
		newApp(e, map[string]any{"slug": "git", "name": "Git"})
		newSA(e, "bot")
		key, _ := newToken(e, map[string]any{"user": "bot"})
		as := func(method, path string, body any) int { return e.Do(method, path, bearer(key), body).Status }

		// Nothing granted: 403 everywhere, and denials are events.
		for _, c := range []struct{ method, path string }{
			{"GET", "/api/v1/applications"}, {"GET", "/api/v1/applications/wiki"},
			{"PATCH", "/api/v1/applications/wiki"}, {"PUT", "/api/v1/applications/wiki/bindings/users/bot"},
		} {
			if got := as(c.method, c.path, map[string]any{}); got != 403 {
				t.Errorf("%s %s without permission: %d", c.method, c.path, got)
			}
		}
		if got := e.Do("GET", "/api/v1/applications", "", nil).Status; got != 401 {
			t.Errorf("anonymous list: %d", got)
		}
		if ev := events(e, "authz_denied", "wiki"); len(ev) < 3 {
			t.Errorf("denials of wiki: %v", ev)
		}

		// Read scoped to wiki: wiki only, in the list too.
		e.Must(200, e.Admin("PUT", "/api/v1/users/bot/permissions", map[string]any{"permissions": []string{"applications.read@application/wiki"}}))
		if got := as("GET", "/api/v1/applications/wiki", nil); got != 200 {
			t.Errorf("scoped read of wiki: %d", got)
		}
		if got := as("GET", "/api/v1/applications/git", nil); got != 403 {
			t.Errorf("scoped read of git: %d", got)
		}
		list := e.Do("GET", "/api/v1/applications", bearer(key), nil).JSON()
		if items := list["items"].([]any); len(items) != 1 || items[0].(map[string]any)["slug"] != "wiki" {
			t.Errorf("scoped list = %v", list)
		}
		if got := as("PATCH", "/api/v1/applications/wiki", map[string]any{"name": "x"}); got != 403 {
			t.Errorf("write with read only: %d", got)
		}

		// Write scoped to wiki: change it and its bindings; not git; not
		// create or delete (unscoped only).
		e.Must(200, e.Admin("PUT", "/api/v1/users/bot/permissions", map[string]any{"permissions": []string{"applications.write@application/wiki"}}))
		for _, c := range []struct {
			method, path string
			body         any
			want         int
		}{
			{"PATCH", "/api/v1/applications/wiki", map[string]any{"name": "Wiki by bot"}, 200},
			{"PUT", "/api/v1/applications/wiki/bindings/users/bot", nil, 200},
			{"DELETE", "/api/v1/applications/wiki/bindings/users/bot", nil, 204},
			{"PATCH", "/api/v1/applications/git", map[string]any{"name": "x"}, 403},
			{"PUT", "/api/v1/applications/git/bindings/users/bot", nil, 403},
			{"DELETE", "/api/v1/applications/wiki", nil, 403},
			{"POST", "/api/v1/applications", map[string]any{"slug": "new", "name": "x"}, 403},
			{"GET", "/api/v1/applications/wiki", nil, 403}, // write does not imply read
		} {
			if got := as(c.method, c.path, c.body); got != c.want {
				t.Errorf("scoped write: %s %s = %d, want %d", c.method, c.path, got, c.want)
			}
		}
		// Unscoped write: everything.
		e.Must(200, e.Admin("PUT", "/api/v1/users/bot/permissions", map[string]any{"permissions": []string{"applications.write"}}))
		if got := as("POST", "/api/v1/applications", map[string]any{"slug": "new", "name": "x"}); got != 201 {
			t.Errorf("unscoped create: %d", got)
		}
		if got := as("DELETE", "/api/v1/applications/git", nil); got != 204 {
			t.Errorf("unscoped delete: %d", got)
		}
	})
}

func TestBrandDefaultApplication(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		if u, err := e.App.Core.Applications.DefaultApplicationURL(ctx); err != nil || u != "" {
			t.Fatalf("DefaultApplicationURL before = %q, %v", u, err)
		}
		r := e.Must(400, e.Admin("PATCH", "/api/v1/brand", map[string]any{"default_application": "grafana", "title": "ACME"}))
		if !strings.Contains(string(r.Body), `"field":"default_application"`) || !strings.Contains(string(r.Body), `application \"grafana\" does not exist`) {
			t.Fatalf("missing application: %s", r.Body)
		}
		if b := e.Must(200, e.Admin("GET", "/api/v1/brand", nil)).JSON(); b["title"] != "gatehouse" || b["default_application"] != "" {
			t.Fatalf("brand changed by a refused PATCH: %v", b)
		}
		newApp(e, map[string]any{"slug": "grafana", "name": "Grafana", "url": "https://grafana.example.org/"})
		e.Must(200, e.Admin("PATCH", "/api/v1/brand", map[string]any{"default_application": "grafana"}))
		if u, err := e.App.Core.Applications.DefaultApplicationURL(ctx); err != nil || u != "https://grafana.example.org/" {
			t.Fatalf("DefaultApplicationURL = %q, %v", u, err)
		}
		// The brand's default cannot be deleted: 409 and a clear message.
		r = e.Must(409, e.Admin("DELETE", "/api/v1/applications/grafana", nil))
		if !strings.Contains(string(r.Body), "default application") || !strings.Contains(string(r.Body), "PATCH /api/v1/brand") {
			t.Fatalf("conflict: %s", r.Body)
		}
		e.Must(200, e.Admin("GET", "/api/v1/applications/grafana", nil))
		// An application without a URL: "".
		e.Must(200, e.Admin("PATCH", "/api/v1/applications/grafana", map[string]any{"url": ""}))
		if u, err := e.App.Core.Applications.DefaultApplicationURL(ctx); err != nil || u != "" {
			t.Fatalf("DefaultApplicationURL without url = %q, %v", u, err)
		}
		// Changing only the title keeps the (existing) default.
		e.Must(200, e.Admin("PATCH", "/api/v1/brand", map[string]any{"title": "ACME"}))
		e.Must(200, e.Admin("PATCH", "/api/v1/brand", map[string]any{"default_application": ""}))
		e.Must(204, e.Admin("DELETE", "/api/v1/applications/grafana", nil))
	})
}

// introspect posts a form to /introspect.
func introspect(e *env, authz string, form url.Values) *servertest.Resp {
	e.T.Helper()
	req, err := http.NewRequest("POST", e.URL+"/api/v1/introspect", strings.NewReader(form.Encode()))
	if err != nil {
		e.T.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.T.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return &servertest.Resp{Status: res.StatusCode, Header: res.Header, Body: body}
}

func TestIntrospection(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		admin := bearer(servertest.AdminToken)
		ask := func(token string) map[string]any {
			t.Helper()
			r := e.Must(200, introspect(e, admin, url.Values{"token": {token}}))
			if r.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("introspection answer may be cached: %v", r.Header)
			}
			return r.JSON()
		}
		inactive := func(what, token string) {
			t.Helper()
			r := e.Must(200, introspect(e, admin, url.Values{"token": {token}}))
			if strings.TrimSpace(string(r.Body)) != `{"active":false}` {
				t.Errorf("%s: %s, want exactly {\"active\":false}", what, r.Body)
			}
		}
		newSA(e, "bot")
		e.Must(201, e.Admin("POST", "/api/v1/roles", map[string]any{"name": "reader", "permissions": []string{"users.read", "groups.read@group/ops"}}))
		e.Must(204, e.Admin("PUT", "/api/v1/roles/reader/assignments/users/bot", nil))
		uid := e.Must(200, e.Admin("GET", "/api/v1/users/bot", nil)).JSON()["uid"]
		now := e.Clock.Now()
		key, _ := newToken(e, map[string]any{"user": "bot", "ttl": "1h", "identifier": "bot-api"})
		got := ask(key)
		want := map[string]any{"active": true, "username": "bot", "sub": uid, "token_type": "api",
			"exp": float64(now.Add(time.Hour).Unix()), "iat": float64(now.Unix()), "scope": "groups.read@group/ops users.read"}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("introspection = %v\nwant %v", got, want)
		}
		// JSON is taken too; token_type_hint is accepted.
		r := e.Must(200, e.Do("POST", "/api/v1/introspect", admin, map[string]any{"token": key, "token_type_hint": "access_token"}))
		if !reflect.DeepEqual(r.JSON(), want) {
			t.Fatalf("JSON introspection = %s", r.Body)
		}
		e.Must(200, introspect(e, admin, url.Values{"token": {key}, "token_type_hint": {"refresh_token"}}))

		// An app password, non-expiring: no exp.
		app, _ := newToken(e, map[string]any{"user": "bot", "intent": "app_password", "expiring": false})
		got = ask(app)
		if got["active"] != true || got["token_type"] != "app_password" || got["username"] != "bot" {
			t.Fatalf("app password = %v", got)
		}
		if _, has := got["exp"]; has {
			t.Fatalf("non-expiring key has exp: %v", got)
		}
		// The bootstrap token (free-form) too.
		if got := ask(servertest.AdminToken); got["active"] != true || got["username"] != "admin" || got["token_type"] != "api" {
			t.Fatalf("bootstrap token = %v", got)
		}

		// Introspection is not a use.
		ext, _ := newToken(e, map[string]any{"user": "bot", "extended": true, "max_age": "1h", "identifier": "bot-ext"})
		e.Clock.Advance(30 * time.Minute)
		got = ask(ext)
		if got["exp"] != float64(now.Add(time.Hour).Unix()) {
			t.Fatalf("introspection extended the token: %v", got)
		}
		for _, id := range []string{"bot-api", "bot-ext"} {
			if tok := e.Must(200, e.Admin("GET", "/api/v1/tokens/"+id, nil)).JSON(); tok["last_used_at"] != nil {
				t.Fatalf("introspection counted as a use of %s: %v", id, tok)
			}
		}
		e.Must(200, e.Do("GET", "/api/v1/me", bearer(ext), nil))
		if got := ask(ext); got["exp"] != float64(e.Clock.Now().Add(time.Hour).Unix()) {
			t.Fatalf("a real use did not extend: %v", got)
		}

		// Inactive, without saying why.
		inactive("garbage", "not a token at all")
		inactive("well-formed unknown key", "gat_000000000000000000000000000000000000000")
		e.Clock.Advance(31 * time.Minute)
		inactive("expired", key)
		fresh, _ := newToken(e, map[string]any{"user": "bot", "identifier": "bot-fresh"})
		if ask(fresh)["active"] != true {
			t.Fatal("fresh token inactive")
		}
		e.Must(204, e.Admin("DELETE", "/api/v1/tokens/bot-fresh", nil))
		inactive("revoked", fresh)
		e.Must(200, e.Admin("PATCH", "/api/v1/service-accounts/bot", map[string]any{"is_active": false}))
		inactive("owner disabled", app)
		e.Must(200, e.Admin("PATCH", "/api/v1/service-accounts/bot", map[string]any{"is_active": true}))
		if ask(app)["active"] != true {
			t.Fatal("app password inactive after re-enabling its owner")
		}

		// The caller: authenticated, with tokens.read.
		newSA(e, "peer")
		peer, _ := newToken(e, map[string]any{"user": "peer"})
		e.Must(401, introspect(e, "", url.Values{"token": {app}}))
		e.Must(401, introspect(e, bearer(app), url.Values{"token": {app}})) // an app password is no API credential
		e.Must(403, introspect(e, bearer(peer), url.Values{"token": {app}}))
		if ev := events(e, "authz_denied", ""); len(ev) == 0 || ev[0]["actor"].(map[string]any)["username"] != "peer" {
			t.Fatalf("denial not recorded: %v", ev)
		}
		// Scoped to a group: its members' tokens only.
		e.Must(201, e.Admin("POST", "/api/v1/groups", map[string]any{"name": "ops"}))
		e.Must(200, e.Admin("PUT", "/api/v1/users/peer/permissions", map[string]any{"permissions": []string{"tokens.read@group/ops"}}))
		if r := e.Must(200, introspect(e, bearer(peer), url.Values{"token": {app}})); strings.TrimSpace(string(r.Body)) != `{"active":false}` {
			t.Fatalf("scoped caller sees a non-member's token: %s", r.Body)
		}
		e.Must(204, e.Admin("PUT", "/api/v1/groups/ops/members/bot", nil))
		if got := e.Must(200, introspect(e, bearer(peer), url.Values{"token": {app}})).JSON(); got["active"] != true {
			t.Fatalf("scoped caller, member's token = %v", got)
		}

		// Bad requests.
		for name, c := range map[string]struct {
			req   func() *servertest.Resp
			field string
		}{
			"no token":       {func() *servertest.Resp { return introspect(e, admin, url.Values{}) }, "token"},
			"empty token":    {func() *servertest.Resp { return introspect(e, admin, url.Values{"token": {""}}) }, "token"},
			"repeated token": {func() *servertest.Resp { return introspect(e, admin, url.Values{"token": {app, key}}) }, "token"},
			"unknown field": {func() *servertest.Resp {
				return introspect(e, admin, url.Values{"token": {app}, "client_secret": {"x"}})
			}, "client_secret"},
			"long token": {func() *servertest.Resp { return introspect(e, admin, url.Values{"token": {strings.Repeat("a", 5000)}}) }, "token"},
			"long hint": {func() *servertest.Resp {
				return introspect(e, admin, url.Values{"token": {app}, "token_type_hint": {strings.Repeat("h", 65)}})
			}, "token_type_hint"},
			"token in query": {func() *servertest.Resp {
				return e.Do("POST", "/api/v1/introspect?token="+url.QueryEscape(app), admin, map[string]any{})
			}, "token"},
			"wrong type": {func() *servertest.Resp { return e.Do("POST", "/api/v1/introspect", admin, map[string]any{"token": 5}) }, "token"},
			"unknown in json": {func() *servertest.Resp {
				return e.Do("POST", "/api/v1/introspect", admin, map[string]any{"token": app, "x": 1})
			}, "x"},
			"text body": {func() *servertest.Resp {
				req, _ := http.NewRequest("POST", e.URL+"/api/v1/introspect", strings.NewReader("token="+app))
				req.Header.Set("Authorization", admin)
				req.Header.Set("Content-Type", "text/plain")
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				b, _ := io.ReadAll(res.Body)
				return &servertest.Resp{Status: res.StatusCode, Header: res.Header, Body: b}
			}, "body"},
		} {
			r := c.req()
			var p struct {
				Errors []struct{ Field string } `json:"errors"`
			}
			_ = json.Unmarshal(r.Body, &p)
			if r.Status != 400 || len(p.Errors) != 1 || p.Errors[0].Field != c.field {
				t.Errorf("%s: %d %s, want 400 naming %s", name, r.Status, r.Body, c.field)
			}
		}
		big := url.Values{"token": {strings.Repeat("a", 2<<20)}}
		e.Must(413, introspect(e, admin, big))
	})
}
