package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

var groupTests = []testCase{
	{"groups/create-get-conflict", testGroupCreateGet},
	{"groups/update", testGroupUpdate},
	{"groups/delete", testGroupDelete},
	{"groups/list", testGroupList},
	{"groups/members", testGroupMembers},
}

func testGroupCreateGet(t *testing.T, s store.Store) {
	g := store.Group{UID: newUID(), Name: "ops", Description: "Operations", CreatedAt: at(time.Minute)}
	mustNil(t, s.CreateGroup(ctx(t), g), "CreateGroup")
	got, err := s.GetGroup(ctx(t), "ops")
	mustNil(t, err, "GetGroup")
	equal(t, got, g, "GetGroup")

	bare := store.Group{UID: newUID(), Name: "bare", CreatedAt: t0}
	mustNil(t, s.CreateGroup(ctx(t), bare), "CreateGroup(no description)")
	wantRead(t, bare, "GetGroup(bare)")(s.GetGroup(ctx(t), "bare"))

	wantErr(t, s.CreateGroup(ctx(t), store.Group{UID: newUID(), Name: "ops", CreatedAt: t0}), store.ErrConflict, "CreateGroup(same name)")
	wantErr(t, s.CreateGroup(ctx(t), store.Group{UID: g.UID, Name: "other", CreatedAt: t0}), store.ErrConflict, "CreateGroup(same UID)")
	wantNotFound(t, "GetGroup(after failed create)")(s.GetGroup(ctx(t), "other"))
	wantNotFound(t, "GetGroup(OPS): names are case-sensitive")(s.GetGroup(ctx(t), "OPS"))
	// A user and a group may share a name.
	mustUser(t, s, "ops")
}

func testGroupUpdate(t *testing.T, s store.Store) {
	g := mustGroup(t, s, "ops")
	mustGroup(t, s, "dev")
	changed := store.Group{UID: g.UID, Name: "sre", Description: "renamed", CreatedAt: at(time.Hour)}
	mustNil(t, s.UpdateGroup(ctx(t), changed), "UpdateGroup")
	got, err := s.GetGroup(ctx(t), "sre")
	mustNil(t, err, "GetGroup")
	changed.CreatedAt = g.CreatedAt
	equal(t, got, changed, "updated group")
	wantNotFound(t, "GetGroup(old name)")(s.GetGroup(ctx(t), "ops"))

	wantErr(t, s.UpdateGroup(ctx(t), store.Group{UID: g.UID, Name: "dev"}), store.ErrConflict, "UpdateGroup(taken name)")
	wantErr(t, s.UpdateGroup(ctx(t), store.Group{UID: newUID(), Name: "new"}), store.ErrNotFound, "UpdateGroup(unknown UID)")
	wantRead(t, changed, "group after failed updates")(s.GetGroup(ctx(t), "sre"))
}

func testGroupDelete(t *testing.T, s store.Store) {
	g := mustGroup(t, s, "ops")
	other := mustGroup(t, s, "dev")
	wantDeleted(t, s.DeleteGroup, s.GetGroup, g.UID, "ops", other, "dev")
}

func testGroupList(t *testing.T, s store.Store) {
	var want []store.Group
	// Created in reverse order; the description holds the name's index in
	// orderingNames.
	for i, name := range slices.Backward(orderingNames) {
		g := store.Group{UID: newUID(), Name: name, Description: fmt.Sprintf("Team %d", i), CreatedAt: at(time.Duration(i) * time.Second)}
		mustNil(t, s.CreateGroup(ctx(t), g), "CreateGroup")
		want = append(want, g)
	}
	slices.SortFunc(want, func(a, b store.Group) int { return cmpString(a.Name, b.Name) })
	got, pages := paginate(t, 4, func(g store.Group) string { return g.Name }, func(after string) ([]store.Group, error) {
		return s.ListGroups(ctx(t), store.GroupFilter{After: after, Limit: 4})
	})
	equal(t, got, want, "all pages")
	if pages != 7 {
		t.Fatalf("%d pages, want 7", pages)
	}

	// Search: name or description, ignoring case; combined with After.
	list := func(f store.GroupFilter) []string {
		t.Helper()
		gs, err := s.ListGroups(ctx(t), f)
		mustNil(t, err, fmt.Sprintf("ListGroups(%+v)", f))
		return groupNames(gs)
	}
	equal(t, list(store.GroupFilter{Search: "_", Limit: 100}), []string{"a_b", "c_c", "z_9"}, "search _")
	equal(t, list(store.GroupFilter{Search: "team 24", Limit: 100}), []string{"zz"}, "search description")
	equal(t, list(store.GroupFilter{Search: "TEAM 2", Limit: 100}), []string{"a0", "z-9", "z.9", "z9", "z_9", "zz"}, "search TEAM 2")
	equal(t, list(store.GroupFilter{Search: "AB", Limit: 100}), []string{"ab", "ab-c", "abc"}, "search AB")
	equal(t, list(store.GroupFilter{Search: "AB", After: "ab", Limit: 100}), []string{"ab-c", "abc"}, "search AB after ab")
	equal(t, list(store.GroupFilter{Search: "AB", After: "ab", Limit: 1}), []string{"ab-c"}, "search AB after ab, limit 1")
}

func testGroupMembers(t *testing.T, s store.Store) {
	ops := mustGroup(t, s, "ops")
	dev := mustGroup(t, s, "dev")
	empty := mustGroup(t, s, "empty")
	carol := mustUser(t, s, "carol")
	alice := mustUser(t, s, "alice")
	bob := mustUser(t, s, "bob")

	for _, m := range []struct{ g, u string }{
		{ops.UID, carol.UID}, {ops.UID, alice.UID}, {ops.UID, bob.UID}, {dev.UID, alice.UID},
		{ops.UID, alice.UID}, // idempotent
	} {
		mustNil(t, s.AddMember(ctx(t), m.g, m.u), "AddMember")
	}
	wantRead(t, []string{"alice", "bob", "carol"}, "members of ops")(s.ListMembers(ctx(t), ops.UID))
	wantRead(t, []string(nil), "members of an empty group")(s.ListMembers(ctx(t), empty.UID))
	wantRead(t, []string{"dev", "ops"}, "groups of alice")(s.UserGroups(ctx(t), alice.UID))
	wantRead(t, []string(nil), "groups of a user in none")(s.UserGroups(ctx(t), mustUser(t, s, "loner").UID))

	mustNil(t, s.RemoveMember(ctx(t), ops.UID, alice.UID), "RemoveMember")
	wantErr(t, s.RemoveMember(ctx(t), ops.UID, alice.UID), store.ErrNotFound, "RemoveMember(again)")
	wantErr(t, s.RemoveMember(ctx(t), empty.UID, bob.UID), store.ErrNotFound, "RemoveMember(not a member)")
	wantRead(t, []string{"bob", "carol"}, "members of ops after removal")(s.ListMembers(ctx(t), ops.UID))
	wantRead(t, []string{"dev"}, "groups of alice after removal")(s.UserGroups(ctx(t), alice.UID))

	wantErr(t, s.AddMember(ctx(t), newUID(), alice.UID), store.ErrNotFound, "AddMember(unknown group)")
	wantErr(t, s.AddMember(ctx(t), ops.UID, newUID()), store.ErrNotFound, "AddMember(unknown user)")

	// Renaming shows in the lists.
	mustNil(t, s.UpdateGroup(ctx(t), store.Group{UID: dev.UID, Name: "developers"}), "UpdateGroup")
	renamed := bob
	renamed.Username = "robert"
	mustNil(t, s.UpdateUser(ctx(t), renamed), "UpdateUser")
	mustNil(t, s.AddMember(ctx(t), dev.UID, bob.UID), "AddMember")
	wantRead(t, []string{"alice", "robert"}, "members after renames")(s.ListMembers(ctx(t), dev.UID))
	wantRead(t, []string{"developers", "ops"}, "groups after renames")(s.UserGroups(ctx(t), bob.UID))
}
