package tfprovider

import (
	"context"

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
type userModel struct {
	ID          types.String `tfsdk:"id"`
	Username    types.String `tfsdk:"username"`
	Name        types.String `tfsdk:"name"`
	Email       types.String `tfsdk:"email"`
	Description types.String `tfsdk:"description"`
	IsActive    types.Bool   `tfsdk:"is_active"`
	UID         types.String `tfsdk:"uid"`
}

var userFields = []string{"username", "name", "email", "description", "is_active"}

func newUserResource() resource.Resource {
	return &named[userModel, client.UserCreate, client.UserUpdate, client.User]{
		typeName: "user", what: "user", nameKey: "username", name: func(m userModel) string { return m.Username.ValueString() },
		schema: schema.Schema{
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
		},
		api: func(c *client.Client) collection[client.UserCreate, client.UserUpdate, client.User] { return c.Users },
		create: func(_ context.Context, m userModel, _ *diag.Diagnostics) client.UserCreate {
			return client.UserCreate{
				Username: m.Username.ValueString(), Type: client.UserHuman, Name: m.Name.ValueString(), Email: m.Email.ValueString(),
				Description: m.Description.ValueString(), IsActive: m.IsActive.ValueBoolPointer(),
			}
		},
		update: func(_ context.Context, m, prior userModel, _ *diag.Diagnostics) client.UserUpdate {
			in := client.UserUpdate{Name: strPtr(m.Name), Email: strPtr(m.Email), Description: strPtr(m.Description)}
			if !m.IsActive.Equal(prior.IsActive) {
				in.IsActive = m.IsActive.ValueBoolPointer()
			}
			return in
		},
		state: func(u client.User, m *userModel) {
			m.ID, m.Username, m.UID = types.StringValue(u.Username), types.StringValue(u.Username), types.StringValue(u.UID)
			m.Name, m.Email, m.Description = types.StringValue(u.Name), types.StringValue(u.Email), types.StringValue(u.Description)
			m.IsActive = types.BoolValue(u.IsActive)
		},
		createFields: userFields, updateFields: userFields,
		refuse: func(u client.User, diags *diag.Diagnostics) {
			if u.Type != client.UserHuman {
				diags.AddAttributeError(path.Root("username"), "Not a human user", refuseAccount(u))
			}
		},
	}
}
