package tfprovider

import (
	"context"
	"fmt"
	"slices"

	"github.com/hashicorp/terraform-plugin-framework-validators/resourcevalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/gatehouse/gatehouse/client"
)

// gatehouse_role_assignment: a role given to one user or service
// account, or to a group.
type roleAssignmentResource struct {
	withClient
	typeName
}

func newRoleAssignmentResource() resource.Resource {
	return &roleAssignmentResource{typeName: "role_assignment"}
}

type roleAssignmentModel struct {
	ID       types.String `tfsdk:"id"`
	Role     types.String `tfsdk:"role"`
	Username types.String `tfsdk:"username"`
	Group    types.String `tfsdk:"group"`
}

func (r *roleAssignmentResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	names := []validator.String{nameValidator{}}
	resp.Schema = schema.Schema{
		Description: "A role assigned to a user or service account (`username`) or to a group (`group`). Import with `ROLE/user/USERNAME` or `ROLE/group/GROUP`.",
		Attributes: map[string]schema.Attribute{
			"id":       idAttribute("`ROLE/user/USERNAME` or `ROLE/group/GROUP`."),
			"role":     schema.StringAttribute{Required: true, Description: "The role (the built-in `admin` too).", Validators: names, PlanModifiers: replace},
			"username": schema.StringAttribute{Optional: true, Description: "The user or service account; exactly one of username and group.", Validators: names, PlanModifiers: replace},
			"group":    schema.StringAttribute{Optional: true, Description: "The group; exactly one of username and group.", Validators: names, PlanModifiers: replace},
		},
	}
}

func (r *roleAssignmentResource) ConfigValidators(context.Context) []resource.ConfigValidator {
	return []resource.ConfigValidator{resourcevalidator.ExactlyOneOf(path.MatchRoot("username"), path.MatchRoot("group"))}
}

// subject is the assignee as the API's path names it, and as the
// import identifier does.
func (m roleAssignmentModel) subject() (kind, idKind, name string) {
	if !m.Group.IsNull() {
		return client.SubjectGroups, "group", m.Group.ValueString()
	}
	return client.SubjectUsers, "user", m.Username.ValueString()
}

func (r *roleAssignmentResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	writePlan(ctx, req.Plan, &resp.State, &resp.Diagnostics, func(plan *roleAssignmentModel) bool {
		kind, idKind, name := plan.subject()
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
	kind, idKind, name := st.subject()
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
		kind, idKind, name := st.subject()
		return fmt.Sprintf("Cannot take role %q from %s %q", st.Role.ValueString(), idKind, name),
			r.c.Roles.Unassign(ctx, st.Role.ValueString(), kind, name)
	})
}

func (r *roleAssignmentResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importSubject(ctx, req, resp, "role", "ROLE/user/USERNAME or ROLE/group/GROUP")
}
