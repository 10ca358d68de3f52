package tfprovider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
)

// idAttribute is the "id" every resource has: the identifier `terraform
// import` takes.
func idAttribute(what string) schema.StringAttribute {
	return schema.StringAttribute{
		Computed:      true,
		Description:   what + " The identifier that import takes.",
		PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
	}
}

// importByName imports an object addressed by its name: Read fills in
// the rest, and refuses what Terraform may not manage.
func importByName(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse, attr string) {
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root(attr), req.ID)...)
}
