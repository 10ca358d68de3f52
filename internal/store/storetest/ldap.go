package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

var ldapTests = []testCase{
	{"ldap/providers", testLDAPProviders},
	{"ldap/provider-list", testLDAPProviderList},
	{"ldap/outposts", testOutposts},
	{"ldap/provider-delete-blocked-by-outpost", testLDAPProviderDeleteBlocked},
	{"ldap/memberships", testLDAPMemberships},
	{"ldap/outpost-in-rolled-back-tx", testOutpostRollback},
}

func ldapProvider(name string) store.LDAPProvider {
	return store.LDAPProvider{UID: newUID(), Name: name, BaseDN: "dc=example,dc=com", BindMode: store.LDAPModeDirect,
		SearchMode: store.LDAPModeCached, CreatedAt: at(time.Minute)}
}

func mustLDAPProvider(t *testing.T, q store.Queries, name string) store.LDAPProvider {
	t.Helper()
	p := ldapProvider(name)
	mustNil(t, q.CreateLDAPProvider(ctx(t), p), "CreateLDAPProvider")
	return p
}

func internalAccount(name string) store.User {
	return store.User{UID: newUID(), Username: name, Type: store.TypeInternalServiceAccount, IsActive: true, Managed: true, CreatedAt: t0}
}

func testLDAPProviders(t *testing.T, s store.Store) {
	p := store.LDAPProvider{UID: newUID(), Name: "nas", BaseDN: `o=Acme\, Inc.,dc=example,dc=com`, SearchGroup: "nas-users",
		BindMode: store.LDAPModeCached, SearchMode: store.LDAPModeDirect, UPNDomain: "example.com", CreatedAt: at(time.Hour)}
	mustNil(t, s.CreateLDAPProvider(ctx(t), p), "CreateLDAPProvider")
	got, err := s.GetLDAPProvider(ctx(t), "nas")
	mustNil(t, err, "GetLDAPProvider")
	equal(t, got, p, "GetLDAPProvider")

	wantErr(t, s.CreateLDAPProvider(ctx(t), ldapProvider("nas")), store.ErrConflict, "CreateLDAPProvider(same name)")
	dup := ldapProvider("other")
	dup.UID = p.UID
	wantErr(t, s.CreateLDAPProvider(ctx(t), dup), store.ErrConflict, "CreateLDAPProvider(same UID)")
	wantNotFound(t, "GetLDAPProvider(NAS): names are case-sensitive")(s.GetLDAPProvider(ctx(t), "NAS"))

	changed := p
	changed.Name = "ignored"
	changed.CreatedAt = t0
	changed.BaseDN, changed.SearchGroup, changed.BindMode, changed.SearchMode, changed.UPNDomain =
		"dc=corp", "", store.LDAPModeDirect, store.LDAPModeCached, ""
	mustNil(t, s.UpdateLDAPProvider(ctx(t), changed), "UpdateLDAPProvider")
	got, err = s.GetLDAPProvider(ctx(t), "nas")
	mustNil(t, err, "GetLDAPProvider(after update)")
	changed.Name, changed.CreatedAt = p.Name, p.CreatedAt // neither is written
	equal(t, got, changed, "updated provider")
	wantErr(t, s.UpdateLDAPProvider(ctx(t), ldapProvider("ghost")), store.ErrNotFound, "UpdateLDAPProvider(unknown)")

	mustNil(t, s.DeleteLDAPProvider(ctx(t), p.UID), "DeleteLDAPProvider")
	wantNotFound(t, "GetLDAPProvider(deleted)")(s.GetLDAPProvider(ctx(t), "nas"))
	wantErr(t, s.DeleteLDAPProvider(ctx(t), p.UID), store.ErrNotFound, "DeleteLDAPProvider(again)")
}

func testLDAPProviderList(t *testing.T, s store.Store) {
	for _, name := range slices.Backward(orderingNames) {
		mustLDAPProvider(t, s, name)
	}
	all, pages := paginate(t, 4, func(p store.LDAPProvider) string { return p.Name }, func(after string) ([]store.LDAPProvider, error) {
		return s.ListLDAPProviders(ctx(t), store.LDAPProviderFilter{After: after, Limit: 4})
	})
	equal(t, names(all, func(p store.LDAPProvider) string { return p.Name }), orderingNames, "provider names in byte order")
	if pages != (len(orderingNames)+3)/4 {
		t.Errorf("pages = %d", pages)
	}
}

func testOutposts(t *testing.T, s store.Store) {
	p := mustLDAPProvider(t, s, "nas")
	q := mustLDAPProvider(t, s, "wiki")
	acct := mustCreateUser(t, s, internalAccount("outpost-a"))
	acct2 := mustCreateUser(t, s, internalAccount("outpost-b"))
	o := store.Outpost{UID: newUID(), Name: "a", Description: "rack 1", ProviderUID: p.UID, UserUID: acct.UID, TokenTTL: 720 * time.Hour, CreatedAt: at(time.Second)}
	mustNil(t, s.CreateOutpost(ctx(t), o), "CreateOutpost")
	o.ProviderName, o.Username = "nas", "outpost-a"
	got, err := s.GetOutpost(ctx(t), "a")
	mustNil(t, err, "GetOutpost")
	equal(t, got, o, "GetOutpost")
	wantRead(t, o, "GetOutpostByUser")(s.GetOutpostByUser(ctx(t), acct.UID))
	wantNotFound(t, "GetOutpostByUser(no outpost)")(s.GetOutpostByUser(ctx(t), acct2.UID))

	taken := store.Outpost{UID: newUID(), Name: "a", ProviderUID: q.UID, UserUID: acct2.UID, CreatedAt: t0}
	wantErr(t, s.CreateOutpost(ctx(t), taken), store.ErrConflict, "CreateOutpost(taken name)")
	sameUser := store.Outpost{UID: newUID(), Name: "c", ProviderUID: q.UID, UserUID: acct.UID, CreatedAt: t0}
	wantErr(t, s.CreateOutpost(ctx(t), sameUser), store.ErrConflict, "CreateOutpost(account already an outpost)")
	noProvider := store.Outpost{UID: newUID(), Name: "d", ProviderUID: newUID(), UserUID: acct2.UID, CreatedAt: t0}
	wantErr(t, s.CreateOutpost(ctx(t), noProvider), store.ErrNotFound, "CreateOutpost(missing provider)")
	noUser := store.Outpost{UID: newUID(), Name: "e", ProviderUID: q.UID, UserUID: newUID(), CreatedAt: t0}
	wantErr(t, s.CreateOutpost(ctx(t), noUser), store.ErrNotFound, "CreateOutpost(missing user)")

	b := store.Outpost{UID: newUID(), Name: "b", ProviderUID: q.UID, UserUID: acct2.UID, CreatedAt: t0}
	mustNil(t, s.CreateOutpost(ctx(t), b), "CreateOutpost(b)")
	all, err := s.ListOutposts(ctx(t), store.OutpostFilter{})
	mustNil(t, err, "ListOutposts")
	equal(t, names(all, func(o store.Outpost) string { return o.Name }), []string{"a", "b"}, "all outposts")
	ofQ, err := s.ListOutposts(ctx(t), store.OutpostFilter{ProviderUID: q.UID})
	mustNil(t, err, "ListOutposts(provider)")
	equal(t, names(ofQ, func(o store.Outpost) string { return o.Name + "@" + o.ProviderName + "/" + o.Username }),
		[]string{"b@wiki/outpost-b"}, "outposts of wiki")
	after, err := s.ListOutposts(ctx(t), store.OutpostFilter{After: "a", Limit: 10})
	mustNil(t, err, "ListOutposts(after)")
	equal(t, len(after), 1, "outposts after a")

	// Deleting the account takes its outpost with it.
	mustNil(t, s.DeleteUser(ctx(t), acct2.UID), "DeleteUser(outpost account)")
	wantNotFound(t, "GetOutpost(account deleted)")(s.GetOutpost(ctx(t), "b"))

	mustNil(t, s.DeleteOutpost(ctx(t), o.UID), "DeleteOutpost")
	wantNotFound(t, "GetOutpost(deleted)")(s.GetOutpost(ctx(t), "a"))
	wantErr(t, s.DeleteOutpost(ctx(t), o.UID), store.ErrNotFound, "DeleteOutpost(again)")
	// The account stays: the core deletes it in the same transaction.
	_, err = s.GetUserByUID(ctx(t), acct.UID)
	mustNil(t, err, "account after DeleteOutpost")
}

func testLDAPProviderDeleteBlocked(t *testing.T, s store.Store) {
	p := mustLDAPProvider(t, s, "nas")
	acct := mustCreateUser(t, s, internalAccount("outpost-a"))
	o := store.Outpost{UID: newUID(), Name: "a", ProviderUID: p.UID, UserUID: acct.UID, CreatedAt: t0}
	mustNil(t, s.CreateOutpost(ctx(t), o), "CreateOutpost")
	wantErr(t, s.DeleteLDAPProvider(ctx(t), p.UID), store.ErrConflict, "DeleteLDAPProvider(served by an outpost)")
	_, err := s.GetLDAPProvider(ctx(t), "nas")
	mustNil(t, err, "provider still there")
	mustNil(t, s.DeleteOutpost(ctx(t), o.UID), "DeleteOutpost")
	mustNil(t, s.DeleteLDAPProvider(ctx(t), p.UID), "DeleteLDAPProvider(after the outpost went)")
}

func testLDAPMemberships(t *testing.T, s store.Store) {
	ms, err := s.ListMemberships(ctx(t))
	mustNil(t, err, "ListMemberships(empty)")
	equal(t, len(ms), 0, "no memberships")
	alice, bob := mustUser(t, s, "alice"), mustUser(t, s, "bob")
	ops, dev := mustGroup(t, s, "ops"), mustGroup(t, s, "dev")
	for _, m := range [][2]string{{ops.UID, alice.UID}, {ops.UID, bob.UID}, {dev.UID, bob.UID}} {
		mustNil(t, s.AddMember(ctx(t), m[0], m[1]), "AddMember")
	}
	want := []store.Membership{{GroupUID: ops.UID, UserUID: alice.UID}, {GroupUID: ops.UID, UserUID: bob.UID}, {GroupUID: dev.UID, UserUID: bob.UID}}
	slices.SortFunc(want, func(a, b store.Membership) int {
		if c := cmpString(a.GroupUID, b.GroupUID); c != 0 {
			return c
		}
		return cmpString(a.UserUID, b.UserUID)
	})
	wantRead(t, want, "memberships")(s.ListMemberships(ctx(t)))
}

func testOutpostRollback(t *testing.T, s store.Store) {
	p := mustLDAPProvider(t, s, "nas")
	err := s.InTx(ctx(t), func(q store.Queries) error {
		acct := mustCreateUser(t, q, internalAccount("outpost-a"))
		mustNil(t, q.CreateOutpost(ctx(t), store.Outpost{UID: newUID(), Name: "a", ProviderUID: p.UID, UserUID: acct.UID, CreatedAt: t0}), "CreateOutpost in tx")
		return store.ErrConflict // roll back
	})
	wantErr(t, err, store.ErrConflict, "InTx")
	wantNotFound(t, "outpost after rollback")(s.GetOutpost(ctx(t), "a"))
	wantNotFound(t, "account after rollback")(s.GetUser(ctx(t), "outpost-a"))
}
