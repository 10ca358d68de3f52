package tfprovider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/gatehouse/gatehouse/client"
)

// gatehouse_group: a named set of users. Members are gatehouse_group_member
// (or a service account's groups), roles gatehouse_role_assignment.
type groupModel struct {
	ID          types.String `tfsdk:"id"`
	Name        types.String `tfsdk:"name"`
	Description types.String `tfsdk:"description"`
	UID         types.String `tfsdk:"uid"`
}

func newGroupResource() resource.Resource {
	return &named[groupModel, client.GroupCreate, client.GroupUpdate, client.Group]{
		typeName: "group", what: "group", nameKey: "name", name: func(m groupModel) string { return m.Name.ValueString() },
		schema: schema.Schema{
			Description: "A group of users and service accounts. Its members are gatehouse_group_member resources; its roles gatehouse_role_assignment resources.",
			Attributes: map[string]schema.Attribute{
				"id":          idAttribute("The group's name."),
				"name":        nameAttribute("The group's name; groups cannot be renamed, so changing it replaces the group."),
				"description": optionalString("What the group is for."),
				"uid":         uidAttribute("The group's unique identifier."),
			},
		},
		api: func(c *client.Client) collection[client.GroupCreate, client.GroupUpdate, client.Group] {
			return c.Groups
		},
		create: func(_ context.Context, m groupModel, _ *diag.Diagnostics) client.GroupCreate {
			return client.GroupCreate{Name: m.Name.ValueString(), Description: strPtr(m.Description)}
		},
		update: func(_ context.Context, m, _ groupModel, _ *diag.Diagnostics) client.GroupUpdate {
			return client.GroupUpdate{Description: strPtr(m.Description)}
		},
		state: func(g client.Group, m *groupModel) {
			m.ID, m.Name, m.Description, m.UID = types.StringValue(g.Name), types.StringValue(g.Name), types.StringValue(g.Description), types.StringValue(g.UID)
		},
		createFields: []string{"name", "description"}, updateFields: []string{"description"},
	}
}
