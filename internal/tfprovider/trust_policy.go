package tfprovider

import (
	"context"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/gatehouse/gatehouse/client"
)

// gatehouse_trust_policy: which ID tokens of a gatehouse_oidc_issuer are
// exchanged for short-lived tokens of which service account. Its issuer
// is fixed at creation; the rest is PATCHed in place.
type trustPolicyModel struct {
	ID             types.String `tfsdk:"id"`
	Name           types.String `tfsdk:"name"`
	Description    types.String `tfsdk:"description"`
	Issuer         types.String `tfsdk:"issuer"`
	ServiceAccount types.String `tfsdk:"service_account"`
	Audience       types.String `tfsdk:"audience"`
	Conditions     types.Map    `tfsdk:"conditions"`
	Permissions    types.Set    `tfsdk:"permissions"`
	AllowedCIDRs   types.Set    `tfsdk:"allowed_cidrs"`
	TTL            types.String `tfsdk:"ttl"`
}

var conditionValuesType = types.SetType{ElemType: types.StringType}

var trustPolicyFields = []string{"name", "description", "issuer", "service_account", "audience", "conditions", "permissions", "allowed_cidrs", "ttl"}

func newTrustPolicyResource() resource.Resource {
	return &named[trustPolicyModel, client.TrustPolicyCreate, client.TrustPolicyUpdate, client.TrustPolicy]{
		typeName: "trust_policy", what: "trust policy", nameKey: "name", name: func(m trustPolicyModel) string { return m.Name.ValueString() },
		schema: schema.Schema{
			Description: "A trust policy: the ID tokens of an OIDC issuer (gatehouse_oidc_issuer) that match its audience and conditions are exchanged (RFC 8693, POST /api/v1/oauth/token) for short-lived API tokens of a service account.",
			Attributes: map[string]schema.Attribute{
				"id":          idAttribute("The policy's name."),
				"name":        nameAttribute("The policy's name; policies cannot be renamed, so changing it replaces the policy."),
				"description": optionalString("What the policy is for."),
				"issuer":      nameAttribute("The OIDC issuer's name. Changing it replaces the policy."),
				"service_account": schema.StringAttribute{
					Required: true, Description: "The service account whose tokens are minted (not a human user).",
					Validators: []validator.String{validName},
				},
				"audience": schema.StringAttribute{
					Required: true, Description: "The value the ID token's `aud` must contain.",
					Validators: []validator.String{stringvalidator.LengthBetween(1, 1024)},
				},
				"conditions": schema.MapAttribute{
					ElementType: conditionValuesType, Required: true,
					Description: "Claim name -> the values it may have, e.g. `{ repository = [\"acme/site\"], ref = [\"refs/heads/main\"] }`. Every claim named must be in the ID token and equal one of its values exactly (no wildcards). At least one; on a shared issuer one must pin the tenant by an immutable ID (repository_owner_id or repository_id for github, namespace_id or project_id for gitlab).",
					Validators:  []validator.Map{mapvalidator.SizeBetween(1, 32), mapvalidator.ValueSetsAre(setvalidator.SizeBetween(1, 64))},
				},
				"permissions":   restriction(validPermissions, nil, "Narrows the minted tokens to these permissions of the catalogue (data source gatehouse_permissions), `name` or `name@kind/object`. Left out: all of the account's."),
				"allowed_cidrs": restriction(validNetworks, nil, "The networks the minted tokens may be used from (IPv4 or IPv6 CIDR, or one address). Left out or empty: anywhere."),
				"ttl": schema.StringAttribute{
					Optional: true, Computed: true, Default: stringdefault.StaticString("15m"),
					Description: "The lifetime of minted tokens, a Go duration (default 15m, from 1m to 1h).",
					Validators:  []validator.String{validDuration(time.Minute, "at least 1m", time.Hour)},
				},
			},
		},
		api: func(c *client.Client) collection[client.TrustPolicyCreate, client.TrustPolicyUpdate, client.TrustPolicy] {
			return c.TrustPolicies
		},
		create: func(ctx context.Context, m trustPolicyModel, diags *diag.Diagnostics) client.TrustPolicyCreate {
			in := client.TrustPolicyCreate{Name: m.Name.ValueString(), Description: m.Description.ValueString(), Issuer: m.Issuer.ValueString(),
				ServiceAccount: m.ServiceAccount.ValueString(), Audience: m.Audience.ValueString(), Conditions: conditionsOf(ctx, m.Conditions, diags),
				AllowedCIDRs: setStrings(ctx, m.AllowedCIDRs, diags), TTL: m.TTL.ValueString()}
			if perms := setStrings(ctx, m.Permissions, diags); perms != nil {
				in.Permissions = &perms
			}
			return in
		},
		update: func(ctx context.Context, m, _ trustPolicyModel, diags *diag.Diagnostics) client.TrustPolicyUpdate {
			cidrs := setStrings(ctx, m.AllowedCIDRs, diags)
			if cidrs == nil {
				cidrs = []string{}
			}
			return client.TrustPolicyUpdate{Description: strPtr(m.Description), ServiceAccount: strPtr(m.ServiceAccount), Audience: strPtr(m.Audience),
				Conditions: conditionsOf(ctx, m.Conditions, diags), AllowedCIDRs: &cidrs, TTL: strPtr(m.TTL),
				// Left out: all of the account's (null), which PATCH sets too.
				Permissions: &client.PermissionsPatch{List: setStrings(ctx, m.Permissions, diags)}}
		},
		state: trustPolicyState, createFields: trustPolicyFields, updateFields: trustPolicyFields,
	}
}

// conditionsOf reads the conditions of the model.
func conditionsOf(ctx context.Context, m types.Map, diags *diag.Diagnostics) map[string][]string {
	if m.IsNull() || m.IsUnknown() {
		return nil
	}
	out := map[string][]string{}
	for k, v := range m.Elements() {
		s, ok := v.(types.Set)
		if !ok {
			continue
		}
		out[k] = setStrings(ctx, s, diags)
	}
	return out
}

func conditionsState(conds map[string][]string) types.Map {
	vals := make(map[string]attr.Value, len(conds))
	for k, v := range conds {
		vals[k] = stringSet(v)
	}
	return types.MapValueMust(conditionValuesType, vals)
}

func trustPolicyState(p client.TrustPolicy, m *trustPolicyModel) {
	m.ID, m.Name, m.Description = types.StringValue(p.Name), types.StringValue(p.Name), types.StringValue(p.Description)
	m.Issuer, m.ServiceAccount, m.Audience = types.StringValue(p.Issuer), types.StringValue(p.ServiceAccount), types.StringValue(p.Audience)
	m.Conditions = conditionsState(p.Conditions)
	// Permissions: null is all of the account's, empty is none.
	switch {
	case p.Permissions == nil:
		m.Permissions = types.SetNull(types.StringType)
	case m.Permissions.IsNull() || m.Permissions.IsUnknown() || !sameEntries(m.Permissions, stringSet(*p.Permissions), nil):
		m.Permissions = stringSet(*p.Permissions)
	}
	m.AllowedCIDRs = restrictionSet(m.AllowedCIDRs, p.AllowedCIDRs, canonicalNetwork)
	m.TTL = durationState(m.TTL, p.TTL)
}
