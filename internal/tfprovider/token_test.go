package tfprovider_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

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
			"token":           func(ctx context.Context) error { _, err := h.c.Tokens.Get(ctx, "bot-ci"); return err },
			"service account": func(ctx context.Context) error { _, err := h.c.ServiceAccounts.Get(ctx, "bot"); return err },
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
			resource.TestStep{
				PreConfig: h.must("change outside", func(ctx context.Context) error {
					_, err := h.c.Tokens.Update(ctx, "bot-ci", client.TokenUpdate{TTL: ptr("1h"), Description: ptr("outside")})
					return err
				}),
				Config: cfg("second", "2"), ConfigPlanChecks: expect(addr, plancheck.ResourceActionUpdate),
				Check: resource.ComposeTestCheckFunc(
					resource.TestCheckResourceAttr(addr, "ttl", "720h"),
					resource.TestCheckResourceAttr(addr, "description", "second"),
					expiry(now.Add(time.Hour+720*time.Hour)),
				),
			},
			resource.TestStep{
				PreConfig: h.must("revoke outside", func(ctx context.Context) error { return h.c.Tokens.Revoke(ctx, "bot-ci") }),
				Config:    cfg("second", "2"), ConfigPlanChecks: expect(addr, plancheck.ResourceActionCreate),
			},
		)
	})
}
