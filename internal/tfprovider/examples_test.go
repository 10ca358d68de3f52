package tfprovider_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/client"
	"github.com/gatehouse/gatehouse/internal/server/servertest"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
	"github.com/gatehouse/gatehouse/internal/testenv"
	"github.com/gatehouse/gatehouse/internal/tfprovider"
)

// TestExamples applies each example of the documentation as a user
// would: the built provider binary, a dev_overrides CLI configuration
// (so no `tofu init`, no registry), GATEHOUSE_SERVER and
// GATEHOUSE_API_TOKEN; then a second plan must be empty, and destroy
// must remove everything.
func TestExamples(t *testing.T) {
	tofu := testenv.Tofu(t)
	env := servertest.Start(t, storetest.NewSQLite(t))
	c, err := client.New(env.URL, client.WithToken(servertest.AdminToken))
	if err != nil {
		t.Fatal(err)
	}

	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "terraform-provider-gatehouse"), "../../cmd/terraform-provider-gatehouse")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	home := t.TempDir()
	rc := filepath.Join(home, "tofurc")
	if err := os.WriteFile(rc, fmt.Appendf(nil, `provider_installation {
  dev_overrides {
    %q = %q
  }
  direct {}
}
`, tfprovider.Address, bin), 0o600); err != nil {
		t.Fatal(err)
	}
	environ := append(os.Environ(),
		"TF_CLI_CONFIG_FILE="+rc, "HOME="+home, "TF_IN_AUTOMATION=1", "TF_INPUT=0", "NO_COLOR=1",
		client.EnvServer+"="+env.URL, client.EnvAPIToken+"="+servertest.AdminToken)

	for _, ex := range []struct {
		dir     string
		created func(ctx context.Context) error // what apply made, checked through the API
		gone    func(ctx context.Context) error // must be ErrNotFound after destroy
	}{
		{"ci-service-account", func(ctx context.Context) error {
			tok, err := c.Tokens.Get(ctx, "ci-deploy-github")
			// A deploy key of least privilege: one permission, one network.
			if err == nil && (tok.User != "ci-deploy" || tok.Intent != client.IntentAPI || tok.Permissions == nil ||
				!slices.Equal(*tok.Permissions, []string{"applications.write@application/site"}) ||
				!slices.Equal(tok.AllowedCIDRs, []string{"10.20.0.0/16"})) {
				err = fmt.Errorf("token %+v", tok)
			}
			return err
		}, gone(c.ServiceAccounts.Get, "ci-deploy")},
		{"bots-group", func(ctx context.Context) error {
			g, err := c.Groups.Get(ctx, "bots")
			if err == nil && (len(g.Members) != 2 || len(g.Roles) != 1) {
				err = fmt.Errorf("group %+v", g)
			}
			return err
		}, gone(c.Groups.Get, "bots")},
		{"ldap-search-account", func(ctx context.Context) error {
			tok, err := c.Tokens.Get(ctx, "ldapsearch-wiki")
			if err == nil && tok.Intent != client.IntentAppPassword {
				err = fmt.Errorf("token %+v", tok)
			}
			return err
		}, gone(c.LDAPProviders.Get, "corp")},
		{"github-actions-deploy", func(ctx context.Context) error {
			// Made offline: a github issuer's keys are fetched at the
			// first exchange only.
			i, err := c.OIDCIssuers.Get(ctx, "github-actions")
			if err == nil && (i.Kind != "github" || i.IssuerURL != "https://token.actions.githubusercontent.com" || !i.Shared) {
				return fmt.Errorf("issuer %+v", i)
			}
			p, err := c.TrustPolicies.Get(ctx, "site-main-deploy")
			if err == nil && (p.Issuer != "github-actions" || p.ServiceAccount != "gha-site-deploy" || p.TTL != "15m0s" ||
				!slices.Equal(p.Conditions["repository_owner_id"], []string{"1234567"}) ||
				p.Permissions == nil || !slices.Equal(*p.Permissions, []string{"applications.write@application/site"})) {
				err = fmt.Errorf("trust policy %+v", p)
			}
			return err
		}, func(ctx context.Context) error {
			if _, err := c.TrustPolicies.Get(ctx, "site-main-deploy"); !errors.Is(err, client.ErrNotFound) {
				return fmt.Errorf("trust policy: %v", err)
			}
			if _, err := c.ServiceAccounts.Get(ctx, "gha-site-deploy"); !errors.Is(err, client.ErrNotFound) {
				return fmt.Errorf("service account: %v", err)
			}
			_, err := c.OIDCIssuers.Get(ctx, "github-actions")
			return err
		}},
	} {
		t.Run(ex.dir, func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join("../../cmd/terraform-provider-gatehouse/examples", ex.dir, "main.tf")
			data, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "main.tf"), data, 0o600); err != nil {
				t.Fatal(err)
			}
			run := func(want int, args ...string) string {
				t.Helper()
				cmd := exec.Command(tofu, args...)
				cmd.Dir, cmd.Env = dir, environ
				var out bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &out
				err := cmd.Run()
				code := 0
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					code = ee.ExitCode()
				} else if err != nil {
					t.Fatalf("tofu %s: %v", args[0], err)
				}
				if code != want {
					t.Fatalf("tofu %s: exit %d, want %d\n%s", strings.Join(args, " "), code, want, out.String())
				}
				return out.String()
			}
			out := run(0, "apply", "-auto-approve")
			if strings.Contains(out, servertest.AdminToken) || strings.Contains(out, "gat_") || strings.Contains(out, "gap_") {
				t.Errorf("apply printed a secret:\n%s", out)
			}
			ctx := context.Background()
			if err := ex.created(ctx); err != nil {
				t.Fatalf("after apply: %v", err)
			}
			run(0, "plan", "-detailed-exitcode") // 0: nothing to change
			run(0, "destroy", "-auto-approve")
			if err := ex.gone(ctx); !errors.Is(err, client.ErrNotFound) {
				t.Fatalf("after destroy: %v, want not found", err)
			}
		})
	}
}
