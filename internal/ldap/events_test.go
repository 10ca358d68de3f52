package ldap_test

import (
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/server/servertest"
	"github.com/gatehouse/gatehouse/internal/store"
)

// TestLoginEventsPerSource: LDAP login events are coalesced per user and
// source (client address, provider, outpost), not per user alone: a
// bind from a new address or through an outpost within the 5 minutes is
// still recorded; repeated binds from one source are not.
func TestLoginEventsPerSource(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		e := f.e
		key := e.Must(201, e.Admin("POST", "/api/v1/outposts", map[string]any{"name": "rack1", "provider": "corp"})).JSON()["token"].(map[string]any)["key"].(string)
		viaOutpost := func(client string) {
			t.Helper()
			r := e.Must(200, e.Do("POST", "/api/v1/ldap-providers/corp/bind", servertest.Bearer(key),
				map[string]any{"name": userDN("bot"), "password": f.botKey, "client_ip": client})).JSON()
			if r["outcome"] != "success" {
				t.Fatalf("outpost bind from %s: %v", client, r)
			}
		}
		logins := func() []any {
			return e.Must(200, e.Admin("GET", "/api/v1/events?action=login&actor=bot", nil)).JSON()["items"].([]any)
		}
		steps := []struct {
			what string
			bind func()
			want int
		}{
			{"in-server door", func() { mustBind(t, dial(t, f.addr), userDN("bot"), f.botKey) }, 1},
			{"same source again", func() { mustBind(t, dial(t, f.addr), userDN("bot"), f.botKey) }, 1},
			{"through an outpost, same address", func() { viaOutpost("127.0.0.1") }, 2},
			{"through the outpost, another address", func() { viaOutpost("192.0.2.7") }, 3},
			{"that source again", func() { viaOutpost("192.0.2.7") }, 3},
			{"the first source again", func() { mustBind(t, dial(t, f.addr), userDN("bot"), f.botKey) }, 3},
		}
		for _, s := range steps {
			e.Clock.Advance(30 * time.Second) // all within the 5 minutes
			s.bind()
			if got := len(logins()); got != s.want {
				t.Fatalf("%s: %d login events, want %d", s.what, got, s.want)
			}
		}
		body := string(e.Must(200, e.Admin("GET", "/api/v1/events?action=login&actor=bot", nil)).Body)
		if !strings.Contains(body, `"client_ip":"192.0.2.7"`) || strings.Count(body, `"outpost":"rack1"`) != 2 {
			t.Fatalf("login events: %s", body)
		}
		e.Clock.Advance(5 * time.Minute)
		mustBind(t, dial(t, f.addr), userDN("bot"), f.botKey)
		if got := len(logins()); got != 4 {
			t.Fatalf("after 5 minutes: %d login events, want 4", got)
		}
	})
}

// TestUnauthenticatedBindNamesAreBoundedInEvents: the LDAP door keeps of
// a bind name that names nobody at most 128 characters, without control
// or format characters, as every other door does (core.Untrusted).
func TestUnauthenticatedBindNamesAreBoundedInEvents(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		c := dial(t, f.addr)
		names := []string{"cn=" + strings.Repeat("x", 2000) + ",ou=users," + baseDN, "cn=mallory\u202enimda\x1b,ou=people\n," + baseDN}
		for _, n := range names {
			if err := c.Bind(n, "a-wrong-password"); code(err) != 49 {
				t.Fatalf("bind as %q: %v", n, err)
			}
			if err := c.UnauthenticatedBind(n); code(err) != 53 {
				t.Fatalf("unauthenticated bind as %q: %v", n, err)
			}
		}
		evs, _ := f.e.App.Store.ListEvents(t.Context(), store.EventFilter{Action: "login_failed", Limit: 10})
		if len(evs) != 4 {
			t.Fatalf("%d login_failed events, want 4", len(evs))
		}
		for _, ev := range evs {
			for _, s := range []string{ev.ActorUsername, ev.TargetName} {
				if utf8.RuneCountInString(s) > 129 || strings.ContainsFunc(s, func(r rune) bool { return unicode.In(r, unicode.Cc, unicode.Cf) }) {
					t.Fatalf("an event keeps %q", s)
				}
			}
		}
	})
}
