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

// roleList is the list of roles (no search: they are few).
var roleList = listing[core.RoleView]{tmpl: "roles", title: "Roles", section: "roles", write: authz.RolesWrite,
	key: func(r core.RoleView) string { return r.Name },
	list: func(s *Server, ctx context.Context, c *reqCtx, _, after string) ([]core.RoleView, error) {
		return s.core.Access.ListRoles(ctx, c.actor, after, pageSize+1)
	}}

// roleFormData is the role form with its permission picker.
type roleFormData struct {
	Form      *form
	Catalogue []authz.Definition
	New       bool
}

// permissionsOf reads the picker: the checked catalogue entries plus one
// scoped permission (name@kind/object) per line of the text area.
func permissionsOf(v url.Values) []string {
	perms := append([]string(nil), v["permissions"]...)
	for _, line := range strings.Split(v.Get("scoped"), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			perms = append(perms, line)
		}
	}
	return perms
}

// pickerValues fills the picker from a role's permissions.
func pickerValues(perms []string) url.Values {
	v := url.Values{}
	var scoped []string
	for _, p := range perms {
		if strings.Contains(p, "@") {
			scoped = append(scoped, p)
		} else {
			v.Add("permissions", p)
		}
	}
	v.Set("scoped", strings.Join(scoped, "\n"))
	return v
}

var permRename = map[string]string{"permissions": "scoped"}

var roleNew = creationPage[roleFormData]{tmpl: "role_new", title: "New role", section: "roles", perm: authz.RolesWrite,
	data: func(_ *Server, _ *http.Request, _ *reqCtx, f *form) (roleFormData, error) {
		return roleFormData{Form: f, Catalogue: authz.Catalogue, New: true}, nil
	}}

func noValues(*http.Request, *reqCtx) url.Values { return nil }

func createRole(s *Server, ctx context.Context, c *reqCtx, v url.Values) (string, string, error) {
	desc := v.Get("description")
	perms := permissionsOf(v)
	role, err := s.core.Access.CreateRole(ctx, c.actor, core.RoleInput{Name: strings.TrimSpace(v.Get("name")), Description: &desc, Permissions: &perms})
	return "/roles/" + url.PathEscape(role.Name),
		fmt.Sprintf("Role %s created. Assign it to service accounts, people or groups below.", role.Name), err
}

type roleData struct {
	Role       core.RoleView
	CanWrite   bool
	Picker     roleFormData
	AssignForm *form
}

func (s *Server) loadRole(ctx context.Context, c *reqCtx, name string) (roleData, error) {
	role, err := s.core.Access.GetRole(ctx, c.actor, name)
	if err != nil {
		return roleData{}, err
	}
	v := pickerValues(role.Permissions)
	v.Set("description", role.Description)
	return roleData{Role: role, CanWrite: c.can(authz.RolesWrite),
		Picker:     roleFormData{Form: newForm(v), Catalogue: authz.Catalogue},
		AssignForm: newForm(url.Values{"kind": {"users"}})}, nil
}

var rolePage = objectPage[roleData]{tmpl: "role", section: "roles", path: "/roles/", load: (*Server).loadRole}

// roleFormError re-renders the role page with a form's error (the
// assignment form's, or the permission picker's), or the error page.
func (s *Server) roleFormError(w http.ResponseWriter, r *http.Request, c *reqCtx, name string, err error, v url.Values, assign bool) {
	rolePage.formError(s, w, r, c, name, err, v, permRename, func(d *roleData, f *form) {
		if assign {
			d.AssignForm = f
		} else {
			d.Picker.Form = f
		}
	})
}

func (s *Server) updateRole(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	rolePage.save(s, w, r, c, permRename, func(d *roleData, f *form) { d.Picker.Form = f },
		func(ctx context.Context, name string, v url.Values) error {
			desc := v.Get("description")
			perms := permissionsOf(v)
			return errOnly(s.core.Access.UpdateRole(ctx, c.actor, name, core.RoleInput{Description: &desc, Permissions: &perms}))
		}, fmt.Sprintf("Role %s saved: the change applies to the next request of everyone holding it.", r.PathValue("name")))
}

func (s *Server) assignRole(w http.ResponseWriter, r *http.Request, c *reqCtx, v url.Values) {
	name := r.PathValue("name")
	kind, holder := v.Get("kind"), strings.TrimSpace(v.Get("holder"))
	var f []core.FieldError
	if kind != "users" && kind != "groups" {
		f = append(f, core.FieldError{Field: "kind", Message: "must be a user or a group"})
	}
	if holder == "" {
		f = append(f, core.FieldError{Field: "holder", Message: "is required"})
	}
	if len(f) > 0 {
		s.roleFormError(w, r, c, name, &core.ValidationError{Errors: f}, v, true)
		return
	}
	if err := s.core.Access.AssignRole(r.Context(), c.actor, name, kind, holder); err != nil {
		s.roleFormError(w, r, c, name, err, v, true)
		return
	}
	s.setFlash(w, r, "ok", fmt.Sprintf("%s holds role %s.", holder, name))
	s.redirect(w, r, "/roles/"+url.PathEscape(name))
}

func (s *Server) unassignRole(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	name, kind, holder := r.PathValue("name"), r.PathValue("kind"), r.PathValue("holder")
	s.removeFrom(w, r, c, func(ctx context.Context) error { return s.core.Access.UnassignRole(ctx, c.actor, name, kind, holder) }, "assignment",
		fmt.Sprintf("%s did not hold role %s (any more).", holder, name), fmt.Sprintf("Role %s taken from %s.", name, holder),
		"/roles/"+url.PathEscape(name))
}

var roleDeletion = deletion{kind: "role", section: "roles", path: "/roles/", perm: authz.RolesWrite, list: "/roles",
	details: []string{"Everyone holding it loses its permissions from the next request on."},
	read: func(s *Server, ctx context.Context, c *reqCtx, name string) error {
		role, err := s.core.Access.GetRole(ctx, c.actor, name)
		if err == nil && role.Builtin {
			err = &notDeletable{fmt.Sprintf("Role %s is built in and cannot be deleted.", name)}
		}
		return err
	},
	del: func(s *Server, ctx context.Context, c *reqCtx, name string) error {
		return s.core.Access.DeleteRole(ctx, c.actor, name)
	}}
