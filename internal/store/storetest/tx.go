package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

var timeTests = []testCase{
	{"time/round-trip-utc-microseconds", testTimeRoundTrip},
}

// testTimeRoundTrip writes times in another zone and at the edges of the
// range gatehouse uses; every read must give the same instant, in UTC,
// exact to the microsecond.
func testTimeRoundTrip(t *testing.T, s store.Store) {
	zone := time.FixedZone("UTC+05:30", 5*3600+1800)
	times := []time.Time{
		time.Date(2025, 3, 14, 20, 39, 26, 535897000, zone),
		time.Date(1969, 12, 31, 23, 59, 59, 999999000, time.UTC), // before the epoch
		time.Date(1970, 1, 1, 0, 0, 0, 1000, zone),
		time.Date(2999, 12, 31, 23, 59, 59, 999999000, time.UTC),
	}
	utc := func(tm time.Time) time.Time { return tm.UTC() }
	for i, tm := range times {
		name := string(rune('a' + i))
		checkUTC := func(what string, got time.Time, want time.Time) {
			t.Helper()
			if got.Location() != time.UTC {
				t.Fatalf("%s %s: location %v, want UTC", name, what, got.Location())
			}
			if !got.Equal(want) {
				t.Fatalf("%s %s: got %s, want %s", name, what, got.Format(time.RFC3339Nano), want.UTC().Format(time.RFC3339Nano))
			}
		}

		u := human("user-" + name)
		u.CreatedAt, u.PasswordChangedAt, u.LastLoginAt = tm, ptr(tm), ptr(tm)
		mustCreateUser(t, s, u)
		gotU, err := s.GetUser(ctx(t), u.Username)
		mustNil(t, err, "GetUser")
		checkUTC("user CreatedAt", gotU.CreatedAt, tm)
		checkUTC("user PasswordChangedAt", *gotU.PasswordChangedAt, tm)
		checkUTC("user LastLoginAt", *gotU.LastLoginAt, tm)

		g := store.Group{UID: newUID(), Name: "group-" + name, CreatedAt: tm}
		mustNil(t, s.CreateGroup(ctx(t), g), "CreateGroup")
		gotG, err := s.GetGroup(ctx(t), g.Name)
		mustNil(t, err, "GetGroup")
		checkUTC("group CreatedAt", gotG.CreatedAt, tm)

		r := store.Role{UID: newUID(), Name: "role-" + name, CreatedAt: tm}
		mustNil(t, s.CreateRole(ctx(t), r), "CreateRole")
		gotR, err := s.GetRole(ctx(t), r.Name)
		mustNil(t, err, "GetRole")
		checkUTC("role CreatedAt", gotR.CreatedAt, tm)

		tok := apiToken(u, "token-"+name)
		tok.CreatedAt, tok.Expiring, tok.ExpiresAt, tok.LastUsedAt = tm, true, ptr(tm), ptr(tm)
		k := store.TokenKey{Lookup: "lookup-" + name, TokenUID: tok.UID, Hash: []byte{1}, NotAfter: ptr(tm), CreatedAt: tm}
		mustNil(t, s.CreateToken(ctx(t), tok, k), "CreateToken")
		gotK, gotT, err := s.LookupKey(ctx(t), k.Lookup)
		mustNil(t, err, "LookupKey")
		checkUTC("token CreatedAt", gotT.CreatedAt, tm)
		checkUTC("token ExpiresAt", *gotT.ExpiresAt, tm)
		checkUTC("token LastUsedAt", *gotT.LastUsedAt, tm)
		checkUTC("key CreatedAt", gotK.CreatedAt, tm)
		checkUTC("key NotAfter", *gotK.NotAfter, tm)

		e := store.Event{Time: tm, Action: "action-" + name, Outcome: "success"}
		mustNil(t, appendEvent(t, s, &e), "AppendEvent")
		evs, err := s.ListEvents(ctx(t), store.EventFilter{Action: e.Action, Since: ptr(tm), Until: ptr(tm.Add(time.Microsecond)), Limit: 1})
		mustNil(t, err, "ListEvents")
		if len(evs) != 1 {
			t.Fatalf("%s: ListEvents in [t, t+1µs) found %d events", name, len(evs))
		}
		checkUTC("event Time", evs[0].Time, tm)
		// Whole values compare equal to their UTC form.
		u.CreatedAt, u.PasswordChangedAt, u.LastLoginAt = utc(tm), ptr(utc(tm)), ptr(utc(tm))
		equal(t, gotU, u, "user")
	}
}

var txTests = []testCase{
	{"tx/commit", testTxCommit},
	{"tx/rollback-on-error", testTxRollbackError},
	{"tx/rollback-on-panic", testTxRollbackPanic},
	{"tx/sees-own-writes-isolated", testTxOwnWrites},
	{"tx/sentinels-pass-through", testTxSentinels},
}

// writeEverything makes one write of every kind through q, including the
// multi-statement ones (role with permissions, token with key, permission
// sets, touches), so rollback tests cover them all.
func writeEverything(t *testing.T, q store.Queries, existing store.User) error {
	u := human("tx-user")
	if err := q.CreateUser(ctx(t), u); err != nil {
		return err
	}
	g := store.Group{UID: newUID(), Name: "tx-group", CreatedAt: t0}
	r := store.Role{UID: newUID(), Name: "tx-role", Permissions: []string{"a", "b"}, CreatedAt: t0}
	tok := apiToken(u, "tx-token")
	e := store.Event{Time: t0, Action: "tx-event", Outcome: "success"}
	for _, err := range []error{
		q.CreateGroup(ctx(t), g),
		q.CreateRole(ctx(t), r),
		q.AddMember(ctx(t), g.UID, u.UID),
		q.AssignRoleToUser(ctx(t), r.UID, u.UID),
		q.AssignRoleToGroup(ctx(t), r.UID, g.UID),
		q.SetUserPermissions(ctx(t), u.UID, []string{"p"}),
		q.CreateToken(ctx(t), tok, keyFor(tok, "tx-lookup")),
		q.TouchTokens(ctx(t), []store.TokenUse{{TokenUID: tok.UID, LastUsedAt: t0}}),
		q.PutSetting(ctx(t), "tx-setting", "v"),
		appendEvent(t, q, &e),
		q.DeleteUser(ctx(t), existing.UID),
	} {
		if err != nil {
			return err
		}
	}
	if e.ID == 0 {
		return errors.New("AppendEvent in a transaction did not set the ID")
	}
	return nil
}

// checkNothingWritten verifies that none of writeEverything's writes is
// visible and that existing is still there.
func checkNothingWritten(t *testing.T, s store.Store, existing store.User) {
	t.Helper()
	_, err := s.GetUser(ctx(t), "tx-user")
	wantErr(t, err, store.ErrNotFound, "user of a rolled-back transaction")
	wantNotFound(t, "group of a rolled-back transaction")(s.GetGroup(ctx(t), "tx-group"))
	wantNotFound(t, "role of a rolled-back transaction")(s.GetRole(ctx(t), "tx-role"))
	wantNotFound(t, "token of a rolled-back transaction")(s.GetToken(ctx(t), "tx-token"))
	_, _, err = s.LookupKey(ctx(t), "tx-lookup")
	wantErr(t, err, store.ErrNotFound, "key of a rolled-back transaction")
	wantNotFound(t, "setting of a rolled-back transaction")(s.GetSetting(ctx(t), "tx-setting"))
	evs, err := s.ListEvents(ctx(t), store.EventFilter{Limit: 10})
	mustNil(t, err, "ListEvents")
	equal(t, evs, nil, "events of a rolled-back transaction")
	got, err := s.GetUser(ctx(t), existing.Username)
	mustNil(t, err, "GetUser(existing): its deletion was rolled back")
	equal(t, got, existing, "existing user")
	n, err := s.CountUsers(ctx(t))
	mustNil(t, err, "CountUsers")
	if n != 1 {
		t.Fatalf("CountUsers = %d after a rolled-back transaction, want 1", n)
	}
}

// checkStillWritable verifies the store accepts writes after a failed
// transaction: the transaction's connection and locks were released.
func checkStillWritable(t *testing.T, s store.Store) {
	t.Helper()
	mustNil(t, s.PutSetting(ctx(t), "after", "1"), "PutSetting after a failed transaction")
	mustNil(t, s.InTx(ctx(t), func(q store.Queries) error {
		return q.PutSetting(ctx(t), "after-tx", "1")
	}), "InTx after a failed transaction")
}

func testTxCommit(t *testing.T, s store.Store) {
	existing := mustUser(t, s, "existing")
	mustNil(t, s.InTx(ctx(t), func(q store.Queries) error { return writeEverything(t, q, existing) }), "InTx")

	u, err := s.GetUser(ctx(t), "tx-user")
	mustNil(t, err, "GetUser")
	g, err := s.UserGrants(ctx(t), u.UID)
	mustNil(t, err, "UserGrants")
	equal(t, g, store.Grants{Groups: []string{"tx-group"}, DirectRoles: []string{"tx-role"}, Roles: []string{"tx-role"},
		Permissions: []string{"a", "b", "p"}}, "grants written in a transaction")
	tok, err := s.GetToken(ctx(t), "tx-token")
	mustNil(t, err, "GetToken")
	equal(t, tok.LastUsedAt, ptr(t0), "token touched in a transaction")
	_, _, err = s.LookupKey(ctx(t), "tx-lookup")
	mustNil(t, err, "LookupKey")
	v, err := s.GetSetting(ctx(t), "tx-setting")
	mustNil(t, err, "GetSetting")
	equal(t, v, "v", "setting")
	evs, err := s.ListEvents(ctx(t), store.EventFilter{Limit: 10})
	mustNil(t, err, "ListEvents")
	if len(evs) != 1 || evs[0].Action != "tx-event" {
		t.Fatalf("events after commit: %+v", evs)
	}
	wantNotFound(t, "user deleted in a transaction")(s.GetUser(ctx(t), "existing"))
}

var errBoom = errors.New("boom")

func testTxRollbackError(t *testing.T, s store.Store) {
	existing := mustUser(t, s, "existing")
	err := s.InTx(ctx(t), func(q store.Queries) error {
		if err := writeEverything(t, q, existing); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("InTx returned %v, want fn's error", err)
	}
	checkNothingWritten(t, s, existing)
	checkStillWritable(t, s)
}

func testTxRollbackPanic(t *testing.T, s store.Store) {
	existing := mustUser(t, s, "existing")
	type panicValue struct{ msg string }
	func() {
		defer func() {
			r := recover()
			if pv, ok := r.(panicValue); !ok || pv.msg != "boom" {
				t.Fatalf("InTx: recovered %#v, want fn's panic value re-raised", r)
			}
		}()
		_ = s.InTx(ctx(t), func(q store.Queries) error {
			if err := writeEverything(t, q, existing); err != nil {
				return err
			}
			panic(panicValue{"boom"})
		})
		t.Fatal("InTx returned after fn panicked")
	}()
	checkNothingWritten(t, s, existing)
	checkStillWritable(t, s)
}

// testTxOwnWrites: inside the transaction, reads through q see its writes;
// reads through the store (outside it) do not, until commit.
func testTxOwnWrites(t *testing.T, s store.Store) {
	role := mustRole(t, s, "viewer", "x.read")
	err := s.InTx(ctx(t), func(q store.Queries) error {
		u := human("alice")
		if err := q.CreateUser(ctx(t), u); err != nil {
			return err
		}
		if err := q.AssignRoleToUser(ctx(t), role.UID, u.UID); err != nil {
			return err
		}
		got, err := q.GetUser(ctx(t), "alice")
		if err != nil {
			return err
		}
		equal(t, got, u, "own write read in the transaction")
		us, err := q.ListUsers(ctx(t), store.UserFilter{Limit: 10})
		if err != nil {
			return err
		}
		equal(t, usernames(us), []string{"alice"}, "ListUsers in the transaction")
		g, err := q.UserGrants(ctx(t), u.UID)
		if err != nil {
			return err
		}
		equal(t, g.Roles, []string{"viewer"}, "grants in the transaction")
		n, err := q.CountUsers(ctx(t))
		if err != nil {
			return err
		}
		equal(t, n, 1, "CountUsers in the transaction")

		// Not visible outside before commit.
		wantNotFound(t, "uncommitted user read outside the transaction")(s.GetUser(ctx(t), "alice"))
		return nil
	})
	mustNil(t, err, "InTx")
	_, err = s.GetUser(ctx(t), "alice")
	mustNil(t, err, "GetUser after commit")
}

// testTxSentinels: a sentinel error returned through fn keeps errors.Is
// working, and the failed statement does not poison the rest of the store.
func testTxSentinels(t *testing.T, s store.Store) {
	mustUser(t, s, "alice")
	err := s.InTx(ctx(t), func(q store.Queries) error {
		return q.CreateUser(ctx(t), human("alice"))
	})
	wantErr(t, err, store.ErrConflict, "InTx(CreateUser taken)")
	err = s.InTx(ctx(t), func(q store.Queries) error {
		_, err := q.GetUser(ctx(t), "nobody")
		return err
	})
	wantErr(t, err, store.ErrNotFound, "InTx(GetUser unknown)")
	err = s.InTx(ctx(t), func(q store.Queries) error {
		return q.AddMember(ctx(t), newUID(), newUID())
	})
	wantErr(t, err, store.ErrNotFound, "InTx(AddMember unknown)")
	checkStillWritable(t, s)
}

var lifecycleTests = []testCase{
	{"lifecycle/migrate-again-ping-dialect", testLifecycle},
}

func testLifecycle(t *testing.T, s store.Store) {
	u := mustUser(t, s, "alice")
	mustNil(t, s.Migrate(ctx(t)), "Migrate (again)")
	mustNil(t, s.Migrate(ctx(t)), "Migrate (a third time)")
	wantRead(t, u, "data survives Migrate")(s.GetUser(ctx(t), "alice"))
	mustNil(t, s.Ping(ctx(t)), "Ping")
	if d := s.Dialect(); d != "sqlite" && d != "postgres" {
		t.Fatalf("Dialect() = %q", d)
	}
}
