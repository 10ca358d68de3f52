package tfprovider_test

import (
	"context"
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/gatehouse/gatehouse/client"
	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/server/servertest"
	"github.com/gatehouse/gatehouse/internal/tfprovider"
)

// The provider block may be empty: GATEHOUSE_SERVER and
// GATEHOUSE_API_TOKEN configure it.
func TestAccDataSourcesFromEnvironment(t *testing.T) {
	eachBackend(t, func(h *harness) {
		t.Setenv(client.EnvServer, h.env.URL)
		t.Setenv(client.EnvAPIToken, servertest.AdminToken)
		cfg := fmt.Sprintf(`
terraform {
  required_providers {
    gatehouse = { source = %q }
  }
}
provider "gatehouse" {}
resource "gatehouse_service_account" "bot" {
  username    = "bot"
  description = "a bot"
}
data "gatehouse_service_account" "bot" { username = gatehouse_service_account.bot.username }
data "gatehouse_user" "admin" { username = "admin" }
data "gatehouse_permissions" "all" {}
`, tfprovider.Address)
		h.run(nil, resource.TestStep{Config: cfg, Check: resource.ComposeTestCheckFunc(
			resource.TestCheckResourceAttr("data.gatehouse_service_account.bot", "description", "a bot"),
			resource.TestCheckResourceAttr("data.gatehouse_service_account.bot", "type", client.UserServiceAccount),
			resource.TestCheckResourceAttr("data.gatehouse_user.admin", "type", client.UserHuman),
			resource.TestCheckTypeSetElemAttr("data.gatehouse_user.admin", "roles.*", "admin"),
			resource.TestCheckResourceAttr("data.gatehouse_permissions.all", "permissions.#", fmt.Sprint(len(authz.Catalogue))),
			resource.TestCheckTypeSetElemAttr("data.gatehouse_permissions.all", "names.*", "ldap.search_full_directory"),
		)})
	})
}

// Objects gatehouse manages itself (an outpost's account and token) are
// refused, on import and on read.
func TestAccManagedObjectsRefused(t *testing.T) {
	eachBackend(t, func(h *harness) {
		ctx := context.Background()
		if _, err := h.c.LDAPProviders.Create(ctx, client.LDAPProviderInput{Name: "corp", BaseDN: ptr("dc=example,dc=com")}); err != nil {
			t.Fatal(err)
		}
		op, err := h.c.Outposts.Create(ctx, client.OutpostCreate{Name: "rack1", Provider: "corp"})
		if err != nil {
			t.Fatal(err)
		}
		refused := func(res, id, want string) resource.TestStep {
			return resource.TestStep{
				Config:       h.config(`resource "` + res + `" "x" {}`),
				ResourceName: res + ".x", ImportState: true, ImportStateId: id,
				ExpectError: regexp.MustCompile(want),
			}
		}
		h.run(nil,
			refused("gatehouse_service_account", op.Outpost.User, `internal service account`),
			refused("gatehouse_user", op.Outpost.User, `internal service account`),
			refused("gatehouse_token", op.Token.Identifier, `Managed token`),
			refused("gatehouse_role_assignment", "admin/user/"+op.Outpost.User, `internal service account`),
		)
	})
}
