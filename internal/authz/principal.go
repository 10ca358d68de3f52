package authz

import (
	"slices"
	"strings"
	"time"
)

// Principal is who a request acts as. Anonymous requests have a nil
// *Principal. A Principal is immutable once built: caches share it.
type Principal struct {
	UID      string
	Username string
	Type     string
	Active   bool
	Managed  bool
	// PasswordHash is kept so password checks need no database query; it
	// never leaves the process (not marshalled, never logged).
	PasswordHash string `json:"-"`
	// Profile is the account's row as it was when the principal was built
	// (nil for principals not made from a stored account): reads of the
	// caller's own account answer from it, kept as fresh as the principal
	// itself by the caches' invalidation.
	Profile *Profile `json:"-"`

	Groups      []string
	DirectRoles []string
	Roles       []string
	Permissions []string // effective, sorted; for admin the whole catalogue
	// Narrowed: the principal of a credential restricted below its
	// owner (a token's own permissions); it holds the intersection.
	Narrowed bool

	admin    bool
	unscoped map[string]struct{}
	scoped   map[scopedKey]struct{}
}

type scopedKey struct{ name, kind, object string }

// Identity is who a principal is.
type Identity struct {
	UID, Username, Type string
	Active, Managed     bool
	PasswordHash        string
	Profile             *Profile
}

// Profile is what an account shows of itself besides its identity and
// grants. Shared and read-only, as the principal holding it.
type Profile struct {
	Name, Email, Description string
	CreatedAt                time.Time
	LastLoginAt              *time.Time
}

// Grants is what a principal holds: its groups, the roles assigned to it
// directly, all its roles (direct and through groups) and their
// permissions with the direct ones.
type Grants struct {
	Groups, DirectRoles, Roles, Permissions []string
}

// NewPrincipal builds a principal from its grants; permissions that no
// longer parse (for example a name dropped from the catalogue) are ignored.
func NewPrincipal(id Identity, g Grants) *Principal {
	perms, roles := g.Permissions, g.Roles
	p := &Principal{
		UID: id.UID, Username: id.Username, Type: id.Type, Active: id.Active, Managed: id.Managed, PasswordHash: id.PasswordHash,
		Profile: id.Profile, Groups: g.Groups, DirectRoles: g.DirectRoles, Roles: roles,
		unscoped: map[string]struct{}{}, scoped: map[scopedKey]struct{}{},
	}
	p.admin = slices.Contains(roles, AdminRole)
	if p.admin {
		perms = AllPermissions()
	}
	for _, s := range perms {
		perm, err := ParsePermission(s)
		if err != nil {
			continue
		}
		p.Permissions = append(p.Permissions, perm.String())
		if perm.Kind == "" {
			p.unscoped[perm.Name] = struct{}{}
		} else {
			p.scoped[scopedKey{perm.Name, perm.Kind, perm.Object}] = struct{}{}
		}
	}
	slices.Sort(p.Permissions)
	p.Permissions = slices.Compact(p.Permissions)
	return p
}

// IsAdmin reports whether the principal holds the built-in admin role.
func (p *Principal) IsAdmin() bool { return p != nil && p.admin }

// IsServiceAccount reports whether the principal is a (possibly internal)
// service account.
func (p *Principal) IsServiceAccount() bool {
	return p != nil && (p.Type == "service_account" || p.Type == "internal_service_account")
}

// Object is something a permission can be scoped to.
type Object struct{ Kind, Name string }

// Can reports whether p holds perm unscoped. Deny by default: nil or
// inactive principals hold nothing. It does not allocate.
func (p *Principal) Can(perm string) bool {
	if p == nil || !p.Active {
		return false
	}
	_, ok := p.unscoped[perm]
	return ok
}

// CanOn reports whether p holds perm unscoped or scoped to any of objs.
func (p *Principal) CanOn(perm string, objs ...Object) bool {
	if p.Can(perm) {
		return true
	}
	if p == nil || !p.Active {
		return false
	}
	for _, o := range objs {
		if _, ok := p.scoped[scopedKey{perm, o.Kind, o.Name}]; ok {
			return true
		}
	}
	return false
}

// CanSomewhere reports whether p holds perm unscoped or scoped to any
// object of kind: enough to see a list that is then narrowed.
func (p *Principal) CanSomewhere(perm, kind string) bool {
	if p.Can(perm) {
		return true
	}
	if p == nil || !p.Active {
		return false
	}
	for k := range p.scoped {
		if k.name == perm && k.kind == kind {
			return true
		}
	}
	return false
}

// GroupObjects turns group names into scope objects.
func GroupObjects(groups []string) []Object {
	out := make([]Object, len(groups))
	for i, g := range groups {
		out[i] = Object{KindGroup, g}
	}
	return out
}

// String names the principal for logs.
func (p *Principal) String() string {
	if p == nil {
		return "anonymous"
	}
	return strings.Join([]string{p.Type, p.Username}, ":")
}

// Covers reports whether p holds at least everything q holds: q is not an
// admin unless p is, and each of q's permissions is one p holds (unscoped,
// or scoped to the same object). A grant scoped to a group lets its
// holder act for the group's members only within this bound, so that
// acting for them (minting their tokens, adding them to a group) never
// reaches further than the holder's own rights.
func (p *Principal) Covers(q *Principal) bool {
	if p == nil || !p.Active {
		return false
	}
	if p.admin {
		return true
	}
	if q == nil {
		return true
	}
	if q.admin {
		return false
	}
	for _, s := range q.Permissions {
		perm, err := ParsePermission(s)
		if err != nil {
			continue
		}
		if !p.CanOn(perm.Name, Object{perm.Kind, perm.Object}) {
			return false
		}
	}
	return true
}

// Narrow returns the principal a credential restricted to perms acts as:
// the same account, holding only what is both in perms and held by p (a
// scoped permission where one side is scoped, the unscoped one where
// both are). The result is never an administrator: an administrator's
// narrowed key holds its list, not the admin role. An empty list holds
// nothing. Permissions that do not parse are ignored, as in NewPrincipal.
func (p *Principal) Narrow(perms []string) *Principal {
	var keep []string
	for _, s := range perms {
		perm, err := ParsePermission(s)
		if err != nil {
			continue
		}
		if p.CanOn(perm.Name, Object{perm.Kind, perm.Object}) {
			keep = append(keep, perm.String())
		}
		if perm.Kind == "" {
			// The owner's grants of this permission scoped to objects.
			for k := range p.scoped {
				if k.name == perm.Name {
					keep = append(keep, Permission{Name: k.name, Kind: k.kind, Object: k.object}.String())
				}
			}
		}
	}
	roles := slices.DeleteFunc(slices.Clone(p.Roles), func(r string) bool { return r == AdminRole })
	n := NewPrincipal(Identity{UID: p.UID, Username: p.Username, Type: p.Type, Active: p.Active, Managed: p.Managed, PasswordHash: p.PasswordHash,
		Profile: p.Profile}, Grants{Groups: p.Groups, DirectRoles: p.DirectRoles, Roles: roles, Permissions: keep})
	n.Narrowed = true
	return n
}
