package testenv

import "net/http"

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
