package httpx

import (
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync"
	"time"
)

// statusWriter remembers the status of an answer for the metrics and the
// access log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// statusWriters are reused: a handler must not touch its ResponseWriter
// once it has returned (net/http's own contract), so a statusWriter is
// free again when Instrument is done with it.
var statusWriters = sync.Pool{New: func() any { return new(statusWriter) }}

// Instrument wraps the HTTP surface behind forward-auth's front: panic
// recovery (no stack or secret reaches the client), metrics by route
// pattern, and one structured log line per request (the access log, at
// debug level, with the request ID). The log line holds no other header
// and no query string: either could carry a credential. clientIP is the one resolver of every door, so that the
// log names the client its events name.
func Instrument(next http.Handler, m *Metrics, clientIP func(*http.Request) string, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := statusWriters.Get().(*statusWriter)
		*sw = statusWriter{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "request_id", RequestIDOf(w),
					"panic", v, "stack", string(debug.Stack()))
				if sw.status == 0 {
					WriteProblem(sw, http.StatusInternalServerError, "internal error; see the server log")
				}
			}
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			d := time.Since(start)
			m.observe(route, r.Method, sw.status, d)
			// Asked first: the arguments would cost allocations on every
			// request even when the line is not written.
			if log.Enabled(r.Context(), slog.LevelDebug) {
				log.Debug("request", "method", r.Method, "route", route, "status", sw.status, "duration", d,
					"client", clientIP(r), "request_id", RequestIDOf(w))
			}
			*sw = statusWriter{}
			statusWriters.Put(sw)
		}()
		next.ServeHTTP(sw, r)
	})
}
