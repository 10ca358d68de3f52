package storetest

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

var bulkTests = []testCase{
	{"bulk/load-reads-back", testBulkLoad},
	{"bulk/all-or-nothing", testBulkAtomic},
}

func bulkLoader(t *testing.T, s store.Store) store.BulkLoader {
	t.Helper()
	bl, ok := s.(store.BulkLoader)
	if !ok {
		t.Skipf("%s has no bulk loader", s.Dialect())
	}
	return bl
}

// testBulkLoad: rows loaded in bulk read back through the ordinary
// queries exactly as if CreateUser, AddMember and CreateToken had
// written them.
func testBulkLoad(t *testing.T, s store.Store) {
	bl := bulkLoader(t, s)
	g := mustGroup(t, s, "fleet")
	sa := human("ci-runner")
	sa.Type, sa.Name, sa.Email, sa.Description, sa.Managed = store.TypeServiceAccount, "", "", "runs CI", true
	alice := human("alice")
	alice.PasswordHash, alice.PasswordChangedAt, alice.LastLoginAt = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", ptr(at(time.Hour)), ptr(at(2*time.Hour))
	full := store.Token{UID: newUID(), Identifier: "ci-runner-1", UserUID: sa.UID, Intent: store.IntentAPI,
		Description: "deploys", Expiring: true, ExpiresAt: ptr(at(30 * 24 * time.Hour)), Extended: true,
		MaxAge: 30*24*time.Hour + 7, CreatedAt: at(time.Second), CreatedBy: "admin", LastUsedAt: ptr(at(time.Minute)), Managed: true}
	bare := store.Token{UID: newUID(), Identifier: "alice-laptop", UserUID: alice.UID, Intent: store.IntentAppPassword, CreatedAt: t0}
	fullKey := store.TokenKey{Lookup: "lk-full", Hash: []byte{0, 1, 0xff}, NotAfter: ptr(at(time.Hour)), CreatedAt: at(time.Second)}
	bareKey := store.TokenKey{Lookup: "lk-bare", Hash: []byte("h"), CreatedAt: t0}
	err := bl.BulkLoad(ctx(t), store.Bulk{
		Users:   []store.User{sa, alice},
		Members: []store.Membership{{GroupUID: g.UID, UserUID: sa.UID}, {GroupUID: g.UID, UserUID: alice.UID}},
		Tokens:  []store.Token{full, bare},
		Keys:    []store.TokenKey{fullKey, bareKey},
	})
	mustNil(t, err, "BulkLoad")

	for _, u := range []store.User{sa, alice} {
		got, err := s.GetUser(ctx(t), u.Username)
		mustNil(t, err, "GetUser")
		equal(t, got, u, "bulk-loaded user")
	}
	members, err := s.ListMembers(ctx(t), g.UID)
	mustNil(t, err, "ListMembers")
	equal(t, members, []string{"alice", "ci-runner"}, "members")

	for _, c := range []struct {
		tok  store.Token
		key  store.TokenKey
		user store.User
	}{{full, fullKey, sa}, {bare, bareKey, alice}} {
		want := c.tok
		want.Username, want.UserType = c.user.Username, c.user.Type
		got, err := s.GetToken(ctx(t), c.tok.Identifier)
		mustNil(t, err, "GetToken")
		equal(t, got, want, "bulk-loaded token")
		k, tok, err := s.LookupKey(ctx(t), c.key.Lookup)
		mustNil(t, err, "LookupKey")
		wantKey := c.key
		wantKey.TokenUID = c.tok.UID // the key's own TokenUID was left empty
		equal(t, k, wantKey, "bulk-loaded key")
		equal(t, tok, want, "token of the key")
	}
	ts, err := s.ListTokens(ctx(t), store.TokenFilter{UserUID: sa.UID, Intent: store.IntentAPI, ExpiringBefore: ptr(at(31 * 24 * time.Hour)), Limit: 10})
	mustNil(t, err, "ListTokens")
	equal(t, identifiers(ts), []string{"ci-runner-1"}, "filtered list")
}

// testBulkAtomic: one bad row fails the whole load and writes nothing.
func testBulkAtomic(t *testing.T, s store.Store) {
	bl := bulkLoader(t, s)
	owner := mustUser(t, s, "owner")
	mustToken(t, s, apiToken(owner, "taken"))
	newcomer := human("newcomer")
	dup := apiToken(newcomer, "taken")
	err := bl.BulkLoad(ctx(t), store.Bulk{
		Users:  []store.User{newcomer},
		Tokens: []store.Token{dup},
		Keys:   []store.TokenKey{{Lookup: "lk-new", Hash: []byte("h"), CreatedAt: t0}},
	})
	wantErr(t, err, store.ErrConflict, "BulkLoad with a taken identifier")
	wantNotFound(t, "the user of a failed bulk load")(s.GetUser(ctx(t), "newcomer"))
	// The store still takes writes after a failed load (SQLite's single
	// writer connection is released).
	mustUser(t, s, "after-failure")

	orphan := apiToken(store.User{UID: newUID(), Username: "ghost"}, "orphan")
	err = bl.BulkLoad(ctx(t), store.Bulk{Tokens: []store.Token{orphan}, Keys: []store.TokenKey{{Lookup: "lk-orphan", Hash: []byte("h"), CreatedAt: t0}}})
	wantErr(t, err, store.ErrNotFound, "BulkLoad of a token of a missing user")

	if err := bl.BulkLoad(ctx(t), store.Bulk{Tokens: []store.Token{apiToken(owner, "no-key")}}); err == nil {
		t.Error("BulkLoad of a token without its key succeeded")
	}
	wantNotFound(t, "the token of a refused bulk load")(s.GetToken(ctx(t), "no-key"))
}
