package cli

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/client"
)

// How the API's resources (client's wire types) are shown as tables.
// Table views. Free text (descriptions, event context) comes last so that
// the columns before it stay aligned.

var userView = view[client.User]{
	{"USERNAME", func(u client.User) string { return u.Username }},
	{"TYPE", func(u client.User) string { return u.Type }},
	{"ACTIVE", func(u client.User) string { return yesNo(u.IsActive) }},
	{"NAME", func(u client.User) string { return u.Name }},
	{"EMAIL", func(u client.User) string { return u.Email }},
	{"GROUPS", func(u client.User) string { return listCell(u.Groups) }},
	{"ROLES", func(u client.User) string { return listCell(u.Roles) }},
	{"LAST_LOGIN", func(u client.User) string { return optionalTime(u.LastLoginAt) }},
	{"CREATED", func(u client.User) string { return timeCell(u.CreatedAt) }},
	{"DESCRIPTION", func(u client.User) string { return u.Description }},
}

// serviceAccountView leaves out name and email, which service accounts
// never have.
var serviceAccountView = view[client.User]{
	{"USERNAME", func(u client.User) string { return u.Username }},
	{"ACTIVE", func(u client.User) string { return yesNo(u.IsActive) }},
	{"MANAGED", func(u client.User) string { return yesNo(u.Managed) }},
	{"GROUPS", func(u client.User) string { return listCell(u.Groups) }},
	{"ROLES", func(u client.User) string { return listCell(u.Roles) }},
	{"CREATED", func(u client.User) string { return timeCell(u.CreatedAt) }},
	{"DESCRIPTION", func(u client.User) string { return u.Description }},
}

var meView = view[client.Me]{
	{"USERNAME", func(m client.Me) string { return m.Username }},
	{"TYPE", func(m client.Me) string { return m.Type }},
	{"ACTIVE", func(m client.Me) string { return yesNo(m.IsActive) }},
	{"GROUPS", func(m client.Me) string { return listCell(m.Groups) }},
	{"ROLES", func(m client.Me) string { return listCell(m.Roles) }},
	{"PERMISSIONS", func(m client.Me) string { return listCell(m.Permissions) }},
}

var tokenView = view[client.Token]{
	{"IDENTIFIER", func(t client.Token) string { return t.Identifier }},
	{"USER", func(t client.Token) string { return t.User }},
	{"INTENT", func(t client.Token) string { return t.Intent }},
	{"EXPIRES", func(t client.Token) string { return expiresCell(t.Expiring, t.ExpiresAt) }},
	{"EXPIRED", func(t client.Token) string { return yesNo(t.Expired) }},
	{"EXTENDED", func(t client.Token) string { return yesNo(t.Extended) }},
	{"LAST_USED", func(t client.Token) string { return optionalTime(t.LastUsedAt) }},
	{"CREATED", func(t client.Token) string { return timeCell(t.CreatedAt) }},
	{"CREATED_BY", func(t client.Token) string { return t.CreatedBy }},
	{"DESCRIPTION", func(t client.Token) string { return t.Description }},
}

var groupView = view[client.Group]{
	{"NAME", func(g client.Group) string { return g.Name }},
	{"MEMBERS", func(g client.Group) string { return listCell(g.Members) }},
	{"ROLES", func(g client.Group) string { return listCell(g.Roles) }},
	{"CREATED", func(g client.Group) string { return timeCell(g.CreatedAt) }},
	{"DESCRIPTION", func(g client.Group) string { return g.Description }},
}

var roleView = view[client.Role]{
	{"NAME", func(r client.Role) string { return r.Name }},
	{"BUILTIN", func(r client.Role) string { return yesNo(r.Builtin) }},
	{"PERMISSIONS", func(r client.Role) string { return listCell(r.Permissions) }},
	{"CREATED", func(r client.Role) string { return timeCell(r.CreatedAt) }},
	{"DESCRIPTION", func(r client.Role) string { return r.Description }},
}

var permissionView = view[client.Permission]{
	{"NAME", func(p client.Permission) string { return p.Name }},
	{"SCOPES", func(p client.Permission) string { return listCell(p.Scopes) }},
	{"DESCRIPTION", func(p client.Permission) string { return p.Description }},
}

var permissionNameView = view[string]{
	{"PERMISSION", func(p string) string { return p }},
}

var eventView = view[client.Event]{
	{"ID", func(e client.Event) string { return fmt.Sprint(e.ID) }},
	{"TIME", func(e client.Event) string { return timeCell(e.Time) }},
	{"ACTION", func(e client.Event) string { return e.Action }},
	{"OUTCOME", func(e client.Event) string { return e.Outcome }},
	{"ACTOR", func(e client.Event) string { return e.Actor.Username }},
	{"TARGET", func(e client.Event) string { return targetCell(e.Target) }},
	{"CLIENT_IP", func(e client.Event) string { return e.ClientIP }},
	{"CONTEXT", func(e client.Event) string { return contextCell(e.Context) }},
}

func targetCell(t client.EventTarget) string {
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
