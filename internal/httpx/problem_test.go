package httpx

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// TestConstProblemIsAProblem: the fast writer's answer is byte for byte
// what WriteProblem writes, so that a client cannot tell the doors apart.
func TestConstProblemIsAProblem(t *testing.T) {
	for _, c := range []struct {
		status int
		detail string
	}{
		{http.StatusUnauthorized, "the credential is not valid"},
		{http.StatusForbidden, "you may not use this application"},
		{http.StatusNotFound, "no such application"},
		{http.StatusTooManyRequests, "too many failed attempts; retry later"},
		{http.StatusServiceUnavailable, "access cannot be checked right now"},
		{http.StatusInternalServerError, "internal error; see the server log"},
	} {
		fast, slow := httptest.NewRecorder(), httptest.NewRecorder()
		WriteConstProblem(fast, c.status, c.detail)
		WriteProblem(slow, c.status, c.detail)
		if fast.Code != slow.Code || fast.Body.String() != slow.Body.String() {
			t.Errorf("%d: %d %q, WriteProblem: %d %q", c.status, fast.Code, fast.Body, slow.Code, slow.Body)
		}
		for _, k := range []string{"Content-Type", "Cache-Control"} {
			if fast.Header().Get(k) != slow.Header().Get(k) {
				t.Errorf("%d: %s %q, WriteProblem: %q", c.status, k, fast.Header().Get(k), slow.Header().Get(k))
			}
		}
	}
}

// discard keeps nothing, so that what is counted is the writer's work.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

// TestConstProblemAllocations holds the fast writer to its one
// allocation (the body), which forward-auth's refusals rely on.
func TestConstProblemAllocations(t *testing.T) {
	w := &discard{h: http.Header{}}
	got := testing.AllocsPerRun(100, func() {
		clear(w.h)
		WriteConstProblem(w, http.StatusForbidden, "you may not use this application")
	})
	if got > 1 {
		t.Fatalf("WriteConstProblem allocates %.0f times, want at most 1", got)
	}
}

func TestRetryAfter(t *testing.T) {
	for wait, want := range map[time.Duration]string{0: "1", time.Millisecond: "1", 2 * time.Second: "2",
		2*time.Second + time.Millisecond: "3", 90 * time.Second: "90"} {
		h := http.Header{}
		if secs := RetryAfter(h, wait); h.Get("Retry-After") != want || strconv.Itoa(secs) != want {
			t.Errorf("%s: Retry-After %q (%d), want %s", wait, h.Get("Retry-After"), secs, want)
		}
	}
}
