package core_test

// The core's small harness: a Service over a real store (SQLite, and
// PostgreSQL when GATEHOUSE_TEST_POSTGRES names one), a fake clock, and
// actors made to measure, so that each part is tested by calling it, with
// no HTTP in between.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/clock"
	"github.com/gatehouse/gatehouse/internal/core"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
)

type harness struct {
	*core.Service
	t     *testing.T
	ctx   context.Context
	clock *clock.Fake
	admin core.Actor
	n     int
}

const harnessPassword = "harness-password-1"

// eachBackend runs fn with a fresh harness on every backend.
func eachBackend(t *testing.T, fn func(t *testing.T, h *harness)) {
	storetest.ForEachBackend(t, func(t *testing.T, st store.Store) { fn(t, newHarness(t, st)) })
}

func storetestSQLite(t *testing.T) store.Store { return storetest.NewSQLite(t) }

func newHarness(t *testing.T, st store.Store) *harness {
	t.Helper()
	return newHarnessWith(t, st, core.Config{MaxTokensPerAccount: 100})
}

func newHarnessWith(t *testing.T, st store.Store, cfg core.Config) *harness {
	t.Helper()
	key := []byte("harness-secret-key-0123456789abcdef")
	clk := clock.NewFake(time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	authn := auth.NewAuthenticator(st, auth.NewHasher(key), clk, log)
	svc := core.New(st, authn, clk, log, audit.New(audit.ChainKey(key), nil), cfg)
	h := &harness{Service: svc, t: t, ctx: context.Background(), clock: clk}
	if err := svc.Bootstrap(h.ctx, core.BootstrapInput{Password: harnessPassword}, io.Discard); err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	h.admin = h.as("admin")
	return h
}

// as is the actor of an account, as a door would establish it.
func (h *harness) as(username string) core.Actor {
	h.t.Helper()
	p, err := h.Authenticator().PrincipalByName(h.ctx, username)
	if err != nil {
		h.t.Fatalf("principal %s: %v", username, err)
	}
	return core.Actor{P: p, ClientIP: "192.0.2.1"}
}

// holder makes a service account holding perms through a role of its own
// and returns its actor.
func (h *harness) holder(perms ...string) core.Actor {
	h.t.Helper()
	h.n++
	name := fmt.Sprintf("holder-%d", h.n)
	role := name + "-role"
	h.must(h.Access.CreateRole(h.ctx, h.admin, core.RoleInput{Name: role, Permissions: &perms}))
	h.must(h.Accounts.CreateServiceAccount(h.ctx, h.admin, core.CreateServiceAccountInput{Username: name, Roles: []string{role}, TokenIntent: "none"}))
	return h.as(name)
}

// must fails the test on an error; it takes any call's two results.
func (h *harness) must(_ any, err error) {
	h.t.Helper()
	if err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) ok(err error) {
	h.t.Helper()
	if err != nil {
		h.t.Fatal(err)
	}
}
