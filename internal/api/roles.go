package api

import (
	"net/http"

	"github.com/gatehouse/gatehouse/internal/core"
)

func (s *Server) listRoles(w http.ResponseWriter, r *http.Request, a core.Actor) {
	listPage(s, w, r, func(after string, limit int) ([]core.RoleView, error) {
		return s.core.Access.ListRoles(r.Context(), a, after, limit)
	}, func(r core.RoleView) string { return r.Name })
}

func (s *Server) getRole(w http.ResponseWriter, r *http.Request, a core.Actor) {
	s.answer(w, r, http.StatusOK)(s.core.Access.GetRole(r.Context(), a, r.PathValue("name")))
}

func (s *Server) createRole(w http.ResponseWriter, r *http.Request, a core.Actor) {
	if in, ok := decodeBody[core.RoleInput](s, w, r); ok {
		s.answer(w, r, http.StatusCreated)(s.core.Access.CreateRole(r.Context(), a, in))
	}
}

func (s *Server) updateRole(w http.ResponseWriter, r *http.Request, a core.Actor) {
	if in, ok := decodeBody[core.RoleInput](s, w, r); ok {
		s.answer(w, r, http.StatusOK)(s.core.Access.UpdateRole(r.Context(), a, r.PathValue("name"), in))
	}
}

func (s *Server) deleteRole(w http.ResponseWriter, r *http.Request, a core.Actor) {
	s.done(w, r, s.core.Access.DeleteRole(r.Context(), a, r.PathValue("name")))
}

func (s *Server) assignUser(w http.ResponseWriter, r *http.Request, a core.Actor) {
	s.done(w, r, s.core.Access.AssignRole(r.Context(), a, r.PathValue("name"), "users", r.PathValue("username")))
}

func (s *Server) unassignUser(w http.ResponseWriter, r *http.Request, a core.Actor) {
	s.done(w, r, s.core.Access.UnassignRole(r.Context(), a, r.PathValue("name"), "users", r.PathValue("username")))
}

func (s *Server) assignGroup(w http.ResponseWriter, r *http.Request, a core.Actor) {
	s.done(w, r, s.core.Access.AssignRole(r.Context(), a, r.PathValue("name"), "groups", r.PathValue("group")))
}

func (s *Server) unassignGroup(w http.ResponseWriter, r *http.Request, a core.Actor) {
	s.done(w, r, s.core.Access.UnassignRole(r.Context(), a, r.PathValue("name"), "groups", r.PathValue("group")))
}
