package tfprovider

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/ldap/dn"
)

// The validators check at plan time what the server would refuse at
// apply time, with the server's own rules (the provider is built from
// the same module), so a typo fails `plan` on its line rather than half
// an `apply`.

// maxLifetime is the server's bound on expires_at, ttl and max_age.
const maxLifetime = 876000 * time.Hour

type nameValidator struct{}

func (nameValidator) Description(context.Context) string {
	return "a name: " + authz.NameRuleText
}
func (v nameValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }
func (nameValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if s := req.ConfigValue.ValueString(); !authz.NameRule.MatchString(s) {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid "+req.Path.String(),
			fmt.Sprintf("%s %q is not a valid name: names are %s.", req.Path, s, authz.NameRuleText))
	}
}

// durationValidator accepts Go durations (90s, 30m, 720h), as the
// server does: no day unit.
type durationValidator struct {
	min      time.Duration
	minText  string
	allowMax time.Duration
}

func (v durationValidator) Description(context.Context) string {
	return "a Go duration such as 90s, 30m or 720h (no day unit), " + v.minText
}
func (v durationValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }
func (v durationValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	s := req.ConfigValue.ValueString()
	d, err := time.ParseDuration(s)
	msg := ""
	switch {
	case err != nil:
		msg = fmt.Sprintf("%s %q must be a Go duration such as 90s, 30m or 720h (there is no day unit: 30 days is 720h).", req.Path, s)
	case d < v.min:
		msg = fmt.Sprintf("%s %q must be %s.", req.Path, s, v.minText)
	case d > v.allowMax:
		msg = fmt.Sprintf("%s %q must be at most %s.", req.Path, s, v.allowMax)
	}
	if msg != "" {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid "+req.Path.String(), msg)
	}
}

type rfc3339Validator struct{}

func (rfc3339Validator) Description(context.Context) string {
	return "an RFC 3339 time such as 2031-01-02T15:04:05Z"
}
func (v rfc3339Validator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }
func (rfc3339Validator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	// Whether it is in the future is the server's to say: its clock, not
	// the machine running plan, decides.
	if _, err := time.Parse(time.RFC3339Nano, req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid "+req.Path.String(),
			fmt.Sprintf("%s %q must be an RFC 3339 time such as 2031-01-02T15:04:05Z.", req.Path, req.ConfigValue.ValueString()))
	}
}

type dnValidator struct{}

func (dnValidator) Description(context.Context) string {
	return "an LDAP distinguished name such as dc=example,dc=com"
}
func (v dnValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }
func (dnValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	d, err := dn.Parse(req.ConfigValue.ValueString())
	if err == nil && len(d) == 0 {
		err = fmt.Errorf("must not be empty")
	}
	if err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid "+req.Path.String(),
			fmt.Sprintf("%s is not a distinguished name: %v.", req.Path, err))
	}
}

// permissionsValidator checks each permission against the catalogue
// compiled into this provider, which is the server's of the same
// version: "name" or "name@kind/object".
type permissionsValidator struct{}

func (permissionsValidator) Description(context.Context) string {
	return "permissions of the catalogue (see the gatehouse_permissions data source), each \"name\" or \"name@kind/object\""
}
func (v permissionsValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}
func (permissionsValidator) ValidateSet(_ context.Context, req validator.SetRequest, resp *validator.SetResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	for _, e := range req.ConfigValue.Elements() {
		s, ok := e.(types.String)
		if !ok || s.IsNull() || s.IsUnknown() {
			continue
		}
		if _, err := authz.ParsePermission(s.ValueString()); err != nil {
			resp.Diagnostics.AddAttributeError(req.Path.AtSetValue(s), "Invalid "+req.Path.String(),
				fmt.Sprintf("%s: %v.", req.Path, err))
		}
	}
}

// namesValidator checks each name of a set.
type namesValidator struct{}

func (namesValidator) Description(context.Context) string { return "names: " + authz.NameRuleText }
func (v namesValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}
func (namesValidator) ValidateSet(_ context.Context, req validator.SetRequest, resp *validator.SetResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	for _, e := range req.ConfigValue.Elements() {
		s, ok := e.(types.String)
		if !ok || s.IsNull() || s.IsUnknown() {
			continue
		}
		if !authz.NameRule.MatchString(s.ValueString()) {
			resp.Diagnostics.AddAttributeError(req.Path.AtSetValue(s), "Invalid "+req.Path.String(),
				fmt.Sprintf("%s: %q is not a valid name: names are %s.", req.Path, s.ValueString(), authz.NameRuleText))
		}
	}
}

// stringSet turns a list of the API into a set of state; nil is the
// empty set, since the API says [] and null alike for "none".
func stringSet(items []string) types.Set {
	vals := make([]attr.Value, len(items))
	for i, s := range items {
		vals[i] = types.StringValue(s)
	}
	return types.SetValueMust(types.StringType, vals)
}

// setStrings reads a set of strings, sorted (nil for null or unknown).
func setStrings(ctx context.Context, s types.Set, diags *diag.Diagnostics) []string {
	if s.IsNull() || s.IsUnknown() {
		return nil
	}
	out := []string{}
	diags.Append(s.ElementsAs(ctx, &out, false)...)
	sort.Strings(out)
	return out
}

// diffStrings says what to add and remove to go from have to want.
func diffStrings(have, want []string) (add, remove []string) {
	h, w := map[string]bool{}, map[string]bool{}
	for _, s := range have {
		h[s] = true
	}
	for _, s := range want {
		w[s] = true
		if !h[s] {
			add = append(add, s)
		}
	}
	for _, s := range have {
		if !w[s] {
			remove = append(remove, s)
		}
	}
	return add, remove
}

// strPtr returns a pointer to the value of a known attribute (nil for
// null or unknown), for the client's "send only what is set" fields.
func strPtr(v types.String) *string {
	if v.IsNull() || v.IsUnknown() {
		return nil
	}
	s := v.ValueString()
	return &s
}

// cidrsValidator checks each network of a token's allowed_cidrs as the
// server reads it: a CIDR network (10.20.0.0/16, 2001:db8::/48) or one
// address (its own network).
type cidrsValidator struct{}

func (cidrsValidator) Description(context.Context) string {
	return "IPv4 or IPv6 networks such as 10.20.0.0/16 or 2001:db8::/48, or single addresses"
}
func (v cidrsValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}
func (cidrsValidator) ValidateSet(_ context.Context, req validator.SetRequest, resp *validator.SetResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	for _, e := range req.ConfigValue.Elements() {
		s, ok := e.(types.String)
		if !ok || s.IsNull() || s.IsUnknown() {
			continue
		}
		if _, err := parseNetwork(s.ValueString()); err != nil {
			resp.Diagnostics.AddAttributeError(req.Path.AtSetValue(s), "Invalid "+req.Path.String(),
				fmt.Sprintf("%s: %q is not a network such as 10.20.0.0/16 or 2001:db8::/48, nor one address.", req.Path, s.ValueString()))
		}
	}
}

// parseNetwork reads a network as the server does: a CIDR network
// (masked: 10.20.1.0/16 is 10.20.0.0/16), or one address as its own
// network (10.0.0.1 is 10.0.0.1/32).
func parseNetwork(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	addr, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	addr = addr.Unmap()
	return netip.PrefixFrom(addr, addr.BitLen()), nil
}

// canonicalNetwork is the server's spelling of a network (s itself when
// it is not one).
func canonicalNetwork(s string) string {
	if p, err := parseNetwork(s); err == nil {
		return p.String()
	}
	return s
}
