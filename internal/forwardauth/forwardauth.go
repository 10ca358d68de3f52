// Package forwardauth is the front door for reverse proxies: nginx
// auth_request, Traefik forwardAuth and Caddy forward_auth ask
// GET /outpost/forward-auth/{slug} on every request to a protected
// service, and gatehouse answers 200 (with who it is) or refuses.
//
// The door is thin: the credential goes through the authenticator (the
// same checks, the same in-memory cache as the API) and the decision
// through core's Admit (the application's bindings), so that once warm a
// request costs no database query.
package forwardauth

import (
	"errors"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/clientip"
	"github.com/gatehouse/gatehouse/internal/core"
	"github.com/gatehouse/gatehouse/internal/httpx"
)

// PathPrefix is where the endpoint lives; the application's slug follows.
const PathPrefix = "/outpost/forward-auth/"

// Headers of an admitted answer, for the proxy to pass on to the service.
const (
	HeaderUser   = "X-Gatehouse-User"
	HeaderType   = "X-Gatehouse-Type"
	HeaderGroups = "X-Gatehouse-Groups" // comma-separated group names
)

// Methods of the credential checks, in metrics and login_failed events.
const (
	methodBearer = "forward_auth_bearer"
	methodBasic  = "forward_auth_basic"
)

// Metrics counts credential checks and requests (httpx.Metrics does), in
// the same series as every other route. The series are resolved once: a
// label lookup on every request would cost more than the door's own work.
type Metrics interface {
	AuthCounter(method, outcome string) prometheus.Counter
	RouteRecorder(route, method string, statuses ...int) func(status int, d time.Duration)
}

// route is the door's route label in the request metrics, the pattern
// Mount registers.
const route = "GET " + PathPrefix + "{slug}"

// Route is the pattern Mount registers (GET, and so HEAD), for tests that
// call every route of every door.
const Route = route

// Config configures the door.
type Config struct {
	// ClientIP is the one client address resolver of every door (built
	// once from the trusted proxies), so that the limiter and the events
	// of this door see the client the others see. Nil: the peer address,
	// no proxy trusted.
	ClientIP func(*http.Request) string
	Metrics  Metrics // nil: not counted
	Log      *slog.Logger
}

// Handler serves forward-auth.
type Handler struct {
	core     *core.Service
	authn    *auth.Authenticator
	clientIP func(*http.Request) string
	// counters[method][outcome]; nil when not counted.
	counters map[string]map[string]prometheus.Counter
	// record[HTTP method] records a request for the route metrics.
	record map[string]func(status int, d time.Duration)
	log    *slog.Logger
	// identities caches the identity header values per principal.
	identities identities
}

// New builds the door.
func New(c *core.Service, cfg Config) *Handler {
	h := &Handler{core: c, authn: c.Authenticator(), clientIP: cfg.ClientIP, log: cfg.Log}
	if h.clientIP == nil {
		h.clientIP = clientip.New(nil).ClientIP
	}
	if cfg.Metrics != nil {
		h.counters = map[string]map[string]prometheus.Counter{}
		for _, m := range []string{methodBearer, methodBasic} {
			h.counters[m] = map[string]prometheus.Counter{}
			for _, o := range []string{"success", "failure", "unavailable"} {
				h.counters[m][o] = cfg.Metrics.AuthCounter(m, o)
			}
		}
		h.record = map[string]func(int, time.Duration){}
		for _, m := range []string{http.MethodGet, http.MethodHead} {
			h.record[m] = cfg.Metrics.RouteRecorder(route, m, 200, 401, 403, 404, 429, 503)
		}
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	h.identities.reset()
	h.authn.OnInvalidate(h.identities.reset)
	return h
}

// Mount registers the endpoint (GET, and so HEAD) on mux.
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.Handle(route, h)
}

// Front returns a handler that answers forward-auth requests itself and
// passes everything else to next (the API's middleware and mux).
//
// Why a door of its own in front: a reverse proxy asks on every request
// to the services behind it, and the generic middleware (route matching
// among every route of every door, five security headers, metrics
// labels looked up per request, a log call) costs about twice what the
// door itself does. Here the door records the same request metrics with
// series resolved once, recovers from panics the same way, and sets the
// one security header its problem answers need. Only a clean
// single-segment path is taken; anything else (a trailing slash, dot
// segments, other methods) goes through the mux, where Mount answers it
// as any route would.
func (h *Handler) Front(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		slug, ok := strings.CutPrefix(r.URL.Path, PathPrefix)
		if !ok || slug == "" || strings.IndexByte(slug, '/') >= 0 || slug == "." || slug == ".." ||
			(r.Method != http.MethodGet && r.Method != http.MethodHead) {
			next.ServeHTTP(w, r)
			return
		}
		r.SetPathValue("slug", slug)
		r.Pattern = route
		start := time.Now()
		status := http.StatusInternalServerError
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				h.log.Error("panic serving forward-auth", "application", slug, "request_id", httpx.RequestIDOf(w),
					"panic", v, "stack", string(debug.Stack()))
				// If an answer was already begun, net/http ignores this
				// one (and says so in its log); otherwise it is the
				// answer, and carries no identity set before the panic.
				hd := w.Header()
				delete(hd, HeaderUser)
				delete(hd, HeaderType)
				delete(hd, HeaderGroups)
				h.problem(w, http.StatusInternalServerError, "internal error; see the server log")
			}
			if rec := h.record[r.Method]; rec != nil {
				rec(status, time.Since(start))
			}
		}()
		status = h.serve(w, r)
	})
}

// Constant header values, shared by every answer; cut to their length so
// that an append elsewhere never writes into them.
var (
	noStore      = []string{"no-store"}[:1:1]
	retryOneSec  = []string{"1"}[:1:1]
	defaultRealm = []string{`Basic realm="gatehouse", Bearer realm="gatehouse"`}[:1:1]
)

// ServeHTTP answers one forward-auth request:
//
//	200  active and admitted, with X-Gatehouse-User, -Type, -Groups
//	401  no credential, or a bad one (WWW-Authenticate names the slug as realm)
//	403  a good credential that the application's bindings refuse
//	404  a good credential, an unknown application
//	429  too many failures from this client (Retry-After)
//	503  the credential or the bindings cannot be checked now (fail closed)
//
// The slug is looked at only after the credential is good, so that a
// caller without one learns nothing about which applications exist.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.serve(w, r)
}

// serve is ServeHTTP returning the status it answered, for Front's
// metrics (without wrapping the ResponseWriter, which would cost an
// allocation per request).
func (h *Handler) serve(w http.ResponseWriter, r *http.Request) int {
	slug := r.PathValue("slug")
	ctx := r.Context()
	client := h.clientIP(r)
	cred, err := ParseAuthorization(r.Header.Values("Authorization"))
	if errors.Is(err, ErrMissing) {
		return h.challenge(w, slug, "a credential is required: Authorization: Bearer <API token>, or Basic with a username and an app password")
	}
	method, in := methodBearer, core.Presented{Kind: core.KindAPIToken, Secret: cred.Token}
	if cred.Scheme == SchemeBasic {
		// Basic takes app passwords only (the table in core/doors.go): a
		// person's password is for gatehouse itself, and checking it on
		// every proxied request would run argon2id each time.
		method, in = methodBasic, core.Presented{Kind: core.KindOf(cred.Password), Username: cred.Username, Secret: cred.Password}
	}
	if err != nil {
		// Which scheme was meant is unknown: checked as a bad key, which
		// counts against the client address.
		method, in = methodBearer, core.Presented{Kind: core.KindAPIToken}
	}
	checked, err := h.core.Credentials.CheckCredential(ctx, core.DoorForwardAuth, in, client, core.CheckOptions{})
	if err != nil {
		var rl *core.RateLimitedError
		switch {
		case errors.As(err, &rl):
			httpx.RetryAfter(w.Header(), rl.RetryAfter)
			return h.problem(w, http.StatusTooManyRequests, "too many failed attempts; retry later")
		case errors.Is(err, auth.ErrBadCredential):
			h.count(method, "failure")
			return h.challenge(w, slug, "the credential is not valid")
		case !errors.Is(err, auth.ErrUnavailable) && ctx.Err() == nil:
			// Not an answer about the credential: fail closed, and say so.
			h.log.Error("forward-auth credential check failed", "application", slug, "err", err)
		}
		// The database is down, or the client left while it was slowed:
		// never leave without an answer (net/http would send 200).
		h.count(method, "unavailable")
		return h.unavailable(w)
	}
	h.count(method, "success")
	p, c := checked.P, checked.Cred

	d, err := h.core.Applications.Admit(ctx, core.Actor{P: p, Cred: c, ClientIP: client}, slug)
	switch {
	case err != nil:
		return h.admitFailed(w, slug, err)
	case !d.Admitted:
		return h.problem(w, http.StatusForbidden, "you may not use this application")
	}
	vals := h.identities.of(p)
	hd := w.Header()
	hd[HeaderUser] = vals[0:1:1]
	hd[HeaderType] = vals[1:2:2]
	hd[HeaderGroups] = vals[2:3:3]
	hd["Cache-Control"] = noStore
	w.WriteHeader(http.StatusOK)
	return http.StatusOK
}

// admitFailed answers an admission that could not be decided.
func (h *Handler) admitFailed(w http.ResponseWriter, slug string, err error) int {
	var nf *core.NotFoundError
	if errors.As(err, &nf) {
		return h.problem(w, http.StatusNotFound, "no such application")
	}
	h.log.Error("forward-auth admission failed", "application", slug, "err", err)
	return h.unavailable(w)
}

// identities holds the identity header values (user, type, groups) of
// the principals admitted lately, so that a warm answer allocates
// nothing. A principal never changes (a change to an account makes a new
// one), so its values never go stale; the map is emptied when the
// authenticator drops principals and when it holds maxIdentities, so
// that it keeps no principal alive for long.
type identities struct {
	m atomic.Pointer[sync.Map] // *authz.Principal -> []string{user, type, groups}
	n atomic.Int64
}

const maxIdentities = 4096

func (c *identities) reset() {
	c.m.Store(new(sync.Map))
	c.n.Store(0)
}

// of returns p's three header values, one backing array.
func (c *identities) of(p *authz.Principal) []string {
	m := c.m.Load()
	if v, ok := m.Load(p); ok {
		return v.([]string)
	}
	vals := []string{p.Username, p.Type, strings.Join(p.Groups, ",")}
	if c.n.Add(1) > maxIdentities {
		c.reset()
		m = c.m.Load()
	}
	m.Store(p, vals)
	return vals
}

func (h *Handler) count(method, outcome string) {
	if h.counters != nil {
		h.counters[method][outcome].Inc()
	}
}

// challenge answers 401 with the schemes this door takes. The realm is the
// slug when it is a valid name (anything else could break the header's
// quoting), so that a browser keeps one login per application.
func (h *Handler) challenge(w http.ResponseWriter, slug, detail string) int {
	if core.NameRule.MatchString(slug) {
		w.Header().Set("WWW-Authenticate", `Basic realm="`+slug+`", Bearer realm="`+slug+`"`)
	} else {
		w.Header()["Www-Authenticate"] = defaultRealm
	}
	return h.problem(w, http.StatusUnauthorized, detail)
}

func (h *Handler) unavailable(w http.ResponseWriter) int {
	w.Header()["Retry-After"] = retryOneSec
	return h.problem(w, http.StatusServiceUnavailable, "access cannot be checked right now")
}

// problem writes a small problem+json answer without allocating more
// than its body. nginx drops the body of an auth_request answer; Traefik
// and Caddy pass it on to the client. Every detail is a constant of this
// file, as httpx.WriteConstProblem requires.
func (h *Handler) problem(w http.ResponseWriter, status int, detail string) int {
	httpx.WriteConstProblem(w, status, detail)
	return status
}
