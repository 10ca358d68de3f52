package tfprovider

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/setdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/gatehouse/gatehouse/client"
	"github.com/gatehouse/gatehouse/internal/federation"
)

// gatehouse_oidc_issuer: an OpenID Connect issuer (GitHub Actions, GitLab
// CI, Kubernetes, any other) whose ID tokens trust policies
// (gatehouse_trust_policy) exchange for tokens of service accounts. Its
// kind is fixed at creation; the rest is PATCHed in place.
type oidcIssuerModel struct {
	ID           types.String `tfsdk:"id"`
	Name         types.String `tfsdk:"name"`
	Kind         types.String `tfsdk:"kind"`
	IssuerURL    types.String `tfsdk:"issuer_url"`
	JWKSURL      types.String `tfsdk:"jwks_url"`
	JWKS         types.String `tfsdk:"jwks"`
	AllowedAlgs  types.Set    `tfsdk:"allowed_algs"`
	Leeway       types.String `tfsdk:"leeway"`
	Shared       types.Bool   `tfsdk:"shared"`
	TenantClaims types.Set    `tfsdk:"tenant_claims"`
}

// The issuer kinds whose tenant claims the server presets.
var presetIssuerKinds = map[string]bool{"github": true, "gitlab": true}

var oidcIssuerFields = []string{"name", "kind", "issuer_url", "jwks_url", "jwks", "allowed_algs", "leeway", "shared", "tenant_claims"}

func newOIDCIssuerResource() resource.Resource {
	// What the kind presets stays as it is unless the kind changes
	// (which replaces the issuer, and presets anew).
	kindPath := path.Root("kind")
	return &named[oidcIssuerModel, client.OIDCIssuerCreate, client.OIDCIssuerUpdate, client.OIDCIssuer]{
		typeName: "oidc_issuer", what: "OIDC issuer", nameKey: "name", name: func(m oidcIssuerModel) string { return m.Name.ValueString() },
		schema: schema.Schema{
			Description: "An OpenID Connect issuer whose ID tokens gatehouse_trust_policy resources exchange for short-lived tokens of service accounts (workload identity federation).",
			Attributes: map[string]schema.Attribute{
				"id":   idAttribute("The issuer's name."),
				"name": nameAttribute("The issuer's name; issuers cannot be renamed, so changing it replaces the issuer."),
				"kind": schema.StringAttribute{
					Optional: true, Computed: true, Default: stringdefault.StaticString("generic"),
					Description:   "`generic` (default), `github`, `gitlab` or `kubernetes`. `github` and `gitlab` preset issuer_url, shared and tenant_claims. Changing it replaces the issuer.",
					Validators:    []validator.String{stringvalidator.OneOf("generic", "github", "gitlab", "kubernetes")},
					PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
				},
				"issuer_url": schema.StringAttribute{
					Optional: true, Computed: true,
					Description:   "The ID tokens' `iss`, exactly. Required but for `github` and `gitlab`, which preset it. The server takes https:// URLs only (http:// too when it runs with --oidc-allow-insecure-issuers).",
					Validators:    []validator.String{validAbsoluteURL},
					PlanModifiers: []planmodifier.String{useStateUnlessChanged{kindPath}},
				},
				"jwks_url": schema.StringAttribute{
					Optional: true, Computed: true, Default: stringdefault.StaticString(""),
					Description: "Where the signing keys are; left out, from issuer_url + /.well-known/openid-configuration. Not with jwks.",
					Validators:  []validator.String{validAbsoluteURL},
				},
				"jwks": schema.StringAttribute{
					Optional:    true,
					Description: "A JWK Set given inline, as JSON (for example from jsonencode or file): then nothing is ever fetched. Not with jwks_url.",
					Validators:  []validator.String{validJSONObject},
				},
				"allowed_algs": schema.SetAttribute{
					ElementType: types.StringType, Optional: true, Computed: true,
					Default:     setdefault.StaticValue(stringSet(federation.DefaultAlgs)),
					Description: "The signature algorithms accepted (default RS256 and ES256); none and HS* are refused.",
					Validators:  []validator.Set{validAlgs, setvalidator.SizeAtLeast(1)},
				},
				"leeway": schema.StringAttribute{
					Optional: true, Computed: true, Default: stringdefault.StaticString("1m"),
					Description: "The clock skew allowed on exp, nbf and iat, a Go duration (default 1m, at most 300s).",
					Validators:  []validator.String{validDuration(0, "not negative", 300*time.Second)},
				},
				"shared": schema.BoolAttribute{
					Optional: true, Computed: true,
					Description:   "The issuer serves many tenants (default: true for github and gitlab, else false): every trust policy on it must then pin the tenant by an immutable ID claim.",
					PlanModifiers: []planmodifier.Bool{useStateUnlessChanged{kindPath}},
				},
				"tenant_claims": schema.SetAttribute{
					ElementType: types.StringType, Optional: true, Computed: true,
					Description:   "The claims naming a shared generic or kubernetes issuer's tenant by an immutable ID; preset (and not to be given) for github and gitlab.",
					PlanModifiers: []planmodifier.Set{useStateUnlessChanged{kindPath}},
				},
			},
		},
		api: func(c *client.Client) collection[client.OIDCIssuerCreate, client.OIDCIssuerUpdate, client.OIDCIssuer] {
			return c.OIDCIssuers
		},
		create: func(ctx context.Context, m oidcIssuerModel, diags *diag.Diagnostics) client.OIDCIssuerCreate {
			return client.OIDCIssuerCreate{Name: m.Name.ValueString(), Kind: m.Kind.ValueString(), IssuerURL: m.IssuerURL.ValueString(),
				JWKSURL: m.JWKSURL.ValueString(), AllowedAlgs: setStrings(ctx, m.AllowedAlgs, diags), Leeway: strPtr(m.Leeway),
				JWKS: m.jwks(nil), Shared: m.shared(), TenantClaims: setStrings(ctx, m.TenantClaims, diags)}
		},
		update: func(ctx context.Context, m, _ oidcIssuerModel, diags *diag.Diagnostics) client.OIDCIssuerUpdate {
			in := client.OIDCIssuerUpdate{IssuerURL: strPtr(m.IssuerURL), JWKSURL: strPtr(m.JWKSURL), Leeway: strPtr(m.Leeway),
				JWKS: m.jwks(json.RawMessage("null")), Shared: m.shared()}
			if algs := setStrings(ctx, m.AllowedAlgs, diags); algs != nil {
				in.AllowedAlgs = &algs
			}
			// The presets' tenant claims are the server's, and cannot be sent.
			if claims := setStrings(ctx, m.TenantClaims, diags); claims != nil && !presetIssuerKinds[m.Kind.ValueString()] {
				in.TenantClaims = &claims
			}
			return in
		},
		state: oidcIssuerState, createFields: oidcIssuerFields, updateFields: oidcIssuerFields,
	}
}

// jwks is the inline key set to send; none is absent (nil) in a create,
// and null, which removes it, in an update.
func (m oidcIssuerModel) jwks(none json.RawMessage) json.RawMessage {
	if m.JWKS.IsNull() || m.JWKS.IsUnknown() {
		return none
	}
	return json.RawMessage(m.JWKS.ValueString())
}

// shared is the shared flag to send: nil, for the kind's default, when
// it is left out.
func (m oidcIssuerModel) shared() *bool {
	if m.Shared.IsNull() || m.Shared.IsUnknown() {
		return nil
	}
	return m.Shared.ValueBoolPointer()
}

func oidcIssuerState(i client.OIDCIssuer, m *oidcIssuerModel) {
	m.ID, m.Name, m.Kind = types.StringValue(i.Name), types.StringValue(i.Name), types.StringValue(i.Kind)
	m.IssuerURL, m.JWKSURL = types.StringValue(i.IssuerURL), types.StringValue(i.JWKSURL)
	switch {
	case len(i.JWKS) == 0 || string(i.JWKS) == "null":
		m.JWKS = types.StringNull()
	case m.JWKS.IsNull() || m.JWKS.IsUnknown() || !sameJSON(m.JWKS.ValueString(), string(i.JWKS)):
		m.JWKS = types.StringValue(string(i.JWKS))
	}
	m.AllowedAlgs = stringSet(i.AllowedAlgs)
	m.Leeway = durationState(m.Leeway, i.Leeway)
	m.Shared, m.TenantClaims = types.BoolValue(i.Shared), stringSet(i.TenantClaims)
}

// durationState is the state of a duration the server answered with
// (Go's spelling, 15m0s): the prior value when it is the same duration,
// so that its spelling stays; else the server's, shortened (15m).
func durationState(prior types.String, server string) types.String {
	if sameDuration(prior, types.StringValue(server)) {
		return prior
	}
	s := server
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return types.StringValue(s)
}

// sameJSON says whether two JSON documents are the same once compacted
// (the server keeps an inline key set compacted).
func sameJSON(a, b string) bool {
	var ca, cb bytes.Buffer
	return json.Compact(&ca, []byte(a)) == nil && json.Compact(&cb, []byte(b)) == nil && ca.String() == cb.String()
}

// useStateUnlessChanged keeps a computed value from the state (as
// UseStateForUnknown) unless the attribute at other changes, which
// makes the server compute it anew.
type useStateUnlessChanged struct{ other path.Path }

func (m useStateUnlessChanged) Description(context.Context) string {
	return "Keeps the value from the state unless " + m.other.String() + " changes."
}
func (m useStateUnlessChanged) MarkdownDescription(ctx context.Context) string {
	return m.Description(ctx)
}

// keep says whether to plan the state's value: on an update, for an
// attribute left to the server (unknown in the plan), when other (a
// string) stays.
func (m useStateUnlessChanged) keep(ctx context.Context, state tfsdk.State, plan tfsdk.Plan, stateValue, planValue, configValue attr.Value) bool {
	if stateValue.IsNull() || !planValue.IsUnknown() || configValue.IsUnknown() || state.Raw.IsNull() || plan.Raw.IsNull() {
		return false
	}
	var before, after types.String
	if d := state.GetAttribute(ctx, m.other, &before); d.HasError() {
		return false
	}
	if d := plan.GetAttribute(ctx, m.other, &after); d.HasError() {
		return false
	}
	return before.Equal(after)
}

func (m useStateUnlessChanged) PlanModifyString(ctx context.Context, req planmodifier.StringRequest, resp *planmodifier.StringResponse) {
	if m.keep(ctx, req.State, req.Plan, req.StateValue, req.PlanValue, req.ConfigValue) {
		resp.PlanValue = req.StateValue
	}
}

func (m useStateUnlessChanged) PlanModifyBool(ctx context.Context, req planmodifier.BoolRequest, resp *planmodifier.BoolResponse) {
	if m.keep(ctx, req.State, req.Plan, req.StateValue, req.PlanValue, req.ConfigValue) {
		resp.PlanValue = req.StateValue
	}
}

func (m useStateUnlessChanged) PlanModifySet(ctx context.Context, req planmodifier.SetRequest, resp *planmodifier.SetResponse) {
	if m.keep(ctx, req.State, req.Plan, req.StateValue, req.PlanValue, req.ConfigValue) {
		resp.PlanValue = req.StateValue
	}
}

var (
	// validAbsoluteURL checks an absolute URL with a host; which schemes
	// and hosts the server accepts is its own setting, so it says.
	validAbsoluteURL = check{"an absolute URL such as https://token.actions.githubusercontent.com", func(s string) string {
		if u, err := url.Parse(s); s != "" && (err != nil || !u.IsAbs() || u.Host == "") {
			return fmt.Sprintf("%q must be an absolute URL such as https://token.actions.githubusercontent.com.", s)
		}
		return ""
	}}

	// validJSONObject checks a JSON object (an inline JWK Set).
	validJSONObject = check{"a JSON object", func(s string) string {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal([]byte(s), &obj); err != nil || obj == nil {
			return "must be a JSON object, a JWK Set such as {\"keys\": [...]}."
		}
		return ""
	}}

	// validAlgs checks signature algorithms by the server's rule: none
	// and HMAC refused, the rest among those it supports.
	validAlgs = check{"signature algorithms among " + strings.Join(federation.SupportedAlgs, ", "), func(s string) string {
		if msg := federation.CheckAlg(s); msg != "" {
			return msg + "."
		}
		return ""
	}}
)
