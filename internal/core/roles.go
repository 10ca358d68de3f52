package core

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/client"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/store"
)

// RoleView is a role as the API shows it.
type RoleView struct {
	UID         string              `json:"uid"`
	Name        string              `json:"name"`
	Description string              `json:"description"`
	Builtin     bool                `json:"builtin"`
	Permissions []string            `json:"permissions"`
	Assignments *RoleAssignmentView `json:"assignments,omitempty"`
	CreatedAt   time.Time           `json:"created_at"`
}

// RoleAssignmentView lists who holds a role directly.
type RoleAssignmentView struct {
	Users  []string `json:"users"`
	Groups []string `json:"groups"`
}

func roleTarget(name string) audit.Target { return audit.Target{Kind: audit.KindRole, Name: name} }

func roleView(r store.Role) RoleView {
	perms := r.Permissions
	if r.Builtin && r.Name == authz.AdminRole {
		perms = authz.AllPermissions()
	}
	return RoleView{UID: r.UID, Name: r.Name, Description: r.Description, Builtin: r.Builtin, Permissions: nonNil(perms), CreatedAt: r.CreatedAt}
}

// ListRoles lists roles (roles.read).
func (s *Access) ListRoles(ctx context.Context, a Actor, after string, limit int) ([]RoleView, error) {
	return listOf(ctx, s.authorize(ctx, a, authz.RolesRead, roleTarget("")),
		s.store.ListRoles, store.RoleFilter{After: after, Limit: limit}, roleView)
}

// GetRole reads a role with its assignments (roles.read).
func (s *Access) GetRole(ctx context.Context, a Actor, name string) (RoleView, error) {
	if err := s.authorize(ctx, a, authz.RolesRead, roleTarget(name)); err != nil {
		return RoleView{}, err
	}
	r, err := s.store.GetRole(ctx, name)
	if err != nil {
		return RoleView{}, notFound(err, "role", name)
	}
	as, err := s.store.RoleAssignments(ctx, r.UID)
	if err != nil {
		return RoleView{}, err
	}
	v := roleView(r)
	v.Assignments = &RoleAssignmentView{Users: nonNil(as.Users), Groups: nonNil(as.Groups)}
	return v, nil
}

// RoleInput creates or patches a role.
type RoleInput = client.RoleCreate

// CreateRole creates a role (roles.write).
func (s *Access) CreateRole(ctx context.Context, a Actor, in RoleInput) (RoleView, error) {
	if err := s.authorize(ctx, a, authz.RolesWrite, roleTarget(in.Name)); err != nil {
		return RoleView{}, err
	}
	var f fields
	f.name("name", in.Name)
	r := store.Role{UID: newUID(), Name: in.Name, CreatedAt: s.now(), Permissions: []string{}}
	if in.Description != nil {
		r.Description = *in.Description
		f.maxLen("description", r.Description, 1024)
	}
	if in.Permissions != nil {
		norm, err := normalizePermissions(*in.Permissions)
		if ve, ok := err.(*ValidationError); ok {
			f = append(f, ve.Errors...)
		}
		r.Permissions = norm
	}
	if err := f.err(); err != nil {
		return RoleView{}, err
	}
	err := s.write(ctx, func(q store.Queries, rec func(store.Event)) error {
		if err := q.CreateRole(ctx, r); err != nil {
			return taken(err, "role", r.Name)
		}
		rec(s.event(a, audit.ActionModelCreated, audit.Success, roleTarget(r.Name), map[string]any{"permissions": r.Permissions}))
		return nil
	})
	if err != nil {
		return RoleView{}, err
	}
	return roleView(r), nil
}

// UpdateRole changes a role's description or permissions (roles.write).
// The built-in admin role cannot be changed.
func (s *Access) UpdateRole(ctx context.Context, a Actor, name string, in RoleInput) (RoleView, error) {
	if err := s.authorize(ctx, a, authz.RolesWrite, roleTarget(name)); err != nil {
		return RoleView{}, err
	}
	var f fields
	if in.Name != "" && in.Name != name {
		f.add("name", "roles cannot be renamed")
	}
	var perms []string
	if in.Description != nil {
		f.maxLen("description", *in.Description, 1024)
	}
	if in.Permissions != nil {
		norm, err := normalizePermissions(*in.Permissions)
		if ve, ok := err.(*ValidationError); ok {
			f = append(f, ve.Errors...)
		}
		perms = norm
	}
	if err := f.err(); err != nil {
		return RoleView{}, err
	}
	var out store.Role
	err := writeOne(ctx, s.Service, store.Queries.GetRole, "role", name, func(q store.Queries, rec func(store.Event), r store.Role) error {
		if r.Builtin {
			return &ConflictError{Msg: fmt.Sprintf("role %q is built in and cannot be changed", name)}
		}
		ctxv := map[string]any{}
		if in.Description != nil && *in.Description != r.Description {
			r.Description = *in.Description
			ctxv["description"] = true
		}
		if in.Permissions != nil {
			r.Permissions = perms
			ctxv["permissions"] = perms
		}
		if err := q.UpdateRole(ctx, r); err != nil {
			return notFound(err, "role", name)
		}
		rec(s.event(a, audit.ActionModelUpdated, audit.Success, roleTarget(name), ctxv))
		out = r
		return nil
	})
	if err != nil {
		return RoleView{}, err
	}
	s.authn.InvalidatePrincipals()
	return roleView(out), nil
}

// DeleteRole deletes a role and its assignments (roles.write).
func (s *Access) DeleteRole(ctx context.Context, a Actor, name string) error {
	if err := s.authorize(ctx, a, authz.RolesWrite, roleTarget(name)); err != nil {
		return err
	}
	err := writeOne(ctx, s.Service, store.Queries.GetRole, "role", name, func(q store.Queries, rec func(store.Event), r store.Role) error {
		if r.Builtin {
			return &ConflictError{Msg: fmt.Sprintf("role %q is built in and cannot be deleted", name)}
		}
		return s.deleted(rec, a, q.DeleteRole(ctx, r.UID), "role", name, roleTarget(name), nil)
	})
	return then(err, s.authn.InvalidatePrincipals)
}

// AssignRole gives a role to a user or a group (roles.write). kind is
// "users" or "groups". Assigning twice is not an error.
func (s *Access) AssignRole(ctx context.Context, a Actor, role, kind, name string) error {
	return s.changeAssignment(ctx, a, role, kind, name, grant)
}

// UnassignRole takes a role from a user or a group (roles.write).
func (s *Access) UnassignRole(ctx context.Context, a Actor, role, kind, name string) error {
	return s.changeAssignment(ctx, a, role, kind, name, withdraw)
}

func (s *Access) changeAssignment(ctx context.Context, a Actor, role, kind, name string, c change) error {
	assign := c == grant
	if err := s.authorize(ctx, a, authz.RolesWrite, roleTarget(role)); err != nil {
		return err
	}
	err := writeOne(ctx, s.Service, store.Queries.GetRole, "role", role, func(q store.Queries, rec func(store.Event), r store.Role) error {
		as, err := q.RoleAssignments(ctx, r.UID)
		if err != nil {
			return err
		}
		var holders []string
		var uid string
		switch kind {
		case "users":
			u, err := q.GetUser(ctx, name)
			if err != nil {
				return notFound(err, "user", name)
			}
			if u.Managed {
				return &ConflictError{Msg: fmt.Sprintf("%q is managed by gatehouse and cannot be changed", name)}
			}
			// roles.write may grant anything, but changing what an account
			// holds still needs an actor at least as powerful (bound.go).
			if err := mayActOn(ctx, q, a, u, authz.RolesWrite, roleTarget(role)); err != nil {
				return err
			}
			holders, uid = as.Users, u.UID
		case "groups":
			g, err := q.GetGroup(ctx, name)
			if err != nil {
				return notFound(err, "group", name)
			}
			holders, uid = as.Groups, g.UID
		default:
			return &NotFoundError{Kind: "assignment kind", Name: kind}
		}
		held := false
		for _, h := range holders {
			held = held || h == name
		}
		if assign == held {
			if !assign {
				return &NotFoundError{Kind: "assignment", Name: name}
			}
			return nil
		}
		if r.Builtin && !assign && kind == "users" && a.P.UID == uid {
			return &ConflictError{Msg: "you cannot take the admin role from yourself"}
		}
		switch {
		case kind == "users" && assign:
			err = q.AssignRoleToUser(ctx, r.UID, uid)
		case kind == "users":
			err = q.UnassignRoleFromUser(ctx, r.UID, uid)
		case assign:
			err = q.AssignRoleToGroup(ctx, r.UID, uid)
		default:
			err = q.UnassignRoleFromGroup(ctx, r.UID, uid)
		}
		if err != nil {
			return notFound(err, kind[:len(kind)-1], name)
		}
		action := audit.ActionRoleAssigned
		if !assign {
			action = audit.ActionRoleRemoved
		}
		rec(s.event(a, action, audit.Success, roleTarget(role), map[string]any{kind[:len(kind)-1]: name}))
		return nil
	})
	return then(err, s.authn.InvalidatePrincipals)
}
