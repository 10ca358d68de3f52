package ldap

import (
	"slices"
	"sort"
	"strings"

	"github.com/gatehouse/gatehouse/internal/core"
	"github.com/gatehouse/gatehouse/internal/ldap/dn"
)

// View is the directory as one provider shows it: users at
// cn=USERNAME,ou=users,BASE, groups at cn=NAME,ou=groups,BASE, the base
// entry and the two organizational units. It is immutable: a door makes
// a new one when the directory or the provider changes.
type View struct {
	Dir          *core.Directory
	base         dn.DN
	baseStr      string // canonical text of the base
	usersSuffix  string // ",ou=users," + base
	groupsSuffix string // ",ou=groups," + base
	startTLS     bool   // the door offers StartTLS (the root DSE says so)
}

// NewView makes the view of dir rooted at base.
func NewView(dir *core.Directory, base dn.DN, startTLS bool) *View {
	s := base.String()
	return &View{Dir: dir, base: base, baseStr: s, usersSuffix: ",ou=users," + s, groupsSuffix: ",ou=groups," + s, startTLS: startTLS}
}

// UserDN is the DN of a user's entry.
func (v *View) UserDN(username string) string {
	return "cn=" + dn.EscapeValue(username) + v.usersSuffix
}

// GroupDN is the DN of a group's entry.
func (v *View) GroupDN(name string) string { return "cn=" + dn.EscapeValue(name) + v.groupsSuffix }

type entryKind uint8

const (
	kindRoot entryKind = iota // the root DSE
	kindBase
	kindUsersOU
	kindGroupsOU
	kindUser
	kindGroup
)

// entryRef is one entry of a view, its attributes computed on demand.
type entryRef struct {
	v    *View
	kind entryKind
	u    *core.DirectoryUser
	g    *core.DirectoryGroup
}

// resultEntry is an entry a search returns: one of the view, or one an
// outpost that searches directly received from the server.
type resultEntry interface {
	DN() string
	allAttributes() []Attribute
}

func (e entryRef) DN() string {
	switch e.kind {
	case kindRoot:
		return ""
	case kindBase:
		return e.v.baseStr
	case kindUsersOU:
		return e.v.usersSuffix[1:]
	case kindGroupsOU:
		return e.v.groupsSuffix[1:]
	case kindUser:
		return e.v.UserDN(e.u.Username)
	}
	return e.v.GroupDN(e.g.Name)
}

// knownAttrs is every attribute type the directory has: an assertion on
// any other is Undefined.
var knownAttrs = map[string]bool{
	"objectclass": true, "cn": true, "uid": true, "sn": true, "displayname": true, "mail": true, "description": true,
	"memberof": true, "member": true, "gatehouseusertype": true, "ou": true, "dc": true, "o": true,
	"entryuuid": true, "entrydn": true, "createtimestamp": true, "structuralobjectclass": true, "hassubordinates": true,
	"namingcontexts": true, "supportedldapversion": true, "supportedcontrol": true, "supportedextension": true,
	"supportedfeatures": true, "vendorname": true,
}

var (
	userClasses  = []string{"top", "person", "organizationalPerson", "inetOrgPerson", "gatehouseUser"}
	groupClasses = []string{"top", "groupOfNames", "gatehouseGroup"}
	ouClasses    = []string{"top", "organizationalUnit"}
	rootClasses  = []string{"top"}
	trueValue    = []string{"TRUE"}
	falseValue   = []string{"FALSE"}
)

// baseRDN returns the type and value of the base's first RDN.
func (v *View) baseRDN() (string, string) {
	if len(v.base) == 0 {
		return "", ""
	}
	t, val, _ := v.base[0].Single()
	return t, val
}

func (v *View) baseClasses() []string {
	switch t, _ := v.baseRDN(); t {
	case "dc":
		return []string{"top", "domain"}
	case "o":
		return []string{"top", "organization"}
	case "ou":
		return []string{"top", "organizationalUnit"}
	}
	return []string{"top", "extensibleObject"}
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

func orName(name, username string) string {
	if name != "" {
		return name
	}
	return username
}

// values implements target.
func (e entryRef) values(attr string) ([]string, bool) {
	known := knownAttrs[attr]
	switch e.kind {
	case kindUser:
		u := e.u
		switch attr {
		case "objectclass":
			return userClasses, true
		case "cn", "uid":
			return []string{u.Username}, true
		case "sn", "displayname":
			return []string{orName(u.Name, u.Username)}, true
		case "mail":
			return nonEmpty(u.Email), true
		case "description":
			return nonEmpty(u.Description), true
		case "memberof":
			out := make([]string, len(u.Groups))
			for i, g := range u.Groups {
				out[i] = e.v.GroupDN(g)
			}
			return out, true
		case "gatehouseusertype":
			return []string{u.Type}, true
		case "entryuuid":
			return []string{u.UID}, true
		case "createtimestamp":
			return []string{formatGeneralizedTime(u.CreatedAt)}, true
		case "structuralobjectclass":
			return []string{"inetOrgPerson"}, true
		case "hassubordinates":
			return falseValue, true
		}
	case kindGroup:
		g := e.g
		switch attr {
		case "objectclass":
			return groupClasses, true
		case "cn":
			return []string{g.Name}, true
		case "description":
			return nonEmpty(g.Description), true
		case "member":
			out := make([]string, len(g.Members))
			for i, m := range g.Members {
				out[i] = e.v.UserDN(m)
			}
			return out, true
		case "entryuuid":
			return []string{g.UID}, true
		case "createtimestamp":
			return []string{formatGeneralizedTime(g.CreatedAt)}, true
		case "structuralobjectclass":
			return []string{"groupOfNames"}, true
		case "hassubordinates":
			return falseValue, true
		}
	case kindUsersOU, kindGroupsOU:
		switch attr {
		case "objectclass":
			return ouClasses, true
		case "ou":
			if e.kind == kindUsersOU {
				return []string{"users"}, true
			}
			return []string{"groups"}, true
		case "structuralobjectclass":
			return []string{"organizationalUnit"}, true
		case "hassubordinates":
			return trueValue, true
		}
	case kindBase:
		t, val := e.v.baseRDN()
		switch attr {
		case "objectclass":
			return e.v.baseClasses(), true
		case t:
			return []string{val}, true
		case "structuralobjectclass":
			cs := e.v.baseClasses()
			return cs[len(cs)-1:], true
		case "hassubordinates":
			return trueValue, true
		}
	case kindRoot:
		switch attr {
		case "objectclass":
			return rootClasses, true
		case "namingcontexts":
			return []string{e.v.baseStr}, true
		case "supportedldapversion":
			return []string{"3"}, true
		case "supportedcontrol":
			return []string{oidPagedResults}, true
		case "supportedextension":
			if e.v.startTLS {
				return []string{oidWhoAmI, oidStartTLS}, true
			}
			return []string{oidWhoAmI}, true
		case "supportedfeatures":
			return []string{"1.3.6.1.4.1.4203.1.5.1"}, true // all operational attributes ("+"), RFC 3673
		case "vendorname":
			return []string{"gatehouse"}, true
		}
		return nil, known
	}
	if attr == "entrydn" {
		return []string{e.DN()}, true
	}
	return nil, known
}

// attribute layouts: canonical name and whether it is operational, in
// the order entries list them.
type attrSpec struct {
	name        string
	key         string
	operational bool
}

func specs(names ...string) []attrSpec {
	out := make([]attrSpec, 0, len(names))
	for _, n := range names {
		op := strings.HasPrefix(n, "+")
		n = strings.TrimPrefix(n, "+")
		out = append(out, attrSpec{name: n, key: strings.ToLower(n), operational: op})
	}
	return out
}

var (
	userSpecs  = specs("objectClass", "cn", "uid", "sn", "displayName", "mail", "description", "memberOf", "gatehouseUserType", "+entryUUID", "+entryDN", "+createTimestamp", "+structuralObjectClass", "+hasSubordinates")
	groupSpecs = specs("objectClass", "cn", "description", "member", "+entryUUID", "+entryDN", "+createTimestamp", "+structuralObjectClass", "+hasSubordinates")
	ouSpecs    = specs("objectClass", "ou", "+entryDN", "+structuralObjectClass", "+hasSubordinates")
	rootSpecs  = specs("objectClass", "+namingContexts", "+supportedLDAPVersion", "+supportedControl", "+supportedExtension", "+supportedFeatures", "+vendorName")
)

func (e entryRef) specs() []attrSpec {
	switch e.kind {
	case kindUser:
		return userSpecs
	case kindGroup:
		return groupSpecs
	case kindUsersOU, kindGroupsOU:
		return ouSpecs
	case kindRoot:
		return rootSpecs
	}
	t, _ := e.v.baseRDN()
	s := specs("objectClass")
	if t != "" {
		s = append(s, attrSpec{name: t, key: t})
	}
	return append(s, specs("+entryDN", "+structuralObjectClass", "+hasSubordinates")...)
}

func (e entryRef) allAttributes() []Attribute {
	var out []Attribute
	for _, s := range e.specs() {
		vals, _ := e.values(s.key)
		if len(vals) > 0 {
			out = append(out, Attribute{Name: s.name, Values: vals, Operational: s.operational})
		}
	}
	return out
}

// attrSelection is a search's attribute list (RFC 4511 4.5.1.8).
type attrSelection struct {
	user, operational bool
	names             map[string]bool
}

func selectAttributes(attrs []string) attrSelection {
	s := attrSelection{}
	if len(attrs) == 0 {
		s.user = true
		return s
	}
	noAttrs := false
	for _, a := range attrs {
		switch a {
		case "*":
			s.user = true
		case "+":
			s.operational = true
		case "1.1":
			noAttrs = true
		default:
			if s.names == nil {
				s.names = map[string]bool{}
			}
			s.names[canonicalAttr(a)] = true
		}
	}
	if noAttrs && len(attrs) == 1 {
		return attrSelection{}
	}
	return s
}

// pick returns the selected attributes of an entry.
func (s attrSelection) pick(attrs []Attribute) []Attribute {
	out := attrs[:0:0]
	for _, a := range attrs {
		if (s.user && !a.Operational) || (s.operational && a.Operational) || s.names[canonicalAttr(a.Name)] {
			out = append(out, a)
		}
	}
	return out
}

// visibility is what a session may see.
type visibility struct {
	bound bool
	full  bool   // everything under the base
	self  string // otherwise only this user's entry
}

// resolve finds the entry a DN names in the view. When it does not
// exist, matched is the DN of its closest existing ancestor.
func (v *View) resolve(d dn.DN) (e entryRef, ok bool, matched string) {
	if len(d) == 0 {
		return entryRef{v: v, kind: kindRoot}, true, ""
	}
	if !d.Under(v.base) {
		return entryRef{}, false, ""
	}
	rel := d[:len(d)-len(v.base)]
	if len(rel) == 0 {
		return entryRef{v: v, kind: kindBase}, true, ""
	}
	ouType, ouVal, single := rel[len(rel)-1].Single()
	var ou entryKind
	switch {
	case single && ouType == "ou" && dn.Fold(ouVal) == "users":
		ou = kindUsersOU
	case single && ouType == "ou" && dn.Fold(ouVal) == "groups":
		ou = kindGroupsOU
	default:
		return entryRef{}, false, v.baseStr
	}
	ouRef := entryRef{v: v, kind: ou}
	if len(rel) == 1 {
		return ouRef, true, ""
	}
	if len(rel) == 2 {
		if t, val, ok := rel[0].Single(); ok && t == "cn" {
			name := strings.ToLower(val)
			if ou == kindUsersOU {
				if u := v.Dir.User(name); u != nil && u.Username == name {
					return entryRef{v: v, kind: kindUser, u: u}, true, ""
				}
			} else if g := v.Dir.Group(name); g != nil {
				return entryRef{v: v, kind: kindGroup, g: g}, true, ""
			}
		}
	}
	if len(rel) == 3 {
		if e, ok, _ := v.resolve(d[1:]); ok {
			return entryRef{}, false, e.DN()
		}
	}
	return entryRef{}, false, ouRef.DN()
}

// search runs a search over the view: the entries it returns, in order,
// or the result that ends it. The caller has checked that the session may
// search at all.
func (v *View) search(req *SearchRequest, vis visibility) ([]resultEntry, result) {
	base, err := dn.Parse(req.Base)
	if err != nil {
		return nil, result{code: ResultInvalidDNSyntax, message: "the search base is not a DN: " + err.Error()}
	}
	var out []resultEntry
	add := func(e entryRef) {
		if req.Filter.eval(e) == triTrue {
			out = append(out, e)
		}
	}
	if len(base) == 0 && req.Scope == ScopeBase {
		add(entryRef{v: v, kind: kindRoot})
		return out, result{}
	}
	if !vis.full {
		// Only the bound entry is visible; everything else looks empty,
		// so that nothing is learnt about which entries exist.
		self := v.Dir.User(vis.self)
		if self == nil {
			return nil, result{}
		}
		e := entryRef{v: v, kind: kindUser, u: self}
		if inScope(dnOf(e), base, req.Scope) {
			add(e)
		}
		return out, result{}
	}
	var start entryRef
	if len(base) == 0 {
		// The root's child is the base entry: one level below the root is
		// the base, a subtree from the root everything (never the root DSE
		// itself, RFC 4512 5.1).
		start = entryRef{v: v, kind: kindBase}
		switch req.Scope {
		case ScopeOne:
			add(start)
			return out, result{}
		case ScopeSubordinate:
			req = &SearchRequest{Filter: req.Filter, Scope: ScopeSub}
		}
	} else {
		e, ok, matched := v.resolve(base)
		if !ok {
			return nil, result{code: ResultNoSuchObject, matchedDN: matched, message: "no such entry"}
		}
		start = e
	}
	if req.Scope == ScopeBase {
		add(start)
		return out, result{}
	}
	if req.Scope == ScopeSub {
		add(start)
	}
	v.descendants(start, req.Scope == ScopeOne, req.Filter, add)
	return out, result{}
}

func dnOf(e entryRef) dn.DN {
	d, _ := dn.Parse(e.DN())
	return d
}

// inScope reports whether entry d is in the scope of a search from base.
func inScope(d, base dn.DN, scope int) bool {
	switch scope {
	case ScopeBase:
		return d.Equal(base)
	case ScopeOne:
		return len(d) == len(base)+1 && d.Under(base)
	case ScopeSub:
		return d.Under(base)
	}
	return len(d) > len(base) && d.Under(base)
}

// descendants feeds the entries below e (only its children when one),
// narrowed by the filter where it names entries by cn or uid.
func (v *View) descendants(e entryRef, one bool, f *Filter, add func(entryRef)) {
	switch e.kind {
	case kindBase:
		users, groups := entryRef{v: v, kind: kindUsersOU}, entryRef{v: v, kind: kindGroupsOU}
		add(users)
		if !one {
			v.descendants(users, true, f, add)
		}
		add(groups)
		if !one {
			v.descendants(groups, true, f, add)
		}
	case kindUsersOU:
		if names, ok := narrowNames(f); ok {
			for _, n := range names {
				if u := v.Dir.User(n); u != nil {
					add(entryRef{v: v, kind: kindUser, u: u})
				}
			}
			return
		}
		for _, u := range v.Dir.Users {
			add(entryRef{v: v, kind: kindUser, u: u})
		}
	case kindGroupsOU:
		if names, ok := narrowNames(f); ok {
			for _, n := range names {
				if g := v.Dir.Group(n); g != nil {
					add(entryRef{v: v, kind: kindGroup, g: g})
				}
			}
			return
		}
		for _, g := range v.Dir.Groups {
			add(entryRef{v: v, kind: kindGroup, g: g})
		}
	}
}

// narrowNames returns, when a filter can only be TRUE for entries whose
// cn or uid equals one of a few names, those names (sorted, folded), so
// that a search for one user does not walk the whole directory. Names are
// lower case in gatehouse, so the folded assertion is the name.
func narrowNames(f *Filter) ([]string, bool) {
	switch f.kind {
	case filterEqual, filterApprox:
		if f.attr == "cn" || f.attr == "uid" {
			return []string{dn.Fold(f.value)}, true
		}
	case filterAnd:
		for _, c := range f.children {
			if names, ok := narrowNames(c); ok {
				return names, true
			}
		}
	case filterOr:
		if len(f.children) == 0 {
			return nil, false
		}
		var all []string
		for _, c := range f.children {
			names, ok := narrowNames(c)
			if !ok {
				return nil, false
			}
			all = append(all, names...)
		}
		sort.Strings(all)
		return slices.Compact(all), true
	}
	return nil, false
}

// remoteEntry is an entry an outpost that searches directly received.
type remoteEntry struct {
	dn    string
	attrs []Attribute
}

func (e remoteEntry) DN() string                 { return e.dn }
func (e remoteEntry) allAttributes() []Attribute { return e.attrs }
