package cli

import (
	"context"
	"fmt"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/client"
)

// subjectUsage explains a command's own --user, which shadows the global
// login flag.
const subjectUsage = "; on this command --user is not a login, so give a password login with " + EnvUser

func (a *app) tokenCmd() *cobra.Command {
	r := tokens
	c := group("token", "Manage API tokens and app passwords",
		a.tokenCreateCmd(),
		r.listCmd(a, 0,
			textFilter("user", "user", "only tokens of this user"+subjectUsage),
			filter{flag: "intent", param: "intent", usage: "only tokens of this intent", value: newEnum("", "api", "app_password")},
			filter{flag: "expiring-within", param: "expiring_within", usage: "only tokens expiring within this duration", value: new(durationValue)},
		),
		r.getCmd(a),
		a.tokenRotateCmd(),
		a.tokenRevokeCmd(),
		a.tokenExchangeCmd(),
	)
	c.Aliases = []string{"tokens"}
	return c
}

func (a *app) tokenCreateCmd() *cobra.Command {
	var (
		req       client.TokenCreate
		intent    = newEnum("api", "api", "app_password")
		ttl       durationValue
		expiresAt timeValue
		maxAge    durationValue
		noExpiry  bool
	)
	c := &cobra.Command{
		Use:   "create",
		Short: "Create an API token or app password",
		Long: `Create an API token or app password, for yourself or for --owner
(without it, standard error says whose the token is).

The new key is printed alone on standard output, once, so that
KEY=$(gatehouse token create ...) captures it; a summary goes to standard
error. With -o json the whole answer is printed instead.`,
		Args: cobra.NoArgs,
	}
	f := c.Flags()
	f.StringVar(&req.User, "owner", "", "the account the token is for (default: you)")
	f.StringVar(&req.User, "user", "", "the same as --owner (kept for scripts; prefer --owner)"+subjectUsage)
	c.MarkFlagsMutuallyExclusive("owner", "user")
	f.Var(intent, "intent", "what the key is for")
	f.Var(&ttl, "ttl", "expires after this long (default 30 days, set by the server)")
	f.Var(&expiresAt, "expires-at", "expires at this RFC 3339 time")
	f.BoolVar(&noExpiry, "no-expiry", false, "never expires")
	f.BoolVar(&req.Extended, "extended", false, "each use moves the expiry to last use + --max-age")
	f.Var(&maxAge, "max-age", "with --extended: how long the token lives after its last use")
	f.StringVar(&req.Description, "description", "", "what the token is for")
	f.StringVar(&req.Identifier, "identifier", "", "the token's identifier (default: generated)")
	var perms []string
	var noPerms bool
	f.StringArrayVar(&perms, "permission", nil, "least privilege: a permission the token may use, among its owner's (repeat; default: all of the owner's)")
	f.BoolVar(&noPerms, "no-permissions", false, "least privilege: a key that proves who it is and can do nothing else")
	f.StringArrayVar(&req.AllowedCIDRs, "allow-cidr", nil, "least privilege: a network (or address) the key may be used from (repeat; default: anywhere)")
	f.StringArrayVar(&req.Applications, "application", nil, "least privilege: an application the key opens at forward-auth (repeat; default: any)")
	f.StringArrayVar(&req.LDAPProviders, "ldap-provider", nil, "least privilege: an LDAP provider the key binds at (repeat; default: any)")
	c.MarkFlagsMutuallyExclusive("permission", "no-permissions")
	c.MarkFlagsMutuallyExclusive("ttl", "expires-at", "no-expiry", "extended")
	c.PreRunE = func(cmd *cobra.Command, _ []string) error {
		switch hasMaxAge := cmd.Flags().Changed("max-age"); {
		case req.Extended && !hasMaxAge:
			return usagef("--extended requires --max-age")
		case hasMaxAge && !req.Extended:
			return usagef("--max-age is only allowed with --extended")
		}
		return nil
	}
	return a.leaf(c, func(ctx context.Context, s *session, _ []string) error {
		if c.Flags().Changed("user") && !s.json {
			fmt.Fprintln(s.errOut, "note: on token create, --user names the token's owner (it does not sign you in); prefer --owner")
		}
		req.Intent = intent.String()
		req.TTL, req.ExpiresAt, req.MaxAge = ttl.String(), expiresAt.String(), maxAge.String()
		switch {
		case noPerms:
			req.Permissions = &[]string{}
		case len(perms) > 0:
			req.Permissions = &perms
		}
		if noExpiry {
			req.Expiring = new(false)
		}
		return send(ctx, s, http.MethodPost, tokens.path(), req, func(t client.Token) error {
			if req.User == "" {
				// The caller gets the key: say so, lest it be taken for a
				// service account's.
				fmt.Fprintf(s.errOut, "gatehouse: no --owner given: the token is for %s (you)\n", t.User)
			}
			fmt.Fprintf(s.errOut, "created %s %q of %q, expires %s; its key is on standard output and is not shown again\n",
				intentNoun(t.Intent), t.Identifier, t.User, cell(expiresCell(t.Expiring, t.ExpiresAt)))
			return printKey(s, t.Key)
		})
	})
}

func (a *app) tokenRevokeCmd() *cobra.Command {
	c := &cobra.Command{
		Use:     "revoke ID",
		Aliases: []string{"delete"},
		Short:   "Revoke a token at once: its next use is refused",
		Args:    cobra.ExactArgs(1),
	}
	return a.leaf(c, func(ctx context.Context, s *session, args []string) error {
		return confirm(ctx, s, http.MethodDelete, tokens.path(args[0]), nil, fmt.Sprintf("revoked token %q", args[0]))
	})
}

func (a *app) tokenRotateCmd() *cobra.Command {
	var grace durationValue
	c := &cobra.Command{
		Use:   "rotate ID",
		Short: "Issue a new key for a token; the old key works for --grace more",
		Long: `Issue a new key for a token. The old key keeps working for --grace
(default: not at all), then never again.

The new key is printed alone on standard output (the whole answer with -o json).`,
		Args: cobra.ExactArgs(1),
	}
	c.Flags().Var(&grace, "grace", "how long the old key keeps working (default 0s)")
	return a.leaf(c, func(ctx context.Context, s *session, args []string) error {
		body := map[string]string{}
		if grace.text != "" {
			body["grace"] = grace.text
		}
		return send(ctx, s, http.MethodPost, tokens.path(args[0], "rotate"), body, func(t client.Token) error {
			old := "the old key no longer works"
			if grace.d > 0 {
				old = "the old key works for " + grace.text + " more"
			}
			fmt.Fprintf(s.errOut, "rotated %s %q, expires %s; %s\n",
				intentNoun(t.Intent), t.Identifier, cell(expiresCell(t.Expiring, t.ExpiresAt)), old)
			return printKey(s, t.Key)
		})
	})
}

// intentNoun names a token by its intent, for messages.
func intentNoun(intent string) string {
	switch intent {
	case "api":
		return "API token"
	case "app_password":
		return "app password"
	}
	return "token"
}
