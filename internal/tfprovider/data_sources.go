package tfprovider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/gatehouse/gatehouse/client"
)

// The data sources read what a configuration does not manage: an
// existing account to bind or assign, and the permission catalogue.

type accountModel struct {
	ID          types.String `tfsdk:"id"`
	Username    types.String `tfsdk:"username"`
	Type        types.String `tfsdk:"type"`
	Name        types.String `tfsdk:"name"`
	Email       types.String `tfsdk:"email"`
	Description types.String `tfsdk:"description"`
	IsActive    types.Bool   `tfsdk:"is_active"`
	Managed     types.Bool   `tfsdk:"managed"`
	Groups      types.Set    `tfsdk:"groups"`
	Roles       types.Set    `tfsdk:"roles"`
	UID         types.String `tfsdk:"uid"`
}

func accountSchema(what string) schema.Schema {
	computed := func(d string) schema.StringAttribute { return schema.StringAttribute{Computed: true, Description: d} }
	return schema.Schema{
		Description: "Reads " + what + " by name.",
		Attributes: map[string]schema.Attribute{
			"id":          computed("The username."),
			"username":    schema.StringAttribute{Required: true, Description: "The name to look up.", Validators: []validator.String{validName}},
			"type":        computed("human, service_account or internal_service_account."),
			"name":        computed("Full name (humans)."),
			"email":       computed("E-mail address (humans)."),
			"description": computed("Free text."),
			"is_active":   schema.BoolAttribute{Computed: true, Description: "false: disabled."},
			"managed":     schema.BoolAttribute{Computed: true, Description: "true: an internal service account, managed by gatehouse."},
			"groups":      schema.SetAttribute{Computed: true, ElementType: types.StringType, Description: "Groups it is a member of."},
			"roles":       schema.SetAttribute{Computed: true, ElementType: types.StringType, Description: "Roles assigned to it directly."},
			"uid":         computed("Its unique identifier."),
		},
	}
}

func accountState(u client.User) accountModel {
	return accountModel{
		ID: types.StringValue(u.Username), Username: types.StringValue(u.Username), Type: types.StringValue(u.Type),
		Name: types.StringValue(u.Name), Email: types.StringValue(u.Email), Description: types.StringValue(u.Description),
		IsActive: types.BoolValue(u.IsActive), Managed: types.BoolValue(u.Managed),
		Groups: stringSet(u.Groups), Roles: stringSet(u.Roles), UID: types.StringValue(u.UID),
	}
}

// accountDataSource is gatehouse_user or gatehouse_service_account: an
// account read by name with get.
type accountDataSource struct {
	withDataClient
	typeName string // "user" for gatehouse_user
	what     string // in messages: "user"
	about    string // what the schema says it reads
	get      func(ctx context.Context, c *client.Client, username string) (client.User, error)
}

func newUserDataSource() datasource.DataSource {
	return &accountDataSource{typeName: "user", what: "user", about: "a user of any type (human or service account)",
		get: func(ctx context.Context, c *client.Client, username string) (client.User, error) {
			return c.Users.Get(ctx, username)
		}}
}

func newServiceAccountDataSource() datasource.DataSource {
	return &accountDataSource{typeName: "service_account", what: "service account", about: "a service account (internal ones included, read-only)",
		get: func(ctx context.Context, c *client.Client, username string) (client.User, error) {
			return c.ServiceAccounts.Get(ctx, username)
		}}
}

func (d *accountDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_" + d.typeName
}

func (d *accountDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = accountSchema(d.about)
}

func (d *accountDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m accountModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	u, err := d.get(ctx, d.c, m.Username.ValueString())
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("username"), fmt.Sprintf("Cannot read %s %q", d.what, m.Username.ValueString()), err.Error())
		return
	}
	m = accountState(u)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

type permissionsDataSource struct{ withDataClient }

func newPermissionsDataSource() datasource.DataSource { return &permissionsDataSource{} }

type permissionsModel struct {
	ID          types.String      `tfsdk:"id"`
	Names       types.Set         `tfsdk:"names"`
	Permissions []permissionModel `tfsdk:"permissions"`
}

type permissionModel struct {
	Name        types.String `tfsdk:"name"`
	Description types.String `tfsdk:"description"`
	Scopes      types.Set    `tfsdk:"scopes"`
}

func (d *permissionsDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_permissions"
}

func (d *permissionsDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "The server's permission catalogue (GET /api/v1/permissions).",
		Attributes: map[string]schema.Attribute{
			"id":    schema.StringAttribute{Computed: true, Description: "Always `permissions`."},
			"names": schema.SetAttribute{Computed: true, ElementType: types.StringType, Description: "Every permission's name."},
			"permissions": schema.ListNestedAttribute{
				Computed: true, Description: "Every permission, sorted by name.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"name":        schema.StringAttribute{Computed: true, Description: "Such as tokens.read."},
					"description": schema.StringAttribute{Computed: true, Description: "What it allows."},
					"scopes":      schema.SetAttribute{Computed: true, ElementType: types.StringType, Description: "Kinds of object it may be narrowed to (`name@kind/object`): group, ldap, application."},
				}},
			},
		},
	}
}

func (d *permissionsDataSource) Read(ctx context.Context, _ datasource.ReadRequest, resp *datasource.ReadResponse) {
	perms, err := d.c.Permissions.ListAll(ctx)
	if err != nil {
		resp.Diagnostics.AddError("Cannot read the permission catalogue", err.Error())
		return
	}
	m := permissionsModel{ID: types.StringValue("permissions"), Permissions: []permissionModel{}}
	names := make([]string, 0, len(perms))
	for _, p := range perms {
		names = append(names, p.Name)
		m.Permissions = append(m.Permissions, permissionModel{Name: types.StringValue(p.Name), Description: types.StringValue(p.Description), Scopes: stringSet(p.Scopes)})
	}
	m.Names = stringSet(names)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
