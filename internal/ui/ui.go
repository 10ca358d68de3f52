// Package ui is the web interface: server-rendered pages (html/template,
// embedded), htmx for partial updates, for the people who administer
// gatehouse. It is a thin front door like the REST API: every page and
// every form is a call on the same core with an Actor built from the
// session's principal, so the same authorizer decides, and the same
// events are written.
//
// Security model: a session cookie (HttpOnly, SameSite=Lax, Secure over
// TLS) names a random 256-bit session ID, stored only as its SHA-256; the
// session is checked on every request against the core's clock (idle
// timeout, absolute lifetime) and the user's current state (active, same
// password). Every state-changing request needs the session's CSRF token
// (a form field or the X-CSRF-Token header) and, when the browser says
// where it comes from, the same origin. Pages carry a strict
// Content-Security-Policy: no inline script or style, nothing from
// elsewhere.
package ui

import (
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/clock"
	"github.com/gatehouse/gatehouse/internal/core"
	"github.com/gatehouse/gatehouse/internal/httpx"
)

// Cookie names.
const (
	SessionCookie   = "gatehouse_session"
	loginCSRFCookie = "gatehouse_login_csrf"
	flashCookie     = "gatehouse_flash"
)

// CSRFHeader carries the CSRF token on htmx requests.
const CSRFHeader = "X-CSRF-Token"

// maxFormBytes bounds a form body; the longest field (a description) is
// 1024 characters, a role's permissions a few kilobytes.
const maxFormBytes = 64 << 10

// Options configure the interface.
type Options struct {
	// TLS: the server itself serves HTTPS (cookies are Secure). A request
	// that arrived over TLS gets Secure cookies whatever this says.
	TLS bool
	// ClientIP finds the client's address: the one resolver of every
	// door, so that all of them record the same address in events.
	ClientIP func(*http.Request) string
}

// Server serves the web interface.
type Server struct {
	core     *core.Service
	authn    *auth.Authenticator
	clock    clock.Clock
	log      *slog.Logger
	clientIP func(*http.Request) string
	tls      bool
	assets   *assets
	pages    map[string]*template.Template
}

// New builds the interface: it loads the static files (hashing them) and
// parses every template, so a broken template fails at start, not on a
// request.
func New(c *core.Service, log *slog.Logger, opts Options) (*Server, error) {
	if opts.ClientIP == nil {
		return nil, errors.New("ui: Options.ClientIP is required")
	}
	a, err := loadAssets()
	if err != nil {
		return nil, err
	}
	s := &Server{core: c, authn: c.Authenticator(), clock: c.Clock(), log: log,
		clientIP: opts.ClientIP, tls: opts.TLS, assets: a}
	if s.pages, err = s.parseTemplates(); err != nil {
		return nil, err
	}
	return s, nil
}

// handler is a page or form handler; c is the request's context.
type handler func(w http.ResponseWriter, r *http.Request, c *reqCtx)

// reqCtx is what a handler knows about the request.
type reqCtx struct {
	session core.WebSession // zero for public pages
	actor   core.Actor
	flash   *flash
}

// access levels of routes.
type access int

const (
	public  access = iota // no session needed (login, static, not found)
	pending               // a session still owing its second factor
	signed                // a full session
	either                // pending or full (sign out)
)

// Mount registers the interface's routes on mux. API and operational
// routes are more specific patterns, so they keep precedence.
func (s *Server) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /static/", s.static)
	for _, rt := range s.routes() {
		mux.Handle(rt.pattern, s.wrap(rt.access, rt.h))
	}
	// Everything else is this interface's 404 page, except a path that
	// exists for other methods: 405, as the mux itself would answer had
	// this catch-all not been registered.
	notFound := s.wrap(public, s.notFound)
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if allow := allowedMethods(mux, r); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		notFound.ServeHTTP(w, r)
	}))
}

// allowedMethods lists the methods for which mux has a route of r's path
// other than the catch-all.
func allowedMethods(mux *http.ServeMux, r *http.Request) []string {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if m == r.Method || (m == http.MethodGet && r.Method == http.MethodHead) {
			continue
		}
		probe := &http.Request{Method: m, URL: r.URL, Host: r.Host, Header: http.Header{}}
		if _, pattern := mux.Handler(probe); pattern != "" && pattern != "/" {
			allow = append(allow, m)
		}
	}
	return allow
}

type route struct {
	pattern string
	access  access
	h       handler
}

// RouteInfo is one route of the interface as the authorization matrix
// (internal/authzmatrix) sees it.
type RouteInfo struct {
	Pattern string // "METHOD /path", as registered on the mux
	Access  string // "public", "pending", "signed" or "either"
}

// RouteTable lists the interface's routes (not the static files and the
// catch-all 404), so that a test can call every one of them.
func RouteTable() []RouteInfo {
	names := map[access]string{public: "public", pending: "pending", signed: "signed", either: "either"}
	var out []RouteInfo
	for _, rt := range (&Server{}).routes() {
		out = append(out, RouteInfo{Pattern: rt.pattern, Access: names[rt.access]})
	}
	return out
}

func (s *Server) routes() []route {
	return []route{
		{"GET /login", public, s.loginPage},
		{"POST /login", public, s.login},
		{"GET /login/code", pending, s.codePage},
		{"POST /login/code", pending, s.code},
		{"POST /logout", either, s.logout},

		{"GET /{$}", signed, s.dashboard},

		{"GET /service-accounts", signed, s.serviceAccounts},
		{"GET /service-accounts/new", signed, s.newServiceAccountPage},
		{"POST /service-accounts", signed, s.posted(s.createServiceAccount)},
		{"GET /service-accounts/{name}", signed, saPage.get(s)},
		{"POST /service-accounts/{name}", signed, s.updateServiceAccount},
		{"POST /service-accounts/{name}/active", signed, s.setServiceAccountActive},
		{"GET /service-accounts/{name}/delete", signed, saDeletion.page(s)},
		{"POST /service-accounts/{name}/delete", signed, saDeletion.post(s)},

		{"GET /people", signed, peopleList.page(s)},
		{"POST /people", signed, s.createPerson},
		{"GET /people/{name}", signed, personPage.get(s)},
		{"POST /people/{name}", signed, s.updatePerson},
		{"POST /people/{name}/active", signed, s.setPersonActive},
		{"POST /people/{name}/password", signed, s.setPersonPassword},
		{"POST /people/{name}/two-factor/reset", signed, s.resetPersonTwoFactor},
		{"POST /people/{name}/sessions/end", signed, s.endPersonSessions},
		{"GET /people/{name}/delete", signed, personDeletion.page(s)},
		{"POST /people/{name}/delete", signed, personDeletion.post(s)},

		{"GET /tokens", signed, s.tokens},
		{"GET /tokens/new", signed, s.newTokenPage},
		{"POST /tokens", signed, s.posted(s.createToken)},
		{"GET /tokens/{id}", signed, s.token},
		{"POST /tokens/{id}/rotate", signed, s.posted(s.rotateToken)},
		{"POST /tokens/{id}/revoke", signed, s.revokeToken},

		{"GET /groups", signed, groupList.page(s)},
		{"POST /groups", signed, s.createGroup},
		{"GET /groups/{name}", signed, groupPage.get(s)},
		{"POST /groups/{name}", signed, s.updateGroup},
		{"POST /groups/{name}/members", signed, s.addMember},
		{"POST /groups/{name}/members/{username}/remove", signed, s.removeMember},
		{"GET /groups/{name}/delete", signed, groupDeletion.page(s)},
		{"POST /groups/{name}/delete", signed, groupDeletion.post(s)},

		{"GET /roles", signed, roleList.page(s)},
		{"GET /roles/new", signed, roleNew.page(s, noValues)},
		{"POST /roles", signed, roleNew.create(s, permRename, createRole)},
		{"GET /roles/{name}", signed, rolePage.get(s)},
		{"POST /roles/{name}", signed, s.updateRole},
		{"POST /roles/{name}/assignments", signed, s.posted(s.assignRole)},
		{"POST /roles/{name}/assignments/{kind}/{holder}/remove", signed, s.unassignRole},
		{"GET /roles/{name}/delete", signed, roleDeletion.page(s)},
		{"POST /roles/{name}/delete", signed, roleDeletion.post(s)},

		{"GET /applications", signed, s.applications},
		{"POST /applications", signed, s.createApplication},
		{"GET /applications/{name}", signed, applicationPage.get(s)},
		{"POST /applications/{name}", signed, s.updateApplication},
		{"POST /applications/{name}/bindings", signed, s.putBinding},
		{"POST /applications/{name}/bindings/{kind}/{subject}/remove", signed, s.deleteBinding},
		{"GET /applications/{name}/entrants", signed, s.applicationEntrants},
		{"GET /applications/{name}/delete", signed, applicationDeletion.page(s)},
		{"POST /applications/{name}/delete", signed, applicationDeletion.post(s)},

		{"GET /ldap-providers", signed, s.ldapProviders},
		{"POST /ldap-providers", signed, s.createLDAPProvider},
		{"GET /ldap-providers/{name}", signed, providerPage.get(s)},
		{"POST /ldap-providers/{name}", signed, s.updateLDAPProvider},
		{"GET /ldap-providers/{name}/directory", signed, s.ldapDirectory},
		{"GET /ldap-providers/{name}/delete", signed, providerDeletion.page(s)},
		{"POST /ldap-providers/{name}/delete", signed, providerDeletion.post(s)},

		{"GET /outposts", signed, s.outposts},
		{"POST /outposts", signed, s.posted(s.createOutpost)},
		{"GET /outposts/{name}", signed, outpostPage.get(s)},
		{"POST /outposts/{name}/rotate", signed, s.posted(s.rotateOutpost)},
		{"GET /outposts/{name}/delete", signed, outpostDeletion.page(s)},
		{"POST /outposts/{name}/delete", signed, outpostDeletion.post(s)},

		{"GET /oidc-issuers", signed, issuerList.page(s)},
		{"GET /oidc-issuers/new", signed, issuerNew.page(s, issuerDefaults)},
		{"POST /oidc-issuers", signed, issuerNew.create(s, nil, createOIDCIssuer)},
		{"GET /oidc-issuers/{name}", signed, issuerPage.get(s)},
		{"POST /oidc-issuers/{name}", signed, s.updateOIDCIssuer},
		{"GET /oidc-issuers/{name}/delete", signed, s.deleteOIDCIssuerPage},
		{"POST /oidc-issuers/{name}/delete", signed, s.deleteOIDCIssuer},

		{"GET /trust-policies", signed, s.trustPolicies},
		{"GET /trust-policies/new", signed, policyNew.page(s, policyDefaults)},
		{"POST /trust-policies", signed, policyNew.create(s, nil, createTrustPolicy)},
		{"GET /trust-policies/{name}", signed, policyPage.get(s)},
		{"POST /trust-policies/{name}", signed, s.updateTrustPolicy},
		{"GET /trust-policies/{name}/delete", signed, policyDeletion.page(s)},
		{"POST /trust-policies/{name}/delete", signed, policyDeletion.post(s)},

		{"GET /policy-tester", signed, s.policyTesterPage},
		{"POST /policy-tester", signed, s.posted(s.testPolicies)},

		{"GET /events", signed, s.events},

		{"GET /profile", signed, s.profile},
		{"POST /profile/password", signed, s.posted(s.changePassword)},
		{"POST /profile/sessions/end-others", signed, s.endOtherSessions},
		{"GET /profile/two-factor", signed, s.twoFactorPage},
		{"POST /profile/two-factor", signed, s.beginTwoFactor},
		{"POST /profile/two-factor/confirm", signed, s.posted(s.confirmTwoFactor)},
		{"POST /profile/two-factor/disable", signed, s.posted(s.disableTwoFactor)},
		{"POST /profile/two-factor/recovery-codes", signed, s.posted(s.regenerateRecoveryCodes)},

		{"GET /settings", signed, s.settings},
		{"POST /settings", signed, s.posted(s.updateSettings)},
	}
}

func (s *Server) static(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Security-Policy", httpx.PageCSP)
	s.assets.serve(w, r)
}

// wrap applies the interface's headers, resolves the session, and
// refuses forged state-changing requests before the handler runs.
func (s *Server) wrap(level access, h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpx.PageHeaders(w.Header())
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)

		c := &reqCtx{actor: core.Actor{ClientIP: s.clientIP(r)}}
		c.flash = s.takeFlash(w, r)
		unsafe := r.Method != http.MethodGet && r.Method != http.MethodHead
		if unsafe && !sameOrigin(r) {
			s.forbidden(w, r, c, "This request did not come from a page of this site, so it was refused.")
			return
		}
		if unsafe {
			// Read the form once, up front: an over-long body is a 413,
			// not a missing CSRF token.
			if err := r.ParseForm(); err != nil {
				var tooBig *http.MaxBytesError
				if errors.As(err, &tooBig) {
					s.renderError(w, r, c, http.StatusRequestEntityTooLarge, "Too large",
						fmt.Sprintf("The form is larger than %d KiB; nothing was changed.", maxFormBytes>>10))
					return
				}
				s.renderError(w, r, c, http.StatusBadRequest, "Invalid request", "The form could not be read; nothing was changed.")
				return
			}
		}
		if level == public {
			h(w, r, c)
			return
		}
		ses, err := s.session(r)
		if err != nil {
			s.sessionRequired(w, r, err)
			return
		}
		switch {
		case level == pending && !ses.MFAPending:
			s.redirect(w, r, "/")
			return
		case level == signed && ses.MFAPending:
			s.redirect(w, r, "/login/code")
			return
		}
		c.session, c.actor = ses, ses.Actor(c.actor.ClientIP)
		if unsafe && !s.validCSRF(r, ses.CSRFToken) {
			s.log.Warn("refused a state-changing request without a valid CSRF token", "path", r.URL.Path, "user", ses.Principal.Username)
			s.forbidden(w, r, c, "This form has expired or did not come from this site. Reload the page and try again.")
			return
		}
		h(w, r, c)
	})
}

// session reads the session cookie.
func (s *Server) session(r *http.Request) (core.WebSession, error) {
	ck, err := r.Cookie(SessionCookie)
	if err != nil || ck.Value == "" {
		return core.WebSession{}, core.ErrUnauthenticated
	}
	return s.core.Sessions.ResolveSession(r.Context(), ck.Value)
}

// sessionRequired sends a request without a usable session to the login
// page, saying why when the session ended, and coming back afterwards.
func (s *Server) sessionRequired(w http.ResponseWriter, r *http.Request, err error) {
	var ended *core.SessionEndedError
	if !errors.As(err, &ended) && !errors.Is(err, core.ErrUnauthenticated) {
		s.log.Error("resolve session", "err", err)
		s.renderError(w, r, &reqCtx{}, http.StatusServiceUnavailable, "Unavailable", "The session could not be checked. Try again in a moment.")
		return
	}
	q := url.Values{}
	if ended != nil {
		q.Set("ended", ended.Reason)
		s.clearCookie(w, r, SessionCookie)
	}
	next := r.URL.RequestURI()
	if r.Method != http.MethodGet || r.Header.Get("HX-Request") == "true" {
		next = r.Header.Get("HX-Current-URL")
		if u, err := url.Parse(next); err == nil {
			next = u.RequestURI()
		} else {
			next = ""
		}
	}
	if n := safeNext(next); n != "/" {
		q.Set("next", n)
	}
	target := "/login"
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	s.redirect(w, r, target)
}

// redirect sends the browser on after a form (303, so the next request is
// a GET). htmx requests get HX-Redirect instead: htmx would otherwise
// follow the redirect itself and swap the whole target page into a part
// of the current one.
func (s *Server) redirect(w http.ResponseWriter, r *http.Request, target string) {
	if r.Header.Get("HX-Request") == "true" {
		w.Header().Set("HX-Redirect", target)
		w.WriteHeader(http.StatusOK)
		return
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// sameOrigin refuses cross-site state-changing requests using what the
// browser says: Sec-Fetch-Site when sent (every current browser), else
// Origin. Neither present (an old browser, curl): the CSRF token decides.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		return site == "same-origin"
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		return err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host)
	}
	return true
}

// validCSRF compares the request's token (form field or header) with the
// session's, in constant time.
func (s *Server) validCSRF(r *http.Request, want string) bool {
	got := r.Header.Get(CSRFHeader)
	if got == "" {
		got = r.PostFormValue("csrf_token")
	}
	return got != "" && hmac.Equal([]byte(got), []byte(want))
}

// secure says whether cookies set on this answer need the Secure flag.
func (s *Server) secure(r *http.Request) bool { return s.tls || r.TLS != nil }

func (s *Server) setSessionCookie(w http.ResponseWriter, r *http.Request, ses core.WebSession) {
	// A session cookie (no Max-Age): the browser forgets it when closed;
	// the server's idle timeout and lifetime bound it either way.
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: ses.ID, Path: "/", HttpOnly: true,
		Secure: s.secure(r), SameSite: http.SameSiteLaxMode})
}

func (s *Server) clearCookie(w http.ResponseWriter, r *http.Request, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: s.secure(r), SameSite: http.SameSiteLaxMode})
}

// randomToken returns n random bytes as URL-safe text.
func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// safeNext keeps a post-login destination on this site: a path starting
// with one slash, no scheme, no host, no backslash tricks.
func safeNext(next string) string {
	if next == "" || len(next) > 1024 || next[0] != '/' || strings.HasPrefix(next, "//") ||
		strings.ContainsAny(next, "\\\x00\r\n\t") || strings.HasPrefix(next, "/login") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return "/"
	}
	return next
}

// can reports whether the session's principal holds perm (nav and
// which controls to show; the core still decides every action).
func (c *reqCtx) can(perm string) bool { return c.actor.P.Can(perm) }

func (c *reqCtx) canSomewhere(perm, kind string) bool { return c.actor.P.CanSomewhere(perm, kind) }
