package api

import (
	"net/http"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/core"
)

func (s *Server) me(w http.ResponseWriter, r *http.Request, a core.Actor) {
	m, err := s.core.Accounts.Me(r.Context(), a)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeMe(w, m)
}

func (s *Server) permissions(w http.ResponseWriter, r *http.Request, a core.Actor) {
	writeJSON(w, http.StatusOK, List[authz.Definition]{Items: authz.Catalogue})
}

func userKey(u core.UserView) string { return u.Username }

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, a core.Actor) {
	s.listUserKind(w, r, a, s.core.Accounts.ListUsers)
}

func (s *Server) listServiceAccounts(w http.ResponseWriter, r *http.Request, a core.Actor) {
	s.listUserKind(w, r, a, s.core.Accounts.ListServiceAccounts)
}

func (s *Server) listUserKind(w http.ResponseWriter, r *http.Request, a core.Actor,
	list func(ctx contextT, a core.Actor, q core.UserQuery) ([]core.UserView, error)) {
	q := r.URL.Query()
	listPage(s, w, r, func(after string, limit int) ([]core.UserView, error) {
		return list(r.Context(), a, core.UserQuery{Type: q.Get("type"), Search: q.Get("search"), After: after, Limit: limit})
	}, userKey)
}

// PasswordInput is PUT /users/{username}/password.
type PasswordInput struct {
	Password string `json:"password"`
	// CurrentPassword is required when changing one's own password
	// without users.write.
	CurrentPassword string `json:"current_password"`
}

func (s *Server) setPassword(w http.ResponseWriter, r *http.Request, a core.Actor) {
	if in, ok := decodeBody[PasswordInput](s, w, r); ok {
		s.done(w, r, s.core.Accounts.ChangePassword(r.Context(), a, r.PathValue("username"), in.CurrentPassword, in.Password))
	}
}

// PermissionsBody is the body of GET and PUT /users/{username}/permissions.
type PermissionsBody struct {
	Permissions []string `json:"permissions"`
}

func (s *Server) getUserPermissions(w http.ResponseWriter, r *http.Request, a core.Actor) {
	ps, err := s.core.Accounts.GetUserPermissions(r.Context(), a, r.PathValue("username"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, PermissionsBody{ps})
}

func (s *Server) setUserPermissions(w http.ResponseWriter, r *http.Request, a core.Actor) {
	in, ok := decodeBody[PermissionsBody](s, w, r)
	if !ok {
		return
	}
	if in.Permissions == nil {
		s.writeError(w, r, &core.ValidationError{Errors: []core.FieldError{{Field: "permissions", Message: "is required (an empty array removes all)"}}})
		return
	}
	ps, err := s.core.Accounts.SetUserPermissions(r.Context(), a, r.PathValue("username"), in.Permissions)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, PermissionsBody{ps})
}
