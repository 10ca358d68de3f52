// Package authz decides whether a principal may perform an action: deny by
// default, one decision function for every front door.
package authz

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Permission names.
const (
	UsersRead               = "users.read"
	UsersWrite              = "users.write"
	GroupsRead              = "groups.read"
	GroupsWrite             = "groups.write"
	RolesRead               = "roles.read"
	RolesWrite              = "roles.write"
	TokensRead              = "tokens.read"
	TokensWrite             = "tokens.write"
	TokensSelf              = "tokens.self"
	EventsRead              = "events.read"
	LDAPRead                = "ldap.read"
	LDAPSearchFullDirectory = "ldap.search_full_directory"
	LDAPWrite               = "ldap.write"
	ApplicationsRead        = "applications.read"
	ApplicationsWrite       = "applications.write"
	BrandWrite              = "brand.write"
	FederationRead          = "federation.read"
	FederationWrite         = "federation.write"
)

// Scope kinds: the objects a permission may be narrowed to.
const (
	KindGroup       = "group"
	KindLDAP        = "ldap"
	KindApplication = "application"
)

// AdminRole is the built-in role that holds every permission.
const AdminRole = "admin"

// Definition is one entry of the permission catalogue.
type Definition struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Scopes      []string `json:"scopes"`
}

// Catalogue lists every permission gatehouse knows, sorted by name.
var Catalogue = []Definition{
	{ApplicationsRead, "List and read applications and their bindings.", []string{KindApplication}},
	{ApplicationsWrite, "Create, change and delete applications and their bindings.", []string{KindApplication}},
	{BrandWrite, "Change the brand settings (title, default application).", []string{}},
	{EventsRead, "Read the audit log.", []string{}},
	{FederationRead, "List and read OIDC issuers and trust policies; test an ID token against the policies.", []string{}},
	{FederationWrite, "Create, change and delete OIDC issuers and trust policies. A policy hands its service account's power to matching ID tokens: only for accounts that hold no more than the actor.", []string{}},
	{GroupsRead, "List and read groups and their members.", []string{KindGroup}},
	{GroupsWrite, "Create, change and delete groups; add and remove members. Scoped to a group: manage that group's members.", []string{KindGroup}},
	{LDAPRead, "List and read LDAP providers and their outposts; read a provider's directory view (the users, e-mail addresses and groups it shows). Scoped to a provider: that provider.", []string{KindLDAP}},
	{LDAPSearchFullDirectory, "Search the whole directory over LDAP, not only the bound entry.", []string{KindLDAP}},
	{LDAPWrite, "Create, change and delete LDAP providers; register, rotate and delete their outposts. Scoped to a provider: that provider's settings and outposts.", []string{KindLDAP}},
	{RolesRead, "List and read roles and their assignments.", []string{}},
	{RolesWrite, "Create, change and delete roles; assign and unassign them. Whoever holds it can grant any permission.", []string{}},
	{TokensRead, "List and read anyone's tokens and app passwords (never their keys); introspect tokens. Scoped to a group: its members' tokens.", []string{KindGroup}},
	{TokensSelf, "Create and rotate one's own tokens and app passwords.", []string{}},
	{TokensWrite, "Create, rotate, change and revoke anyone's tokens and app passwords. Scoped to a group: its members' tokens.", []string{KindGroup}},
	{UsersRead, "List and read users and service accounts.", []string{}},
	{UsersWrite, "Create, change, disable and delete users and service accounts; set passwords and direct permissions.", []string{}},
}

var byName = func() map[string]Definition {
	m := make(map[string]Definition, len(Catalogue))
	for _, d := range Catalogue {
		m[d.Name] = d
	}
	return m
}()

// NameRule is the naming rule of users, service accounts, groups, roles,
// LDAP providers and applications: lower case, so that names are safe in
// LDAP DNs and URLs. What follows "kind/" in a scoped permission is the
// name of a group, an LDAP provider or an application, so it follows the
// rule too: anything else could never match an object.
var NameRule = regexp.MustCompile(`^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$`)

// NameRuleText states NameRule for people.
const NameRuleText = "1-63 characters of a-z, 0-9, '.', '_' and '-', starting and ending with a letter or digit"

// Permission is a parsed permission string: "name" or "name@kind/object".
type Permission struct {
	Name   string
	Kind   string // "" when unscoped
	Object string
}

func (p Permission) String() string {
	if p.Kind == "" {
		return p.Name
	}
	return p.Name + "@" + p.Kind + "/" + p.Object
}

// ParsePermission parses and validates a permission against the catalogue.
func ParsePermission(s string) (Permission, error) {
	name, scope, scoped := strings.Cut(s, "@")
	def, ok := byName[name]
	if !ok {
		return Permission{}, fmt.Errorf("unknown permission %q (see GET /api/v1/permissions)", truncate(name))
	}
	if !scoped {
		return Permission{Name: name}, nil
	}
	kind, object, ok := strings.Cut(scope, "/")
	if !ok || object == "" {
		return Permission{}, fmt.Errorf("scope of %q must be written kind/object", name)
	}
	allowed := false
	for _, k := range def.Scopes {
		allowed = allowed || k == kind
	}
	if !allowed {
		if len(def.Scopes) == 0 {
			return Permission{}, fmt.Errorf("permission %q cannot be scoped", name)
		}
		return Permission{}, fmt.Errorf("permission %q can be scoped to %s, not %q", name, strings.Join(def.Scopes, ", "), truncate(kind))
	}
	if !NameRule.MatchString(object) {
		return Permission{}, fmt.Errorf("scope object %q is not a valid name: names are %s", truncate(object), NameRuleText)
	}
	return Permission{Name: name, Kind: kind, Object: object}, nil
}

// NormalizePermissions parses, de-duplicates and sorts a permission list.
// It returns one error message per bad entry, indexed by position.
func NormalizePermissions(in []string) ([]string, map[int]string) {
	seen := make(map[string]bool, len(in))
	out := make([]string, 0, len(in))
	var bad map[int]string
	for i, s := range in {
		p, err := ParsePermission(s)
		if err != nil {
			if bad == nil {
				bad = map[int]string{}
			}
			bad[i] = err.Error()
			continue
		}
		if k := p.String(); !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out, bad
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// AllPermissions is every catalogue permission, unscoped: what admin holds.
func AllPermissions() []string {
	out := make([]string, len(Catalogue))
	for i, d := range Catalogue {
		out[i] = d.Name
	}
	return out
}
