package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/server/servertest"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
)

// newSA makes a service account with no credential.
func newSA(e *env, name string) {
	e.T.Helper()
	e.Must(201, e.Admin("POST", "/api/v1/service-accounts", map[string]any{"username": name, "token_intent": "none"}))
}

// newToken creates a token and returns its key.
func newToken(e *env, body map[string]any) (string, map[string]any) {
	e.T.Helper()
	r := e.Must(201, e.Admin("POST", "/api/v1/tokens", body)).JSON()
	return r["key"].(string), r
}

func TestTokenExpiry(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		newSA(e, "bot")
		key, tok := newToken(e, map[string]any{"user": "bot", "ttl": "1h", "identifier": "bot-1h"})
		if tok["expiring"] != true || tok["expires_at"] != e.Clock.Now().Add(time.Hour).Format(time.RFC3339) {
			t.Fatalf("token = %v", tok)
		}
		e.Must(200, e.Do("GET", "/api/v1/me", bearer(key), nil))
		e.Clock.Advance(59 * time.Minute)
		e.Must(200, e.Do("GET", "/api/v1/me", bearer(key), nil))
		e.Clock.Advance(time.Minute)
		e.Must(401, e.Do("GET", "/api/v1/me", bearer(key), nil))
		got := e.Must(200, e.Admin("GET", "/api/v1/tokens/bot-1h", nil)).JSON()
		if got["expired"] != true || got["key"] != nil {
			t.Fatalf("expired token shows %v", got)
		}

		// Never expiring.
		forever, tok := newToken(e, map[string]any{"user": "bot", "expiring": false})
		if tok["expires_at"] != nil || tok["expiring"] != false {
			t.Fatalf("non-expiring token = %v", tok)
		}
		e.Clock.Advance(10 * 365 * 24 * time.Hour)
		e.Must(200, e.Do("GET", "/api/v1/me", bearer(forever), nil))

		// A fixed date.
		at := e.Clock.Now().Add(48 * time.Hour).Format(time.RFC3339)
		dated, tok := newToken(e, map[string]any{"user": "bot", "expires_at": at})
		if tok["expires_at"] != at {
			t.Fatalf("expires_at %v, want %v", tok["expires_at"], at)
		}
		e.Clock.Advance(48 * time.Hour)
		e.Must(401, e.Do("GET", "/api/v1/me", bearer(dated), nil))

		// Default: 30 days.
		_, tok = newToken(e, map[string]any{"user": "bot"})
		if tok["expires_at"] != e.Clock.Now().Add(30*24*time.Hour).Format(time.RFC3339) {
			t.Fatalf("default expiry %v", tok["expires_at"])
		}
	})
}

func TestExtendedToken(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, s store.Store) {
		e := servertest.Start(t, s)
		newSA(e, "bot")
		key, tok := newToken(e, map[string]any{"user": "bot", "extended": true, "max_age": "10s", "identifier": "ext"})
		if tok["extended"] != true || tok["max_age"] != "10s" {
			t.Fatalf("token = %v", tok)
		}
		// Used every 8 s for a minute: never expires.
		for i := 0; i < 8; i++ {
			e.Clock.Advance(8 * time.Second)
			e.Must(200, e.Do("GET", "/api/v1/me", bearer(key), nil))
		}
		// The stored expiry follows use, so a restart keeps the promise.
		if err := e.App.Core.Authenticator().Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		restarted := servertest.Start(t, s)
		restarted.Clock.Set(e.Clock.Now().Add(8 * time.Second))
		restarted.Must(200, restarted.Do("GET", "/api/v1/me", bearer(key), nil))
		// Unused for max_age: dead.
		restarted.Clock.Advance(10 * time.Second)
		restarted.Must(401, restarted.Do("GET", "/api/v1/me", bearer(key), nil))
	})
}

func TestRotationWithGrace(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		newSA(e, "bot")
		old, _ := newToken(e, map[string]any{"user": "bot", "identifier": "ci", "ttl": "720h"})
		r := e.Must(200, e.Admin("POST", "/api/v1/tokens/ci/rotate", map[string]any{"grace": "1h"})).JSON()
		fresh := r["key"].(string)
		if fresh == old || r["identifier"] != "ci" {
			t.Fatalf("rotate = %v", r)
		}
		if r["expires_at"] != e.Clock.Now().Add(720*time.Hour).Format(time.RFC3339) {
			t.Fatalf("rotation renewed expiry to %v", r["expires_at"])
		}
		e.Must(200, e.Do("GET", "/api/v1/me", bearer(old), nil))
		e.Must(200, e.Do("GET", "/api/v1/me", bearer(fresh), nil))
		e.Clock.Advance(59 * time.Minute)
		e.Must(200, e.Do("GET", "/api/v1/me", bearer(old), nil))
		e.Clock.Advance(time.Minute)
		e.Must(401, e.Do("GET", "/api/v1/me", bearer(old), nil))
		e.Must(200, e.Do("GET", "/api/v1/me", bearer(fresh), nil))
		// Cleanup drops the dead key; the old one stays dead.
		if err := e.App.Core.Cleanup(context.Background()); err != nil {
			t.Fatal(err)
		}
		e.Must(401, e.Do("GET", "/api/v1/me", bearer(old), nil))

		// No grace: the old key dies at once.
		r = e.Must(200, e.Admin("POST", "/api/v1/tokens/ci/rotate", nil)).JSON()
		e.Must(401, e.Do("GET", "/api/v1/me", bearer(fresh), nil))
		newest := r["key"].(string)
		e.Must(200, e.Do("GET", "/api/v1/me", bearer(newest), nil))

		evs := e.Must(200, e.Admin("GET", "/api/v1/events?action=token_rotated&target=ci", nil)).JSON()["items"].([]any)
		if len(evs) != 2 {
			t.Fatalf("rotation events = %v", evs)
		}
		// Revocation: the next request fails; rotating a revoked token is 404.
		e.Must(204, e.Admin("DELETE", "/api/v1/tokens/ci", nil))
		e.Must(401, e.Do("GET", "/api/v1/me", bearer(newest), nil))
		e.Must(404, e.Admin("POST", "/api/v1/tokens/ci/rotate", map[string]any{"grace": "1h"}))
	})
}

func TestIntentsKeptApart(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		newSA(e, "bot")
		app, tok := newToken(e, map[string]any{"user": "bot", "intent": "app_password"})
		if !strings.HasPrefix(app, "gap_") || tok["intent"] != "app_password" {
			t.Fatalf("app password = %v", tok)
		}
		api, _ := newToken(e, map[string]any{"user": "bot", "intent": "api"})
		e.Must(401, e.Do("GET", "/api/v1/me", bearer(app), nil))
		e.Must(401, e.Do("GET", "/api/v1/me", servertest.Basic("bot", app), nil))
		e.Must(401, e.Do("GET", "/api/v1/me", servertest.Basic("bot", api), nil))
		e.Must(200, e.Do("GET", "/api/v1/me", bearer(api), nil))
		// The app password is a valid credential elsewhere.
		p, _, err := e.App.Core.Authenticator().VerifyAppPassword(context.Background(), "bot", app)
		if err != nil || p.Username != "bot" {
			t.Fatalf("app password refused where it belongs: %v", err)
		}
		if _, _, err := e.App.Core.Authenticator().VerifyAppPassword(context.Background(), "admin", app); err == nil {
			t.Fatal("app password accepted for another user")
		}
		// A key with a bad checksum fails before any lookup.
		last := "a"
		if strings.HasSuffix(api, "a") {
			last = "b"
		}
		typo := api[:len(api)-1] + last
		e.Must(401, e.Do("GET", "/api/v1/me", bearer(typo), nil))
		// Oversized and repeated headers.
		e.Must(401, e.Do("GET", "/api/v1/me", bearer(strings.Repeat("x", 8000)), nil))
	})
}

func TestTokenRequestValidation(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, s store.Store) {
		e := servertest.Start(t, s, func(c *config.Config) { c.TokenMaxTTL = 90 * 24 * time.Hour })
		newSA(e, "bot")
		cases := []struct {
			name  string
			body  map[string]any
			field string
		}{
			{"past", map[string]any{"user": "bot", "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"},
			{"bad time", map[string]any{"user": "bot", "expires_at": "tomorrow"}, "expires_at"},
			{"bad ttl", map[string]any{"user": "bot", "ttl": "a week"}, "ttl"},
			{"negative ttl", map[string]any{"user": "bot", "ttl": "-1h"}, "ttl"},
			{"both", map[string]any{"user": "bot", "ttl": "1h", "expires_at": "2031-01-01T00:00:00Z"}, "ttl"},
			{"extended no max_age", map[string]any{"user": "bot", "extended": true}, "max_age"},
			{"max_age alone", map[string]any{"user": "bot", "max_age": "1h"}, "max_age"},
			{"over limit", map[string]any{"user": "bot", "ttl": "2400h"}, "ttl"},
			{"never over limit", map[string]any{"user": "bot", "expiring": false}, "expiring"},
			{"extended over limit", map[string]any{"user": "bot", "extended": true, "max_age": "2400h"}, "max_age"},
			{"bad intent", map[string]any{"user": "bot", "intent": "ssh"}, "intent"},
			{"bad identifier", map[string]any{"user": "bot", "identifier": "a b"}, "identifier"},
		}
		for _, c := range cases {
			r := e.Do("POST", "/api/v1/tokens", bearer(servertest.AdminToken), c.body)
			if r.Status != 400 || !strings.Contains(string(r.Body), `"field":"`+c.field+`"`) {
				t.Errorf("%s: %d %s", c.name, r.Status, r.Body)
			}
		}
		list := e.Must(200, e.Admin("GET", "/api/v1/tokens?user=bot", nil)).JSON()["items"].([]any)
		if len(list) != 0 {
			t.Fatalf("failed requests left tokens: %v", list)
		}
		// Without an explicit ttl, the default is cut to the limit.
		_, tok := newToken(e, map[string]any{"user": "bot", "intent": "app_password"})
		if tok["expires_at"] != e.Clock.Now().Add(30*24*time.Hour).Format(time.RFC3339) {
			t.Fatalf("default = %v", tok["expires_at"])
		}
		r := e.Must(201, e.Admin("POST", "/api/v1/service-accounts", map[string]any{"username": "bot2"})).JSON()
		if r["token"].(map[string]any)["expires_at"] != e.Clock.Now().Add(90*24*time.Hour).Format(time.RFC3339) {
			t.Fatalf("service account default not cut to the limit: %v", r["token"])
		}
		e.Must(404, e.Admin("POST", "/api/v1/tokens", map[string]any{"user": "ghost"}))
	})
}

func TestTokenPermissions(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.Must(201, e.Admin("POST", "/api/v1/groups", map[string]any{"name": "ci"}))
		e.Must(201, e.Admin("POST", "/api/v1/groups", map[string]any{"name": "other"}))
		e.Must(201, e.Admin("POST", "/api/v1/roles", map[string]any{"name": "ci-token-admin", "permissions": []string{"tokens.write@group/ci"}}))
		e.Must(201, e.Admin("POST", "/api/v1/roles", map[string]any{"name": "self-service", "permissions": []string{"tokens.self"}}))
		mk := func(name, group string) {
			e.Must(201, e.Admin("POST", "/api/v1/service-accounts", map[string]any{"username": name, "groups": []string{group}, "token_intent": "none"}))
		}
		mk("ci-bot", "ci")
		mk("other-bot", "other")
		mk("manager", "other")
		mk("selfie", "other")
		e.Must(204, e.Admin("PUT", "/api/v1/roles/ci-token-admin/assignments/users/manager", nil))
		e.Must(204, e.Admin("PUT", "/api/v1/roles/self-service/assignments/users/selfie", nil))
		mgr, _ := newToken(e, map[string]any{"user": "manager"})
		self, _ := newToken(e, map[string]any{"user": "selfie"})
		plain, _ := newToken(e, map[string]any{"user": "other-bot"})

		// Scoped: manages ci members' tokens only.
		r := e.Must(201, e.Do("POST", "/api/v1/tokens", bearer(mgr), map[string]any{"user": "ci-bot", "identifier": "ci-bot-key"}))
		if r.JSON()["created_by"] != "manager" {
			t.Fatalf("created_by = %v", r.JSON()["created_by"])
		}
		e.Must(403, e.Do("POST", "/api/v1/tokens", bearer(mgr), map[string]any{"user": "other-bot"}))
		e.Must(403, e.Do("POST", "/api/v1/tokens", bearer(mgr), map[string]any{"user": "ghost"}))
		e.Must(200, e.Do("GET", "/api/v1/tokens?user=ci-bot", bearer(mgr), nil))
		e.Must(403, e.Do("GET", "/api/v1/tokens?user=other-bot", bearer(mgr), nil))
		e.Must(200, e.Do("POST", "/api/v1/tokens/ci-bot-key/rotate", bearer(mgr), nil))
		e.Must(204, e.Do("DELETE", "/api/v1/tokens/ci-bot-key", bearer(mgr), nil))

		// tokens.self: own tokens only.
		e.Must(201, e.Do("POST", "/api/v1/tokens", bearer(self), map[string]any{"identifier": "mine"}))
		e.Must(200, e.Do("POST", "/api/v1/tokens/mine/rotate", bearer(self), nil))
		e.Must(403, e.Do("POST", "/api/v1/tokens", bearer(self), map[string]any{"user": "other-bot"}))
		// Without it: no new tokens, but one's own can be listed and revoked.
		e.Must(403, e.Do("POST", "/api/v1/tokens", bearer(plain), map[string]any{}))
		var own struct {
			Items []map[string]any `json:"items"`
		}
		e.Must(200, e.Do("GET", "/api/v1/tokens", bearer(plain), nil)).Decode(t, &own)
		if len(own.Items) != 1 || own.Items[0]["user"] != "other-bot" {
			t.Fatalf("own tokens = %v", own.Items)
		}
		e.Must(403, e.Do("DELETE", "/api/v1/tokens/mine", bearer(plain), nil))
		e.Must(204, e.Do("DELETE", "/api/v1/tokens/"+own.Items[0]["identifier"].(string), bearer(plain), nil))
		e.Must(401, e.Do("GET", "/api/v1/me", bearer(plain), nil))
	})
}

// TestNoSecretAnywhere: after a scenario, no key or password appears in
// events, logs or API answers other than the one that created it.
func TestNoSecretAnywhere(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		created := e.Must(201, e.Admin("POST", "/api/v1/service-accounts", map[string]any{"username": "bot", "token_intent": "api"})).JSON()
		key := created["token"].(map[string]any)["key"].(string)
		id := created["token"].(map[string]any)["identifier"].(string)
		rot := e.Must(200, e.Admin("POST", "/api/v1/tokens/"+id+"/rotate", map[string]any{"grace": "1m"})).JSON()["key"].(string)
		e.Must(201, e.Admin("POST", "/api/v1/users", map[string]any{"username": "alice", "password": "alice-secret-pw"}))
		e.Must(204, e.Admin("PUT", "/api/v1/users/alice/password", map[string]any{"password": "alice-new-secret"}))
		bad := key[:len(key)-3] + "zzz"
		e.Do("GET", "/api/v1/me", bearer(bad), nil)
		e.Do("GET", "/api/v1/me", servertest.Basic("alice", "alice-wrong-guess"), nil)
		e.Do("GET", "/api/v1/me", bearer(key), nil)

		evs := e.Must(200, e.Admin("GET", "/api/v1/events?page_size=500", nil))
		lists := []string{string(evs.Body), e.Logs.String(),
			string(e.Must(200, e.Admin("GET", "/api/v1/tokens", nil)).Body),
			string(e.Must(200, e.Admin("GET", "/api/v1/users/alice", nil)).Body)}
		for _, secret := range []string{key, rot, bad, "alice-secret-pw", "alice-new-secret", "alice-wrong-guess", servertest.AdminToken, servertest.AdminPassword} {
			for i, l := range lists {
				if strings.Contains(l, secret) {
					t.Errorf("secret %q found in output %d", secret[:6], i)
				}
			}
		}
		var page struct {
			Items []map[string]any `json:"items"`
		}
		_ = json.Unmarshal(evs.Body, &page)
		failed := 0
		for _, ev := range page.Items {
			if ev["action"] == "login_failed" {
				failed++
			}
		}
		if failed < 2 {
			t.Fatalf("login_failed events: %d", failed)
		}
		_ = io.Discard
	})
}

func TestCleanupAndLastUsed(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		newSA(e, "bot")
		app, _ := newToken(e, map[string]any{"user": "bot", "intent": "app_password", "ttl": "1h", "identifier": "short-app"})
		api, _ := newToken(e, map[string]any{"user": "bot", "ttl": "1h", "identifier": "short-api"})
		ctx := context.Background()
		authn := e.App.Core.Authenticator()

		// Last use shows at once in lists, and is persisted by the flusher.
		tok := e.Must(200, e.Admin("GET", "/api/v1/tokens/short-api", nil)).JSON()
		if tok["last_used_at"] != nil {
			t.Fatalf("unused token shows last use %v", tok["last_used_at"])
		}
		e.Clock.Advance(time.Minute)
		used := e.Clock.Now().Format(time.RFC3339)
		e.Must(200, e.Do("GET", "/api/v1/me", bearer(api), nil))
		tok = e.Must(200, e.Admin("GET", "/api/v1/tokens/short-api", nil)).JSON()
		if tok["last_used_at"] != used {
			t.Fatalf("last_used_at %v, want %v", tok["last_used_at"], used)
		}
		if err := authn.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		stored, err := e.App.Store.GetToken(ctx, "short-api")
		if err != nil || stored.LastUsedAt == nil || stored.LastUsedAt.Format(time.RFC3339) != used {
			t.Fatalf("stored last use %v, %v", stored.LastUsedAt, err)
		}
		unused := e.Must(200, e.Admin("GET", "/api/v1/tokens?unused_for=1s", nil)).JSON()["items"].([]any)
		for _, it := range unused {
			if it.(map[string]any)["identifier"] == "short-api" {
				t.Fatal("a used token is listed as unused")
			}
		}
		soon := e.Must(200, e.Admin("GET", "/api/v1/tokens?expiring_within=2h", nil)).JSON()["items"].([]any)
		if len(soon) != 2 {
			t.Fatalf("expiring within 2h: %v", soon)
		}

		// Expired app passwords are deleted with an event; expired API tokens stay listed.
		if _, _, err := authn.VerifyAppPassword(ctx, "bot", app); err != nil {
			t.Fatal(err)
		}
		e.Clock.Advance(2 * time.Hour)
		if _, _, err := authn.VerifyAppPassword(ctx, "bot", app); err == nil {
			t.Fatal("expired app password accepted before cleanup")
		}
		if err := e.App.Core.Cleanup(ctx); err != nil {
			t.Fatal(err)
		}
		e.Must(404, e.Admin("GET", "/api/v1/tokens/short-app", nil))
		e.Must(200, e.Admin("GET", "/api/v1/tokens/short-api", nil))
		evs := e.Must(200, e.Admin("GET", "/api/v1/events?action=token_expired", nil)).JSON()["items"].([]any)
		if len(evs) != 1 || evs[0].(map[string]any)["target"].(map[string]any)["name"] != "short-app" {
			t.Fatalf("token_expired events: %v", evs)
		}
		// An expired API token rotates into a new, working key with a new expiry.
		r := e.Must(200, e.Admin("POST", "/api/v1/tokens/short-api/rotate", nil)).JSON()
		e.Must(200, e.Do("GET", "/api/v1/me", bearer(r["key"].(string)), nil))
		if r["expired"] != false {
			t.Fatalf("rotated token still expired: %v", r)
		}
	})
}

// TestScopedGrantsCannotEscalate: a holder of group-scoped grants cannot
// reach beyond its own rights by acting on the group's members.
func TestScopedGrantsCannotEscalate(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.Must(201, e.Admin("POST", "/api/v1/groups", map[string]any{"name": "team"}))
		e.Must(201, e.Admin("POST", "/api/v1/groups", map[string]any{"name": "ops"}))
		e.Must(201, e.Admin("POST", "/api/v1/roles", map[string]any{"name": "team-lead",
			"permissions": []string{"tokens.write@group/team", "groups.write@group/team", "groups.write@group/ops", "users.read"}}))
		e.Must(201, e.Admin("POST", "/api/v1/roles", map[string]any{"name": "ops-power", "permissions": []string{"users.write"}}))
		e.Must(204, e.Admin("PUT", "/api/v1/roles/ops-power/assignments/groups/ops", nil))
		e.Must(201, e.Admin("POST", "/api/v1/service-accounts", map[string]any{"username": "lead", "token_intent": "none", "roles": []string{"team-lead"}}))
		e.Must(201, e.Admin("POST", "/api/v1/service-accounts", map[string]any{"username": "member", "token_intent": "none", "groups": []string{"team"}}))
		e.Must(201, e.Admin("POST", "/api/v1/service-accounts", map[string]any{"username": "mighty", "token_intent": "none", "groups": []string{"team"}, "roles": []string{"ops-power"}}))
		lead, _ := newToken(e, map[string]any{"user": "lead"})

		// Within bounds: a plain member's token.
		e.Must(201, e.Do("POST", "/api/v1/tokens", bearer(lead), map[string]any{"user": "member"}))
		// Beyond: the admin put into the group, a more powerful member, itself into ops.
		e.Must(403, e.Do("PUT", "/api/v1/groups/team/members/admin", bearer(lead), nil))
		e.Must(403, e.Do("POST", "/api/v1/tokens", bearer(lead), map[string]any{"user": "admin"}))
		e.Must(403, e.Do("POST", "/api/v1/tokens", bearer(lead), map[string]any{"user": "mighty"}))
		e.Must(403, e.Do("PUT", "/api/v1/groups/ops/members/lead", bearer(lead), nil))
		// The scoped grant manages members, not the group itself.
		e.Must(403, e.Do("PATCH", "/api/v1/groups/team", bearer(lead), map[string]any{"description": "mine"}))
		me := e.Must(200, e.Do("GET", "/api/v1/me", bearer(lead), nil)).JSON()
		if fmt.Sprint(me["groups"]) != "[]" {
			t.Fatalf("lead joined %v", me["groups"])
		}
	})
}

// TestGraceKeyCannotManageTokens: the owner rotates a leaked key with a
// short grace; the old key still works for the grace, but its holder
// cannot rotate again (to a year-long key, making the owner's key the
// grace key), create, change or revoke tokens.
func TestGraceKeyCannotManageTokens(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		// It could otherwise mint keys for new accounts and outposts too.
		e.Must(201, e.Admin("POST", "/api/v1/roles", map[string]any{"name": "self-service", "permissions": []string{"tokens.self", "users.write", "ldap.write", "ldap.read"}}))
		e.Must(201, e.Admin("POST", "/api/v1/ldap-providers", map[string]any{"name": "corp", "base_dn": "dc=corp,dc=example"}))
		e.Must(201, e.Admin("POST", "/api/v1/service-accounts", map[string]any{"username": "bot", "token_intent": "none", "roles": []string{"self-service"}}))
		leaked, _ := newToken(e, map[string]any{"user": "bot", "identifier": "ci", "ttl": "720h"})
		other, _ := newToken(e, map[string]any{"user": "bot", "identifier": "other", "ttl": "720h"})
		fresh := e.Must(200, e.Do("POST", "/api/v1/tokens/ci/rotate", bearer(leaked), map[string]any{"grace": "10m"})).JSON()["key"].(string)
		expires := e.Must(200, e.Admin("GET", "/api/v1/tokens/ci", nil)).JSON()["expires_at"]

		e.Must(200, e.Do("GET", "/api/v1/me", bearer(leaked), nil)) // usable for the grace
		until := e.Clock.Now().Add(10 * time.Minute).Format(time.RFC3339)
		for _, c := range []struct {
			method, path string
			body         any
		}{
			{"POST", "/api/v1/tokens/ci/rotate", map[string]any{"grace": "720h", "ttl": "8760h"}},
			{"POST", "/api/v1/tokens/ci/rotate", nil},
			{"POST", "/api/v1/tokens/other/rotate", nil},
			{"POST", "/api/v1/tokens", map[string]any{"identifier": "new", "ttl": "8760h"}},
			{"PATCH", "/api/v1/tokens/ci", map[string]any{"ttl": "8760h"}},
			{"PATCH", "/api/v1/tokens/other", map[string]any{"description": "mine"}},
			{"DELETE", "/api/v1/tokens/ci", nil},
			{"DELETE", "/api/v1/tokens/other", nil},
			{"POST", "/api/v1/service-accounts", map[string]any{"username": "minted", "token_intent": "api"}},
			{"POST", "/api/v1/outposts", map[string]any{"name": "minted", "provider": "corp"}},
		} {
			r := e.Do(c.method, c.path, bearer(leaked), c.body)
			if r.Status != 403 || r.Header.Get("Content-Type") != "application/problem+json" ||
				!strings.Contains(r.JSON()["detail"].(string), "rotated") || !strings.Contains(r.JSON()["detail"].(string), until) {
				t.Errorf("%s %s with the grace key: %d %s", c.method, c.path, r.Status, r.Body)
			}
		}
		// Reading is using.
		e.Must(200, e.Do("GET", "/api/v1/tokens/ci", bearer(leaked), nil))
		e.Must(200, e.Do("GET", "/api/v1/tokens", bearer(leaked), nil))

		// Nothing changed: the owner's key is current, the expiry and the
		// other token as they were, no token made.
		e.Must(200, e.Do("GET", "/api/v1/me", bearer(fresh), nil))
		e.Must(200, e.Do("GET", "/api/v1/me", bearer(other), nil))
		if got := e.Must(200, e.Admin("GET", "/api/v1/tokens/ci", nil)).JSON()["expires_at"]; got != expires {
			t.Fatalf("expiry moved from %v to %v", expires, got)
		}
		e.Must(404, e.Admin("GET", "/api/v1/tokens/new", nil))
		e.Must(404, e.Admin("GET", "/api/v1/users/minted", nil))
		e.Must(404, e.Admin("GET", "/api/v1/outposts/minted", nil))
		e.Clock.Advance(10 * time.Minute)
		e.Must(401, e.Do("GET", "/api/v1/me", bearer(leaked), nil))
		e.Must(200, e.Do("GET", "/api/v1/me", bearer(fresh), nil))

		// Each refusal is an authz_denied event saying why, without a key.
		evs := e.Must(200, e.Admin("GET", "/api/v1/events?action=authz_denied&actor=bot&page_size=100", nil))
		var page struct {
			Items []struct {
				Context map[string]any `json:"context"`
			} `json:"items"`
		}
		evs.Decode(t, &page)
		n := 0
		for _, ev := range page.Items {
			if ev.Context["reason"] == "key_in_rotation_grace" && ev.Context["via_token"] == "ci" {
				n++
			}
		}
		if n != 10 || strings.Contains(string(evs.Body), leaked) || strings.Contains(string(evs.Body), fresh) {
			t.Fatalf("%d grace refusals in %s", n, evs.Body)
		}
		// The current key manages tokens as before.
		e.Must(200, e.Do("POST", "/api/v1/tokens/ci/rotate", bearer(fresh), nil))
	})
}

// TestRotationStaysWithinCreationLimits: a rotation gives the new key no
// more than creating the token would allow now, and the old key no life
// beyond the expiry it had.
func TestRotationStaysWithinCreationLimits(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, s store.Store) {
		e := servertest.Start(t, s)
		newSA(e, "bot")
		newToken(e, map[string]any{"user": "bot", "identifier": "forever", "expiring": false})
		newToken(e, map[string]any{"user": "bot", "identifier": "sliding", "extended": true, "max_age": "2400h"})
		short, _ := newToken(e, map[string]any{"user": "bot", "identifier": "short", "ttl": "5m"})

		// The grace does not outlive the old key's expiry.
		e.Must(200, e.Admin("POST", "/api/v1/tokens/short/rotate", map[string]any{"grace": "1h"}))
		e.Clock.Advance(5 * time.Minute)
		e.Must(401, e.Do("GET", "/api/v1/me", bearer(short), nil))

		// The server now has a limit (90 days): tokens made before it
		// come back within it when rotated.
		limited := servertest.Start(t, s, func(c *config.Config) { c.TokenMaxTTL = 90 * 24 * time.Hour })
		limited.Clock.Set(e.Clock.Now())
		r := limited.Must(200, limited.Admin("POST", "/api/v1/tokens/forever/rotate", nil)).JSON()
		if r["expiring"] != true || r["expires_at"] != limited.Clock.Now().Add(90*24*time.Hour).Format(time.RFC3339) {
			t.Fatalf("non-expiring token rotated under a limit: %v", r)
		}
		r = limited.Must(200, limited.Admin("POST", "/api/v1/tokens/sliding/rotate", nil)).JSON()
		if r["max_age"] != "2160h0m0s" || r["expires_at"] != limited.Clock.Now().Add(90*24*time.Hour).Format(time.RFC3339) {
			t.Fatalf("extended token rotated under a limit: %v", r)
		}
		limited.Must(400, limited.Admin("POST", "/api/v1/tokens/short/rotate", map[string]any{"ttl": "2400h"}))
	})
}

// TestManagedTokenRotationKeepsServerLifetime: an outpost's token lives
// as long as the server says, whoever rotates it and whatever they ask.
func TestManagedTokenRotationKeepsServerLifetime(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.Must(201, e.Admin("POST", "/api/v1/ldap-providers", map[string]any{"name": "corp", "base_dn": "dc=example,dc=com"}))
		created := e.Must(201, e.Admin("POST", "/api/v1/outposts", map[string]any{"name": "rack1", "provider": "corp", "ttl": "1h"})).JSON()
		key := created["token"].(map[string]any)["key"].(string)
		id := created["token"].(map[string]any)["identifier"].(string)
		for _, body := range []map[string]any{{"ttl": "100000h"}, {"ttl": "1h"}, {"expires_at": "2038-01-19T03:14:07Z"}, {"grace": "1m", "ttl": "8760h"}} {
			r := e.Do("POST", "/api/v1/tokens/"+id+"/rotate", bearer(key), body)
			field := "ttl"
			if body["expires_at"] != nil {
				field = "expires_at"
			}
			if r.Status != 400 || !strings.Contains(string(r.Body), `"field":"`+field+`"`) {
				t.Errorf("rotate %v: %d %s", body, r.Status, r.Body)
			}
		}
		e.Clock.Advance(30 * time.Minute)
		r := e.Must(200, e.Do("POST", "/api/v1/tokens/"+id+"/rotate", bearer(key), map[string]any{"grace": "1m"})).JSON()
		if r["expires_at"] != e.Clock.Now().Add(time.Hour).Format(time.RFC3339) {
			t.Fatalf("outpost rotation: expires_at %v", r["expires_at"])
		}
		key = r["key"].(string)
		// An administrator's rotation gives the same.
		e.Clock.Advance(10 * time.Minute)
		r = e.Must(200, e.Admin("POST", "/api/v1/outposts/rack1/rotate", nil)).JSON()["token"].(map[string]any)
		if r["expires_at"] != e.Clock.Now().Add(time.Hour).Format(time.RFC3339) {
			t.Fatalf("admin rotation: expires_at %v", r["expires_at"])
		}
		e.Must(401, e.Do("GET", "/api/v1/me", bearer(key), nil))
		e.Must(200, e.Do("GET", "/api/v1/me", bearer(r["key"].(string)), nil))
	})
}

// TestExpiriesBeyondTheBoundAreRefused: no lifetime reaches more than 100
// years ahead (times past 2262 do not fit the authenticator's clock):
// every door that takes one answers 400 naming the field and changes
// nothing. Up to the bound, the key works.
func TestExpiriesBeyondTheBoundAreRefused(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		newSA(e, "bot")
		newToken(e, map[string]any{"user": "bot", "identifier": "ci", "ttl": "1h"})
		e.Must(201, e.Admin("POST", "/api/v1/ldap-providers", map[string]any{"name": "corp", "base_dn": "dc=example,dc=com"}))
		far := e.Clock.Now().Add(100*365*24*time.Hour + time.Second).Format(time.RFC3339)
		cases := []struct {
			method, path string
			body         map[string]any
			field        string
		}{
			{"POST", "/api/v1/tokens", map[string]any{"user": "bot", "expires_at": "2300-01-01T00:00:00Z"}, "expires_at"},
			{"POST", "/api/v1/tokens", map[string]any{"user": "bot", "expires_at": "9999-12-31T23:59:59Z"}, "expires_at"},
			{"POST", "/api/v1/tokens", map[string]any{"user": "bot", "expires_at": far}, "expires_at"},
			{"POST", "/api/v1/tokens", map[string]any{"user": "bot", "ttl": "876001h"}, "ttl"},
			{"POST", "/api/v1/tokens", map[string]any{"user": "bot", "ttl": "2562047h"}, "ttl"},
			{"POST", "/api/v1/tokens", map[string]any{"user": "bot", "extended": true, "max_age": "876001h"}, "max_age"},
			{"POST", "/api/v1/service-accounts", map[string]any{"username": "bot2", "token_intent": "api", "expires_at": "2300-01-01T00:00:00Z"}, "expires_at"},
			{"POST", "/api/v1/service-accounts", map[string]any{"username": "bot2", "token_intent": "api", "ttl": "2000000h"}, "ttl"},
			{"PATCH", "/api/v1/tokens/ci", map[string]any{"expires_at": "9999-12-31T23:59:59Z"}, "expires_at"},
			{"PATCH", "/api/v1/tokens/ci", map[string]any{"extended": true, "max_age": "2000000h"}, "max_age"},
			{"POST", "/api/v1/tokens/ci/rotate", map[string]any{"expires_at": "2300-01-01T00:00:00Z"}, "expires_at"},
			{"POST", "/api/v1/tokens/ci/rotate", map[string]any{"ttl": "2000000h"}, "ttl"},
			{"POST", "/api/v1/tokens/ci/rotate", map[string]any{"grace": "2000000h"}, "grace"},
			{"POST", "/api/v1/outposts", map[string]any{"name": "rack1", "provider": "corp", "ttl": "2000000h"}, "ttl"},
		}
		for _, c := range cases {
			r := e.Do(c.method, c.path, bearer(servertest.AdminToken), c.body)
			if r.Status != 400 || !strings.Contains(string(r.Body), `"field":"`+c.field+`"`) {
				t.Errorf("%s %s %v: %d %s", c.method, c.path, c.body, r.Status, r.Body)
			}
		}
		if items := e.Must(200, e.Admin("GET", "/api/v1/tokens?user=bot", nil)).JSON()["items"].([]any); len(items) != 1 {
			t.Fatalf("refused requests made tokens: %v", items)
		}
		tok := e.Must(200, e.Admin("GET", "/api/v1/tokens/ci", nil)).JSON()
		if tok["expires_at"] != e.Clock.Now().Add(time.Hour).Format(time.RFC3339) {
			t.Fatalf("refused requests changed the token: %v", tok)
		}
		e.Must(404, e.Admin("GET", "/api/v1/users/bot2", nil))
		e.Must(404, e.Admin("GET", "/api/v1/outposts/rack1", nil))

		// At the bound: accepted, and the key works.
		edge := e.Clock.Now().Add(100 * 365 * 24 * time.Hour).Format(time.RFC3339)
		key, _ := newToken(e, map[string]any{"user": "bot", "expires_at": edge})
		e.Must(200, e.Do("GET", "/api/v1/me", bearer(key), nil))
		key, _ = newToken(e, map[string]any{"user": "bot", "extended": true, "max_age": "876000h"})
		e.Must(200, e.Do("GET", "/api/v1/me", bearer(key), nil))
		e.Must(200, e.Do("GET", "/api/v1/me", bearer(key), nil))
	})
}

// TestStoredFarExpiriesStillWork: expiries stored before the bound (up to
// year 9999) do not overflow the authenticator: such keys work until
// then, and rotating one (an outpost's managed token included) gives a
// lifetime within the bound.
func TestStoredFarExpiriesStillWork(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		newSA(e, "bot")
		fixed, _ := newToken(e, map[string]any{"user": "bot", "identifier": "fixed", "ttl": "1h"})
		sliding, _ := newToken(e, map[string]any{"user": "bot", "identifier": "sliding", "extended": true, "max_age": "1h"})
		e.Must(201, e.Admin("POST", "/api/v1/ldap-providers", map[string]any{"name": "corp", "base_dn": "dc=example,dc=com"}))
		created := e.Must(201, e.Admin("POST", "/api/v1/outposts", map[string]any{"name": "rack1", "provider": "corp", "ttl": "1h"})).JSON()
		outpost := created["token"].(map[string]any)["key"].(string)
		managed := created["token"].(map[string]any)["identifier"].(string)

		y9999 := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
		for _, id := range []string{"fixed", "sliding", managed} {
			tk, err := e.App.Store.GetToken(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			tk.ExpiresAt = &y9999
			if tk.Extended {
				tk.MaxAge = 250 * 365 * 24 * time.Hour
			}
			if err := e.App.Store.UpdateToken(ctx, tk); err != nil {
				t.Fatal(err)
			}
		}
		e.App.Core.Authenticator().InvalidateAll()
		for i := 0; i < 2; i++ {
			e.Must(200, e.Do("GET", "/api/v1/me", bearer(fixed), nil))
			e.Must(200, e.Do("GET", "/api/v1/me", bearer(sliding), nil))
			e.Must(200, e.Do("GET", "/api/v1/me", bearer(outpost), nil))
			e.Clock.Advance(2 * time.Hour)
		}
		if err := e.App.Core.Authenticator().Flush(ctx); err != nil {
			t.Fatal(err)
		}
		e.Must(200, e.Do("GET", "/api/v1/me", bearer(sliding), nil))

		limit := e.Clock.Now().Add(100 * 365 * 24 * time.Hour).Format(time.RFC3339)
		r := e.Must(200, e.Admin("POST", "/api/v1/tokens/fixed/rotate", nil)).JSON()
		if r["expires_at"] != limit {
			t.Fatalf("fixed token rotated to %v, want %v", r["expires_at"], limit)
		}
		e.Must(200, e.Do("GET", "/api/v1/me", bearer(r["key"].(string)), nil))
		r = e.Must(200, e.Admin("POST", "/api/v1/tokens/sliding/rotate", nil)).JSON()
		if r["expires_at"] != limit || r["max_age"] != "876000h0m0s" {
			t.Fatalf("extended token rotated to %v, max_age %v", r["expires_at"], r["max_age"])
		}
		e.Must(200, e.Do("GET", "/api/v1/me", bearer(r["key"].(string)), nil))
		// The outpost's token: back to the outpost's own lifetime.
		r = e.Must(200, e.Admin("POST", "/api/v1/outposts/rack1/rotate", nil)).JSON()["token"].(map[string]any)
		if r["expires_at"] != e.Clock.Now().Add(time.Hour).Format(time.RFC3339) {
			t.Fatalf("managed token rotated to %v", r["expires_at"])
		}
		e.Must(200, e.Do("GET", "/api/v1/me", bearer(r["key"].(string)), nil))
	})
}

// TestTokensPerAccountAreCapped: an account holds at most
// GATEHOUSE_MAX_TOKENS_PER_ACCOUNT tokens and app passwords; beyond, 409
// naming the limit and the setting, even for requests racing each other.
// Rotation is not creation, and revoking makes room. (Outposts' managed
// tokens are not counted: storetest's tokens/count.)
func TestTokensPerAccountAreCapped(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, s store.Store) {
		e := servertest.Start(t, s, func(c *config.Config) { c.MaxTokensPerAccount = 4 })
		created := e.Must(201, e.Admin("POST", "/api/v1/service-accounts", map[string]any{"username": "bot", "token_intent": "api"})).JSON()
		first := created["token"].(map[string]any)["identifier"].(string)
		newToken(e, map[string]any{"user": "bot", "intent": "app_password"})
		newToken(e, map[string]any{"user": "bot", "identifier": "short", "ttl": "1m"})
		newToken(e, map[string]any{"user": "bot"})
		e.Clock.Advance(time.Hour) // an expired API token is still held until deleted
		over := func(r *servertest.Resp) {
			t.Helper()
			if r.Status != 409 || r.Header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("over the limit: %d %s", r.Status, r.Body)
			}
			detail := r.JSON()["detail"].(string)
			for _, want := range []string{`"bot"`, "at most 4", "GATEHOUSE_MAX_TOKENS_PER_ACCOUNT"} {
				if !strings.Contains(detail, want) {
					t.Fatalf("detail %q lacks %q", detail, want)
				}
			}
		}
		over(e.Admin("POST", "/api/v1/tokens", map[string]any{"user": "bot", "identifier": "fifth"}))
		over(e.Admin("POST", "/api/v1/tokens", map[string]any{"user": "bot", "intent": "app_password"}))
		e.Must(404, e.Admin("GET", "/api/v1/tokens/fifth", nil))
		e.Must(200, e.Admin("POST", "/api/v1/tokens/"+first+"/rotate", nil))
		e.Must(204, e.Admin("DELETE", "/api/v1/tokens/short", nil))
		e.Must(201, e.Admin("POST", "/api/v1/tokens", map[string]any{"user": "bot", "identifier": "fifth"}))
		over(e.Admin("POST", "/api/v1/tokens", map[string]any{"user": "bot"}))
		// The limit is per account: the admin is not affected.
		newToken(e, map[string]any{})

		// Racing requests: exactly the limit get through.
		newSA(e, "racer")
		var wg sync.WaitGroup
		statuses := make([]int, 12)
		for i := range statuses {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i] = e.Admin("POST", "/api/v1/tokens", map[string]any{"user": "racer"}).Status
			}()
		}
		wg.Wait()
		made := 0
		for _, st := range statuses {
			switch st {
			case 201:
				made++
			case 409:
			default:
				t.Fatalf("racing creation answered %d", st)
			}
		}
		held := len(e.Must(200, e.Admin("GET", "/api/v1/tokens?user=racer", nil)).JSON()["items"].([]any))
		if made != 4 || held != 4 {
			t.Fatalf("racing creations: %d made, %d held, limit 4", made, held)
		}

	})
}
