package api

import (
	"context"
	"net/http"
)

type contextT = context.Context

// answer returns a function taking a core call's (value, error) pair and
// writing it: the value as JSON with status, or the error as a problem.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, status int) func(v any, err error) {
	return func(v any, err error) {
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, status, v)
	}
}

// done answers 204 for a change with nothing to show, or the error.
func (s *Server) done(w http.ResponseWriter, r *http.Request, err error) {
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
