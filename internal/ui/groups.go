package ui

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/core"
)

var groupList = listing[core.GroupView]{tmpl: "groups", title: "Groups", section: "groups", write: authz.GroupsWrite,
	key: func(g core.GroupView) string { return g.Name },
	list: func(s *Server, ctx context.Context, c *reqCtx, search, after string) ([]core.GroupView, error) {
		return s.core.Access.ListGroups(ctx, c.actor, core.GroupQuery{Search: search, After: after, Limit: pageSize + 1})
	}}

func (s *Server) createGroup(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	groupList.create(s, w, r, c, nil, func(ctx context.Context, v url.Values) (string, string, error) {
		desc := v.Get("description")
		g, err := s.core.Access.CreateGroup(ctx, c.actor, core.GroupInput{Name: strings.TrimSpace(v.Get("name")), Description: &desc})
		return "/groups/" + url.PathEscape(g.Name), fmt.Sprintf("Group %s created.", g.Name), err
	})
}

type groupData struct {
	Group      core.GroupView
	CanWrite   bool // this group's members (scoped or not)
	CanDelete  bool // groups.write unscoped
	MemberForm *form
	DescForm   *form
	Users      []string // suggestions for the member field
}

func (s *Server) loadGroup(ctx context.Context, c *reqCtx, name string) (groupData, error) {
	g, err := s.core.Access.GetGroup(ctx, c.actor, name)
	if err != nil {
		return groupData{}, err
	}
	d := groupData{Group: g, CanWrite: c.actor.P.CanOn(authz.GroupsWrite, authz.Object{Kind: authz.KindGroup, Name: name}),
		CanDelete: c.can(authz.GroupsWrite), MemberForm: newForm(nil), DescForm: newForm(url.Values{"description": {g.Description}})}
	if d.CanWrite {
		d.Users = s.usernames(ctx, c)
	}
	return d, nil
}

var groupPage = objectPage[groupData]{tmpl: "group", section: "groups", path: "/groups/", load: (*Server).loadGroup}

func (s *Server) updateGroup(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	groupPage.save(s, w, r, c, nil, func(d *groupData, f *form) { d.DescForm = f },
		func(ctx context.Context, name string, v url.Values) error {
			desc := v.Get("description")
			return errOnly(s.core.Access.UpdateGroup(ctx, c.actor, name, core.GroupInput{Description: &desc}))
		}, "Description saved.")
}

func (s *Server) addMember(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	user := strings.TrimSpace(r.PostFormValue("username"))
	groupPage.save(s, w, r, c, nil, func(d *groupData, f *form) { d.MemberForm = f },
		func(ctx context.Context, name string, _ url.Values) error {
			if user == "" {
				return &core.ValidationError{Errors: []core.FieldError{{Field: "username", Message: "is required"}}}
			}
			return s.core.Access.AddMember(ctx, c.actor, name, user)
		}, fmt.Sprintf("%s is a member of %s.", user, r.PathValue("name")))
}

func (s *Server) removeMember(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	name, user := r.PathValue("name"), r.PathValue("username")
	s.removeFrom(w, r, c, func(ctx context.Context) error { return s.core.Access.RemoveMember(ctx, c.actor, name, user) }, "member",
		fmt.Sprintf("%s was not a member of %s (any more).", user, name), fmt.Sprintf("%s removed from %s.", user, name),
		"/groups/"+url.PathEscape(name))
}

var groupDeletion = deletion{kind: "group", section: "groups", path: "/groups/", perm: authz.GroupsWrite, list: "/groups",
	details: []string{"Its members stay, but lose the roles they held through it.", "Role assignments to the group are removed."},
	read: func(s *Server, ctx context.Context, c *reqCtx, name string) error {
		return errOnly(s.core.Access.GetGroup(ctx, c.actor, name))
	},
	del: func(s *Server, ctx context.Context, c *reqCtx, name string) error {
		return s.core.Access.DeleteGroup(ctx, c.actor, name)
	}}
