package tfprovider_test

import (
	"context"
	"regexp"
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
			"group ops": func(ctx context.Context) error { _, err := h.c.Groups.Get(ctx, "ops"); return err },
		},
			resource.TestStep{Config: cfg("Ops", "x"), PlanOnly: true, ExpectError: regexp.MustCompile(`Invalid name`)},
			resource.TestStep{Config: cfg("ops", "first"), Check: resource.ComposeTestCheckFunc(
				resource.TestCheckResourceAttr(addr, "id", "ops"),
				resource.TestCheckResourceAttrSet(addr, "uid"),
			)},
			importStep(addr),
			resource.TestStep{Config: cfg("ops", "second"), ConfigPlanChecks: expect(addr, plancheck.ResourceActionUpdate)},
			resource.TestStep{
				PreConfig: h.must("change outside", func(ctx context.Context) error {
					_, err := h.c.Groups.Update(ctx, "ops", client.GroupUpdate{Description: ptr("outside")})
					return err
				}),
				Config: cfg("ops", "second"), ConfigPlanChecks: expect(addr, plancheck.ResourceActionUpdate),
				Check: resource.TestCheckResourceAttr(addr, "description", "second"),
			},
			resource.TestStep{
				PreConfig: h.must("delete outside", func(ctx context.Context) error { return h.c.Groups.Delete(ctx, "ops") }),
				Config:    cfg("ops", "second"), ConfigPlanChecks: expect(addr, plancheck.ResourceActionCreate),
			},
		)
	})
}
