package api_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/server/servertest"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

// warmMe is GET /api/v1/me with a service account's API token through
// the server's whole handler, as Assemble builds it, warmed.
func warmMe(tb testing.TB) (http.Handler, *http.Request) {
	tb.Helper()
	// At the default log level, as served: the access log is not written.
	e := servertest.Start(tb, storetest.NewSQLite(tb), func(c *config.Config) { c.LogLevel = "info" })
	created := e.Must(201, e.Admin("POST", "/api/v1/service-accounts", map[string]any{
		"username": "bot", "create_group": true, "token_intent": "api"})).JSON()
	key := created["token"].(map[string]any)["key"].(string)
	req := httptest.NewRequest("GET", "/api/v1/me", nil)
	req.RemoteAddr = "127.0.0.1:40000"
	req.Header.Set("Authorization", "Bearer "+key)
	w := testenv.NewDiscard()
	e.App.Handler.ServeHTTP(w, req)
	if w.Status != 200 {
		tb.Fatalf("warm-up: %d", w.Status)
	}
	return e.App.Handler, req
}

// BenchmarkMe is a warm GET /api/v1/me through the whole handler: no
// database query, no allocation (TestMeAllocatesNothing).
func BenchmarkMe(b *testing.B) {
	h, req := warmMe(b)
	testenv.BenchHandler(b, h, req)
}

// TestMeAllocatesNothing holds the warm GET /me to no allocation in the
// server's handler (net/http's own aside), as forward-auth is held:
// allocation counts, unlike times, do not depend on the machine.
func TestMeAllocatesNothing(t *testing.T) {
	h, req := warmMe(t)
	n, status := testenv.HandlerAllocs(h, req)
	if status != 200 || n != 0 {
		t.Fatalf("a warm GET /me: status %d, %.0f allocations (budget 0)", status, n)
	}
}
