package core

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/gatehouse/gatehouse/client"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/store"
)

func sortUsers(us []store.User) {
	sort.Slice(us, func(i, j int) bool { return us[i].Username < us[j].Username })
}

// GroupView is a group as the API shows it.
type GroupView = client.Group

func groupTarget(name string) audit.Target { return audit.Target{Kind: audit.KindGroup, Name: name} }

func groupObj(name string) authz.Object { return authz.Object{Kind: authz.KindGroup, Name: name} }

func (s *Access) groupView(ctx context.Context, q store.Queries, g store.Group) (GroupView, error) {
	members, err := q.ListMembers(ctx, g.UID)
	if err != nil {
		return GroupView{}, err
	}
	roles, err := q.GroupRoles(ctx, g.UID)
	if err != nil {
		return GroupView{}, err
	}
	return GroupView{UID: g.UID, Name: g.Name, Description: g.Description, Members: nonNil(members), Roles: nonNil(roles), CreatedAt: g.CreatedAt}, nil
}

// GroupQuery selects groups.
type GroupQuery struct {
	Search string
	After  string
	Limit  int
}

// ListGroups lists groups (groups.read; scoped grants see their groups).
func (s *Access) ListGroups(ctx context.Context, a Actor, gq GroupQuery) ([]GroupView, error) {
	name := func(g store.Group) string { return g.Name }
	return scopedList(ctx, s.Service, a, authz.GroupsRead, groupObj, groupTarget(""), gq.Search, gq.After, gq.Limit,
		func(after string, limit int) ([]store.Group, error) {
			return s.store.ListGroups(ctx, store.GroupFilter{Search: gq.Search, After: after, Limit: limit})
		}, name, name, func(g store.Group) (GroupView, error) { return s.groupView(ctx, s.store, g) })
}

// GetGroup reads a group (groups.read on it).
func (s *Access) GetGroup(ctx context.Context, a Actor, name string) (GroupView, error) {
	return readOne(ctx, s.authorize(ctx, a, authz.GroupsRead, groupTarget(name), groupObj(name)),
		s.store.GetGroup, "group", name,
		func(g store.Group) (GroupView, error) { return s.groupView(ctx, s.store, g) })
}

// GroupInput creates or patches a group.
type GroupInput = client.GroupCreate

// CreateGroup creates a group (groups.write).
func (s *Access) CreateGroup(ctx context.Context, a Actor, in GroupInput) (GroupView, error) {
	if err := s.authorize(ctx, a, authz.GroupsWrite, groupTarget(in.Name)); err != nil {
		return GroupView{}, err
	}
	var f fields
	f.name("name", in.Name)
	desc := ""
	if in.Description != nil {
		desc = *in.Description
	}
	f.maxLen("description", desc, 1024)
	if err := f.err(); err != nil {
		return GroupView{}, err
	}
	g := store.Group{UID: newUID(), Name: in.Name, Description: desc, CreatedAt: s.now()}
	err := s.write(ctx, func(q store.Queries, rec func(store.Event)) error {
		return s.createGroup(ctx, q, rec, a, g)
	})
	if err != nil {
		return GroupView{}, err
	}
	return GroupView{UID: g.UID, Name: g.Name, Description: g.Description, Members: []string{}, Roles: []string{}, CreatedAt: g.CreatedAt}, nil
}

func (s *Access) createGroup(ctx context.Context, q store.Queries, rec func(store.Event), a Actor, g store.Group) error {
	if err := q.CreateGroup(ctx, g); err != nil {
		return taken(err, "group", g.Name)
	}
	rec(s.event(a, audit.ActionModelCreated, audit.Success, groupTarget(g.Name), nil))
	return nil
}

// UpdateGroup changes a group's description (unscoped groups.write: a
// grant scoped to the group manages its members only).
func (s *Access) UpdateGroup(ctx context.Context, a Actor, name string, in GroupInput) (GroupView, error) {
	if err := s.authorize(ctx, a, authz.GroupsWrite, groupTarget(name)); err != nil {
		return GroupView{}, err
	}
	var f fields
	if in.Name != "" && in.Name != name {
		f.add("name", "groups cannot be renamed")
	}
	if in.Description != nil {
		f.maxLen("description", *in.Description, 1024)
	}
	if err := f.err(); err != nil {
		return GroupView{}, err
	}
	var out GroupView
	err := writeOne(ctx, s.Service, store.Queries.GetGroup, "group", name, func(q store.Queries, rec func(store.Event), g store.Group) error {
		if in.Description != nil && *in.Description != g.Description {
			g.Description = *in.Description
			if err := q.UpdateGroup(ctx, g); err != nil {
				return notFound(err, "group", name)
			}
			rec(s.event(a, audit.ActionModelUpdated, audit.Success, groupTarget(name), map[string]any{"fields": []string{"description"}}))
		}
		var err error
		out, err = s.groupView(ctx, q, g)
		return err
	})
	return out, err
}

// DeleteGroup deletes a group (groups.write, unscoped).
func (s *Access) DeleteGroup(ctx context.Context, a Actor, name string) error {
	if err := s.authorize(ctx, a, authz.GroupsWrite, groupTarget(name)); err != nil {
		return err
	}
	err := writeOne(ctx, s.Service, store.Queries.GetGroup, "group", name, func(q store.Queries, rec func(store.Event), g store.Group) error {
		// Deleting a group takes each member out of it (bound.go).
		members, err := q.ListMembers(ctx, g.UID)
		if err != nil {
			return err
		}
		for _, m := range members {
			u, err := q.GetUser(ctx, m)
			if err != nil {
				return err
			}
			if err := mayActOn(ctx, q, a, u, authz.GroupsWrite, groupTarget(name)); err != nil {
				return err
			}
		}
		if err := s.mayUnbind(ctx, q, rec, a, store.BindingGroup, name, g.UID); err != nil {
			return err
		}
		return s.deleted(rec, a, q.DeleteGroup(ctx, g.UID), "group", name, groupTarget(name), nil)
	})
	return then(err, s.authn.InvalidatePrincipals)
}

// change says which way a membership or an assignment goes.
type change uint8

const (
	grant    change = iota // add the member, assign the role
	withdraw               // remove the member, unassign the role
)

// AddMember puts a user in a group (groups.write on the group).
// Idempotent: adding a member twice is not an error and writes one event.
func (s *Access) AddMember(ctx context.Context, a Actor, group, username string) error {
	return s.changeMember(ctx, a, group, username, grant)
}

// RemoveMember takes a user out of a group.
func (s *Access) RemoveMember(ctx context.Context, a Actor, group, username string) error {
	return s.changeMember(ctx, a, group, username, withdraw)
}

func (s *Access) changeMember(ctx context.Context, a Actor, group, username string, c change) error {
	if err := s.authorize(ctx, a, authz.GroupsWrite, groupTarget(group), groupObj(group)); err != nil {
		return err
	}
	err := writeOne(ctx, s.Service, store.Queries.GetGroup, "group", group, func(q store.Queries, rec func(store.Event), g store.Group) error {
		u, err := q.GetUser(ctx, username)
		if err != nil {
			return notFound(err, "user", username)
		}
		if u.Managed {
			return &ConflictError{Msg: fmt.Sprintf("%q is managed by gatehouse and cannot be changed", username)}
		}
		if c == grant {
			members, err := q.UserGroups(ctx, u.UID)
			if err != nil {
				return err
			}
			for _, m := range members {
				if m == group {
					return nil
				}
			}
			// No way up (bound.go): the group's roles within the actor's
			// rights, the account no more powerful than the actor.
			if err := mayJoin(ctx, q, a, g, &u); err != nil {
				return err
			}
			if err := q.AddMember(ctx, g.UID, u.UID); err != nil {
				return notFound(err, "user", username)
			}
			rec(s.event(a, audit.ActionMemberAdded, audit.Success, groupTarget(group), map[string]any{"user": username}))
			return nil
		}
		if err := mayActOn(ctx, q, a, u, authz.GroupsWrite, groupTarget(group)); err != nil {
			return err
		}
		if err := q.RemoveMember(ctx, g.UID, u.UID); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return &NotFoundError{Kind: "member", Name: username}
			}
			return err
		}
		rec(s.event(a, audit.ActionMemberRemoved, audit.Success, groupTarget(group), map[string]any{"user": username}))
		return nil
	})
	return then(err, s.authn.InvalidatePrincipals)
}
