package tfprovider_test

import (
	"context"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"

	"github.com/gatehouse/gatehouse/client"
)

func TestAccUser(t *testing.T) {
	eachBackend(t, func(h *harness) {
		cfg := func(body string) string {
			return h.config(`resource "gatehouse_user" "u" {
  username = "alice"
  ` + body + `
}`)
		}
		const addr = "gatehouse_user.u"
		second := cfg(`name = "Alice Liddell"
  email = "alice@example.org"
  is_active = false`)
		h.run(map[string]func(context.Context) error{
			"user": gone(h.c.Users.Get, "alice"),
		},
			planFails(h.config(`resource "gatehouse_user" "u" { username = "Alice" }`), `Invalid username`),
			resource.TestStep{Config: cfg(`name = "Alice"`), Check: resource.ComposeTestCheckFunc(
				resource.TestCheckResourceAttr(addr, "name", "Alice"),
				resource.TestCheckResourceAttr(addr, "email", ""),
				resource.TestCheckResourceAttr(addr, "is_active", "true"),
			)},
			importStep(addr),
			resource.TestStep{Config: second, ConfigPlanChecks: expect(addr, plancheck.ResourceActionUpdate)},
			h.changedOutside(addr, second, func(ctx context.Context) error {
				_, err := h.c.Users.Update(ctx, "alice", client.UserUpdate{Email: ptr("other@example.org")})
				return err
			}, resource.TestCheckResourceAttr(addr, "email", "alice@example.org")),
			h.deletedOutside(addr, second, func(ctx context.Context) error { return h.c.Users.Delete(ctx, "alice") }),
			// A service account is not a gatehouse_user.
			resource.TestStep{
				PreConfig: h.must("make a service account", func(ctx context.Context) error {
					_, err := h.c.Users.Create(ctx, client.UserCreate{Username: "robot", Type: client.UserServiceAccount})
					return err
				}),
				Config:       h.config(`resource "gatehouse_user" "robot" { username = "robot" }`),
				ResourceName: "gatehouse_user.robot", ImportState: true, ImportStateId: "robot",
				ExpectError: regexp.MustCompile(`manage it with gatehouse_service_account`),
			},
		)
	})
}
