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
