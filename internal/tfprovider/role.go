package tfprovider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/setdefault"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/gatehouse/gatehouse/client"
	"github.com/gatehouse/gatehouse/internal/authz"
)

// gatehouse_role: a named set of permissions.
type roleResource struct {
	named[roleModel, client.RoleCreate, client.RoleUpdate, client.Role]
}

type roleModel struct {
	ID          types.String `tfsdk:"id"`
	Name        types.String `tfsdk:"name"`
	Description types.String `tfsdk:"description"`
	Permissions types.Set    `tfsdk:"permissions"`
	UID         types.String `tfsdk:"uid"`
}

func newRoleResource() resource.Resource {
	return &roleResource{named[roleModel, client.RoleCreate, client.RoleUpdate, client.Role]{
		typeName: "role", what: "role", nameKey: "name", name: func(m roleModel) string { return m.Name.ValueString() },
		schema: schema.Schema{
			Description: "A role: a named set of permissions, assigned with gatehouse_role_assignment (or a service account's roles).",
			Attributes: map[string]schema.Attribute{
				"id":          idAttribute("The role's name."),
				"name":        nameAttribute("The role's name; roles cannot be renamed, so changing it replaces the role."),
				"description": optionalString("What the role is for."),
				"permissions": schema.SetAttribute{
					ElementType: types.StringType, Optional: true, Computed: true,
					Default:     setdefault.StaticValue(stringSet(nil)),
					Description: "Permissions of the catalogue (data source gatehouse_permissions): `name`, or `name@kind/object` for one group, LDAP provider or application, such as `ldap.search_full_directory@ldap/corp`. Checked at plan time.",
					Validators:  []validator.Set{validPermissions},
				},
				"uid": uidAttribute("The role's unique identifier."),
			},
		},
		api: func(c *client.Client) collection[client.RoleCreate, client.RoleUpdate, client.Role] { return c.Roles },
		create: func(ctx context.Context, m roleModel, diags *diag.Diagnostics) client.RoleCreate {
			perms := m.permissions(ctx, diags)
			return client.RoleCreate{Name: m.Name.ValueString(), Description: strPtr(m.Description), Permissions: &perms}
		},
		update: func(ctx context.Context, m, _ roleModel, diags *diag.Diagnostics) client.RoleUpdate {
			perms := m.permissions(ctx, diags)
			return client.RoleUpdate{Description: strPtr(m.Description), Permissions: &perms}
		},
		state: roleState, createFields: roleFields, updateFields: roleFields,
		refuse: func(role client.Role, diags *diag.Diagnostics) {
			if role.Builtin {
				diags.AddAttributeError(path.Root("name"), "Built-in role",
					fmt.Sprintf("%q is built into gatehouse (it holds every permission and cannot be changed or deleted): assign it with gatehouse_role_assignment, do not manage it as a gatehouse_role.", role.Name))
			}
		},
	}}
}

var roleFields = []string{"name", "description", "permissions"}

// permissions is the plan's set, never nil: an empty set clears the
// role's permissions.
func (m roleModel) permissions(ctx context.Context, diags *diag.Diagnostics) []string {
	perms := setStrings(ctx, m.Permissions, diags)
	if perms == nil {
		perms = []string{}
	}
	return perms
}

func roleState(role client.Role, m *roleModel) {
	m.ID, m.Name, m.Description, m.UID = types.StringValue(role.Name), types.StringValue(role.Name), types.StringValue(role.Description), types.StringValue(role.UID)
	m.Permissions = stringSet(role.Permissions)
}

func (r *roleResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	if req.ID == authz.AdminRole {
		resp.Diagnostics.AddError("Built-in role", fmt.Sprintf("%q is built into gatehouse and cannot be managed as a gatehouse_role.", req.ID))
		return
	}
	importByName(ctx, req, resp, "name")
}
