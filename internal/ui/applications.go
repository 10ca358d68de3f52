package ui

// Applications: what forward-auth (and the brand's default application)
// guard, and who may enter them. The same calls as /api/v1/applications
// and its bindings, with the same permissions (applications.read and
// applications.write, either possibly scoped to one application; binding
// an account or a group also needs to be allowed to see it).

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/core"
)

var applicationList = listing[core.ApplicationView]{tmpl: "applications", title: "Applications", section: "applications", write: authz.ApplicationsWrite,
	key: func(a core.ApplicationView) string { return a.Slug },
	list: func(s *Server, ctx context.Context, c *reqCtx, search, after string) ([]core.ApplicationView, error) {
		return s.core.Applications.ListApplications(ctx, c.actor, core.ApplicationQuery{Search: search, After: after, Limit: pageSize + 1})
	}}

func (s *Server) applications(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	applicationList.render(s, w, r, c, http.StatusOK, newForm(url.Values{"policy_engine_mode": {"any"}}))
}

// applicationInput reads the application form's settings.
func applicationInput(v url.Values) core.ApplicationInput {
	name, u, desc, mode := strings.TrimSpace(v.Get("name")), strings.TrimSpace(v.Get("url")), v.Get("description"), v.Get("policy_engine_mode")
	return core.ApplicationInput{Name: &name, URL: &u, Description: &desc, PolicyEngineMode: &mode}
}

func (s *Server) createApplication(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	applicationList.create(s, w, r, c, nil, func(ctx context.Context, v url.Values) (string, string, error) {
		in := applicationInput(v)
		in.Slug = strings.TrimSpace(v.Get("slug"))
		_, err := s.core.Applications.CreateApplication(ctx, c.actor, in)
		return "/applications/" + url.PathEscape(in.Slug),
			fmt.Sprintf("Application %s created. Without bindings it admits every active account: bind users or groups to close it.", in.Slug), err
	})
}

type applicationData struct {
	App         core.ApplicationView
	CanWrite    bool // this application (scoped or not)
	CanDelete   bool // applications.write unscoped
	CanEntrants bool // users.read: who can enter names accounts
	EditForm    *form
	BindForm    *form
	Users       []string // suggestions for the binding's name
	Groups      []string
}

func (s *Server) loadApplication(ctx context.Context, c *reqCtx, slug string) (applicationData, error) {
	app, err := s.core.Applications.GetApplication(ctx, c.actor, slug)
	if err != nil {
		return applicationData{}, err
	}
	d := applicationData{App: app, CanWrite: c.actor.P.CanOn(authz.ApplicationsWrite, authz.Object{Kind: authz.KindApplication, Name: slug}),
		CanDelete: c.can(authz.ApplicationsWrite), CanEntrants: c.can(authz.UsersRead),
		EditForm: newForm(url.Values{"name": {app.Name}, "url": {app.URL}, "description": {app.Description}, "policy_engine_mode": {app.PolicyEngineMode}}),
		BindForm: newForm(url.Values{"kind": {"groups"}, "order": {"0"}})}
	if d.CanWrite {
		d.Groups, _ = s.pickers(ctx, c)
		d.Users = s.usernames(ctx, c)
	}
	return d, nil
}

var applicationPage = objectPage[applicationData]{tmpl: "application", section: "applications", path: "/applications/", load: (*Server).loadApplication}

func (s *Server) updateApplication(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	applicationPage.save(s, w, r, c, nil, func(d *applicationData, f *form) { d.EditForm = f },
		func(ctx context.Context, slug string, v url.Values) error {
			return errOnly(s.core.Applications.UpdateApplication(ctx, c.actor, slug, applicationInput(v)))
		}, "Application saved.")
}

// bindingKinds are the binding form's choices, as the API's path
// segments.
var bindingKinds = map[string]string{"users": "account", "groups": "group"}

func (s *Server) putBinding(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	kind, name := r.PostFormValue("kind"), strings.TrimSpace(r.PostFormValue("subject"))
	applicationPage.save(s, w, r, c, nil, func(d *applicationData, f *form) { d.BindForm = f },
		func(ctx context.Context, slug string, v url.Values) error {
			var in core.BindingInput
			var bad []core.FieldError
			if _, ok := bindingKinds[kind]; !ok {
				bad = append(bad, core.FieldError{Field: "kind", Message: "must be an account or a group"})
			}
			if name == "" {
				bad = append(bad, core.FieldError{Field: "subject", Message: "is required"})
			}
			if o := strings.TrimSpace(v.Get("order")); o != "" {
				n, err := strconv.Atoi(o)
				if err != nil {
					bad = append(bad, core.FieldError{Field: "order", Message: "must be a whole number"})
				}
				in.Order = &n
			}
			negate := v.Get("negate") == "on"
			in.Negate = &negate
			if len(bad) > 0 {
				return &core.ValidationError{Errors: bad}
			}
			_, err := s.core.Applications.PutBinding(ctx, c.actor, slug, kind, name, in)
			var nf *core.NotFoundError
			if errors.As(err, &nf) && nf.Kind != "application" {
				// The account or group named does not exist: the field's error.
				return &core.ValidationError{Errors: []core.FieldError{{Field: "subject", Message: nf.Error()}}}
			}
			return err
		}, fmt.Sprintf("The %s %s is bound to %s.", bindingKinds[kind], name, r.PathValue("name")))
}

func (s *Server) deleteBinding(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	slug, kind, name := r.PathValue("name"), r.PathValue("kind"), r.PathValue("subject")
	if err := s.core.Applications.DeleteBinding(r.Context(), c.actor, slug, kind, name); err != nil {
		s.fail(w, r, c, err)
		return
	}
	s.setFlash(w, r, "ok", fmt.Sprintf("The %s %s is no longer bound to %s.", bindingKinds[kind], name, slug))
	s.redirect(w, r, "/applications/"+url.PathEscape(slug))
}

type entrantsData struct {
	App      core.ApplicationView
	Entrants core.Entrants
}

// applicationEntrants is "who can enter": the accounts the bindings
// admit, as forward-auth decides.
func (s *Server) applicationEntrants(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	slug := r.PathValue("name")
	app, err := s.core.Applications.GetApplication(r.Context(), c.actor, slug)
	if err != nil {
		s.fail(w, r, c, err)
		return
	}
	if !c.can(authz.UsersRead) {
		s.forbiddenNeeds(w, r, c, authz.UsersRead)
		return
	}
	e, err := s.core.Applications.Entrants(r.Context(), c.actor, slug)
	if err != nil {
		s.fail(w, r, c, err)
		return
	}
	s.render(w, r, c, http.StatusOK, "application_entrants", "Who can enter "+app.Name, "applications", entrantsData{App: app, Entrants: e})
}

var applicationDeletion = deletion{kind: "application", section: "applications", path: "/applications/", perm: authz.ApplicationsWrite, list: "/applications",
	details: []string{"Its bindings are removed.", "Forward-auth refuses every request for it from then on."},
	read: func(s *Server, ctx context.Context, c *reqCtx, slug string) error {
		return errOnly(s.core.Applications.GetApplication(ctx, c.actor, slug))
	},
	del: func(s *Server, ctx context.Context, c *reqCtx, slug string) error {
		return s.core.Applications.DeleteApplication(ctx, c.actor, slug)
	}}
