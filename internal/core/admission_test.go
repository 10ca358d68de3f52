package core

import (
	"testing"

	"github.com/gatehouse/gatehouse/internal/authz"
)

// TestAdmits is authentik's policy engine on its own: no bindings admit
// everyone; each binding passes when it matches XOR negate; mode any
// needs one pass, mode all needs every binding to pass.
func TestAdmits(t *testing.T) {
	alice := authz.NewPrincipal(authz.Identity{UID: "uid-alice", Username: "alice", Type: "human", Active: true}, authz.Grants{Groups: []string{"dev", "ops"}})
	bob := authz.NewPrincipal(authz.Identity{UID: "uid-bob", Username: "bob", Type: "service_account", Active: true}, authz.Grants{})
	user := func(uid string, negate bool) admissionBinding { return admissionBinding{user: uid, negate: negate} }
	group := func(name string, negate bool) admissionBinding {
		return admissionBinding{group: true, name: name, negate: negate}
	}
	tests := []struct {
		name     string
		all      bool
		bindings []admissionBinding
		alice    bool
		bob      bool
		reason   string // alice's
	}{
		{"no bindings: open", false, nil, true, true, ReasonNoBindings},
		{"no bindings, mode all: open", true, nil, true, true, ReasonNoBindings},
		{"user binding", false, []admissionBinding{user("uid-alice", false)}, true, false, ReasonBindingPassed},
		{"group binding", false, []admissionBinding{group("ops", false)}, true, false, ReasonBindingPassed},
		{"group not held", false, []admissionBinding{group("sales", false)}, false, false, ReasonNotBound},
		{"a user's UID is not a group", false, []admissionBinding{group("uid-alice", false)}, false, false, ReasonNotBound},
		{"negated user: everyone else", false, []admissionBinding{user("uid-alice", true)}, false, true, ReasonNotBound},
		{"negated group: everyone outside it", false, []admissionBinding{group("ops", true)}, false, true, ReasonNotBound},
		{"any: one of two", false, []admissionBinding{group("sales", false), user("uid-bob", false)}, false, true, ReasonNotBound},
		{"any: either passes", false, []admissionBinding{group("ops", false), user("uid-bob", false)}, true, true, ReasonBindingPassed},
		{"all: both must pass", true, []admissionBinding{group("ops", false), user("uid-bob", false)}, false, false, ReasonBindingFailed},
		{"all: group and not a user", true, []admissionBinding{group("dev", false), user("uid-bob", true)}, true, false, ReasonBindingPassed},
		{"all: in dev but not in ops", true, []admissionBinding{group("dev", false), group("ops", true)}, false, false, ReasonBindingFailed},
		{"any with a negated binding admits outsiders", false, []admissionBinding{group("dev", false), group("ops", true)}, true, true, ReasonBindingPassed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			app := &admissionApp{slug: "app", all: tc.all, bindings: tc.bindings}
			ok, reason := app.admits(alice)
			if ok != tc.alice || reason != tc.reason {
				t.Errorf("alice: %v (%s), want %v (%s)", ok, reason, tc.alice, tc.reason)
			}
			if ok, _ := app.admits(bob); ok != tc.bob {
				t.Errorf("bob: %v, want %v", ok, tc.bob)
			}
		})
	}
}

// TestAdmitsAllocatesNothing: the decision itself is free.
func TestAdmitsAllocatesNothing(t *testing.T) {
	p := authz.NewPrincipal(authz.Identity{UID: "uid", Username: "u", Type: "human", Active: true}, authz.Grants{Groups: []string{"a", "b", "c"}})
	app := &admissionApp{slug: "app", bindings: []admissionBinding{{group: true, name: "z"}, {user: "x"}, {group: true, name: "c"}}}
	if n := testing.AllocsPerRun(100, func() { app.admits(p) }); n != 0 {
		t.Fatalf("admits allocates %v times", n)
	}
}
