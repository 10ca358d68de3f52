package api_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/server/servertest"
	"github.com/gatehouse/gatehouse/internal/store"
)

// TestOwnPasswordChangeIsLimited: the current password asked by PUT
// /users/{u}/password is a password check like a sign-in: a wrong one is
// a login_failed event (method password_change), ten of them from one
// address in a minute and that account from that address gets 429 with
// Retry-After, even with the right password, until the minute is over.
func TestOwnPasswordChangeIsLimited(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		const pw = "erin-password-1"
		e.Must(201, e.Admin("POST", "/api/v1/users", map[string]any{"username": "erin", "password": pw}))
		key := e.Must(201, e.Admin("POST", "/api/v1/tokens", map[string]any{"user": "erin", "intent": "api"})).JSON()["key"].(string)
		change := func(current string) *servertest.Resp {
			return e.Do("PUT", "/api/v1/users/erin/password", bearer(key), map[string]any{"current_password": current, "password": "erin-password-2"})
		}
		for i := range 10 {
			r := e.Must(400, change("guess-number-"+string(rune('a'+i))))
			if !strings.Contains(string(r.Body), `"field":"current_password"`) {
				t.Fatalf("wrong current password: %s", r.Body)
			}
		}
		r := e.Must(429, change(pw))
		if r.Header.Get("Retry-After") == "" || r.Header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("limited answer: %v %s", r.Header, r.Body)
		}
		evs, _ := e.App.Store.ListEvents(t.Context(), store.EventFilter{Action: "login_failed", Actor: "erin", Limit: 50})
		if len(evs) != 10 {
			t.Fatalf("%d login_failed events, want 10", len(evs))
		}
		for _, ev := range evs {
			if ev.Context["method"] != "password_change" || ev.Context["reason"] != "mismatch" || ev.ClientIP == "" {
				t.Fatalf("event %+v", ev)
			}
		}
		// The same limiter as Basic: erin's password is limited there too.
		e.Must(429, e.Do("GET", "/api/v1/me", servertest.Basic("erin", pw), nil))
		e.Clock.Advance(61 * time.Second)
		e.Must(204, change(pw))
		e.Must(200, e.Do("GET", "/api/v1/me", servertest.Basic("erin", "erin-password-2"), nil))
	})
}
