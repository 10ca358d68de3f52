package tfprovider_test

import (
	"context"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"

	"github.com/gatehouse/gatehouse/client"
)

func TestAccRole(t *testing.T) {
	eachBackend(t, func(h *harness) {
		cfg := func(perms string) string {
			return h.config(`resource "gatehouse_role" "r" {
  name        = "ops-reader"
  description = "reads"
  permissions = [` + perms + `]
}`)
		}
		const addr = "gatehouse_role.r"
		h.run(map[string]func(context.Context) error{
			"role": gone(h.c.Roles.Get, "ops-reader"),
		},
			planFails(cfg(`"users.reed"`), `Invalid permissions[\s\S]*unknown permission "users.reed"`),
			planFails(cfg(`"users.read@group/ops"`), `Invalid permissions[\s\S]*cannot be scoped`),
			planFails(cfg(`"groups.read@group/OPS"`), `Invalid permissions`),
			resource.TestStep{Config: cfg(`"users.read", "groups.read@group/ops"`), Check: resource.ComposeTestCheckFunc(
				resource.TestCheckResourceAttr(addr, "permissions.#", "2"),
				resource.TestCheckTypeSetElemAttr(addr, "permissions.*", "groups.read@group/ops"),
			)},
			importStep(addr),
			resource.TestStep{Config: cfg(`"users.read", "ldap.search_full_directory@ldap/corp"`), ConfigPlanChecks: expect(addr, plancheck.ResourceActionUpdate)},
			h.changedOutside(addr, cfg(`"users.read", "ldap.search_full_directory@ldap/corp"`), func(ctx context.Context) error {
				_, err := h.c.Roles.Update(ctx, "ops-reader", client.RoleUpdate{Permissions: &[]string{"events.read"}})
				return err
			}, resource.TestCheckTypeSetElemAttr(addr, "permissions.*", "ldap.search_full_directory@ldap/corp")),
			h.deletedOutside(addr, cfg(`"users.read"`), func(ctx context.Context) error { return h.c.Roles.Delete(ctx, "ops-reader") }),
			// The built-in admin role is not Terraform's to manage.
			resource.TestStep{
				Config:       h.config(`resource "gatehouse_role" "admin" { name = "admin" }`),
				ResourceName: "gatehouse_role.admin", ImportState: true, ImportStateId: "admin",
				ExpectError: regexp.MustCompile(`Built-in role`),
			},
		)
	})
}

func TestAccAssignmentsAndMembers(t *testing.T) {
	eachBackend(t, func(h *harness) {
		cfg := func(member string) string {
			return h.config(`
resource "gatehouse_group" "bots" { name = "bots" }
resource "gatehouse_role" "deployer" {
  name        = "deployer"
  permissions = ["applications.read"]
}
resource "gatehouse_service_account" "a" { username = "bot-a" }
resource "gatehouse_service_account" "b" { username = "bot-b" }
resource "gatehouse_group_member" "m" {
  group    = gatehouse_group.bots.name
  username = ` + member + `
}
resource "gatehouse_role_assignment" "to_group" {
  role  = gatehouse_role.deployer.name
  group = gatehouse_group.bots.name
}
resource "gatehouse_role_assignment" "to_user" {
  role     = gatehouse_role.deployer.name
  username = ` + member + `
}`)
		}
		a, b := cfg("gatehouse_service_account.a.username"), cfg("gatehouse_service_account.b.username")
		h.run(map[string]func(context.Context) error{
			"group": gone(h.c.Groups.Get, "bots"),
			"role":  gone(h.c.Roles.Get, "deployer"),
		},
			planFails(h.config(`resource "gatehouse_role_assignment" "x" {
  role     = "deployer"
  username = "a"
  group    = "b"
}`), `Invalid Attribute Combination[\s\S]*username`),
			planFails(h.config(`resource "gatehouse_group_member" "x" {
  group    = "Bots"
  username = "a"
}`), `Invalid group`),
			resource.TestStep{Config: a, Check: resource.ComposeTestCheckFunc(
				resource.TestCheckResourceAttr("gatehouse_group_member.m", "id", "bots/bot-a"),
				resource.TestCheckResourceAttr("gatehouse_role_assignment.to_group", "id", "deployer/group/bots"),
				resource.TestCheckResourceAttr("gatehouse_role_assignment.to_user", "id", "deployer/user/bot-a"),
			)},
			importStep("gatehouse_group_member.m"),
			importStep("gatehouse_role_assignment.to_group"),
			importStep("gatehouse_role_assignment.to_user"),
			// Another member: these replace, there is nothing to update.
			resource.TestStep{Config: b, ConfigPlanChecks: expectEach(map[string]plancheck.ResourceActionType{
				"gatehouse_group_member.m": plancheck.ResourceActionReplace, "gatehouse_role_assignment.to_user": plancheck.ResourceActionReplace,
			})},
			// Undone outside: planned again.
			resource.TestStep{
				PreConfig: h.must("undo outside", func(ctx context.Context) error {
					if err := h.c.Groups.RemoveMember(ctx, "bots", "bot-b"); err != nil {
						return err
					}
					if err := h.c.Roles.Unassign(ctx, "deployer", client.SubjectGroups, "bots"); err != nil {
						return err
					}
					return h.c.Roles.Unassign(ctx, "deployer", client.SubjectUsers, "bot-b")
				}),
				Config: b, ConfigPlanChecks: expectEach(map[string]plancheck.ResourceActionType{
					"gatehouse_group_member.m":           plancheck.ResourceActionCreate,
					"gatehouse_role_assignment.to_group": plancheck.ResourceActionCreate,
					"gatehouse_role_assignment.to_user":  plancheck.ResourceActionCreate,
				}),
			},
			resource.TestStep{Config: b, ResourceName: "gatehouse_role_assignment.to_user", ImportState: true, ImportStateId: "deployer/person/bot-b",
				ExpectError: regexp.MustCompile(`Invalid import identifier`)},
		)
	})
}
