package tfprovider_test

import (
	"context"
	"errors"
	"fmt"
	"go/build"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/gatehouse/gatehouse/client"
	"github.com/gatehouse/gatehouse/internal/server/servertest"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
	"github.com/gatehouse/gatehouse/internal/testenv"
	"github.com/gatehouse/gatehouse/internal/tfprovider"
)

// The acceptance tests drive a real OpenTofu (../shared/bin/tofu, or
// GATEHOUSE_TEST_TOFU) against a real gatehouse served by the test, with
// the provider served in-process. They skip without tofu, and fail
// without it under GATEHOUSE_TEST_REQUIRE_ALL=1 (.ci/run).

var tofuEnv sync.Once

// setupTofu points terraform-plugin-testing at OpenTofu. The settings
// are process-wide (os.Setenv, not t.Setenv) so that tests may run in
// parallel; every test sets the same values.
func setupTofu(t *testing.T) {
	t.Helper()
	tofu := testenv.Tofu(t)
	tofuEnv.Do(func() {
		home, err := os.MkdirTemp("", "gatehouse-tofu-home-")
		if err != nil {
			t.Fatal(err)
		}
		cliConfig := filepath.Join(home, "tofurc")
		if err := os.WriteFile(cliConfig, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		// A HOME of its own keeps the machine's ~/.terraform.d out of the
		// tests; the go command, which the examples test runs, must keep
		// finding its build cache, module cache and settings, which it
		// derives from HOME unless told.
		goEnv := map[string]string{"GOPATH": build.Default.GOPATH}
		if dir, err := os.UserCacheDir(); err == nil {
			goEnv["GOCACHE"] = filepath.Join(dir, "go-build")
		}
		if dir, err := os.UserConfigDir(); err == nil {
			goEnv["GOENV"] = filepath.Join(dir, "go", "env")
		}
		for k, v := range goEnv {
			if os.Getenv(k) == "" {
				os.Setenv(k, v)
			}
		}
		for k, v := range map[string]string{
			"TF_ACC": "1",
			// Always set: a HashiCorp terraform on PATH would otherwise be
			// used silently.
			"TF_ACC_TERRAFORM_PATH": tofu,
			// Without these the framework names the provider
			// registry.terraform.io/-/gatehouse, which OpenTofu refuses.
			"TF_ACC_PROVIDER_HOST":      "registry.opentofu.org",
			"TF_ACC_PROVIDER_NAMESPACE": "gatehouse",
			// A CLI configuration of the machine (dev_overrides, mirrors)
			// must not change what the tests run.
			"TF_CLI_CONFIG_FILE": cliConfig,
			"HOME":               home,
			"TF_IN_AUTOMATION":   "1",
			"CHECKPOINT_DISABLE": "1",
		} {
			os.Setenv(k, v)
		}
		os.Unsetenv("TF_PLUGIN_CACHE_DIR")
	})
}

// harness is a gatehouse served for one test, and a client of it acting
// as the bootstrap admin: what "someone changing things outside
// Terraform" uses.
type harness struct {
	t   *testing.T
	env *servertest.Env
	c   *client.Client
}

func newHarness(t *testing.T, st store.Store) *harness {
	t.Helper()
	setupTofu(t)
	env := servertest.Start(t, st)
	c, err := client.New(env.URL, client.WithToken(servertest.AdminToken))
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, env: env, c: c}
}

// eachBackend runs fn on a gatehouse over each backend (PostgreSQL when
// GATEHOUSE_TEST_POSTGRES names one): the provider's reads must agree
// with what either store gives back (times, ordering, empty lists).
func eachBackend(t *testing.T, fn func(h *harness)) {
	storetest.ForEachBackend(t, func(t *testing.T, st store.Store) { fn(newHarness(t, st)) })
}

// config is a configuration of the test's server with body.
func (h *harness) config(body string) string {
	return fmt.Sprintf(`
terraform {
  required_providers {
    gatehouse = { source = %q }
  }
}
provider "gatehouse" {
  server    = %q
  api_token = %q
}
`, tfprovider.Address, h.env.URL, servertest.AdminToken) + body
}

func (h *harness) test(steps ...resource.TestStep) resource.TestCase {
	return resource.TestCase{
		ProtoV6ProviderFactories: map[string]func() (tfprotov6.ProviderServer, error){
			"gatehouse": providerserver.NewProtocol6WithError(tfprovider.New("test")()),
		},
		Steps: steps,
	}
}

// run runs the steps, and then checks that destroy left nothing: each
// gone func must answer the client's ErrNotFound.
func (h *harness) run(gone map[string]func(context.Context) error, steps ...resource.TestStep) {
	h.t.Helper()
	tc := h.test(steps...)
	tc.CheckDestroy = func(*terraform.State) error {
		for what, get := range gone {
			if err := get(context.Background()); !errors.Is(err, client.ErrNotFound) {
				return fmt.Errorf("%s after destroy: %v, want not found", what, err)
			}
		}
		return nil
	}
	resource.Test(h.t, tc)
}

// must runs a change outside Terraform (a step's PreConfig).
func (h *harness) must(what string, fn func(context.Context) error) func() {
	return func() {
		if err := fn(context.Background()); err != nil {
			h.t.Fatalf("%s: %v", what, err)
		}
	}
}

// Plan checks of the steps that change things outside Terraform.
func expect(addr string, action plancheck.ResourceActionType) resource.ConfigPlanChecks {
	return expectEach(map[string]plancheck.ResourceActionType{addr: action})
}

// expectEach expects each resource's action.
func expectEach(actions map[string]plancheck.ResourceActionType) resource.ConfigPlanChecks {
	var pc []plancheck.PlanCheck
	for addr, a := range actions {
		pc = append(pc, plancheck.ExpectResourceAction(addr, a))
	}
	return resource.ConfigPlanChecks{PreApply: pc}
}

// changedOutside is a step that changes an object outside Terraform:
// applying cfg again must update addr, and then pass check (if any).
func (h *harness) changedOutside(addr, cfg string, change func(context.Context) error, check resource.TestCheckFunc) resource.TestStep {
	return resource.TestStep{PreConfig: h.must("change outside", change), Config: cfg, ConfigPlanChecks: expect(addr, plancheck.ResourceActionUpdate), Check: check}
}

// deletedOutside is a step that deletes an object outside Terraform:
// applying cfg again must create addr anew.
func (h *harness) deletedOutside(addr, cfg string, del func(context.Context) error) resource.TestStep {
	return resource.TestStep{PreConfig: h.must("delete outside", del), Config: cfg, ConfigPlanChecks: expect(addr, plancheck.ResourceActionCreate)}
}

// gone is what run checks after destroy: the object name, which get
// reads, must be gone.
func gone[T any](get func(context.Context, string) (T, error), name string) func(context.Context) error {
	return func(ctx context.Context) error { _, err := get(ctx, name); return err }
}

// serverHas checks the object name, which get reads, as the server has
// it.
func serverHas[T any](get func(context.Context, string) (T, error), name string, check func(T) error) resource.TestCheckFunc {
	return func(*terraform.State) error {
		obj, err := get(context.Background(), name)
		if err != nil {
			return err
		}
		return check(obj)
	}
}

// planFails is a step whose plan must fail with an error matching want.
func planFails(cfg, want string) resource.TestStep {
	return resource.TestStep{Config: cfg, PlanOnly: true, ExpectError: regexp.MustCompile(want)}
}

func importStep(addr string, ignore ...string) resource.TestStep {
	return resource.TestStep{ResourceName: addr, ImportState: true, ImportStateVerify: true, ImportStateVerifyIgnore: ignore}
}

func ptr[T any](v T) *T { return &v }
