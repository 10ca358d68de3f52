package cli

import "github.com/gatehouse/gatehouse/client"

// The API's collections that the commands address, how their items are
// shown (views.go and the resource's file), and the fields their create
// and update commands set.
var (
	users           = resource[client.User]{noun: "user", plural: "users", collection: "users", arg: "NAME", view: userView}
	serviceAccounts = resource[client.User]{noun: "service account", plural: "service accounts", collection: "service-accounts", arg: "NAME", view: serviceAccountView}
	groups          = resource[client.Group]{noun: "group", plural: "groups", collection: "groups", arg: "NAME", view: groupView}
	roles           = resource[client.Role]{noun: "role", plural: "roles", collection: "roles", arg: "NAME", view: roleView}
	permissions     = resource[client.Permission]{noun: "permission", plural: "permissions of the catalogue", collection: "permissions", arg: "NAME", view: permissionView}
	tokens          = resource[client.Token]{noun: "token", plural: "tokens and app passwords", collection: "tokens", arg: "ID", view: tokenView}
	events          = resource[client.Event]{noun: "event", plural: "audit events, newest first", collection: "events", arg: "ID", view: eventView}
	applications    = resource[client.Application]{noun: "application", plural: "applications", collection: "applications", arg: "SLUG", view: applicationView}
	ldapProviders   = resource[client.LDAPProvider]{noun: "LDAP provider", plural: "LDAP providers", collection: "ldap-providers", arg: "NAME", view: ldapProviderView}
	outposts        = resource[client.Outpost]{noun: "outpost", plural: "outposts", collection: "outposts", arg: "NAME", view: outpostView}
	oidcIssuers     = resource[client.OIDCIssuer]{noun: "OIDC issuer", plural: "OIDC issuers", collection: "oidc-issuers", arg: "NAME", view: oidcIssuerView}
	trustPolicies   = resource[client.TrustPolicy]{noun: "trust policy", plural: "trust policies", collection: "trust-policies", arg: "NAME", view: trustPolicyView}
)

// userFields are the personal fields of a human user.
var userFields = []field{
	{flag: "name", key: "name", usage: "full name"},
	{flag: "email", key: "email", usage: "email address"},
	{flag: "description", key: "description", usage: "what the account is for"},
}

var groupFields = []field{
	{flag: "description", key: "description", usage: "what the group is for"},
}

var roleFields = []field{
	{flag: "description", key: "description", usage: "what the role is for"},
	{flag: "permission", key: "permissions", usage: "a permission the role holds (repeatable; on update, replaces the list)", list: true},
}

var applicationFields = []field{
	{flag: "name", key: "name", usage: "the name people see"},
	{flag: "url", key: "url", usage: "where the application is used: an http:// or https:// URL (\"\" for none)"},
	{flag: "description", key: "description", usage: "what the application is"},
}

var brandFields = []field{
	{flag: "title", key: "title", usage: "title of the web interface"},
	{flag: "default-application", key: "default_application", usage: "slug of the application service accounts are sent to (\"\" for none)"},
}
