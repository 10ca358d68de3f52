package tfprovider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/gatehouse/gatehouse/client"
)

// gatehouse_group: a named set of users. Members are gatehouse_group_member
// (or a service account's groups), roles gatehouse_role_assignment.
type groupResource struct{ withClient }

func newGroupResource() resource.Resource { return &groupResource{} }

type groupModel struct {
	ID          types.String `tfsdk:"id"`
	Name        types.String `tfsdk:"name"`
	Description types.String `tfsdk:"description"`
	UID         types.String `tfsdk:"uid"`
}

func (r *groupResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_group"
}

func (r *groupResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "A group of users and service accounts. Its members are gatehouse_group_member resources; its roles gatehouse_role_assignment resources.",
		Attributes: map[string]schema.Attribute{
			"id": idAttribute("The group's name."),
			"name": schema.StringAttribute{
				Required: true, Description: "The group's name; groups cannot be renamed, so changing it replaces the group.",
				Validators:    []validator.String{nameValidator{}},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"description": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(""), Description: "What the group is for."},
			"uid": schema.StringAttribute{
				Computed: true, Description: "The group's unique identifier.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
		},
	}
}

func (r *groupResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan groupModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	name := plan.Name.ValueString()
	g, err := r.c.Groups.Create(ctx, client.GroupCreate{Name: name, Description: strPtr(plan.Description)})
	if err != nil {
		apiError(&resp.Diagnostics, fmt.Sprintf("Cannot create group %q", name), err, "name", "description")
		return
	}
	groupState(g, &plan)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func groupState(g client.Group, m *groupModel) {
	m.ID, m.Name, m.Description, m.UID = types.StringValue(g.Name), types.StringValue(g.Name), types.StringValue(g.Description), types.StringValue(g.UID)
}

func (r *groupResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var st groupModel
	resp.Diagnostics.Append(req.State.Get(ctx, &st)...)
	if resp.Diagnostics.HasError() {
		return
	}
	g, err := r.c.Groups.Get(ctx, st.Name.ValueString())
	if isNotFound(err) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError(fmt.Sprintf("Cannot read group %q", st.Name.ValueString()), err.Error())
		return
	}
	groupState(g, &st)
	resp.Diagnostics.Append(resp.State.Set(ctx, &st)...)
}

func (r *groupResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan groupModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	g, err := r.c.Groups.Update(ctx, plan.Name.ValueString(), client.GroupUpdate{Description: strPtr(plan.Description)})
	if err != nil {
		apiError(&resp.Diagnostics, fmt.Sprintf("Cannot update group %q", plan.Name.ValueString()), err, "description")
		return
	}
	groupState(g, &plan)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *groupResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var st groupModel
	resp.Diagnostics.Append(req.State.Get(ctx, &st)...)
	deleteIgnoringGone(&resp.Diagnostics, fmt.Sprintf("Cannot delete group %q", st.Name.ValueString()),
		r.c.Groups.Delete(ctx, st.Name.ValueString()))
}

func (r *groupResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importByName(ctx, req, resp, "name")
}

// deleteIgnoringGone reports a failed delete; an object already gone is
// what was wanted.
func deleteIgnoringGone(diags *diag.Diagnostics, summary string, err error) {
	if err != nil && !isNotFound(err) {
		apiError(diags, summary, err)
	}
}
