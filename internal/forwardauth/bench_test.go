package forwardauth_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gatehouse/gatehouse/internal/server/servertest"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

// warmDoor builds the door over SQLite with a service account admitted
// through a group binding behind a negated user binding, and warms it.
func warmDoor(tb testing.TB) (http.Handler, *http.Request) {
	tb.Helper()
	e := servertest.Start(tb, storetest.NewSQLite(tb))
	created := e.Must(201, e.Admin("POST", "/api/v1/service-accounts", map[string]any{
		"username": "bot", "create_group": true, "token_intent": "api"})).JSON()
	key := created["token"].(map[string]any)["key"].(string)
	e.Must(201, e.Admin("POST", "/api/v1/service-accounts", map[string]any{"username": "intern", "token_intent": "none"}))
	e.Must(201, e.Admin("POST", "/api/v1/applications", map[string]any{"slug": "wiki", "name": "Wiki"}))
	e.Must(200, e.Admin("PUT", "/api/v1/applications/wiki/bindings/users/intern", map[string]any{"order": -1, "negate": true}))
	e.Must(200, e.Admin("PUT", "/api/v1/applications/wiki/bindings/groups/bot", nil))
	// The whole HTTP handler of the server, as Assemble builds it.
	mux := e.App.Handler
	req := httptest.NewRequest("GET", "/outpost/forward-auth/wiki", nil)
	req.RemoteAddr = "127.0.0.1:40000"
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("X-Forwarded-For", "198.51.100.7")
	w := testenv.NewDiscard()
	mux.ServeHTTP(w, req)
	if w.Status != 200 || w.H.Get("X-Gatehouse-User") != "bot" {
		tb.Fatalf("warm-up: %d %v", w.Status, w.H)
	}
	return mux, req
}

// floor is the least any forward-auth answer does: route the request and
// write the three identity headers and the status.
func floor() (http.Handler, *http.Request) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /outpost/forward-auth/{slug}", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["X-Gatehouse-User"] = []string{"bot"}
		h["X-Gatehouse-Type"] = []string{"service_account"}
		h["X-Gatehouse-Groups"] = []string{"bot"}
		w.WriteHeader(http.StatusOK)
	})
	req := httptest.NewRequest("GET", "/outpost/forward-auth/wiki", nil)
	req.Header.Set("Authorization", "Bearer x")
	return mux, req
}

// BenchmarkForwardAuth is a warm, admitted request through the server's
// whole handler (token check, client address from a trusted proxy,
// rate-limit check, two bindings, metrics): no database query; compare
// with BenchmarkForwardAuthFloor, run alongside.
func BenchmarkForwardAuth(b *testing.B) {
	h, req := warmDoor(b)
	testenv.BenchHandler(b, h, req)
}

// BenchmarkForwardAuthFloor is the baseline: routing and writing the
// same headers, nothing checked.
func BenchmarkForwardAuthFloor(b *testing.B) {
	h, req := floor()
	testenv.BenchHandler(b, h, req)
}

// maxWarmAllocs is the allocation budget of a warm, admitted request
// through the whole server handler: none (the identity header values are
// kept per principal), where the floor makes four.
const maxWarmAllocs = 0

// TestWarmAllocations holds the budget (allocation counts do not depend
// on the machine, unlike times).
func TestWarmAllocations(t *testing.T) {
	h, req := warmDoor(t)
	fh, freq := floor()
	got, status := testenv.HandlerAllocs(h, req)
	base, _ := testenv.HandlerAllocs(fh, freq)
	if status != 200 {
		t.Fatalf("a warm forward-auth request: status %d", status)
	}
	t.Logf("warm forward-auth: %.0f allocations; floor: %.0f", got, base)
	if got > maxWarmAllocs {
		t.Fatalf("a warm request allocates %.0f times (budget %d; the floor: %.0f)", got, maxWarmAllocs, base)
	}
}
