package storetest

import (
	"crypto/sha256"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

var sessionTests = []testCase{
	{"sessions/create-get-delete", testSessionCreateGetDelete},
	{"sessions/touch-and-mfa-failures", testSessionTouch},
	{"sessions/per-user", testSessionPerUser},
	{"sessions/stale", testSessionStale},
	{"sessions/cascade", testSessionCascade},
	{"totp/put-get-delete", testTOTPPutGetDelete},
	{"totp/steps", testTOTPSteps},
	{"totp/steps-concurrent", testTOTPStepsConcurrent},
	{"totp/recovery-codes", testRecoveryCodes},
	{"counts", testCountObjects},
}

func sessionHash(name string) []byte {
	h := sha256.Sum256([]byte(name))
	return h[:]
}

func session(u store.User, name string, created time.Time) store.Session {
	return store.Session{
		IDHash: sessionHash(name), UserUID: u.UID, PasswordStamp: []byte{1, 2, 3, 0, 0xff},
		ClientIP: "192.0.2.7", UserAgent: "Mozilla/5.0 (" + name + ")",
		CreatedAt: created, LastSeenAt: created, ExpiresAt: created.Add(7 * 24 * time.Hour),
	}
}

func testSessionCreateGetDelete(t *testing.T, s store.Store) {
	u := mustUser(t, s, "alice")
	full := session(u, "a", at(time.Second))
	full.MFAPending, full.MFAFailures = true, 2
	mustNil(t, s.CreateSession(ctx(t), full), "CreateSession")
	got, err := s.GetSession(ctx(t), full.IDHash)
	mustNil(t, err, "GetSession")
	equal(t, got, full, "GetSession")

	wantErr(t, s.CreateSession(ctx(t), full), store.ErrConflict, "CreateSession with a taken hash")
	gone := session(store.User{UID: newUID()}, "b", t0)
	wantErr(t, s.CreateSession(ctx(t), gone), store.ErrNotFound, "CreateSession for a missing user")
	wantNotFound(t, "GetSession of a session never made")(s.GetSession(ctx(t), gone.IDHash))

	mustNil(t, s.DeleteSession(ctx(t), full.IDHash), "DeleteSession")
	wantNotFound(t, "GetSession after DeleteSession")(s.GetSession(ctx(t), full.IDHash))
	wantErr(t, s.DeleteSession(ctx(t), full.IDHash), store.ErrNotFound, "DeleteSession twice")

	// Inside a transaction, a missing user must not abort the transaction.
	err = s.InTx(ctx(t), func(q store.Queries) error {
		wantErr(t, q.CreateSession(ctx(t), gone), store.ErrNotFound, "CreateSession for a missing user in a transaction")
		return q.CreateSession(ctx(t), session(u, "c", t0))
	})
	mustNil(t, err, "transaction after a refused CreateSession")
	_, err = s.GetSession(ctx(t), sessionHash("c"))
	mustNil(t, err, "GetSession of the session made after the refusal")
}

func testSessionTouch(t *testing.T, s store.Store) {
	u := mustUser(t, s, "alice")
	ses := session(u, "a", t0)
	mustNil(t, s.CreateSession(ctx(t), ses), "CreateSession")
	mustNil(t, s.TouchSession(ctx(t), ses.IDHash, at(time.Hour)), "TouchSession")
	mustNil(t, s.TouchSession(ctx(t), ses.IDHash, at(time.Minute)), "TouchSession back in time")
	got, err := s.GetSession(ctx(t), ses.IDHash)
	mustNil(t, err, "GetSession")
	equal(t, got.LastSeenAt, at(time.Hour), "last seen never moves back")
	wantErr(t, s.TouchSession(ctx(t), sessionHash("nope"), t0), store.ErrNotFound, "TouchSession of a missing session")

	for want := 1; want <= 3; want++ {
		n, err := s.AddSessionMFAFailure(ctx(t), ses.IDHash)
		mustNil(t, err, "AddSessionMFAFailure")
		equal(t, n, want, "failure count")
	}
	wantNotFound(t, "AddSessionMFAFailure of a missing session")(s.AddSessionMFAFailure(ctx(t), sessionHash("nope")))
}

func testSessionPerUser(t *testing.T, s store.Store) {
	alice, bob := mustUser(t, s, "alice"), mustUser(t, s, "bob")
	a1, a2, a3 := session(alice, "a1", at(1*time.Second)), session(alice, "a2", at(3*time.Second)), session(alice, "a3", at(2*time.Second))
	b1 := session(bob, "b1", t0)
	for _, ses := range []store.Session{a1, a2, a3, b1} {
		mustNil(t, s.CreateSession(ctx(t), ses), "CreateSession")
	}
	wantRead(t, []store.Session{a2, a3, a1}, "alice's sessions, newest first")(s.ListUserSessions(ctx(t), alice.UID))

	wantRead(t, 2, "sessions deleted")(s.DeleteUserSessions(ctx(t), alice.UID, a3.IDHash))
	wantRead(t, []store.Session{a3}, "alice's sessions after the sweep")(s.ListUserSessions(ctx(t), alice.UID))
	wantRead(t, 1, "sessions deleted")(s.DeleteUserSessions(ctx(t), alice.UID, nil))
	wantRead(t, []store.Session{b1}, "bob's sessions are untouched")(s.ListUserSessions(ctx(t), bob.UID))
}

func testSessionStale(t *testing.T, s store.Store) {
	u := mustUser(t, s, "alice")
	now := at(30 * 24 * time.Hour)
	expired := session(u, "expired", t0)
	expired.LastSeenAt, expired.ExpiresAt = now, now // absolute end reached, still active
	idle := session(u, "idle", now.Add(-48*time.Hour))
	idle.LastSeenAt = now.Add(-13 * time.Hour)
	live := session(u, "live", now.Add(-48*time.Hour))
	live.LastSeenAt = now.Add(-11 * time.Hour)
	for _, ses := range []store.Session{expired, idle, live} {
		mustNil(t, s.CreateSession(ctx(t), ses), "CreateSession")
	}
	wantRead(t, 2, "stale sessions deleted")(s.DeleteStaleSessions(ctx(t), now, now.Add(-12*time.Hour)))
	wantRead(t, []store.Session{live}, "what is left")(s.ListUserSessions(ctx(t), u.UID))
}

func testSessionCascade(t *testing.T, s store.Store) {
	u := mustUser(t, s, "alice")
	mustNil(t, s.CreateSession(ctx(t), session(u, "a", t0)), "CreateSession")
	mustNil(t, s.PutTOTP(ctx(t), store.TOTP{UserUID: u.UID, Secret: []byte("sealed"), CreatedAt: t0}), "PutTOTP")
	mustNil(t, s.ReplaceRecoveryCodes(ctx(t), u.UID, [][]byte{[]byte("h1")}), "ReplaceRecoveryCodes")
	mustNil(t, s.DeleteUser(ctx(t), u.UID), "DeleteUser")
	wantNotFound(t, "session of a deleted user")(s.GetSession(ctx(t), sessionHash("a")))
	wantNotFound(t, "factor of a deleted user")(s.GetTOTP(ctx(t), u.UID))
	wantRead(t, 0, "recovery codes of a deleted user")(s.CountRecoveryCodes(ctx(t), u.UID))
}

func testTOTPPutGetDelete(t *testing.T, s store.Store) {
	u := mustUser(t, s, "alice")
	_, err := s.GetTOTP(ctx(t), u.UID)
	wantErr(t, err, store.ErrNotFound, "GetTOTP before enrolment")
	pending := store.TOTP{UserUID: u.UID, Secret: []byte{0, 1, 0xfe, 0xff}, CreatedAt: at(time.Second)}
	mustNil(t, s.PutTOTP(ctx(t), pending), "PutTOTP")
	got, err := s.GetTOTP(ctx(t), u.UID)
	mustNil(t, err, "GetTOTP")
	equal(t, got, pending, "pending factor")

	confirmed := pending
	confirmed.Secret, confirmed.Confirmed, confirmed.LastStep, confirmed.ConfirmedAt = []byte("other"), true, 12345, ptr(at(time.Minute))
	mustNil(t, s.PutTOTP(ctx(t), confirmed), "PutTOTP replacing")
	wantRead(t, confirmed, "replaced factor")(s.GetTOTP(ctx(t), u.UID))

	wantErr(t, s.PutTOTP(ctx(t), store.TOTP{UserUID: newUID(), Secret: []byte("x"), CreatedAt: t0}), store.ErrNotFound, "PutTOTP for a missing user")

	mustNil(t, s.ReplaceRecoveryCodes(ctx(t), u.UID, [][]byte{[]byte("h1"), []byte("h2")}), "ReplaceRecoveryCodes")
	mustNil(t, s.DeleteTOTP(ctx(t), u.UID), "DeleteTOTP")
	wantNotFound(t, "GetTOTP after DeleteTOTP")(s.GetTOTP(ctx(t), u.UID))
	wantRead(t, 0, "recovery codes go with the factor")(s.CountRecoveryCodes(ctx(t), u.UID))
	wantErr(t, s.DeleteTOTP(ctx(t), u.UID), store.ErrNotFound, "DeleteTOTP twice")
}

func testTOTPSteps(t *testing.T, s store.Store) {
	u := mustUser(t, s, "alice")
	tp := store.TOTP{UserUID: u.UID, Secret: []byte("sealed"), CreatedAt: t0}
	mustNil(t, s.PutTOTP(ctx(t), tp), "PutTOTP")
	wantErr(t, s.UseTOTPStep(ctx(t), u.UID, 100), store.ErrConflict, "a code of an unconfirmed factor")
	tp.Confirmed, tp.LastStep = true, 100
	mustNil(t, s.PutTOTP(ctx(t), tp), "PutTOTP confirmed")
	wantErr(t, s.UseTOTPStep(ctx(t), u.UID, 100), store.ErrConflict, "the step of the confirming code again")
	wantErr(t, s.UseTOTPStep(ctx(t), u.UID, 99), store.ErrConflict, "an older step")
	mustNil(t, s.UseTOTPStep(ctx(t), u.UID, 101), "the next step")
	wantErr(t, s.UseTOTPStep(ctx(t), u.UID, 101), store.ErrConflict, "the same step twice (replay)")
	mustNil(t, s.UseTOTPStep(ctx(t), u.UID, 105), "a later step")
	got, err := s.GetTOTP(ctx(t), u.UID)
	mustNil(t, err, "GetTOTP")
	equal(t, got.LastStep, int64(105), "last step")
	wantErr(t, s.UseTOTPStep(ctx(t), newUID(), 1), store.ErrConflict, "a step of a user without a factor")
}

// testTOTPStepsConcurrent: of many requests with the same code, exactly one
// is accepted.
func testTOTPStepsConcurrent(t *testing.T, s store.Store) {
	u := mustUser(t, s, "alice")
	mustNil(t, s.PutTOTP(ctx(t), store.TOTP{UserUID: u.UID, Secret: []byte("sealed"), Confirmed: true, CreatedAt: t0}), "PutTOTP")
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			err := s.InTx(ctx(t), func(q store.Queries) error { return q.UseTOTPStep(ctx(t), u.UID, 7) })
			if err == nil {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	equal(t, wins.Load(), int32(1), "requests that used step 7")
}

func testRecoveryCodes(t *testing.T, s store.Store) {
	u, other := mustUser(t, s, "alice"), mustUser(t, s, "bob")
	mustNil(t, s.ReplaceRecoveryCodes(ctx(t), u.UID, [][]byte{[]byte("h1"), []byte("h2"), []byte("h2"), {0, 0xff}}), "ReplaceRecoveryCodes")
	mustNil(t, s.ReplaceRecoveryCodes(ctx(t), other.UID, [][]byte{[]byte("h1")}), "ReplaceRecoveryCodes(bob)")
	wantRead(t, 3, "codes (a duplicate is stored once)")(s.CountRecoveryCodes(ctx(t), u.UID))
	mustNil(t, s.UseRecoveryCode(ctx(t), u.UID, []byte{0, 0xff}), "UseRecoveryCode")
	wantErr(t, s.UseRecoveryCode(ctx(t), u.UID, []byte{0, 0xff}), store.ErrNotFound, "a used code again")
	wantErr(t, s.UseRecoveryCode(ctx(t), u.UID, []byte("nope")), store.ErrNotFound, "an unknown code")
	wantRead(t, 2, "codes left")(s.CountRecoveryCodes(ctx(t), u.UID))

	mustNil(t, s.ReplaceRecoveryCodes(ctx(t), u.UID, [][]byte{[]byte("n1")}), "ReplaceRecoveryCodes again")
	wantErr(t, s.UseRecoveryCode(ctx(t), u.UID, []byte("h1")), store.ErrNotFound, "a replaced code")
	mustNil(t, s.UseRecoveryCode(ctx(t), other.UID, []byte("h1")), "bob's code is his own")
	mustNil(t, s.ReplaceRecoveryCodes(ctx(t), u.UID, nil), "ReplaceRecoveryCodes with none")
	wantRead(t, 0, "codes after clearing")(s.CountRecoveryCodes(ctx(t), u.UID))
	wantErr(t, s.ReplaceRecoveryCodes(ctx(t), newUID(), [][]byte{[]byte("x")}), store.ErrNotFound, "codes of a missing user")
}

func testCountObjects(t *testing.T, s store.Store) {
	now := at(time.Hour)
	c, err := s.CountObjects(ctx(t), now)
	mustNil(t, err, "CountObjects on an empty store")
	equal(t, c, store.ObjectCounts{}, "empty counts")

	alice := mustUser(t, s, "alice")
	mustUser(t, s, "bob")
	bot := human("bot")
	bot.Type = store.TypeServiceAccount
	mustCreateUser(t, s, bot)
	mustGroup(t, s, "ops")
	mustRole(t, s, "reader")
	mustRole(t, s, "writer")
	mustToken(t, s, apiToken(bot, "bot-1"))
	mustToken(t, s, apiToken(alice, "alice-1"))
	app := apiToken(bot, "bot-ldap")
	app.Intent = store.IntentAppPassword
	mustToken(t, s, app)
	live := session(alice, "live", t0)
	dead := session(alice, "dead", t0)
	dead.ExpiresAt = now
	mustNil(t, s.CreateSession(ctx(t), live), "CreateSession")
	mustNil(t, s.CreateSession(ctx(t), dead), "CreateSession")

	c, err = s.CountObjects(ctx(t), now)
	mustNil(t, err, "CountObjects")
	equal(t, c, store.ObjectCounts{
		UsersByType:    map[string]int{store.TypeHuman: 2, store.TypeServiceAccount: 1},
		Groups:         1,
		Roles:          2,
		TokensByIntent: map[string]int{store.IntentAPI: 2, store.IntentAppPassword: 1},
		Sessions:       1,
	}, "counts")
}
