// Package api is the REST front door: it turns HTTP requests into calls on
// the core and the core's answers into JSON or problem+json.
package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/client"
	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/clientip"
	"github.com/gatehouse/gatehouse/internal/core"
	"github.com/gatehouse/gatehouse/internal/httpx"
)

// Route is one entry of the route table: the source of the mux, of the
// OpenAPI check and of the authorization matrix.
type Route struct {
	Method  string
	Path    string // with {name} wildcards, as in OpenAPI
	Public  bool   // no credential needed
	handler func(w http.ResponseWriter, r *http.Request, a core.Actor)
}

// Server serves the REST API and the operational endpoints.
type Server struct {
	core    *core.Service
	authn   *auth.Authenticator
	log     *slog.Logger
	metrics *httpx.Metrics
	ready   func(ctx context.Context) error
	limits  *httpx.Limits
	// clientIP resolves the client address (behind trusted proxies, from
	// their headers); the peer address until SetClientIP.
	clientIP func(*http.Request) string
}

// SetClientIP installs the client address resolver shared by every door.
func (s *Server) SetClientIP(f func(*http.Request) string) { s.clientIP = f }

// SetLimits installs overload and per-client limits (nil: none).
func (s *Server) SetLimits(l *httpx.Limits) { s.limits = l }

// New builds the API server. ready reports whether the database answers.
func New(c *core.Service, log *slog.Logger, m *httpx.Metrics, ready func(ctx context.Context) error) *Server {
	return &Server{core: c, authn: c.Authenticator(), log: log, metrics: m, ready: ready,
		clientIP: clientip.New(nil).ClientIP}
}

// Routes is the route table: every resource file contributes its group.
func (s *Server) Routes() []Route {
	var all []Route
	for _, group := range [][]Route{
		s.coreRoutes(),
		s.brandRoutes(),
		s.applicationRoutes(),
		s.twoFactorRoutes(),
		s.ldapRoutes(),
		s.federationRoutes(),
	} {
		all = append(all, group...)
	}
	return all
}

// coreRoutes: operations, identity, users, groups, roles, tokens, events.
func (s *Server) coreRoutes() []Route {
	return slices.Concat([]Route{
		{Method: "GET", Path: "/healthz", Public: true, handler: s.healthz},
		{Method: "GET", Path: "/readyz", Public: true, handler: s.readyz},
		{Method: "GET", Path: "/api/v1/openapi.json", Public: true, handler: s.openapi},

		{Method: "GET", Path: "/api/v1/me", handler: s.me},
		{Method: "GET", Path: "/api/v1/permissions", handler: s.permissions},

		{Method: "PUT", Path: "/api/v1/users/{username}/password", handler: s.setPassword},
		{Method: "GET", Path: "/api/v1/users/{username}/permissions", handler: s.getUserPermissions},
		{Method: "PUT", Path: "/api/v1/users/{username}/permissions", handler: s.setUserPermissions},

		{Method: "PUT", Path: "/api/v1/groups/{name}/members/{username}", handler: changeLink(s, "name", "username", (*core.Access).AddMember)},
		{Method: "DELETE", Path: "/api/v1/groups/{name}/members/{username}", handler: changeLink(s, "name", "username", (*core.Access).RemoveMember)},

		{Method: "PUT", Path: "/api/v1/roles/{name}/assignments/users/{username}", handler: changeLink(s, "name", "username", ofKind("users", (*core.Access).AssignRole))},
		{Method: "DELETE", Path: "/api/v1/roles/{name}/assignments/users/{username}", handler: changeLink(s, "name", "username", ofKind("users", (*core.Access).UnassignRole))},
		{Method: "PUT", Path: "/api/v1/roles/{name}/assignments/groups/{group}", handler: changeLink(s, "name", "group", ofKind("groups", (*core.Access).AssignRole))},
		{Method: "DELETE", Path: "/api/v1/roles/{name}/assignments/groups/{group}", handler: changeLink(s, "name", "group", ofKind("groups", (*core.Access).UnassignRole))},

		{Method: "POST", Path: "/api/v1/tokens/{identifier}/rotate", handler: updateItemOptional(s, "identifier", (*core.Credentials).RotateToken)},

		{Method: "GET", Path: "/api/v1/events", handler: s.listEvents},
		{Method: "GET", Path: "/api/v1/events/verify", handler: s.verifyEvents},
	},
		collection(s, "/api/v1/users", "username", s.listUsers,
			(*core.Accounts).CreateUser, (*core.Accounts).GetUser, (*core.Accounts).UpdateUser, (*core.Accounts).DeleteUser),
		collection(s, "/api/v1/service-accounts", "username", s.listServiceAccounts,
			(*core.Accounts).CreateServiceAccount, (*core.Accounts).GetServiceAccount, (*core.Accounts).UpdateServiceAccount, (*core.Accounts).DeleteServiceAccount),
		collection(s, "/api/v1/groups", "name", s.listGroups,
			(*core.Access).CreateGroup, (*core.Access).GetGroup, (*core.Access).UpdateGroup, (*core.Access).DeleteGroup),
		collection(s, "/api/v1/roles", "name", s.listRoles,
			(*core.Access).CreateRole, (*core.Access).GetRole, (*core.Access).UpdateRole, (*core.Access).DeleteRole),
		collection(s, "/api/v1/tokens", "identifier", s.listTokens,
			(*core.Credentials).CreateToken, (*core.Credentials).GetToken, (*core.Credentials).UpdateToken, (*core.Credentials).RevokeToken),
	)
}

// collection is the five routes of a collection at path: list (list) and
// create at path, and get, update and delete of the item at
// path/{param}. What create answers (C) may show more than the item.
func collection[P part, In, Up, C, T any](s *Server, path, param string, list handler,
	create func(P, contextT, core.Actor, In) (C, error), get func(P, contextT, core.Actor, string) (T, error),
	update func(P, contextT, core.Actor, string, Up) (T, error), del func(P, contextT, core.Actor, string) error) []Route {
	item := path + "/{" + param + "}"
	return []Route{
		{Method: "GET", Path: path, handler: list},
		{Method: "POST", Path: path, handler: createItem(s, create)},
		{Method: "GET", Path: item, handler: getItem(s, param, get)},
		{Method: "PATCH", Path: item, handler: updateItem(s, param, update)},
		{Method: "DELETE", Path: item, handler: changeItem(s, param, del)},
	}
}

// Mount registers every route, /metrics and the API reference page on mux.
func (s *Server) Mount(mux *http.ServeMux) {
	for _, rt := range s.Routes() {
		mux.Handle(rt.Method+" "+rt.Path, s.wrap(rt))
	}
	mux.Handle("GET /metrics", s.metrics.Handler())
	mountDocs(mux) // the API reference page, /api/docs
	// Unknown API paths answer problem+json, not the mux's plain text.
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteProblem(w, http.StatusNotFound, "no such API endpoint")
	})
}

// wrap authenticates, then calls the handler with the actor.
func (s *Server) wrap(rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rt.Public {
			// Probes and the document need no credential; one sent anyway
			// is not checked (a stale token must not fail a health check).
			rt.handler(w, r, core.Actor{ClientIP: s.clientIP(r)})
			return
		}
		client := s.clientIP(r) // once: it is read from headers
		release, wait := s.limits.Acquire(client)
		if release == nil {
			httpx.TooMany(w, wait)
			return
		}
		defer release()
		a, err := s.Authenticate(r, client)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if a.P == nil {
			s.writeError(w, r, core.ErrUnauthenticated)
			return
		}
		rt.handler(w, r, a)
	})
}

// Authenticate turns the request's credential into an actor: a thin
// adapter of the one credential check (core.CheckCredential). No
// credential: anonymous. A refused one: 401 (the check wrote its
// login_failed event), 429 past the limiter, 503 when it cannot be made.
// client is the request's client address, as the server's resolver reads it.
func (s *Server) Authenticate(r *http.Request, client string) (core.Actor, error) {
	a := core.Actor{ClientIP: client}
	hs := r.Header.Values("Authorization")
	if len(hs) == 0 {
		return a, nil
	}
	var in core.Presented
	method := "api"
	scheme, cred, _ := strings.Cut(hs[0], " ")
	switch {
	case len(hs) > 1:
		// Which credential counts is ambiguous: none does.
	case strings.EqualFold(scheme, "Bearer"):
		method = "bearer"
		in = core.Presented{Kind: core.KindAPIToken, Secret: strings.TrimSpace(cred)}
	case strings.EqualFold(scheme, "Basic"):
		method = "basic"
		if user, pass, ok := parseBasic(hs[0]); ok {
			in = core.Presented{Kind: core.KindOf(pass), Username: user, Secret: pass}
		}
	}
	if in.Secret == "" && in.Username == "" {
		// Malformed: checked as a bad key, which counts against the
		// client address (and is answered without an event past it).
		in = core.Presented{Kind: core.KindAPIToken}
	}
	c, err := s.core.Credentials.CheckCredential(r.Context(), core.DoorAPI, in, a.ClientIP, core.CheckOptions{})
	if err != nil {
		var rl *core.RateLimitedError
		switch {
		case errors.As(err, &rl):
			s.metrics.AuthOutcome(method, "limited")
			return a, rl
		case errors.Is(err, auth.ErrUnavailable):
			s.metrics.AuthOutcome(method, "unavailable")
			return a, err
		case errors.Is(err, auth.ErrBadCredential):
			s.metrics.AuthOutcome(method, "failure")
			var ref *core.Refusal
			if errors.As(err, &ref) && ref.Reason == core.RefusedExpired {
				// Only a key whose secret matched is refused as expired
				// (auth's verifyKey checks the hash first): its sender
				// holds the key, so saying so tells them nothing they
				// could not know. Every other refusal stays alike.
				return a, errKeyExpired
			}
			return a, auth.ErrBadCredential
		}
		return a, err // the request was cancelled while slowed
	}
	a.P, a.Cred = c.P, c.Cred
	s.metrics.AuthOutcome(method, "success")
	return a, nil
}

// parseBasic splits a Basic Authorization value into its pair exactly as
// net/http's Request.BasicAuth does (fuzzed against it), as a pure
// function of the one header value Authenticate has checked is alone.
func parseBasic(v string) (user, pass string, ok bool) {
	const prefix = "Basic "
	if len(v) < len(prefix) || !strings.EqualFold(v[:len(prefix)], prefix) {
		return "", "", false
	}
	c, err := base64.StdEncoding.DecodeString(v[len(prefix):])
	if err != nil {
		return "", "", false
	}
	user, pass, ok = strings.Cut(string(c), ":")
	if !ok {
		return "", "", false
	}
	return user, pass, true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// List is the envelope of every list answer: the page the client reads.
type List[T any] = client.Page[T]

// page is a parsed page_size / page_token pair.
type page struct {
	size  int
	after string
}

func parsePage(r *http.Request) (page, error) {
	p := page{size: 50}
	q := r.URL.Query()
	if v := q.Get("page_size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			return p, &core.ValidationError{Errors: []core.FieldError{{Field: "page_size", Message: "must be an integer from 1 to 500"}}}
		}
		p.size = n
	}
	if v := q.Get("page_token"); v != "" {
		b, err := base64.RawURLEncoding.DecodeString(v)
		if err != nil || len(b) == 0 {
			return p, &core.ValidationError{Errors: []core.FieldError{{Field: "page_token", Message: "is not a token from a previous answer"}}}
		}
		p.after = string(b)
	}
	return p, nil
}

// writePage answers a list fetched with limit size+1.
func writePage[T any](w http.ResponseWriter, items []T, size int, key func(T) string) {
	out := List[T]{Items: items}
	if len(items) > size {
		out.Items = items[:size]
		out.NextPageToken = base64.RawURLEncoding.EncodeToString([]byte(key(items[size-1])))
	}
	if out.Items == nil {
		out.Items = []T{}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request, _ core.Actor) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request, _ core.Actor) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.ready(ctx); err != nil {
		s.log.Warn("not ready", "err", err)
		httpx.WriteProblem(w, http.StatusServiceUnavailable, "the database is not reachable")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
