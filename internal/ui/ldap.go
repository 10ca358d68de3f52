package ui

// LDAP: providers (a directory tree and its rules) and the outposts that
// serve them. The same calls as /api/v1/ldap-providers and
// /api/v1/outposts, with the same permissions (ldap.read, ldap.write,
// either possibly scoped to one provider). An outpost's key is shown
// once, in the answer that creates or rotates it.

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/core"
)

// ---- Providers ----

var providerList = listing[core.LDAPProviderView]{tmpl: "ldap_providers", title: "LDAP providers", section: "ldap", write: authz.LDAPWrite,
	key: func(p core.LDAPProviderView) string { return p.Name },
	list: func(s *Server, ctx context.Context, c *reqCtx, _, after string) ([]core.LDAPProviderView, error) {
		return s.core.LDAP.ListLDAPProviders(ctx, c.actor, after, pageSize+1)
	},
	extra: func(s *Server, ctx context.Context, c *reqCtx) any { groups, _ := s.pickers(ctx, c); return groups }}

func (s *Server) ldapProviders(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	providerList.render(s, w, r, c, http.StatusOK, newForm(url.Values{"bind_mode": {"direct"}, "search_mode": {"cached"}}))
}

// providerPatch reads the provider form's settings.
func providerPatch(v url.Values) core.LDAPProviderPatch {
	baseDN, group, bind, search, upn := strings.TrimSpace(v.Get("base_dn")), strings.TrimSpace(v.Get("search_group")),
		v.Get("bind_mode"), v.Get("search_mode"), strings.TrimSpace(v.Get("upn_domain"))
	return core.LDAPProviderPatch{BaseDN: &baseDN, SearchGroup: &group, BindMode: &bind, SearchMode: &search, UPNDomain: &upn}
}

func (s *Server) createLDAPProvider(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	providerList.create(s, w, r, c, nil, func(ctx context.Context, v url.Values) (string, string, error) {
		p := providerPatch(v)
		in := core.LDAPProviderInput{Name: strings.TrimSpace(v.Get("name")), BaseDN: *p.BaseDN, SearchGroup: p.SearchGroup,
			BindMode: p.BindMode, SearchMode: p.SearchMode, UPNDomain: p.UPNDomain}
		_, err := s.core.LDAP.CreateLDAPProvider(ctx, c.actor, in)
		return "/ldap-providers/" + url.PathEscape(in.Name), fmt.Sprintf("LDAP provider %s created. Register an outpost to serve it.", in.Name), err
	})
}

type providerData struct {
	Provider  core.LDAPProviderView
	Outposts  []core.OutpostView
	CanWrite  bool // this provider (scoped or not)
	EditForm  *form
	Groups    []string
	Now       time.Time
	Directory bool // the viewer may see who is in the directory
}

func (s *Server) loadLDAPProvider(ctx context.Context, c *reqCtx, name string) (providerData, error) {
	p, err := s.core.LDAP.GetLDAPProvider(ctx, c.actor, name)
	if err != nil {
		return providerData{}, err
	}
	d := providerData{Provider: p, CanWrite: c.actor.P.CanOn(authz.LDAPWrite, authz.Object{Kind: authz.KindLDAP, Name: name}), Now: s.clock.Now(),
		EditForm: newForm(url.Values{"base_dn": {p.BaseDN}, "search_group": {p.SearchGroup}, "bind_mode": {p.BindMode},
			"search_mode": {p.SearchMode}, "upn_domain": {p.UPNDomain}})}
	for _, o := range p.Outposts {
		ov, err := s.core.LDAP.GetOutpost(ctx, c.actor, o)
		if err != nil {
			return d, err
		}
		d.Outposts = append(d.Outposts, ov)
	}
	if d.CanWrite {
		d.Groups, _ = s.pickers(ctx, c)
	}
	return d, nil
}

var providerPage = objectPage[providerData]{tmpl: "ldap_provider", section: "ldap", path: "/ldap-providers/", load: (*Server).loadLDAPProvider}

func (s *Server) updateLDAPProvider(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	providerPage.save(s, w, r, c, nil, func(d *providerData, f *form) { d.EditForm = f },
		func(ctx context.Context, name string, v url.Values) error {
			return errOnly(s.core.LDAP.UpdateLDAPProvider(ctx, c.actor, name, providerPatch(v)))
		}, "LDAP provider saved. Its outposts pick the change up at once.")
}

type directoryData struct {
	Provider core.LDAPProviderView
	Feed     core.DirectoryFeed
}

// ldapDirectory shows what the provider's outposts serve: the active
// accounts and the groups, with memberships.
func (s *Server) ldapDirectory(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	name := r.PathValue("name")
	feed, err := s.core.LDAP.LDAPDirectoryFeed(r.Context(), c.actor, name, core.DirectoryFeedQuery{Entries: true})
	if err != nil {
		s.fail(w, r, c, err)
		return
	}
	s.render(w, r, c, http.StatusOK, "ldap_directory", "Directory of "+name, "ldap", directoryData{Provider: feed.Provider, Feed: feed})
}

// ---- Outposts ----

type outpostListData struct {
	Items     []core.OutpostView
	Next      string
	CanWrite  bool
	Form      *form // the register form
	Providers []string
	Now       time.Time
}

func (s *Server) outposts(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	s.renderOutposts(w, r, c, http.StatusOK, newForm(url.Values{"provider": {r.URL.Query().Get("provider")}, "ttl": {"720h"}}))
}

func (s *Server) renderOutposts(w http.ResponseWriter, r *http.Request, c *reqCtx, status int, f *form) {
	ctx := r.Context()
	items, err := s.core.LDAP.ListOutposts(ctx, c.actor, r.URL.Query().Get("after"), pageSize+1)
	if err != nil {
		s.fail(w, r, c, err)
		return
	}
	d := outpostListData{CanWrite: c.canSomewhere(authz.LDAPWrite, authz.KindLDAP), Form: f, Now: s.clock.Now()}
	d.Items, d.Next = listPage(items, func(o core.OutpostView) string { return o.Name }, nil)
	if d.CanWrite {
		ps, err := s.core.LDAP.ListLDAPProviders(ctx, c.actor, "", 500)
		if err != nil {
			s.fail(w, r, c, err)
			return
		}
		for _, p := range ps {
			if c.actor.P.CanOn(authz.LDAPWrite, authz.Object{Kind: authz.KindLDAP, Name: p.Name}) {
				d.Providers = append(d.Providers, p.Name)
			}
		}
	}
	s.render(w, r, c, status, "outposts", "LDAP outposts", "ldap", d)
}

type outpostCreatedData struct {
	Created core.CreatedOutpost
	Rotated bool
	BaseURL string
}

func (s *Server) createOutpost(w http.ResponseWriter, r *http.Request, c *reqCtx, v url.Values) {
	in := core.OutpostInput{Name: strings.TrimSpace(v.Get("name")), Provider: v.Get("provider"), Description: v.Get("description")}
	if ttl := strings.TrimSpace(v.Get("ttl")); ttl != "" {
		in.TTL = &ttl
	}
	out, err := s.core.LDAP.CreateOutpost(r.Context(), c.actor, in)
	if err != nil {
		s.formRefused(w, r, c, err, newForm(v), nil, func(status int, f *form) { s.renderOutposts(w, r, c, status, f) })
		return
	}
	s.render(w, r, c, http.StatusCreated, "outpost_created", "Outpost registered", "ldap", outpostCreatedData{Created: out, BaseURL: baseURL(r)})
}

type outpostData struct {
	Outpost    core.OutpostView
	CanWrite   bool
	Now        time.Time
	RotateForm *form
}

func (s *Server) loadOutpost(ctx context.Context, c *reqCtx, name string) (outpostData, error) {
	o, err := s.core.LDAP.GetOutpost(ctx, c.actor, name)
	if err != nil {
		return outpostData{}, err
	}
	return outpostData{Outpost: o, CanWrite: c.actor.P.CanOn(authz.LDAPWrite, authz.Object{Kind: authz.KindLDAP, Name: o.Provider}),
		Now: s.clock.Now(), RotateForm: newForm(url.Values{"grace": {"0s"}})}, nil
}

var outpostPage = objectPage[outpostData]{tmpl: "outpost", section: "ldap", path: "/outposts/", load: (*Server).loadOutpost}

func (s *Server) rotateOutpost(w http.ResponseWriter, r *http.Request, c *reqCtx, v url.Values) {
	name := r.PathValue("name")
	var in core.OutpostRotateInput
	if g := strings.TrimSpace(v.Get("grace")); g != "" {
		in.Grace = &g
	}
	out, err := s.core.LDAP.RotateOutpostToken(r.Context(), c.actor, name, in)
	if err != nil {
		outpostPage.formError(s, w, r, c, name, err, v, nil, func(d *outpostData, f *form) { d.RotateForm = f })
		return
	}
	s.render(w, r, c, http.StatusOK, "outpost_created", "Outpost token rotated", "ldap", outpostCreatedData{Created: out, Rotated: true, BaseURL: baseURL(r)})
}

// outpostStatus says how an outpost's token stands: the outpost uses it
// on every directory poll (last use is written at most every few
// minutes) and rotates it at two thirds of its lifetime.
type outpostStatus struct{ Kind, Text string }

func statusOf(o core.OutpostView, now time.Time) outpostStatus {
	t := o.Token
	switch {
	case t == nil:
		return outpostStatus{"danger", "no token: rotate to issue one"}
	case t.Expired:
		return outpostStatus{"danger", "token expired: rotate, then give the outpost its new key"}
	case t.LastUsedAt == nil:
		return outpostStatus{"warn", "never connected"}
	case now.Sub(*t.LastUsedAt) > time.Hour:
		return outpostStatus{"warn", "last seen " + relative(*t.LastUsedAt, now)}
	}
	return outpostStatus{"ok", "connected"}
}

var providerDeletion = deletion{kind: "LDAP provider", section: "ldap", path: "/ldap-providers/", perm: authz.LDAPWrite, list: "/ldap-providers",
	details: []string{"A provider still served by outposts cannot be deleted: delete them first.",
		"LDAP clients using its base DN are refused from then on."},
	read: func(s *Server, ctx context.Context, c *reqCtx, name string) error {
		return errOnly(s.core.LDAP.GetLDAPProvider(ctx, c.actor, name))
	},
	del: func(s *Server, ctx context.Context, c *reqCtx, name string) error {
		return s.core.LDAP.DeleteLDAPProvider(ctx, c.actor, name)
	}}

// outpostDeletion: ldap.write on the outpost's provider, which read checks.
var outpostDeletion = deletion{kind: "outpost", section: "ldap", path: "/outposts/", list: "/outposts",
	details: []string{"Its key stops working at once: the outpost can no longer read the directory or check binds.",
		"Its internal service account is deleted with it."},
	read: func(s *Server, ctx context.Context, c *reqCtx, name string) error {
		d, err := s.loadOutpost(ctx, c, name)
		if err == nil && !d.CanWrite {
			err = &core.ForbiddenError{Detail: "deleting an outpost needs " + authz.LDAPWrite + " on its LDAP provider"}
		}
		return err
	},
	del: func(s *Server, ctx context.Context, c *reqCtx, name string) error {
		return s.core.LDAP.DeleteOutpost(ctx, c.actor, name)
	}}
