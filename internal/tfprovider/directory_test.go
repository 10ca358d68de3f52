package tfprovider_test

import (
	"context"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"

	"github.com/gatehouse/gatehouse/client"
)

// The directory resources: users, groups, roles, and the assignments and
// memberships between them.

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

func TestAccGroup(t *testing.T) {
	eachBackend(t, func(h *harness) {
		cfg := func(name, desc string) string {
			return h.config(`resource "gatehouse_group" "g" {
  name        = "` + name + `"
  description = "` + desc + `"
}`)
		}
		const addr = "gatehouse_group.g"
		h.run(map[string]func(context.Context) error{
			"group ops": gone(h.c.Groups.Get, "ops"),
		},
			planFails(cfg("Ops", "x"), `Invalid name`),
			resource.TestStep{Config: cfg("ops", "first"), Check: resource.ComposeTestCheckFunc(
				resource.TestCheckResourceAttr(addr, "id", "ops"),
				resource.TestCheckResourceAttrSet(addr, "uid"),
			)},
			importStep(addr),
			resource.TestStep{Config: cfg("ops", "second"), ConfigPlanChecks: expect(addr, plancheck.ResourceActionUpdate)},
			h.changedOutside(addr, cfg("ops", "second"), func(ctx context.Context) error {
				_, err := h.c.Groups.Update(ctx, "ops", client.GroupUpdate{Description: ptr("outside")})
				return err
			}, resource.TestCheckResourceAttr(addr, "description", "second")),
			h.deletedOutside(addr, cfg("ops", "second"), func(ctx context.Context) error { return h.c.Groups.Delete(ctx, "ops") }),
		)
	})
}

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
