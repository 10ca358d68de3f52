package tfprovider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"

	"github.com/gatehouse/gatehouse/client"
)

// typeName is embedded by every resource: its type's name, without the
// provider's prefix ("group" for gatehouse_group).
type typeName string

func (n typeName) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_" + string(n)
}

// idAttribute is the "id" every resource has: the identifier `terraform
// import` takes.
func idAttribute(what string) schema.StringAttribute {
	return schema.StringAttribute{
		Computed:      true,
		Description:   what + " The identifier that import takes.",
		PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
	}
}

// uidAttribute is "uid": the server's identifier of the object, which
// never changes.
func uidAttribute(description string) schema.StringAttribute {
	return schema.StringAttribute{
		Computed: true, Description: description,
		PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
	}
}

// nameAttribute is the name an object is addressed by: required, a valid
// name, and replacing the object when it changes.
func nameAttribute(description string) schema.StringAttribute {
	return schema.StringAttribute{
		Required: true, Description: description,
		Validators:    []validator.String{nameValidator{}},
		PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
	}
}

// optionalString is an optional string that is "" when left out.
func optionalString(description string) schema.StringAttribute {
	return schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(""), Description: description}
}

// importByName imports an object addressed by its name: Read fills in
// the rest, and refuses what Terraform may not manage.
func importByName(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse, attr string) {
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root(attr), req.ID)...)
}

// importSubject imports an object addressed by PARENT/user/USERNAME or
// PARENT/group/GROUP (format, as the error shows it): parent, and
// username or group.
func importSubject(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse, parent, format string) {
	parts := splitID(req.ID, 3, format, &resp.Diagnostics)
	if parts == nil {
		return
	}
	attr := map[string]string{"user": "username", "group": "group"}[parts[1]]
	if attr == "" {
		resp.Diagnostics.AddError("Invalid import identifier", fmt.Sprintf("%q: expected %s", req.ID, format))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root(parent), parts[0])...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root(attr), parts[2])...)
}

// named is what a resource addressed by one name (a slug, a username)
// does with the API. namedResource turns it into Terraform's Create,
// Read, Update, Delete and ImportState; M is the resource's model, T the
// API's object.
type named[M, T any] struct {
	what    string // the kind of object, in messages: "LDAP provider"
	nameKey string // the attribute holding the name, which import sets
	name    func(M) string
	create  func(ctx context.Context, c *client.Client, m M) (T, error)
	get     func(ctx context.Context, c *client.Client, name string) (T, error)
	update  func(ctx context.Context, c *client.Client, m M) (T, error)
	remove  func(ctx context.Context, c *client.Client, name string) error
	// state fills the model from the server's object.
	state func(T, *M)
	// createFields and updateFields are the attributes an API field
	// error of a create or an update is reported on.
	createFields, updateFields []string
	// refuse, if set, reports an object read that Terraform may not
	// manage (a built-in one).
	refuse func(T, *diag.Diagnostics)
}

// namedResource is a resource.Resource but for its Metadata and Schema,
// which the resource type embedding it adds.
type namedResource[M, T any] struct {
	withClient
	api named[M, T]
}

func (r *namedResource[M, T]) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	writePlan(ctx, req.Plan, &resp.State, &resp.Diagnostics, func(m *M) bool {
		obj, err := r.api.create(ctx, r.c, *m)
		if err != nil {
			apiError(&resp.Diagnostics, fmt.Sprintf("Cannot create %s %q", r.api.what, r.api.name(*m)), err, r.api.createFields...)
			return false
		}
		r.api.state(obj, m)
		return true
	})
}

func (r *namedResource[M, T]) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	refresh(ctx, req, resp, func(m *M) bool {
		name := r.api.name(*m)
		obj, err := r.api.get(ctx, r.c, name)
		if err != nil {
			return found(err, &resp.Diagnostics, fmt.Sprintf("Cannot read %s %q", r.api.what, name))
		}
		if r.api.refuse != nil {
			if r.api.refuse(obj, &resp.Diagnostics); resp.Diagnostics.HasError() {
				return true
			}
		}
		r.api.state(obj, m)
		return true
	})
}

func (r *namedResource[M, T]) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	writePlan(ctx, req.Plan, &resp.State, &resp.Diagnostics, func(m *M) bool {
		obj, err := r.api.update(ctx, r.c, *m)
		if err != nil {
			apiError(&resp.Diagnostics, fmt.Sprintf("Cannot update %s %q", r.api.what, r.api.name(*m)), err, r.api.updateFields...)
			return false
		}
		r.api.state(obj, m)
		return true
	})
}

func (r *namedResource[M, T]) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	deleteState(ctx, req, resp, func(m M) (string, error) {
		name := r.api.name(m)
		return fmt.Sprintf("Cannot delete %s %q", r.api.what, name), r.api.remove(ctx, r.c, name)
	})
}

func (r *namedResource[M, T]) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importByName(ctx, req, resp, r.api.nameKey)
}

// writePlan is the shape of a Create or an Update: it reads the plan
// into a model, lets write send it and fill in what the server says, and
// keeps the model as the new state when write says so.
func writePlan[M any](ctx context.Context, plan tfsdk.Plan, state *tfsdk.State, diags *diag.Diagnostics, write func(m *M) bool) {
	var m M
	diags.Append(plan.Get(ctx, &m)...)
	if diags.HasError() {
		return
	}
	if write(&m) {
		diags.Append(state.Set(ctx, &m)...)
	}
}

// refresh is the shape of a Read: it reads the state into a model and
// lets read fill it from the server. An object read reports gone (false)
// is removed from the state; one that failed keeps its old state.
func refresh[M any](ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse, read func(m *M) bool) {
	var m M
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if !read(&m) {
		resp.State.RemoveResource(ctx)
		return
	}
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// found is what a read function of refresh returns when its Get failed
// with err: false (gone) on a 404; otherwise true, with the error
// reported under summary.
func found(err error, diags *diag.Diagnostics, summary string) bool {
	if isNotFound(err) {
		return false
	}
	if err != nil {
		diags.AddError(summary, err.Error())
	}
	return true
}

// deleteState is the shape of a Delete: it reads the state into a model
// and lets del delete the object; an object already gone is what was
// wanted.
func deleteState[M any](ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse, del func(m M) (summary string, err error)) {
	var m M
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	summary, err := del(m)
	deleteIgnoringGone(&resp.Diagnostics, summary, err)
}

// deleteIgnoringGone reports a failed delete; an object already gone is
// what was wanted.
func deleteIgnoringGone(diags *diag.Diagnostics, summary string, err error) {
	if err != nil && !isNotFound(err) {
		apiError(diags, summary, err)
	}
}
