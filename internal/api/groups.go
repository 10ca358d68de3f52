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
