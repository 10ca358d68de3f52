package server_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/server/servertest"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
)

// TestRefusalCostsAWrongPassword: an account refused whatever its
// password (disabled, outside the provider's search group, a person with
// two-factor at a door that cannot ask for it) gets, for its right
// password, the answer and the cost of a wrong one: one argon2id run,
// never an answer from the cache of verified passwords. Otherwise the
// time of a refusal (3 ms against 30-100 ms) tells whether a guessed
// password was right, through an outpost's bind endpoint with any
// client_ip it likes or through HTTP Basic. Counting argon2id runs says
// it without a timing that a busy machine would blur.
func TestRefusalCostsAWrongPassword(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, st store.Store) {
		e := servertest.Start(t, st)
		const pw, wrong = "the-right-password-1", "a-wrong-password-42"
		e.Must(201, e.Admin("POST", "/api/v1/ldap-providers", map[string]any{"name": "corp", "base_dn": "dc=example,dc=com"}))
		e.Must(201, e.Admin("POST", "/api/v1/groups", map[string]any{"name": "staff"}))
		key := e.Must(201, e.Admin("POST", "/api/v1/outposts", map[string]any{"name": "rack1", "provider": "corp"})).JSON()["token"].(map[string]any)["key"].(string)
		for _, u := range []string{"member", "disabled", "outsider", "twofactor"} {
			e.Must(201, e.Admin("POST", "/api/v1/users", map[string]any{"username": u, "password": pw}))
			if u != "outsider" {
				e.Must(204, e.Admin("PUT", "/api/v1/groups/staff/members/"+u, nil))
			}
		}
		ip := 0
		authn := e.App.Core.Authenticator()
		// measure counts the argon2id runs of one attempt. On a busy
		// machine PostgreSQL's change check can miss its 2 s: the caches
		// are then bypassed and emptied (fail safe), and an attempt made
		// meanwhile says nothing about them, so it waits and tries again.
		measure := func(try func() string) (string, uint64) {
			for range 20 {
				for authn.Bypassed() {
					time.Sleep(10 * time.Millisecond)
				}
				runs, resets := authn.PasswordHashRuns(), authn.CacheResets()
				body := try()
				if !authn.Bypassed() && authn.CacheResets() == resets {
					return body, authn.PasswordHashRuns() - runs
				}
			}
			t.Fatal("the credential cache stayed bypassed")
			return "", 0
		}
		bind := func(user, password string) (string, uint64) {
			return measure(func() string {
				ip++ // a fresh address each time: the limiter stays out of it
				r := e.Must(200, e.Do("POST", "/api/v1/ldap-providers/corp/bind", servertest.Bearer(key),
					map[string]any{"name": "cn=" + user + ",ou=users,dc=example,dc=com", "password": password, "client_ip": fmt.Sprintf("192.0.2.%d", ip)}))
				return string(r.Body)
			})
		}
		basic := func(user, password string) (string, uint64) {
			return measure(func() string {
				r := e.Do("GET", "/api/v1/me", servertest.Basic(user, password), nil)
				return fmt.Sprint(r.Status, string(r.Body))
			})
		}
		// Every right password is verified once, and so cached.
		for _, u := range []string{"member", "disabled", "outsider", "twofactor"} {
			if body, _ := bind(u, pw); !strings.Contains(body, `"outcome":"success"`) {
				t.Fatalf("%s: %s", u, body)
			}
			basic(u, pw)
		}
		// The control: a cached right password costs no argon2id run.
		if body, runs := bind("member", pw); !strings.Contains(body, `"outcome":"success"`) || runs != 0 {
			t.Fatalf("member: %s after %d argon2id runs, want a cached success", body, runs)
		}
		e.Must(200, e.Admin("PATCH", "/api/v1/users/disabled", map[string]any{"is_active": false}))
		e.Must(200, e.Admin("PATCH", "/api/v1/ldap-providers/corp", map[string]any{"search_group": "staff"}))
		e.EnrolTOTP("twofactor")

		for _, u := range []string{"disabled", "outsider", "twofactor"} {
			right, rightRuns := bind(u, pw)
			bad, badRuns := bind(u, wrong)
			if right != bad || rightRuns != 1 || badRuns != 1 {
				t.Errorf("outpost bind of %s: right password %s (%d argon2id runs), wrong %s (%d runs)", u, right, rightRuns, bad, badRuns)
			}
		}
		for _, u := range []string{"disabled", "twofactor"} {
			right, rightRuns := basic(u, pw)
			bad, badRuns := basic(u, wrong)
			if right != bad || rightRuns != 1 || badRuns != 1 {
				t.Errorf("Basic as %s: right password %s (%d argon2id runs), wrong %s (%d runs)", u, right, rightRuns, bad, badRuns)
			}
		}
		// The events still tell an administrator which was which.
		for _, u := range []string{"disabled", "outsider", "twofactor"} {
			evs := string(e.Must(200, e.Admin("GET", "/api/v1/events?action=login_failed&actor="+u, nil)).Body)
			if !strings.Contains(evs, `"reason":"mismatch"`) || !strings.Contains(evs, map[string]string{
				"disabled": `"reason":"inactive"`, "outsider": `"reason":"not_in_search_group"`, "twofactor": `"reason":"second_factor_required"`}[u]) {
				t.Errorf("events of %s: %s", u, evs)
			}
		}
	})
}
