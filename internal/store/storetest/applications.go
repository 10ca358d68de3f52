package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

var applicationTests = []testCase{
	{"applications/create-get-conflict", testApplicationCreateGet},
	{"applications/update", testApplicationUpdate},
	{"applications/delete", testApplicationDelete},
	{"applications/list", testApplicationList},
	{"applications/bindings", testBindings},
	{"applications/bindings-order", testBindingsOrder},
	{"applications/bindings-cascade", testBindingsCascade},
	{"applications/bindings-in-tx", testBindingsInTx},
}

func mustApplication(t *testing.T, q store.Queries, slug string) store.Application {
	t.Helper()
	a := store.Application{UID: newUID(), Slug: slug, Name: "App " + slug, URL: "https://" + slug + ".example.org/",
		Description: "application " + slug, PolicyEngineMode: store.PolicyModeAny, CreatedAt: t0}
	if err := q.CreateApplication(t.Context(), a); err != nil {
		t.Fatalf("CreateApplication(%q): %v", slug, err)
	}
	return a
}

func testApplicationCreateGet(t *testing.T, s store.Store) {
	a := store.Application{UID: newUID(), Slug: "grafana", Name: "Grafana dashboards", URL: "https://grafana.example.org/d",
		Description: "Metrics", PolicyEngineMode: store.PolicyModeAll, CreatedAt: at(time.Minute)}
	mustNil(t, s.CreateApplication(ctx(t), a), "CreateApplication")
	got, err := s.GetApplication(ctx(t), "grafana")
	mustNil(t, err, "GetApplication")
	equal(t, got, a, "GetApplication")

	bare := store.Application{UID: newUID(), Slug: "bare", Name: "Bare", PolicyEngineMode: store.PolicyModeAny, CreatedAt: t0}
	mustNil(t, s.CreateApplication(ctx(t), bare), "CreateApplication(no url, no description)")
	wantRead(t, bare, "GetApplication(bare)")(s.GetApplication(ctx(t), "bare"))

	wantErr(t, s.CreateApplication(ctx(t), store.Application{UID: newUID(), Slug: "grafana", Name: "x", PolicyEngineMode: "any", CreatedAt: t0}),
		store.ErrConflict, "CreateApplication(same slug)")
	wantErr(t, s.CreateApplication(ctx(t), store.Application{UID: a.UID, Slug: "other", Name: "x", PolicyEngineMode: "any", CreatedAt: t0}),
		store.ErrConflict, "CreateApplication(same UID)")
	wantNotFound(t, "GetApplication(after failed create)")(s.GetApplication(ctx(t), "other"))
	wantNotFound(t, "GetApplication(GRAFANA): slugs are case-sensitive")(s.GetApplication(ctx(t), "GRAFANA"))
	wantRead(t, a, "application after failed creates")(s.GetApplication(ctx(t), "grafana"))
	// An application, a user and a group may share a name.
	mustUser(t, s, "grafana")
	mustGroup(t, s, "grafana")
}

func testApplicationUpdate(t *testing.T, s store.Store) {
	a := mustApplication(t, s, "wiki")
	other := mustApplication(t, s, "git")
	changed := store.Application{UID: a.UID, Slug: "ignored", Name: "The wiki", URL: "", Description: "",
		PolicyEngineMode: store.PolicyModeAll, CreatedAt: at(time.Hour)}
	mustNil(t, s.UpdateApplication(ctx(t), changed), "UpdateApplication")
	got, err := s.GetApplication(ctx(t), "wiki")
	mustNil(t, err, "GetApplication")
	want := changed
	want.Slug, want.CreatedAt = a.Slug, a.CreatedAt // never written
	equal(t, got, want, "updated application")
	wantNotFound(t, "GetApplication(slug given to Update)")(s.GetApplication(ctx(t), "ignored"))

	wantErr(t, s.UpdateApplication(ctx(t), store.Application{UID: newUID(), Name: "x", PolicyEngineMode: "any"}),
		store.ErrNotFound, "UpdateApplication(unknown UID)")
	wantRead(t, other, "the other application")(s.GetApplication(ctx(t), "git"))
}

func testApplicationDelete(t *testing.T, s store.Store) {
	a := mustApplication(t, s, "wiki")
	other := mustApplication(t, s, "git")
	wantDeleted(t, s.DeleteApplication, s.GetApplication, a.UID, "wiki", other, "git")
}

func testApplicationList(t *testing.T, s store.Store) {
	var want []store.Application
	for i, slug := range slices.Backward(orderingNames) {
		a := store.Application{UID: newUID(), Slug: slug, Name: fmt.Sprintf("Name %d", i), Description: fmt.Sprintf("Tool %d", i),
			PolicyEngineMode: store.PolicyModeAny, CreatedAt: at(time.Duration(i) * time.Second)}
		mustNil(t, s.CreateApplication(ctx(t), a), "CreateApplication")
		want = append(want, a)
	}
	slices.SortFunc(want, func(a, b store.Application) int { return cmpString(a.Slug, b.Slug) })

	all, err := s.ListApplications(ctx(t), store.ApplicationFilter{})
	mustNil(t, err, "ListApplications(no limit)")
	equal(t, all, want, "ListApplications without a limit: every application in byte order")

	for _, limit := range []int{1, 7, 25, 100} {
		got, _ := paginate(t, limit, func(a store.Application) string { return a.Slug }, func(after string) ([]store.Application, error) {
			return s.ListApplications(ctx(t), store.ApplicationFilter{After: after, Limit: limit})
		})
		equal(t, got, want, fmt.Sprintf("paginated by %d", limit))
	}

	// Search: slug, name or description, case-insensitively; LIKE
	// wildcards match literally.
	for _, tc := range []struct {
		search string
		want   []string
	}{
		{"ZZ", []string{"zz"}},
		{"name 24", []string{"zz"}}, // names and descriptions hold the index in orderingNames
		{"TOOL 0", []string{"a-b"}},
		{"_", []string{"a_b", "c_c", "z_9"}},
		{"%", nil},
	} {
		got, err := s.ListApplications(ctx(t), store.ApplicationFilter{Search: tc.search, Limit: 100})
		mustNil(t, err, "ListApplications(search)")
		equal(t, names(got, func(a store.Application) string { return a.Slug }), tc.want, "search "+tc.search)
	}
}

func testBindings(t *testing.T, s store.Store) {
	app := mustApplication(t, s, "wiki")
	other := mustApplication(t, s, "git")
	alice := mustUser(t, s, "alice")
	ops := mustGroup(t, s, "ops")

	bs, err := s.ListBindings(ctx(t), app.UID)
	mustNil(t, err, "ListBindings(none)")
	equal(t, bs, nil, "no bindings yet")

	mustNil(t, s.PutBinding(ctx(t), store.Binding{ApplicationUID: app.UID, Kind: store.BindingUser, SubjectUID: alice.UID, Order: 5}), "PutBinding(user)")
	mustNil(t, s.PutBinding(ctx(t), store.Binding{ApplicationUID: app.UID, Kind: store.BindingGroup, SubjectUID: ops.UID, Order: -3, Negate: true,
		SubjectName: "ignored on writes"}), "PutBinding(group)")
	bs, err = s.ListBindings(ctx(t), app.UID)
	mustNil(t, err, "ListBindings")
	equal(t, bs, []store.Binding{
		{ApplicationUID: app.UID, Kind: store.BindingGroup, SubjectUID: ops.UID, SubjectName: "ops", Order: -3, Negate: true},
		{ApplicationUID: app.UID, Kind: store.BindingUser, SubjectUID: alice.UID, SubjectName: "alice", Order: 5},
	}, "bindings ordered by order")

	// Put again replaces order and negate; it is still one binding.
	mustNil(t, s.PutBinding(ctx(t), store.Binding{ApplicationUID: app.UID, Kind: store.BindingUser, SubjectUID: alice.UID, Order: -10, Negate: true}), "PutBinding(replace)")
	bs, err = s.ListBindings(ctx(t), app.UID)
	mustNil(t, err, "ListBindings")
	equal(t, bs, []store.Binding{
		{ApplicationUID: app.UID, Kind: store.BindingUser, SubjectUID: alice.UID, SubjectName: "alice", Order: -10, Negate: true},
		{ApplicationUID: app.UID, Kind: store.BindingGroup, SubjectUID: ops.UID, SubjectName: "ops", Order: -3, Negate: true},
	}, "bindings after replacing alice's")

	// Missing parents: not found, nothing written.
	wantErr(t, s.PutBinding(ctx(t), store.Binding{ApplicationUID: newUID(), Kind: store.BindingUser, SubjectUID: alice.UID}), store.ErrNotFound, "PutBinding(unknown application)")
	wantErr(t, s.PutBinding(ctx(t), store.Binding{ApplicationUID: app.UID, Kind: store.BindingUser, SubjectUID: newUID()}), store.ErrNotFound, "PutBinding(unknown user)")
	wantErr(t, s.PutBinding(ctx(t), store.Binding{ApplicationUID: app.UID, Kind: store.BindingGroup, SubjectUID: newUID()}), store.ErrNotFound, "PutBinding(unknown group)")
	// A user's UID is not a group's.
	wantErr(t, s.PutBinding(ctx(t), store.Binding{ApplicationUID: app.UID, Kind: store.BindingGroup, SubjectUID: alice.UID}), store.ErrNotFound, "PutBinding(user UID as group)")
	if err := s.PutBinding(ctx(t), store.Binding{ApplicationUID: app.UID, Kind: "role", SubjectUID: alice.UID}); err == nil {
		t.Fatal("PutBinding(kind role): no error")
	}

	mustNil(t, s.PutBinding(ctx(t), store.Binding{ApplicationUID: other.UID, Kind: store.BindingGroup, SubjectUID: ops.UID}), "PutBinding(other app)")
	all, err := s.AllBindings(ctx(t))
	mustNil(t, err, "AllBindings")
	if len(all) != 3 {
		t.Fatalf("AllBindings = %+v, want 3", all)
	}
	for i := 1; i < len(all); i++ {
		if all[i-1].ApplicationUID > all[i].ApplicationUID {
			t.Fatalf("AllBindings not ordered by application: %+v", all)
		}
	}
	var ofApp []store.Binding
	for _, b := range all {
		if b.ApplicationUID == app.UID {
			ofApp = append(ofApp, b)
		}
	}
	equal(t, ofApp, bs, "AllBindings holds the application's, in ListBindings order")

	// Delete.
	mustNil(t, s.DeleteBinding(ctx(t), app.UID, store.BindingUser, alice.UID), "DeleteBinding")
	wantErr(t, s.DeleteBinding(ctx(t), app.UID, store.BindingUser, alice.UID), store.ErrNotFound, "DeleteBinding(again)")
	wantErr(t, s.DeleteBinding(ctx(t), app.UID, store.BindingGroup, alice.UID), store.ErrNotFound, "DeleteBinding(wrong kind)")
	bs, err = s.ListBindings(ctx(t), app.UID)
	mustNil(t, err, "ListBindings")
	equal(t, names(bs, func(b store.Binding) string { return b.Kind + "/" + b.SubjectName }), []string{"group/ops"}, "after delete")
	bs, err = s.ListBindings(ctx(t), other.UID)
	mustNil(t, err, "ListBindings(other)")
	equal(t, names(bs, func(b store.Binding) string { return b.Kind + "/" + b.SubjectName }), []string{"group/ops"}, "other application untouched")
}

func testBindingsOrder(t *testing.T, s store.Store) {
	app := mustApplication(t, s, "wiki")
	// Same order: groups before users, then by name in byte order.
	var want []string
	for _, name := range []string{"b", "a-b", "a.b", "a_b"} {
		u := mustUser(t, s, name)
		g := mustGroup(t, s, name)
		mustNil(t, s.PutBinding(ctx(t), store.Binding{ApplicationUID: app.UID, Kind: store.BindingUser, SubjectUID: u.UID}), "PutBinding")
		mustNil(t, s.PutBinding(ctx(t), store.Binding{ApplicationUID: app.UID, Kind: store.BindingGroup, SubjectUID: g.UID}), "PutBinding")
	}
	first := mustUser(t, s, "zz")
	mustNil(t, s.PutBinding(ctx(t), store.Binding{ApplicationUID: app.UID, Kind: store.BindingUser, SubjectUID: first.UID, Order: -1}), "PutBinding")
	want = append(want, "user/zz")
	for _, kind := range []string{"group", "user"} {
		for _, name := range []string{"a-b", "a.b", "a_b", "b"} {
			want = append(want, kind+"/"+name)
		}
	}
	bs, err := s.ListBindings(ctx(t), app.UID)
	mustNil(t, err, "ListBindings")
	equal(t, names(bs, func(b store.Binding) string { return b.Kind + "/" + b.SubjectName }), want, "order, kind, name")
}

func testBindingsCascade(t *testing.T, s store.Store) {
	app := mustApplication(t, s, "wiki")
	other := mustApplication(t, s, "git")
	alice, bob := mustUser(t, s, "alice"), mustUser(t, s, "bob")
	ops, dev := mustGroup(t, s, "ops"), mustGroup(t, s, "dev")
	for _, b := range []store.Binding{
		{ApplicationUID: app.UID, Kind: store.BindingUser, SubjectUID: alice.UID},
		{ApplicationUID: app.UID, Kind: store.BindingUser, SubjectUID: bob.UID},
		{ApplicationUID: app.UID, Kind: store.BindingGroup, SubjectUID: ops.UID},
		{ApplicationUID: app.UID, Kind: store.BindingGroup, SubjectUID: dev.UID},
		{ApplicationUID: other.UID, Kind: store.BindingUser, SubjectUID: alice.UID},
		{ApplicationUID: other.UID, Kind: store.BindingGroup, SubjectUID: ops.UID},
	} {
		mustNil(t, s.PutBinding(ctx(t), b), "PutBinding")
	}
	list := func(a store.Application) []string {
		t.Helper()
		bs, err := s.ListBindings(ctx(t), a.UID)
		mustNil(t, err, "ListBindings")
		return names(bs, func(b store.Binding) string { return b.Kind + "/" + b.SubjectName })
	}
	mustNil(t, s.DeleteUser(ctx(t), alice.UID), "DeleteUser")
	mustNil(t, s.DeleteGroup(ctx(t), ops.UID), "DeleteGroup")
	equal(t, list(app), []string{"group/dev", "user/bob"}, "bindings after deleting alice and ops")
	equal(t, list(other), nil, "the other application's bindings")

	mustNil(t, s.DeleteApplication(ctx(t), app.UID), "DeleteApplication")
	all, err := s.AllBindings(ctx(t))
	mustNil(t, err, "AllBindings")
	equal(t, all, nil, "no binding survives its application")
	// The subjects survive their application.
	_, err = s.GetUser(ctx(t), "bob")
	mustNil(t, err, "GetUser(bob)")
	_, err = s.GetGroup(ctx(t), "dev")
	mustNil(t, err, "GetGroup(dev)")
}

// testBindingsInTx: inside a transaction, a missing parent is an answer
// (ErrNotFound), not a failure that dooms the transaction, and a rolled
// back binding is not there.
func testBindingsInTx(t *testing.T, s store.Store) {
	app := mustApplication(t, s, "wiki")
	alice := mustUser(t, s, "alice")
	err := s.InTx(ctx(t), func(q store.Queries) error {
		wantErr(t, q.PutBinding(ctx(t), store.Binding{ApplicationUID: app.UID, Kind: store.BindingUser, SubjectUID: newUID()}), store.ErrNotFound, "PutBinding(unknown user) in tx")
		wantErr(t, q.DeleteBinding(ctx(t), app.UID, store.BindingUser, alice.UID), store.ErrNotFound, "DeleteBinding(absent) in tx")
		return q.PutBinding(ctx(t), store.Binding{ApplicationUID: app.UID, Kind: store.BindingUser, SubjectUID: alice.UID, Order: 7})
	})
	mustNil(t, err, "InTx")
	bs, err := s.ListBindings(ctx(t), app.UID)
	mustNil(t, err, "ListBindings")
	equal(t, bs, []store.Binding{{ApplicationUID: app.UID, Kind: store.BindingUser, SubjectUID: alice.UID, SubjectName: "alice", Order: 7}}, "committed binding")

	rollback := fmt.Errorf("roll back")
	err = s.InTx(ctx(t), func(q store.Queries) error {
		mustNil(t, q.DeleteBinding(ctx(t), app.UID, store.BindingUser, alice.UID), "DeleteBinding in tx")
		return rollback
	})
	wantErr(t, err, rollback, "InTx")
	bs, err = s.ListBindings(ctx(t), app.UID)
	mustNil(t, err, "ListBindings")
	if len(bs) != 1 {
		t.Fatalf("rolled-back delete removed the binding: %+v", bs)
	}
}
