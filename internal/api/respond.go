package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/core"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/internal/store"
)

type contextT = context.Context

// answer returns a function taking a core call's (value, error) pair and
// writing it: the value as JSON with status, or the error as a problem.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, status int) func(v any, err error) {
	return func(v any, err error) {
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, status, v)
	}
}

// done answers 204 for a change with nothing to show, or the error.
func (s *Server) done(w http.ResponseWriter, r *http.Request, err error) {
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// errKeyExpired is the refusal of a key that matched and has expired
// (Authenticate); it is auth.ErrBadCredential for errors.Is.
var errKeyExpired = fmt.Errorf("%w: the key has expired", auth.ErrBadCredential)

// writeError maps an error from the core to its problem answer, in one
// place for the whole API.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ve *core.ValidationError
	var nf *core.NotFoundError
	var ce *core.ConflictError
	var mbe *http.MaxBytesError
	var le *core.RateLimitedError
	var fe *core.ForbiddenError
	switch {
	case errors.As(err, &le):
		httpx.TooMany(w, le.RetryAfter)
	case errors.As(err, &ve):
		httpx.WriteProblem(w, http.StatusBadRequest, "the request has invalid fields", ve.Errors...)
	case errors.As(err, &mbe):
		httpx.WriteProblem(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the request body is larger than %d bytes", httpx.MaxBody))
	case errors.Is(err, errKeyExpired):
		httpx.WriteProblem(w, http.StatusUnauthorized, "this key has expired")
	case errors.Is(err, core.ErrUnauthenticated), errors.Is(err, auth.ErrBadCredential):
		httpx.WriteProblem(w, http.StatusUnauthorized, "a valid API token (Bearer) or a user's password (Basic) is required")
	case errors.As(err, &fe) && fe.Detail != "":
		httpx.WriteProblem(w, http.StatusForbidden, fe.Detail)
	case errors.Is(err, core.ErrForbidden):
		httpx.WriteProblem(w, http.StatusForbidden, "you are not allowed to do this")
	case errors.As(err, &nf):
		httpx.WriteProblem(w, http.StatusNotFound, nf.Error())
	case errors.As(err, &ce):
		httpx.WriteProblem(w, http.StatusConflict, ce.Error())
	case errors.Is(err, store.ErrNotFound):
		httpx.WriteProblem(w, http.StatusNotFound, "not found")
	case errors.Is(err, store.ErrConflict):
		httpx.WriteProblem(w, http.StatusConflict, "conflicting change; retry")
	case errors.Is(err, auth.ErrUnavailable):
		w.Header().Set("Retry-After", "1")
		httpx.WriteProblem(w, http.StatusServiceUnavailable, "credentials cannot be checked right now")
	case errors.Is(err, r.Context().Err()):
		httpx.WriteProblem(w, http.StatusServiceUnavailable, "the request was cancelled")
	case s.core.DatabaseDown(r.Context()):
		// An unexpected error while the database does not answer is its
		// absence, not a bug: 503, retryable, as for a credential that
		// cannot be checked. A failed write rolled back whole.
		s.log.Warn("request failed: the database is not reachable", "method", r.Method, "path", r.URL.Path,
			"request_id", httpx.RequestIDOf(w), "err", err)
		w.Header().Set("Retry-After", "1")
		httpx.WriteProblem(w, http.StatusServiceUnavailable, "the database is not reachable; retry later")
	default:
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "request_id", httpx.RequestIDOf(w), "err", err)
		httpx.WriteProblem(w, http.StatusInternalServerError, "internal error; see the server log")
	}
}

// decodeBody decodes the request's JSON body into a T; false when it
// could not, the error answered.
func decodeBody[T any](s *Server, w http.ResponseWriter, r *http.Request) (T, bool) {
	var in T
	if err := decodeJSON(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return in, false
	}
	return in, true
}

// listPage answers one page of a list: list returns up to limit items
// after the page's cursor (one more than a page, which tells that a next
// page exists), key an item's cursor.
func listPage[T any](s *Server, w http.ResponseWriter, r *http.Request, list func(after string, limit int) ([]T, error), key func(T) string) {
	p, err := parsePage(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	items, err := list(p.after, p.size+1)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writePage(w, items, p.size, key)
}

// decodeJSON is httpx.DecodeJSON, under the name the handlers (and
// FuzzDecodeJSON, on every request type of the API) call it by.
func decodeJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	return httpx.DecodeJSON(w, r, dst)
}
