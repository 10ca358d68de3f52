package ui

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/core"
	"github.com/gatehouse/gatehouse/internal/httpx"
)

type profileData struct {
	Me           core.Me
	Tokens       []core.TokenView
	CanIssue     bool
	TOTP         core.TOTPStatus
	Sessions     []core.SessionView
	PasswordForm *form
	FactorForm   *form // the password asked before turning the factor off or renewing codes
}

func (s *Server) loadProfile(r *http.Request, c *reqCtx) (profileData, error) {
	ctx := r.Context()
	me, err := s.core.Accounts.Me(ctx, c.actor)
	if err != nil {
		return profileData{}, err
	}
	d := profileData{Me: me, PasswordForm: newForm(nil), FactorForm: newForm(nil),
		CanIssue: c.can(authz.TokensSelf) || c.can(authz.TokensWrite)}
	if d.Tokens, err = s.core.Credentials.ListTokens(ctx, c.actor, core.TokenQuery{User: me.Username, Limit: 200}); err != nil {
		return d, err
	}
	if d.TOTP, err = s.core.Sessions.GetTOTPStatus(ctx, c.actor); err != nil {
		return d, err
	}
	if d.Sessions, err = s.core.Sessions.ListOwnSessions(ctx, c.actor, c.session.IDHash); err != nil {
		return d, err
	}
	return d, nil
}

func (s *Server) profile(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	d, err := s.loadProfile(r, c)
	if err != nil {
		s.fail(w, r, c, err)
		return
	}
	s.render(w, r, c, http.StatusOK, "profile", "Your profile", "profile", d)
}

// profileFormError re-renders the profile with the error of one of its
// forms.
func (s *Server) profileFormError(w http.ResponseWriter, r *http.Request, c *reqCtx, err error, which string) {
	f := newForm(nil) // passwords are never echoed back
	status, ok := f.formError(err, nil)
	var rl *core.RateLimitedError
	if errors.As(err, &rl) {
		// The password asked again is limited like a sign-in.
		secs := httpx.RetryAfter(w.Header(), rl.RetryAfter)
		f.Message = fmt.Sprintf("Too many failed attempts. Wait %d seconds and try again.", secs)
		status, ok = http.StatusTooManyRequests, true
	}
	if !ok {
		s.fail(w, r, c, err)
		return
	}
	d, lerr := s.loadProfile(r, c)
	if lerr != nil {
		s.fail(w, r, c, lerr)
		return
	}
	if which == "password" {
		d.PasswordForm = f
	} else {
		d.FactorForm = f
	}
	s.render(w, r, c, status, "profile", "Your profile", "profile", d)
}

func (s *Server) changePassword(w http.ResponseWriter, r *http.Request, c *reqCtx, v url.Values) {
	next := v.Get("new_password")
	if next != v.Get("confirm_password") {
		s.profileFormError(w, r, c, &core.ValidationError{Errors: []core.FieldError{{Field: "confirm_password", Message: "does not match the new password"}}}, "password")
		return
	}
	// The core checks the current password like a sign-in: limited,
	// and recorded when wrong.
	ses, err := s.core.Sessions.ChangeOwnPassword(r.Context(), c.actor, v.Get("current_password"), next, c.actor.ClientIP, r.UserAgent())
	if err != nil {
		s.profileFormError(w, r, c, err, "password")
		return
	}
	s.setSessionCookie(w, r, ses)
	s.setFlash(w, r, "ok", "Password changed. Every other session was signed out.")
	s.redirect(w, r, "/profile")
}

func (s *Server) endOtherSessions(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	n, err := s.core.Sessions.EndOtherSessions(r.Context(), c.actor, c.session.IDHash)
	if err != nil {
		s.fail(w, r, c, err)
		return
	}
	if n == 0 {
		s.setFlash(w, r, "info", "There were no other sessions.")
	} else {
		s.setFlash(w, r, "ok", "Every other session was signed out.")
	}
	s.redirect(w, r, "/profile")
}

type twoFactorData struct {
	Enrolment core.TOTPEnrolment
	Form      *form
	Codes     []string // recovery codes, shown once
}

func (s *Server) beginTwoFactor(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	en, err := s.core.Sessions.BeginTOTP(r.Context(), c.actor)
	if err != nil {
		s.fail(w, r, c, err)
		return
	}
	s.render(w, r, c, http.StatusOK, "two_factor", "Set up two-factor authentication", "profile", twoFactorData{Enrolment: en, Form: newForm(nil)})
}

func (s *Server) twoFactorPage(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	en, err := s.core.Sessions.PendingTOTP(r.Context(), c.actor)
	if err != nil {
		if _, ok := err.(*core.NotFoundError); ok {
			s.redirect(w, r, "/profile")
			return
		}
		s.fail(w, r, c, err)
		return
	}
	s.render(w, r, c, http.StatusOK, "two_factor", "Set up two-factor authentication", "profile", twoFactorData{Enrolment: en, Form: newForm(nil)})
}

func (s *Server) confirmTwoFactor(w http.ResponseWriter, r *http.Request, c *reqCtx, v url.Values) {
	codes, err := s.core.Sessions.ConfirmTOTP(r.Context(), c.actor, v.Get("code"))
	if err != nil {
		f := newForm(nil)
		status, ok := f.formError(err, nil)
		en, perr := s.core.Sessions.PendingTOTP(r.Context(), c.actor)
		if !ok || perr != nil {
			s.fail(w, r, c, err)
			return
		}
		s.render(w, r, c, status, "two_factor", "Set up two-factor authentication", "profile", twoFactorData{Enrolment: en, Form: f})
		return
	}
	s.render(w, r, c, http.StatusOK, "recovery_codes", "Recovery codes", "profile", twoFactorData{Codes: codes})
}

func (s *Server) disableTwoFactor(w http.ResponseWriter, r *http.Request, c *reqCtx, v url.Values) {
	if err := s.core.Sessions.DisableTOTP(r.Context(), c.actor, v.Get("password")); err != nil {
		s.profileFormError(w, r, c, err, "factor")
		return
	}
	s.setFlash(w, r, "ok", "Two-factor authentication is off.")
	s.redirect(w, r, "/profile")
}

func (s *Server) regenerateRecoveryCodes(w http.ResponseWriter, r *http.Request, c *reqCtx, v url.Values) {
	codes, err := s.core.Sessions.RegenerateRecoveryCodes(r.Context(), c.actor, v.Get("password"))
	if err != nil {
		s.profileFormError(w, r, c, err, "factor")
		return
	}
	s.render(w, r, c, http.StatusOK, "recovery_codes", "Recovery codes", "profile", twoFactorData{Codes: codes})
}
