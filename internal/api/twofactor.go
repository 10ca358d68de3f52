package api

import "github.com/gatehouse/gatehouse/internal/core"

// twoFactorRoutes: the administrator's side of the web interface's second
// factor (people enrol and turn it off themselves in the interface).
func (s *Server) twoFactorRoutes() []Route {
	return []Route{
		// Removes a person's TOTP factor and recovery codes, for one who
		// lost both (users.write).
		{Method: "DELETE", Path: "/api/v1/users/{username}/totp", handler: changeItem(s, "username", (*core.Sessions).ResetTOTP)},
	}
}
