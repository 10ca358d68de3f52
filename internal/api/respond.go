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

// handler is a route's handler: the request, and the actor its
// credential names.
type handler = func(w http.ResponseWriter, r *http.Request, a core.Actor)

// part is one of the core's parts that the plain handlers below call, by
// method expression ((*core.Access).GetGroup): the route table is built
// without a core (the OpenAPI check reads it), and the part is found at
// each request.
type part interface {
	*core.Accounts | *core.Access | *core.Credentials | *core.Applications |
		*core.LDAP | *core.Federation | *core.Sessions
}

func partOf[P part](c *core.Service) P {
	for _, p := range [...]any{c.Accounts, c.Access, c.Credentials, c.Applications, c.LDAP, c.Federation, c.Sessions} {
		if p, ok := p.(P); ok {
			return p
		}
	}
	panic("api: a part that partOf does not list") // part's type set is the list above
}

// The handlers of the plain calls, built from the core's method: each
// decodes what the route carries (the item the path's wildcard names, the
// JSON body), makes the call, which authorizes, and answers its result.

// getItem answers 200 with the item named by the path's wildcard param.
func getItem[P part, T any](s *Server, param string, get func(P, contextT, core.Actor, string) (T, error)) handler {
	return func(w http.ResponseWriter, r *http.Request, a core.Actor) {
		s.answer(w, r, http.StatusOK)(get(partOf[P](s.core), r.Context(), a, r.PathValue(param)))
	}
}

// createItem decodes the body and answers 201 with what was made.
func createItem[P part, In, T any](s *Server, create func(P, contextT, core.Actor, In) (T, error)) handler {
	return withBody(s, http.StatusCreated, create)
}

// answerBody decodes the body and answers 200 with the call's result.
func answerBody[P part, In, T any](s *Server, call func(P, contextT, core.Actor, In) (T, error)) handler {
	return withBody(s, http.StatusOK, call)
}

func withBody[P part, In, T any](s *Server, status int, call func(P, contextT, core.Actor, In) (T, error)) handler {
	return func(w http.ResponseWriter, r *http.Request, a core.Actor) {
		if in, ok := decodeBody[In](s, w, r); ok {
			s.answer(w, r, status)(call(partOf[P](s.core), r.Context(), a, in))
		}
	}
}

// updateItem decodes the body and answers 200 with the result of the call
// on the item named by the path's wildcard param: the item changed, or
// what a check of it found.
func updateItem[P part, In, T any](s *Server, param string, update func(P, contextT, core.Actor, string, In) (T, error)) handler {
	return func(w http.ResponseWriter, r *http.Request, a core.Actor) {
		if in, ok := decodeBody[In](s, w, r); ok {
			s.answer(w, r, http.StatusOK)(update(partOf[P](s.core), r.Context(), a, r.PathValue(param), in))
		}
	}
}

// updateItemOptional is updateItem for a body that may be absent
// (Content-Length 0: the zero In, the call's defaults), as in a rotation.
func updateItemOptional[P part, In, T any](s *Server, param string, update func(P, contextT, core.Actor, string, In) (T, error)) handler {
	return func(w http.ResponseWriter, r *http.Request, a core.Actor) {
		var in In
		if r.ContentLength != 0 {
			if err := decodeJSON(w, r, &in); err != nil {
				s.writeError(w, r, err)
				return
			}
		}
		s.answer(w, r, http.StatusOK)(update(partOf[P](s.core), r.Context(), a, r.PathValue(param), in))
	}
}

// changeItem is a change of the item named by the path's wildcard param
// that answers 204 (a delete, a revocation).
func changeItem[P part](s *Server, param string, change func(P, contextT, core.Actor, string) error) handler {
	return func(w http.ResponseWriter, r *http.Request, a core.Actor) {
		s.done(w, r, change(partOf[P](s.core), r.Context(), a, r.PathValue(param)))
	}
}

// changeLink is a change of the link between the two items the path's
// wildcards param and other name (a membership, an assignment), answering
// 204.
func changeLink[P part](s *Server, param, other string, change func(p P, ctx contextT, a core.Actor, name, other string) error) handler {
	return func(w http.ResponseWriter, r *http.Request, a core.Actor) {
		s.done(w, r, change(partOf[P](s.core), r.Context(), a, r.PathValue(param), r.PathValue(other)))
	}
}

// ofKind is a change of a link to an item of kind ("users", "groups"),
// for changeLink.
func ofKind[P part](kind string, change func(p P, ctx contextT, a core.Actor, name, kind, other string) error) func(P, contextT, core.Actor, string, string) error {
	return func(p P, ctx contextT, a core.Actor, name, other string) error {
		return change(p, ctx, a, name, kind, other)
	}
}
