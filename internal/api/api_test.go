package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/server/servertest"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
)

type env = servertest.Env

var bearer = servertest.Bearer

func each(t *testing.T, fn func(t *testing.T, e *env)) {
	storetest.ForEachBackend(t, func(t *testing.T, s store.Store) {
		fn(t, servertest.Start(t, s))
	})
}

func TestBootstrapAndMe(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		me := e.Must(200, e.Admin("GET", "/api/v1/me", nil)).JSON()
		if me["username"] != "admin" || me["type"] != "human" || me["is_active"] != true {
			t.Fatalf("me = %v", me)
		}
		if perms := me["permissions"].([]any); len(perms) < 13 {
			t.Fatalf("admin permissions %v", perms)
		}
		e.Must(200, e.Do("GET", "/api/v1/me", servertest.Basic("admin", servertest.AdminPassword), nil))

		for name, authz := range map[string]string{
			"none":            "",
			"bad bearer":      bearer("nope"),
			"wrong password":  servertest.Basic("admin", "wrong-password"),
			"unknown user":    servertest.Basic("ghost", servertest.AdminPassword),
			"unknown scheme":  "Digest abc",
			"malformed basic": "Basic !!!",
		} {
			r := e.Do("GET", "/api/v1/me", authz, nil)
			if r.Status != 401 || r.Header.Get("WWW-Authenticate") == "" || r.Header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("%s: status %d headers %v", name, r.Status, r.Header)
			}
		}
		// The same answer whether the user exists or not.
		a := e.Do("GET", "/api/v1/me", servertest.Basic("admin", "wrong-password"), nil)
		b := e.Do("GET", "/api/v1/me", servertest.Basic("ghost", "wrong-password"), nil)
		if string(a.Body) != string(b.Body) {
			t.Errorf("answers differ: %s vs %s", a.Body, b.Body)
		}
		// Public endpoints.
		e.Must(200, e.Do("GET", "/healthz", "", nil))
		e.Must(200, e.Do("GET", "/readyz", "", nil))
		e.Must(200, e.Do("GET", "/api/v1/openapi.json", "", nil))
		m := e.Must(200, e.Do("GET", "/metrics", "", nil))
		if !strings.Contains(string(m.Body), "gatehouse_http_requests_total") {
			t.Error("metrics lack request counts")
		}
	})
}

// TestRoleThroughGroupTakesEffectAtOnce is the README tour: a service
// account in its own group gains and loses a permission through a role
// given to the group, effective on the very next request.
func TestRoleThroughGroupTakesEffectAtOnce(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.Must(201, e.Admin("POST", "/api/v1/roles", map[string]any{"name": "user-reader", "permissions": []string{"users.read"}}))
		created := e.Must(201, e.Admin("POST", "/api/v1/service-accounts", map[string]any{
			"username": "ci-deploy", "description": "CI pipeline", "create_group": true, "token_intent": "api",
		})).JSON()
		group := created["group"].(map[string]any)
		if group["name"] != "ci-deploy" || fmt.Sprint(group["members"]) != "[ci-deploy]" {
			t.Fatalf("group = %v", group)
		}
		token := created["token"].(map[string]any)
		key := token["key"].(string)
		if !strings.HasPrefix(key, "gat_") || token["intent"] != "api" || token["expiring"] != true {
			t.Fatalf("token = %v", token)
		}
		user := created["user"].(map[string]any)
		if user["type"] != "service_account" || fmt.Sprint(user["groups"]) != "[ci-deploy]" {
			t.Fatalf("user = %v", user)
		}

		e.Must(200, e.Do("GET", "/api/v1/me", bearer(key), nil))
		e.Must(403, e.Do("GET", "/api/v1/users", bearer(key), nil))
		e.Must(204, e.Admin("PUT", "/api/v1/roles/user-reader/assignments/groups/ci-deploy", nil))
		e.Must(200, e.Do("GET", "/api/v1/users", bearer(key), nil))
		e.Must(403, e.Do("POST", "/api/v1/groups", bearer(key), map[string]any{"name": "x"}))
		e.Must(204, e.Admin("DELETE", "/api/v1/roles/user-reader/assignments/groups/ci-deploy", nil))
		e.Must(403, e.Do("GET", "/api/v1/users", bearer(key), nil))

		// Membership, direct assignment and direct permissions also act at once.
		e.Must(204, e.Admin("PUT", "/api/v1/roles/user-reader/assignments/users/ci-deploy", nil))
		e.Must(200, e.Do("GET", "/api/v1/users", bearer(key), nil))
		e.Must(204, e.Admin("DELETE", "/api/v1/roles/user-reader/assignments/users/ci-deploy", nil))
		e.Must(403, e.Do("GET", "/api/v1/users", bearer(key), nil))
		e.Must(200, e.Admin("PUT", "/api/v1/users/ci-deploy/permissions", map[string]any{"permissions": []string{"users.read"}}))
		e.Must(200, e.Do("GET", "/api/v1/users", bearer(key), nil))
		e.Must(200, e.Admin("PUT", "/api/v1/users/ci-deploy/permissions", map[string]any{"permissions": []string{}}))
		e.Must(403, e.Do("GET", "/api/v1/users", bearer(key), nil))

		// Disabling the account stops its token at once; enabling restores it.
		e.Must(200, e.Admin("PATCH", "/api/v1/service-accounts/ci-deploy", map[string]any{"is_active": false}))
		e.Must(401, e.Do("GET", "/api/v1/me", bearer(key), nil))
		e.Must(200, e.Admin("PATCH", "/api/v1/service-accounts/ci-deploy", map[string]any{"is_active": true}))
		e.Must(200, e.Do("GET", "/api/v1/me", bearer(key), nil))
		// Deleting it: 401, and its group no longer lists it.
		e.Must(204, e.Admin("DELETE", "/api/v1/service-accounts/ci-deploy", nil))
		e.Must(401, e.Do("GET", "/api/v1/me", bearer(key), nil))
		g := e.Must(200, e.Admin("GET", "/api/v1/groups/ci-deploy", nil)).JSON()
		if fmt.Sprint(g["members"]) != "[]" {
			t.Fatalf("members after delete: %v", g["members"])
		}

		// Denials are events.
		ev := e.Must(200, e.Admin("GET", "/api/v1/events?action=authz_denied&actor=ci-deploy", nil)).JSON()
		if len(ev["items"].([]any)) < 3 {
			t.Fatalf("authz_denied events: %v", ev)
		}
	})
}

func TestBadInputChangesNothing(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.Must(201, e.Admin("POST", "/api/v1/groups", map[string]any{"name": "existing"}))
		e.Must(201, e.Admin("POST", "/api/v1/service-accounts", map[string]any{"username": "taken", "token_intent": "none"}))
		big := `{"username":"x","description":"` + strings.Repeat("a", 1<<20) + `"}`
		cases := []struct {
			name, method, path string
			body               any
			status             int
			field              string
		}{
			{"malformed json", "POST", "/api/v1/service-accounts", `{"username":`, 400, "body"},
			{"not an object", "POST", "/api/v1/service-accounts", `[1,2]`, 400, "body"},
			{"empty body", "POST", "/api/v1/service-accounts", ``, 400, "body"},
			{"two objects", "POST", "/api/v1/service-accounts", `{"username":"a1"}{"username":"a2"}`, 400, "body"},
			{"unknown field", "POST", "/api/v1/service-accounts", map[string]any{"username": "ok1", "colour": "red"}, 400, "colour"},
			{"wrong type", "POST", "/api/v1/service-accounts", map[string]any{"username": 42}, 400, "username"},
			{"bad name", "POST", "/api/v1/service-accounts", map[string]any{"username": "Bad Name!"}, 400, "username"},
			{"name too long", "POST", "/api/v1/service-accounts", map[string]any{"username": strings.Repeat("a", 64)}, 400, "username"},
			{"missing name", "POST", "/api/v1/service-accounts", map[string]any{"description": "x"}, 400, "username"},
			{"unknown group", "POST", "/api/v1/service-accounts", map[string]any{"username": "ok2", "groups": []string{"nope"}}, 400, "groups[0]"},
			{"unknown role", "POST", "/api/v1/service-accounts", map[string]any{"username": "ok3", "roles": []string{"nope"}}, 400, "roles[0]"},
			{"bad intent", "POST", "/api/v1/service-accounts", map[string]any{"username": "ok4", "token_intent": "ssh"}, 400, "token_intent"},
			{"past expiry", "POST", "/api/v1/service-accounts", map[string]any{"username": "ok5", "expires_at": "2001-01-01T00:00:00Z"}, 400, "expires_at"},
			{"sa with email", "POST", "/api/v1/service-accounts", map[string]any{"username": "ok6", "token_intent": "none"}, 201, ""},
			{"duplicate", "POST", "/api/v1/service-accounts", map[string]any{"username": "taken"}, 409, ""},
			{"create_group clash", "POST", "/api/v1/service-accounts", map[string]any{"username": "existing", "create_group": true}, 409, ""},
			{"too large", "POST", "/api/v1/service-accounts", big, 413, ""},
			{"bad permission", "POST", "/api/v1/roles", map[string]any{"name": "r1", "permissions": []string{"users.read", "root.all"}}, 400, "permissions[1]"},
			{"bad scope", "POST", "/api/v1/roles", map[string]any{"name": "r2", "permissions": []string{"users.read@group/x"}}, 400, "permissions[0]"},
			{"duplicate group", "POST", "/api/v1/groups", map[string]any{"name": "existing"}, 409, ""},
			{"bad group name", "POST", "/api/v1/groups", map[string]any{"name": "-x"}, 400, "name"},
			{"email on sa", "PATCH", "/api/v1/service-accounts/taken", map[string]any{"email": "a@b.c"}, 400, "email"},
			{"bad email", "POST", "/api/v1/users", map[string]any{"username": "h1", "email": "not-an-email"}, 400, "email"},
			{"short password", "POST", "/api/v1/users", map[string]any{"username": "h2", "password": "short"}, 400, "password"},
			{"sa password", "PUT", "/api/v1/users/taken/password", map[string]any{"password": "long-enough-pass"}, 400, "password"},
			{"member of missing group", "PUT", "/api/v1/groups/nope/members/taken", nil, 404, ""},
			{"missing user", "GET", "/api/v1/users/nope", nil, 404, ""},
			{"edit admin role", "PATCH", "/api/v1/roles/admin", map[string]any{"description": "x"}, 409, ""},
			{"delete admin role", "DELETE", "/api/v1/roles/admin", nil, 409, ""},
			{"page size", "GET", "/api/v1/users?page_size=501", nil, 400, "page_size"},
			{"page token", "GET", "/api/v1/users?page_token=***", nil, 400, "page_token"},
			{"unknown endpoint", "GET", "/api/v1/nope", nil, 404, ""},
		}
		// The "sa with email" case is a control: 201 proves the harness can succeed.
		for _, c := range cases {
			before := e.Must(200, e.Admin("GET", "/api/v1/users?page_size=500", nil)).JSON()["items"].([]any)
			r := e.Do(c.method, c.path, bearer(servertest.AdminToken), c.body)
			if r.Status != c.status {
				t.Errorf("%s: status %d, want %d: %s", c.name, r.Status, c.status, r.Body)
				continue
			}
			if c.status >= 400 {
				if r.Header.Get("Content-Type") != "application/problem+json" {
					t.Errorf("%s: content type %q", c.name, r.Header.Get("Content-Type"))
				}
				p := r.JSON()
				if p["status"] != float64(c.status) || p["title"] == "" || p["detail"] == "" {
					t.Errorf("%s: problem %v", c.name, p)
				}
				if c.field != "" && !strings.Contains(string(r.Body), `"field":"`+c.field+`"`) {
					t.Errorf("%s: field %q not named: %s", c.name, c.field, r.Body)
				}
				after := e.Must(200, e.Admin("GET", "/api/v1/users?page_size=500", nil)).JSON()["items"].([]any)
				if len(after) != len(before) {
					t.Errorf("%s: users changed from %d to %d", c.name, len(before), len(after))
				}
			}
		}
		// Nothing half-made by the failed creations.
		for _, name := range []string{"ok1", "ok2", "ok3", "ok4", "ok5", "a1", "h1", "h2"} {
			e.Must(404, e.Admin("GET", "/api/v1/users/"+name, nil))
		}
		e.Must(404, e.Admin("GET", "/api/v1/roles/r1", nil))
		// Every bad field is listed at once.
		r := e.Must(400, e.Admin("POST", "/api/v1/service-accounts", map[string]any{"username": "Bad!", "token_intent": "x", "extra": 1}))
		for _, f := range []string{"extra"} {
			if !strings.Contains(string(r.Body), f) {
				t.Errorf("field %s missing from %s", f, r.Body)
			}
		}
		r = e.Must(400, e.Admin("POST", "/api/v1/service-accounts", map[string]any{"username": "Bad!", "token_intent": "x", "description": strings.Repeat("d", 2000)}))
		for _, f := range []string{"username", "token_intent", "description"} {
			if !strings.Contains(string(r.Body), `"field":"`+f+`"`) {
				t.Errorf("field %s missing from %s", f, r.Body)
			}
		}
	})
}

func TestPagination(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		for i := 0; i < 7; i++ {
			e.Must(201, e.Admin("POST", "/api/v1/service-accounts", map[string]any{"username": fmt.Sprintf("bot-%02d", i), "token_intent": "none"}))
		}
		var names []string
		path := "/api/v1/service-accounts?page_size=3"
		for pages := 0; ; pages++ {
			if pages > 5 {
				t.Fatal("pagination does not end")
			}
			var page struct {
				Items []struct {
					Username string `json:"username"`
				} `json:"items"`
				Next string `json:"next_page_token"`
			}
			e.Must(200, e.Admin("GET", path, nil)).Decode(t, &page)
			for _, it := range page.Items {
				names = append(names, it.Username)
			}
			if page.Next == "" {
				break
			}
			path = "/api/v1/service-accounts?page_size=3&page_token=" + page.Next
		}
		if fmt.Sprint(names) != "[bot-00 bot-01 bot-02 bot-03 bot-04 bot-05 bot-06]" {
			t.Fatalf("names = %v", names)
		}
		humans := e.Must(200, e.Admin("GET", "/api/v1/users?type=human", nil)).JSON()["items"].([]any)
		if len(humans) != 1 {
			t.Fatalf("humans = %v", humans)
		}
		found := e.Must(200, e.Admin("GET", "/api/v1/users?search=BOT-0", nil)).JSON()["items"].([]any)
		if len(found) != 7 {
			t.Fatalf("search found %d", len(found))
		}
	})
}

// TestConcurrentSameNames creates and deletes the same names from many
// goroutines: every answer is a clean 201, 204, 404 or 409, never a 500.
func TestConcurrentSameNames(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		var wg sync.WaitGroup
		statuses := sync.Map{}
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				for i := 0; i < 15; i++ {
					name := fmt.Sprintf("race-%d", i%3)
					var r *servertest.Resp
					switch (g + i) % 4 {
					case 0:
						r = e.Admin("POST", "/api/v1/service-accounts", map[string]any{"username": name, "create_group": true, "token_intent": "api"})
					case 1:
						r = e.Admin("DELETE", "/api/v1/service-accounts/"+name, nil)
					case 2:
						r = e.Admin("DELETE", "/api/v1/groups/"+name, nil)
					default:
						r = e.Admin("PUT", "/api/v1/groups/"+name+"/members/"+name, nil)
					}
					statuses.Store(r.Status, true)
					switch r.Status {
					case 201, 204, 404, 409:
					default:
						t.Errorf("status %d: %s", r.Status, r.Body)
					}
				}
			}(g)
		}
		wg.Wait()
		if _, ok := statuses.Load(201); !ok {
			t.Error("no creation succeeded")
		}
		// Every surviving account's token works, every event is readable.
		e.Must(200, e.Admin("GET", "/api/v1/events?page_size=500", nil))
		_ = http.StatusOK
	})
}

func TestBasicLoginFailuresAreLimited(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		for i := 0; i < 10; i++ {
			e.Must(401, e.Do("GET", "/api/v1/me", servertest.Basic("admin", "wrong-password"), nil))
		}
		r := e.Do("GET", "/api/v1/me", servertest.Basic("admin", servertest.AdminPassword), nil)
		if r.Status != 429 || r.Header.Get("Retry-After") == "" {
			t.Fatalf("after 10 failures: %d %v", r.Status, r.Header)
		}
		// Tokens are not affected, and the window passes.
		e.Must(200, e.Admin("GET", "/api/v1/me", nil))
		e.Clock.Advance(time.Minute)
		e.Must(200, e.Do("GET", "/api/v1/me", servertest.Basic("admin", servertest.AdminPassword), nil))
		evs := e.Must(200, e.Admin("GET", "/api/v1/events?action=login_failed&actor=admin&page_size=500", nil)).JSON()["items"].([]any)
		// Ten refused passwords, and one event for the refusals of the
		// limiter in that window (as at every door).
		if len(evs) != 11 || evs[0].(map[string]any)["context"].(map[string]any)["reason"] != "rate_limited" {
			t.Fatalf("login_failed events: %d %v", len(evs), evs)
		}
	})
}
