package httpx

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/internal/core"
)

// Problem is an RFC 9457 problem document.
type Problem struct {
	Type   string            `json:"type"`
	Title  string            `json:"title"`
	Status int               `json:"status"`
	Detail string            `json:"detail"`
	Errors []core.FieldError `json:"errors,omitempty"`
}

// WWWAuthenticate is sent with every 401 of WriteProblem: the schemes the
// API takes. Doors with other schemes (forward-auth) set their own.
const WWWAuthenticate = `Bearer realm="gatehouse", Basic realm="gatehouse", charset="UTF-8"`

// WriteProblem writes a problem document (RFC 9457) as application/problem+json.
func WriteProblem(w http.ResponseWriter, status int, detail string, fields ...core.FieldError) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", WWWAuthenticate)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	p := Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail, Errors: fields}
	_ = json.NewEncoder(w).Encode(p)
}

// WriteConstProblem writes what WriteProblem writes (less field errors
// and WWW-Authenticate, which the caller sets), for a door on the hot
// path of other services: forward-auth answers every proxied request,
// refusals included. The header values are shared and the body is one
// buffer: one allocation where the JSON encoder costs several.
// detail must be a constant that JSON needs no escaping for (no quote,
// backslash, control character or <, >, &): it is written as is.
func WriteConstProblem(w http.ResponseWriter, status int, detail string) {
	hd := w.Header()
	hd["Content-Type"] = hdrProblemJSON
	hd["Cache-Control"] = hdrNoStore
	// Set here too: forward-auth's handler may be used without SecureHeaders.
	hd["X-Content-Type-Options"] = hdrNoSniff
	w.WriteHeader(status)
	// Appended into one buffer: a concatenation would allocate the status
	// text of strconv.Itoa as well.
	b := make([]byte, 0, 96+len(detail))
	b = append(b, `{"type":"about:blank","title":"`...)
	b = append(b, http.StatusText(status)...)
	b = append(b, `","status":`...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, `,"detail":"`...)
	b = append(b, detail...)
	b = append(b, "\"}\n"...)
	_, _ = w.Write(b)
}

// TooMany answers 429 with a whole number of seconds to wait.
func TooMany(w http.ResponseWriter, wait time.Duration) {
	RetryAfter(w.Header(), wait)
	WriteProblem(w, http.StatusTooManyRequests, "too many requests; retry after the time in Retry-After")
}

// RetryAfter sets Retry-After to wait in whole seconds, rounded up and at
// least one (0 would invite the retry at once), and returns them for the
// answer's text.
func RetryAfter(h http.Header, wait time.Duration) int {
	secs := int(math.Ceil(max(wait.Seconds(), 1)))
	h.Set("Retry-After", strconv.Itoa(secs))
	return secs
}
