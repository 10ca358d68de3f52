package ui

import (
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/core"
	"github.com/gatehouse/gatehouse/internal/httpx"
)

// endedMessages explain on the login page why one is there again.
var endedMessages = map[string]string{
	core.SessionExpired:         "Your session has expired. Please sign in again.",
	core.SessionPasswordChanged: "Your password was changed, which ended every session. Sign in with the new password.",
	core.SessionDisabled:        "Your session ended: the account is disabled or was removed.",
	core.SessionMFAFailed:       "Too many wrong codes. Sign in again.",
	"signed_out":                "You are signed out.",
}

// loginData is the login page's content.
type loginData struct {
	Form      *form
	CSRF      string // the login form's double-submit token
	Next      string
	Notice    string
	NoticeBad bool
}

// loginToken returns the double-submit token of the login form: the
// request's cookie value, or a new one set now. Before there is a session
// there is no session token; a cookie value that a cross-site page cannot
// read, repeated in the form, does the same job (with the Origin checks
// of wrap) and stops "login CSRF" (signing a victim into one's account).
func (s *Server) loginToken(w http.ResponseWriter, r *http.Request) string {
	if ck, err := r.Cookie(loginCSRFCookie); err == nil && len(ck.Value) == 43 {
		return ck.Value
	}
	v := randomToken(32)
	http.SetCookie(w, &http.Cookie{Name: loginCSRFCookie, Value: v, Path: "/login", HttpOnly: true,
		Secure: s.secure(r), SameSite: http.SameSiteStrictMode})
	return v
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	next := safeNext(r.URL.Query().Get("next"))
	if ses, err := s.session(r); err == nil {
		if ses.MFAPending {
			s.redirect(w, r, "/login/code?next="+url.QueryEscape(next))
		} else {
			s.redirect(w, r, next)
		}
		return
	}
	d := loginData{Form: newForm(nil), CSRF: s.loginToken(w, r), Next: next}
	if msg, ok := endedMessages[r.URL.Query().Get("ended")]; ok {
		d.Notice = msg
	}
	s.render(w, r, c, http.StatusOK, "login", "Sign in", "", d)
}

func (s *Server) renderLogin(w http.ResponseWriter, r *http.Request, c *reqCtx, status int, f *form, next string) {
	s.render(w, r, c, status, "login", "Sign in", "", loginData{Form: f, CSRF: s.loginToken(w, r), Next: next})
}

// errTurnedAway: a service account proved who it is at the login page.
var errTurnedAway = errors.New("service accounts do not use the web interface")

func (s *Server) login(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	vals, err := parseForm(w, r)
	if err != nil {
		s.renderError(w, r, c, http.StatusBadRequest, "Invalid request", "The form could not be read.")
		return
	}
	next := safeNext(vals.Get("next"))
	username := strings.ToLower(strings.TrimSpace(vals.Get("username")))
	// The password is never echoed back into the page.
	f := newForm(url.Values{"username": {vals.Get("username")}})
	ck, cerr := r.Cookie(loginCSRFCookie)
	if cerr != nil || ck.Value == "" || !hmac.Equal([]byte(ck.Value), []byte(vals.Get("csrf_token"))) {
		f.Message = "The sign-in form expired or did not come from this site (are cookies enabled?). Please try again."
		s.renderLogin(w, r, c, http.StatusForbidden, f, next)
		return
	}
	password := vals.Get("password")
	if username == "" || password == "" {
		if username == "" {
			f.Errors["username"] = "Enter your username."
		}
		if password == "" {
			f.Errors["password"] = "Enter your password."
		}
		s.renderLogin(w, r, c, http.StatusBadRequest, f, next)
		return
	}
	ip := c.actor.ClientIP
	if auth.LooksLikeKey(password) && s.ownKeyOfServiceAccount(r.Context(), username, password) {
		// A service account presenting one of its own valid keys has
		// proved who it is: turned away, not told it failed.
		s.turnAway(w, r, c, username)
		return
	}
	checked, err := s.core.Credentials.CheckCredential(r.Context(), core.DoorWeb,
		core.Presented{Kind: core.KindOf(password), Username: username, Secret: password}, ip, core.CheckOptions{})
	if status, ok := s.refused(w, err, f); ok {
		s.renderLogin(w, r, c, status, f, next)
		return
	}
	if err != nil {
		s.fail(w, r, c, err)
		return
	}
	p := checked.P
	if p.IsServiceAccount() { // cannot happen (they have no password); deny anyway
		s.turnAway(w, r, c, username)
		return
	}
	mfa := checked.SecondFactorDue
	// A new sign-in always gets a new session ID; a session this browser
	// still had ends (no fixation, no orphan).
	if old, err := s.session(r); err == nil {
		_ = s.core.Sessions.EndSession(r.Context(), old.Actor(ip), old)
	}
	var ses core.WebSession
	if mfa {
		ses, err = s.core.Sessions.StartSession(r.Context(), p, ip, r.UserAgent(), core.SecondFactorDue)
	} else {
		ses, err = s.core.Sessions.FinishLogin(r.Context(), p, ip, r.UserAgent(), "password")
	}
	if err != nil {
		s.fail(w, r, c, err)
		return
	}
	s.setSessionCookie(w, r, ses)
	s.clearLoginToken(w, r)
	if mfa {
		s.redirect(w, r, "/login/code?next="+url.QueryEscape(next))
		return
	}
	s.redirect(w, r, next)
}

func (s *Server) clearLoginToken(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: loginCSRFCookie, Value: "", Path: "/login", MaxAge: -1, HttpOnly: true,
		Secure: s.secure(r), SameSite: http.SameSiteStrictMode})
}

// refused turns a refusal of the one credential check into the form's
// message and status: 429 with Retry-After past the limiter, 401 for
// every refused credential alike. It reports whether err was one.
func (s *Server) refused(w http.ResponseWriter, err error, f *form) (int, bool) {
	var rl *core.RateLimitedError
	switch {
	case errors.As(err, &rl):
		secs := httpx.RetryAfter(w.Header(), rl.RetryAfter)
		f.Message = fmt.Sprintf("Too many failed attempts. Wait %d seconds and try again.", secs)
		return http.StatusTooManyRequests, true
	case errors.Is(err, auth.ErrBadCredential):
		f.Message = "Invalid username or password."
		return http.StatusUnauthorized, true
	}
	return 0, false
}

// ownKeyOfServiceAccount checks the key with Inspect, not as a use: the
// key is turned away here, so its last use must not move, nor an
// extended token's expiry slide.
func (s *Server) ownKeyOfServiceAccount(ctx context.Context, username, key string) bool {
	p, err := s.authn.PrincipalByName(ctx, username)
	if err != nil || !p.IsServiceAccount() {
		return false
	}
	if _, err := auth.ParseKey(key); err != nil {
		return false
	}
	owner, _, err := s.authn.Inspect(ctx, key)
	return err == nil && owner.UID == p.UID
}

// turnAway answers a service account at the login page: the brand's
// default application when there is one, an access-denied page otherwise.
// It is recorded as a login_failed event (reason service_account), so an
// administrator sees the misconfigured client.
func (s *Server) turnAway(w http.ResponseWriter, r *http.Request, c *reqCtx, username string) {
	s.core.Credentials.RecordLoginFailed(r.Context(), c.actor.ClientIP, "web", &auth.Failure{Reason: "service_account", Username: username})
	target, err := s.core.Applications.DefaultApplicationURL(r.Context())
	if err != nil {
		s.log.Warn("read the default application", "err", err)
	}
	// The core validates launch URLs; only http(s) is followed anyway.
	if u, perr := url.Parse(target); target != "" && perr == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" {
		http.Redirect(w, r, target, http.StatusSeeOther)
		return
	}
	s.render(w, r, c, http.StatusForbidden, "denied", "Access denied", "", nil)
}

// --- Second factor ------------------------------------------------------------

type codeData struct {
	Form *form
	Next string
	User string
}

func (s *Server) codePage(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	s.render(w, r, c, http.StatusOK, "code", "Two-factor authentication", "",
		codeData{Form: newForm(nil), Next: safeNext(r.URL.Query().Get("next")), User: c.session.Principal.Username})
}

func (s *Server) code(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	vals, err := parseForm(w, r)
	if err != nil {
		s.renderError(w, r, c, http.StatusBadRequest, "Invalid request", "The form could not be read.")
		return
	}
	d := codeData{Form: newForm(nil), Next: safeNext(vals.Get("next")), User: c.session.Principal.Username}
	code := strings.TrimSpace(vals.Get("code"))
	if code == "" {
		d.Form.Errors["code"] = "Enter the code from your authenticator app, or a recovery code."
		s.render(w, r, c, http.StatusBadRequest, "code", "Two-factor authentication", "", d)
		return
	}
	ses, err := s.core.Sessions.CompleteMFA(r.Context(), c.session, code, c.actor.ClientIP, r.UserAgent())
	var ended *core.SessionEndedError
	switch {
	case errors.As(err, &ended):
		s.sessionRequired(w, r, err)
		return
	case errors.Is(err, auth.ErrBadCredential):
		d.Form.Errors["code"] = "That code is not right, or was already used. Codes change every 30 seconds."
		s.render(w, r, c, http.StatusUnauthorized, "code", "Two-factor authentication", "", d)
		return
	case err != nil:
		if status, ok := s.refused(w, err, d.Form); ok {
			s.render(w, r, c, status, "code", "Two-factor authentication", "", d)
			return
		}
		s.fail(w, r, c, err)
		return
	}
	s.setSessionCookie(w, r, ses)
	s.redirect(w, r, d.Next)
}

// logout ends the session, full or still owing its second factor.
func (s *Server) logout(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	if err := s.core.Sessions.EndSession(r.Context(), c.actor, c.session); err != nil {
		s.fail(w, r, c, err)
		return
	}
	s.clearCookie(w, r, SessionCookie)
	s.redirect(w, r, "/login?ended=signed_out")
}
