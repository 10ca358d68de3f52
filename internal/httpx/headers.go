package httpx

import "net/http"

// Header values shared by every answer. Each is cut to its length, so
// that an Add elsewhere copies instead of writing into it; assigning them
// to a header map costs no allocation.
var (
	hdrNoSniff     = []string{"nosniff"}[:1:1]
	hdrDeny        = []string{"DENY"}[:1:1]
	hdrNoRef       = []string{"no-referrer"}[:1:1]
	hdrCOOP        = []string{"same-origin"}[:1:1]
	hdrNoStore     = []string{"no-store"}[:1:1]
	hdrCSP         = []string{"default-src 'none'; frame-ancestors 'none'"}[:1:1]
	hdrHSTS        = []string{"max-age=63072000; includeSubDomains"}[:1:1]
	hdrProblemJSON = []string{"application/problem+json"}[:1:1]
)

// SecureHeaders sets the security headers on every answer of next, before
// it runs, so that no answer goes out without them: forward-auth's front
// (which answers before Instrument), the mux's own 404 and 405, panics.
// Traefik and Caddy pass a forward-auth refusal on to the browser whole.
// They are defaults for answers that carry data: the web interface's
// pages replace some with PageHeaders, and static assets and the OpenAPI
// document set their own Cache-Control. HSTS only when the server itself
// serves TLS (tls). No allocation: the values are shared.
func SecureHeaders(next http.Handler, tls bool) http.Handler {
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
