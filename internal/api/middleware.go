package api

import (
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"
)

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

// Header values of Secure, shared by every answer. Each is cut to its
// length, so that an Add elsewhere copies instead of writing into it.
var (
	hdrNoSniff = []string{"nosniff"}[:1:1]
	hdrDeny    = []string{"DENY"}[:1:1]
	hdrNoRef   = []string{"no-referrer"}[:1:1]
	hdrCOOP    = []string{"same-origin"}[:1:1]
	hdrNoStore = []string{"no-store"}[:1:1]
	hdrCSP     = []string{"default-src 'none'; frame-ancestors 'none'"}[:1:1]
	hdrHSTS    = []string{"max-age=63072000; includeSubDomains"}[:1:1]
)

// Secure sets the security headers on every answer of next, before it
// runs, so that no answer goes out without them: forward-auth's front
// (which answers before Middleware), the mux's own 404 and 405, panics.
// Traefik and Caddy pass a forward-auth refusal on to the browser whole.
// They are defaults for answers that carry data: the web interface sets
// its own Content-Security-Policy and Referrer-Policy, and static assets
// and the OpenAPI document their own Cache-Control. No allocation: the
// values are shared.
func Secure(next http.Handler, tls bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["X-Content-Type-Options"] = hdrNoSniff
		h["X-Frame-Options"] = hdrDeny
		h["Referrer-Policy"] = hdrNoRef
		h["Cross-Origin-Opener-Policy"] = hdrCOOP
		// Answers name users, keys once, audit data: no cache keeps them.
		h["Cache-Control"] = hdrNoStore
		// Nothing but the web interface's pages is meant to be rendered.
		h["Content-Security-Policy"] = hdrCSP
		if tls {
			h["Strict-Transport-Security"] = hdrHSTS
		}
		next.ServeHTTP(w, r)
	})
}

// Middleware wraps the HTTP surface behind forward-auth's front: panic
// recovery (no stack or secret reaches the client), metrics by route
// pattern, and one structured log line per request. The log line holds no
// header and no query string: either could carry a credential.
func Middleware(next http.Handler, m *Metrics, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
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
			log.Debug("request", "method", r.Method, "route", route, "status", sw.status, "duration", d, "client", ClientIP(r))
		}()
		next.ServeHTTP(sw, r)
	})
}
