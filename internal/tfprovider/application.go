package tfprovider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/gatehouse/gatehouse/client"
)

// gatehouse_application: something behind a reverse proxy whose access
// policy is its bindings (gatehouse_application_binding).
type applicationResource struct{ withClient }

func newApplicationResource() resource.Resource { return &applicationResource{} }

type applicationModel struct {
	ID               types.String `tfsdk:"id"`
	Slug             types.String `tfsdk:"slug"`
	Name             types.String `tfsdk:"name"`
	URL              types.String `tfsdk:"url"`
	Description      types.String `tfsdk:"description"`
	PolicyEngineMode types.String `tfsdk:"policy_engine_mode"`
	UID              types.String `tfsdk:"uid"`
}

func (r *applicationResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_application"
}

func (r *applicationResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "An application behind a reverse proxy (forward-auth). Without bindings it admits every active user; its bindings are gatehouse_application_binding resources.",
		Attributes: map[string]schema.Attribute{
			"id": idAttribute("The slug."),
			"slug": schema.StringAttribute{
				Required: true, Description: "The application's name in URLs and scoped permissions; it never changes, so changing it replaces the application.",
				Validators:    []validator.String{nameValidator{}},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"name":        schema.StringAttribute{Required: true, Description: "The name shown to people."},
			"url":         schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(""), Description: "An absolute http:// or https:// URL, without credentials."},
			"description": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(""), Description: "Free text."},
			"policy_engine_mode": schema.StringAttribute{
				Optional: true, Computed: true, Default: stringdefault.StaticString("any"),
				Description: "`any` (default): admitted when any binding passes; `all`: only when every one does.",
				Validators:  []validator.String{stringvalidator.OneOf("any", "all")},
			},
			"uid": schema.StringAttribute{
				Computed: true, Description: "The application's unique identifier.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
		},
	}
}

var applicationFields = []string{"slug", "name", "url", "description", "policy_engine_mode"}

func (m applicationModel) input() client.ApplicationInput {
	return client.ApplicationInput{Slug: m.Slug.ValueString(), Name: strPtr(m.Name), URL: strPtr(m.URL),
		Description: strPtr(m.Description), PolicyEngineMode: strPtr(m.PolicyEngineMode)}
}

func applicationState(a client.Application, m *applicationModel) {
	m.ID, m.Slug, m.Name, m.URL = types.StringValue(a.Slug), types.StringValue(a.Slug), types.StringValue(a.Name), types.StringValue(a.URL)
	m.Description, m.PolicyEngineMode, m.UID = types.StringValue(a.Description), types.StringValue(a.PolicyEngineMode), types.StringValue(a.UID)
}

func (r *applicationResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan applicationModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	a, err := r.c.Applications.Create(ctx, plan.input())
	if err != nil {
		apiError(&resp.Diagnostics, fmt.Sprintf("Cannot create application %q", plan.Slug.ValueString()), err, applicationFields...)
		return
	}
	applicationState(a, &plan)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *applicationResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var st applicationModel
	resp.Diagnostics.Append(req.State.Get(ctx, &st)...)
	if resp.Diagnostics.HasError() {
		return
	}
	a, err := r.c.Applications.Get(ctx, st.Slug.ValueString())
	if isNotFound(err) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError(fmt.Sprintf("Cannot read application %q", st.Slug.ValueString()), err.Error())
		return
	}
	applicationState(a, &st)
	resp.Diagnostics.Append(resp.State.Set(ctx, &st)...)
}

func (r *applicationResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan applicationModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	a, err := r.c.Applications.Update(ctx, plan.Slug.ValueString(), plan.input())
	if err != nil {
		apiError(&resp.Diagnostics, fmt.Sprintf("Cannot update application %q", plan.Slug.ValueString()), err, applicationFields...)
		return
	}
	applicationState(a, &plan)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *applicationResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var st applicationModel
	resp.Diagnostics.Append(req.State.Get(ctx, &st)...)
	deleteIgnoringGone(&resp.Diagnostics, fmt.Sprintf("Cannot delete application %q", st.Slug.ValueString()), r.c.Applications.Delete(ctx, st.Slug.ValueString()))
}

func (r *applicationResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importByName(ctx, req, resp, "slug")
}
