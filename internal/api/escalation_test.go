package api_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/internal/server/servertest"
)

// TestUnscopedGrantsCannotTakeOverMorePowerfulAccounts: tokens.write and
// users.write act on other accounts, but an action that hands the actor
// an account (a key issued or rotated for it, its password set, its
// second factor removed) only works on accounts that hold no more than
// the actor. Otherwise holding either would make anyone an administrator.
func TestUnscopedGrantsCannotTakeOverMorePowerfulAccounts(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.Must(201, e.Admin("POST", "/api/v1/roles", map[string]any{"name": "token-admin", "permissions": []string{"tokens.write"}}))
		e.Must(201, e.Admin("POST", "/api/v1/roles", map[string]any{"name": "user-admin", "permissions": []string{"users.write", "users.read"}}))
		e.Must(201, e.Admin("POST", "/api/v1/service-accounts", map[string]any{"username": "tokener", "token_intent": "none", "roles": []string{"token-admin"}}))
		e.Must(201, e.Admin("POST", "/api/v1/service-accounts", map[string]any{"username": "plain", "token_intent": "none"}))
		e.Must(201, e.Admin("POST", "/api/v1/users", map[string]any{"username": "helpdesk", "type": "human", "password": "helpdesk-password-1"}))
		e.Must(204, e.Admin("PUT", "/api/v1/roles/user-admin/assignments/users/helpdesk", nil))
		e.Must(201, e.Admin("POST", "/api/v1/users", map[string]any{"username": "alice", "type": "human", "password": "alice-password-123"}))
		tokener, _ := newToken(e, map[string]any{"user": "tokener"})
		helpdesk := servertest.Basic("helpdesk", "helpdesk-password-1")

		// Within bounds: an account holding nothing.
		e.Must(201, e.Do("POST", "/api/v1/tokens", bearer(tokener), map[string]any{"user": "plain", "identifier": "plain-key"}))
		e.Must(200, e.Do("POST", "/api/v1/tokens/plain-key/rotate", bearer(tokener), map[string]any{}))
		e.Must(204, e.Do("PUT", "/api/v1/users/alice/password", helpdesk, map[string]any{"password": "alice-new-password-1"}))

		// Beyond: the administrator's keys and password.
		e.Must(403, e.Do("POST", "/api/v1/tokens", bearer(tokener), map[string]any{"user": "admin"}))
		e.Must(403, e.Do("POST", "/api/v1/tokens/bootstrap/rotate", bearer(tokener), map[string]any{}))
		e.Must(403, e.Do("PATCH", "/api/v1/tokens/bootstrap", bearer(tokener), map[string]any{"expiring": false}))
		e.Must(403, e.Do("PUT", "/api/v1/users/admin/password", helpdesk, map[string]any{"password": "taken-over-password"}))
		e.Must(403, e.Do("DELETE", "/api/v1/users/admin/totp", helpdesk, nil))
		// Nor one another's: each holds something the other lacks.
		e.Must(403, e.Do("POST", "/api/v1/tokens", bearer(tokener), map[string]any{"user": "helpdesk"}))
		e.Must(403, e.Do("PUT", "/api/v1/users/tokener/password", helpdesk, map[string]any{"password": "taken-over-password"}))

		// The refusals are audited, and the administrator is untouched.
		e.Must(200, e.Do("GET", "/api/v1/me", servertest.Basic("admin", servertest.AdminPassword), nil))
		denied := e.Must(200, e.Admin("GET", "/api/v1/events?action=authz_denied&actor=tokener", nil)).JSON()["items"].([]any)
		if len(denied) < 3 {
			t.Fatalf("%d authz_denied events for tokener, want 3 or more", len(denied))
		}
		// A missing owner is still a 404 for those allowed to ask.
		e.Must(404, e.Do("POST", "/api/v1/tokens", bearer(tokener), map[string]any{"user": "nobody"}))
	})
}
