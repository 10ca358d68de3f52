package ui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/core"
)

var saList = listing[core.UserView]{tmpl: "service_accounts", title: "Service accounts", section: "service-accounts", write: authz.UsersWrite, key: username,
	list: func(s *Server, ctx context.Context, c *reqCtx, search, after string) ([]core.UserView, error) {
		return s.core.Accounts.ListServiceAccounts(ctx, c.actor, core.UserQuery{Search: search, After: after, Limit: pageSize + 1})
	}}

func (s *Server) serviceAccounts(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	saList.render(s, w, r, c, http.StatusOK, nil)
}

type saFormData struct {
	Form      *form
	Groups    []string // existing groups that may be picked
	Roles     []string
	CanRoles  bool
	CanGroups bool
}

// pickers lists the groups and roles the actor may read, for the form's
// checkboxes. A list the actor may not read is simply not offered.
func (s *Server) pickers(ctx context.Context, c *reqCtx) (groups, roles []string) {
	if c.canSomewhere(authz.GroupsRead, authz.KindGroup) {
		if gs, err := s.core.Access.ListGroups(ctx, c.actor, core.GroupQuery{Limit: 500}); err == nil {
			for _, g := range gs {
				groups = append(groups, g.Name)
			}
		}
	}
	if c.can(authz.RolesRead) {
		if rs, err := s.core.Access.ListRoles(ctx, c.actor, "", 500); err == nil {
			for _, r := range rs {
				roles = append(roles, r.Name)
			}
		}
	}
	return groups, roles
}

func (s *Server) renderSAForm(w http.ResponseWriter, r *http.Request, c *reqCtx, status int, f *form) {
	groups, roles := s.pickers(r.Context(), c)
	s.render(w, r, c, status, "service_account_new", "New service account", "service-accounts", saFormData{
		Form: f, Groups: groups, Roles: roles, CanRoles: c.can(authz.RolesWrite), CanGroups: c.can(authz.GroupsWrite)})
}

func (s *Server) newServiceAccountPage(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	if !c.can(authz.UsersWrite) {
		s.forbiddenNeeds(w, r, c, authz.UsersWrite)
		return
	}
	s.renderSAForm(w, r, c, http.StatusOK, newForm(url.Values{"token_intent": {"api"}, "expiry": {"8640h"}}))
}

// lifeFields turns the form's expiry choice into the API's fields.
func lifeFields(v url.Values) (expiring *bool, expiresAt, ttl *string) {
	switch choice := v.Get("expiry"); choice {
	case "never":
		f := false
		return &f, nil, nil
	case "date":
		d := strings.TrimSpace(v.Get("expires_on"))
		// A bare date means its first moment, in UTC (the form says so).
		at := d + "T00:00:00Z"
		if d == "" {
			at = ""
		}
		return nil, &at, nil
	case "":
		return nil, nil, nil
	default:
		return nil, nil, &choice
	}
}

// lifeRename maps the core's expiry fields to this form's fields.
var lifeRename = map[string]string{"expires_at": "expires_on", "ttl": "expiry", "expiring": "expiry"}

type saCreatedData struct {
	Created core.CreatedServiceAccount
	BaseURL string
}

func (s *Server) createServiceAccount(w http.ResponseWriter, r *http.Request, c *reqCtx, v url.Values) {
	in := core.CreateServiceAccountInput{
		Username:    strings.TrimSpace(v.Get("username")),
		Description: v.Get("description"),
		Groups:      v["groups"],
		Roles:       v["roles"],
		CreateGroup: v.Get("create_group") == "on",
		TokenIntent: v.Get("token_intent"),
	}
	if in.TokenIntent != "none" {
		in.Expiring, in.ExpiresAt, in.TTL = lifeFields(v)
	}
	out, err := s.core.Accounts.CreateServiceAccount(r.Context(), c.actor, in)
	if err != nil {
		s.formRefused(w, r, c, err, newForm(v), lifeRename, func(status int, f *form) {
			if status == http.StatusConflict && strings.Contains(f.Message, "already exists") {
				f.Message += " If you submitted this form twice, the account was created the first time: see the list of service accounts."
			}
			s.renderSAForm(w, r, c, status, f)
		})
		return
	}
	s.render(w, r, c, http.StatusCreated, "service_account_created", "Service account created", "service-accounts",
		saCreatedData{Created: out, BaseURL: baseURL(r)})
}

// baseURL is how the browser reached us, for the copy-paste examples.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

type saDetailData struct {
	User     core.UserView
	CanWrite bool
	Form     *form
	activity
}

// activity is what an account's page shows of its credentials and
// events, each as far as the viewer may read it.
type activity struct {
	Tokens     []core.TokenView
	ShowTokens bool
	Events     []core.EventView
	ShowEvents bool
}

func (s *Server) loadActivity(ctx context.Context, c *reqCtx, name string) (activity, error) {
	var d activity
	var err error
	// Only asked when some grant could allow it: a refusal would write an
	// authz_denied event on every view of the page.
	if c.canSomewhere(authz.TokensRead, authz.KindGroup) || c.canSomewhere(authz.TokensWrite, authz.KindGroup) {
		d.ShowTokens = true
		d.Tokens, err = s.core.Credentials.ListTokens(ctx, c.actor, core.TokenQuery{User: name, Limit: 200})
		if errors.Is(err, core.ErrForbidden) {
			d.ShowTokens, err = false, nil
		}
		if err != nil {
			return d, err
		}
	}
	if c.can(authz.EventsRead) {
		d.ShowEvents = true
		about, err := s.core.Events.ListEvents(ctx, c.actor, core.EventQuery{Target: name, Limit: 20})
		if err != nil {
			return d, err
		}
		by, err := s.core.Events.ListEvents(ctx, c.actor, core.EventQuery{Actor: name, Limit: 20})
		if err != nil {
			return d, err
		}
		d.Events = mergeEvents(about, by, 20)
	}
	return d, nil
}

func (s *Server) loadSADetail(ctx context.Context, c *reqCtx, name string) (saDetailData, error) {
	u, err := s.core.Accounts.GetServiceAccount(ctx, c.actor, name)
	if err != nil {
		return saDetailData{}, err
	}
	d := saDetailData{User: u, CanWrite: c.can(authz.UsersWrite), Form: newForm(url.Values{"description": {u.Description}})}
	d.activity, err = s.loadActivity(ctx, c, name)
	return d, err
}

// mergeEvents merges two newest-first lists without duplicates.
func mergeEvents(a, b []core.EventView, limit int) []core.EventView {
	all := append(append([]core.EventView(nil), a...), b...)
	slices.SortFunc(all, func(x, y core.EventView) int {
		switch {
		case x.ID > y.ID:
			return -1
		case x.ID < y.ID:
			return 1
		}
		return 0
	})
	all = slices.CompactFunc(all, func(x, y core.EventView) bool { return x.ID == y.ID })
	if len(all) > limit {
		all = all[:limit]
	}
	return all
}

var saPage = objectPage[saDetailData]{tmpl: "service_account", section: "service-accounts", path: "/service-accounts/", load: (*Server).loadSADetail}

func (s *Server) updateServiceAccount(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	saPage.save(s, w, r, c, nil, func(d *saDetailData, f *form) { d.Form = f },
		func(ctx context.Context, name string, v url.Values) error {
			desc := v.Get("description")
			return errOnly(s.core.Accounts.UpdateServiceAccount(ctx, c.actor, name, core.UpdateUserInput{Description: &desc}))
		}, "Description saved.")
}

// setActive is the enable/disable button of an account's page: update
// is the core call (people or service accounts), back the page, and
// on/off say what changed.
func (s *Server) setActive(w http.ResponseWriter, r *http.Request, c *reqCtx,
	update func(ctx context.Context, a core.Actor, name string, in core.UpdateUserInput) (core.UserView, error), back, on, off string) {
	name := r.PathValue("name")
	v, ok := s.values(w, r, c)
	if !ok {
		return
	}
	active := v.Get("active") == "true"
	if _, err := update(r.Context(), c.actor, name, core.UpdateUserInput{IsActive: &active}); err != nil {
		s.fail(w, r, c, err)
		return
	}
	if active {
		s.setFlash(w, r, "ok", fmt.Sprintf(on, name))
	} else {
		s.setFlash(w, r, "ok", fmt.Sprintf(off, name))
	}
	s.redirect(w, r, back+url.PathEscape(name))
}

func (s *Server) setServiceAccountActive(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	s.setActive(w, r, c, s.core.Accounts.UpdateServiceAccount, "/service-accounts/",
		"%s is enabled: its tokens and app passwords work again.",
		"%s is disabled: its tokens and app passwords are refused from now on.")
}

type confirmData struct {
	Kind    string // "service account", "group", "role"
	Name    string
	Action  string // the form's URL
	Back    string
	Details []string
	Form    *form
}

var saDeletion = deletion{kind: "service account", section: "service-accounts", path: "/service-accounts/", perm: authz.UsersWrite, list: "/service-accounts",
	details: []string{"Every token and app password of the account stops working at once and is deleted.",
		"Its group memberships and role assignments are removed.", "Audit events about it are kept."},
	read: func(s *Server, ctx context.Context, c *reqCtx, name string) error {
		return errOnly(s.core.Accounts.GetServiceAccount(ctx, c.actor, name))
	},
	del: func(s *Server, ctx context.Context, c *reqCtx, name string) error {
		return s.core.Accounts.DeleteServiceAccount(ctx, c.actor, name)
	}}
