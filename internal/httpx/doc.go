// Package httpx is the HTTP toolkit every front door shares (the REST API
// and its introspection, the web interface, forward-auth), so that each
// thing is done once: the security headers of every answer, request IDs,
// the access log and request metrics, problem+json answers, body limits
// and strict JSON decoding, and overload limits. Doors import httpx, never
// each other; the client address comes from the one resolver
// (internal/clientip) that assembly builds from the configuration.
package httpx
