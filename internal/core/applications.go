package core

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/client"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/store"
)

// ApplicationView is an application as the API shows it.
type ApplicationView = client.Application

// BindingView is one binding of an application.
type BindingView = client.Binding

func applicationTarget(slug string) audit.Target {
	return audit.Target{Kind: authz.KindApplication, Name: slug}
}

func applicationObj(slug string) authz.Object {
	return authz.Object{Kind: authz.KindApplication, Name: slug}
}

func bindingViews(slug string, bs []store.Binding) []BindingView {
	out := make([]BindingView, len(bs))
	for i, b := range bs {
		out[i] = BindingView{Application: slug, Kind: b.Kind, Name: b.SubjectName, Order: b.Order, Negate: b.Negate}
	}
	return out
}

func applicationView(a store.Application, bs []store.Binding) ApplicationView {
	return ApplicationView{UID: a.UID, Slug: a.Slug, Name: a.Name, URL: a.URL, Description: a.Description,
		PolicyEngineMode: a.PolicyEngineMode, Bindings: bindingViews(a.Slug, bs), CreatedAt: a.CreatedAt}
}

func (s *Applications) loadApplicationView(ctx context.Context, q store.Queries, a store.Application) (ApplicationView, error) {
	bs, err := q.ListBindings(ctx, a.UID)
	if err != nil {
		return ApplicationView{}, err
	}
	return applicationView(a, bs), nil
}

// ApplicationQuery selects applications.
type ApplicationQuery struct {
	Search string
	After  string
	Limit  int
}

// ListApplications lists applications with their bindings
// (applications.read; a grant scoped to applications sees those).
func (s *Applications) ListApplications(ctx context.Context, a Actor, aq ApplicationQuery) ([]ApplicationView, error) {
	slug := func(app store.Application) string { return app.Slug }
	return scopedList(ctx, s.Service, a, authz.ApplicationsRead, applicationObj, applicationTarget(""), aq.Search, aq.After, aq.Limit,
		func(after string, limit int) ([]store.Application, error) {
			return s.store.ListApplications(ctx, store.ApplicationFilter{Search: aq.Search, After: after, Limit: limit})
		}, slug, slug, func(app store.Application) (ApplicationView, error) { return s.loadApplicationView(ctx, s.store, app) })
}

// GetApplication reads an application and its bindings (applications.read
// on it).
func (s *Applications) GetApplication(ctx context.Context, a Actor, slug string) (ApplicationView, error) {
	return readOne(ctx, s.authorize(ctx, a, authz.ApplicationsRead, applicationTarget(slug), applicationObj(slug)),
		s.store.GetApplication, "application", slug,
		func(app store.Application) (ApplicationView, error) { return s.loadApplicationView(ctx, s.store, app) })
}

// ApplicationInput creates (POST) or changes (PATCH) an application. On
// PATCH, nil fields stay as they are.
type ApplicationInput = client.ApplicationInput

// validateApplication checks the fields given.
func validateApplication(f *fields, in ApplicationInput) {
	if in.Name != nil {
		if *in.Name == "" {
			f.add("name", "is required")
		}
		f.maxLen("name", *in.Name, 256)
	}
	if in.URL != nil && *in.URL != "" {
		if msg := checkLaunchURL(*in.URL); msg != "" {
			f.add("url", msg)
		}
	}
	if in.Description != nil {
		f.maxLen("description", *in.Description, 1024)
	}
	if in.PolicyEngineMode != nil {
		switch *in.PolicyEngineMode {
		case store.PolicyModeAny, store.PolicyModeAll:
		default:
			f.add("policy_engine_mode", "must be any or all")
		}
	}
}

// checkLaunchURL says what is wrong with an application's URL, or "". It
// is shown to people and followed by browsers, so it must be an absolute
// http(s) URL; credentials in it would be shown to everyone who can read
// the application.
func checkLaunchURL(raw string) string {
	if len(raw) > 2048 {
		return "must be at most 2048 characters"
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "":
		return "must be an absolute http:// or https:// URL such as https://grafana.example.org/"
	case u.User != nil:
		return "must not hold credentials"
	case strings.ContainsFunc(raw, func(r rune) bool { return r < ' ' || r == 0x7f }):
		return "must not hold control characters"
	}
	return ""
}

// CreateApplication creates an application without bindings, open to
// every active user until it gets some (applications.write, unscoped).
func (s *Applications) CreateApplication(ctx context.Context, a Actor, in ApplicationInput) (ApplicationView, error) {
	if err := s.authorize(ctx, a, authz.ApplicationsWrite, applicationTarget(in.Slug)); err != nil {
		return ApplicationView{}, err
	}
	var f fields
	f.name("slug", in.Slug)
	if in.Name == nil {
		f.add("name", "is required")
	}
	validateApplication(&f, in)
	if err := f.err(); err != nil {
		return ApplicationView{}, err
	}
	app := store.Application{UID: newUID(), Slug: in.Slug, Name: *in.Name, PolicyEngineMode: store.PolicyModeAny, CreatedAt: s.now()}
	if in.URL != nil {
		app.URL = *in.URL
	}
	if in.Description != nil {
		app.Description = *in.Description
	}
	if in.PolicyEngineMode != nil {
		app.PolicyEngineMode = *in.PolicyEngineMode
	}
	err := s.write(ctx, func(q store.Queries, rec func(store.Event)) error {
		if err := q.CreateApplication(ctx, app); err != nil {
			return taken(err, "application", app.Slug)
		}
		rec(s.event(a, audit.ActionModelCreated, audit.Success, applicationTarget(app.Slug),
			map[string]any{"name": app.Name, "url": app.URL, "policy_engine_mode": app.PolicyEngineMode}))
		return nil
	})
	if err != nil {
		return ApplicationView{}, err
	}
	s.applicationsChanged()
	return applicationView(app, nil), nil
}

// UpdateApplication changes an application's name, URL, description or
// mode (applications.write on it). The slug never changes: it is in
// forward-auth URLs, scoped permissions and the brand.
func (s *Applications) UpdateApplication(ctx context.Context, a Actor, slug string, in ApplicationInput) (ApplicationView, error) {
	if err := s.authorize(ctx, a, authz.ApplicationsWrite, applicationTarget(slug), applicationObj(slug)); err != nil {
		return ApplicationView{}, err
	}
	var f fields
	if in.Slug != "" && in.Slug != slug {
		f.add("slug", "applications cannot be renamed (the slug is in forward-auth URLs and scoped permissions)")
	}
	validateApplication(&f, in)
	if err := f.err(); err != nil {
		return ApplicationView{}, err
	}
	var out ApplicationView
	err := writeOne(ctx, s.Service, store.Queries.GetApplication, "application", slug, func(q store.Queries, rec func(store.Event), app store.Application) error {
		var changed []string
		set := func(name string, dst *string, v *string) {
			if v != nil && *v != *dst {
				*dst = *v
				changed = append(changed, name)
			}
		}
		set("name", &app.Name, in.Name)
		set("url", &app.URL, in.URL)
		set("description", &app.Description, in.Description)
		set("policy_engine_mode", &app.PolicyEngineMode, in.PolicyEngineMode)
		if in.URL != nil && slices.Contains(changed, "url") && !a.P.Can(authz.BrandWrite) {
			// The default application's URL is where the web interface
			// sends service accounts: the brand's to set, not the
			// application's writer alone.
			b, err := loadBrand(ctx, q)
			if err != nil {
				return err
			}
			if b.DefaultApplication == slug {
				return refuse(a, authz.BrandWrite, applicationTarget(slug),
					fmt.Sprintf("application %q is the brand's default application: changing its url needs %s too", slug, authz.BrandWrite))
			}
		}
		if len(changed) > 0 {
			if err := q.UpdateApplication(ctx, app); err != nil {
				return notFound(err, "application", slug)
			}
			rec(s.event(a, audit.ActionModelUpdated, audit.Success, applicationTarget(slug), map[string]any{"fields": changed}))
		}
		var err error
		out, err = s.loadApplicationView(ctx, q, app)
		return err
	})
	if err != nil {
		return ApplicationView{}, err
	}
	s.applicationsChanged()
	return out, nil
}

// DeleteApplication deletes an application and its bindings
// (applications.write, unscoped). The brand's default application cannot
// be deleted: the brand must point elsewhere first.
func (s *Applications) DeleteApplication(ctx context.Context, a Actor, slug string) error {
	if err := s.authorize(ctx, a, authz.ApplicationsWrite, applicationTarget(slug)); err != nil {
		return err
	}
	err := writeOne(ctx, s.Service, store.Queries.GetApplication, "application", slug, func(q store.Queries, rec func(store.Event), app store.Application) error {
		b, err := loadBrand(ctx, q)
		if err != nil {
			return err
		}
		if b.DefaultApplication == slug {
			return &ConflictError{Msg: fmt.Sprintf("application %q is the brand's default application; "+
				"change the brand's default_application first (PATCH /api/v1/brand)", slug)}
		}
		return s.deleted(rec, a, q.DeleteApplication(ctx, app.UID), "application", slug, applicationTarget(slug), nil)
	})
	return then(err, s.applicationsChanged)
}

// BindingInput is the optional body of PUT .../bindings/{kind}/{name}.
type BindingInput = client.BindingInput

// bindingKind maps the path segment ("users", "groups") to a binding kind.
func bindingKind(kind string) (string, bool) {
	switch kind {
	case "users", store.BindingUser:
		return store.BindingUser, true
	case "groups", store.BindingGroup:
		return store.BindingGroup, true
	}
	return "", false
}

// maySeeSubject refuses to bind or unbind a user or group the actor may
// not read: the answer (404 or not) would tell an application's writer
// which accounts and groups exist.
func (s *Applications) maySeeSubject(ctx context.Context, a Actor, target audit.Target, kind, name string) error {
	if kind == store.BindingUser {
		if a.P != nil && a.P.Username == name {
			return nil // one's own account is no secret to oneself
		}
		return s.authorize(ctx, a, authz.UsersRead, target)
	}
	return s.authorize(ctx, a, authz.GroupsRead, target, groupObj(name))
}

// subjectUID finds the user or group a binding names.
func subjectUID(ctx context.Context, q store.Queries, kind, name string) (string, error) {
	if kind == store.BindingUser {
		u, err := q.GetUser(ctx, name)
		return u.UID, notFound(err, "user", name)
	}
	g, err := q.GetGroup(ctx, name)
	return g.UID, notFound(err, "group", name)
}

// PutBinding binds a user (or service account) or a group to an
// application, or replaces the order and negate flag of its binding
// (applications.write on the application). kind is "users" or "groups".
func (s *Applications) PutBinding(ctx context.Context, a Actor, slug, kind, name string, in BindingInput) (BindingView, error) {
	target := applicationTarget(slug)
	if err := s.authorize(ctx, a, authz.ApplicationsWrite, target, applicationObj(slug)); err != nil {
		return BindingView{}, err
	}
	k, ok := bindingKind(kind)
	if !ok {
		return BindingView{}, &NotFoundError{Kind: "binding kind", Name: kind}
	}
	if err := s.maySeeSubject(ctx, a, target, k, name); err != nil {
		return BindingView{}, err
	}
	b := store.Binding{Kind: k, SubjectName: name}
	if in.Order != nil {
		b.Order = *in.Order
	}
	if in.Negate != nil {
		b.Negate = *in.Negate
	}
	var f fields
	if b.Order < math.MinInt32 || b.Order > math.MaxInt32 {
		f.add("order", fmt.Sprintf("must be from %d to %d", math.MinInt32, math.MaxInt32))
	}
	if err := f.err(); err != nil {
		return BindingView{}, err
	}
	err := writeOne(ctx, s.Service, store.Queries.GetApplication, "application", slug, func(q store.Queries, rec func(store.Event), app store.Application) error {
		uid, err := subjectUID(ctx, q, k, name)
		if err != nil {
			return err
		}
		b.ApplicationUID, b.SubjectUID = app.UID, uid
		existing, err := q.ListBindings(ctx, app.UID)
		if err != nil {
			return err
		}
		change := "created"
		for _, e := range existing {
			if e.Kind == k && e.SubjectUID == uid {
				if e.Order == b.Order && e.Negate == b.Negate {
					return nil // as asked already: nothing to write, nothing to record
				}
				change = "replaced"
			}
		}
		if err := q.PutBinding(ctx, b); err != nil {
			return notFound(err, k, name)
		}
		rec(s.event(a, audit.ActionModelUpdated, audit.Success, target, map[string]any{
			"binding": k + "/" + name, "change": change, "order": b.Order, "negate": b.Negate}))
		return nil
	})
	if err != nil {
		return BindingView{}, err
	}
	s.applicationsChanged()
	return BindingView{Application: slug, Kind: k, Name: name, Order: b.Order, Negate: b.Negate}, nil
}

// DeleteBinding removes a binding (applications.write on the
// application); 404 when it is not there.
func (s *Applications) DeleteBinding(ctx context.Context, a Actor, slug, kind, name string) error {
	target := applicationTarget(slug)
	if err := s.authorize(ctx, a, authz.ApplicationsWrite, target, applicationObj(slug)); err != nil {
		return err
	}
	k, ok := bindingKind(kind)
	if !ok {
		return &NotFoundError{Kind: "binding kind", Name: kind}
	}
	if err := s.maySeeSubject(ctx, a, target, k, name); err != nil {
		return err
	}
	err := writeOne(ctx, s.Service, store.Queries.GetApplication, "application", slug, func(q store.Queries, rec func(store.Event), app store.Application) error {
		uid, err := subjectUID(ctx, q, k, name)
		if err != nil {
			return err
		}
		if err := q.DeleteBinding(ctx, app.UID, k, uid); err != nil {
			return notFound(err, "binding", k+"/"+name)
		}
		rec(s.event(a, audit.ActionModelUpdated, audit.Success, target, map[string]any{
			"binding": k + "/" + name, "change": "deleted"}))
		return nil
	})
	return then(err, s.applicationsChanged)
}

// The brand's default application must exist (see DeleteApplication for
// the other half of that rule).
func init() {
	brandChecks = append(brandChecks, func(ctx context.Context, q store.Queries, b Brand, f *fields) error {
		if b.DefaultApplication == "" {
			return nil
		}
		_, err := q.GetApplication(ctx, b.DefaultApplication)
		if errors.Is(err, store.ErrNotFound) {
			f.add("default_application", fmt.Sprintf("application %q does not exist", b.DefaultApplication))
			return nil
		}
		return err
	})
}

// DefaultApplicationURL is the URL of the brand's default application: ""
// when the brand names none or the application has no URL. The web
// interface sends there those it does not serve (service accounts).
func (s *Applications) DefaultApplicationURL(ctx context.Context) (string, error) {
	b, err := s.Applications.Brand(ctx)
	if err != nil || b.DefaultApplication == "" {
		return "", err
	}
	app, err := s.store.GetApplication(ctx, b.DefaultApplication)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return app.URL, nil
}
