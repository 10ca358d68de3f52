package testenv

import (
	"net/http"
	"testing"
)

// Discard is a ResponseWriter that keeps the status and the header map
// and drops the body, so that a benchmark or an allocation count of a
// handler measures the handler, not a recorder. Reset readies it for the
// next request.
type Discard struct {
	H      http.Header
	Status int
}

// NewDiscard returns a Discard with an empty header map.
func NewDiscard() *Discard { return &Discard{H: http.Header{}} }

func (d *Discard) Header() http.Header { return d.H }

func (d *Discard) Write(b []byte) (int, error) {
	if d.Status == 0 {
		d.Status = http.StatusOK
	}
	return len(b), nil
}

func (d *Discard) WriteHeader(status int) {
	if d.Status == 0 {
		d.Status = status
	}
}

// Reset empties the header map and forgets the status.
func (d *Discard) Reset() {
	clear(d.H)
	d.Status = 0
}

// BenchHandler benchmarks h answering req into a Discard, allocations
// reported, and fails unless the last answer was a 200.
func BenchHandler(b *testing.B, h http.Handler, req *http.Request) {
	b.Helper()
	w := NewDiscard()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w.Reset()
		h.ServeHTTP(w, req)
	}
	if w.Status != http.StatusOK {
		b.Fatalf("status %d", w.Status)
	}
}

// HandlerAllocs is the average allocations of h answering req into a
// Discard over 200 runs, with the status of the last answer.
func HandlerAllocs(h http.Handler, req *http.Request) (allocs float64, status int) {
	w := NewDiscard()
	allocs = testing.AllocsPerRun(200, func() {
		w.Reset()
		h.ServeHTTP(w, req)
	})
	return allocs, w.Status
}
