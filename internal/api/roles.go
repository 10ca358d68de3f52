package api

import (
	"net/http"

	"github.com/gatehouse/gatehouse/internal/core"
)

func (s *Server) listRoles(w http.ResponseWriter, r *http.Request, a core.Actor) {
	p, err := parsePage(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	rs, err := s.core.Access.ListRoles(r.Context(), a, p.after, p.size+1)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writePage(w, rs, p.size, func(r core.RoleView) string { return r.Name })
}

func (s *Server) getRole(w http.ResponseWriter, r *http.Request, a core.Actor) {
	s.answer(w, r, http.StatusOK)(s.core.Access.GetRole(r.Context(), a, r.PathValue("name")))
}

func (s *Server) createRole(w http.ResponseWriter, r *http.Request, a core.Actor) {
	var in core.RoleInput
	if err := decodeJSON(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.answer(w, r, http.StatusCreated)(s.core.Access.CreateRole(r.Context(), a, in))
}

func (s *Server) updateRole(w http.ResponseWriter, r *http.Request, a core.Actor) {
	var in core.RoleInput
	if err := decodeJSON(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.answer(w, r, http.StatusOK)(s.core.Access.UpdateRole(r.Context(), a, r.PathValue("name"), in))
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
