package api

import (
	"io"
	"mime"
	"net/http"

	"github.com/gatehouse/gatehouse/internal/core"
	"github.com/gatehouse/gatehouse/internal/httpx"
)

// applicationRoutes: applications, their bindings, and token
// introspection (RFC 7662). Forward-auth, the door that applies the
// bindings, is not under /api/v1: see internal/forwardauth.
func (s *Server) applicationRoutes() []Route {
	return append(collection(s, "/api/v1/applications", "slug", s.listApplications,
		(*core.Applications).CreateApplication, (*core.Applications).GetApplication, (*core.Applications).UpdateApplication, (*core.Applications).DeleteApplication),
		Route{Method: "PUT", Path: "/api/v1/applications/{slug}/bindings/users/{username}", handler: s.putUserBinding},
		Route{Method: "DELETE", Path: "/api/v1/applications/{slug}/bindings/users/{username}", handler: changeLink(s, "slug", "username", ofKind("users", (*core.Applications).DeleteBinding))},
		Route{Method: "PUT", Path: "/api/v1/applications/{slug}/bindings/groups/{group}", handler: s.putGroupBinding},
		Route{Method: "DELETE", Path: "/api/v1/applications/{slug}/bindings/groups/{group}", handler: changeLink(s, "slug", "group", ofKind("groups", (*core.Applications).DeleteBinding))},

		Route{Method: "POST", Path: "/api/v1/introspect", handler: s.introspect},
	)
}

func (s *Server) listApplications(w http.ResponseWriter, r *http.Request, a core.Actor) {
	listPage(s, w, r, func(after string, limit int) ([]core.ApplicationView, error) {
		return s.core.Applications.ListApplications(r.Context(), a, core.ApplicationQuery{Search: r.URL.Query().Get("search"), After: after, Limit: limit})
	}, func(v core.ApplicationView) string { return v.Slug })
}

func (s *Server) putUserBinding(w http.ResponseWriter, r *http.Request, a core.Actor) {
	s.putBinding(w, r, a, "users", r.PathValue("username"))
}

func (s *Server) putGroupBinding(w http.ResponseWriter, r *http.Request, a core.Actor) {
	s.putBinding(w, r, a, "groups", r.PathValue("group"))
}

// putBinding takes an optional body: no body (or an empty one) means the
// defaults, order 0 and not negated.
func (s *Server) putBinding(w http.ResponseWriter, r *http.Request, a core.Actor, kind, name string) {
	var in core.BindingInput
	if r.ContentLength != 0 {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, httpx.MaxBody))
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if len(body) > 0 {
			if err := httpx.DecodeStrict(body, &in); err != nil {
				s.writeError(w, r, err)
				return
			}
		}
	}
	s.answer(w, r, http.StatusOK)(s.core.Applications.PutBinding(r.Context(), a, r.PathValue("slug"), kind, name, in))
}

// IntrospectionRequest is the body of POST /introspect.
type IntrospectionRequest struct {
	Token         string `json:"token"`
	TokenTypeHint string `json:"token_type_hint"`
}

// introspect is RFC 7662 token introspection. The RFC's body is a form
// (application/x-www-form-urlencoded: token, and optionally
// token_type_hint, which is accepted and not needed: every kind of key is
// recognised by its form); any other body is read as a JSON object with
// the same fields, as everywhere else in the API.
func (s *Server) introspect(w http.ResponseWriter, r *http.Request, a core.Actor) {
	in, err := readIntrospectionRequest(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.answer(w, r, http.StatusOK)(s.core.Credentials.Introspect(r.Context(), a, in.Token))
}

func readIntrospectionRequest(w http.ResponseWriter, r *http.Request) (IntrospectionRequest, error) {
	var in IntrospectionRequest
	bad := func(field, msg string) error {
		return &core.ValidationError{Errors: []core.FieldError{{Field: field, Message: msg}}}
	}
	// Only the body counts: a token in the query string would end up in
	// access logs.
	if _, ok := r.URL.Query()["token"]; ok {
		return in, bad("token", "must be sent in the body, not the query string")
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		// Like every other body of the API, whatever it is labelled.
		return in, decodeJSON(w, r, &in)
	}
	form, err := httpx.ReadForm(w, r, "token", "token_type_hint")
	if err != nil {
		return in, err
	}
	in.Token, in.TokenTypeHint = form.Get("token"), form.Get("token_type_hint")
	if len(in.TokenTypeHint) > 64 {
		return in, bad("token_type_hint", "must be at most 64 characters")
	}
	return in, nil
}
