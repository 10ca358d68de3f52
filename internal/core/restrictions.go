package core

// Least-privilege credentials: a token narrowed below its owner, bound to
// networks, applications and LDAP providers. The fields are given when
// the token is made, fixed for its life (rotation keeps them, PATCH
// refuses them) and applied at every use by the doors' one check
// (doors.go), the authenticator's narrowed principal and Admit.

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/gatehouse/gatehouse/client"
	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/clientip"
	"github.com/gatehouse/gatehouse/internal/store"
)

// RestrictionsInput is what a request says about a new token's
// restrictions; a nil field restricts nothing.
type RestrictionsInput struct {
	Permissions   *[]string
	AllowedCIDRs  []string
	Applications  []string
	LDAPProviders []string
}

// MaxRestrictionEntries bounds each list of a token's restrictions.
const MaxRestrictionEntries = 64

func (in RestrictionsInput) empty() bool {
	return in.Permissions == nil && in.AllowedCIDRs == nil && in.Applications == nil && in.LDAPProviders == nil
}

// restrictionsFor validates in against the owner as the transaction q
// sees it and returns what to store (nil: none). Every bad entry is a
// field error. A narrowed key that makes a key for its own account and
// names no permissions hands on its own list: a key never makes a
// broader one.
func restrictionsFor(ctx context.Context, q store.Queries, f *fields, a Actor, owner store.User, in RestrictionsInput) (*store.TokenRestrictions, error) {
	if a.P != nil && a.P.Narrowed && a.P.UID == owner.UID && in.Permissions == nil {
		own := slices.Clone(a.P.Permissions)
		in.Permissions = &own
	}
	// A key bound to networks, applications or LDAP providers makes keys
	// bound at least as tightly: what it does not name it hands on, so a
	// key leaked inside a network cannot mint one that works outside.
	if r := a.Cred.Restrictions; r != nil {
		if in.AllowedCIDRs == nil {
			for _, p := range r.CIDRs {
				in.AllowedCIDRs = append(in.AllowedCIDRs, p.String())
			}
		}
		if in.Applications == nil {
			in.Applications = slices.Clone(r.Applications)
		}
		if in.LDAPProviders == nil {
			in.LDAPProviders = slices.Clone(r.LDAPProviders)
		}
	}
	if in.empty() {
		return nil, nil
	}
	var r store.TokenRestrictions
	tooMany := func(field string, n int) bool {
		if n > MaxRestrictionEntries {
			f.add(field, fmt.Sprintf("must have at most %d entries", MaxRestrictionEntries))
			return true
		}
		return false
	}
	if in.Permissions != nil && !tooMany("permissions", len(*in.Permissions)) {
		norm, bad := authz.NormalizePermissions(*in.Permissions)
		for i := range *in.Permissions {
			if msg, ok := bad[i]; ok {
				f.add(fmt.Sprintf("permissions[%d]", i), msg)
			}
		}
		power, err := accountPower(ctx, q, owner)
		if err != nil {
			return nil, err
		}
		for _, s := range norm {
			p, _ := authz.ParsePermission(s)
			if !power.CanOn(p.Name, authz.Object{Kind: p.Kind, Name: p.Object}) {
				f.add("permissions", fmt.Sprintf("%s is not held by %q: a token may only narrow its owner's permissions", s, owner.Username))
			}
		}
		r.Permissions = &norm
	}
	if !tooMany("allowed_cidrs", len(in.AllowedCIDRs)) {
		for i, c := range in.AllowedCIDRs {
			p, err := clientip.ParseNetwork(c)
			if err != nil {
				f.add(fmt.Sprintf("allowed_cidrs[%d]", i), "must be a network such as 10.20.0.0/16 or 2001:db8::/48, or one address")
				continue
			}
			r.AllowedCIDRs = append(r.AllowedCIDRs, p.String())
		}
		r.AllowedCIDRs = sortedSet(r.AllowedCIDRs)
	}
	var err error
	if !tooMany("applications", len(in.Applications)) {
		if r.Applications, err = existing(ctx, f, "applications", "application", in.Applications, q.GetApplication); err != nil {
			return nil, err
		}
	}
	if !tooMany("ldap_providers", len(in.LDAPProviders)) {
		if r.LDAPProviders, err = existing(ctx, f, "ldap_providers", "LDAP provider", in.LDAPProviders, q.GetLDAPProvider); err != nil {
			return nil, err
		}
	}
	if len(*f) == 0 && !withinBindings(a.Cred.Restrictions, &r) {
		f.add("allowed_cidrs", "your key is bound to networks, applications or LDAP providers: the keys it makes may only be bound within them")
	}
	return &r, nil
}

// withinBindings reports whether a token restricted by r is bound at
// least as tightly as the actor's key (nil: an unbound key, which any
// binding is within): each network within one of the key's, each
// application and LDAP provider one of the key's, none left open where
// the key is bound.
func withinBindings(key *auth.Restrictions, r *store.TokenRestrictions) bool {
	if key == nil {
		return true
	}
	var cidrs, apps, providers []string
	if r != nil {
		cidrs, apps, providers = r.AllowedCIDRs, r.Applications, r.LDAPProviders
	}
	if len(key.CIDRs) > 0 {
		if len(cidrs) == 0 {
			return false
		}
		for _, c := range cidrs {
			p, err := netip.ParsePrefix(c)
			if err != nil || !slices.ContainsFunc(key.CIDRs, func(k netip.Prefix) bool { return k.Bits() <= p.Bits() && k.Contains(p.Addr()) }) {
				return false
			}
		}
	}
	subset := func(key, got []string) bool {
		if len(key) == 0 {
			return true
		}
		if len(got) == 0 {
			return false
		}
		for _, g := range got {
			if !slices.Contains(key, g) {
				return false
			}
		}
		return true
	}
	return subset(key.Applications, apps) && subset(key.LDAPProviders, providers)
}

func sortedSet(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}

// tokenPower is what a key of the token may do: its owner's power, or
// the intersection with the token's own list.
func tokenPower(ctx context.Context, q store.Queries, owner store.User, r *store.TokenRestrictions) (*authz.Principal, error) {
	p, err := accountPower(ctx, q, owner)
	if err != nil {
		return nil, err
	}
	if r != nil && r.Permissions != nil {
		p = p.Narrow(*r.Permissions)
	}
	return p, nil
}

// restrictionsView fills a token view's least-privilege fields.
func restrictionsView(v *TokenView, r *store.TokenRestrictions) {
	v.AllowedCIDRs, v.Applications, v.LDAPProviders = []string{}, []string{}, []string{}
	if r == nil {
		return
	}
	if r.Permissions != nil {
		p := nonNil(*r.Permissions)
		v.Permissions = &p
	}
	v.AllowedCIDRs, v.Applications, v.LDAPProviders = nonNil(r.AllowedCIDRs), nonNil(r.Applications), nonNil(r.LDAPProviders)
	v.Federated = (*client.TokenFederation)(r.Federated) // the same fields
}

// existing is the set of names (sorted) that name an item get finds; each
// other one is an error of field[i], as the noun's that does not exist.
func existing[T any](ctx context.Context, f *fields, field, noun string, names []string, get func(context.Context, string) (T, error)) ([]string, error) {
	var out []string
	for i, name := range names {
		if _, err := get(ctx, name); err != nil {
			if !errors.Is(err, store.ErrNotFound) {
				return nil, err
			}
			f.add(fmt.Sprintf("%s[%d]", field, i), fmt.Sprintf("%s %q does not exist", noun, truncate(name, 64)))
			continue
		}
		out = append(out, name)
	}
	return sortedSet(out), nil
}
