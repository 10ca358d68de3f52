package tfprovider_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"

	"github.com/gatehouse/gatehouse/client"
)

func TestAccServiceAccount(t *testing.T) {
	eachBackend(t, func(h *harness) {
		cfg := func(sa string) string {
			return h.config(`
resource "gatehouse_group" "a" { name = "team-a" }
resource "gatehouse_group" "b" { name = "team-b" }
resource "gatehouse_role" "reader" {
  name        = "reader"
  permissions = ["users.read"]
}
resource "gatehouse_service_account" "ci" {
` + sa + `
}`)
		}
		const addr = "gatehouse_service_account.ci"
		first := cfg(`username = "ci-deploy"
  description = "deploys"
  groups      = [gatehouse_group.a.name]
  roles       = [gatehouse_role.reader.name]`)
		second := cfg(`username = "ci-deploy"
  description = "deploys, now disabled"
  groups      = [gatehouse_group.b.name]
  roles       = []
  is_active   = false`)
		h.run(map[string]func(context.Context) error{
			"service account": gone(h.c.ServiceAccounts.Get, "ci-deploy"),
			"group":           gone(h.c.Groups.Get, "team-a"),
			"role":            gone(h.c.Roles.Get, "reader"),
		},
			planFails(cfg(`username = "CI"`), `Invalid username`),
			planFails(cfg(`username = "ci"
  groups = ["Team A"]`), `Invalid groups`),
			resource.TestStep{Config: first, Check: resource.ComposeTestCheckFunc(
				resource.TestCheckResourceAttr(addr, "id", "ci-deploy"),
				resource.TestCheckResourceAttr(addr, "is_active", "true"),
				resource.TestCheckTypeSetElemAttr(addr, "groups.*", "team-a"),
				resource.TestCheckTypeSetElemAttr(addr, "roles.*", "reader"),
				serverHas(h.c.Users.Get, "ci-deploy", func(u client.User) error {
					if u.Type != client.UserServiceAccount || len(u.Groups) != 1 || u.Groups[0] != "team-a" || len(u.Roles) != 1 {
						return fmt.Errorf("server has %+v", u)
					}
					return nil
				}),
			)},
			importStep(addr),
			resource.TestStep{Config: second, ConfigPlanChecks: expect(addr, plancheck.ResourceActionUpdate),
				Check: serverHas(h.c.Users.Get, "ci-deploy", func(u client.User) error {
					if u.IsActive || len(u.Groups) != 1 || u.Groups[0] != "team-b" || len(u.Roles) != 0 || u.Description != "deploys, now disabled" {
						return fmt.Errorf("server has %+v", u)
					}
					return nil
				})},
			h.changedOutside(addr, second, func(ctx context.Context) error {
				if err := h.c.Roles.Assign(ctx, "reader", client.SubjectUsers, "ci-deploy"); err != nil {
					return err
				}
				_, err := h.c.ServiceAccounts.Update(ctx, "ci-deploy", client.UserUpdate{IsActive: ptr(true)})
				return err
			}, serverHas(h.c.Users.Get, "ci-deploy", func(u client.User) error {
				if u.IsActive || len(u.Roles) != 0 {
					return fmt.Errorf("drift not undone: %+v", u)
				}
				return nil
			})),
			h.deletedOutside(addr, second, func(ctx context.Context) error { return h.c.ServiceAccounts.Delete(ctx, "ci-deploy") }),
		)
	})
}
