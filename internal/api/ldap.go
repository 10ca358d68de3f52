package api

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/internal/core"
	"github.com/gatehouse/gatehouse/internal/ldap"
)

// ldapRoutes: LDAP providers, their directory feed and the endpoints
// outposts use, and outposts.
func (s *Server) ldapRoutes() []Route {
	return append(collection(s, "/api/v1/ldap-providers", "name", s.listLDAPProviders,
		(*core.LDAP).CreateLDAPProvider, (*core.LDAP).GetLDAPProvider, (*core.LDAP).UpdateLDAPProvider, (*core.LDAP).DeleteLDAPProvider),
		Route{Method: "GET", Path: "/api/v1/ldap-providers/{name}/directory", handler: s.ldapDirectory},
		Route{Method: "POST", Path: "/api/v1/ldap-providers/{name}/bind", handler: s.ldapBind},
		Route{Method: "POST", Path: "/api/v1/ldap-providers/{name}/sessions", handler: updateItem(s, "name", (*core.LDAP).OutpostCheckSessions)},
		Route{Method: "POST", Path: "/api/v1/ldap-providers/{name}/search", handler: s.ldapSearch},

		Route{Method: "GET", Path: "/api/v1/outposts", handler: s.listOutposts},
		Route{Method: "POST", Path: "/api/v1/outposts", handler: createItem(s, (*core.LDAP).CreateOutpost)},
		Route{Method: "GET", Path: "/api/v1/outposts/{name}", handler: getItem(s, "name", (*core.LDAP).GetOutpost)},
		Route{Method: "DELETE", Path: "/api/v1/outposts/{name}", handler: changeItem(s, "name", (*core.LDAP).DeleteOutpost)},
		Route{Method: "POST", Path: "/api/v1/outposts/{name}/rotate", handler: updateItemOptional(s, "name", (*core.LDAP).RotateOutpostToken)},
	)
}

func (s *Server) listLDAPProviders(w http.ResponseWriter, r *http.Request, a core.Actor) {
	listPage(s, w, r, func(after string, limit int) ([]core.LDAPProviderView, error) {
		return s.core.LDAP.ListLDAPProviders(r.Context(), a, after, limit)
	}, func(v core.LDAPProviderView) string { return v.Name })
}

// ldapDirectory is the directory feed. A long poll (wait) answers 200 at
// once and sends a space every second while it waits (JSON allows
// leading white space), so that an outpost notices a dead connection in
// seconds; an error found after that is sent as {"error": "..."}.
func (s *Server) ldapDirectory(w http.ResponseWriter, r *http.Request, a core.Actor) {
	q := r.URL.Query()
	in := core.DirectoryFeedQuery{Since: q.Get("since"), Entries: q.Get("entries") != "false"}
	if v := q.Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			s.writeError(w, r, &core.ValidationError{Errors: []core.FieldError{{Field: "wait", Message: "must be a duration such as 25s"}}})
			return
		}
		in.Wait = d
	}
	started := false
	rc := http.NewResponseController(w)
	in.Heartbeat = func() {
		if !started {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusOK)
			started = true
		}
		_, _ = w.Write([]byte(" "))
		_ = rc.Flush()
	}
	feed, err := s.core.LDAP.LDAPDirectoryFeed(r.Context(), a, r.PathValue("name"), in)
	if !started {
		s.answer(w, r, http.StatusOK)(feed, err)
		return
	}
	if err != nil {
		s.log.Warn("directory feed failed after it started", "err", err)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "the directory could not be read; retry"})
		return
	}
	_ = json.NewEncoder(w).Encode(feed)
}

func (s *Server) ldapBind(w http.ResponseWriter, r *http.Request, a core.Actor) {
	in, ok := decodeBody[core.LDAPBindInput](s, w, r)
	if !ok {
		return
	}
	res, err := s.core.LDAP.OutpostBind(r.Context(), a, r.PathValue("name"), in)
	if err == nil && s.metrics != nil {
		s.metrics.AuthOutcome("ldap", bindLabel(res.Outcome))
	}
	s.answer(w, r, http.StatusOK)(res, err)
}

// bindLabel is the metrics outcome of an LDAP bind, as the in-server
// door counts it (server.BindMetrics).
func bindLabel(outcome string) string {
	switch outcome {
	case core.LDAPBindSuccess:
		return "success"
	case core.LDAPBindBusy:
		return "limited"
	case core.LDAPBindUnavailable:
		return "unavailable"
	}
	return "failure"
}

func (s *Server) ldapSearch(w http.ResponseWriter, r *http.Request, a core.Actor) {
	in, ok := decodeBody[ldap.DirectSearchInput](s, w, r)
	if !ok {
		return
	}
	provider := r.PathValue("name")
	if err := s.core.LDAP.AuthorizeOutpost(r.Context(), a, provider); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.answer(w, r, http.StatusOK)(ldap.SearchDirect(r.Context(), s.core.LDAP, provider, in))
}

func (s *Server) listOutposts(w http.ResponseWriter, r *http.Request, a core.Actor) {
	listPage(s, w, r, func(after string, limit int) ([]core.OutpostView, error) {
		return s.core.LDAP.ListOutposts(r.Context(), a, after, limit)
	}, func(v core.OutpostView) string { return v.Name })
}
