package tfprovider_test

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"

	"github.com/gatehouse/gatehouse/client"
	"github.com/gatehouse/gatehouse/internal/federation/fedtest"
)

// The issuers of these tests have an https:// URL of nowhere and their
// keys inline, so the server, which refuses loopback issuers, fetches
// nothing; the github one fetches only at an exchange, which there is
// none of.

func TestAccOIDCIssuer(t *testing.T) {
	jwks := fedtest.New(t).JWKS()
	eachBackend(t, func(h *harness) {
		cfg := func(body string) string {
			return h.config(`
resource "gatehouse_oidc_issuer" "ci" {
  name       = "ci"
  issuer_url = "https://ci.example.com"
  jwks       = ` + fmt.Sprintf("%q", jwks) + `
` + body + `
}
resource "gatehouse_oidc_issuer" "gh" {
  name = "github"
  kind = "github"
}`)
		}
		const addr, gh = "gatehouse_oidc_issuer.ci", "gatehouse_oidc_issuer.gh"
		first := cfg(`  allowed_algs = ["RS256"]
  leeway       = "30s"`)
		second := cfg(`  allowed_algs  = ["RS256", "ES256"]
  leeway        = "2m"
  shared        = true
  tenant_claims = ["org_id"]`)
		h.run(map[string]func(context.Context) error{
			"issuer ci":     gone(h.c.OIDCIssuers.Get, "ci"),
			"issuer github": gone(h.c.OIDCIssuers.Get, "github"),
		},
			planFails(cfg(`  allowed_algs = ["HS256"]`), `(?s)Invalid allowed_algs.*HMAC`),
			planFails(cfg(`  allowed_algs = ["none"]`), `Invalid allowed_algs`),
			planFails(cfg(`  leeway = "10m"`), `Invalid leeway`),
			planFails(cfg(`  kind = "azure"`), `Invalid Attribute Value Match`),
			planFails(h.config(`resource "gatehouse_oidc_issuer" "x" {
  name       = "Bad Name"
  issuer_url = "ci.example.com"
}`), `(?s)Invalid name.*Invalid issuer_url|Invalid issuer_url.*Invalid name`),
			// What only the server knows, on the attribute.
			resource.TestStep{Config: cfg(`  jwks_url = "https://ci.example.com/keys"`), ExpectError: regexp.MustCompile(`(?s)jwks_url or jwks, not both`)},
			resource.TestStep{Config: h.config(`resource "gatehouse_oidc_issuer" "x" {
  name       = "x"
  issuer_url = "https://127.0.0.1/"
}`), ExpectError: regexp.MustCompile(`(?s)with gatehouse_oidc_issuer.x.*issuer_url`)},
			resource.TestStep{Config: first, Check: resource.ComposeTestCheckFunc(
				resource.TestCheckResourceAttr(addr, "id", "ci"),
				resource.TestCheckResourceAttr(addr, "kind", "generic"),
				resource.TestCheckResourceAttr(addr, "shared", "false"),
				resource.TestCheckResourceAttr(addr, "tenant_claims.#", "0"),
				resource.TestCheckResourceAttr(gh, "issuer_url", "https://token.actions.githubusercontent.com"),
				resource.TestCheckResourceAttr(gh, "shared", "true"),
				resource.TestCheckTypeSetElemAttr(gh, "tenant_claims.*", "repository_owner_id"),
				resource.TestCheckResourceAttr(gh, "leeway", "1m"),
				serverHas(h.c.OIDCIssuers.Get, "ci", func(i client.OIDCIssuer) error {
					if i.Leeway != "30s" || !slices.Equal(i.AllowedAlgs, []string{"RS256"}) || len(i.JWKS) == 0 {
						return fmt.Errorf("server has %+v", i)
					}
					return nil
				}),
			)},
			importStep(addr),
			importStep(gh),
			resource.TestStep{Config: second, ConfigPlanChecks: expect(addr, plancheck.ResourceActionUpdate),
				Check: serverHas(h.c.OIDCIssuers.Get, "ci", func(i client.OIDCIssuer) error {
					if i.Leeway != "2m0s" || len(i.AllowedAlgs) != 2 || !i.Shared || !slices.Equal(i.TenantClaims, []string{"org_id"}) {
						return fmt.Errorf("server has %+v", i)
					}
					return nil
				})},
			h.changedOutside(addr, second, func(ctx context.Context) error {
				_, err := h.c.OIDCIssuers.Update(ctx, "ci", client.OIDCIssuerUpdate{Leeway: ptr("5s"), AllowedAlgs: &[]string{"ES384"}})
				return err
			}, serverHas(h.c.OIDCIssuers.Get, "ci", func(i client.OIDCIssuer) error {
				if i.Leeway != "2m0s" || len(i.AllowedAlgs) != 2 {
					return fmt.Errorf("drift not undone: %+v", i)
				}
				return nil
			})),
			// The kind is fixed at creation.
			resource.TestStep{Config: cfg(`  kind = "kubernetes"`), ConfigPlanChecks: expect(addr, plancheck.ResourceActionDestroyBeforeCreate),
				Check: resource.TestCheckResourceAttr(addr, "kind", "kubernetes")},
			h.deletedOutside(addr, second, func(ctx context.Context) error { return h.c.OIDCIssuers.Delete(ctx, "ci") }),
		)
	})
}

func TestAccTrustPolicy(t *testing.T) {
	eachBackend(t, func(h *harness) {
		cfg := func(body string) string {
			return h.config(`
resource "gatehouse_role" "reader" {
  name        = "reader"
  permissions = ["users.read", "groups.read"]
}
resource "gatehouse_service_account" "deploy" {
  username = "deploy"
  roles    = [gatehouse_role.reader.name]
}
resource "gatehouse_oidc_issuer" "gh" {
  name = "github"
  kind = "github"
}
resource "gatehouse_trust_policy" "p" {
  name            = "site-main"
  issuer          = gatehouse_oidc_issuer.gh.name
  service_account = gatehouse_service_account.deploy.username
` + body + `
}`)
		}
		const addr = "gatehouse_trust_policy.p"
		first := cfg(`  audience    = "https://gatehouse.example.com"
  description = "deploys the site"
  conditions = {
    repository_owner_id = ["1234"]
    ref                 = ["refs/heads/main", "refs/heads/release"]
  }
  permissions   = ["users.read"]
  allowed_cidrs = ["10.0.0.1"]`)
		second := cfg(`  audience = "gatehouse"
  conditions = {
    repository_id = ["42"]
  }
  ttl = "30m"`)
		h.run(map[string]func(context.Context) error{
			"policy": gone(h.c.TrustPolicies.Get, "site-main"),
			"issuer": gone(h.c.OIDCIssuers.Get, "github"),
		},
			planFails(cfg(`  audience = "a"
  conditions = { repository_id = ["1"] }
  ttl = "2h"`), `Invalid ttl`),
			planFails(cfg(`  audience = "a"
  conditions = { repository_id = ["1"] }
  permissions = ["nope.read"]
  allowed_cidrs = ["10.0.0.0/33"]`), `(?s)Invalid permissions.*Invalid allowed_cidrs|Invalid allowed_cidrs.*Invalid permissions`),
			planFails(cfg(`  audience = "a"
  conditions = {}`), `conditions`),
			// The server's refusals, on the attribute: a policy on a shared
			// issuer that does not pin the tenant.
			resource.TestStep{Config: cfg(`  audience = "a"
  conditions = { repository = ["acme/site"] }`), ExpectError: regexp.MustCompile(`(?s)with gatehouse_trust_policy.p.*conditions.*pin`)},
			resource.TestStep{Config: first, Check: resource.ComposeTestCheckFunc(
				resource.TestCheckResourceAttr(addr, "id", "site-main"),
				resource.TestCheckResourceAttr(addr, "ttl", "15m"),
				resource.TestCheckResourceAttr(addr, "conditions.ref.#", "2"),
				serverHas(h.c.TrustPolicies.Get, "site-main", func(p client.TrustPolicy) error {
					if p.Permissions == nil || !slices.Equal(*p.Permissions, []string{"users.read"}) || !slices.Equal(p.AllowedCIDRs, []string{"10.0.0.1/32"}) ||
						!slices.Equal(p.Conditions["ref"], []string{"refs/heads/main", "refs/heads/release"}) || p.ServiceAccount != "deploy" {
						return fmt.Errorf("server has %+v", p)
					}
					return nil
				}),
			)},
			importStep(addr, "allowed_cidrs"),
			resource.TestStep{Config: second, ConfigPlanChecks: expect(addr, plancheck.ResourceActionUpdate),
				Check: serverHas(h.c.TrustPolicies.Get, "site-main", func(p client.TrustPolicy) error {
					if p.Permissions != nil || len(p.AllowedCIDRs) != 0 || p.TTL != "30m0s" || p.Audience != "gatehouse" || len(p.Conditions) != 1 || p.Description != "" {
						return fmt.Errorf("server has %+v", p)
					}
					return nil
				})},
			importStep(addr),
			h.changedOutside(addr, second, func(ctx context.Context) error {
				_, err := h.c.TrustPolicies.Update(ctx, "site-main", client.TrustPolicyUpdate{Audience: ptr("other"),
					Conditions: map[string][]string{"repository_id": {"42"}, "ref": {"refs/heads/dev"}}, Permissions: &client.PermissionsPatch{List: []string{"groups.read"}}})
				return err
			}, serverHas(h.c.TrustPolicies.Get, "site-main", func(p client.TrustPolicy) error {
				if p.Audience != "gatehouse" || len(p.Conditions) != 1 || p.Permissions != nil {
					return fmt.Errorf("drift not undone: %+v", p)
				}
				return nil
			})),
			h.deletedOutside(addr, second, func(ctx context.Context) error { return h.c.TrustPolicies.Delete(ctx, "site-main") }),
		)
	})
}
