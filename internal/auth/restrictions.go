package auth

import (
	"net/netip"
	"slices"
	"sync/atomic"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Restrictions narrow a key below its owner (least privilege), parsed
// once when the key is loaded and shared, read-only, by every use. The
// doors' one check reads them from the Credential.
type Restrictions struct {
	// Permissions is the key's own list; Narrowed says there is one (an
	// empty list narrows to nothing).
	Permissions []string
	Narrowed    bool
	// CIDRs: the networks it may be used from; none: anywhere.
	CIDRs []netip.Prefix
	// Applications and LDAPProviders: where it opens; none: anywhere.
	Applications  []string
	LDAPProviders []string
	// Federated: the key was minted by a token exchange; it makes,
	// rotates and changes no token.
	Federated bool

	// narrowed caches the owner's principal narrowed to Permissions,
	// for the owner principal it was computed from: a change to the owner
	// replaces that principal, and the next use narrows again.
	narrowed atomic.Pointer[narrowedPrincipal]
}

type narrowedPrincipal struct{ owner, p *authz.Principal }

// NewRestrictions parses stored restrictions (nil: none). Bad entries,
// which the core never stores, are dropped: a network that does not parse
// admits nothing it names.
func NewRestrictions(r *store.TokenRestrictions) *Restrictions {
	if r == nil {
		return nil
	}
	out := &Restrictions{Applications: r.Applications, LDAPProviders: r.LDAPProviders, Federated: r.Federated != nil}
	if r.Permissions != nil {
		out.Narrowed, out.Permissions = true, *r.Permissions
	}
	for _, c := range r.AllowedCIDRs {
		if p, err := netip.ParsePrefix(c); err == nil {
			out.CIDRs = append(out.CIDRs, p.Masked())
		}
	}
	if len(r.AllowedCIDRs) > 0 && len(out.CIDRs) == 0 {
		out.CIDRs = []netip.Prefix{{}} // matches no address: fail closed
	}
	return out
}

// Principal is what a use of the key may do: the owner's principal, or
// its intersection with the key's own list. It does not allocate while
// the owner is unchanged.
func (r *Restrictions) Principal(owner *authz.Principal) *authz.Principal {
	if r == nil || !r.Narrowed {
		return owner
	}
	if c := r.narrowed.Load(); c != nil && c.owner == owner {
		return c.p
	}
	p := owner.Narrow(r.Permissions)
	r.narrowed.Store(&narrowedPrincipal{owner: owner, p: p})
	return p
}

// AllowsAddress reports whether the key may be used from the client
// address (as the doors resolve it, behind trusted proxies).
func (r *Restrictions) AllowsAddress(client string) bool {
	if r == nil || len(r.CIDRs) == 0 {
		return true
	}
	addr, err := netip.ParseAddr(client)
	if err != nil {
		return false
	}
	addr = addr.Unmap()
	for _, p := range r.CIDRs {
		if p.IsValid() && p.Contains(addr) {
			return true
		}
	}
	return false
}

// AllowsApplication reports whether the key opens the application.
func (r *Restrictions) AllowsApplication(slug string) bool {
	return r == nil || len(r.Applications) == 0 || slices.Contains(r.Applications, slug)
}

// AllowsLDAPProvider reports whether the key binds at the provider.
func (r *Restrictions) AllowsLDAPProvider(name string) bool {
	return r == nil || len(r.LDAPProviders) == 0 || slices.Contains(r.LDAPProviders, name)
}
