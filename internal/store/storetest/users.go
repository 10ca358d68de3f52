package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

var userTests = []testCase{
	{"users/create-and-get", testUserCreateGet},
	{"users/create-conflict", testUserCreateConflict},
	{"users/get-not-found", testUserGetNotFound},
	{"users/update", testUserUpdate},
	{"users/delete", testUserDelete},
	{"users/count", testUserCount},
	{"users/list-pagination", testUserListPagination},
	{"users/list-filters", testUserListFilters},
	{"users/permissions", testUserPermissions},
}

func testUserCreateGet(t *testing.T, s store.Store) {
	full := store.User{
		UID: newUID(), Username: "alice", Type: store.TypeHuman, Name: "Alice Liddell",
		Email: "alice@example.org", Description: "follows rabbits", IsActive: true, Managed: true,
		PasswordHash:      "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
		PasswordChangedAt: ptr(at(time.Hour)), CreatedAt: t0, LastLoginAt: ptr(at(2 * time.Hour)),
	}
	bare := store.User{UID: newUID(), Username: "svc", Type: store.TypeServiceAccount, CreatedAt: at(time.Second)}
	for _, u := range []store.User{full, bare} {
		mustCreateUser(t, s, u)
		got, err := s.GetUser(ctx(t), u.Username)
		mustNil(t, err, "GetUser")
		equal(t, got, u, "GetUser("+u.Username+")")
		wantRead(t, u, "GetUserByUID("+u.Username+")")(s.GetUserByUID(ctx(t), u.UID))
	}
	// Usernames are compared case-sensitively (they are lower-case by
	// validation above the store).
	wantNotFound(t, "GetUser(ALICE)")(s.GetUser(ctx(t), "ALICE"))
}

func testUserCreateConflict(t *testing.T, s store.Store) {
	a := mustUser(t, s, "alice")
	dup := human("alice")
	wantErr(t, s.CreateUser(ctx(t), dup), store.ErrConflict, "CreateUser(same username)")
	sameUID := human("bob")
	sameUID.UID = a.UID
	wantErr(t, s.CreateUser(ctx(t), sameUID), store.ErrConflict, "CreateUser(same UID)")
	wantNotFound(t, "GetUser(bob) after failed create")(s.GetUser(ctx(t), "bob"))
	wantRead(t, a, "alice after conflicting creates")(s.GetUser(ctx(t), "alice"))
}

func testUserGetNotFound(t *testing.T, s store.Store) {
	wantNotFound(t, "GetUser")(s.GetUser(ctx(t), "nobody"))
	wantNotFound(t, "GetUserByUID")(s.GetUserByUID(ctx(t), newUID()))
}

func testUserUpdate(t *testing.T, s store.Store) {
	a := mustUser(t, s, "alice")
	mustUser(t, s, "bob")

	changed := store.User{
		UID: a.UID, Username: "alicia", Type: store.TypeServiceAccount, Name: "Alicia",
		Email: "alicia@example.org", Description: "renamed", IsActive: false, Managed: true,
		PasswordHash: "$argon2id$new", PasswordChangedAt: ptr(at(time.Minute)),
		CreatedAt:   at(99 * time.Hour), // not written: CreatedAt never changes
		LastLoginAt: ptr(at(3 * time.Minute)),
	}
	mustNil(t, s.UpdateUser(ctx(t), changed), "UpdateUser")
	want := changed
	want.CreatedAt = a.CreatedAt
	got, err := s.GetUserByUID(ctx(t), a.UID)
	mustNil(t, err, "GetUserByUID")
	equal(t, got, want, "updated user")
	wantNotFound(t, "GetUser(old name)")(s.GetUser(ctx(t), "alice"))

	// Clearing optional fields.
	want.PasswordHash, want.PasswordChangedAt, want.LastLoginAt = "", nil, nil
	mustNil(t, s.UpdateUser(ctx(t), want), "UpdateUser(clear)")
	wantRead(t, want, "user with cleared fields")(s.GetUser(ctx(t), "alicia"))

	taken := want
	taken.Username = "bob"
	wantErr(t, s.UpdateUser(ctx(t), taken), store.ErrConflict, "UpdateUser(taken username)")
	wantRead(t, want, "user after conflicting update")(s.GetUserByUID(ctx(t), a.UID))

	ghost := human("ghost")
	wantErr(t, s.UpdateUser(ctx(t), ghost), store.ErrNotFound, "UpdateUser(unknown UID)")
}

func testUserDelete(t *testing.T, s store.Store) {
	a := mustUser(t, s, "alice")
	b := mustUser(t, s, "bob")
	wantDeleted(t, s.DeleteUser, s.GetUser, a.UID, "alice", b, "bob")
	wantNotFound(t, "GetUserByUID(deleted)")(s.GetUserByUID(ctx(t), a.UID))
	// The name is free again.
	mustUser(t, s, "alice")
}

func testUserCount(t *testing.T, s store.Store) {
	n, err := s.CountUsers(ctx(t))
	mustNil(t, err, "CountUsers")
	if n != 0 {
		t.Fatalf("CountUsers on an empty store = %d", n)
	}
	byType, err := s.CountUsersByType(ctx(t))
	mustNil(t, err, "CountUsersByType")
	equal(t, byType, map[string]int{}, "CountUsersByType on an empty store")

	for i, typ := range []string{store.TypeHuman, store.TypeHuman, store.TypeHuman,
		store.TypeServiceAccount, store.TypeServiceAccount, store.TypeInternalServiceAccount} {
		u := human(fmt.Sprintf("user%d", i))
		u.Type = typ
		mustCreateUser(t, s, u)
	}
	n, err = s.CountUsers(ctx(t))
	mustNil(t, err, "CountUsers")
	if n != 6 {
		t.Fatalf("CountUsers = %d, want 6", n)
	}
	byType, err = s.CountUsersByType(ctx(t))
	mustNil(t, err, "CountUsersByType")
	equal(t, byType, map[string]int{store.TypeHuman: 3, store.TypeServiceAccount: 2, store.TypeInternalServiceAccount: 1},
		"CountUsersByType")
}

// orderingNames are valid names whose byte order differs from the order
// of a natural-language collation (which ignores punctuation): lists and
// keyset pagination must follow byte order.
var orderingNames = []string{
	"a-b", "a.b", "a0", "a1", "a9", "a_b", "aa", "ab", "ab-c", "abc", "b", "b.2",
	"b10", "b2", "ba", "c", "c-c", "c_c", "cc", "z", "z-9", "z.9", "z9", "z_9", "zz",
}

func testUserListPagination(t *testing.T, s store.Store) {
	shuffled := slices.Clone(orderingNames)
	slices.Reverse(shuffled)
	var want []store.User
	for i, name := range shuffled {
		u := human(name)
		u.CreatedAt = at(time.Duration(i) * time.Second)
		want = append(want, mustCreateUser(t, s, u))
	}
	slices.SortFunc(want, func(a, b store.User) int { return cmpString(a.Username, b.Username) })

	for _, limit := range []int{1, 7, 25, 100} {
		got, pages := paginate(t, limit, func(u store.User) string { return u.Username }, func(after string) ([]store.User, error) {
			return s.ListUsers(ctx(t), store.UserFilter{After: after, Limit: limit})
		})
		equal(t, got, want, fmt.Sprintf("all pages with limit %d", limit))
		if wantPages := (len(want) + limit - 1) / limit; pages != wantPages {
			t.Fatalf("limit %d: %d pages, want %d", limit, pages, wantPages)
		}
	}
	// After need not be an existing name.
	got, err := s.ListUsers(ctx(t), store.UserFilter{After: "b1", Limit: 3})
	mustNil(t, err, "ListUsers(after b1)")
	equal(t, usernames(got), []string{"b10", "b2", "ba"}, "ListUsers(after b1)")
	got, err = s.ListUsers(ctx(t), store.UserFilter{After: "zz", Limit: 3})
	mustNil(t, err, "ListUsers(after the last)")
	equal(t, usernames(got), nil, "ListUsers(after the last)")
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func testUserListFilters(t *testing.T, s store.Store) {
	mk := func(username, typ, name, email, desc string) {
		u := human(username)
		u.Type, u.Name, u.Email, u.Description = typ, name, email, desc
		mustCreateUser(t, s, u)
	}
	mk("alice", store.TypeHuman, "Alice Liddell", "alice@wonder.land", "")
	mk("bob", store.TypeHuman, "Bob", "bob@example.org", "Builds BACKUPS")
	mk("backup", store.TypeServiceAccount, "", "", "nightly 100% backup")
	mk("ci_bot", store.TypeServiceAccount, "CI", "", "runs the pipeline")
	mk("cixbot", store.TypeServiceAccount, "", "", "")
	mk("gatehouse-internal", store.TypeInternalServiceAccount, "", "", "")

	list := func(f store.UserFilter) []string {
		t.Helper()
		if f.Limit == 0 {
			f.Limit = 100
		}
		us, err := s.ListUsers(ctx(t), f)
		mustNil(t, err, fmt.Sprintf("ListUsers(%+v)", f))
		return usernames(us)
	}
	cases := []struct {
		f    store.UserFilter
		want []string
	}{
		{store.UserFilter{}, []string{"alice", "backup", "bob", "ci_bot", "cixbot", "gatehouse-internal"}},
		{store.UserFilter{Type: store.TypeHuman}, []string{"alice", "bob"}},
		{store.UserFilter{Type: store.TypeServiceAccount}, []string{"backup", "ci_bot", "cixbot"}},
		{store.UserFilter{Type: store.TypeInternalServiceAccount}, []string{"gatehouse-internal"}},
		{store.UserFilter{Type: "nonexistent"}, nil},
		// username, name, email and description, ignoring case
		{store.UserFilter{Search: "ALI"}, []string{"alice"}},            // username and name
		{store.UserFilter{Search: "wonder.LAND"}, []string{"alice"}},    // email
		{store.UserFilter{Search: "backup"}, []string{"backup", "bob"}}, // username, description
		{store.UserFilter{Search: "PIPE"}, []string{"ci_bot"}},          // description
		{store.UserFilter{Search: "lidd"}, []string{"alice"}},           // name
		{store.UserFilter{Search: "i_b"}, []string{"ci_bot"}},           // _ is literal
		{store.UserFilter{Search: "100%"}, []string{"backup"}},          // % is literal
		{store.UserFilter{Search: "%"}, []string{"backup"}},             // % alone
		{store.UserFilter{Search: `\`}, nil},                            // escape character is literal
		{store.UserFilter{Search: "nothing matches this"}, nil},
		{store.UserFilter{Search: "b", Type: store.TypeServiceAccount}, []string{"backup", "ci_bot", "cixbot"}},
		{store.UserFilter{Search: "b", Type: store.TypeServiceAccount, After: "backup"}, []string{"ci_bot", "cixbot"}},
		{store.UserFilter{Search: "b", Type: store.TypeServiceAccount, After: "backup", Limit: 1}, []string{"ci_bot"}},
		{store.UserFilter{After: "bob", Limit: 2}, []string{"ci_bot", "cixbot"}},
	}
	for _, c := range cases {
		equal(t, list(c.f), c.want, fmt.Sprintf("ListUsers(%+v)", c.f))
	}
}

func testUserPermissions(t *testing.T, s store.Store) {
	a := mustUser(t, s, "alice")
	b := mustUser(t, s, "bob")
	got, err := s.GetUserPermissions(ctx(t), a.UID)
	mustNil(t, err, "GetUserPermissions(none)")
	equal(t, got, nil, "permissions of a new user")

	mustNil(t, s.SetUserPermissions(ctx(t), a.UID, []string{"users.write", "groups.read", "users.write", "audit.read"}), "SetUserPermissions")
	mustNil(t, s.SetUserPermissions(ctx(t), b.UID, []string{"tokens.read"}), "SetUserPermissions(bob)")
	got, err = s.GetUserPermissions(ctx(t), a.UID)
	mustNil(t, err, "GetUserPermissions")
	equal(t, got, []string{"audit.read", "groups.read", "users.write"}, "permissions, sorted and unique")

	// Replaces the set.
	mustNil(t, s.SetUserPermissions(ctx(t), a.UID, []string{"tokens.write", "groups.read"}), "SetUserPermissions(replace)")
	got, err = s.GetUserPermissions(ctx(t), a.UID)
	mustNil(t, err, "GetUserPermissions")
	equal(t, got, []string{"groups.read", "tokens.write"}, "replaced permissions")

	mustNil(t, s.SetUserPermissions(ctx(t), a.UID, nil), "SetUserPermissions(empty)")
	got, err = s.GetUserPermissions(ctx(t), a.UID)
	mustNil(t, err, "GetUserPermissions")
	equal(t, got, nil, "cleared permissions")

	wantRead(t, []string{"tokens.read"}, "the other user's permissions")(s.GetUserPermissions(ctx(t), b.UID))

	wantErr(t, s.SetUserPermissions(ctx(t), newUID(), []string{"x"}), store.ErrNotFound, "SetUserPermissions(unknown user)")
	wantErr(t, s.SetUserPermissions(ctx(t), newUID(), nil), store.ErrNotFound, "SetUserPermissions(unknown user, empty set)")
}
