package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/server/servertest"
)

func TestLDAPProviders(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		p := e.Must(201, e.Admin("POST", "/api/v1/ldap-providers", map[string]any{
			"name": "corp", "base_dn": `O=Acme\, Inc. , DC=Example,domainComponent=COM`, "upn_domain": "Example.COM"})).JSON()
		if p["base_dn"] != `o=Acme\, Inc.,dc=Example,dc=COM` || p["bind_mode"] != "direct" || p["search_mode"] != "cached" ||
			p["upn_domain"] != "example.com" || p["search_group"] != "" || fmt.Sprint(p["outposts"]) != "[]" {
			t.Fatalf("created = %v", p)
		}
		e.Must(409, e.Admin("POST", "/api/v1/ldap-providers", map[string]any{"name": "corp", "base_dn": "dc=x"}))
		e.Must(201, e.Admin("POST", "/api/v1/groups", map[string]any{"name": "staff"}))
		for _, tc := range []struct {
			body  map[string]any
			field string
		}{
			{map[string]any{"name": "Bad Name", "base_dn": "dc=x"}, "name"},
			{map[string]any{"name": "x1"}, "base_dn"},
			{map[string]any{"name": "x2", "base_dn": "dc=x,,dc=y"}, "base_dn"},
			{map[string]any{"name": "x3", "base_dn": "dc=x", "bind_mode": "sometimes"}, "bind_mode"},
			{map[string]any{"name": "x4", "base_dn": "dc=x", "search_mode": "never"}, "search_mode"},
			{map[string]any{"name": "x5", "base_dn": "dc=x", "upn_domain": "not a domain"}, "upn_domain"},
			{map[string]any{"name": "x6", "base_dn": "dc=x", "search_group": "nope"}, "search_group"},
			{map[string]any{"name": "x7", "base_dn": "dc="}, "base_dn"},
			{map[string]any{"name": "x8", "base_dn": "dc=x", "colour": "red"}, "colour"},
		} {
			r := e.Must(400, e.Admin("POST", "/api/v1/ldap-providers", tc.body))
			if !strings.Contains(string(r.Body), `"field":"`+tc.field+`"`) {
				t.Errorf("%v: %s", tc.body, r.Body)
			}
		}
		list := e.Must(200, e.Admin("GET", "/api/v1/ldap-providers", nil)).JSON()["items"].([]any)
		if len(list) != 1 {
			t.Fatalf("list after bad creations: %v", list)
		}
		p = e.Must(200, e.Admin("PATCH", "/api/v1/ldap-providers/corp", map[string]any{"search_group": "staff", "bind_mode": "cached", "base_dn": "dc=corp"})).JSON()
		if p["search_group"] != "staff" || p["bind_mode"] != "cached" || p["base_dn"] != "dc=corp" || p["search_mode"] != "cached" {
			t.Fatalf("patched = %v", p)
		}
		e.Must(400, e.Admin("PATCH", "/api/v1/ldap-providers/corp", map[string]any{"name": "other"}))
		e.Must(404, e.Admin("PATCH", "/api/v1/ldap-providers/nope", map[string]any{"bind_mode": "direct"}))
		e.Must(200, e.Admin("GET", "/api/v1/ldap-providers/corp", nil))
		e.Must(404, e.Admin("GET", "/api/v1/ldap-providers/nope", nil))

		// Scoped grants: ldap.read@ldap/corp reads corp only; ldap.write@ldap/corp
		// changes it but cannot create providers.
		e.Must(201, e.Admin("POST", "/api/v1/ldap-providers", map[string]any{"name": "other", "base_dn": "dc=other"}))
		sa := e.Must(201, e.Admin("POST", "/api/v1/service-accounts", map[string]any{"username": "ops", "token_intent": "api"})).JSON()
		key := sa["token"].(map[string]any)["key"].(string)
		e.Must(200, e.Admin("PUT", "/api/v1/users/ops/permissions", map[string]any{"permissions": []string{"ldap.read@ldap/corp", "ldap.write@ldap/corp"}}))
		items := e.Must(200, e.Do("GET", "/api/v1/ldap-providers", bearer(key), nil)).JSON()["items"].([]any)
		if len(items) != 1 || items[0].(map[string]any)["name"] != "corp" {
			t.Fatalf("scoped list: %v", items)
		}
		e.Must(403, e.Do("GET", "/api/v1/ldap-providers/other", bearer(key), nil))
		e.Must(200, e.Do("PATCH", "/api/v1/ldap-providers/corp", bearer(key), map[string]any{"search_group": ""}))
		e.Must(403, e.Do("PATCH", "/api/v1/ldap-providers/other", bearer(key), map[string]any{"search_group": ""}))
		e.Must(403, e.Do("POST", "/api/v1/ldap-providers", bearer(key), map[string]any{"name": "third", "base_dn": "dc=x"}))
		e.Must(401, e.Do("GET", "/api/v1/ldap-providers", "", nil))

		e.Must(204, e.Admin("DELETE", "/api/v1/ldap-providers/other", nil))
		e.Must(404, e.Admin("DELETE", "/api/v1/ldap-providers/other", nil))
		evs := string(e.Must(200, e.Admin("GET", "/api/v1/events?target=corp", nil)).Body)
		for _, action := range []string{"model_created", "model_updated"} {
			if !strings.Contains(evs, `"action":"`+action+`"`) {
				t.Errorf("no %s event for corp: %s", action, evs)
			}
		}
	})
}

func TestOutposts(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.Must(201, e.Admin("POST", "/api/v1/ldap-providers", map[string]any{"name": "corp", "base_dn": "dc=example,dc=com"}))
		e.Must(201, e.Admin("POST", "/api/v1/ldap-providers", map[string]any{"name": "other", "base_dn": "dc=other"}))
		e.Must(400, e.Admin("POST", "/api/v1/outposts", map[string]any{"name": "rack1", "provider": "nope"}))
		e.Must(400, e.Admin("POST", "/api/v1/outposts", map[string]any{"name": "rack1", "provider": "corp", "ttl": "1s"}))
		e.Must(400, e.Admin("POST", "/api/v1/outposts", map[string]any{"name": strings.Repeat("a", 60), "provider": "corp"}))
		created := e.Must(201, e.Admin("POST", "/api/v1/outposts", map[string]any{"name": "rack1", "provider": "corp", "description": "rack 1"})).JSON()
		op := created["outpost"].(map[string]any)
		tok := created["token"].(map[string]any)
		key := tok["key"].(string)
		if op["user"] != "outpost-rack1" || op["provider"] != "corp" || op["token_ttl"] != "720h0m0s" ||
			tok["managed"] != true || tok["intent"] != "api" || tok["expiring"] != true || !strings.HasPrefix(key, "gat_") {
			t.Fatalf("created = %v", created)
		}
		e.Must(409, e.Admin("POST", "/api/v1/outposts", map[string]any{"name": "rack1", "provider": "corp"}))
		got := e.Must(200, e.Admin("GET", "/api/v1/outposts/rack1", nil)).JSON()
		if got["token"].(map[string]any)["key"] != nil {
			t.Fatal("the key is shown again")
		}
		// Its account: internal, managed, exactly these permissions, immutable.
		u := e.Must(200, e.Admin("GET", "/api/v1/users/outpost-rack1", nil)).JSON()
		if u["type"] != "internal_service_account" || u["managed"] != true {
			t.Fatalf("account = %v", u)
		}
		me := e.Must(200, e.Do("GET", "/api/v1/me", bearer(key), nil)).JSON()
		if fmt.Sprint(me["permissions"]) != "[ldap.read@ldap/corp tokens.self]" {
			t.Fatalf("outpost permissions = %v", me["permissions"])
		}
		e.Must(409, e.Admin("PATCH", "/api/v1/users/outpost-rack1", map[string]any{"description": "x"}))
		e.Must(409, e.Admin("DELETE", "/api/v1/users/outpost-rack1", nil))
		e.Must(409, e.Admin("PUT", "/api/v1/users/outpost-rack1/permissions", map[string]any{"permissions": []string{"users.read"}}))
		e.Must(409, e.Admin("PATCH", "/api/v1/tokens/"+tok["identifier"].(string), map[string]any{"description": "x"}))
		e.Must(409, e.Admin("POST", "/api/v1/tokens/"+tok["identifier"].(string)+"/rotate", nil))
		e.Must(409, e.Do("POST", "/api/v1/tokens", bearer(key), map[string]any{"intent": "api"}))
		// What it may do: read its provider and its directory; nothing else.
		e.Must(200, e.Do("GET", "/api/v1/ldap-providers/corp", bearer(key), nil))
		e.Must(200, e.Do("GET", "/api/v1/ldap-providers/corp/directory", bearer(key), nil))
		e.Must(403, e.Do("GET", "/api/v1/ldap-providers/other/directory", bearer(key), nil))
		e.Must(403, e.Do("GET", "/api/v1/users", bearer(key), nil))
		e.Must(403, e.Do("POST", "/api/v1/outposts", bearer(key), map[string]any{"name": "x", "provider": "corp"}))
		// It rotates its own token; the new key works at once, the old one
		// for the grace only.
		rot := e.Must(200, e.Do("POST", "/api/v1/tokens/"+tok["identifier"].(string)+"/rotate", bearer(key), map[string]any{"grace": "1m"})).JSON()
		key2 := rot["key"].(string)
		e.Must(200, e.Do("GET", "/api/v1/me", bearer(key2), nil))
		e.Must(200, e.Do("GET", "/api/v1/me", bearer(key), nil))
		e.Clock.Advance(2 * time.Minute)
		e.Must(401, e.Do("GET", "/api/v1/me", bearer(key), nil))
		// An admin re-issues a key for an outpost that lost its own.
		again := e.Must(200, e.Admin("POST", "/api/v1/outposts/rack1/rotate", nil)).JSON()
		key3 := again["token"].(map[string]any)["key"].(string)
		e.Must(401, e.Do("GET", "/api/v1/me", bearer(key2), nil))
		e.Must(200, e.Do("GET", "/api/v1/me", bearer(key3), nil))

		e.Must(409, e.Admin("DELETE", "/api/v1/ldap-providers/corp", nil))
		e.Must(204, e.Admin("DELETE", "/api/v1/outposts/rack1", nil))
		e.Must(401, e.Do("GET", "/api/v1/me", bearer(key3), nil))
		e.Must(404, e.Admin("GET", "/api/v1/users/outpost-rack1", nil))
		e.Must(404, e.Admin("GET", "/api/v1/outposts/rack1", nil))
		e.Must(204, e.Admin("DELETE", "/api/v1/ldap-providers/corp", nil))
	})
}

// TestOutpostEndpoints: binds, session checks and direct searches are for
// the provider's own outposts only, because only from them is a client
// address believed.
func TestOutpostEndpoints(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.Must(201, e.Admin("POST", "/api/v1/ldap-providers", map[string]any{"name": "corp", "base_dn": "dc=example,dc=com"}))
		e.Must(201, e.Admin("POST", "/api/v1/ldap-providers", map[string]any{"name": "other", "base_dn": "dc=other"}))
		key := e.Must(201, e.Admin("POST", "/api/v1/outposts", map[string]any{"name": "rack1", "provider": "corp"})).JSON()["token"].(map[string]any)["key"].(string)
		otherKey := e.Must(201, e.Admin("POST", "/api/v1/outposts", map[string]any{"name": "rack2", "provider": "other"})).JSON()["token"].(map[string]any)["key"].(string)
		bot := e.Must(201, e.Admin("POST", "/api/v1/service-accounts", map[string]any{"username": "bot"})).JSON()["token"].(map[string]any)["key"].(string)
		bind := map[string]any{"name": "cn=bot,ou=users,dc=example,dc=com", "password": bot, "client_ip": "198.51.100.7"}

		e.Must(403, e.Admin("POST", "/api/v1/ldap-providers/corp/bind", bind))
		e.Must(403, e.Do("POST", "/api/v1/ldap-providers/corp/bind", bearer(otherKey), bind))
		e.Must(403, e.Admin("POST", "/api/v1/ldap-providers/corp/sessions", map[string]any{"sessions": []any{}}))
		e.Must(401, e.Do("POST", "/api/v1/ldap-providers/corp/bind", "", bind))
		res := e.Must(200, e.Do("POST", "/api/v1/ldap-providers/corp/bind", bearer(key), bind)).JSON()
		sess := res["session"].(map[string]any)
		if res["outcome"] != "success" || sess["username"] != "bot" || !strings.HasPrefix(sess["binding"].(string), "k:") || sess["search_full_directory"] != false {
			t.Fatalf("bind = %v", res)
		}
		if strings.Contains(fmt.Sprint(res), bot) {
			t.Fatal("the answer holds the password")
		}
		bad := map[string]any{"name": bind["name"], "password": "wrong-password", "client_ip": "198.51.100.7"}
		if r := e.Must(200, e.Do("POST", "/api/v1/ldap-providers/corp/bind", bearer(key), bad)).JSON(); r["outcome"] != "invalid_credentials" || r["session"] != nil {
			t.Fatalf("wrong password = %v", r)
		}
		ev := e.Must(200, e.Admin("GET", "/api/v1/events?action=login_failed&actor=bot", nil)).JSON()["items"].([]any)[0].(map[string]any)
		if ev["client_ip"] != "198.51.100.7" || ev["context"].(map[string]any)["outpost"] != "rack1" {
			t.Fatalf("event = %v", ev)
		}
		e.Must(400, e.Do("POST", "/api/v1/ldap-providers/corp/bind", bearer(key), map[string]any{"name": "x", "password": "y", "client_ip": "not an address"}))

		ref := map[string]any{"user_uid": sess["user_uid"], "binding": sess["binding"]}
		check := func() bool {
			r := e.Must(200, e.Do("POST", "/api/v1/ldap-providers/corp/sessions", bearer(key), map[string]any{"sessions": []any{ref}})).JSON()
			return r["sessions"].([]any)[0].(map[string]any)["valid"].(bool)
		}
		if !check() {
			t.Fatal("a fresh session is invalid")
		}
		e.Must(200, e.Admin("PATCH", "/api/v1/service-accounts/bot", map[string]any{"is_active": false}))
		if check() {
			t.Fatal("a disabled account's session is valid")
		}
		e.Must(200, e.Admin("PATCH", "/api/v1/service-accounts/bot", map[string]any{"is_active": true}))
		if !check() {
			t.Fatal("re-enabled: invalid")
		}
		forged := map[string]any{"user_uid": sess["user_uid"], "binding": "k:AAAAAAAAAAAA"}
		r := e.Must(200, e.Do("POST", "/api/v1/ldap-providers/corp/sessions", bearer(key), map[string]any{"sessions": []any{forged}})).JSON()
		if r["sessions"].([]any)[0].(map[string]any)["valid"] != false {
			t.Fatal("a forged binding is valid")
		}
		// Direct search: (objectClass=*) is 87 0b "objectClass".
		search := map[string]any{"user_uid": sess["user_uid"], "binding": sess["binding"], "base": "dc=example,dc=com", "scope": 2, "filter": "hwtvYmplY3RDbGFzcw=="}
		sr := e.Must(200, e.Do("POST", "/api/v1/ldap-providers/corp/search", bearer(key), search)).JSON()
		entries := sr["entries"].([]any)
		if len(entries) != 1 || entries[0].(map[string]any)["dn"] != "cn=bot,ou=users,dc=example,dc=com" {
			t.Fatalf("direct search = %v", sr)
		}
		search["filter"] = "!!!"
		e.Must(400, e.Do("POST", "/api/v1/ldap-providers/corp/search", bearer(key), search))
		e.Must(403, e.Admin("POST", "/api/v1/ldap-providers/corp/search", search))
	})
}

func TestDirectoryFeed(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.Must(201, e.Admin("POST", "/api/v1/ldap-providers", map[string]any{"name": "corp", "base_dn": "dc=example,dc=com"}))
		e.Must(201, e.Admin("POST", "/api/v1/users", map[string]any{"username": "alice", "email": "alice@example.com"}))
		e.Must(201, e.Admin("POST", "/api/v1/users", map[string]any{"username": "bob"}))
		e.Must(201, e.Admin("POST", "/api/v1/groups", map[string]any{"name": "staff"}))
		e.Must(204, e.Admin("PUT", "/api/v1/groups/staff/members/alice", nil))
		type feed struct {
			Cursor        string           `json:"cursor"`
			Reset         bool             `json:"reset"`
			Users         []map[string]any `json:"users"`
			Groups        []map[string]any `json:"groups"`
			RemovedUsers  []string         `json:"removed_users"`
			RemovedGroups []string         `json:"removed_groups"`
			Provider      map[string]any   `json:"provider"`
		}
		get := func(q string) feed {
			var f feed
			e.Must(200, e.Admin("GET", "/api/v1/ldap-providers/corp/directory"+q, nil)).Decode(t, &f)
			return f
		}
		full := get("")
		names := func(us []map[string]any) []string {
			var out []string
			for _, u := range us {
				out = append(out, u["username"].(string))
			}
			return out
		}
		if !full.Reset || !slices.Equal(names(full.Users), []string{"admin", "alice", "bob"}) || full.Provider["base_dn"] != "dc=example,dc=com" {
			t.Fatalf("full feed = %+v", full)
		}
		if fmt.Sprint(full.Users[1]["groups"]) != "[staff]" || fmt.Sprint(full.Groups[0]["members"]) != "[alice]" {
			t.Fatalf("memberships: %v %v", full.Users[1], full.Groups[0])
		}
		// Nothing changed: an empty delta.
		same := get("?since=" + full.Cursor)
		if same.Reset || len(same.Users)+len(same.Groups)+len(same.RemovedUsers) != 0 {
			t.Fatalf("delta without changes = %+v", same)
		}
		// A change of something else (a role) moves the cursor, not the entries.
		e.Must(201, e.Admin("POST", "/api/v1/roles", map[string]any{"name": "r"}))
		moved := get("?since=" + full.Cursor)
		if moved.Cursor == full.Cursor || len(moved.Users) != 0 {
			t.Fatalf("after a role change = %+v", moved)
		}
		// Disable bob, add carol, put bob's... only what changed comes.
		e.Must(200, e.Admin("PATCH", "/api/v1/users/bob", map[string]any{"is_active": false}))
		e.Must(201, e.Admin("POST", "/api/v1/users", map[string]any{"username": "carol"}))
		d := get("?since=" + moved.Cursor)
		bobUID := full.Users[2]["uid"].(string)
		if d.Reset || !slices.Equal(names(d.Users), []string{"carol"}) || !slices.Equal(d.RemovedUsers, []string{bobUID}) || len(d.Groups) != 0 {
			t.Fatalf("delta = %+v", d)
		}
		// A cursor of another process (or restart) starts over; garbage is refused.
		if r := get("?since=0123456789abcdef.3"); !r.Reset {
			t.Fatal("a foreign cursor does not reset")
		}
		e.Must(400, e.Admin("GET", "/api/v1/ldap-providers/corp/directory?since=garbage", nil))
		e.Must(400, e.Admin("GET", "/api/v1/ldap-providers/corp/directory?wait=forever", nil))
		e.Must(400, e.Admin("GET", "/api/v1/ldap-providers/corp/directory?wait=2m", nil))
		e.Must(404, e.Admin("GET", "/api/v1/ldap-providers/nope/directory", nil))
		if r := get("?entries=false"); len(r.Users) != 0 || r.Cursor == "" {
			t.Fatalf("entries=false = %+v", r)
		}

		// A long poll answers the moment something changes...
		done := make(chan feed, 1)
		start := time.Now()
		go func() {
			var f feed
			r := e.Do("GET", "/api/v1/ldap-providers/corp/directory?wait=20s&since="+d.Cursor, bearer(servertest.AdminToken), nil)
			_ = json.Unmarshal(r.Body, &f)
			done <- f
		}()
		time.Sleep(200 * time.Millisecond)
		e.Must(204, e.Admin("PUT", "/api/v1/groups/staff/members/carol", nil))
		select {
		case f := <-done:
			if len(f.Groups) != 1 || fmt.Sprint(f.Groups[0]["members"]) != "[alice carol]" {
				t.Fatalf("long poll answer = %+v", f)
			}
			if time.Since(start) > 5*time.Second {
				t.Fatalf("long poll took %s", time.Since(start))
			}
		case <-time.After(15 * time.Second):
			t.Fatal("the long poll did not answer the change")
		}
		// ...and beats every second while nothing does.
		r := e.Do("GET", "/api/v1/ldap-providers/corp/directory?wait=2500ms&since="+get("").Cursor, bearer(servertest.AdminToken), nil)
		if r.Status != http.StatusOK || !strings.HasPrefix(string(r.Body), "  ") {
			t.Fatalf("quiet long poll: %d %q", r.Status, r.Body[:min(len(r.Body), 20)])
		}
		var quiet feed
		if err := json.Unmarshal(r.Body, &quiet); err != nil || quiet.Cursor == "" {
			t.Fatalf("quiet answer: %v", err)
		}
	})
}

func TestManagedTokenWarning(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.Must(201, e.Admin("POST", "/api/v1/ldap-providers", map[string]any{"name": "corp", "base_dn": "dc=example,dc=com"}))
		e.Must(201, e.Admin("POST", "/api/v1/outposts", map[string]any{"name": "rack1", "provider": "corp", "ttl": "1h"}))
		warnings := func() int {
			return len(e.Must(200, e.Admin("GET", "/api/v1/events?action=token_expiring", nil)).JSON()["items"].([]any))
		}
		e.Clock.Advance(40 * time.Minute) // 20 of 60 minutes left: the outpost would have rotated, no warning yet
		if err := e.App.Core.Cleanup(t.Context()); err != nil {
			t.Fatal(err)
		}
		if n := warnings(); n != 0 {
			t.Fatalf("%d warnings with a third left", n)
		}
		e.Clock.Advance(6 * time.Minute) // 14 minutes left: less than a quarter
		for i := 0; i < 2; i++ {
			if err := e.App.Core.Cleanup(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		if n := warnings(); n != 1 {
			t.Fatalf("%d warnings, want one (at most one a day)", n)
		}
	})
}
