package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/client"
)

func (a *app) serviceAccountCmd() *cobra.Command {
	r := serviceAccounts
	return r.commands(a, "sa", "Manage service accounts", []string{"service-account", "service-accounts"},
		[]filter{textFilter("search", "search", "only accounts whose name or description holds this text")},
		a.serviceAccountCreateCmd(), r.activeCmd(a, false), r.activeCmd(a, true))
}

func (a *app) serviceAccountCreateCmd() *cobra.Command {
	var (
		// expiring and expires_at are left out unless asked for, so
		// that the server's defaults apply and token_intent none is
		// accepted.
		req       client.ServiceAccountCreate
		intent    = newEnum("app_password", "app_password", "api", "none")
		expiresAt timeValue
		ttl       durationValue
		noExpiry  bool
	)
	c := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a service account and its first credential",
		Long: `Create a service account, optionally its own group, its memberships and roles,
and a first credential (an app password unless --token-intent says otherwise).

The new key is printed alone on standard output, once, so that
KEY=$(gatehouse sa create NAME) captures it; a summary goes to standard error.
With -o json the whole answer is printed instead.`,
		Args: cobra.ExactArgs(1),
	}
	f := c.Flags()
	f.StringVar(&req.Description, "description", "", "what the account is for")
	f.StringArrayVar(&req.Groups, "group", nil, "join this existing group (repeatable)")
	f.StringArrayVar(&req.Roles, "role", nil, "assign this role directly (repeatable)")
	f.BoolVar(&req.CreateGroup, "create-group", false, "also create a group of the same name holding the account")
	f.Var(intent, "token-intent", "first credential to make")
	f.Var(&expiresAt, "expires-at", "the credential expires at this RFC 3339 time")
	f.Var(&ttl, "ttl", "the credential expires after this long (default 360 days, set by the server)")
	f.BoolVar(&noExpiry, "no-expiry", false, "the credential never expires")
	c.MarkFlagsMutuallyExclusive("expires-at", "ttl", "no-expiry")
	c.PreRunE = func(cmd *cobra.Command, _ []string) error {
		lifeGiven := cmd.Flags().Changed("expires-at") || cmd.Flags().Changed("ttl") || noExpiry
		if intent.String() == "none" && lifeGiven {
			return usagef("--expires-at, --ttl and --no-expiry need a credential, and --token-intent is none")
		}
		return nil
	}
	return a.leaf(c, func(ctx context.Context, s *session, args []string) error {
		req.Username = args[0]
		req.TokenIntent = intent.String()
		req.Groups, req.Roles = orEmpty(req.Groups), orEmpty(req.Roles)
		switch {
		case noExpiry:
			req.Expiring = new(false)
		case c.Flags().Changed("expires-at"):
			req.ExpiresAt = expiresAt.String()
		case c.Flags().Changed("ttl"):
			// The contract of POST /service-accounts has expires_at only.
			req.ExpiresAt = a.now().Add(ttl.d).UTC().Format(time.RFC3339)
		}
		return send(ctx, s, http.MethodPost, serviceAccounts.path(), req, func(created client.CreatedServiceAccount) error {
			describeServiceAccount(s.errOut, created)
			if created.Token == nil {
				return nil
			}
			return printKey(s, created.Token.Key)
		})
	})
}

// describeServiceAccount tells a person what was made, on standard error.
func describeServiceAccount(w io.Writer, c client.CreatedServiceAccount) {
	fmt.Fprintf(w, "created service account %q\n", c.User.Username)
	if c.Group != nil {
		fmt.Fprintf(w, "created group %q\n", c.Group.Name)
	}
	if t := c.Token; t != nil {
		fmt.Fprintf(w, "created %s %q, expires %s; its key is on standard output and is not shown again\n",
			intentNoun(t.Intent), t.Identifier, cell(expiresCell(t.Expiring, t.ExpiresAt)))
	}
}
