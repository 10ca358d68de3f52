package tfprovider

import (
	"context"
	"fmt"
	"slices"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/gatehouse/gatehouse/client"
)

// gatehouse_role_assignment: a role given to one user or service
// account, or to a group.
type roleAssignmentResource struct{ subjectResource }

func newRoleAssignmentResource() resource.Resource {
	return &roleAssignmentResource{subjectResource{typeName: "role_assignment", parent: "role"}}
}

type roleAssignmentModel struct {
	ID   types.String `tfsdk:"id"`
	Role types.String `tfsdk:"role"`
	subject
}

func (r *roleAssignmentResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "A role assigned to a user or service account (`username`) or to a group (`group`). Import with `ROLE/user/USERNAME` or `ROLE/group/GROUP`.",
		Attributes: r.attributes(map[string]schema.Attribute{
			"role": nameAttribute("The role (the built-in `admin` too)."),
		}),
	}
}

func (r *roleAssignmentResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	writePlan(ctx, req.Plan, &resp.State, &resp.Diagnostics, func(plan *roleAssignmentModel) bool {
		kind, idKind, name := plan.of()
		role := plan.Role.ValueString()
		if err := r.c.Roles.Assign(ctx, role, kind, name); err != nil {
			apiError(&resp.Diagnostics, fmt.Sprintf("Cannot assign role %q to %s %q", role, idKind, name), err, "role", "username", "group")
			return false
		}
		plan.ID = types.StringValue(role + "/" + idKind + "/" + name)
		return true
	})
}

func (r *roleAssignmentResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	refresh(ctx, req, resp, func(st *roleAssignmentModel) bool { return r.read(ctx, st, &resp.Diagnostics) })
}

// read reports false when the assignment is gone: its role, or its
// subject, or the one from the other.
func (r *roleAssignmentResource) read(ctx context.Context, st *roleAssignmentModel, diags *diag.Diagnostics) bool {
	kind, idKind, name := st.of()
	var roles []string
	var err error
	if kind == client.SubjectGroups {
		var g client.Group
		g, err = r.c.Groups.Get(ctx, name)
		roles = g.Roles
	} else {
		var u client.User
		u, err = r.c.Users.Get(ctx, name)
		roles = u.Roles
		if err == nil && u.Managed {
			diags.AddAttributeError(path.Root("username"), "Managed account", refuseAccount(u))
			return true
		}
	}
	if err != nil {
		return found(err, diags, fmt.Sprintf("Cannot read %s %q", idKind, name))
	}
	if !slices.Contains(roles, st.Role.ValueString()) {
		return false
	}
	st.ID = types.StringValue(st.Role.ValueString() + "/" + idKind + "/" + name)
	return true
}

// Update is never called: every argument replaces.
func (r *roleAssignmentResource) Update(context.Context, resource.UpdateRequest, *resource.UpdateResponse) {
}

func (r *roleAssignmentResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	deleteState(ctx, req, resp, func(st roleAssignmentModel) (string, error) {
		kind, idKind, name := st.of()
		return fmt.Sprintf("Cannot take role %q from %s %q", st.Role.ValueString(), idKind, name),
			r.c.Roles.Unassign(ctx, st.Role.ValueString(), kind, name)
	})
}
