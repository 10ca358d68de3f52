package tfprovider

import (
	"context"
	"fmt"
	"slices"

	"github.com/hashicorp/terraform-plugin-framework-validators/resourcevalidator"
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
type roleAssignmentResource struct{ withClient }

func newRoleAssignmentResource() resource.Resource { return &roleAssignmentResource{} }

type roleAssignmentModel struct {
	ID       types.String `tfsdk:"id"`
	Role     types.String `tfsdk:"role"`
	Username types.String `tfsdk:"username"`
	Group    types.String `tfsdk:"group"`
}

func (r *roleAssignmentResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_role_assignment"
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
	var plan roleAssignmentModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	kind, idKind, name := plan.subject()
	role := plan.Role.ValueString()
	if err := r.c.Roles.Assign(ctx, role, kind, name); err != nil {
		apiError(&resp.Diagnostics, fmt.Sprintf("Cannot assign role %q to %s %q", role, idKind, name), err, "role", "username", "group")
		return
	}
	plan.ID = types.StringValue(role + "/" + idKind + "/" + name)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *roleAssignmentResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var st roleAssignmentModel
	resp.Diagnostics.Append(req.State.Get(ctx, &st)...)
	if resp.Diagnostics.HasError() {
		return
	}
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
			resp.Diagnostics.AddAttributeError(path.Root("username"), "Managed account", refuseAccount(u))
			return
		}
	}
	if isNotFound(err) || (err == nil && !slices.Contains(roles, st.Role.ValueString())) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError(fmt.Sprintf("Cannot read %s %q", idKind, name), err.Error())
		return
	}
	st.ID = types.StringValue(st.Role.ValueString() + "/" + idKind + "/" + name)
	resp.Diagnostics.Append(resp.State.Set(ctx, &st)...)
}

// Update is never called: every argument replaces.
func (r *roleAssignmentResource) Update(context.Context, resource.UpdateRequest, *resource.UpdateResponse) {
}

func (r *roleAssignmentResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var st roleAssignmentModel
	resp.Diagnostics.Append(req.State.Get(ctx, &st)...)
	kind, idKind, name := st.subject()
	deleteIgnoringGone(&resp.Diagnostics, fmt.Sprintf("Cannot take role %q from %s %q", st.Role.ValueString(), idKind, name),
		r.c.Roles.Unassign(ctx, st.Role.ValueString(), kind, name))
}

func (r *roleAssignmentResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	const format = "ROLE/user/USERNAME or ROLE/group/GROUP"
	parts := splitID(req.ID, 3, format, &resp.Diagnostics)
	if parts == nil {
		return
	}
	attr := map[string]string{"user": "username", "group": "group"}[parts[1]]
	if attr == "" {
		resp.Diagnostics.AddError("Invalid import identifier", fmt.Sprintf("%q: expected %s", req.ID, format))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("role"), parts[0])...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root(attr), parts[2])...)
}
