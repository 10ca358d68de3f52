package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/server/servertest"
)

// TestNarrowedTokens: a token's own permissions narrow it below its owner
// (issue 17): GET /me shows the intersection, taken at every use, and a
// narrowed key never makes, rotates or revokes a broader key.
func TestNarrowedTokens(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.Must(201, e.Admin("POST", "/api/v1/roles", map[string]any{"name": "deployer",
			"permissions": []string{"users.read", "groups.read", "tokens.self", "applications.write"}}))
		e.Must(201, e.Admin("POST", "/api/v1/service-accounts", map[string]any{"username": "ci", "token_intent": "none", "roles": []string{"deployer"}}))
		full, _ := newToken(e, map[string]any{"user": "ci", "identifier": "ci-full"})

		// Only what the owner holds; every bad entry named, nothing made.
		r := e.Must(400, e.Admin("POST", "/api/v1/tokens", map[string]any{"user": "ci", "identifier": "bad",
			"permissions": []string{"users.read", "users.write", "nope.read"}, "allowed_cidrs": []string{"10.0.0.0/33", "10.1.0.0/16"},
			"applications": []string{"missing"}}))
		for _, want := range []string{"users.write", "permissions[2]", "allowed_cidrs[0]", "applications[0]"} {
			if !strings.Contains(string(r.Body), want) {
				t.Errorf("the 400 does not name %s: %s", want, r.Body)
			}
		}
		e.Must(404, e.Admin("GET", "/api/v1/tokens/bad", nil))

		created := e.Must(201, e.Admin("POST", "/api/v1/tokens", map[string]any{"user": "ci", "identifier": "ci-read",
			"permissions": []string{"users.read", "applications.write@application/site", "tokens.self"}})).JSON()
		key := created["key"].(string)
		if got := strings.Join(anyStrings(created["permissions"]), " "); got != "applications.write@application/site tokens.self users.read" {
			t.Fatalf("the token view shows %q", got)
		}
		if got := permissionsOf(e, bearer(key)); got != "applications.write@application/site tokens.self users.read" {
			t.Fatalf("GET /me with the narrowed key: %q", got)
		}
		e.Must(200, e.Do("GET", "/api/v1/users", bearer(key), nil))
		e.Must(403, e.Do("GET", "/api/v1/groups", bearer(key), nil))
		e.Must(200, e.Do("GET", "/api/v1/groups", bearer(full), nil))

		// Taken at use: the owner loses users.read, the key loses it on
		// the very next request.
		e.Must(200, e.Admin("PATCH", "/api/v1/roles/deployer", map[string]any{"permissions": []string{"groups.read", "tokens.self", "applications.write"}}))
		if got := permissionsOf(e, bearer(key)); got != "applications.write@application/site tokens.self" {
			t.Fatalf("after the owner lost users.read: %q", got)
		}
		e.Must(403, e.Do("GET", "/api/v1/users", bearer(key), nil))

		// Fixed for the token's life; rotation keeps them.
		e.Must(400, e.Admin("PATCH", "/api/v1/tokens/ci-read", map[string]any{"permissions": []string{"tokens.self"}}))
		rot := e.Must(200, e.Do("POST", "/api/v1/tokens/ci-read/rotate", bearer(key), map[string]any{})).JSON()
		key = rot["key"].(string)
		if got := strings.Join(anyStrings(rot["permissions"]), " "); !strings.Contains(got, "tokens.self") || strings.Contains(got, "groups.read") {
			t.Fatalf("rotation changed the permissions: %q", got)
		}

		// A narrowed key makes only keys within it.
		e.Must(403, e.Do("POST", "/api/v1/tokens", bearer(key), map[string]any{"identifier": "wider", "permissions": []string{"groups.read"}}))
		e.Must(403, e.Do("POST", "/api/v1/tokens/ci-full/rotate", bearer(key), map[string]any{}))
		e.Must(403, e.Do("DELETE", "/api/v1/tokens/ci-full", bearer(key), nil))
		inherited := e.Must(201, e.Do("POST", "/api/v1/tokens", bearer(key), map[string]any{"identifier": "child"})).JSON()
		if got := strings.Join(anyStrings(inherited["permissions"]), " "); got != "applications.write@application/site tokens.self" {
			t.Fatalf("a key made by a narrowed key holds %q", got)
		}
		e.Must(200, e.Do("GET", "/api/v1/me", bearer(full), nil))

		// An empty list proves identity and nothing else.
		empty := e.Must(201, e.Admin("POST", "/api/v1/tokens", map[string]any{"user": "ci", "identifier": "ci-who", "permissions": []string{}})).JSON()["key"].(string)
		me := e.Must(200, e.Do("GET", "/api/v1/me", bearer(empty), nil)).JSON()
		if me["username"] != "ci" || len(me["permissions"].([]any)) != 0 {
			t.Fatalf("the identity-only key: %v", me)
		}

		// Introspection answers the narrowed scope.
		in := e.Must(200, e.Admin("POST", "/api/v1/introspect", map[string]any{"token": key})).JSON()
		if in["scope"] != "applications.write@application/site tokens.self" {
			t.Fatalf("introspection scope %v", in["scope"])
		}
	})
}

// TestNetworkBoundTokens: a key bound to networks is refused from
// elsewhere exactly like a bad key, with a source_not_allowed event.
func TestNetworkBoundTokens(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.Must(201, e.Admin("POST", "/api/v1/service-accounts", map[string]any{"username": "runner", "token_intent": "none"}))
		key := e.Must(201, e.Admin("POST", "/api/v1/tokens", map[string]any{"user": "runner", "identifier": "runner-key",
			"allowed_cidrs": []string{"10.20.0.0/16", "2001:db8::1"}})).JSON()
		if got := strings.Join(anyStrings(key["allowed_cidrs"]), " "); got != "10.20.0.0/16 2001:db8::1/128" {
			t.Fatalf("allowed_cidrs shown as %q", got)
		}
		from := func(addr string) *http.Response {
			req, _ := http.NewRequest("GET", e.URL+"/api/v1/me", nil)
			req.Header.Set("Authorization", "Bearer "+key["key"].(string))
			req.Header.Set("X-Forwarded-For", addr) // the test client is a trusted proxy
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			return res
		}
		if res := from("10.20.3.4"); res.StatusCode != 200 {
			t.Fatalf("from inside the network: %d", res.StatusCode)
		}
		if res := from("2001:db8::1"); res.StatusCode != 200 {
			t.Fatalf("from the one address: %d", res.StatusCode)
		}
		bad := e.Do("GET", "/api/v1/me", bearer("gat_"+strings.Repeat("x", 40)), nil)
		res := from("10.21.0.1")
		if res.StatusCode != 401 {
			t.Fatalf("from elsewhere: %d", res.StatusCode)
		}
		if res.Header.Get("Content-Type") != bad.Header.Get("Content-Type") || res.Header.Get("WWW-Authenticate") != bad.Header.Get("WWW-Authenticate") {
			t.Fatal("refused unlike a bad key")
		}
		evs := e.Must(200, e.Admin("GET", "/api/v1/events?action=login_failed&actor=runner", nil)).JSON()["items"].([]any)
		if len(evs) != 1 || evs[0].(map[string]any)["context"].(map[string]any)["reason"] != "source_not_allowed" ||
			evs[0].(map[string]any)["client_ip"] != "10.21.0.1" {
			t.Fatalf("events: %v", evs)
		}
		in := e.Must(200, e.Admin("POST", "/api/v1/introspect", map[string]any{"token": key["key"]})).JSON()
		if got := strings.Join(anyStrings(in["allowed_cidrs"]), " "); got != "10.20.0.0/16 2001:db8::1/128" {
			t.Fatalf("introspection allowed_cidrs %v", in["allowed_cidrs"])
		}
		// A service account's first credential takes them too.
		sa := e.Must(201, e.Admin("POST", "/api/v1/service-accounts", map[string]any{"username": "runner2", "token_intent": "api",
			"allowed_cidrs": []string{"192.0.2.0/24"}, "permissions": []string{}})).JSON()
		if tok := sa["token"].(map[string]any); len(tok["permissions"].([]any)) != 0 || len(tok["allowed_cidrs"].([]any)) != 1 {
			t.Fatalf("the first credential: %v", tok)
		}
		e.Must(401, e.Do("GET", "/api/v1/me", servertest.Bearer(sa["token"].(map[string]any)["key"].(string)), nil))
	})
}

// TestBoundKeysMakeOnlyBoundKeys: a key bound to a network (or to
// applications, LDAP providers) that may make keys cannot make, rotate
// or revoke one that works elsewhere: what it does not name it hands on,
// and anything looser is refused. Otherwise a key leaked inside the
// runners' network would mint one that works from anywhere.
func TestBoundKeysMakeOnlyBoundKeys(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.Must(201, e.Admin("POST", "/api/v1/roles", map[string]any{"name": "self", "permissions": []string{"tokens.self"}}))
		e.Must(201, e.Admin("POST", "/api/v1/service-accounts", map[string]any{"username": "ci", "token_intent": "none", "roles": []string{"self"}}))
		e.Must(201, e.Admin("POST", "/api/v1/tokens", map[string]any{"user": "ci", "identifier": "ci-free"}))
		// The test client (127.0.0.1) is inside.
		bound := e.Must(201, e.Admin("POST", "/api/v1/tokens", map[string]any{"user": "ci", "identifier": "ci-bound",
			"allowed_cidrs": []string{"127.0.0.0/8"}})).JSON()["key"].(string)

		child := e.Must(201, e.Do("POST", "/api/v1/tokens", bearer(bound), map[string]any{"identifier": "ci-child"})).JSON()
		if got := strings.Join(anyStrings(child["allowed_cidrs"]), " "); got != "127.0.0.0/8" {
			t.Fatalf("a key made by a bound key is bound to %q", got)
		}
		e.Must(201, e.Do("POST", "/api/v1/tokens", bearer(bound), map[string]any{"identifier": "ci-tighter", "allowed_cidrs": []string{"127.0.0.1"}}))
		e.Must(400, e.Do("POST", "/api/v1/tokens", bearer(bound), map[string]any{"identifier": "ci-wider", "allowed_cidrs": []string{"0.0.0.0/0"}}))
		e.Must(403, e.Do("POST", "/api/v1/tokens/ci-free/rotate", bearer(bound), map[string]any{}))
		e.Must(403, e.Do("DELETE", "/api/v1/tokens/ci-free", bearer(bound), nil))
		e.Must(404, e.Admin("GET", "/api/v1/tokens/ci-wider", nil))
		// Its own kind it may manage.
		e.Must(200, e.Do("POST", "/api/v1/tokens/ci-child/rotate", bearer(bound), map[string]any{}))
	})
}
