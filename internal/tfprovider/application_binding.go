package tfprovider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/gatehouse/gatehouse/client"
)

// gatehouse_application_binding: one entry of an application's access
// policy.
type applicationBindingResource struct{ subjectResource }

func newApplicationBindingResource() resource.Resource {
	return &applicationBindingResource{subjectResource{typeName: "application_binding", parent: "application"}}
}

type applicationBindingModel struct {
	ID          types.String `tfsdk:"id"`
	Application types.String `tfsdk:"application"`
	subject
	Order  types.Int64 `tfsdk:"order"`
	Negate types.Bool  `tfsdk:"negate"`
}

func (r *applicationBindingResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "A binding of a user or service account (`username`) or a group (`group`) to an application: with bindings, an application admits only whom they pass. Import with `APPLICATION/user/USERNAME` or `APPLICATION/group/GROUP`.",
		Attributes: r.attributes(map[string]schema.Attribute{
			"application": nameAttribute("The application's slug."),
			"order":       schema.Int64Attribute{Optional: true, Computed: true, Default: int64default.StaticInt64(0), Description: "Bindings are evaluated by order (then kind, then name)."},
			"negate":      schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(false), Description: "true: passes when the caller is not that user, or not in that group."},
		}),
	}
}

// put creates or replaces the binding (PUT), so order and negate change
// in place.
func (r *applicationBindingResource) put(ctx context.Context, m *applicationBindingModel, diags *diag.Diagnostics) bool {
	kind, bk, name := m.of()
	order, negate := int(m.Order.ValueInt64()), m.Negate.ValueBool()
	b, err := r.c.Applications.Bind(ctx, m.Application.ValueString(), kind, name, client.BindingInput{Order: &order, Negate: &negate})
	if err != nil {
		apiError(diags, fmt.Sprintf("Cannot bind %s %q to application %q", bk, name, m.Application.ValueString()), err,
			"application", "username", "group", "order", "negate")
		return false
	}
	m.ID = types.StringValue(m.Application.ValueString() + "/" + bk + "/" + name)
	m.Order, m.Negate = types.Int64Value(int64(b.Order)), types.BoolValue(b.Negate)
	return true
}

func (r *applicationBindingResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	writePlan(ctx, req.Plan, &resp.State, &resp.Diagnostics, func(m *applicationBindingModel) bool { return r.put(ctx, m, &resp.Diagnostics) })
}

func (r *applicationBindingResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	writePlan(ctx, req.Plan, &resp.State, &resp.Diagnostics, func(m *applicationBindingModel) bool { return r.put(ctx, m, &resp.Diagnostics) })
}

func (r *applicationBindingResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	refresh(ctx, req, resp, func(st *applicationBindingModel) bool {
		a, err := r.c.Applications.Get(ctx, st.Application.ValueString())
		if err != nil {
			return found(err, &resp.Diagnostics, fmt.Sprintf("Cannot read application %q", st.Application.ValueString()))
		}
		_, bk, name := st.of()
		for _, b := range a.Bindings {
			if b.Kind == bk && b.Name == name {
				st.ID = types.StringValue(st.Application.ValueString() + "/" + bk + "/" + name)
				st.Order, st.Negate = types.Int64Value(int64(b.Order)), types.BoolValue(b.Negate)
				return true
			}
		}
		return false
	})
}

func (r *applicationBindingResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	deleteState(ctx, req, resp, func(st applicationBindingModel) (string, error) {
		kind, bk, name := st.of()
		return fmt.Sprintf("Cannot unbind %s %q from application %q", bk, name, st.Application.ValueString()),
			r.c.Applications.Unbind(ctx, st.Application.ValueString(), kind, name)
	})
}
