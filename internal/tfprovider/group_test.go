package tfprovider_test

import (
	"context"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"

	"github.com/gatehouse/gatehouse/client"
)

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
