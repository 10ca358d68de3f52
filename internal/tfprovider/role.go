package tfprovider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/setdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/gatehouse/gatehouse/client"
	"github.com/gatehouse/gatehouse/internal/authz"
)

// gatehouse_role: a named set of permissions.
type roleResource struct{ withClient }

func newRoleResource() resource.Resource { return &roleResource{} }

type roleModel struct {
	ID          types.String `tfsdk:"id"`
	Name        types.String `tfsdk:"name"`
	Description types.String `tfsdk:"description"`
	Permissions types.Set    `tfsdk:"permissions"`
	UID         types.String `tfsdk:"uid"`
}

func (r *roleResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_role"
}

func (r *roleResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "A role: a named set of permissions, assigned with gatehouse_role_assignment (or a service account's roles).",
		Attributes: map[string]schema.Attribute{
			"id": idAttribute("The role's name."),
			"name": schema.StringAttribute{
				Required: true, Description: "The role's name; roles cannot be renamed, so changing it replaces the role.",
				Validators:    []validator.String{nameValidator{}},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"description": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(""), Description: "What the role is for."},
			"permissions": schema.SetAttribute{
				ElementType: types.StringType, Optional: true, Computed: true,
				Default:     setdefault.StaticValue(stringSet(nil)),
				Description: "Permissions of the catalogue (data source gatehouse_permissions): `name`, or `name@kind/object` for one group, LDAP provider or application, such as `ldap.search_full_directory@ldap/corp`. Checked at plan time.",
				Validators:  []validator.Set{permissionsValidator{}},
			},
			"uid": schema.StringAttribute{
				Computed: true, Description: "The role's unique identifier.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
		},
	}
}

var roleFields = []string{"name", "description", "permissions"}

func (r *roleResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan roleModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	perms := setStrings(ctx, plan.Permissions, &resp.Diagnostics)
	if perms == nil {
		perms = []string{}
	}
	role, err := r.c.Roles.Create(ctx, client.RoleCreate{Name: plan.Name.ValueString(), Description: strPtr(plan.Description), Permissions: &perms})
	if err != nil {
		apiError(&resp.Diagnostics, fmt.Sprintf("Cannot create role %q", plan.Name.ValueString()), err, roleFields...)
		return
	}
	roleState(role, &plan)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func roleState(role client.Role, m *roleModel) {
	m.ID, m.Name, m.Description, m.UID = types.StringValue(role.Name), types.StringValue(role.Name), types.StringValue(role.Description), types.StringValue(role.UID)
	m.Permissions = stringSet(role.Permissions)
}

func (r *roleResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var st roleModel
	resp.Diagnostics.Append(req.State.Get(ctx, &st)...)
	if resp.Diagnostics.HasError() {
		return
	}
	role, err := r.c.Roles.Get(ctx, st.Name.ValueString())
	if isNotFound(err) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError(fmt.Sprintf("Cannot read role %q", st.Name.ValueString()), err.Error())
		return
	}
	if role.Builtin {
		resp.Diagnostics.AddAttributeError(path.Root("name"), "Built-in role",
			fmt.Sprintf("%q is built into gatehouse (it holds every permission and cannot be changed or deleted): assign it with gatehouse_role_assignment, do not manage it as a gatehouse_role.", role.Name))
		return
	}
	roleState(role, &st)
	resp.Diagnostics.Append(resp.State.Set(ctx, &st)...)
}

func (r *roleResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan roleModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	perms := setStrings(ctx, plan.Permissions, &resp.Diagnostics)
	if perms == nil {
		perms = []string{}
	}
	role, err := r.c.Roles.Update(ctx, plan.Name.ValueString(), client.RoleUpdate{Description: strPtr(plan.Description), Permissions: &perms})
	if err != nil {
		apiError(&resp.Diagnostics, fmt.Sprintf("Cannot update role %q", plan.Name.ValueString()), err, roleFields...)
		return
	}
	roleState(role, &plan)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *roleResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var st roleModel
	resp.Diagnostics.Append(req.State.Get(ctx, &st)...)
	deleteIgnoringGone(&resp.Diagnostics, fmt.Sprintf("Cannot delete role %q", st.Name.ValueString()), r.c.Roles.Delete(ctx, st.Name.ValueString()))
}

func (r *roleResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	if req.ID == authz.AdminRole {
		resp.Diagnostics.AddError("Built-in role", fmt.Sprintf("%q is built into gatehouse and cannot be managed as a gatehouse_role.", req.ID))
		return
	}
	importByName(ctx, req, resp, "name")
}
