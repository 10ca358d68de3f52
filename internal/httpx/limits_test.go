package httpx

import (
	"net/http/httptest"
	"testing"
	"time"
)

func TestLimitsConcurrency(t *testing.T) {
	l := NewLimits(2, 0, 1)
	r1, _ := l.Acquire("a")
	r2, _ := l.Acquire("b")
	if r1 == nil || r2 == nil {
		t.Fatal("refused within the limit")
	}
	if r3, wait := l.Acquire("c"); r3 != nil || wait <= 0 {
		t.Fatal("a third concurrent request was let in")
	}
	r1()
	if r4, _ := l.Acquire("c"); r4 == nil {
		t.Fatal("a released place was not reused")
	}
}

func TestLimitsPerClient(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	l := NewLimits(100, 2, 3) // 2/s, burst 3
	l.now = func() time.Time { return now }
	for i := 0; i < 3; i++ {
		rel, _ := l.Acquire("10.0.0.1")
		if rel == nil {
			t.Fatalf("burst request %d refused", i)
		}
		rel()
	}
	rel, wait := l.Acquire("10.0.0.1")
	if rel != nil || wait != 500*time.Millisecond {
		t.Fatalf("over the burst: release=%v wait=%s", rel != nil, wait)
	}
	if rel, _ := l.Acquire("10.0.0.2"); rel == nil {
		t.Fatal("another client is limited too")
	}
	now = now.Add(500 * time.Millisecond)
	if rel, _ := l.Acquire("10.0.0.1"); rel == nil {
		t.Fatal("the bucket does not refill")
	}
	w := httptest.NewRecorder()
	TooMany(w, 1500*time.Millisecond)
	if w.Code != 429 || w.Header().Get("Retry-After") != "2" || w.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("429 answer: %d %v", w.Code, w.Header())
	}
}
