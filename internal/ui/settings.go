package ui

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/core"
)

type settingsData struct {
	Form *form
	// Apps lists the applications to choose the default from, when the
	// actor may read them; otherwise the slug is typed.
	Apps []core.ApplicationView
}

func (s *Server) settingsData(r *http.Request, c *reqCtx, f *form) settingsData {
	d := settingsData{Form: f}
	if c.canSomewhere(authz.ApplicationsRead, authz.KindApplication) {
		if apps, err := s.core.Applications.ListApplications(r.Context(), c.actor, core.ApplicationQuery{Limit: 500}); err == nil {
			d.Apps = apps
		}
	}
	return d
}

func (s *Server) settings(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	// Reading the brand needs nothing; this page exists to change it.
	if !c.can(authz.BrandWrite) {
		s.forbiddenNeeds(w, r, c, authz.BrandWrite)
		return
	}
	b, err := s.core.Applications.Brand(r.Context())
	if err != nil {
		s.fail(w, r, c, err)
		return
	}
	f := newForm(url.Values{"title": {b.Title}, "default_application": {b.DefaultApplication}})
	s.render(w, r, c, http.StatusOK, "settings", "Brand settings", "settings", s.settingsData(r, c, f))
}

func (s *Server) updateSettings(w http.ResponseWriter, r *http.Request, c *reqCtx, v url.Values) {
	title, app := strings.TrimSpace(v.Get("title")), strings.TrimSpace(v.Get("default_application"))
	if _, err := s.core.Applications.UpdateBrand(r.Context(), c.actor, core.BrandInput{Title: &title, DefaultApplication: &app}); err != nil {
		f := newForm(v)
		if status, ok := f.formError(err, nil); ok {
			s.render(w, r, c, status, "settings", "Brand settings", "settings", s.settingsData(r, c, f))
			return
		}
		s.fail(w, r, c, err)
		return
	}
	s.setFlash(w, r, "ok", "Brand settings saved.")
	s.redirect(w, r, "/settings")
}
