package cli

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// The API's resources as this client reads them. They are the wire
// contract of API.md, not the server's own types: the client must keep
// working against an older or newer server, so unknown fields are ignored
// (and kept by -o json, which prints the server's answer itself).

// User is a human user or a service account.
type User struct {
	UID         string     `json:"uid"`
	Username    string     `json:"username"`
	Type        string     `json:"type"`
	Name        string     `json:"name"`
	Email       string     `json:"email"`
	Description string     `json:"description"`
	IsActive    bool       `json:"is_active"`
	Managed     bool       `json:"managed"`
	Groups      []string   `json:"groups"`
	Roles       []string   `json:"roles"`
	CreatedAt   time.Time  `json:"created_at"`
	LastLoginAt *time.Time `json:"last_login_at"`
}

// Me is the caller, as GET /me shows it.
type Me struct {
	UID         string   `json:"uid"`
	Username    string   `json:"username"`
	Type        string   `json:"type"`
	IsActive    bool     `json:"is_active"`
	Groups      []string `json:"groups"`
	Roles       []string `json:"roles"`
	Permissions []string `json:"permissions"`
}

// Token is an API token or app password. Key is set only in the answer
// that creates or rotates it.
type Token struct {
	Identifier  string     `json:"identifier"`
	User        string     `json:"user"`
	Intent      string     `json:"intent"`
	Description string     `json:"description"`
	Expiring    bool       `json:"expiring"`
	ExpiresAt   *time.Time `json:"expires_at"`
	Expired     bool       `json:"expired"`
	Extended    bool       `json:"extended"`
	MaxAge      *string    `json:"max_age"`
	CreatedAt   time.Time  `json:"created_at"`
	CreatedBy   string     `json:"created_by"`
	LastUsedAt  *time.Time `json:"last_used_at"`
	Managed     bool       `json:"managed"`
	Key         string     `json:"key,omitempty"`
}

// CreatedServiceAccount is the answer of POST /service-accounts.
type CreatedServiceAccount struct {
	User  User   `json:"user"`
	Group *Group `json:"group"`
	Token *Token `json:"token"`
}

// Group is a named set of users.
type Group struct {
	UID         string    `json:"uid"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Members     []string  `json:"members"`
	Roles       []string  `json:"roles"`
	CreatedAt   time.Time `json:"created_at"`
}

// Role is a named set of permissions.
type Role struct {
	UID         string    `json:"uid"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Builtin     bool      `json:"builtin"`
	Permissions []string  `json:"permissions"`
	CreatedAt   time.Time `json:"created_at"`
}

// Permission is an entry of the permission catalogue.
type Permission struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Scopes      []string `json:"scopes"`
}

// UserPermissions is the set granted directly to one account.
type UserPermissions struct {
	Permissions []string `json:"permissions"`
}

// Event is one audit record.
type Event struct {
	ID       int64          `json:"id"`
	Time     time.Time      `json:"time"`
	Action   string         `json:"action"`
	Outcome  string         `json:"outcome"`
	Actor    EventActor     `json:"actor"`
	ClientIP string         `json:"client_ip"`
	Target   EventTarget    `json:"target"`
	Context  map[string]any `json:"context"`
}

// EventActor is who acted.
type EventActor struct {
	Username string `json:"username"`
	Type     string `json:"type"`
}

// EventTarget is what an event is about.
type EventTarget struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
}

// Table views. Free text (descriptions, event context) comes last so that
// the columns before it stay aligned.

var userView = view[User]{
	{"USERNAME", func(u User) string { return u.Username }},
	{"TYPE", func(u User) string { return u.Type }},
	{"ACTIVE", func(u User) string { return yesNo(u.IsActive) }},
	{"NAME", func(u User) string { return u.Name }},
	{"EMAIL", func(u User) string { return u.Email }},
	{"GROUPS", func(u User) string { return listCell(u.Groups) }},
	{"ROLES", func(u User) string { return listCell(u.Roles) }},
	{"LAST_LOGIN", func(u User) string { return optionalTime(u.LastLoginAt) }},
	{"CREATED", func(u User) string { return timeCell(u.CreatedAt) }},
	{"DESCRIPTION", func(u User) string { return u.Description }},
}

// serviceAccountView leaves out name and email, which service accounts
// never have.
var serviceAccountView = view[User]{
	{"USERNAME", func(u User) string { return u.Username }},
	{"ACTIVE", func(u User) string { return yesNo(u.IsActive) }},
	{"MANAGED", func(u User) string { return yesNo(u.Managed) }},
	{"GROUPS", func(u User) string { return listCell(u.Groups) }},
	{"ROLES", func(u User) string { return listCell(u.Roles) }},
	{"CREATED", func(u User) string { return timeCell(u.CreatedAt) }},
	{"DESCRIPTION", func(u User) string { return u.Description }},
}

var meView = view[Me]{
	{"USERNAME", func(m Me) string { return m.Username }},
	{"TYPE", func(m Me) string { return m.Type }},
	{"ACTIVE", func(m Me) string { return yesNo(m.IsActive) }},
	{"GROUPS", func(m Me) string { return listCell(m.Groups) }},
	{"ROLES", func(m Me) string { return listCell(m.Roles) }},
	{"PERMISSIONS", func(m Me) string { return listCell(m.Permissions) }},
}

var tokenView = view[Token]{
	{"IDENTIFIER", func(t Token) string { return t.Identifier }},
	{"USER", func(t Token) string { return t.User }},
	{"INTENT", func(t Token) string { return t.Intent }},
	{"EXPIRES", func(t Token) string { return expiresCell(t.Expiring, t.ExpiresAt) }},
	{"EXPIRED", func(t Token) string { return yesNo(t.Expired) }},
	{"EXTENDED", func(t Token) string { return yesNo(t.Extended) }},
	{"LAST_USED", func(t Token) string { return optionalTime(t.LastUsedAt) }},
	{"CREATED", func(t Token) string { return timeCell(t.CreatedAt) }},
	{"CREATED_BY", func(t Token) string { return t.CreatedBy }},
	{"DESCRIPTION", func(t Token) string { return t.Description }},
}

var groupView = view[Group]{
	{"NAME", func(g Group) string { return g.Name }},
	{"MEMBERS", func(g Group) string { return listCell(g.Members) }},
	{"ROLES", func(g Group) string { return listCell(g.Roles) }},
	{"CREATED", func(g Group) string { return timeCell(g.CreatedAt) }},
	{"DESCRIPTION", func(g Group) string { return g.Description }},
}

var roleView = view[Role]{
	{"NAME", func(r Role) string { return r.Name }},
	{"BUILTIN", func(r Role) string { return yesNo(r.Builtin) }},
	{"PERMISSIONS", func(r Role) string { return listCell(r.Permissions) }},
	{"CREATED", func(r Role) string { return timeCell(r.CreatedAt) }},
	{"DESCRIPTION", func(r Role) string { return r.Description }},
}

var permissionView = view[Permission]{
	{"NAME", func(p Permission) string { return p.Name }},
	{"SCOPES", func(p Permission) string { return listCell(p.Scopes) }},
	{"DESCRIPTION", func(p Permission) string { return p.Description }},
}

var permissionNameView = view[string]{
	{"PERMISSION", func(p string) string { return p }},
}

var eventView = view[Event]{
	{"ID", func(e Event) string { return fmt.Sprint(e.ID) }},
	{"TIME", func(e Event) string { return timeCell(e.Time) }},
	{"ACTION", func(e Event) string { return e.Action }},
	{"OUTCOME", func(e Event) string { return e.Outcome }},
	{"ACTOR", func(e Event) string { return e.Actor.Username }},
	{"TARGET", func(e Event) string { return targetCell(e.Target) }},
	{"CLIENT_IP", func(e Event) string { return e.ClientIP }},
	{"CONTEXT", func(e Event) string { return contextCell(e.Context) }},
}

func targetCell(t EventTarget) string {
	if t.Name == "" {
		return t.Kind
	}
	return t.Kind + "/" + t.Name
}

// contextCell shows an event's context as key=value pairs, sorted by key.
func contextCell(c map[string]any) string {
	pairs := make([]string, 0, len(c))
	for _, k := range slices.Sorted(maps.Keys(c)) {
		v, ok := c[k].(string)
		if !ok {
			b, _ := json.Marshal(c[k])
			v = string(b)
		}
		pairs = append(pairs, k+"="+v)
	}
	return strings.Join(pairs, " ")
}
