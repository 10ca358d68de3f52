package tfprovider

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/resourcevalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"

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

// nameAttribute is a name that is part of what an object is (the name
// it is addressed by, the role of an assignment): required, a valid
// name, and replacing the object when it changes.
func nameAttribute(description string) schema.StringAttribute {
	return schema.StringAttribute{
		Required: true, Description: description,
		Validators:    []validator.String{validName},
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

// collection is the API of a kind of object addressed by one name, as
// the client's services (c.Groups, c.Roles, ...) have it: C is what
// creates one, U what changes one, T the object.
type collection[C, U, T any] interface {
	Create(ctx context.Context, in C) (T, error)
	Get(ctx context.Context, name string) (T, error)
	Update(ctx context.Context, name string, in U) (T, error)
	Delete(ctx context.Context, name string) error
}

// named is a resource addressed by one name (a slug, a username): its
// schema, and what its Create, Read, Update, Delete and ImportState do
// with the API's collection of such objects. M is the resource's model;
// C, U and T are the collection's.
type named[M, C, U, T any] struct {
	withClient
	typeName
	schema  schema.Schema
	what    string // the kind of object, in messages: "LDAP provider"
	nameKey string // the attribute holding the name, which import sets
	name    func(M) string
	api     func(*client.Client) collection[C, U, T]
	// create and update are the requests that make the server's object
	// what the plan says (update's given the prior state, to send only
	// what changed where the API wants that).
	create func(ctx context.Context, plan M, diags *diag.Diagnostics) C
	update func(ctx context.Context, plan, prior M, diags *diag.Diagnostics) U
	// state fills the model from the server's object.
	state func(T, *M)
	// createFields and updateFields are the attributes an API field
	// error of a create or an update is reported on.
	createFields, updateFields []string
	// refuse, if set, reports an object read that Terraform may not
	// manage (a built-in one).
	refuse func(T, *diag.Diagnostics)
}

// sameInput sets the create and update of r, a kind whose API takes
// one input, which input makes from the plan, for both.
func sameInput[M, I, T any](input func(M) I, r *named[M, I, I, T]) *named[M, I, I, T] {
	r.create = func(_ context.Context, m M, _ *diag.Diagnostics) I { return input(m) }
	r.update = func(_ context.Context, m, _ M, _ *diag.Diagnostics) I { return input(m) }
	return r
}

func (r *named[M, C, U, T]) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = r.schema
}

func (r *named[M, C, U, T]) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	writePlan(ctx, req.Plan, &resp.State, &resp.Diagnostics, func(m *M) bool {
		in := r.create(ctx, *m, &resp.Diagnostics)
		return r.save(m, &resp.Diagnostics, "create", r.createFields, func() (T, error) { return r.api(r.c).Create(ctx, in) })
	})
}

func (r *named[M, C, U, T]) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	refresh(ctx, req, resp, func(m *M) bool {
		name := r.name(*m)
		obj, err := r.api(r.c).Get(ctx, name)
		if err != nil {
			return found(err, &resp.Diagnostics, fmt.Sprintf("Cannot read %s %q", r.what, name))
		}
		if r.refuse != nil {
			if r.refuse(obj, &resp.Diagnostics); resp.Diagnostics.HasError() {
				return true
			}
		}
		r.state(obj, m)
		return true
	})
}

func (r *named[M, C, U, T]) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var prior M
	resp.Diagnostics.Append(req.State.Get(ctx, &prior)...)
	writePlan(ctx, req.Plan, &resp.State, &resp.Diagnostics, func(m *M) bool {
		in := r.update(ctx, *m, prior, &resp.Diagnostics)
		return r.save(m, &resp.Diagnostics, "update", r.updateFields, func() (T, error) { return r.api(r.c).Update(ctx, r.name(*m), in) })
	})
}

// save sends the request that call makes, unless reading the plan into
// it failed, and fills m from the server's answer; a refusal is
// reported on fields.
func (r *named[M, C, U, T]) save(m *M, diags *diag.Diagnostics, verb string, fields []string, call func() (T, error)) bool {
	if diags.HasError() {
		return false
	}
	obj, err := call()
	if err != nil {
		apiError(diags, fmt.Sprintf("Cannot %s %s %q", verb, r.what, r.name(*m)), err, fields...)
		return false
	}
	r.state(obj, m)
	return true
}

func (r *named[M, C, U, T]) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	deleteState(ctx, req, resp, func(m M) (string, error) {
		name := r.name(m)
		return fmt.Sprintf("Cannot delete %s %q", r.what, name), r.api(r.c).Delete(ctx, name)
	})
}

func (r *named[M, C, U, T]) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importByName(ctx, req, resp, r.nameKey)
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

// subject is whom a role assignment or an application binding is for:
// a user or service account (username) or a group, exactly one. Models
// embed it.
type subject struct {
	Username types.String `tfsdk:"username"`
	Group    types.String `tfsdk:"group"`
}

// of is the subject as the API's path names it (kind: users or groups)
// and as the import identifier does (idKind: user or group).
func (s subject) of() (kind, idKind, name string) {
	if !s.Group.IsNull() {
		return client.SubjectGroups, "group", s.Group.ValueString()
	}
	return client.SubjectUsers, "user", s.Username.ValueString()
}

// subjectResource is what a resource for a subject shares: its
// attributes, the rule that exactly one is given, and its import by
// PARENT/user/USERNAME or PARENT/group/GROUP.
type subjectResource struct {
	withClient
	typeName
	parent string // the attribute of what the subject is given: "role"
}

// format is the import identifier's, as errors show it.
func (r subjectResource) format() string {
	p := strings.ToUpper(r.parent)
	return p + "/user/USERNAME or " + p + "/group/GROUP"
}

// attributes are username and group, with the others (its parent's
// among them) of a resource for a subject, each of which (but order
// and negate) replaces it.
func (r subjectResource) attributes(others map[string]schema.Attribute) map[string]schema.Attribute {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	names := []validator.String{validName}
	attrs := map[string]schema.Attribute{
		"id":       idAttribute("`" + strings.ReplaceAll(r.format(), " or ", "` or `") + "`."),
		"username": schema.StringAttribute{Optional: true, Description: "The user or service account; exactly one of username and group.", Validators: names, PlanModifiers: replace},
		"group":    schema.StringAttribute{Optional: true, Description: "The group; exactly one of username and group.", Validators: names, PlanModifiers: replace},
	}
	for k, a := range others {
		attrs[k] = a
	}
	return attrs
}

func (r *subjectResource) ConfigValidators(context.Context) []resource.ConfigValidator {
	return []resource.ConfigValidator{resourcevalidator.ExactlyOneOf(path.MatchRoot("username"), path.MatchRoot("group"))}
}

// ImportState imports PARENT/user/USERNAME or PARENT/group/GROUP.
func (r *subjectResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	format := r.format()
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
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root(r.parent), parts[0])...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root(attr), parts[2])...)
}
