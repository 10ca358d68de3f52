package tfprovider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/setplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/gatehouse/gatehouse/client"
)

// gatehouse_service_account: a machine's account. Its credentials are
// gatehouse_token resources, so it is created without one.
type serviceAccountResource struct {
	withClient
	typeName
}

func newServiceAccountResource() resource.Resource {
	return &serviceAccountResource{typeName: "service_account"}
}

type serviceAccountModel struct {
	ID          types.String `tfsdk:"id"`
	Username    types.String `tfsdk:"username"`
	Description types.String `tfsdk:"description"`
	Groups      types.Set    `tfsdk:"groups"`
	Roles       types.Set    `tfsdk:"roles"`
	IsActive    types.Bool   `tfsdk:"is_active"`
	UID         types.String `tfsdk:"uid"`
}

func (r *serviceAccountResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "A service account: the identity of a pipeline, a bot or an application. Its tokens are gatehouse_token resources.",
		Attributes: map[string]schema.Attribute{
			"id":          idAttribute("The username."),
			"username":    nameAttribute("The account's name; changing it replaces the account."),
			"description": optionalString("What the account is for."),
			"groups": schema.SetAttribute{
				ElementType: types.StringType, Optional: true, Computed: true,
				Description: "Groups the account is a member of. Leave it out to manage membership with gatehouse_group_member instead (do not use both for one account).",
				Validators:  []validator.Set{validNames},
				// Unset, the memberships are left to other resources:
				// keep what the server says rather than plan "unknown".
				PlanModifiers: []planmodifier.Set{setplanmodifier.UseStateForUnknown()},
			},
			"roles": schema.SetAttribute{
				ElementType: types.StringType, Optional: true, Computed: true,
				Description:   "Roles assigned to the account directly. Leave it out to manage them with gatehouse_role_assignment instead (do not use both for one account).",
				Validators:    []validator.Set{validNames},
				PlanModifiers: []planmodifier.Set{setplanmodifier.UseStateForUnknown()},
			},
			"is_active": schema.BoolAttribute{
				Optional: true, Computed: true, Default: booldefault.StaticBool(true),
				Description: "false disables the account: its tokens are refused.",
			},
			"uid": uidAttribute("The account's unique identifier, which never changes."),
		},
	}
}

var serviceAccountFields = []string{"username", "description", "groups", "roles", "is_active"}

func (r *serviceAccountResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan serviceAccountModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	name := plan.Username.ValueString()
	// One transaction makes the account with its groups and roles;
	// no credential, since tokens are resources of their own.
	in := client.ServiceAccountCreate{
		Username:    name,
		Description: plan.Description.ValueString(),
		Groups:      setStrings(ctx, plan.Groups, &resp.Diagnostics),
		Roles:       setStrings(ctx, plan.Roles, &resp.Diagnostics),
		TokenIntent: client.IntentNone,
	}
	if in.Groups == nil {
		in.Groups = []string{}
	}
	if in.Roles == nil {
		in.Roles = []string{}
	}
	if _, err := r.c.ServiceAccounts.Create(ctx, in); err != nil {
		apiError(&resp.Diagnostics, fmt.Sprintf("Cannot create service account %q", name), err, serviceAccountFields...)
		return
	}
	if !plan.IsActive.ValueBool() {
		f := false
		if _, err := r.c.ServiceAccounts.Update(ctx, name, client.UserUpdate{IsActive: &f}); err != nil {
			// Created but still active: keep it in state (tainted), so
			// the next apply finishes rather than failing on a name taken.
			resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
			apiError(&resp.Diagnostics, fmt.Sprintf("Cannot disable service account %q", name), err, serviceAccountFields...)
			return
		}
	}
	r.read(ctx, name, &plan, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// read fills m from the server; it reports false when the account is
// gone.
func (r *serviceAccountResource) read(ctx context.Context, name string, m *serviceAccountModel, diags *diag.Diagnostics) bool {
	u, err := r.c.ServiceAccounts.Get(ctx, name)
	if err != nil {
		return found(err, diags, fmt.Sprintf("Cannot read service account %q", name))
	}
	if u.Managed || u.Type != client.UserServiceAccount {
		diags.AddAttributeError(path.Root("username"), "Not a manageable service account", refuseAccount(u))
		return true
	}
	m.ID = types.StringValue(u.Username)
	m.Username = types.StringValue(u.Username)
	m.Description = types.StringValue(u.Description)
	m.Groups = stringSet(u.Groups)
	m.Roles = stringSet(u.Roles)
	m.IsActive = types.BoolValue(u.IsActive)
	m.UID = types.StringValue(u.UID)
	return true
}

// refuseAccount says why an account cannot be managed by this resource.
func refuseAccount(u client.User) string {
	switch {
	case u.Managed || u.Type == client.UserInternalServiceAccount:
		return fmt.Sprintf("%q is an internal service account, managed by gatehouse for its outposts: it cannot be managed with Terraform. Manage the outpost instead.", u.Username)
	case u.Type == client.UserHuman:
		return fmt.Sprintf("%q is a human user: manage it with gatehouse_user.", u.Username)
	default:
		return fmt.Sprintf("%q is a service account: manage it with gatehouse_service_account.", u.Username)
	}
}

func (r *serviceAccountResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	refresh(ctx, req, resp, func(st *serviceAccountModel) bool {
		return r.read(ctx, st.Username.ValueString(), st, &resp.Diagnostics)
	})
}

func (r *serviceAccountResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, st serviceAccountModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &st)...)
	if resp.Diagnostics.HasError() {
		return
	}
	name := plan.Username.ValueString()
	in := client.UserUpdate{Description: strPtr(plan.Description)}
	if !plan.IsActive.Equal(st.IsActive) {
		in.IsActive = plan.IsActive.ValueBoolPointer()
	}
	if _, err := r.c.ServiceAccounts.Update(ctx, name, in); err != nil {
		apiError(&resp.Diagnostics, fmt.Sprintf("Cannot update service account %q", name), err, serviceAccountFields...)
		return
	}
	syncMemberships(ctx, r.c, name, st.Groups, plan.Groups, st.Roles, plan.Roles, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	r.read(ctx, name, &plan, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// syncMemberships moves an account's groups and direct roles from the
// state's to the plan's, one call each (the API has no bulk form).
func syncMemberships(ctx context.Context, c *client.Client, name string, haveGroups, wantGroups, haveRoles, wantRoles types.Set, diags *diag.Diagnostics) {
	var d diag.Diagnostics // a set of strings always reads as []string
	if !wantGroups.IsUnknown() && !wantGroups.IsNull() {
		add, remove := diffStrings(setStrings(ctx, haveGroups, &d), setStrings(ctx, wantGroups, &d))
		for _, g := range add {
			if err := c.Groups.AddMember(ctx, g, name); err != nil {
				diags.AddAttributeError(path.Root("groups"), fmt.Sprintf("Cannot add %q to group %q", name, g), err.Error())
			}
		}
		for _, g := range remove {
			if err := c.Groups.RemoveMember(ctx, g, name); err != nil && !isNotFound(err) {
				diags.AddAttributeError(path.Root("groups"), fmt.Sprintf("Cannot remove %q from group %q", name, g), err.Error())
			}
		}
	}
	if !wantRoles.IsUnknown() && !wantRoles.IsNull() {
		add, remove := diffStrings(setStrings(ctx, haveRoles, &d), setStrings(ctx, wantRoles, &d))
		for _, role := range add {
			if err := c.Roles.Assign(ctx, role, client.SubjectUsers, name); err != nil {
				diags.AddAttributeError(path.Root("roles"), fmt.Sprintf("Cannot assign role %q to %q", role, name), err.Error())
			}
		}
		for _, role := range remove {
			if err := c.Roles.Unassign(ctx, role, client.SubjectUsers, name); err != nil && !isNotFound(err) {
				diags.AddAttributeError(path.Root("roles"), fmt.Sprintf("Cannot take role %q from %q", role, name), err.Error())
			}
		}
	}
}

func (r *serviceAccountResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	deleteState(ctx, req, resp, func(st serviceAccountModel) (string, error) {
		name := st.Username.ValueString()
		return fmt.Sprintf("Cannot delete service account %q", name), r.c.ServiceAccounts.Delete(ctx, name)
	})
}

func (r *serviceAccountResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importByName(ctx, req, resp, "username")
}
