package httpx

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

var newID = regexp.MustCompile(`^[0-9a-f]{32}$`)

func serveID(t *testing.T, h http.Handler, sent ...string) string {
	t.Helper()
	r := httptest.NewRequest("GET", "/", nil)
	for _, v := range sent {
		r.Header.Add("X-Request-ID", v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if got := w.Header().Values("X-Request-ID"); len(got) != 1 {
		t.Fatalf("sent %q: the answer has X-Request-ID %q, want one", sent, got)
	}
	return w.Header().Get("X-Request-ID")
}

func TestRequestID(t *testing.T) {
	var seen string
	h := RequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = RequestIDOf(w) }))

	// New IDs: random, different every time (across batches too), and
	// the one the handler sees.
	ids := map[string]bool{}
	for range 3 * idsPerBatch {
		id := serveID(t, h)
		if !newID.MatchString(id) || ids[id] || seen != id {
			t.Fatalf("new ID %q (handler saw %q): not 32 hex digits, or seen before", id, seen)
		}
		ids[id] = true
	}
	// A valid ID is echoed as sent.
	for _, v := range []string{"f3a9c0de5b1e4d2a8f7c6b5a4d3e2f10", "123e4567-e89b-12d3-a456-426614174000",
		"Root=1-67891233-abcdef012345678912345678", "a", strings.Repeat("x", maxRequestID)} {
		if id := serveID(t, h, v); id != v {
			t.Errorf("sent %q, answered %q", v, id)
		}
	}
	// Anything else is replaced by a new one: nothing that would need
	// quoting reaches a log line.
	for _, sent := range [][]string{{""}, {strings.Repeat("x", maxRequestID+1)}, {"two words"}, {`a"b`},
		{"a\nb"}, {"é"}, {"a", "b"}} {
		if id := serveID(t, h, sent...); !newID.MatchString(id) {
			t.Errorf("sent %q, answered %q", sent, id)
		}
	}
}

// TestRequestIDAllocations: forward-auth's warm path has an allocation
// budget, and every request passes here: a new ID costs less than one
// allocation (two per batch), an echoed one none.
func TestRequestIDAllocations(t *testing.T) {
	h := RequestID(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	w := &discard{h: http.Header{}}
	for _, sent := range []string{"", "f3a9c0de5b1e4d2a8f7c6b5a4d3e2f10"} {
		r := httptest.NewRequest("GET", "/", nil)
		if sent != "" {
			r.Header.Set("X-Request-ID", sent)
		}
		// AllocsPerRun rounds down: 0 means fewer than one a request.
		if got := testing.AllocsPerRun(4*idsPerBatch, func() {
			clear(w.h)
			h.ServeHTTP(w, r)
		}); got != 0 {
			t.Errorf("sent %q: %.2f allocations a request", sent, got)
		}
	}
}

// TestAccessLogLine: the access log names the request ID and the client
// from the resolver it is given.
func TestAccessLogLine(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /thing/{name}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	h := RequestID(Instrument(mux, NewMetrics(), func(*http.Request) string { return "198.51.100.7" }, log))
	r := httptest.NewRequest("GET", "/thing/x?secret=1", nil)
	r.Header.Set("X-Request-ID", "abc-123")
	h.ServeHTTP(httptest.NewRecorder(), r)
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("%v: %s", err, buf.Bytes())
	}
	for k, want := range map[string]any{"msg": "request", "route": "GET /thing/{name}", "status": float64(418),
		"client": "198.51.100.7", "request_id": "abc-123"} {
		if line[k] != want {
			t.Errorf("%s = %v, want %v (%s)", k, line[k], want, buf.Bytes())
		}
	}
	if strings.Contains(buf.String(), "secret") {
		t.Errorf("the query string reached the log: %s", buf.Bytes())
	}
}

// BenchmarkRequestID is the cost RequestID adds to every request: a new
// ID, and an echoed one.
func BenchmarkRequestID(b *testing.B) {
	h := RequestID(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for _, sent := range []string{"", "f3a9c0de5b1e4d2a8f7c6b5a4d3e2f10"} {
		name := "new"
		if sent != "" {
			name = "echoed"
		}
		b.Run(name, func(b *testing.B) {
			w := &discard{h: http.Header{}}
			r := httptest.NewRequest("GET", "/", nil)
			if sent != "" {
				r.Header.Set("X-Request-ID", sent)
			}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				h.ServeHTTP(w, r)
			}
		})
	}
}
