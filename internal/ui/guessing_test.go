package ui_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/core"

	"github.com/gatehouse/gatehouse/internal/server/servertest"
	"github.com/gatehouse/gatehouse/internal/store"
)

// TestReauthenticationIsLimited: the password asked again before turning
// two-factor off or renewing the recovery codes (and changing the
// password) is limited like a sign-in, per account and address, and each
// wrong one is a login_failed event.
func TestReauthenticationIsLimited(t *testing.T) {
	each(t, func(t *testing.T, e *servertest.Env) {
		newHuman(t, e, "dora", "dora-password-1")
		c := signedIn(t, e, "dora", "dora-password-1")
		e.EnrolTOTP("dora")
		c.get("/profile")
		for i := range 10 {
			path := "/profile/two-factor/disable"
			if i%2 == 1 {
				path = "/profile/two-factor/recovery-codes"
			}
			contains(t, must(t, http.StatusBadRequest, c.post(path, url.Values{"password": {"not-the-password"}})), "is not your current password")
		}
		for _, path := range []string{"/profile/two-factor/recovery-codes", "/profile/two-factor/disable"} {
			r := must(t, http.StatusTooManyRequests, c.post(path, url.Values{"password": {"dora-password-1"}}))
			if r.Header.Get("Retry-After") == "" {
				t.Fatal("no Retry-After")
			}
			contains(t, r, "Too many failed attempts")
		}
		r := must(t, http.StatusTooManyRequests, c.post("/profile/password", url.Values{
			"current_password": {"dora-password-1"}, "new_password": {"dora-password-2"}, "confirm_password": {"dora-password-2"}}))
		contains(t, r, "Too many failed attempts")
		evs, _ := e.App.Store.ListEvents(t.Context(), store.EventFilter{Action: "login_failed", Actor: "dora", Limit: 50})
		if len(evs) != 10 {
			t.Fatalf("%d login_failed events, want 10", len(evs))
		}
		for _, ev := range evs {
			if ev.Context["method"] != "reauthenticate" || ev.Context["reason"] != "mismatch" {
				t.Fatalf("event %+v", ev)
			}
		}
		e.Clock.Advance(61 * time.Second)
		contains(t, must(t, http.StatusOK, c.post("/profile/two-factor/recovery-codes", url.Values{"password": {"dora-password-1"}})), "save these codes")
		must(t, http.StatusSeeOther, c.post("/profile/two-factor/disable", url.Values{"password": {"dora-password-1"}}))
	})
}

// TestSecondFactorGuessingIsLimited: a right password does not clear
// the failures counted against the account and address; only a complete
// sign-in does. So signing in again after wrong codes gives a code
// guesser no new budget: after ten wrong codes (TOTP or recovery) in a
// minute that account from that address gets 429, password or code,
// until the minute is over; each wrong code is a login_failed event.
func TestSecondFactorGuessingIsLimited(t *testing.T) {
	each(t, func(t *testing.T, e *servertest.Env) {
		newHuman(t, e, "dora", "dora-password-1")
		secret := e.EnrolTOTP("dora")
		e.Clock.Advance(30 * time.Second) // the enrolment's code is spent
		now := auth.TOTPStep(e.Clock.Now())
		wrong := "000000"
		for slices.Contains([]string{auth.TOTPCode(secret, now-1), auth.TOTPCode(secret, now), auth.TOTPCode(secret, now+1)}, wrong) {
			wrong = fmt.Sprintf("%06d", (mustAtoi(t, wrong)+1)%1_000_000)
		}
		c := newClient(t, e)
		guesses := 0
		for round := 0; round < 2; round++ {
			r := must(t, http.StatusSeeOther, c.login("dora", "dora-password-1"))
			if !strings.HasPrefix(r.Location, "/login/code") {
				t.Fatalf("round %d: after the password, %q", round, r.Location)
			}
			c.get("/login/code")
			for i := 0; i < core.MaxMFAFailures; i++ {
				code := wrong
				if i%2 == 1 {
					code = "abcde-fghjk" // a recovery code she does not have
				}
				r := c.post("/login/code", url.Values{"code": {code}})
				guesses++
				if want := http.StatusUnauthorized; i == core.MaxMFAFailures-1 {
					must(t, http.StatusSeeOther, r) // the pending session ended
				} else {
					must(t, want, r)
				}
			}
		}
		if guesses != 10 {
			t.Fatalf("%d guesses", guesses)
		}
		r := must(t, http.StatusTooManyRequests, c.login("dora", "dora-password-1"))
		if r.Header.Get("Retry-After") == "" {
			t.Fatal("no Retry-After")
		}
		contains(t, r, "Too many failed attempts")
		evs, _ := e.App.Store.ListEvents(t.Context(), store.EventFilter{Action: "login_failed", Actor: "dora", Limit: 50})
		reasons := map[any]int{}
		for _, ev := range evs {
			if ev.Context["method"] != "web" {
				t.Fatalf("event %+v", ev)
			}
			reasons[ev.Context["reason"]]++
		}
		// Ten wrong codes, and one event for the limiter's refusals in
		// the window (as at every door).
		if len(evs) != 11 || reasons["totp_mismatch"] != 6 || reasons["recovery_code_unknown"] != 4 || reasons["rate_limited"] != 1 {
			t.Fatalf("login_failed events: %d, reasons %v", len(evs), reasons)
		}
		// After the minute, a complete sign-in works and clears the count.
		e.Clock.Advance(61 * time.Second)
		must(t, http.StatusSeeOther, c.login("dora", "dora-password-1"))
		c.get("/login/code")
		if r := must(t, http.StatusSeeOther, c.post("/login/code", url.Values{"code": {auth.TOTPCode(secret, auth.TOTPStep(e.Clock.Now()))}})); r.Location != "/" {
			t.Fatalf("after the code: %q", r.Location)
		}
	})
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestTurnedAwayKeyIsNotUsed: a service account's own key presented at
// the sign-in page is turned away, and that is not a use: last_used_at
// does not move and an extended token's expiry does not slide.
func TestTurnedAwayKeyIsNotUsed(t *testing.T) {
	each(t, func(t *testing.T, e *servertest.Env) {
		e.Must(201, e.Admin("POST", "/api/v1/service-accounts", map[string]any{"username": "bot", "token_intent": "none"}))
		keys := map[string]string{}
		for _, intent := range []string{"api", "app_password"} {
			tok := e.Must(201, e.Admin("POST", "/api/v1/tokens", map[string]any{"user": "bot", "intent": intent, "extended": true, "max_age": "10s", "identifier": "ext-" + intent})).JSON()
			keys[intent] = tok["key"].(string)
		}
		created := e.Clock.Now()
		for i := 0; i < 2; i++ {
			e.Clock.Advance(4 * time.Second)
			for _, key := range keys {
				contains(t, must(t, http.StatusForbidden, newClient(t, e).login("bot", key)), "Service accounts do not use the web interface")
			}
		}
		for intent := range keys {
			tok := e.Must(200, e.Admin("GET", "/api/v1/tokens/ext-"+intent, nil)).JSON()
			if tok["last_used_at"] != nil || tok["expires_at"] != created.Add(10*time.Second).Format(time.RFC3339) {
				t.Fatalf("%s after being turned away: last used %v, expires %v", intent, tok["last_used_at"], tok["expires_at"])
			}
		}
		e.Clock.Advance(3 * time.Second) // 11 s after creation, 3 s after the last visit
		e.Must(401, e.Do("GET", "/api/v1/me", servertest.Bearer(keys["api"]), nil))
	})
}
