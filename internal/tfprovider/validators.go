package tfprovider

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/clientip"
	"github.com/gatehouse/gatehouse/internal/ldap/dn"
)

// The validators check at plan time what the server would refuse at
// apply time, with the server's own rules (the provider is built from
// the same module), so a typo fails `plan` on its line rather than half
// an `apply`.

// maxLifetime is the server's bound on expires_at, ttl and max_age.
const maxLifetime = 876000 * time.Hour

// check is a validator of a string, or of each string of a set, by one
// rule: problem says why a value is refused ("" when it is not), in
// words that follow the attribute's path.
type check struct {
	description string
	problem     func(s string) string
}

func (c check) Description(context.Context) string             { return c.description }
func (c check) MarkdownDescription(ctx context.Context) string { return c.description }
func (c check) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if p := c.problem(req.ConfigValue.ValueString()); p != "" {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid "+req.Path.String(), req.Path.String()+" "+p)
	}
}

// ValidateSet reports each refused element on the element.
func (c check) ValidateSet(_ context.Context, req validator.SetRequest, resp *validator.SetResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	for _, e := range req.ConfigValue.Elements() {
		s, ok := e.(types.String)
		if !ok || s.IsNull() || s.IsUnknown() {
			continue
		}
		if p := c.problem(s.ValueString()); p != "" {
			resp.Diagnostics.AddAttributeError(req.Path.AtSetValue(s), "Invalid "+req.Path.String(), req.Path.String()+": "+p)
		}
	}
}

func nameProblem(s string) string {
	if authz.NameRule.MatchString(s) {
		return ""
	}
	return fmt.Sprintf("%q is not a valid name: names are %s.", s, authz.NameRuleText)
}

var (
	validName  = check{"a name: " + authz.NameRuleText, nameProblem}
	validNames = check{"names: " + authz.NameRuleText, nameProblem}

	// validPermissions checks permissions against the catalogue compiled
	// into this provider, which is the server's of the same version:
	// "name" or "name@kind/object".
	validPermissions = check{
		"permissions of the catalogue (see the gatehouse_permissions data source), each \"name\" or \"name@kind/object\"",
		func(s string) string {
			if _, err := authz.ParsePermission(s); err != nil {
				return err.Error() + "."
			}
			return ""
		},
	}

	validRFC3339 = check{"an RFC 3339 time such as 2031-01-02T15:04:05Z", func(s string) string {
		// Whether it is in the future is the server's to say: its clock,
		// not the machine running plan, decides.
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			return fmt.Sprintf("%q must be an RFC 3339 time such as 2031-01-02T15:04:05Z.", s)
		}
		return ""
	}}

	validDN = check{"an LDAP distinguished name such as dc=example,dc=com", func(s string) string {
		d, err := dn.Parse(s)
		if err == nil && len(d) == 0 {
			err = fmt.Errorf("must not be empty")
		}
		if err != nil {
			return fmt.Sprintf("is not a distinguished name: %v.", err)
		}
		return ""
	}}

	// validNetworks checks networks as the server reads them: a CIDR
	// network (10.20.0.0/16, 2001:db8::/48) or one address (its own
	// network).
	validNetworks = check{"IPv4 or IPv6 networks such as 10.20.0.0/16 or 2001:db8::/48, or single addresses", func(s string) string {
		if _, err := clientip.ParseNetwork(s); err != nil {
			return fmt.Sprintf("%q is not a network such as 10.20.0.0/16 or 2001:db8::/48, nor one address.", s)
		}
		return ""
	}}
)

// validDuration accepts Go durations (90s, 30m, 720h), as the server
// does (no day unit), from min (minText in words) to max.
func validDuration(min time.Duration, minText string, max time.Duration) check {
	return check{"a Go duration such as 90s, 30m or 720h (no day unit), " + minText, func(s string) string {
		d, err := time.ParseDuration(s)
		switch {
		case err != nil:
			return fmt.Sprintf("%q must be a Go duration such as 90s, 30m or 720h (there is no day unit: 30 days is 720h).", s)
		case d < min:
			return fmt.Sprintf("%q must be %s.", s, minText)
		case d > max:
			return fmt.Sprintf("%q must be at most %s.", s, max)
		}
		return ""
	}}
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

// canonicalNetwork is the server's spelling of a network (s itself when
// it is not one).
func canonicalNetwork(s string) string {
	if p, err := clientip.ParseNetwork(s); err == nil {
		return p.String()
	}
	return s
}
