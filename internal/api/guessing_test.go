package api_test

import (
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

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

// TestUnauthenticatedNamesAreBoundedInEvents: what a login_failed event
// keeps of a name nobody authenticated is at most 128 characters (then
// "…"), with control and format characters (newlines, ESC, the U+202E
// bidirectional override) replaced by U+FFFD: a 30,000-character Basic
// username cannot flood the audit log, nor a crafted one forge a line
// or reorder what the CLI and the web interface print.
func TestUnauthenticatedNamesAreBoundedInEvents(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		long := strings.Repeat("a", 30_000)
		crafted := "mallory\n2030-01-01 admin login ok\x1b[2K\u202enimda\u200b"
		for _, name := range []string{long, crafted} {
			e.Must(401, e.Do("GET", "/api/v1/me", servertest.Basic(name, "a-wrong-password"), nil))
		}
		evs, _ := e.App.Store.ListEvents(t.Context(), store.EventFilter{Action: "login_failed", Limit: 10})
		if len(evs) != 2 {
			t.Fatalf("%d login_failed events, want 2", len(evs))
		}
		for _, ev := range evs {
			checkUntrusted(t, ev.ActorUsername)
			checkUntrusted(t, ev.TargetName)
		}
		if got := evs[1].ActorUsername; got != strings.Repeat("a", 128)+"…" {
			t.Fatalf("the long name kept as %d bytes", len(got))
		}
		if got := evs[0].ActorUsername; got != "mallory\uFFFD2030-01-01 admin login ok\uFFFD[2K\uFFFDnimda\uFFFD" {
			t.Fatalf("the crafted name kept as %q", got)
		}
	})
}

func checkUntrusted(t *testing.T, s string) {
	t.Helper()
	if n := utf8.RuneCountInString(s); n > 129 {
		t.Fatalf("an event keeps %d characters of an unauthenticated name", n)
	}
	for _, r := range s {
		if unicode.In(r, unicode.Cc, unicode.Cf) {
			t.Fatalf("an event keeps %U of an unauthenticated name: %q", r, s)
		}
	}
}
