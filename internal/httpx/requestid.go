package httpx

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"sync"
)

// RequestIDHeader carries a request's ID, in the request (from a client
// or a proxy such as nginx with $request_id) and in every answer. It is
// the canonical form of X-Request-ID, as header maps key it.
const RequestIDHeader = "X-Request-Id"

// maxRequestID bounds an ID taken from a request: UUIDs, nginx's 32 hex
// digits and tracing IDs are far shorter.
const maxRequestID = 128

// RequestID gives every request an ID and echoes it in the answer, so that
// an operator can find the log lines of an answer a user reports: the
// request's own X-Request-ID when it has exactly one that is valid, else a
// new one of 128 bits from crypto/rand (32 hex digits, as nginx's). The
// ID is a label for correlating logs, never an authority, so a client's
// own is taken as is; its alphabet keeps it safe in a log line. Handlers
// and the access log read it back with RequestIDOf.
//
// Forward-auth answers behind this on every proxied request within a
// budget of allocations: the ID is echoed without a copy, and new ones
// are made in batches, two allocations for idsPerBatch requests.
func RequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header[RequestIDHeader]
		if len(id) == 1 && validRequestID(id[0]) {
			// Cut to its length: an Add to the answer's header must not
			// write into the request's array.
			id = id[:1:1]
		} else {
			id = requestIDs.take()
		}
		w.Header()[RequestIDHeader] = id
		next.ServeHTTP(w, r)
	})
}

// RequestIDOf is the ID of the request whose answer w writes ("" outside
// RequestID). It is read from the answer's header, which costs nothing,
// where a context value would cost a copy of the request.
func RequestIDOf(w http.ResponseWriter) string {
	if v := w.Header()[RequestIDHeader]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// validRequestID accepts what proxies and tracing systems send (hex,
// UUIDs, base64) and nothing that would need quoting in a log line or a
// header.
func validRequestID(s string) bool {
	if s == "" || len(s) > maxRequestID {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-', c == '_', c == '.', c == ':', c == '/', c == '+', c == '=':
		default:
			return false
		}
	}
	return true
}

// idsPerBatch IDs are made at once: one read of crypto/rand, one string
// holding them all and one array of header values.
const idsPerBatch = 128

type idBatch struct{ vals [idsPerBatch]string }

// idSource hands out new IDs from the current batch.
type idSource struct {
	mu    sync.Mutex
	batch *idBatch
	used  int
}

var requestIDs idSource

// take returns a new ID as a header value of its own.
func (s *idSource) take() []string {
	s.mu.Lock()
	if s.batch == nil || s.used == idsPerBatch {
		s.batch, s.used = newIDBatch(), 0
	}
	b, i := s.batch, s.used
	s.used++
	s.mu.Unlock()
	return b.vals[i : i+1 : i+1]
}

func newIDBatch() *idBatch {
	var raw [idsPerBatch * 16]byte
	var txt [idsPerBatch * 32]byte
	_, _ = rand.Read(raw[:]) // never fails: crypto/rand crashes the program first
	hex.Encode(txt[:], raw[:])
	all := string(txt[:])
	b := new(idBatch)
	for i := range b.vals {
		b.vals[i] = all[i*32 : (i+1)*32]
	}
	return b
}
