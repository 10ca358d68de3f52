package ui

// People: the human accounts that sign in to this interface, LDAP and
// forward-auth with a password. The same calls as /api/v1/users (type
// human), its password and second-factor paths, with the same
// permissions (users.read, users.write) and the same bound on acting on
// an account that holds more than oneself.

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/core"
	"github.com/gatehouse/gatehouse/internal/store"
)

var peopleList = listing[core.UserView]{tmpl: "people", title: "People", section: "people", write: authz.UsersWrite, key: username,
	list: func(s *Server, ctx context.Context, c *reqCtx, search, after string) ([]core.UserView, error) {
		return s.core.Accounts.ListUsers(ctx, c.actor, core.UserQuery{Type: store.TypeHuman, Search: search, After: after, Limit: pageSize + 1})
	}}

// passwordFields reads a new password and its repetition: "" and a
// field error when they differ.
func passwordFields(v url.Values) (string, *core.ValidationError) {
	pw := v.Get("new_password")
	if pw != v.Get("confirm_password") {
		return "", &core.ValidationError{Errors: []core.FieldError{{Field: "confirm_password", Message: "does not match the password"}}}
	}
	return pw, nil
}

// passwordRename maps the core's password field to the forms'.
var passwordRename = map[string]string{"password": "new_password"}

// withoutPasswords is a submitted form with the passwords taken out: they
// are never written back into a page.
func withoutPasswords(v url.Values) url.Values {
	out := url.Values{}
	for k, x := range v {
		if k != "new_password" && k != "confirm_password" {
			out[k] = x
		}
	}
	return out
}

func (s *Server) createPerson(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	peopleList.create(s, w, r, c, passwordRename, func(ctx context.Context, v url.Values) (string, string, error) {
		in := core.CreateUserInput{Username: strings.TrimSpace(v.Get("username")), Type: store.TypeHuman,
			Name: strings.TrimSpace(v.Get("name")), Email: strings.TrimSpace(v.Get("email")), Description: v.Get("description")}
		pw, mismatch := passwordFields(v)
		if mismatch != nil {
			return "", "", mismatch
		}
		msg := fmt.Sprintf("%s can sign in now.", in.Username)
		if pw != "" {
			in.Password = &pw
		} else {
			msg = fmt.Sprintf("%s created, without a password: set one below before they can sign in.", in.Username)
		}
		_, err := s.core.Accounts.CreateUser(ctx, c.actor, in)
		return "/people/" + url.PathEscape(in.Username), msg, err
	})
}

type personData struct {
	User         core.UserView
	TwoFactor    bool
	Sessions     []core.SessionView
	CanWrite     bool
	Self         bool // the viewer's own account: changed from the profile
	ProfileForm  *form
	PasswordForm *form
	activity
}

func (s *Server) loadPerson(ctx context.Context, c *reqCtx, name string) (personData, error) {
	u, err := s.loadPersonOnly(ctx, c, name)
	if err != nil {
		return personData{}, err
	}
	d := personData{User: u, CanWrite: c.can(authz.UsersWrite), Self: u.Username == c.actor.P.Username, PasswordForm: newForm(nil),
		ProfileForm: newForm(url.Values{"name": {u.Name}, "email": {u.Email}, "description": {u.Description}})}
	if d.TwoFactor, err = s.core.Sessions.HasTOTP(ctx, u.UID); err != nil {
		return d, err
	}
	if d.Sessions, err = s.core.Sessions.ListUserSessions(ctx, c.actor, name); err != nil {
		return d, err
	}
	d.activity, err = s.loadActivity(ctx, c, name)
	return d, err
}

var personPage = objectPage[personData]{tmpl: "person", section: "people", path: "/people/", load: (*Server).loadPerson}

func (s *Server) updatePerson(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	personPage.save(s, w, r, c, nil, func(d *personData, f *form) { d.ProfileForm = f },
		func(ctx context.Context, name string, v url.Values) error {
			full, email, desc := strings.TrimSpace(v.Get("name")), strings.TrimSpace(v.Get("email")), v.Get("description")
			return errOnly(s.core.Accounts.UpdatePerson(ctx, c.actor, name, core.UpdateUserInput{Name: &full, Email: &email, Description: &desc}))
		}, "Profile saved.")
}

func (s *Server) setPersonActive(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	s.setActive(w, r, c, s.core.Accounts.UpdatePerson, "/people/",
		"%s is enabled: they can sign in again.",
		"%s is disabled: their sessions, tokens and app passwords are refused from now on.")
}

func (s *Server) setPersonPassword(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	personPage.save(s, w, r, c, passwordRename, func(d *personData, f *form) {
		d.PasswordForm = f // its fields never show what was typed
	},
		func(ctx context.Context, name string, v url.Values) error {
			pw, mismatch := passwordFields(v)
			if mismatch != nil {
				return mismatch
			}
			return s.core.Accounts.SetPassword(ctx, c.actor, name, pw)
		}, fmt.Sprintf("Password of %s set. Their sessions were signed out.", r.PathValue("name")))
}

// personAction is a button of a person's page that calls the core and
// says what it did.
func (s *Server) personAction(w http.ResponseWriter, r *http.Request, c *reqCtx, do func(ctx context.Context, name string) (string, error)) {
	name := r.PathValue("name")
	msg, err := do(r.Context(), name)
	if err != nil {
		s.fail(w, r, c, err)
		return
	}
	s.setFlash(w, r, "ok", msg)
	s.redirect(w, r, "/people/"+url.PathEscape(name))
}

func (s *Server) resetPersonTwoFactor(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	s.personAction(w, r, c, func(ctx context.Context, name string) (string, error) {
		return fmt.Sprintf("Second factor of %s removed, with their recovery codes. They sign in with their password alone until they set up a new one.", name),
			s.core.Sessions.ResetTOTP(ctx, c.actor, name)
	})
}

func (s *Server) endPersonSessions(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	s.personAction(w, r, c, func(ctx context.Context, name string) (string, error) {
		n, err := s.core.Sessions.EndUserSessions(ctx, c.actor, name)
		return fmt.Sprintf("%d session(s) of %s signed out.", n, name), err
	})
}

// loadPersonOnly reads a person, without what their page shows.
func (s *Server) loadPersonOnly(ctx context.Context, c *reqCtx, name string) (core.UserView, error) {
	u, err := s.core.Accounts.GetUser(ctx, c.actor, name)
	if err == nil && u.Type != store.TypeHuman {
		err = &core.NotFoundError{Kind: "person", Name: name}
	}
	return u, err
}

var personDeletion = deletion{kind: "person", section: "people", path: "/people/", perm: authz.UsersWrite, list: "/people",
	details: []string{"They are signed out at once; their tokens and app passwords stop working and are deleted.",
		"Their group memberships, role assignments and application bindings are removed.", "Audit events about them are kept."},
	read: func(s *Server, ctx context.Context, c *reqCtx, name string) error {
		_, err := s.loadPersonOnly(ctx, c, name)
		return err
	},
	del: func(s *Server, ctx context.Context, c *reqCtx, name string) error {
		return s.core.Accounts.DeletePerson(ctx, c.actor, name)
	}}
