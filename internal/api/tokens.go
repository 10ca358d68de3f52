package api

import (
	"net/http"
	"strconv"

	"github.com/gatehouse/gatehouse/internal/core"
)

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request, a core.Actor) {
	q := r.URL.Query()
	listPage(s, w, r, func(after string, limit int) ([]core.TokenView, error) {
		return s.core.Credentials.ListTokens(r.Context(), a, core.TokenQuery{
			User: q.Get("user"), Intent: q.Get("intent"), ExpiringWithin: q.Get("expiring_within"),
			UnusedFor: q.Get("unused_for"), Search: q.Get("search"), After: after, Limit: limit})
	}, func(t core.TokenView) string { return t.Identifier })
}

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request, a core.Actor) {
	p, err := parsePage(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var before int64
	if p.after != "" {
		if before, err = strconv.ParseInt(p.after, 10, 64); err != nil || before <= 0 {
			s.writeError(w, r, &core.ValidationError{Errors: []core.FieldError{{Field: "page_token", Message: "is not a token from a previous answer"}}})
			return
		}
	}
	q := r.URL.Query()
	evs, err := s.core.Events.ListEvents(r.Context(), a, core.EventQuery{Action: q.Get("action"), Actor: q.Get("actor"),
		Target: q.Get("target"), Since: q.Get("since"), Until: q.Get("until"), Before: before, Limit: p.size + 1})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writePage(w, evs, p.size, func(e core.EventView) string { return strconv.FormatInt(e.ID, 10) })
}

func (s *Server) verifyEvents(w http.ResponseWriter, r *http.Request, a core.Actor) {
	q := r.URL.Query()
	var bad []core.FieldError
	number := func(name string) int64 {
		v := q.Get(name)
		if v == "" {
			return 0
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			bad = append(bad, core.FieldError{Field: name, Message: "must be a whole number"})
		}
		return n
	}
	after, limit := number("after_seq"), number("limit")
	if len(bad) > 0 {
		s.writeError(w, r, &core.ValidationError{Errors: bad})
		return
	}
	v, err := s.core.Events.VerifyEvents(r.Context(), a, after, limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}
