package tfprovider_test

import (
	"context"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"

	"github.com/gatehouse/gatehouse/client"
)

func TestAccApplicationAndBindings(t *testing.T) {
	eachBackend(t, func(h *harness) {
		cfg := func(app, binding string) string {
			return h.config(`
resource "gatehouse_group" "ci" { name = "ci" }
resource "gatehouse_service_account" "intern" { username = "intern" }
resource "gatehouse_application" "site" {
  slug = "ci-site"
  ` + app + `
}
resource "gatehouse_application_binding" "group" {
  application = gatehouse_application.site.slug
  group       = gatehouse_group.ci.name
}
resource "gatehouse_application_binding" "intern" {
  application = gatehouse_application.site.slug
  username    = gatehouse_service_account.intern.username
  ` + binding + `
}`)
		}
		first := cfg(`name = "CI artefacts"`, `negate = true`)
		second := cfg(`name = "CI"
  url = "https://ci.example.org/"
  policy_engine_mode = "all"`, `negate = true
  order = -1`)
		const app, bind = "gatehouse_application.site", "gatehouse_application_binding.intern"
		h.run(map[string]func(context.Context) error{
			"application": gone(h.c.Applications.Get, "ci-site"),
		},
			planFails(cfg(`name = "x"
  policy_engine_mode = "some"`, ``), `policy_engine_mode`),
			planFails(h.config(`resource "gatehouse_application" "a" {
  slug = "CI site"
  name = "x"
}`), `Invalid slug`),
			resource.TestStep{Config: first, Check: resource.ComposeTestCheckFunc(
				resource.TestCheckResourceAttr(app, "policy_engine_mode", "any"),
				resource.TestCheckResourceAttr(bind, "id", "ci-site/user/intern"),
				resource.TestCheckResourceAttr(bind, "order", "0"),
				resource.TestCheckResourceAttr("gatehouse_application_binding.group", "id", "ci-site/group/ci"),
			)},
			importStep(app),
			importStep(bind),
			importStep("gatehouse_application_binding.group"),
			resource.TestStep{Config: second, ConfigPlanChecks: expectEach(map[string]plancheck.ResourceActionType{
				app: plancheck.ResourceActionUpdate, bind: plancheck.ResourceActionUpdate,
			})},
			resource.TestStep{
				PreConfig: h.must("change outside", func(ctx context.Context) error {
					if _, err := h.c.Applications.Update(ctx, "ci-site", client.ApplicationInput{Name: ptr("renamed")}); err != nil {
						return err
					}
					_, err := h.c.Applications.Bind(ctx, "ci-site", client.SubjectUsers, "intern", client.BindingInput{Order: ptr(5), Negate: ptr(false)})
					return err
				}),
				Config: second, ConfigPlanChecks: expectEach(map[string]plancheck.ResourceActionType{
					app: plancheck.ResourceActionUpdate, bind: plancheck.ResourceActionUpdate,
				}),
			},
			h.deletedOutside("gatehouse_application_binding.group", second, func(ctx context.Context) error {
				return h.c.Applications.Unbind(ctx, "ci-site", client.SubjectGroups, "ci")
			}),
			resource.TestStep{
				PreConfig: h.must("delete outside", func(ctx context.Context) error { return h.c.Applications.Delete(ctx, "ci-site") }),
				Config:    second, ConfigPlanChecks: expectEach(map[string]plancheck.ResourceActionType{
					app: plancheck.ResourceActionCreate, bind: plancheck.ResourceActionCreate,
				}),
			},
		)
	})
}

func TestAccLDAPProvider(t *testing.T) {
	eachBackend(t, func(h *harness) {
		cfg := func(body string) string {
			return h.config(`
resource "gatehouse_group" "readers" { name = "ldap-readers" }
resource "gatehouse_ldap_provider" "corp" {
  name    = "corp"
  base_dn = "dc=example,dc=com"
  ` + body + `
}
# The server stores DC=... as dc=...: the configuration's spelling stays,
# and no plan shows a change.
resource "gatehouse_ldap_provider" "legacy" {
  name    = "legacy"
  base_dn = "DC=Example, DC=org"
}`)
		}
		const addr = "gatehouse_ldap_provider.corp"
		second := cfg(`upn_domain = "example.com"
  bind_mode    = "cached"
  search_group = gatehouse_group.readers.name`)
		h.run(map[string]func(context.Context) error{
			"provider": gone(h.c.LDAPProviders.Get, "corp"),
		},
			planFails(h.config(`resource "gatehouse_ldap_provider" "x" {
  name    = "x"
  base_dn = "not a dn"
}`), `Invalid base_dn`),
			planFails(cfg(`search_mode = "sometimes"`), `search_mode`),
			// The server's 400 names the field: the error is on the attribute.
			resource.TestStep{Config: cfg(`search_group = "no-such-group"`), ExpectError: regexp.MustCompile(`(?s)Cannot create LDAP provider "corp".*search_group\s*= "no-such-group"`)},
			resource.TestStep{Config: cfg(``), Check: resource.ComposeTestCheckFunc(
				resource.TestCheckResourceAttr(addr, "bind_mode", "direct"),
				resource.TestCheckResourceAttr(addr, "search_mode", "cached"),
				resource.TestCheckResourceAttr("gatehouse_ldap_provider.legacy", "base_dn", "DC=Example, DC=org"),
			)},
			importStep(addr),
			resource.TestStep{Config: second, ConfigPlanChecks: expect(addr, plancheck.ResourceActionUpdate)},
			h.changedOutside(addr, second, func(ctx context.Context) error {
				_, err := h.c.LDAPProviders.Update(ctx, "corp", client.LDAPProviderInput{SearchMode: ptr("direct"), BaseDN: ptr("dc=example,dc=net")})
				return err
			}, resource.TestCheckResourceAttr(addr, "base_dn", "dc=example,dc=com")),
			h.deletedOutside(addr, second, func(ctx context.Context) error { return h.c.LDAPProviders.Delete(ctx, "corp") }),
		)
	})
}
