package tfprovider

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/setplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/gatehouse/gatehouse/client"
)

// gatehouse_token: an API token or app password. Its key is known to
// the server only as a hash, so the provider keeps the one the server
// shows at creation (and at each rotation) in the state: the only place
// Terraform can take it from for the outputs and secrets stores that
// hand it to a pipeline.
//
// The narrowing arguments of least-privilege tokens (permissions,
// allowed_cidrs, applications, ldap_providers) are sent by Create and
// read back by tokenState; each replaces the token when changed, since
// the server fixes a key's reach for its life.
type tokenResource struct {
	withClient
	typeName
}

func newTokenResource() resource.Resource { return &tokenResource{typeName: "token"} }

type tokenModel struct {
	ID             types.String `tfsdk:"id"`
	Identifier     types.String `tfsdk:"identifier"`
	User           types.String `tfsdk:"user"`
	Intent         types.String `tfsdk:"intent"`
	Description    types.String `tfsdk:"description"`
	Expiring       types.Bool   `tfsdk:"expiring"`
	ExpiresAt      types.String `tfsdk:"expires_at"`
	TTL            types.String `tfsdk:"ttl"`
	Extended       types.Bool   `tfsdk:"extended"`
	MaxAge         types.String `tfsdk:"max_age"`
	RotateTriggers types.Map    `tfsdk:"rotate_triggers"`
	RotationGrace  types.String `tfsdk:"rotation_grace"`
	Key            types.String `tfsdk:"key"`
	// Least privilege. Permissions null is all of the owner's, empty is
	// none (a key that only proves identity); the other sets, null or
	// empty, restrict nothing.
	Permissions   types.Set `tfsdk:"permissions"`
	AllowedCIDRs  types.Set `tfsdk:"allowed_cidrs"`
	Applications  types.Set `tfsdk:"applications"`
	LDAPProviders types.Set `tfsdk:"ldap_providers"`
}

// identifierRule is the server's rule for token identifiers.
var identifierRule = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]{0,126}[A-Za-z0-9])?$`)

func (r *tokenResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	keep := []planmodifier.String{stringplanmodifier.UseStateForUnknown(), stringplanmodifier.RequiresReplace()}
	resp.Schema = schema.Schema{
		Description: "An API token or app password of a user or service account. Its `key` is kept in the Terraform state (see the docs on protecting state); change `rotate_triggers` to rotate it. Import with the token's identifier (the key cannot be imported).",
		Attributes: map[string]schema.Attribute{
			"id": idAttribute("The identifier."),
			"identifier": schema.StringAttribute{
				Optional: true, Computed: true, PlanModifiers: keep,
				Description: "The token's name (1-128 characters of A-Z, a-z, 0-9, '.', '_', '-'); generated when left out. Changing it replaces the token.",
				Validators:  []validator.String{stringvalidator.RegexMatches(identifierRule, "must be 1-128 characters of A-Z, a-z, 0-9, '.', '_' and '-', starting and ending with a letter or digit")},
			},
			"user": schema.StringAttribute{
				Optional: true, Computed: true, PlanModifiers: keep,
				Description: "The owner: a user or service account (default: the provider's own account). Changing it replaces the token.",
				Validators:  []validator.String{validName},
			},
			"intent": schema.StringAttribute{
				Optional: true, Computed: true, Default: stringdefault.StaticString(client.IntentAPI),
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
				Description:   "`api` (default): a Bearer token for the API; `app_password`: for LDAP binds and forward-auth Basic. Changing it replaces the token.",
				Validators:    []validator.String{stringvalidator.OneOf(client.IntentAPI, client.IntentAppPassword)},
			},
			"description": optionalString("What the token is for."),
			"expiring": schema.BoolAttribute{
				Optional: true, Computed: true, Default: booldefault.StaticBool(true),
				Description: "false: the token never expires (then give neither expires_at, ttl nor extended).",
			},
			"expires_at": schema.StringAttribute{
				Optional: true, Computed: true,
				Description: "When the token expires (RFC 3339). Give it, or ttl, or neither (the server's default: 30 days); computed otherwise.",
				Validators:  []validator.String{validRFC3339},
			},
			"ttl": schema.StringAttribute{
				Optional:    true,
				Description: "The token's lifetime from its creation (or rotation), a Go duration such as 720h (no day unit). A change outside Terraform of the expiry of a token with a ttl shows as a change of ttl, which applies it again from now.",
				Validators:  []validator.String{validDuration(time.Nanosecond, "positive", maxLifetime)},
			},
			"extended": schema.BoolAttribute{
				Optional: true, Computed: true, Default: booldefault.StaticBool(false),
				Description: "true: each use moves the expiry to last use + max_age.",
			},
			"max_age": schema.StringAttribute{
				Optional:    true,
				Description: "The idle lifetime of an extended token (required with extended), a Go duration such as 720h.",
				Validators:  []validator.String{validDuration(time.Second, "at least 1s", maxLifetime)},
			},
			"rotate_triggers": schema.MapAttribute{
				ElementType: types.StringType, Optional: true,
				Description: "Arbitrary values; any change rotates the token in place (POST /tokens/{identifier}/rotate): a new key goes into the state, the old one works for rotation_grace more. For example `{ month = formatdate(\"YYYY-MM\", plantimestamp()) }`, or a value from time_rotating.",
			},
			"rotation_grace": schema.StringAttribute{
				Optional: true, Computed: true, Default: stringdefault.StaticString("0s"),
				Description: "How long the old key keeps working after a rotation (default 0s, at most 720h), so that its users can switch.",
				Validators:  []validator.String{validDuration(0, "not negative", 720*time.Hour)},
			},
			"permissions":    restriction(validPermissions, setplanmodifier.RequiresReplace(), "Least privilege: the token's own permissions, of the catalogue (data source gatehouse_permissions), `name` or `name@kind/object`. Left out, the token may do all its owner may; given, only what is both in this set and held by the owner at each use; an empty set makes a key that proves identity and can do nothing else. Each must be held by the owner when the token is made. Changing it replaces the token."),
			"allowed_cidrs":  restriction(validNetworks, replaceIfOtherEntries(canonicalNetwork), "Least privilege: the networks the key may be used from (IPv4 or IPv6 CIDR such as 10.20.0.0/16, or one address); a use from elsewhere is refused like a bad key. Left out or empty: anywhere. Changing it replaces the token."),
			"applications":   restriction(validNames, replaceIfOtherEntries(nil), "Least privilege: the slugs of the applications the credential opens at forward-auth (their bindings still apply). Left out or empty: any. Changing it replaces the token."),
			"ldap_providers": restriction(validNames, replaceIfOtherEntries(nil), "Least privilege: the names of the LDAP providers the credential binds at. Left out or empty: any. Changing it replaces the token."),
			"key": schema.StringAttribute{
				Computed: true, Sensitive: true,
				Description:   "The secret key, set at creation and at each rotation, and kept in the state: protect the state (an encrypted remote backend; OpenTofu's state encryption). Empty after an import: rotate to get one.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
		},
	}
}

var tokenFields = []string{"identifier", "user", "intent", "description", "expiring", "expires_at", "ttl", "extended", "max_age",
	"permissions", "allowed_cidrs", "applications", "ldap_providers"}

// maxRestrictionEntries is the server's bound on each least-privilege set.
const maxRestrictionEntries = 64

// restriction is an optional least-privilege set (of a token, or of the
// tokens a trust policy mints) whose entries valid checks; replace, if
// any, says when a change replaces the object.
func restriction(valid check, replace planmodifier.Set, description string) schema.SetAttribute {
	a := schema.SetAttribute{ElementType: types.StringType, Optional: true, Description: description,
		Validators: []validator.Set{valid, setvalidator.SizeAtMost(maxRestrictionEntries)}}
	if replace != nil {
		a.PlanModifiers = []planmodifier.Set{replace}
	}
	return a
}

// sameEntries says whether two sets name the same entries once spelled
// as the server does (canon; nil: as written). Null and empty are the
// same: no restriction. Unknown is the same only as unknown.
func sameEntries(a, b types.Set, canon func(string) string) bool {
	if a.IsUnknown() || b.IsUnknown() {
		return a.IsUnknown() && b.IsUnknown()
	}
	entries := func(s types.Set) map[string]bool {
		out := map[string]bool{}
		for _, e := range s.Elements() {
			v, ok := e.(types.String)
			if !ok || v.IsUnknown() {
				out["\x00unknown"] = true // never the same as a known set
				continue
			}
			k := v.ValueString()
			if canon != nil {
				k = canon(k)
			}
			out[k] = true
		}
		return out
	}
	ea, eb := entries(a), entries(b)
	if len(ea) != len(eb) {
		return false
	}
	for k := range ea {
		if !eb[k] {
			return false
		}
	}
	return true
}

// replaceIfOtherEntries replaces the token when a restricting set names
// other entries: not when it is only spelled otherwise (10.0.0.1 for
// 10.0.0.1/32), nor between left out and empty, which mean the same.
func replaceIfOtherEntries(canon func(string) string) planmodifier.Set {
	return setplanmodifier.RequiresReplaceIf(func(_ context.Context, req planmodifier.SetRequest, resp *setplanmodifier.RequiresReplaceIfFuncResponse) {
		resp.RequiresReplace = !sameEntries(req.StateValue, req.PlanValue, canon)
	}, "Naming other entries replaces the token.", "Naming other entries replaces the token.")
}

// restrictionSet is the state of a restricting set the server answered
// with: the prior value (configuration or state) when it names the same
// entries, so that its spelling stays; else the server's, null for none.
func restrictionSet(prior types.Set, server []string, canon func(string) string) types.Set {
	got := types.SetNull(types.StringType)
	if len(server) > 0 {
		got = stringSet(server)
	}
	if !prior.IsUnknown() && sameEntries(prior, got, canon) {
		return prior
	}
	return got
}

// ValidateConfig refuses the combinations the server would, on the
// attribute, at plan time.
func (r *tokenResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var m tokenModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	set := func(v interface{ IsNull() bool }) bool { return !v.IsNull() }
	if set(m.TTL) && set(m.ExpiresAt) {
		resp.Diagnostics.AddAttributeError(path.Root("ttl"), "Invalid ttl", "give expires_at or ttl, not both")
	}
	if !m.Expiring.IsNull() && !m.Expiring.IsUnknown() && !m.Expiring.ValueBool() &&
		(set(m.TTL) || set(m.ExpiresAt) || m.Extended.ValueBool()) {
		resp.Diagnostics.AddAttributeError(path.Root("expiring"), "Invalid expiring", "expiring = false cannot be combined with expires_at, ttl or extended")
	}
	if m.Extended.ValueBool() {
		if !set(m.MaxAge) {
			resp.Diagnostics.AddAttributeError(path.Root("max_age"), "Missing max_age", "max_age is required when extended is true")
		}
		if set(m.TTL) || set(m.ExpiresAt) {
			resp.Diagnostics.AddAttributeError(path.Root("extended"), "Invalid extended", "an extended token's expiry follows its use: give max_age, not expires_at or ttl")
		}
	} else if set(m.MaxAge) && !m.Extended.IsUnknown() {
		resp.Diagnostics.AddAttributeError(path.Root("max_age"), "Invalid max_age", "max_age is only allowed with extended = true")
	}
}

// lifeChanged says whether the plan changes the token's expiry rules.
func lifeChanged(cfg, plan, st tokenModel) bool {
	return !plan.Expiring.Equal(st.Expiring) || !plan.Extended.Equal(st.Extended) || !plan.TTL.Equal(st.TTL) ||
		!sameDuration(plan.MaxAge, st.MaxAge) || (!cfg.ExpiresAt.IsNull() && !sameInstant(cfg.ExpiresAt, st.ExpiresAt))
}

// tokenModels reads the configuration, the plan and the state of a plan
// or an update.
func tokenModels(ctx context.Context, config tfsdk.Config, plan tfsdk.Plan, state tfsdk.State, diags *diag.Diagnostics) (cfg, pl, st tokenModel) {
	diags.Append(config.Get(ctx, &cfg)...)
	diags.Append(plan.Get(ctx, &pl)...)
	diags.Append(state.Get(ctx, &st)...)
	return cfg, pl, st
}

// ModifyPlan says which computed values an update changes: the key only
// with a rotation, the expiry with a rotation, a change of its rules, or
// the use of an extended token (whose expiry moves as it is used).
func (r *tokenResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.State.Raw.IsNull() || req.Plan.Raw.IsNull() {
		return // create or destroy
	}
	cfg, plan, st := tokenModels(ctx, req.Config, req.Plan, req.State, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	rotate := !plan.RotateTriggers.Equal(st.RotateTriggers)
	if rotate {
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("key"), types.StringUnknown())...)
	}
	if cfg.ExpiresAt.IsNull() {
		exp := st.ExpiresAt
		if rotate || lifeChanged(cfg, plan, st) || (st.Extended.ValueBool() && !plan.Equal(st)) {
			exp = types.StringUnknown()
		}
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("expires_at"), exp)...)
	}
}

// Equal says whether an update would change anything but the computed
// values (for an extended token, whose expiry moves on any write).
func (m tokenModel) Equal(o tokenModel) bool {
	return m.Description.Equal(o.Description) && m.Expiring.Equal(o.Expiring) && m.TTL.Equal(o.TTL) && m.Extended.Equal(o.Extended) &&
		sameDuration(m.MaxAge, o.MaxAge) && m.RotateTriggers.Equal(o.RotateTriggers) && m.RotationGrace.Equal(o.RotationGrace)
}

func (r *tokenResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	writePlan(ctx, req.Plan, &resp.State, &resp.Diagnostics, func(plan *tokenModel) bool { return r.create(ctx, plan, &resp.Diagnostics) })
}

func (r *tokenResource) create(ctx context.Context, plan *tokenModel, diags *diag.Diagnostics) bool {
	in := client.TokenCreate{
		Identifier: plan.Identifier.ValueString(), User: plan.User.ValueString(), Intent: plan.Intent.ValueString(),
		Description: plan.Description.ValueString(), ExpiresAt: plan.ExpiresAt.ValueString(), TTL: plan.TTL.ValueString(),
		Extended: plan.Extended.ValueBool(), MaxAge: plan.MaxAge.ValueString(),
	}
	if !plan.Expiring.ValueBool() {
		in.Expiring = plan.Expiring.ValueBoolPointer()
	}
	// Null permissions: all of the owner's (left out of the request);
	// an empty set: none (sent as []).
	if !plan.Permissions.IsNull() {
		perms := setStrings(ctx, plan.Permissions, diags)
		if perms == nil {
			perms = []string{}
		}
		in.Permissions = &perms
	}
	in.AllowedCIDRs = setStrings(ctx, plan.AllowedCIDRs, diags)
	in.Applications = setStrings(ctx, plan.Applications, diags)
	in.LDAPProviders = setStrings(ctx, plan.LDAPProviders, diags)
	if diags.HasError() {
		return false
	}
	t, err := r.c.Tokens.Create(ctx, in)
	if err != nil {
		sent := map[string][]string{"allowed_cidrs": in.AllowedCIDRs, "applications": in.Applications, "ldap_providers": in.LDAPProviders}
		if in.Permissions != nil {
			sent["permissions"] = *in.Permissions
		}
		apiErrorSent(diags, "Cannot create token", err, sent, tokenFields...)
		return false
	}
	plan.Key = types.StringValue(t.Key)
	tokenState(t, plan)
	return true
}

// tokenState fills m from the server's view of the token. Values the
// configuration spells differently from the server (a time zone, 720h
// for 720h0m0s) are kept as configured when they mean the same.
func tokenState(t client.Token, m *tokenModel) {
	m.ID, m.Identifier, m.User, m.Intent = types.StringValue(t.Identifier), types.StringValue(t.Identifier), types.StringValue(t.User), types.StringValue(t.Intent)
	m.Description, m.Expiring, m.Extended = types.StringValue(t.Description), types.BoolValue(t.Expiring), types.BoolValue(t.Extended)
	exp := types.StringNull()
	if t.ExpiresAt != nil {
		exp = types.StringValue(t.ExpiresAt.UTC().Format(time.RFC3339Nano))
	}
	if !sameInstant(m.ExpiresAt, exp) {
		// The expiry moved without Terraform: a token held to a ttl
		// shows it as a change of ttl, so the plan says so (and applying
		// gives it its ttl again from now). An extended token's expiry
		// moves with use, which is no change.
		if !m.ExpiresAt.IsNull() && !m.ExpiresAt.IsUnknown() && !m.TTL.IsNull() && !t.Extended {
			m.TTL = types.StringNull()
		}
		m.ExpiresAt = exp
	}
	maxAge := types.StringNull()
	if t.MaxAge != nil {
		maxAge = types.StringValue(*t.MaxAge)
	}
	if !sameDuration(m.MaxAge, maxAge) {
		m.MaxAge = maxAge
	}
	// Least privilege, fixed for the token's life: a difference is a
	// change made by replacing the token outside Terraform, which the
	// next plan undoes by replacing it again.
	if t.Permissions == nil {
		m.Permissions = types.SetNull(types.StringType)
	} else if perms := stringSet(*t.Permissions); m.Permissions.IsNull() || m.Permissions.IsUnknown() || !sameEntries(m.Permissions, perms, nil) {
		m.Permissions = perms
	}
	m.AllowedCIDRs = restrictionSet(m.AllowedCIDRs, t.AllowedCIDRs, canonicalNetwork)
	m.Applications = restrictionSet(m.Applications, t.Applications, nil)
	m.LDAPProviders = restrictionSet(m.LDAPProviders, t.LDAPProviders, nil)
	if m.RotationGrace.IsNull() || m.RotationGrace.IsUnknown() {
		m.RotationGrace = types.StringValue("0s") // after an import
	}
	if m.Key.IsUnknown() {
		m.Key = types.StringNull()
	}
}

func sameInstant(a, b types.String) bool {
	if a.IsNull() || b.IsNull() || a.IsUnknown() || b.IsUnknown() {
		return a.Equal(b)
	}
	ta, errA := time.Parse(time.RFC3339Nano, a.ValueString())
	tb, errB := time.Parse(time.RFC3339Nano, b.ValueString())
	return errA == nil && errB == nil && ta.Equal(tb)
}

func sameDuration(a, b types.String) bool {
	if a.IsNull() || b.IsNull() || a.IsUnknown() || b.IsUnknown() {
		return a.Equal(b)
	}
	da, errA := time.ParseDuration(a.ValueString())
	db, errB := time.ParseDuration(b.ValueString())
	return errA == nil && errB == nil && da == db
}

func (r *tokenResource) get(ctx context.Context, id string, diags *diag.Diagnostics) (client.Token, bool) {
	t, err := r.c.Tokens.Get(ctx, id)
	if err != nil {
		return t, found(err, diags, fmt.Sprintf("Cannot read token %q", id))
	}
	if t.Managed {
		diags.AddAttributeError(path.Root("identifier"), "Managed token",
			fmt.Sprintf("token %q is managed by gatehouse (an outpost's): it cannot be managed with Terraform. Manage the outpost instead.", id))
	}
	return t, true
}

func (r *tokenResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	refresh(ctx, req, resp, func(st *tokenModel) bool {
		t, there := r.get(ctx, st.Identifier.ValueString(), &resp.Diagnostics)
		if there && !resp.Diagnostics.HasError() {
			tokenState(t, st)
		}
		return there
	})
}

func (r *tokenResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	cfg, plan, st := tokenModels(ctx, req.Config, req.Plan, req.State, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	id := st.Identifier.ValueString()
	life := lifeChanged(cfg, plan, st)
	if life || !plan.Description.Equal(st.Description) {
		in := client.TokenUpdate{Description: strPtr(plan.Description)}
		if life {
			in.Expiring, in.Extended = plan.Expiring.ValueBoolPointer(), plan.Extended.ValueBoolPointer()
			in.MaxAge, in.TTL, in.ExpiresAt = strPtr(plan.MaxAge), strPtr(plan.TTL), strPtr(cfg.ExpiresAt)
		}
		if _, err := r.c.Tokens.Update(ctx, id, in); err != nil {
			apiError(&resp.Diagnostics, fmt.Sprintf("Cannot update token %q", id), err, tokenFields...)
			return
		}
	}
	plan.Key = st.Key
	if !plan.RotateTriggers.Equal(st.RotateTriggers) {
		in := client.TokenRotate{Grace: plan.RotationGrace.ValueString()}
		// Without ttl or expires_at the new key would get the old one's
		// lifetime from now; a configured expiry holds across rotations.
		if plan.Expiring.ValueBool() && !plan.Extended.ValueBool() {
			in.TTL, in.ExpiresAt = plan.TTL.ValueString(), cfg.ExpiresAt.ValueString()
		}
		t, err := r.c.Tokens.Rotate(ctx, id, in)
		if err != nil {
			// What changed before the rotation is in the server: say so
			// in the state, with the old key, which still works.
			apiError(&resp.Diagnostics, fmt.Sprintf("Cannot rotate token %q", id), err, "ttl", "expires_at", "rotation_grace")
			return
		}
		plan.Key = types.StringValue(t.Key)
	}
	t, there := r.get(ctx, id, &resp.Diagnostics)
	if !there {
		resp.Diagnostics.AddError(fmt.Sprintf("Token %q vanished during the update", id), "it was deleted by someone else; the next plan will create it again")
		return
	}
	if resp.Diagnostics.HasError() {
		return
	}
	if plan.ExpiresAt.IsUnknown() {
		plan.ExpiresAt = types.StringNull() // tokenState sets it from the server
	}
	tokenState(t, &plan)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *tokenResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	deleteState(ctx, req, resp, func(st tokenModel) (string, error) {
		id := st.Identifier.ValueString()
		return fmt.Sprintf("Cannot revoke token %q", id), r.c.Tokens.Revoke(ctx, id)
	})
}

func (r *tokenResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importByName(ctx, req, resp, "identifier")
}
