package core_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/gatehouse/gatehouse/internal/core"
)

// Who can enter: for every active account, the decision Admit takes.
func TestEntrants(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		for _, u := range []string{"alice", "bob", "carol"} {
			h.must(h.Accounts.CreateUser(h.ctx, h.admin, core.CreateUserInput{Username: u}))
		}
		h.must(h.Access.CreateGroup(h.ctx, h.admin, core.GroupInput{Name: "ops"}))
		h.ok(h.Access.AddMember(h.ctx, h.admin, "ops", "alice"))
		h.ok(h.Access.AddMember(h.ctx, h.admin, "ops", "bob"))
		h.must(h.Applications.CreateApplication(h.ctx, h.admin, core.ApplicationInput{Slug: "wiki", Name: ptr("Wiki")}))

		names := func(e core.Entrants) []string {
			var out []string
			for _, a := range e.Accounts {
				out = append(out, a.Username)
			}
			return out
		}
		// Every account an admission would let in, and no other.
		check := func(want ...string) core.Entrants {
			t.Helper()
			e, err := h.Applications.Entrants(h.ctx, h.admin, "wiki")
			if err != nil {
				t.Fatal(err)
			}
			if got := names(e); !slices.Equal(got, want) {
				t.Fatalf("entrants %v, want %v", got, want)
			}
			for _, u := range []string{"admin", "alice", "bob", "carol"} {
				d, err := h.Applications.Admit(h.ctx, h.as(u), "wiki")
				if err != nil || d.Admitted != slices.Contains(want, u) {
					t.Fatalf("admit %s: %+v %v, entrants %v", u, d, err, want)
				}
			}
			return e
		}
		if e := check("admin", "alice", "bob", "carol"); !e.Open {
			t.Fatal("an application without bindings is not open")
		}
		h.must(h.Applications.PutBinding(h.ctx, h.admin, "wiki", "groups", "ops", core.BindingInput{}))
		h.must(h.Applications.PutBinding(h.ctx, h.admin, "wiki", "users", "carol", core.BindingInput{}))
		e := check("alice", "bob", "carol")
		if e.Open || !slices.Equal(e.Accounts[0].Via, []string{"group ops"}) || !slices.Equal(e.Accounts[2].Via, []string{"user carol"}) {
			t.Fatalf("entrants %+v", e)
		}
		// Mode all, with a negated binding: members of ops but bob.
		h.ok(h.Applications.DeleteBinding(h.ctx, h.admin, "wiki", "users", "carol"))
		h.must(h.Applications.PutBinding(h.ctx, h.admin, "wiki", "users", "bob", core.BindingInput{Negate: ptr(true)}))
		h.must(h.Applications.UpdateApplication(h.ctx, h.admin, "wiki", core.ApplicationInput{PolicyEngineMode: ptr("all")}))
		check("alice")
		// A disabled account never enters.
		h.must(h.Accounts.UpdateUser(h.ctx, h.admin, "alice", core.UpdateUserInput{IsActive: ptr(false)}))
		check()

		// It names accounts: users.read as well as applications.read.
		if _, err := h.Applications.Entrants(h.ctx, h.holder("applications.read"), "wiki"); !errors.Is(err, core.ErrForbidden) {
			t.Fatalf("without users.read: %v", err)
		}
		if _, err := h.Applications.Entrants(h.ctx, h.holder("applications.read", "users.read"), "wiki"); err != nil {
			t.Fatal(err)
		}
		if _, err := h.Applications.Entrants(h.ctx, h.admin, "nope"); !errors.As(err, new(*core.NotFoundError)) {
			t.Fatalf("an unknown application: %v", err)
		}
	})
}
