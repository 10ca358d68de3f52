package tfprovider

import (
	"context"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/gatehouse/gatehouse/client"
)

// gatehouse_group: a named set of users. Members are gatehouse_group_member
// (or a service account's groups), roles gatehouse_role_assignment.
type groupResource struct {
	typeName
	namedResource[groupModel, client.Group]
}

func newGroupResource() resource.Resource {
	return &groupResource{typeName: "group", namedResource: namedResource[groupModel, client.Group]{api: named[groupModel, client.Group]{
		what: "group", nameKey: "name", name: func(m groupModel) string { return m.Name.ValueString() },
		create: func(ctx context.Context, c *client.Client, m groupModel) (client.Group, error) {
			return c.Groups.Create(ctx, client.GroupCreate{Name: m.Name.ValueString(), Description: strPtr(m.Description)})
		},
		get: func(ctx context.Context, c *client.Client, name string) (client.Group, error) {
			return c.Groups.Get(ctx, name)
		},
		update: func(ctx context.Context, c *client.Client, m groupModel) (client.Group, error) {
			return c.Groups.Update(ctx, m.Name.ValueString(), client.GroupUpdate{Description: strPtr(m.Description)})
		},
		remove: func(ctx context.Context, c *client.Client, name string) error { return c.Groups.Delete(ctx, name) },
		state:  groupState, createFields: []string{"name", "description"}, updateFields: []string{"description"},
	}}}
}

type groupModel struct {
	ID          types.String `tfsdk:"id"`
	Name        types.String `tfsdk:"name"`
	Description types.String `tfsdk:"description"`
	UID         types.String `tfsdk:"uid"`
}

func (r *groupResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "A group of users and service accounts. Its members are gatehouse_group_member resources; its roles gatehouse_role_assignment resources.",
		Attributes: map[string]schema.Attribute{
			"id":          idAttribute("The group's name."),
			"name":        nameAttribute("The group's name; groups cannot be renamed, so changing it replaces the group."),
			"description": optionalString("What the group is for."),
			"uid":         uidAttribute("The group's unique identifier."),
		},
	}
}

func groupState(g client.Group, m *groupModel) {
	m.ID, m.Name, m.Description, m.UID = types.StringValue(g.Name), types.StringValue(g.Name), types.StringValue(g.Description), types.StringValue(g.UID)
}
