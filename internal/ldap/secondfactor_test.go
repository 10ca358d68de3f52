package ldap_test

import (
	"strings"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
)

// TestSecondFactorRefusesPasswordBinds: a person who turned two-factor
// on binds with an app password; the password alone is refused (49, as
// any failed bind), recorded with reason second_factor_required, counted
// by the limiter as a failure, and a session bound with the password
// before the factor was turned on ends.
func TestSecondFactorRefusesPasswordBinds(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		app := f.e.Must(201, f.e.Admin("POST", "/api/v1/tokens", map[string]any{"user": "alice", "intent": "app_password"})).JSON()["key"].(string)
		held := dial(t, f.addr)
		mustBind(t, held, userDN("alice"), alicePassword)
		f.e.EnrolTOTP("alice")
		if _, err := held.WhoAmI(nil); err == nil {
			t.Fatal("a session bound with the password goes on after two-factor was turned on")
		}

		c := dial(t, f.addr)
		if err := c.Bind(userDN("alice"), alicePassword); code(err) != goldap.LDAPResultInvalidCredentials {
			t.Fatalf("password bind of a person with two-factor: %v", err)
		}
		if err := c.Bind(userDN("alice"), "not-her-password"); code(err) != goldap.LDAPResultInvalidCredentials {
			t.Fatalf("wrong password: %v", err)
		}
		evs := string(f.e.Must(200, f.e.Admin("GET", "/api/v1/events?action=login_failed&actor=alice", nil)).Body)
		if strings.Count(evs, `"reason":"second_factor_required"`) != 1 || !strings.Contains(evs, `"reason":"mismatch"`) ||
			!strings.Contains(evs, `"method":"ldap"`) || strings.Contains(evs, alicePassword) {
			t.Fatalf("login_failed events: %s", evs)
		}
		// Her app password binds (and clears the failures so far).
		mustBind(t, c, userDN("alice"), app)

		// Each refusal is a failure for the limiter: ten of them from one
		// address, and that pair waits, even with the app password.
		for i := 0; i < 10; i++ {
			if err := c.Bind(userDN("alice"), alicePassword); code(err) != goldap.LDAPResultInvalidCredentials {
				t.Fatalf("attempt %d: %v", i, err)
			}
		}
		if err := c.Bind(userDN("alice"), app); code(err) != goldap.LDAPResultBusy {
			t.Fatalf("after ten refused password binds: %v", err)
		}
		f.e.Clock.Advance(61 * time.Second)
		mustBind(t, c, userDN("alice"), app)
	})
}
