package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/client"
)

var oidcIssuerView = view[client.OIDCIssuer]{
	{"NAME", func(i client.OIDCIssuer) string { return i.Name }},
	{"KIND", func(i client.OIDCIssuer) string { return i.Kind }},
	{"ISSUER_URL", func(i client.OIDCIssuer) string { return i.IssuerURL }},
	{"KEYS", func(i client.OIDCIssuer) string {
		switch {
		case len(i.JWKS) > 0 && string(i.JWKS) != "null":
			return "inline"
		case i.JWKSURL != "":
			return i.JWKSURL
		}
		return "discovered"
	}},
	{"ALGS", func(i client.OIDCIssuer) string { return listCell(i.AllowedAlgs) }},
	{"LEEWAY", func(i client.OIDCIssuer) string { return i.Leeway }},
	{"SHARED", func(i client.OIDCIssuer) string { return fmt.Sprint(i.Shared) }},
	{"TENANT_CLAIMS", func(i client.OIDCIssuer) string { return listCell(i.TenantClaims) }},
	{"CREATED", func(i client.OIDCIssuer) string { return timeCell(i.CreatedAt) }},
}

var trustPolicyView = view[client.TrustPolicy]{
	{"NAME", func(p client.TrustPolicy) string { return p.Name }},
	{"ISSUER", func(p client.TrustPolicy) string { return p.Issuer }},
	{"SERVICE_ACCOUNT", func(p client.TrustPolicy) string { return p.ServiceAccount }},
	{"AUDIENCE", func(p client.TrustPolicy) string { return p.Audience }},
	{"CONDITIONS", func(p client.TrustPolicy) string { return conditionsCell(p.Conditions) }},
	{"PERMISSIONS", func(p client.TrustPolicy) string {
		if p.Permissions == nil {
			return "(the account's)"
		}
		return listCell(*p.Permissions)
	}},
	{"ALLOWED_CIDRS", func(p client.TrustPolicy) string { return listCell(p.AllowedCIDRs) }},
	{"TTL", func(p client.TrustPolicy) string { return p.TTL }},
	{"DESCRIPTION", func(p client.TrustPolicy) string { return p.Description }},
}

func conditionsCell(c map[string][]string) string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + strings.Join(c[k], "|")
	}
	return strings.Join(parts, " ")
}

func (a *app) oidcIssuerCmd() *cobra.Command {
	return oidcIssuers.commands(a, "oidc-issuer", "Manage OIDC issuers whose ID tokens trust policies accept (workload identity federation)",
		[]string{"oidc-issuers"}, nil, a.oidcIssuerSetCmd(true), a.oidcIssuerSetCmd(false))
}

// oidcIssuerSetCmd is "create NAME ..." or "update NAME ...": only the
// flags given are sent.
func (a *app) oidcIssuerSetCmd(create bool) *cobra.Command {
	use, short := "update NAME", "Change an OIDC issuer"
	if create {
		use, short = "create NAME", "Add an OIDC issuer"
	}
	kind := newEnum("", "generic", "github", "gitlab", "kubernetes")
	c := &cobra.Command{Use: use, Short: short, Args: cobra.ExactArgs(1),
		Long: short + `.

--kind github and --kind gitlab are presets: their issuer URL
(https://token.actions.githubusercontent.com, https://gitlab.com), shared,
and the tenant claims every policy must pin (repository_owner_id or
repository_id; namespace_id or project_id). Keys are discovered from the
issuer URL unless --jwks-url or --jwks-file (an inline JWK Set of public keys,
for clusters whose issuer cannot be reached) is given.`}
	f := c.Flags()
	if create {
		f.Var(kind, "kind", "preset: generic (default), github, gitlab or kubernetes")
	}
	f.String("issuer-url", "", "the ID tokens' iss, exactly")
	f.String("jwks-url", "", "where the keys are (default: discovered)")
	f.String("jwks-file", "", "a JWK Set file: the keys, given inline (nothing is fetched); - reads standard input")
	f.StringSlice("allowed-algs", nil, "signature algorithms (default RS256,ES256)")
	f.String("leeway", "", "clock skew allowed on exp, nbf and iat (default 60s, at most 300s)")
	f.Bool("shared", false, "the issuer serves many tenants: policies must pin theirs")
	f.StringSlice("tenant-claims", nil, "generic shared issuers: the claims naming a tenant by an immutable ID")
	if !create {
		c.PreRunE = func(cmd *cobra.Command, _ []string) error {
			for _, n := range []string{"issuer-url", "jwks-url", "jwks-file", "allowed-algs", "leeway", "shared", "tenant-claims"} {
				if cmd.Flags().Changed(n) {
					return nil
				}
			}
			return usagef("nothing to change: give --issuer-url, --jwks-url, --jwks-file, --allowed-algs, --leeway, --shared or --tenant-claims")
		}
	}
	return a.leaf(c, func(ctx context.Context, s *session, args []string) error {
		body := map[string]any{}
		fl := c.Flags()
		for key, flag := range map[string]string{"issuer_url": "issuer-url", "jwks_url": "jwks-url", "leeway": "leeway"} {
			if fl.Changed(flag) {
				body[key] = fl.Lookup(flag).Value.String()
			}
		}
		for key, flag := range map[string]string{"allowed_algs": "allowed-algs", "tenant_claims": "tenant-claims"} {
			if fl.Changed(flag) {
				v, _ := fl.GetStringSlice(flag)
				body[key] = orEmpty(v)
			}
		}
		if fl.Changed("shared") {
			v, _ := fl.GetBool("shared")
			body["shared"] = v
		}
		if fl.Changed("jwks-file") {
			name, _ := fl.GetString("jwks-file")
			raw, err := a.readFileArg(c, name)
			if err != nil {
				return err
			}
			if !json.Valid(raw) {
				return usagef("--jwks-file %s is not JSON", name)
			}
			body["jwks"] = json.RawMessage(raw)
		}
		if create {
			body["name"] = args[0]
			if kind.String() != "" {
				body["kind"] = kind.String()
			}
			return send(ctx, s, http.MethodPost, oidcIssuers.path(), body, oidcIssuerView.row(s))
		}
		return send(ctx, s, http.MethodPatch, oidcIssuers.path(args[0]), body, oidcIssuerView.row(s))
	})
}

// readFileArg reads a file, or standard input for "-".
func (a *app) readFileArg(c *cobra.Command, name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(io.LimitReader(c.InOrStdin(), 1<<20))
	}
	return os.ReadFile(name)
}

func (a *app) trustPolicyCmd() *cobra.Command {
	return trustPolicies.commands(a, "trust-policy", "Manage trust policies: which ID tokens are traded for which service account's tokens",
		[]string{"trust-policies"}, []filter{textFilter("issuer", "issuer", "only this issuer's policies")},
		a.trustPolicySetCmd(true), a.trustPolicySetCmd(false), a.trustPolicyTestCmd())
}

func (a *app) trustPolicySetCmd(create bool) *cobra.Command {
	use, short := "update NAME", "Change a trust policy"
	if create {
		use, short = "create NAME", "Add a trust policy"
	}
	c := &cobra.Command{Use: use, Short: short, Args: cobra.ExactArgs(1),
		Long: short + `.

--condition CLAIM=VALUE is repeatable; several values of one claim are any of
them (CLAIM=A --condition CLAIM=B). Every named claim must be present in the
ID token and equal, exactly. On a shared issuer (github, gitlab) one
condition must pin the tenant by its immutable ID, for example
--condition repository_owner_id=1234567.`}
	f := c.Flags()
	if create {
		f.String("issuer", "", "the OIDC issuer")
		_ = c.MarkFlagRequired("issuer")
	}
	f.String("service-account", "", "the service account whose tokens are minted")
	f.String("audience", "", "the value the ID token's aud must contain")
	f.StringArray("condition", nil, "CLAIM=VALUE (repeatable)")
	f.StringSlice("permissions", nil, "narrow minted tokens to these permissions (default: the account's)")
	f.Bool("all-permissions", false, "update: minted tokens hold all of the account's permissions again")
	f.StringSlice("allowed-cidrs", nil, "networks minted tokens may be used from")
	f.String("ttl", "", "lifetime of minted tokens (default 15m, at most 1h)")
	f.String("description", "", "what it is for")
	if create {
		_ = c.MarkFlagRequired("service-account")
		_ = c.MarkFlagRequired("audience")
		_ = c.MarkFlagRequired("condition")
	} else {
		c.PreRunE = func(cmd *cobra.Command, _ []string) error {
			for _, n := range []string{"service-account", "audience", "condition", "permissions", "all-permissions", "allowed-cidrs", "ttl", "description"} {
				if cmd.Flags().Changed(n) {
					return nil
				}
			}
			return usagef("nothing to change")
		}
	}
	return a.leaf(c, func(ctx context.Context, s *session, args []string) error {
		fl := c.Flags()
		body := map[string]any{}
		for key, flag := range map[string]string{"issuer": "issuer", "service_account": "service-account", "audience": "audience",
			"ttl": "ttl", "description": "description"} {
			if fl.Lookup(flag) != nil && fl.Changed(flag) {
				body[key] = fl.Lookup(flag).Value.String()
			}
		}
		if fl.Changed("condition") {
			conds := map[string][]string{}
			raw, _ := fl.GetStringArray("condition")
			for _, cnd := range raw {
				k, v, ok := strings.Cut(cnd, "=")
				if !ok || k == "" {
					return usagef("--condition %q: write CLAIM=VALUE", cnd)
				}
				conds[k] = append(conds[k], v)
			}
			body["conditions"] = conds
		}
		if fl.Changed("permissions") {
			v, _ := fl.GetStringSlice("permissions")
			body["permissions"] = orEmpty(v)
		} else if all, _ := fl.GetBool("all-permissions"); all && !create {
			body["permissions"] = nil
		}
		if fl.Changed("allowed-cidrs") {
			v, _ := fl.GetStringSlice("allowed-cidrs")
			body["allowed_cidrs"] = orEmpty(v)
		}
		if create {
			body["name"] = args[0]
			return send(ctx, s, http.MethodPost, trustPolicies.path(), body, trustPolicyView.row(s))
		}
		return send(ctx, s, http.MethodPatch, trustPolicies.path(args[0]), body, trustPolicyView.row(s))
	})
}

func (a *app) trustPolicyTestCmd() *cobra.Command {
	var src idTokenSource
	c := &cobra.Command{Use: "test", Short: "Say which trust policies an ID token would match, and why the others do not", Args: cobra.NoArgs,
		Long: `Send an ID token to POST /api/v1/trust-policies/test (federation.read): the
answer says whether the token itself is good (signature, algorithm, times,
jti) and, for each policy of its issuer, whether it matches or which check
fails. The token is neither stored nor logged, and stays good for an exchange.`}
	src.flags(c, false)
	var account string
	c.Flags().StringVar(&account, "service-account", "", "only this account's policies match, as in the exchange")
	return a.leaf(c, func(ctx context.Context, s *session, _ []string) error {
		tok, err := src.read(ctx, a, c)
		if err != nil {
			return err
		}
		body := client.PolicyTest{IDToken: tok, ServiceAccount: account}
		return send(ctx, s, http.MethodPost, "/trust-policies/test", body, func(r client.PolicyTestResult) error {
			switch {
			case r.Refused != "":
				fmt.Fprintf(s.out, "token refused: %s (%s)\n", r.Refused, r.Detail)
			default:
				fmt.Fprintf(s.out, "token verified by issuer %q\n", r.Issuer)
			}
			for _, p := range r.Policies {
				verdict := "matches"
				if !p.Matches {
					verdict = "fails: " + p.Failed
				}
				fmt.Fprintf(s.out, "  %s (%s): %s\n", p.Name, p.ServiceAccount, verdict)
			}
			return nil
		})
	})
}

// idTokenSource is where a command takes its ID token from.
type idTokenSource struct {
	file, env     string
	githubActions bool
	audience      string
}

func (src *idTokenSource) flags(c *cobra.Command, required bool) {
	f := c.Flags()
	f.StringVar(&src.file, "id-token-file", "", "read the ID token from this file (a Kubernetes projected token, say)")
	f.StringVar(&src.env, "id-token-env", "", "read the ID token from this environment variable (GitLab's id_tokens:)")
	f.BoolVar(&src.githubActions, "github-actions", false, "ask the GitHub Actions runner for an ID token (needs permissions: id-token: write)")
	f.StringVar(&src.audience, "audience", "", "with --github-actions: the audience to ask for (the policy's)")
	c.MarkFlagsMutuallyExclusive("id-token-file", "id-token-env", "github-actions")
	if required {
		c.MarkFlagsOneRequired("id-token-file", "id-token-env", "github-actions")
	}
}

func (src *idTokenSource) read(ctx context.Context, a *app, c *cobra.Command) (string, error) {
	if src.audience != "" && !src.githubActions {
		return "", usagef("--audience goes with --github-actions")
	}
	var tok string
	switch {
	case src.file != "":
		raw, err := a.readFileArg(c, src.file)
		if err != nil {
			return "", fmt.Errorf("read the ID token: %w", err)
		}
		tok = string(raw)
	case src.env != "":
		tok = a.env(src.env)
		if tok == "" {
			return "", usagef("%s is empty or not set", src.env)
		}
	case src.githubActions:
		var err error
		if tok, err = a.githubActionsToken(ctx, src.audience); err != nil {
			return "", err
		}
	default:
		return "", usagef("give --id-token-file, --id-token-env or --github-actions")
	}
	return strings.TrimSpace(tok), nil
}

// githubActionsToken asks the runner for an ID token, as
// actions/core's getIDToken does: GET ACTIONS_ID_TOKEN_REQUEST_URL
// (&audience=...) with the request token as Bearer; the answer is
// {"value": "<ID token>"}.
func (a *app) githubActionsToken(ctx context.Context, audience string) (string, error) {
	reqURL, reqToken := a.env("ACTIONS_ID_TOKEN_REQUEST_URL"), a.env("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
	if reqURL == "" || reqToken == "" {
		return "", errors.New("ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set: is this a GitHub Actions job with permissions: id-token: write?")
	}
	u, err := url.Parse(reqURL)
	if err != nil {
		return "", fmt.Errorf("ACTIONS_ID_TOKEN_REQUEST_URL: %w", err)
	}
	if audience != "" {
		q := u.Query()
		q.Set("audience", audience)
		u.RawQuery = q.Encode()
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+reqToken)
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("ask the runner for an ID token: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("ask the runner for an ID token: %s", resp.Status)
	}
	var out struct {
		Value string `json:"value"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.Value == "" {
		return "", errors.New("ask the runner for an ID token: the answer holds no token")
	}
	return out.Value, nil
}

// tokenExchangeCmd is "token exchange": an ID token traded for a
// minted token of a service account, whose key is printed alone.
func (a *app) tokenExchangeCmd() *cobra.Command {
	var (
		src     idTokenSource
		account string
		scope   []string
	)
	c := &cobra.Command{Use: "exchange", Short: "Trade an OIDC ID token for a short-lived token of a service account and print its key",
		Args: cobra.NoArgs,
		Long: `Trade the OIDC ID token of this CI job or pod for a minted API token of a
service account (POST /api/v1/oauth/token, RFC 8693): no credential of
gatehouse is needed, nor stored anywhere. The key is printed alone on
standard output, so that GATEHOUSE_API_TOKEN=$(gatehouse token exchange ...)
captures it; with -o json the whole answer is printed instead.

A refusal is a bare invalid_grant by design: "gatehouse trust-policy test"
(federation.read) says which check failed.`}
	src.flags(c, true)
	c.Flags().StringVar(&account, "service-account", "", "the service account (may be left out when the matching policies all name one)")
	c.Flags().StringSliceVar(&scope, "scope", nil, "narrow the token further to these permissions")
	return a.leaf(c, func(ctx context.Context, s *session, _ []string) error {
		tok, err := src.read(ctx, a, c)
		if err != nil {
			return err
		}
		out, err := s.api.Exchange(ctx, client.ExchangeRequest{IDToken: tok, ServiceAccount: account, Scope: scope})
		if err != nil {
			return err
		}
		if s.json {
			return writeJSON(s.out, out)
		}
		fmt.Fprintf(s.errOut, "minted a token that expires in %ds; the key is on standard output\n", out.ExpiresIn)
		return printKey(s, out.AccessToken)
	})
}
