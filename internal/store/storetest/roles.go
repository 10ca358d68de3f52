package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

var roleTests = []testCase{
	{"roles/create-get-conflict", testRoleCreateGet},
	{"roles/update", testRoleUpdate},
	{"roles/delete", testRoleDelete},
	{"roles/list", testRoleList},
	{"roles/assignments", testRoleAssignments},
}

func testRoleCreateGet(t *testing.T, s store.Store) {
	admin := store.Role{UID: newUID(), Name: "admin", Description: "Everything", Builtin: true,
		Permissions: []string{"users.write", "audit.read", "groups.write", "audit.read"}, CreatedAt: at(time.Second)}
	mustNil(t, s.CreateRole(ctx(t), admin), "CreateRole")
	got, err := s.GetRole(ctx(t), "admin")
	mustNil(t, err, "GetRole")
	want := admin
	want.Permissions = []string{"audit.read", "groups.write", "users.write"}
	equal(t, got, want, "GetRole: permissions as a sorted set")

	bare := store.Role{UID: newUID(), Name: "viewer", CreatedAt: t0}
	mustNil(t, s.CreateRole(ctx(t), bare), "CreateRole(no permissions)")
	wantRead(t, bare, "GetRole(viewer)")(s.GetRole(ctx(t), "viewer"))

	wantErr(t, s.CreateRole(ctx(t), store.Role{UID: newUID(), Name: "admin", Permissions: []string{"x"}, CreatedAt: t0}),
		store.ErrConflict, "CreateRole(same name)")
	wantErr(t, s.CreateRole(ctx(t), store.Role{UID: admin.UID, Name: "other", Permissions: []string{"x"}, CreatedAt: t0}),
		store.ErrConflict, "CreateRole(same UID)")
	wantNotFound(t, "GetRole(after failed create)")(s.GetRole(ctx(t), "other"))
	wantRead(t, want, "role after failed creates: permissions untouched")(s.GetRole(ctx(t), "admin"))
	wantNotFound(t, "GetRole(unknown)")(s.GetRole(ctx(t), "nobody"))
}

func testRoleUpdate(t *testing.T, s store.Store) {
	r := mustRole(t, s, "editor", "a.read", "a.write")
	mustRole(t, s, "viewer", "a.read")
	changed := store.Role{UID: r.UID, Name: "writer", Description: "new text",
		Builtin:     true, // not written: only name, description and permissions change
		Permissions: []string{"c.write", "b.read", "c.write"}, CreatedAt: at(time.Hour)}
	mustNil(t, s.UpdateRole(ctx(t), changed), "UpdateRole")
	got, err := s.GetRole(ctx(t), "writer")
	mustNil(t, err, "GetRole")
	want := store.Role{UID: r.UID, Name: "writer", Description: "new text", Permissions: []string{"b.read", "c.write"}, CreatedAt: r.CreatedAt}
	equal(t, got, want, "updated role")
	wantNotFound(t, "GetRole(old name)")(s.GetRole(ctx(t), "editor"))

	want.Permissions = nil
	mustNil(t, s.UpdateRole(ctx(t), want), "UpdateRole(no permissions)")
	wantRead(t, want, "role with its permissions removed")(s.GetRole(ctx(t), "writer"))

	taken := want
	taken.Name = "viewer"
	taken.Permissions = []string{"z"}
	wantErr(t, s.UpdateRole(ctx(t), taken), store.ErrConflict, "UpdateRole(taken name)")
	wantRead(t, want, "role after a failed update: permissions untouched")(s.GetRole(ctx(t), "writer"))
	wantErr(t, s.UpdateRole(ctx(t), store.Role{UID: newUID(), Name: "ghost", Permissions: []string{"x"}}), store.ErrNotFound, "UpdateRole(unknown UID)")
	wantNotFound(t, "GetRole(ghost)")(s.GetRole(ctx(t), "ghost"))
}

func testRoleDelete(t *testing.T, s store.Store) {
	r := mustRole(t, s, "editor", "a.read")
	other := mustRole(t, s, "viewer", "a.read")
	wantDeleted(t, s.DeleteRole, s.GetRole, r.UID, "editor", other, "viewer")
	// The name is free again, with a fresh permission set.
	recreated := mustRole(t, s, "editor")
	wantRead(t, recreated, "recreated role has no stale permissions")(s.GetRole(ctx(t), "editor"))
}

func testRoleList(t *testing.T, s store.Store) {
	var want []store.Role
	for i, name := range slices.Backward(orderingNames) {
		var perms []string
		for j := range i % 4 { // 0 to 3 permissions
			perms = append(perms, name+".perm"+string(rune('c'-j)))
		}
		want = append(want, mustRole(t, s, name, perms...))
	}
	slices.SortFunc(want, func(a, b store.Role) int { return cmpString(a.Name, b.Name) })
	for _, limit := range []int{1, 3, 25, 50} {
		got, _ := paginate(t, limit, func(r store.Role) string { return r.Name }, func(after string) ([]store.Role, error) {
			return s.ListRoles(ctx(t), store.RoleFilter{After: after, Limit: limit})
		})
		equal(t, got, want, "all pages, permissions included")
	}
}

func testRoleAssignments(t *testing.T, s store.Store) {
	r := mustRole(t, s, "editor", "a.write")
	other := mustRole(t, s, "viewer", "a.read")
	carol, alice := mustUser(t, s, "carol"), mustUser(t, s, "alice")
	ops, dev := mustGroup(t, s, "ops"), mustGroup(t, s, "dev")

	as, err := s.RoleAssignments(ctx(t), r.UID)
	mustNil(t, err, "RoleAssignments(none)")
	equal(t, as, store.RoleAssignments{}, "assignments of a new role")

	for _, u := range []string{carol.UID, alice.UID, alice.UID} { // idempotent
		mustNil(t, s.AssignRoleToUser(ctx(t), r.UID, u), "AssignRoleToUser")
	}
	for _, g := range []string{ops.UID, dev.UID, ops.UID} {
		mustNil(t, s.AssignRoleToGroup(ctx(t), r.UID, g), "AssignRoleToGroup")
	}
	mustNil(t, s.AssignRoleToGroup(ctx(t), other.UID, ops.UID), "AssignRoleToGroup(viewer)")
	wantRead(t, store.RoleAssignments{Users: []string{"alice", "carol"}, Groups: []string{"dev", "ops"}}, "assignments")(s.RoleAssignments(ctx(t), r.UID))
	wantRead(t, []string{"editor", "viewer"}, "roles of ops")(s.GroupRoles(ctx(t), ops.UID))
	wantRead(t, []string(nil), "roles of a group without any")(s.GroupRoles(ctx(t), mustGroup(t, s, "none").UID))

	mustNil(t, s.UnassignRoleFromUser(ctx(t), r.UID, carol.UID), "UnassignRoleFromUser")
	wantErr(t, s.UnassignRoleFromUser(ctx(t), r.UID, carol.UID), store.ErrNotFound, "UnassignRoleFromUser(again)")
	wantErr(t, s.UnassignRoleFromUser(ctx(t), other.UID, alice.UID), store.ErrNotFound, "UnassignRoleFromUser(never assigned)")
	mustNil(t, s.UnassignRoleFromGroup(ctx(t), r.UID, ops.UID), "UnassignRoleFromGroup")
	wantErr(t, s.UnassignRoleFromGroup(ctx(t), r.UID, ops.UID), store.ErrNotFound, "UnassignRoleFromGroup(again)")
	wantRead(t, store.RoleAssignments{Users: []string{"alice"}, Groups: []string{"dev"}}, "assignments after unassigning")(s.RoleAssignments(ctx(t), r.UID))
	wantRead(t, []string{"viewer"}, "roles of ops after unassigning")(s.GroupRoles(ctx(t), ops.UID))

	wantErr(t, s.AssignRoleToUser(ctx(t), newUID(), alice.UID), store.ErrNotFound, "AssignRoleToUser(unknown role)")
	wantErr(t, s.AssignRoleToUser(ctx(t), r.UID, newUID()), store.ErrNotFound, "AssignRoleToUser(unknown user)")
	wantErr(t, s.AssignRoleToGroup(ctx(t), newUID(), ops.UID), store.ErrNotFound, "AssignRoleToGroup(unknown role)")
	wantErr(t, s.AssignRoleToGroup(ctx(t), r.UID, newUID()), store.ErrNotFound, "AssignRoleToGroup(unknown group)")
}

var grantTests = []testCase{
	{"grants/direct-group-and-permissions", testGrants},
	{"grants/none", testGrantsNone},
	{"grants/load-key", testLoadKey},
}

// testGrants builds a user who holds roles directly and through groups,
// with overlaps everywhere, and checks the computed grants are sorted and
// de-duplicated.
func testGrants(t *testing.T, s store.Store) {
	u := mustUser(t, s, "alice")
	bystander := mustUser(t, s, "bob")
	auditor := mustRole(t, s, "auditor", "audit.read", "users.read")
	editor := mustRole(t, s, "editor", "users.write", "users.read", "groups.write")
	tokens := mustRole(t, s, "tokens", "tokens.write")
	unrelated := mustRole(t, s, "unrelated", "secret.stuff")
	empty := mustRole(t, s, "empty")
	ops, dev, idle := mustGroup(t, s, "ops"), mustGroup(t, s, "dev"), mustGroup(t, s, "idle")

	steps := []error{
		s.AddMember(ctx(t), ops.UID, u.UID),
		s.AddMember(ctx(t), dev.UID, u.UID),
		s.AddMember(ctx(t), idle.UID, u.UID),
		s.AddMember(ctx(t), ops.UID, bystander.UID),
		s.AssignRoleToUser(ctx(t), auditor.UID, u.UID),
		s.AssignRoleToUser(ctx(t), empty.UID, u.UID),
		s.AssignRoleToGroup(ctx(t), editor.UID, ops.UID),
		s.AssignRoleToGroup(ctx(t), auditor.UID, dev.UID), // also held directly
		s.AssignRoleToGroup(ctx(t), editor.UID, dev.UID),  // also through ops
		s.AssignRoleToUser(ctx(t), unrelated.UID, bystander.UID),
		s.AssignRoleToUser(ctx(t), tokens.UID, bystander.UID),
		s.SetUserPermissions(ctx(t), u.UID, []string{"zz.direct", "audit.read"}), // audit.read also through a role
		s.SetUserPermissions(ctx(t), bystander.UID, []string{"not.mine"}),
	}
	for i, err := range steps {
		mustNil(t, err, fmt.Sprintf("setup step %d", i))
	}
	g, err := s.UserGrants(ctx(t), u.UID)
	mustNil(t, err, "UserGrants")
	equal(t, g, store.Grants{
		Groups:      []string{"dev", "idle", "ops"},
		DirectRoles: []string{"auditor", "empty"},
		Roles:       []string{"auditor", "editor", "empty"},
		Permissions: []string{"audit.read", "groups.write", "users.read", "users.write", "zz.direct"},
	}, "grants")

	// Losing a path to a role keeps the role while another path remains.
	mustNil(t, s.RemoveMember(ctx(t), ops.UID, u.UID), "RemoveMember(ops)")
	mustNil(t, s.UnassignRoleFromUser(ctx(t), auditor.UID, u.UID), "UnassignRoleFromUser(auditor)")
	g, err = s.UserGrants(ctx(t), u.UID)
	mustNil(t, err, "UserGrants")
	equal(t, g, store.Grants{
		Groups:      []string{"dev", "idle"},
		DirectRoles: []string{"empty"},
		Roles:       []string{"auditor", "editor", "empty"},
		Permissions: []string{"audit.read", "groups.write", "users.read", "users.write", "zz.direct"},
	}, "grants after removing ops and the direct auditor role")

	// Role permission changes show at once.
	mustNil(t, s.UpdateRole(ctx(t), store.Role{UID: editor.UID, Name: "editor", Permissions: []string{"groups.write"}}), "UpdateRole")
	mustNil(t, s.RemoveMember(ctx(t), dev.UID, u.UID), "RemoveMember(dev)")
	mustNil(t, s.AssignRoleToGroup(ctx(t), editor.UID, idle.UID), "AssignRoleToGroup(idle)")
	g, err = s.UserGrants(ctx(t), u.UID)
	mustNil(t, err, "UserGrants")
	equal(t, g, store.Grants{
		Groups:      []string{"idle"},
		DirectRoles: []string{"empty"},
		Roles:       []string{"editor", "empty"},
		Permissions: []string{"audit.read", "groups.write", "zz.direct"},
	}, "grants after the role changed")

	g, err = s.UserGrants(ctx(t), bystander.UID)
	mustNil(t, err, "UserGrants(bob)")
	equal(t, g, store.Grants{
		Groups:      []string{"ops"},
		DirectRoles: []string{"tokens", "unrelated"},
		Roles:       []string{"editor", "tokens", "unrelated"},
		Permissions: []string{"groups.write", "not.mine", "secret.stuff", "tokens.write"},
	}, "grants of bob")
}

func testGrantsNone(t *testing.T, s store.Store) {
	u := mustUser(t, s, "alice")
	mustRole(t, s, "admin", "everything")
	mustGroup(t, s, "ops")
	wantRead(t, store.Grants{}, "grants of a user with none")(s.UserGrants(ctx(t), u.UID))
}

// testLoadKey: LoadKey is LookupKey, GetUserByUID and UserGrants in one.
func testLoadKey(t *testing.T, s store.Store) {
	u := human("alice")
	u.Name, u.Email, u.Description, u.PasswordHash = "Alice", "alice@example.com", "ops", "hash"
	u.LastLoginAt = ptr(at(time.Hour))
	u = mustCreateUser(t, s, u)
	none := mustUser(t, s, "bob")
	ops := mustGroup(t, s, "ops")
	r := mustRole(t, s, "editor", "x.write")
	mustNil(t, s.AddMember(ctx(t), ops.UID, u.UID), "AddMember")
	mustNil(t, s.AssignRoleToGroup(ctx(t), r.UID, ops.UID), "AssignRoleToGroup")
	mustNil(t, s.SetUserPermissions(ctx(t), u.UID, []string{"p.read"}), "SetUserPermissions")
	for _, owner := range []store.User{u, none} {
		tok := mustToken(t, s, apiToken(owner, owner.Username+"-ci"))
		l, err := s.LoadKey(ctx(t), "lk-"+tok.Identifier)
		mustNil(t, err, "LoadKey")
		k, wantTok, err := s.LookupKey(ctx(t), "lk-"+tok.Identifier)
		mustNil(t, err, "LookupKey")
		wantOwner, err := s.GetUserByUID(ctx(t), owner.UID)
		mustNil(t, err, "GetUserByUID")
		g, err := s.UserGrants(ctx(t), owner.UID)
		mustNil(t, err, "UserGrants")
		equal(t, l, store.KeyLoad{Key: k, Token: wantTok, Owner: wantOwner, Grants: g}, "LoadKey of "+owner.Username)
	}
	_, err := s.LoadKey(ctx(t), "lk-nobody")
	wantErr(t, err, store.ErrNotFound, "LoadKey(unknown)")
}

var cascadeTests = []testCase{
	{"cascade/delete-user", testCascadeDeleteUser},
	{"cascade/delete-group", testCascadeDeleteGroup},
	{"cascade/delete-role", testCascadeDeleteRole},
}

func testCascadeDeleteUser(t *testing.T, s store.Store) {
	u := mustUser(t, s, "alice")
	keep := mustUser(t, s, "bob")
	ops := mustGroup(t, s, "ops")
	r := mustRole(t, s, "editor", "x.write")
	tok := mustToken(t, s, apiToken(u, "alice-ci"))
	mustNil(t, s.AddTokenKey(ctx(t), store.TokenKey{Lookup: "second-key", TokenUID: tok.UID, Hash: []byte{1}, CreatedAt: at(time.Hour)}), "AddTokenKey")
	keepTok := mustToken(t, s, apiToken(keep, "bob-ci"))
	// Every call runs; any error fails the setup.
	mustNil(t, errors.Join(
		s.AddMember(ctx(t), ops.UID, u.UID),
		s.AddMember(ctx(t), ops.UID, keep.UID),
		s.AssignRoleToUser(ctx(t), r.UID, u.UID),
		s.AssignRoleToUser(ctx(t), r.UID, keep.UID),
		s.SetUserPermissions(ctx(t), u.UID, []string{"p"}),
	), "setup")

	mustNil(t, s.DeleteUser(ctx(t), u.UID), "DeleteUser")

	_, err := s.GetToken(ctx(t), "alice-ci")
	wantErr(t, err, store.ErrNotFound, "GetToken(token of deleted user)")
	for _, lookup := range []string{"lk-alice-ci", "second-key"} {
		_, _, err = s.LookupKey(ctx(t), lookup)
		wantErr(t, err, store.ErrNotFound, "LookupKey("+lookup+") of deleted user")
	}
	keys, err := s.ListTokenKeys(ctx(t), tok.UID)
	mustNil(t, err, "ListTokenKeys")
	equal(t, keys, nil, "keys of the deleted user's token")
	tokens, err := s.ListTokens(ctx(t), store.TokenFilter{Limit: 10})
	mustNil(t, err, "ListTokens")
	equal(t, identifiers(tokens), []string{keepTok.Identifier}, "remaining tokens")
	wantRead(t, []string{"bob"}, "members after deleting alice")(s.ListMembers(ctx(t), ops.UID))
	as, err := s.RoleAssignments(ctx(t), r.UID)
	mustNil(t, err, "RoleAssignments")
	equal(t, as, store.RoleAssignments{Users: []string{"bob"}}, "assignments after deleting alice")
	perms, err := s.GetUserPermissions(ctx(t), u.UID)
	mustNil(t, err, "GetUserPermissions(deleted)")
	equal(t, perms, nil, "permissions of the deleted user")
	wantRead(t, []string(nil), "groups of the deleted user")(s.UserGroups(ctx(t), u.UID))

	// A new user with the same name starts clean.
	again := mustUser(t, s, "alice")
	wantRead(t, store.Grants{}, "grants of a recreated user")(s.UserGrants(ctx(t), again.UID))
	mustToken(t, s, apiToken(again, "alice-ci"))
}

func testCascadeDeleteGroup(t *testing.T, s store.Store) {
	u := mustUser(t, s, "alice")
	ops, dev := mustGroup(t, s, "ops"), mustGroup(t, s, "dev")
	r := mustRole(t, s, "editor", "x.write")
	// Every call runs; any error fails the setup.
	mustNil(t, errors.Join(
		s.AddMember(ctx(t), ops.UID, u.UID),
		s.AddMember(ctx(t), dev.UID, u.UID),
		s.AssignRoleToGroup(ctx(t), r.UID, ops.UID),
	), "setup")
	mustNil(t, s.DeleteGroup(ctx(t), ops.UID), "DeleteGroup")
	wantRead(t, []string{"dev"}, "groups after deleting ops")(s.UserGroups(ctx(t), u.UID))
	wantRead(t, []string(nil), "members of the deleted group")(s.ListMembers(ctx(t), ops.UID))
	wantRead(t, store.RoleAssignments{}, "assignments after deleting ops")(s.RoleAssignments(ctx(t), r.UID))
	wantRead(t, store.Grants{Groups: []string{"dev"}}, "grants after deleting ops")(s.UserGrants(ctx(t), u.UID))
	// A new group with the same name starts clean.
	again := mustGroup(t, s, "ops")
	wantRead(t, []string(nil), "roles of a recreated group")(s.GroupRoles(ctx(t), again.UID))
}

func testCascadeDeleteRole(t *testing.T, s store.Store) {
	u := mustUser(t, s, "alice")
	ops := mustGroup(t, s, "ops")
	r := mustRole(t, s, "editor", "x.write")
	keep := mustRole(t, s, "viewer", "x.read")
	// Every call runs; any error fails the setup.
	mustNil(t, errors.Join(
		s.AddMember(ctx(t), ops.UID, u.UID),
		s.AssignRoleToGroup(ctx(t), r.UID, ops.UID),
		s.AssignRoleToGroup(ctx(t), keep.UID, ops.UID),
		s.AssignRoleToUser(ctx(t), r.UID, u.UID),
	), "setup")
	mustNil(t, s.DeleteRole(ctx(t), r.UID), "DeleteRole")
	wantRead(t, []string{"viewer"}, "roles of ops after deleting editor")(s.GroupRoles(ctx(t), ops.UID))
	wantRead(t, store.RoleAssignments{}, "assignments of the deleted role")(s.RoleAssignments(ctx(t), r.UID))
	wantRead(t, store.Grants{Groups: []string{"ops"}, Roles: []string{"viewer"}, Permissions: []string{"x.read"}}, "grants after deleting editor")(s.UserGrants(ctx(t), u.UID))
	// A new role with the same name starts clean.
	again := mustRole(t, s, "editor")
	wantRead(t, store.RoleAssignments{}, "assignments of a recreated role")(s.RoleAssignments(ctx(t), again.UID))
}
