package api

import (
	"net/http"

	"github.com/gatehouse/gatehouse/internal/core"
)

// twoFactorRoutes: the administrator's side of the web interface's second
// factor (people enrol and turn it off themselves in the interface).
func (s *Server) twoFactorRoutes() []Route {
	return []Route{
		{Method: "DELETE", Path: "/api/v1/users/{username}/totp", handler: s.resetTOTP},
	}
}

// resetTOTP removes a person's TOTP factor and recovery codes, for one who
// lost both (users.write).
func (s *Server) resetTOTP(w http.ResponseWriter, r *http.Request, a core.Actor) {
	s.done(w, r, s.core.Sessions.ResetTOTP(r.Context(), a, r.PathValue("username")))
}
