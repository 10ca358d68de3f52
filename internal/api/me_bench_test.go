package api_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/server/servertest"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
)

// sink is a ResponseWriter that keeps the status and the header map, so
// that what is measured is the server's handler, not a recorder.
type sink struct {
	h      http.Header
	status int
	n      int
}

func (s *sink) Header() http.Header { return s.h }
func (s *sink) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = 200
	}
	s.n += len(b)
	return len(b), nil
}
func (s *sink) WriteHeader(code int) { s.status = code }

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
	w := &sink{h: http.Header{}}
	e.App.Handler.ServeHTTP(w, req)
	if w.status != 200 {
		tb.Fatalf("warm-up: %d", w.status)
	}
	return e.App.Handler, req
}

// BenchmarkMe is a warm GET /api/v1/me through the whole handler: no
// database query, no allocation (TestMeAllocatesNothing).
func BenchmarkMe(b *testing.B) {
	h, req := warmMe(b)
	w := &sink{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		w.status = 0
		h.ServeHTTP(w, req)
	}
	if w.status != 200 {
		b.Fatalf("status %d", w.status)
	}
}

// TestMeAllocatesNothing holds the warm GET /me to no allocation in the
// server's handler (net/http's own aside), as forward-auth is held:
// allocation counts, unlike times, do not depend on the machine.
func TestMeAllocatesNothing(t *testing.T) {
	h, req := warmMe(t)
	w := &sink{h: http.Header{}}
	n := testing.AllocsPerRun(200, func() {
		clear(w.h)
		w.status = 0
		h.ServeHTTP(w, req)
	})
	if w.status != 200 || n != 0 {
		t.Fatalf("a warm GET /me: status %d, %.0f allocations (budget 0)", w.status, n)
	}
}
