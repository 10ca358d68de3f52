package tfprovider_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/gatehouse/gatehouse/client"
)

func TestAccToken(t *testing.T) {
	eachBackend(t, func(h *harness) {
		cfg := func(desc, trigger string) string {
			return h.config(`
resource "gatehouse_service_account" "bot" { username = "bot" }
resource "gatehouse_token" "ci" {
  user            = gatehouse_service_account.bot.username
  identifier      = "bot-ci"
  description     = "` + desc + `"
  ttl             = "720h"
  rotate_triggers = { generation = "` + trigger + `" }
}
# A fixed expiry, written with an offset: the server's UTC spelling of
# the same instant is no change.
resource "gatehouse_token" "ldap" {
  user       = gatehouse_service_account.bot.username
  identifier = "bot-ldap"
  intent     = "app_password"
  expires_at = "2031-06-01T02:00:00+02:00"
}
# max_age comes back as 720h0m0s: no change either.
resource "gatehouse_token" "extended" {
  user     = gatehouse_service_account.bot.username
  extended = true
  max_age  = "720h"
}
resource "gatehouse_token" "forever" {
  user     = gatehouse_service_account.bot.username
  expiring = false
}`)
		}
		bad := func(body string) resource.TestStep {
			return resource.TestStep{Config: h.config(`resource "gatehouse_token" "x" {
  ` + body + `
}`), PlanOnly: true}
		}
		const addr = "gatehouse_token.ci"
		var keys []string
		keyOf := func(s *terraform.State) error {
			k := s.RootModule().Resources[addr].Primary.Attributes["key"]
			if !strings.HasPrefix(k, "gat_") {
				return fmt.Errorf("key in state is not an API token's")
			}
			keys = append(keys, k)
			// The key in the state is the token's: it authenticates as bot.
			me, err := h.c.Clone(client.WithToken(k)).Me(context.Background())
			if err != nil || me.Username != "bot" {
				return fmt.Errorf("key of the state: %v %+v", err, me)
			}
			return nil
		}
		expiry := func(want time.Time) resource.TestCheckFunc {
			return func(*terraform.State) error {
				tok, err := h.c.Tokens.Get(context.Background(), "bot-ci")
				if err != nil {
					return err
				}
				if tok.ExpiresAt == nil || !tok.ExpiresAt.Equal(want) {
					return fmt.Errorf("expires_at %v, want %v", tok.ExpiresAt, want)
				}
				return nil
			}
		}
		now := h.env.Clock.Now()
		step := func(s resource.TestStep, e string) resource.TestStep {
			s.ExpectError = regexp.MustCompile(e)
			return s
		}
		h.run(map[string]func(context.Context) error{
			"token":           gone(h.c.Tokens.Get, "bot-ci"),
			"service account": gone(h.c.ServiceAccounts.Get, "bot"),
		},
			step(bad(`ttl = "30d"`), `Invalid ttl`),
			step(bad(`extended = true`), `Missing max_age`),
			step(bad(`expiring = false
  ttl = "1h"`), `Invalid expiring`),
			step(bad(`expires_at = "tomorrow"`), `Invalid expires_at`),
			step(bad(`intent = "password"`), `intent`),
			step(bad(`identifier = "-x"`), `identifier`),
			resource.TestStep{Config: cfg("first", "1"), Check: resource.ComposeTestCheckFunc(
				keyOf,
				resource.TestCheckResourceAttr(addr, "id", "bot-ci"),
				resource.TestCheckResourceAttr(addr, "intent", "api"),
				resource.TestCheckResourceAttr(addr, "expiring", "true"),
				resource.TestCheckResourceAttr("gatehouse_token.ldap", "expires_at", "2031-06-01T02:00:00+02:00"),
				resource.TestCheckResourceAttr("gatehouse_token.extended", "max_age", "720h"),
				resource.TestCheckResourceAttrSet("gatehouse_token.extended", "identifier"),
				resource.TestCheckNoResourceAttr("gatehouse_token.forever", "expires_at"),
				expiry(now.Add(720*time.Hour)),
			)},
			// The key cannot be imported; ttl and rotate_triggers are the
			// configuration's, not the server's.
			importStep(addr, "key", "ttl", "rotate_triggers"),
			resource.TestStep{Config: cfg("second", "1"), ConfigPlanChecks: expect(addr, plancheck.ResourceActionUpdate),
				Check: resource.ComposeTestCheckFunc(
					resource.TestCheckResourceAttr(addr, "description", "second"),
					expiry(now.Add(720*time.Hour)), // a new description is not a new expiry
				)},
			// Rotation: a new key in the state, the old one refused.
			resource.TestStep{
				PreConfig: func() { h.env.Clock.Advance(time.Hour) },
				Config:    cfg("second", "2"), ConfigPlanChecks: expect(addr, plancheck.ResourceActionUpdate),
				Check: resource.ComposeTestCheckFunc(keyOf, func(*terraform.State) error {
					if keys[0] == keys[1] {
						return errors.New("rotate_triggers changed, the key did not")
					}
					if _, err := h.c.Clone(client.WithToken(keys[0])).Me(context.Background()); !errors.Is(err, client.ErrUnauthorized) {
						return fmt.Errorf("old key after rotation: %v", err)
					}
					return nil
				}, expiry(now.Add(time.Hour+720*time.Hour))),
			},
			// The expiry changed outside: the plan shows it (as ttl) and
			// applying gives the token its ttl again.
			h.changedOutside(addr, cfg("second", "2"), func(ctx context.Context) error {
				_, err := h.c.Tokens.Update(ctx, "bot-ci", client.TokenUpdate{TTL: ptr("1h"), Description: ptr("outside")})
				return err
			}, resource.ComposeTestCheckFunc(
				resource.TestCheckResourceAttr(addr, "ttl", "720h"),
				resource.TestCheckResourceAttr(addr, "description", "second"),
				expiry(now.Add(time.Hour+720*time.Hour)),
			)),
			h.deletedOutside(addr, cfg("second", "2"), func(ctx context.Context) error { return h.c.Tokens.Revoke(ctx, "bot-ci") }),
		)
	})
}

// TestAccTokenLeastPrivilege: a token narrowed below its owner and bound
// to networks, an application and an LDAP provider; null permissions
// (all of the owner's) kept apart from an empty set (none); each change
// of what a key may reach replaces the token.
func TestAccTokenLeastPrivilege(t *testing.T) {
	eachBackend(t, func(h *harness) {
		// deployCIDRs, allPerms: the arguments that the steps change.
		cfg := func(deployCIDRs, allPerms, spelled, extra string) string {
			return h.config(`
resource "gatehouse_application" "site" {
  slug = "site"
  name = "Site"
}
resource "gatehouse_ldap_provider" "corp" {
  name    = "corp"
  base_dn = "dc=example,dc=com"
}
resource "gatehouse_role" "deploy" {
  name        = "deployer"
  permissions = ["applications.write@application/site", "users.read"]
}
resource "gatehouse_service_account" "bot" {
  username = "bot"
  roles    = [gatehouse_role.deploy.name]
}
resource "gatehouse_token" "deploy" {
  user           = gatehouse_service_account.bot.username
  identifier     = "bot-deploy"
  permissions    = ["applications.write@application/site"]
  allowed_cidrs  = [` + deployCIDRs + `]
  applications   = [gatehouse_application.site.slug]
  ldap_providers = [gatehouse_ldap_provider.corp.name]
}
# permissions left out: all of the owner's.
resource "gatehouse_token" "all" {
  user       = gatehouse_service_account.bot.username
  identifier = "bot-all"
  ` + allPerms + `
}
# An empty set: a key that proves identity and can do nothing else.
resource "gatehouse_token" "identity" {
  user        = gatehouse_service_account.bot.username
  identifier  = "bot-identity"
  permissions = []
}
# Networks spelled otherwise than the server does: no change.
resource "gatehouse_token" "spelled" {
  user          = gatehouse_service_account.bot.username
  identifier    = "bot-spelled"
  allowed_cidrs = [` + spelled + `]
}
` + extra)
		}
		const (
			local    = `"10.20.0.0/16", "127.0.0.0/8", "::1/128"`
			spelled  = `"10.20.1.2/16", "192.0.2.7", "2001:DB8::/48"`
			spelled2 = `"10.20.0.0/16", "192.0.2.7/32", "2001:db8::/48"`
		)
		bad := func(body, want string) resource.TestStep {
			return resource.TestStep{Config: h.config(`resource "gatehouse_token" "x" {
  ` + body + `
}`), PlanOnly: true, ExpectError: regexp.MustCompile(want)}
		}
		// me is what a key of the state may do, as GET /me with it says.
		me := func(addr string, want ...string) resource.TestCheckFunc {
			return func(s *terraform.State) error {
				k := s.RootModule().Resources[addr].Primary.Attributes["key"]
				m, err := h.c.Clone(client.WithToken(k)).Me(context.Background())
				if err != nil {
					return fmt.Errorf("%s: %v", addr, err)
				}
				got := append([]string{}, m.Permissions...)
				slices.Sort(got)
				if !slices.Equal(got, want) {
					return fmt.Errorf("%s: permissions %q, want %q", addr, got, want)
				}
				return nil
			}
		}
		refused := func(addr string) resource.TestCheckFunc {
			return func(s *terraform.State) error {
				k := s.RootModule().Resources[addr].Primary.Attributes["key"]
				if _, err := h.c.Clone(client.WithToken(k)).Me(context.Background()); !errors.Is(err, client.ErrUnauthorized) {
					return fmt.Errorf("%s from 127.0.0.1: %v, want unauthorized", addr, err)
				}
				return nil
			}
		}
		// permsAttr tells a null set (no entry) from an empty one.
		permsAttr := func(addr, want string) resource.TestCheckFunc {
			return func(s *terraform.State) error {
				got, ok := s.RootModule().Resources[addr].Primary.Attributes["permissions.#"]
				if !ok {
					got = "null"
				}
				if got != want {
					return fmt.Errorf("%s permissions.#: %s, want %s", addr, got, want)
				}
				return nil
			}
		}
		var deployKey string
		h.run(map[string]func(context.Context) error{
			"token":           gone(h.c.Tokens.Get, "bot-deploy"),
			"service account": gone(h.c.ServiceAccounts.Get, "bot"),
		},
			// Plan time: on the attribute, with the server's rules.
			bad(`permissions = ["users.read", "users.reed"]`, `(?s)Invalid permissions.*permissions\s*=.*unknown permission "users.reed"`),
			bad(`permissions = ["users.read@group/ops"]`, `(?s)Invalid permissions.*cannot be scoped`),
			bad(`allowed_cidrs = ["10.20.0.0/16", "10.20.0.0/33"]`, `(?s)Invalid allowed_cidrs.*allowed_cidrs\s*=.*"10.20.0.0/33" is not a network`),
			bad(`allowed_cidrs = ["corp-net"]`, `(?s)Invalid allowed_cidrs.*"corp-net" is not a network`),
			bad(`applications = ["Site"]`, `(?s)Invalid applications.*applications\s*=`),
			bad(`ldap_providers = ["corp/eu"]`, `(?s)Invalid ldap_providers.*ldap_providers\s*=`),
			resource.TestStep{
				Config: cfg(local, "", spelled, ""),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("gatehouse_token.all", tfjsonpath.New("permissions"), knownvalue.Null()),
					statecheck.ExpectKnownValue("gatehouse_token.identity", tfjsonpath.New("permissions"), knownvalue.SetExact([]knownvalue.Check{})),
					statecheck.ExpectKnownValue("gatehouse_token.all", tfjsonpath.New("allowed_cidrs"), knownvalue.Null()),
					statecheck.ExpectKnownValue("gatehouse_token.deploy", tfjsonpath.New("applications"), knownvalue.SetExact([]knownvalue.Check{knownvalue.StringExact("site")})),
					statecheck.ExpectKnownValue("gatehouse_token.spelled", tfjsonpath.New("allowed_cidrs"), knownvalue.SetExact([]knownvalue.Check{
						knownvalue.StringExact("10.20.1.2/16"), knownvalue.StringExact("192.0.2.7"), knownvalue.StringExact("2001:DB8::/48")})),
				},
				Check: resource.ComposeTestCheckFunc(
					me("gatehouse_token.deploy", "applications.write@application/site"),
					me("gatehouse_token.all", "applications.write@application/site", "users.read"),
					me("gatehouse_token.identity"),
					refused("gatehouse_token.spelled"), // 127.0.0.1 is none of its networks
					serverHas(h.c.Tokens.Get, "bot-deploy", func(tok client.Token) error {
						if tok.Permissions == nil || !slices.Equal(*tok.Permissions, []string{"applications.write@application/site"}) ||
							!slices.Equal(tok.AllowedCIDRs, []string{"10.20.0.0/16", "127.0.0.0/8", "::1/128"}) ||
							!slices.Equal(tok.Applications, []string{"site"}) || !slices.Equal(tok.LDAPProviders, []string{"corp"}) {
							return fmt.Errorf("token %+v", tok)
						}
						return nil
					}),
					serverHas(h.c.Tokens.Get, "bot-all", func(tok client.Token) error {
						if tok.Permissions != nil {
							return fmt.Errorf("bot-all permissions %q, want none (all of the owner's)", *tok.Permissions)
						}
						return nil
					}),
					serverHas(h.c.Tokens.Get, "bot-identity", func(tok client.Token) error {
						if tok.Permissions == nil || len(*tok.Permissions) != 0 {
							return fmt.Errorf("bot-identity permissions %v, want []", tok.Permissions)
						}
						return nil
					}),
					serverHas(h.c.Tokens.Get, "bot-spelled", func(tok client.Token) error {
						if !slices.Equal(tok.AllowedCIDRs, []string{"10.20.0.0/16", "192.0.2.7/32", "2001:db8::/48"}) {
							return fmt.Errorf("bot-spelled allowed_cidrs %q", tok.AllowedCIDRs)
						}
						return nil
					}),
					func(s *terraform.State) error {
						deployKey = s.RootModule().Resources["gatehouse_token.deploy"].Primary.Attributes["key"]
						return nil
					},
				),
			},
			// Import reads them back, null and empty permissions apart.
			importStep("gatehouse_token.deploy", "key"),
			resource.TestStep{
				ResourceName: "gatehouse_token.identity", ImportState: true, ImportStateVerify: true, ImportStateVerifyIgnore: []string{"key"},
				ImportStateCheck: func(is []*terraform.InstanceState) error {
					if len(is) != 1 || is[0].Attributes["permissions.#"] != "0" {
						return fmt.Errorf("imported bot-identity: %v, want an empty permissions set", is[0].Attributes)
					}
					return nil
				},
			},
			resource.TestStep{
				ResourceName: "gatehouse_token.all", ImportState: true, ImportStateVerify: true, ImportStateVerifyIgnore: []string{"key"},
				ImportStateCheck: func(is []*terraform.InstanceState) error {
					if _, ok := is[0].Attributes["permissions.#"]; len(is) != 1 || ok {
						return fmt.Errorf("imported bot-all: %v, want null permissions", is[0].Attributes)
					}
					return nil
				},
			},
			// The server refuses what the owner does not hold and what does
			// not exist: errors on the attribute, an entry named by value.
			resource.TestStep{
				Config: cfg(local, "", spelled, `
resource "gatehouse_token" "broad" {
  user           = gatehouse_service_account.bot.username
  identifier     = "bot-broad"
  permissions    = ["users.write"]
  ldap_providers = ["corp", "nosuch"]
}`),
				ExpectError: regexp.MustCompile(`(?s)Cannot create token.*permissions\s*= \["users.write"\].*users.write is not held by "bot".*ldap_providers\s*=.*ldap_providers "nosuch": LDAP provider "nosuch" does not exist`),
			},
			// Spelling the same networks otherwise, or an empty set for a
			// left-out one, changes no key: an update of the state only.
			resource.TestStep{
				Config:           cfg(local, "", spelled2, ""),
				ConfigPlanChecks: expectEach(map[string]plancheck.ResourceActionType{"gatehouse_token.spelled": plancheck.ResourceActionUpdate, "gatehouse_token.deploy": plancheck.ResourceActionNoop}),
				Check: resource.ComposeTestCheckFunc(
					resource.TestCheckTypeSetElemAttr("gatehouse_token.spelled", "allowed_cidrs.*", "192.0.2.7/32"),
					serverHas(h.c.Tokens.Get, "bot-spelled", func(tok client.Token) error {
						if !slices.Equal(tok.AllowedCIDRs, []string{"10.20.0.0/16", "192.0.2.7/32", "2001:db8::/48"}) {
							return fmt.Errorf("bot-spelled allowed_cidrs %q", tok.AllowedCIDRs)
						}
						return nil
					}),
				),
			},
			// Another network, or permissions where there were none: a new
			// key (the server fixes them for the token's life).
			resource.TestStep{
				Config: cfg(`"127.0.0.0/8", "::1/128"`, `permissions = []`, spelled2, ""),
				ConfigPlanChecks: expectEach(map[string]plancheck.ResourceActionType{
					"gatehouse_token.deploy": plancheck.ResourceActionReplace, "gatehouse_token.all": plancheck.ResourceActionReplace,
					"gatehouse_token.identity": plancheck.ResourceActionNoop}),
				Check: resource.ComposeTestCheckFunc(
					permsAttr("gatehouse_token.all", "0"), permsAttr("gatehouse_token.identity", "0"),
					me("gatehouse_token.all"),
					func(s *terraform.State) error {
						if k := s.RootModule().Resources["gatehouse_token.deploy"].Primary.Attributes["key"]; k == deployKey || k == "" {
							return errors.New("bot-deploy was not replaced")
						}
						if _, err := h.c.Clone(client.WithToken(deployKey)).Me(context.Background()); !errors.Is(err, client.ErrUnauthorized) {
							return fmt.Errorf("the replaced key: %v, want unauthorized", err)
						}
						return nil
					},
				),
			},
			// Made again outside Terraform with another reach: Read shows
			// it, and the plan replaces the token.
			resource.TestStep{
				PreConfig: h.must("replace outside", func(ctx context.Context) error {
					if err := h.c.Tokens.Revoke(ctx, "bot-identity"); err != nil {
						return err
					}
					_, err := h.c.Tokens.Create(ctx, client.TokenCreate{Identifier: "bot-identity", User: "bot", Permissions: &[]string{"users.read"}, AllowedCIDRs: []string{"10.0.0.0/8"}})
					return err
				}),
				Config:           cfg(`"127.0.0.0/8", "::1/128"`, `permissions = []`, spelled2, ""),
				ConfigPlanChecks: expectEach(map[string]plancheck.ResourceActionType{"gatehouse_token.identity": plancheck.ResourceActionReplace}),
				Check: resource.ComposeTestCheckFunc(
					permsAttr("gatehouse_token.identity", "0"),
					resource.TestCheckNoResourceAttr("gatehouse_token.identity", "allowed_cidrs.#"),
					me("gatehouse_token.identity"),
				),
			},
		)
	})
}
