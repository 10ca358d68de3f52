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

// PageCSP is the Content-Security-Policy of the web interface's pages and
// static files: only this origin's own files, no inline script or style,
// no eval, no framing, forms posting only here.
const PageCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"

// PageHeaders replaces SecureHeaders' defaults for answers rendered in a
// browser: the page policy, and a referrer policy that still lets the
// browser send a real Origin header with the site's own form posts (the
// web interface checks it).
func PageHeaders(h http.Header) {
	h.Set("Content-Security-Policy", PageCSP)
	// Pages show names, keys once, audit data: never cache them.
	h.Set("Cache-Control", "no-store")
	// same-origin (not no-referrer) so that browsers send a real Origin
	// header with our own form posts.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
}
