package cli

import (
	"context"
	"fmt"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/client"
)

var ldapProviderView = view[client.LDAPProvider]{
	{"NAME", func(p client.LDAPProvider) string { return p.Name }},
	{"BASE_DN", func(p client.LDAPProvider) string { return p.BaseDN }},
	{"SEARCH_GROUP", func(p client.LDAPProvider) string { return p.SearchGroup }},
	{"BIND_MODE", func(p client.LDAPProvider) string { return p.BindMode }},
	{"SEARCH_MODE", func(p client.LDAPProvider) string { return p.SearchMode }},
	{"UPN_DOMAIN", func(p client.LDAPProvider) string { return p.UPNDomain }},
	{"OUTPOSTS", func(p client.LDAPProvider) string { return listCell(p.Outposts) }},
	{"CREATED", func(p client.LDAPProvider) string { return timeCell(p.CreatedAt) }},
}

var outpostView = view[client.Outpost]{
	{"NAME", func(o client.Outpost) string { return o.Name }},
	{"PROVIDER", func(o client.Outpost) string { return o.Provider }},
	{"USER", func(o client.Outpost) string { return o.User }},
	{"TOKEN", func(o client.Outpost) string {
		if o.Token == nil {
			return ""
		}
		return o.Token.Identifier
	}},
	{"EXPIRES", func(o client.Outpost) string {
		if o.Token == nil {
			return ""
		}
		return expiresCell(o.Token.Expiring, o.Token.ExpiresAt)
	}},
	{"LAST_USED", func(o client.Outpost) string {
		if o.Token == nil {
			return ""
		}
		return optionalTime(o.Token.LastUsedAt)
	}},
	{"TOKEN_TTL", func(o client.Outpost) string { return o.TokenTTL }},
	{"CREATED", func(o client.Outpost) string { return timeCell(o.CreatedAt) }},
	{"DESCRIPTION", func(o client.Outpost) string { return o.Description }},
}

func (a *app) ldapProviderCmd() *cobra.Command {
	return ldapProviders.commands(a, "ldap-provider", "Manage LDAP providers (LDAP views of the directory)", []string{"ldap-providers"}, nil,
		a.ldapProviderSetCmd(true), a.ldapProviderSetCmd(false))
}

// ldapProviderSetCmd is "create NAME --base-dn DN ..." or "update NAME ...":
// only the flags given are sent, so the server's defaults apply.
func (a *app) ldapProviderSetCmd(create bool) *cobra.Command {
	var (
		baseDN, searchGroup, upnDomain textValue
		bindMode                       = newEnum("", "direct", "cached")
		searchMode                     = newEnum("", "direct", "cached")
	)
	use, short := "update NAME", "Change an LDAP provider"
	if create {
		use, short = "create NAME", "Create an LDAP provider"
	}
	c := &cobra.Command{Use: use, Short: short, Args: cobra.ExactArgs(1),
		Long: short + `.

Users are cn=USERNAME,ou=users,BASE_DN and groups cn=NAME,ou=groups,BASE_DN.
--search-group limits binds to that group's members; --upn-domain lets
USER@DOMAIN bind as USER. --bind-mode cached lets outposts answer a repeated
successful bind from memory until anything changes; --search-mode direct
makes outposts send every search to the server instead of keeping a copy.`}
	f := c.Flags()
	f.Var(&baseDN, "base-dn", "base DN, such as dc=example,dc=com")
	f.Var(&searchGroup, "search-group", "only members of this group may bind (empty: anyone)")
	f.Var(bindMode, "bind-mode", "what outposts may cache of binds")
	f.Var(searchMode, "search-mode", "whether outposts keep a copy of the directory (cached) or ask the server (direct)")
	f.Var(&upnDomain, "upn-domain", "domain of USER@DOMAIN binds (empty: none)")
	if create {
		_ = c.MarkFlagRequired("base-dn")
	} else {
		c.PreRunE = func(cmd *cobra.Command, _ []string) error {
			for _, n := range []string{"base-dn", "search-group", "bind-mode", "search-mode", "upn-domain"} {
				if cmd.Flags().Changed(n) {
					return nil
				}
			}
			return usagef("nothing to change: give --base-dn, --search-group, --bind-mode, --search-mode or --upn-domain")
		}
	}
	return a.leaf(c, func(ctx context.Context, s *session, args []string) error {
		body := map[string]any{}
		for key, flag := range map[string]string{"base_dn": "base-dn", "search_group": "search-group", "bind_mode": "bind-mode",
			"search_mode": "search-mode", "upn_domain": "upn-domain"} {
			if c.Flags().Changed(flag) {
				body[key] = c.Flags().Lookup(flag).Value.String()
			}
		}
		if create {
			body["name"] = args[0]
			return send(ctx, s, http.MethodPost, ldapProviders.path(), body, ldapProviderView.row(s))
		}
		return send(ctx, s, http.MethodPatch, ldapProviders.path(args[0]), body, ldapProviderView.row(s))
	})
}

func (a *app) outpostCmd() *cobra.Command {
	return outposts.commands(a, "outpost", "Manage LDAP outposts (LDAP front doors in their own process)", []string{"outposts"}, nil,
		a.outpostCreateCmd(), a.outpostRotateCmd())
}

func (a *app) outpostCreateCmd() *cobra.Command {
	var (
		provider, description textValue
		ttl                   durationValue
	)
	c := &cobra.Command{Use: "create NAME", Short: "Register an LDAP outpost and print its key", Args: cobra.ExactArgs(1),
		Long: `Register an LDAP outpost: its managed internal service account (outpost-NAME)
and an expiring API token that the outpost rotates itself.

The key is printed alone on standard output, once, so that
KEY=$(gatehouse outpost create NAME --provider P) captures it; give it to
"gatehouse ldap", preferably in a file named by GATEHOUSE_API_TOKEN_FILE (the
outpost writes its rotated keys back there). With -o json the whole answer is
printed instead.`}
	c.Flags().Var(&provider, "provider", "the LDAP provider it serves")
	c.Flags().Var(&description, "description", "where it runs, what for")
	c.Flags().Var(&ttl, "ttl", "lifetime of its token, renewed at each rotation (default 720h)")
	_ = c.MarkFlagRequired("provider")
	return a.leaf(c, func(ctx context.Context, s *session, args []string) error {
		body := map[string]any{"name": args[0], "provider": provider.String(), "description": description.String()}
		if c.Flags().Changed("ttl") {
			body["ttl"] = ttl.String()
		}
		return send(ctx, s, http.MethodPost, outposts.path(), body, func(created client.CreatedOutpost) error {
			fmt.Fprintf(s.errOut, "registered outpost %q of provider %q as %q; its token %q expires %s; the key is on standard output and is not shown again\n",
				created.Outpost.Name, created.Outpost.Provider, created.Outpost.User, created.Token.Identifier,
				cell(expiresCell(created.Token.Expiring, created.Token.ExpiresAt)))
			return printKey(s, created.Token.Key)
		})
	})
}

func (a *app) outpostRotateCmd() *cobra.Command {
	var grace durationValue
	c := &cobra.Command{Use: "rotate NAME", Short: "Issue a new key for an outpost that lost its own", Args: cobra.ExactArgs(1),
		Long: `Issue a new key for an outpost's token, for an outpost that lost its key or
was stopped past its token's expiry (a running outpost rotates on its own).
The new key is printed alone on standard output; the old one stops working
at once, or after --grace.`}
	c.Flags().Var(&grace, "grace", "how long the old key keeps working (default 0s)")
	return a.leaf(c, func(ctx context.Context, s *session, args []string) error {
		var body any
		if c.Flags().Changed("grace") {
			body = map[string]string{"grace": grace.String()}
		}
		return send(ctx, s, http.MethodPost, outposts.path(args[0], "rotate"), body, func(created client.CreatedOutpost) error {
			return printKey(s, created.Token.Key)
		})
	})
}
