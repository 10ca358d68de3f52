package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

var tokenTests = []testCase{
	{"tokens/create-and-get", testTokenCreateGet},
	{"tokens/create-errors", testTokenCreateErrors},
	{"tokens/update", testTokenUpdate},
	{"tokens/delete", testTokenDelete},
	{"tokens/list-pagination", testTokenListPagination},
	{"tokens/list-filters", testTokenListFilters},
	{"tokens/touch", testTokenTouch},
	{"tokens/expired", testTokenExpired},
	{"tokens/managed-expiring-before", testTokenManagedExpiring},
	{"tokens/count", testTokenCount},
}

func testTokenCreateGet(t *testing.T, s store.Store) {
	u := mustUser(t, s, "alice")
	sa := human("deploy-bot")
	sa.Type = store.TypeServiceAccount
	mustCreateUser(t, s, sa)

	full := store.Token{
		UID: newUID(), Identifier: "deploy-2025", UserUID: sa.UID,
		Username: "ignored", UserType: "ignored", // filled from the user on reads
		Intent: store.IntentAPI, Description: "CI deploys", Expiring: true, ExpiresAt: ptr(at(90 * 24 * time.Hour)),
		Extended: true, MaxAge: 30*24*time.Hour + 1500*time.Millisecond + 7,
		CreatedAt: at(time.Second), CreatedBy: "alice", LastUsedAt: ptr(at(time.Minute)), Managed: true,
	}
	key := store.TokenKey{Lookup: "gh_deploy", TokenUID: full.UID, Hash: []byte{0, 1, 2, 0xfe, 0xff, 0}, CreatedAt: at(time.Second)}
	mustNil(t, s.CreateToken(ctx(t), full, key), "CreateToken")
	want := full
	want.Username, want.UserType = sa.Username, sa.Type
	got, err := s.GetToken(ctx(t), "deploy-2025")
	mustNil(t, err, "GetToken")
	equal(t, got, want, "GetToken")
	keys, err := s.ListTokenKeys(ctx(t), full.UID)
	mustNil(t, err, "ListTokenKeys")
	equal(t, keys, []store.TokenKey{key}, "the token's key")

	bare := store.Token{UID: newUID(), Identifier: "laptop", UserUID: u.UID, Intent: store.IntentAppPassword, CreatedAt: t0}
	mustNil(t, s.CreateToken(ctx(t), bare, store.TokenKey{Lookup: "ap_laptop", Hash: []byte("h"), CreatedAt: t0}),
		"CreateToken(bare, key without TokenUID)")
	want = bare
	want.Username, want.UserType = u.Username, u.Type
	wantRead(t, want, "GetToken(laptop)")(s.GetToken(ctx(t), "laptop"))
	_, tok, err := s.LookupKey(ctx(t), "ap_laptop")
	mustNil(t, err, "LookupKey(ap_laptop): the first key belongs to the new token")
	equal(t, tok, want, "token of the first key")

	wantNotFound(t, "GetToken(unknown)")(s.GetToken(ctx(t), "nope"))
	wantNotFound(t, "GetToken(LAPTOP): identifiers are case-sensitive")(s.GetToken(ctx(t), "LAPTOP"))
}

func testTokenCreateErrors(t *testing.T, s store.Store) {
	u := mustUser(t, s, "alice")
	first := mustToken(t, s, apiToken(u, "first"))

	absent := func(identifier string) {
		t.Helper()
		_, err := s.GetToken(ctx(t), identifier)
		wantErr(t, err, store.ErrNotFound, "GetToken("+identifier+") after a failed create")
	}

	dupIdent := apiToken(u, "first")
	wantErr(t, s.CreateToken(ctx(t), dupIdent, keyFor(dupIdent, "fresh-lookup")), store.ErrConflict, "CreateToken(taken identifier)")
	_, _, err := s.LookupKey(ctx(t), "fresh-lookup")
	wantErr(t, err, store.ErrNotFound, "key of a failed create")

	dupLookup := apiToken(u, "second")
	wantErr(t, s.CreateToken(ctx(t), dupLookup, keyFor(dupLookup, "lk-first")), store.ErrConflict, "CreateToken(taken lookup)")
	absent("second") // token and key commit together or not at all

	dupUID := apiToken(u, "third")
	dupUID.UID = first.UID
	wantErr(t, s.CreateToken(ctx(t), dupUID, keyFor(dupUID, "lk-third")), store.ErrConflict, "CreateToken(taken UID)")
	absent("third")

	orphan := apiToken(store.User{UID: newUID()}, "orphan")
	wantErr(t, s.CreateToken(ctx(t), orphan, keyFor(orphan, "lk-orphan")), store.ErrNotFound, "CreateToken(unknown user)")
	absent("orphan")
	_, _, err = s.LookupKey(ctx(t), "lk-orphan")
	wantErr(t, err, store.ErrNotFound, "key of the orphan")

	// The first token is untouched.
	_, tok, err := s.LookupKey(ctx(t), "lk-first")
	mustNil(t, err, "LookupKey(lk-first)")
	equal(t, tok, first, "first token")
}

func testTokenUpdate(t *testing.T, s store.Store) {
	u := mustUser(t, s, "alice")
	tok := apiToken(u, "ci")
	tok.LastUsedAt = ptr(at(time.Minute))
	mustToken(t, s, tok)

	changed := tok
	changed.Description = "new description"
	changed.Expiring, changed.ExpiresAt = true, ptr(at(48*time.Hour))
	changed.Extended, changed.MaxAge = true, 24*time.Hour
	changed.Managed = true
	// Not written by UpdateToken:
	changed.Identifier = "renamed"
	changed.UserUID = newUID()
	changed.Intent = store.IntentAppPassword
	changed.CreatedAt = at(time.Hour)
	changed.CreatedBy = "mallory"
	changed.LastUsedAt = nil
	mustNil(t, s.UpdateToken(ctx(t), changed), "UpdateToken")

	want := tok
	want.Description, want.Expiring, want.ExpiresAt = changed.Description, true, changed.ExpiresAt
	want.Extended, want.MaxAge, want.Managed = true, changed.MaxAge, true
	wantRead(t, want, "updated token")(s.GetToken(ctx(t), "ci"))

	// And back to a non-expiring token.
	want.Expiring, want.ExpiresAt, want.Extended, want.MaxAge, want.Managed = false, nil, false, 0, false
	mustNil(t, s.UpdateToken(ctx(t), want), "UpdateToken(non-expiring)")
	wantRead(t, want, "token made non-expiring")(s.GetToken(ctx(t), "ci"))

	wantErr(t, s.UpdateToken(ctx(t), apiToken(u, "ghost")), store.ErrNotFound, "UpdateToken(unknown UID)")
}

func testTokenDelete(t *testing.T, s store.Store) {
	u := mustUser(t, s, "alice")
	tok := mustToken(t, s, apiToken(u, "ci"))
	keep := mustToken(t, s, apiToken(u, "keep"))
	mustNil(t, s.AddTokenKey(ctx(t), store.TokenKey{Lookup: "rotated", TokenUID: tok.UID, Hash: []byte{9}, CreatedAt: at(time.Hour)}), "AddTokenKey")

	mustNil(t, s.DeleteToken(ctx(t), tok.UID), "DeleteToken")
	_, err := s.GetToken(ctx(t), "ci")
	wantErr(t, err, store.ErrNotFound, "GetToken(deleted)")
	for _, lookup := range []string{"lk-ci", "rotated"} {
		_, _, err := s.LookupKey(ctx(t), lookup)
		wantErr(t, err, store.ErrNotFound, "LookupKey("+lookup+") of a deleted token")
	}
	keys, err := s.ListTokenKeys(ctx(t), tok.UID)
	mustNil(t, err, "ListTokenKeys(deleted)")
	equal(t, keys, nil, "keys of a deleted token")
	wantErr(t, s.DeleteToken(ctx(t), tok.UID), store.ErrNotFound, "DeleteToken(again)")

	_, got, err := s.LookupKey(ctx(t), "lk-keep")
	mustNil(t, err, "LookupKey(lk-keep)")
	equal(t, got, keep, "the other token")
	// The identifier and lookup are free again.
	mustToken(t, s, apiToken(u, "ci"))
}

func testTokenListPagination(t *testing.T, s store.Store) {
	alice, bob := mustUser(t, s, "alice"), mustUser(t, s, "bob")
	var want []store.Token
	for i, ident := range slices.Backward(orderingNames) {
		owner := alice
		if i%3 == 0 {
			owner = bob
		}
		tok := apiToken(owner, ident)
		tok.CreatedAt = at(time.Duration(i) * time.Second)
		want = append(want, mustToken(t, s, tok))
	}
	slices.SortFunc(want, func(a, b store.Token) int { return cmpString(a.Identifier, b.Identifier) })
	for _, limit := range []int{1, 6, 25, 26} {
		got, _ := paginate(t, limit, func(tok store.Token) string { return tok.Identifier }, func(after string) ([]store.Token, error) {
			return s.ListTokens(ctx(t), store.TokenFilter{After: after, Limit: limit})
		})
		equal(t, got, want, fmt.Sprintf("all pages with limit %d", limit))
	}
	var bobs []store.Token
	for _, tok := range want {
		if tok.UserUID == bob.UID {
			bobs = append(bobs, tok)
		}
	}
	got, _ := paginate(t, 2, func(tok store.Token) string { return tok.Identifier }, func(after string) ([]store.Token, error) {
		return s.ListTokens(ctx(t), store.TokenFilter{UserUID: bob.UID, After: after, Limit: 2})
	})
	equal(t, got, bobs, "bob's tokens, paginated")
}

func testTokenListFilters(t *testing.T, s store.Store) {
	alice, bob := mustUser(t, s, "alice"), mustUser(t, s, "bob")
	mk := func(owner store.User, ident, intent, desc string, expiresAt, lastUsed *time.Time) {
		tok := apiToken(owner, ident)
		tok.Intent, tok.Description = intent, desc
		tok.Expiring, tok.ExpiresAt = expiresAt != nil, expiresAt
		tok.LastUsedAt = lastUsed
		mustToken(t, s, tok)
	}
	day := 24 * time.Hour
	mk(alice, "a-api-exp1", store.IntentAPI, "Deploys to PROD", ptr(at(1*day)), nil)
	mk(alice, "a-api-exp5", store.IntentAPI, "backups", ptr(at(5*day)), ptr(at(-day)))
	mk(alice, "a-api-forever", store.IntentAPI, "monitoring 100%", nil, ptr(at(day)))
	mk(alice, "a-app-laptop", store.IntentAppPassword, "Laptop mail", ptr(at(2*day)), ptr(at(2*day)))
	mk(bob, "b-api_exp2", store.IntentAPI, "", ptr(at(2*day)), ptr(at(0)))
	mk(bob, "b-app-phone", store.IntentAppPassword, "phone", nil, nil)

	cases := []struct {
		name string
		f    store.TokenFilter
		want []string
	}{
		{"all", store.TokenFilter{}, []string{"a-api-exp1", "a-api-exp5", "a-api-forever", "a-app-laptop", "b-api_exp2", "b-app-phone"}},
		{"user", store.TokenFilter{UserUID: bob.UID}, []string{"b-api_exp2", "b-app-phone"}},
		{"unknown user", store.TokenFilter{UserUID: newUID()}, nil},
		{"intent api", store.TokenFilter{Intent: store.IntentAPI}, []string{"a-api-exp1", "a-api-exp5", "a-api-forever", "b-api_exp2"}},
		{"intent app_password", store.TokenFilter{Intent: store.IntentAppPassword}, []string{"a-app-laptop", "b-app-phone"}},
		// expires_at < ExpiringBefore, exclusive; never-expiring tokens never match
		{"expiring before day 2", store.TokenFilter{ExpiringBefore: ptr(at(2 * day))}, []string{"a-api-exp1"}},
		{"expiring before day 2 + 1µs", store.TokenFilter{ExpiringBefore: ptr(at(2*day + time.Microsecond))}, []string{"a-api-exp1", "a-app-laptop", "b-api_exp2"}},
		{"expiring before day 100", store.TokenFilter{ExpiringBefore: ptr(at(100 * day))}, []string{"a-api-exp1", "a-api-exp5", "a-app-laptop", "b-api_exp2"}},
		// never used, or last used < UnusedSince (exclusive)
		{"unused since day 0", store.TokenFilter{UnusedSince: ptr(at(0))}, []string{"a-api-exp1", "a-api-exp5", "b-app-phone"}},
		{"unused since day 0 + 1µs", store.TokenFilter{UnusedSince: ptr(at(time.Microsecond))}, []string{"a-api-exp1", "a-api-exp5", "b-api_exp2", "b-app-phone"}},
		{"unused since day 10", store.TokenFilter{UnusedSince: ptr(at(10 * day))}, []string{"a-api-exp1", "a-api-exp5", "a-api-forever", "a-app-laptop", "b-api_exp2", "b-app-phone"}},
		// identifier or description, ignoring case; wildcards literal
		{"search prod", store.TokenFilter{Search: "prod"}, []string{"a-api-exp1"}},
		{"search APP", store.TokenFilter{Search: "APP"}, []string{"a-app-laptop", "b-app-phone"}},
		{"search LAPTOP", store.TokenFilter{Search: "LAPTOP"}, []string{"a-app-laptop"}},
		{"search _", store.TokenFilter{Search: "_"}, []string{"b-api_exp2"}},
		{"search %", store.TokenFilter{Search: "%"}, []string{"a-api-forever"}},
		{"combined", store.TokenFilter{UserUID: alice.UID, Intent: store.IntentAPI, ExpiringBefore: ptr(at(10 * day)), UnusedSince: ptr(at(0)), Search: "EXP"},
			[]string{"a-api-exp1", "a-api-exp5"}},
		{"combined, after", store.TokenFilter{UserUID: alice.UID, Intent: store.IntentAPI, ExpiringBefore: ptr(at(10 * day)), UnusedSince: ptr(at(0)), Search: "EXP", After: "a-api-exp1"},
			[]string{"a-api-exp5"}},
		{"after, limit", store.TokenFilter{After: "a-api-forever", Limit: 2}, []string{"a-app-laptop", "b-api_exp2"}},
	}
	for _, c := range cases {
		f := c.f
		if f.Limit == 0 {
			f.Limit = 100
		}
		got, err := s.ListTokens(ctx(t), f)
		mustNil(t, err, "ListTokens("+c.name+")")
		equal(t, identifiers(got), c.want, "ListTokens("+c.name+")")
	}
}

func testTokenTouch(t *testing.T, s store.Store) {
	u := mustUser(t, s, "alice")
	plain := mustToken(t, s, apiToken(u, "plain"))
	ext := apiToken(u, "extended")
	ext.Expiring, ext.ExpiresAt, ext.Extended, ext.MaxAge = true, ptr(at(time.Hour)), true, time.Hour
	mustToken(t, s, ext)
	untouched := mustToken(t, s, apiToken(u, "untouched"))

	lastUsed := func(ident string) (*time.Time, *time.Time) {
		t.Helper()
		tok, err := s.GetToken(ctx(t), ident)
		mustNil(t, err, "GetToken("+ident+")")
		return tok.LastUsedAt, tok.ExpiresAt
	}

	mustNil(t, s.TouchTokens(ctx(t), nil), "TouchTokens(empty)")
	mustNil(t, s.TouchTokens(ctx(t), []store.TokenUse{
		{TokenUID: plain.UID, LastUsedAt: at(10 * time.Minute)},
		{TokenUID: ext.UID, LastUsedAt: at(20 * time.Minute), ExpiresAt: ptr(at(80 * time.Minute))},
		{TokenUID: newUID(), LastUsedAt: at(time.Minute)}, // vanished: ignored
	}), "TouchTokens")
	lu, exp := lastUsed("plain")
	equal(t, lu, ptr(at(10*time.Minute)), "plain last used")
	equal(t, exp, nil, "plain expiry")
	lu, exp = lastUsed("extended")
	equal(t, lu, ptr(at(20*time.Minute)), "extended last used")
	equal(t, exp, ptr(at(80*time.Minute)), "extended expiry written")

	// An older use (a late batch) never moves last_used_at backwards.
	mustNil(t, s.TouchTokens(ctx(t), []store.TokenUse{
		{TokenUID: plain.UID, LastUsedAt: at(5 * time.Minute)},
	}), "TouchTokens(older)")
	lu, _ = lastUsed("plain")
	equal(t, lu, ptr(at(10*time.Minute)), "plain last used after an older touch")

	// A newer one moves it forward; several uses of one token in a batch
	// end at the newest.
	mustNil(t, s.TouchTokens(ctx(t), []store.TokenUse{
		{TokenUID: plain.UID, LastUsedAt: at(30 * time.Minute)},
		{TokenUID: plain.UID, LastUsedAt: at(15 * time.Minute)},
		{TokenUID: ext.UID, LastUsedAt: at(40 * time.Minute), ExpiresAt: ptr(at(100 * time.Minute))},
	}), "TouchTokens(newer)")
	lu, _ = lastUsed("plain")
	equal(t, lu, ptr(at(30*time.Minute)), "plain last used after a newer touch")
	lu, exp = lastUsed("extended")
	equal(t, lu, ptr(at(40*time.Minute)), "extended last used after a newer touch")
	equal(t, exp, ptr(at(100*time.Minute)), "extended expiry after a newer touch")

	lu, _ = lastUsed("untouched")
	equal(t, lu, nil, "a token not in any batch")

	// The extension follows the row's current max_age: a late batch
	// computed under the old one cannot undo a shortening.
	cur, err := s.GetToken(ctx(t), "extended")
	mustNil(t, err, "GetToken(extended)")
	cur.MaxAge, cur.ExpiresAt = 10*time.Minute, ptr(at(50*time.Minute))
	mustNil(t, s.UpdateToken(ctx(t), cur), "UpdateToken(shorter max_age)")
	mustNil(t, s.TouchTokens(ctx(t), []store.TokenUse{
		{TokenUID: ext.UID, LastUsedAt: at(45 * time.Minute), ExpiresAt: ptr(at(105 * time.Minute))},
	}), "TouchTokens(stale extension)")
	_, exp = lastUsed("extended")
	equal(t, exp, ptr(at(55*time.Minute)), "extension after max_age shortened")

	// Inside a transaction too.
	mustNil(t, s.InTx(ctx(t), func(q store.Queries) error {
		return q.TouchTokens(ctx(t), []store.TokenUse{{TokenUID: untouched.UID, LastUsedAt: at(time.Hour)}})
	}), "TouchTokens in InTx")
	lu, _ = lastUsed("untouched")
	equal(t, lu, ptr(at(time.Hour)), "touched in a transaction")
}

func testTokenExpired(t *testing.T, s store.Store) {
	u := mustUser(t, s, "alice")
	mk := func(ident, intent string, expiresAt *time.Time) {
		tok := apiToken(u, ident)
		tok.Intent, tok.Expiring, tok.ExpiresAt = intent, expiresAt != nil, expiresAt
		mustToken(t, s, tok)
	}
	mk("api-3", store.IntentAPI, ptr(at(3*time.Hour)))
	mk("api-1", store.IntentAPI, ptr(at(1*time.Hour)))
	mk("api-2b", store.IntentAPI, ptr(at(2*time.Hour+time.Second)))
	mk("api-2a", store.IntentAPI, ptr(at(2*time.Hour)))
	mk("api-never", store.IntentAPI, nil)
	mk("app-1", store.IntentAppPassword, ptr(at(1*time.Hour)))
	mk("app-5", store.IntentAppPassword, ptr(at(5*time.Hour)))

	expired := func(intent string, tm time.Time, limit int) []string {
		t.Helper()
		ts, err := s.ExpiredTokens(ctx(t), intent, tm, limit)
		mustNil(t, err, "ExpiredTokens")
		return identifiers(ts)
	}
	// expires_at <= t (inclusive), oldest first.
	equal(t, expired(store.IntentAPI, at(time.Hour-time.Microsecond), 10), nil, "api before the first expiry")
	equal(t, expired(store.IntentAPI, at(time.Hour), 10), []string{"api-1"}, "api at the first expiry")
	equal(t, expired(store.IntentAPI, at(2*time.Hour), 10), []string{"api-1", "api-2a"}, "api at 2h")
	equal(t, expired(store.IntentAPI, at(100*time.Hour), 10), []string{"api-1", "api-2a", "api-2b", "api-3"}, "api, all")
	equal(t, expired(store.IntentAPI, at(100*time.Hour), 2), []string{"api-1", "api-2a"}, "api, limit 2")
	equal(t, expired(store.IntentAppPassword, at(4*time.Hour), 10), []string{"app-1"}, "app passwords")

	// Every token is returned whole.
	ts, err := s.ExpiredTokens(ctx(t), store.IntentAppPassword, at(time.Hour), 1)
	mustNil(t, err, "ExpiredTokens")
	want, err := s.GetToken(ctx(t), "app-1")
	mustNil(t, err, "GetToken")
	equal(t, ts, []store.Token{want}, "expired token")
}

func testTokenManagedExpiring(t *testing.T, s store.Store) {
	u := mustUser(t, s, "gatehouse-internal")
	mk := func(ident, intent string, managed bool, expiresAt *time.Time) {
		tok := apiToken(u, ident)
		tok.Intent, tok.Managed, tok.Expiring, tok.ExpiresAt = intent, managed, expiresAt != nil, expiresAt
		mustToken(t, s, tok)
	}
	mk("managed-2", store.IntentAPI, true, ptr(at(2*time.Hour)))
	mk("managed-1", store.IntentAPI, true, ptr(at(1*time.Hour)))
	mk("managed-3", store.IntentAPI, true, ptr(at(3*time.Hour)))
	mk("managed-never", store.IntentAPI, true, nil)
	mk("unmanaged-1", store.IntentAPI, false, ptr(at(1*time.Hour)))
	mk("managed-app-1", store.IntentAppPassword, true, ptr(at(1*time.Hour)))

	list := func(tm time.Time, limit int) []string {
		t.Helper()
		ts, err := s.ManagedTokensExpiringBefore(ctx(t), tm, limit)
		mustNil(t, err, "ManagedTokensExpiringBefore")
		got := identifiers(ts)
		slices.Sort(got) // the order is not part of the contract
		return got
	}
	// expires_at < t, exclusive
	equal(t, list(at(time.Hour), 10), nil, "before the first expiry")
	equal(t, list(at(time.Hour+time.Microsecond), 10), []string{"managed-1"}, "just after the first expiry")
	equal(t, list(at(3*time.Hour), 10), []string{"managed-1", "managed-2"}, "before 3h")
	equal(t, list(at(100*time.Hour), 10), []string{"managed-1", "managed-2", "managed-3"}, "all")
	if n := len(list(at(100*time.Hour), 2)); n != 2 {
		t.Fatalf("limit 2 returned %d tokens", n)
	}
}

func testTokenCount(t *testing.T, s store.Store) {
	alice := mustUser(t, s, "alice")
	bob := mustUser(t, s, "bob")
	count := func(q store.Queries, u store.User) int {
		t.Helper()
		n, err := q.CountTokens(ctx(t), u.UID)
		mustNil(t, err, "CountTokens")
		return n
	}
	equal(t, count(s, alice), 0, "no tokens")
	mustToken(t, s, apiToken(alice, "a-1"))
	app := apiToken(alice, "a-app")
	app.Intent, app.Expiring, app.ExpiresAt = store.IntentAppPassword, true, ptr(at(-time.Hour)) // expired: still held
	mustToken(t, s, app)
	managed := apiToken(alice, "a-managed")
	managed.Managed = true
	mustToken(t, s, managed)
	mustToken(t, s, apiToken(bob, "b-1"))
	equal(t, count(s, alice), 2, "alice's unmanaged tokens, expired ones included")
	equal(t, count(s, bob), 1, "bob's")
	equal(t, count(s, store.User{UID: newUID()}), 0, "an unknown user's")

	// Inside a transaction the count sees the transaction's own writes.
	mustNil(t, s.InTx(ctx(t), func(q store.Queries) error {
		mustToken(t, q, apiToken(alice, "a-2"))
		equal(t, count(q, alice), 3, "within the transaction")
		return nil
	}), "InTx")
	tok, err := s.GetToken(ctx(t), "a-1")
	mustNil(t, err, "GetToken")
	mustNil(t, s.DeleteToken(ctx(t), tok.UID), "DeleteToken")
	equal(t, count(s, alice), 2, "after a deletion")
}

var keyTests = []testCase{
	{"keys/add-and-list", testKeyAddList},
	{"keys/lookup", testKeyLookup},
	{"keys/limit", testKeyLimit},
	{"keys/delete-before", testKeyDeleteBefore},
}

func testKeyAddList(t *testing.T, s store.Store) {
	u := mustUser(t, s, "alice")
	tok := mustToken(t, s, apiToken(u, "ci"))
	other := mustToken(t, s, apiToken(u, "other"))
	first := keyFor(tok, "lk-ci")
	second := store.TokenKey{Lookup: "rot-1", TokenUID: tok.UID, Hash: []byte{0xff, 0, 0x10}, CreatedAt: at(time.Hour)}
	third := store.TokenKey{Lookup: "rot-0", TokenUID: tok.UID, Hash: []byte("h3"), NotAfter: ptr(at(3 * time.Hour)), CreatedAt: at(2 * time.Hour)}
	mustNil(t, s.AddTokenKey(ctx(t), second), "AddTokenKey")
	mustNil(t, s.AddTokenKey(ctx(t), third), "AddTokenKey")
	keys, err := s.ListTokenKeys(ctx(t), tok.UID)
	mustNil(t, err, "ListTokenKeys")
	equal(t, keys, []store.TokenKey{third, second, first}, "keys newest first")
	wantRead(t, []store.TokenKey{keyFor(other, "lk-other")}, "the other token's keys")(s.ListTokenKeys(ctx(t), other.UID))

	wantErr(t, s.AddTokenKey(ctx(t), store.TokenKey{Lookup: "lk-other", TokenUID: tok.UID, Hash: []byte{1}, CreatedAt: t0}),
		store.ErrConflict, "AddTokenKey(taken lookup)")
	wantErr(t, s.AddTokenKey(ctx(t), store.TokenKey{Lookup: "fresh", TokenUID: newUID(), Hash: []byte{1}, CreatedAt: t0}),
		store.ErrNotFound, "AddTokenKey(unknown token)")
	_, _, err = s.LookupKey(ctx(t), "fresh")
	wantErr(t, err, store.ErrNotFound, "LookupKey(key of a failed add)")
}

func testKeyLookup(t *testing.T, s store.Store) {
	sa := human("deployer")
	sa.Type = store.TypeServiceAccount
	mustCreateUser(t, s, sa)
	tok := apiToken(sa, "deploy")
	tok.Expiring, tok.ExpiresAt, tok.LastUsedAt = true, ptr(at(time.Hour)), ptr(at(time.Minute))
	key := store.TokenKey{Lookup: "gh_ABCdef012", TokenUID: tok.UID, Hash: []byte{0, 0xde, 0xad, 0xbe, 0xef, 0}, CreatedAt: t0}
	mustNil(t, s.CreateToken(ctx(t), tok, key), "CreateToken")
	rotated := store.TokenKey{Lookup: "gh_XYZ", TokenUID: tok.UID, Hash: []byte("new"), CreatedAt: at(time.Minute)}
	mustNil(t, s.AddTokenKey(ctx(t), rotated), "AddTokenKey")
	mustNil(t, s.LimitTokenKeys(ctx(t), tok.UID, at(2*time.Minute)), "LimitTokenKeys")
	key.NotAfter, rotated.NotAfter = ptr(at(2*time.Minute)), ptr(at(2*time.Minute))

	for _, k := range []store.TokenKey{key, rotated} {
		gotKey, gotTok, err := s.LookupKey(ctx(t), k.Lookup)
		mustNil(t, err, "LookupKey("+k.Lookup+")")
		equal(t, gotKey, k, "key")
		equal(t, gotTok, tok, "token, with Username and UserType")
		if gotTok.Username != "deployer" || gotTok.UserType != store.TypeServiceAccount {
			t.Fatalf("LookupKey: Username %q, UserType %q", gotTok.Username, gotTok.UserType)
		}
	}
	_, _, err := s.LookupKey(ctx(t), "gh_abcdef012")
	wantErr(t, err, store.ErrNotFound, "LookupKey: lookups are case-sensitive")
	_, _, err = s.LookupKey(ctx(t), "")
	wantErr(t, err, store.ErrNotFound, "LookupKey(empty)")

	// The join follows renames.
	renamed := sa
	renamed.Username = "deploy-bot"
	mustNil(t, s.UpdateUser(ctx(t), renamed), "UpdateUser")
	_, gotTok, err := s.LookupKey(ctx(t), key.Lookup)
	mustNil(t, err, "LookupKey")
	if gotTok.Username != "deploy-bot" {
		t.Fatalf("LookupKey after rename: Username %q", gotTok.Username)
	}
}

func testKeyLimit(t *testing.T, s store.Store) {
	u := mustUser(t, s, "alice")
	tok := mustToken(t, s, apiToken(u, "ci"))
	other := mustToken(t, s, apiToken(u, "other"))
	mk := func(lookup string, notAfter *time.Time, created time.Duration) store.TokenKey {
		k := store.TokenKey{Lookup: lookup, TokenUID: tok.UID, Hash: []byte(lookup), NotAfter: notAfter, CreatedAt: at(created)}
		mustNil(t, s.AddTokenKey(ctx(t), k), "AddTokenKey")
		return k
	}
	early := mk("early", ptr(at(time.Hour)), 1*time.Second)
	late := mk("late", ptr(at(10*time.Hour)), 2*time.Second)
	unbounded := mk("unbounded", nil, 3*time.Second)
	first := keyFor(tok, "lk-ci")

	limit := at(5 * time.Hour)
	mustNil(t, s.LimitTokenKeys(ctx(t), tok.UID, limit), "LimitTokenKeys")
	late.NotAfter, unbounded.NotAfter, first.NotAfter = &limit, &limit, &limit // early keeps its earlier bound
	keys, err := s.ListTokenKeys(ctx(t), tok.UID)
	mustNil(t, err, "ListTokenKeys")
	equal(t, keys, []store.TokenKey{unbounded, late, early, first}, "limited keys")

	keys, err = s.ListTokenKeys(ctx(t), other.UID)
	mustNil(t, err, "ListTokenKeys(other)")
	equal(t, keys, []store.TokenKey{keyFor(other, "lk-other")}, "the other token's key is unbounded still")

	// A later limit never extends a key.
	mustNil(t, s.LimitTokenKeys(ctx(t), tok.UID, at(50*time.Hour)), "LimitTokenKeys(later)")
	wantRead(t, []store.TokenKey{unbounded, late, early, first}, "keys after a later limit")(s.ListTokenKeys(ctx(t), tok.UID))
}

func testKeyDeleteBefore(t *testing.T, s store.Store) {
	u := mustUser(t, s, "alice")
	tok := mustToken(t, s, apiToken(u, "ci"))
	other := mustToken(t, s, apiToken(u, "other"))
	for _, k := range []store.TokenKey{
		{Lookup: "k1", TokenUID: tok.UID, Hash: []byte{1}, NotAfter: ptr(at(1 * time.Hour)), CreatedAt: t0},
		{Lookup: "k2", TokenUID: tok.UID, Hash: []byte{2}, NotAfter: ptr(at(2 * time.Hour)), CreatedAt: t0},
		{Lookup: "k3", TokenUID: other.UID, Hash: []byte{3}, NotAfter: ptr(at(2 * time.Hour)), CreatedAt: t0},
		{Lookup: "k4", TokenUID: other.UID, Hash: []byte{4}, NotAfter: ptr(at(3 * time.Hour)), CreatedAt: t0},
	} {
		mustNil(t, s.AddTokenKey(ctx(t), k), "AddTokenKey")
	}
	remaining := func() []string {
		t.Helper()
		var out []string
		for _, l := range []string{"lk-ci", "lk-other", "k1", "k2", "k3", "k4"} {
			_, _, err := s.LookupKey(ctx(t), l)
			if err == nil {
				out = append(out, l)
			} else {
				wantErr(t, err, store.ErrNotFound, "LookupKey("+l+")")
			}
		}
		return out
	}
	del := func(tm time.Time) int {
		t.Helper()
		n, err := s.DeleteTokenKeysBefore(ctx(t), tm)
		mustNil(t, err, "DeleteTokenKeysBefore")
		return n
	}
	if n := del(at(time.Hour - time.Microsecond)); n != 0 {
		t.Fatalf("deleted %d keys before the first bound", n)
	}
	if n := del(at(2 * time.Hour)); n != 3 { // NotAfter <= t: inclusive
		t.Fatalf("deleted %d keys at 2h, want 3", n)
	}
	equal(t, remaining(), []string{"lk-ci", "lk-other", "k4"}, "keys left at 2h")
	if n := del(at(2 * time.Hour)); n != 0 {
		t.Fatalf("deleted %d keys at 2h again", n)
	}
	if n := del(at(1000 * time.Hour)); n != 1 {
		t.Fatalf("deleted %d keys at 1000h, want 1 (keys without NotAfter stay)", n)
	}
	equal(t, remaining(), []string{"lk-ci", "lk-other"}, "keys without NotAfter")
	// The tokens themselves stay.
	for _, ident := range []string{"ci", "other"} {
		_, err := s.GetToken(ctx(t), ident)
		mustNil(t, err, "GetToken("+ident+")")
	}
}
