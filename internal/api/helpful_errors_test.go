package api_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/server/servertest"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Errors that help (issue 21): a 403 names the permission that was
// missing; a 401 says "expired" to the holder of an expired key and to
// nobody else.

// TestForbiddenNamesThePermission: through the HTTP door, a 403's detail
// names the permission (and the scope that would also do) and the answer
// is the same for an object that exists and one that does not.
func TestForbiddenNamesThePermission(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		key := holder(t, e, "reader", "users.read")
		e.Must(201, e.Admin("POST", "/api/v1/groups", map[string]any{"name": "ops"}))
		for _, tc := range []struct {
			method, path string
			body         any
			want         string
		}{
			{"POST", "/api/v1/users", map[string]any{"username": "x", "password": "a long password"}, "you are not allowed to do this: it needs users.write"},
			{"GET", "/api/v1/events", nil, "you are not allowed to do this: it needs events.read"},
			{"GET", "/api/v1/groups/ops", nil, "it needs groups.read, or groups.read on the group (groups.read@group/NAME)"},
			{"PATCH", "/api/v1/applications/nothing", map[string]any{"name": "x"}, "it needs applications.write, or applications.write on the application (applications.write@application/NAME)"},
			{"POST", "/api/v1/tokens", map[string]any{}, "it needs tokens.self"},
		} {
			r := e.Must(403, e.Do(tc.method, tc.path, bearer(key), tc.body))
			if d, _ := r.JSON()["detail"].(string); !strings.Contains(d, tc.want) {
				t.Errorf("%s %s: detail %q, want %q", tc.method, tc.path, d, tc.want)
			}
		}
		// Refusals name no object: an existing group and a missing one
		// get the same body.
		a := e.Must(403, e.Do("GET", "/api/v1/groups/ops", bearer(key), nil))
		b := e.Must(403, e.Do("GET", "/api/v1/groups/nope", bearer(key), nil))
		if string(a.Body) != string(b.Body) {
			t.Errorf("refusals tell groups apart:\n%s\n%s", a.Body, b.Body)
		}
		// One authz_denied event per refusal, not two.
		before := countEvents(e, "authz_denied")
		e.Must(403, e.Do("DELETE", "/api/v1/groups/ops", bearer(key), nil))
		if n := countEvents(e, "authz_denied"); n != before+1 {
			t.Errorf("authz_denied events: %d, then %d", before, n)
		}
	})
}

func countEvents(e *env, action string) int {
	return len(e.Must(200, e.Admin("GET", "/api/v1/events?page_size=500&action="+action, nil)).JSON()["items"].([]any))
}

// TestExpiredKeySaysSo: an expired key's holder is told it expired; a
// forged key with that key's lookup part, an unknown key, a revoked key
// and a rotated-out key all get the one answer of a bad credential.
func TestExpiredKeySaysSo(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.Must(201, e.Admin("POST", "/api/v1/service-accounts", map[string]any{"username": "bot", "token_intent": "none"}))
		expiring, _ := newToken(e, map[string]any{"user": "bot", "ttl": "1h"})
		revoked, rt := newToken(e, map[string]any{"user": "bot"})
		e.Must(204, e.Admin("DELETE", "/api/v1/tokens/"+rt["identifier"].(string), nil))
		e.Must(200, e.Do("GET", "/api/v1/me", bearer(expiring), nil))
		e.Clock.Advance(time.Hour + time.Second)

		expired := e.Must(401, e.Do("GET", "/api/v1/me", bearer(expiring), nil))
		if d := expired.JSON()["detail"]; d != "this key has expired" {
			t.Errorf("expired key: detail %v", d)
		}
		if expired.Header.Get("WWW-Authenticate") == "" {
			t.Error("expired key: no WWW-Authenticate")
		}
		unknownKey, err := auth.NewKey(store.IntentAPI)
		if err != nil {
			t.Fatal(err)
		}
		generic := e.Must(401, e.Do("GET", "/api/v1/me", bearer(unknownKey.Raw), nil))
		if strings.Contains(string(generic.Body), "expired") {
			t.Fatalf("unknown key: %s", generic.Body)
		}
		for name, k := range map[string]string{
			"forged with the expired key's lookup": servertest.ForgeKey(t, expiring),
			"revoked":                              revoked,
			"free-form":                            "not-a-key-but-long-enough-0123456789abcdef",
		} {
			r := e.Must(401, e.Do("GET", "/api/v1/me", bearer(k), nil))
			if string(r.Body) != string(generic.Body) {
				t.Errorf("%s: %s, want the generic %s", name, r.Body, generic.Body)
			}
		}
		// After the forged attempts, the real holder is still told.
		if d := e.Must(401, e.Do("GET", "/api/v1/me", bearer(expiring), nil)).JSON()["detail"]; d != "this key has expired" {
			t.Errorf("expired key after forgeries: detail %v", d)
		}
	})
}
