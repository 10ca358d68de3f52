package tfprovider

import (
	"context"
	"fmt"
	"slices"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// gatehouse_group_member: one membership, so that a group's members can
// be declared where the accounts are (and by several modules).
type groupMemberResource struct {
	withClient
	typeName
}

func newGroupMemberResource() resource.Resource {
	return &groupMemberResource{typeName: "group_member"}
}

type groupMemberModel struct {
	ID       types.String `tfsdk:"id"`
	Group    types.String `tfsdk:"group"`
	Username types.String `tfsdk:"username"`
}

func (r *groupMemberResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "A user's or service account's membership of a group. Import with `GROUP/USERNAME`.",
		Attributes: map[string]schema.Attribute{
			"id":       idAttribute("`GROUP/USERNAME`."),
			"group":    nameAttribute("The group."),
			"username": nameAttribute("The member: a user or service account."),
		},
	}
}

func (r *groupMemberResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	writePlan(ctx, req.Plan, &resp.State, &resp.Diagnostics, func(plan *groupMemberModel) bool {
		g, u := plan.Group.ValueString(), plan.Username.ValueString()
		if err := r.c.Groups.AddMember(ctx, g, u); err != nil {
			apiError(&resp.Diagnostics, fmt.Sprintf("Cannot add %q to group %q", u, g), err, "group", "username")
			return false
		}
		plan.ID = types.StringValue(g + "/" + u)
		return true
	})
}

func (r *groupMemberResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	refresh(ctx, req, resp, func(st *groupMemberModel) bool {
		grp, err := r.c.Groups.Get(ctx, st.Group.ValueString())
		if err != nil {
			return found(err, &resp.Diagnostics, fmt.Sprintf("Cannot read group %q", st.Group.ValueString()))
		}
		st.ID = types.StringValue(st.Group.ValueString() + "/" + st.Username.ValueString())
		return slices.Contains(grp.Members, st.Username.ValueString())
	})
}

// Update is never called: every argument replaces.
func (r *groupMemberResource) Update(context.Context, resource.UpdateRequest, *resource.UpdateResponse) {
}

func (r *groupMemberResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	deleteState(ctx, req, resp, func(st groupMemberModel) (string, error) {
		g, u := st.Group.ValueString(), st.Username.ValueString()
		return fmt.Sprintf("Cannot remove %q from group %q", u, g), r.c.Groups.RemoveMember(ctx, g, u)
	})
}

func (r *groupMemberResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	parts := splitID(req.ID, 2, "GROUP/USERNAME", &resp.Diagnostics)
	if parts == nil {
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("group"), parts[0])...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("username"), parts[1])...)
}
