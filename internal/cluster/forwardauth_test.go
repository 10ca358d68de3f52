package cluster_test

import (
	"net/http"
	"testing"

	"github.com/gatehouse/gatehouse/internal/server/servertest"
)

// TestBindingChangesReachTheOtherInstance: forward-auth on one instance
// answers from its admission cache; a binding changed through another
// instance must reach it by notification, as credential changes do.
func TestBindingChangesReachTheOtherInstance(t *testing.T) {
	a, b := pair(t, notified)
	sa := a.Must(201, a.Admin("POST", "/api/v1/service-accounts", map[string]any{"username": "bot", "token_intent": "api"})).JSON()
	key := sa["token"].(map[string]any)["key"].(string)
	a.Must(201, a.Admin("POST", "/api/v1/service-accounts", map[string]any{"username": "other", "token_intent": "none"}))
	a.Must(201, a.Admin("POST", "/api/v1/applications", map[string]any{"slug": "wiki", "name": "Wiki"}))
	ask := func() int {
		return b.Do("GET", "/outpost/forward-auth/wiki", servertest.Bearer(key), nil).Status
	}
	// Warm on B: open application.
	within(t, "application visible on B", http.StatusOK, ask)
	a.Must(200, a.Admin("PUT", "/api/v1/applications/wiki/bindings/users/other", nil))
	t.Logf("binding reached B in %s", within(t, "bound to another account", http.StatusForbidden, ask))
	a.Must(200, a.Admin("PUT", "/api/v1/applications/wiki/bindings/users/bot", nil))
	t.Logf("second binding reached B in %s", within(t, "bound too", http.StatusOK, ask))
	a.Must(200, a.Admin("PATCH", "/api/v1/applications/wiki", map[string]any{"policy_engine_mode": "all"}))
	within(t, "mode all", http.StatusForbidden, ask)
	a.Must(204, a.Admin("DELETE", "/api/v1/service-accounts/other", nil))
	within(t, "the other account deleted with its binding", http.StatusOK, ask)
}
