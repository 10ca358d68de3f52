package api

import (
	"net/http"

	"github.com/gatehouse/gatehouse/internal/core"
)

func (s *Server) brandRoutes() []Route {
	return []Route{
		{Method: "GET", Path: "/api/v1/brand", handler: s.getBrand},
		{Method: "PATCH", Path: "/api/v1/brand", handler: answerBody(s, (*core.Applications).UpdateBrand)},
	}
}

func (s *Server) getBrand(w http.ResponseWriter, r *http.Request, a core.Actor) {
	s.answer(w, r, http.StatusOK)(s.core.Applications.GetBrand(r.Context(), a))
}
