package api

import (
	"net/http"

	"github.com/gatehouse/gatehouse/internal/core"
)

func (s *Server) listGroups(w http.ResponseWriter, r *http.Request, a core.Actor) {
	listPage(s, w, r, func(after string, limit int) ([]core.GroupView, error) {
		return s.core.Access.ListGroups(r.Context(), a, core.GroupQuery{Search: r.URL.Query().Get("search"), After: after, Limit: limit})
	}, func(g core.GroupView) string { return g.Name })
}

func (s *Server) getGroup(w http.ResponseWriter, r *http.Request, a core.Actor) {
	s.answer(w, r, http.StatusOK)(s.core.Access.GetGroup(r.Context(), a, r.PathValue("name")))
}

func (s *Server) createGroup(w http.ResponseWriter, r *http.Request, a core.Actor) {
	if in, ok := decodeBody[core.GroupInput](s, w, r); ok {
		s.answer(w, r, http.StatusCreated)(s.core.Access.CreateGroup(r.Context(), a, in))
	}
}

func (s *Server) updateGroup(w http.ResponseWriter, r *http.Request, a core.Actor) {
	if in, ok := decodeBody[core.GroupInput](s, w, r); ok {
		s.answer(w, r, http.StatusOK)(s.core.Access.UpdateGroup(r.Context(), a, r.PathValue("name"), in))
	}
}

func (s *Server) deleteGroup(w http.ResponseWriter, r *http.Request, a core.Actor) {
	s.done(w, r, s.core.Access.DeleteGroup(r.Context(), a, r.PathValue("name")))
}

func (s *Server) addMember(w http.ResponseWriter, r *http.Request, a core.Actor) {
	s.done(w, r, s.core.Access.AddMember(r.Context(), a, r.PathValue("name"), r.PathValue("username")))
}

func (s *Server) removeMember(w http.ResponseWriter, r *http.Request, a core.Actor) {
	s.done(w, r, s.core.Access.RemoveMember(r.Context(), a, r.PathValue("name"), r.PathValue("username")))
}
