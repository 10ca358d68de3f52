package tfprovider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/gatehouse/gatehouse/client"
)

// gatehouse_user: a human user. Passwords are not managed here: they
// would sit in the state; people set their own (or an admin with the CLI).
type userResource struct {
	withClient
	typeName
}

func newUserResource() resource.Resource { return &userResource{typeName: "user"} }

type userModel struct {
	ID          types.String `tfsdk:"id"`
	Username    types.String `tfsdk:"username"`
	Name        types.String `tfsdk:"name"`
	Email       types.String `tfsdk:"email"`
	Description types.String `tfsdk:"description"`
	IsActive    types.Bool   `tfsdk:"is_active"`
	UID         types.String `tfsdk:"uid"`
}

func (r *userResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "A human user. Its password is not managed by Terraform (it would be kept in the state): the user sets it, or an administrator with `gatehouse user passwd`.",
		Attributes: map[string]schema.Attribute{
			"id":          idAttribute("The username."),
			"username":    nameAttribute("The user's name; changing it replaces the user."),
			"name":        optionalString("Full name."),
			"email":       optionalString("E-mail address."),
			"description": optionalString("Free text."),
			"is_active": schema.BoolAttribute{
				Optional: true, Computed: true, Default: booldefault.StaticBool(true),
				Description: "false disables the user: sign-in and tokens are refused.",
			},
			"uid": uidAttribute("The user's unique identifier."),
		},
	}
}

var userFields = []string{"username", "name", "email", "description", "is_active"}

func (r *userResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	writePlan(ctx, req.Plan, &resp.State, &resp.Diagnostics, func(plan *userModel) bool {
		name := plan.Username.ValueString()
		_, err := r.c.Users.Create(ctx, client.UserCreate{
			Username: name, Type: client.UserHuman, Name: plan.Name.ValueString(), Email: plan.Email.ValueString(),
			Description: plan.Description.ValueString(), IsActive: plan.IsActive.ValueBoolPointer(),
		})
		if err != nil {
			apiError(&resp.Diagnostics, fmt.Sprintf("Cannot create user %q", name), err, userFields...)
			return false
		}
		r.read(ctx, name, plan, &resp.Diagnostics)
		return true
	})
}

func (r *userResource) read(ctx context.Context, name string, m *userModel, diags *diag.Diagnostics) bool {
	u, err := r.c.Users.Get(ctx, name)
	if err != nil {
		return found(err, diags, fmt.Sprintf("Cannot read user %q", name))
	}
	if u.Type != client.UserHuman {
		diags.AddAttributeError(path.Root("username"), "Not a human user", refuseAccount(u))
		return true
	}
	m.ID, m.Username, m.UID = types.StringValue(u.Username), types.StringValue(u.Username), types.StringValue(u.UID)
	m.Name, m.Email, m.Description = types.StringValue(u.Name), types.StringValue(u.Email), types.StringValue(u.Description)
	m.IsActive = types.BoolValue(u.IsActive)
	return true
}

func (r *userResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	refresh(ctx, req, resp, func(st *userModel) bool { return r.read(ctx, st.Username.ValueString(), st, &resp.Diagnostics) })
}

func (r *userResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, st userModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &st)...)
	if resp.Diagnostics.HasError() {
		return
	}
	name := plan.Username.ValueString()
	in := client.UserUpdate{Name: strPtr(plan.Name), Email: strPtr(plan.Email), Description: strPtr(plan.Description)}
	if !plan.IsActive.Equal(st.IsActive) {
		in.IsActive = plan.IsActive.ValueBoolPointer()
	}
	if _, err := r.c.Users.Update(ctx, name, in); err != nil {
		apiError(&resp.Diagnostics, fmt.Sprintf("Cannot update user %q", name), err, userFields...)
		return
	}
	r.read(ctx, name, &plan, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *userResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	deleteState(ctx, req, resp, func(st userModel) (string, error) {
		name := st.Username.ValueString()
		return fmt.Sprintf("Cannot delete user %q", name), r.c.Users.Delete(ctx, name)
	})
}

func (r *userResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importByName(ctx, req, resp, "username")
}
