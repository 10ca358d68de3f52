package core_test

import (
	"os"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/core"
)

// TestDoorPolicyTableInREADME: the README's table of what each door
// accepts is the policy table itself, rendered.
func TestDoorPolicyTableInREADME(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if table := core.DoorTable(); !strings.Contains(string(readme), table) {
		t.Fatalf("README.md does not hold the doors' policy table; paste it under \"What each door accepts\":\n%s", table)
	}
}

// TestDoorPolicy pins the rules the rest of the code relies on.
func TestDoorPolicy(t *testing.T) {
	for _, d := range core.Doors() {
		p := core.Policy(d)
		if p.Name == "" {
			t.Errorf("door %d has no name", d)
		}
		for _, k := range core.Kinds() {
			if p.Accepts[k] && p.Method[k] == "" {
				t.Errorf("%s accepts %s without an event method", p.Name, k)
			}
		}
	}
	// API tokens never with a name, app passwords never on the API or the
	// web, people's passwords never behind a proxy.
	if core.Policy(core.DoorAPI).Accepts[core.KindAppPassword] || core.Policy(core.DoorWeb).Accepts[core.KindAppPassword] ||
		core.Policy(core.DoorForwardAuth).Accepts[core.KindPassword] || core.Policy(core.DoorLDAP).Accepts[core.KindAPIToken] {
		t.Fatal("intents are not kept apart")
	}
	key, err := auth.NewKey("app_password")
	if err != nil {
		t.Fatal(err)
	}
	if core.KindOf(key.Raw) != core.KindAppPassword || core.KindOf("correct horse battery") != core.KindPassword {
		t.Fatal("KindOf tells passwords from keys by their shape")
	}
}
