package authz

import (
	"slices"
	"strings"
	"testing"
)

func TestParsePermission(t *testing.T) {
	good := map[string]Permission{
		"users.read":                             {Name: "users.read"},
		"ldap.search_full_directory@ldap/corp":   {Name: "ldap.search_full_directory", Kind: "ldap", Object: "corp"},
		"tokens.write@group/ci-bots":             {Name: "tokens.write", Kind: "group", Object: "ci-bots"},
		"applications.read@application/grafana1": {Name: "applications.read", Kind: "application", Object: "grafana1"},
	}
	for s, want := range good {
		got, err := ParsePermission(s)
		if err != nil || got != want || got.String() != s {
			t.Errorf("ParsePermission(%q) = %+v, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "users", "users.read@", "users.read@group/x", "tokens.write@group", "tokens.write@group/",
		"tokens.write@ldap/corp", "tokens.write@group/-bad", "tokens.write@group/a b", "nope.read", "@group/x",
		"groups.write@group/TEAM", "groups.write@group/Team", "ldap.read@ldap/Corp", "applications.read@application/Grafana",
		"groups.write@group/" + strings.Repeat("a", 64)} {
		if _, err := ParsePermission(s); err == nil {
			t.Errorf("ParsePermission(%q) accepted", s)
		}
	}
}

func TestNormalizePermissions(t *testing.T) {
	got, bad := NormalizePermissions([]string{"users.read", "groups.read", "users.read", "x", "tokens.write@group/a"})
	want := []string{"groups.read", "tokens.write@group/a", "users.read"}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v want %v", got, want)
		}
	}
	if len(bad) != 1 || bad[3] == "" {
		t.Fatalf("bad = %v", bad)
	}
}

func TestPrincipalDecisions(t *testing.T) {
	p := NewPrincipal(Identity{UID: "u1", Username: "bot", Type: "service_account", Active: true}, Grants{Groups: []string{"ci"}, Roles: []string{"reader"},
		Permissions: []string{"users.read", "tokens.write@group/ci", "ldap.search_full_directory@ldap/corp", "bogus"}})
	cases := []struct {
		name string
		ok   bool
	}{
		{"users.read", p.Can("users.read")},
		{"!users.write", !p.Can("users.write")},
		{"tokens.write on ci", p.CanOn("tokens.write", Object{KindGroup, "ci"})},
		{"!tokens.write on other", !p.CanOn("tokens.write", Object{KindGroup, "other"})},
		{"!tokens.write unscoped", !p.Can("tokens.write")},
		{"ldap corp", p.CanOn("ldap.search_full_directory", Object{KindLDAP, "corp"})},
		{"!ldap other", !p.CanOn("ldap.search_full_directory", Object{KindLDAP, "other"})},
		{"!kind mismatch", !p.CanOn("tokens.write", Object{KindLDAP, "ci"})},
		{"somewhere", p.CanSomewhere("tokens.write", KindGroup)},
		{"!admin", !p.IsAdmin()},
	}
	for _, c := range cases {
		if !c.ok {
			t.Errorf("%s: wrong decision", c.name)
		}
	}
	if len(p.Permissions) != 3 {
		t.Errorf("unparsable permission kept: %v", p.Permissions)
	}

	inactive := NewPrincipal(Identity{UID: "u2", Username: "x", Type: "human"}, Grants{Roles: []string{AdminRole}})
	if inactive.Can("users.read") || inactive.CanOn("tokens.write", Object{KindGroup, "ci"}) {
		t.Error("an inactive principal holds permissions")
	}
	var anon *Principal
	if anon.Can("users.read") || anon.CanOn("users.read") || anon.IsAdmin() {
		t.Error("anonymous holds permissions")
	}
	admin := NewPrincipal(Identity{UID: "u3", Username: "admin", Type: "human", Active: true}, Grants{DirectRoles: []string{AdminRole}, Roles: []string{AdminRole}})
	for _, d := range Catalogue {
		if !admin.Can(d.Name) {
			t.Errorf("admin lacks %s", d.Name)
		}
	}
	if allocs := testing.AllocsPerRun(100, func() { p.CanOn("tokens.write", Object{KindGroup, "ci"}) }); allocs != 0 {
		t.Errorf("CanOn allocates %v", allocs)
	}
}

func TestNarrow(t *testing.T) {
	owner := NewPrincipal(Identity{UID: "u", Username: "ci", Type: "service_account", Active: true},
		Grants{Roles: []string{"deployer"}, Permissions: []string{"applications.write", "groups.write@group/ci", "tokens.read"}})
	got := owner.Narrow([]string{"applications.write@application/site", "groups.write", "users.read", "bogus"})
	want := []string{"applications.write@application/site", "groups.write@group/ci"}
	if !slices.Equal(got.Permissions, want) || !got.Narrowed || got.UID != "u" {
		t.Fatalf("narrowed to %v, want %v", got.Permissions, want)
	}
	if got.Can("tokens.read") || got.CanOn("applications.write", Object{KindApplication, "other"}) || !got.CanOn("groups.write", Object{KindGroup, "ci"}) {
		t.Fatal("the narrowed principal reaches beyond the intersection")
	}
	admin := NewPrincipal(Identity{UID: "a", Username: "admin", Type: "human", Active: true}, Grants{Roles: []string{AdminRole}})
	if n := admin.Narrow([]string{"users.read"}); n.IsAdmin() || !slices.Equal(n.Permissions, []string{"users.read"}) {
		t.Fatalf("an administrator's narrowed key: admin=%v %v", n.IsAdmin(), n.Permissions)
	}
	if n := owner.Narrow([]string{}); len(n.Permissions) != 0 || !n.Active {
		t.Fatalf("an empty list: %v", n.Permissions)
	}
}
