package tfprovider

import (
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/gatehouse/gatehouse/client"
)

// gatehouse_application: something behind a reverse proxy whose access
// policy is its bindings (gatehouse_application_binding).
type applicationModel struct {
	ID               types.String `tfsdk:"id"`
	Slug             types.String `tfsdk:"slug"`
	Name             types.String `tfsdk:"name"`
	URL              types.String `tfsdk:"url"`
	Description      types.String `tfsdk:"description"`
	PolicyEngineMode types.String `tfsdk:"policy_engine_mode"`
	UID              types.String `tfsdk:"uid"`
}

func newApplicationResource() resource.Resource {
	return sameInput(applicationModel.input, &named[applicationModel, client.ApplicationInput, client.ApplicationInput, client.Application]{
		typeName: "application", what: "application", nameKey: "slug", name: func(m applicationModel) string { return m.Slug.ValueString() },
		schema: schema.Schema{
			Description: "An application behind a reverse proxy (forward-auth). Without bindings it admits every active user; its bindings are gatehouse_application_binding resources.",
			Attributes: map[string]schema.Attribute{
				"id":          idAttribute("The slug."),
				"slug":        nameAttribute("The application's name in URLs and scoped permissions; it never changes, so changing it replaces the application."),
				"name":        schema.StringAttribute{Required: true, Description: "The name shown to people."},
				"url":         optionalString("An absolute http:// or https:// URL, without credentials."),
				"description": optionalString("Free text."),
				"policy_engine_mode": schema.StringAttribute{
					Optional: true, Computed: true, Default: stringdefault.StaticString("any"),
					Description: "`any` (default): admitted when any binding passes; `all`: only when every one does.",
					Validators:  []validator.String{stringvalidator.OneOf("any", "all")},
				},
				"uid": uidAttribute("The application's unique identifier."),
			},
		},
		api: func(c *client.Client) collection[client.ApplicationInput, client.ApplicationInput, client.Application] {
			return c.Applications
		},
		state: applicationState, createFields: applicationFields, updateFields: applicationFields,
	})
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
