package ui_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

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
		c := newClient(t, e)
		c.mustLogin("dora", "dora-password-1")
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
