package ui_test

import (
	"net/http"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/server/servertest"
)

var keyOnPage = regexp.MustCompile(`<code id="new-key">(gat_[A-Za-z0-9]+)</code>`)

func providerForm(name, baseDN string) url.Values {
	return url.Values{"name": {name}, "base_dn": {baseDN}, "search_group": {""}, "bind_mode": {"direct"}, "search_mode": {"cached"}, "upn_domain": {""}}
}

// directoryStatus reads a provider's directory feed with an outpost's key.
func directoryStatus(e *servertest.Env, provider, key string) int {
	return e.Do("GET", "/api/v1/ldap-providers/"+provider+"/directory", servertest.Bearer(key), nil).Status
}

func TestLDAPPages(t *testing.T) {
	each(t, func(t *testing.T, e *servertest.Env) {
		newHuman(t, e, "alice", "alice-password-1")
		newGroup(t, e, "ldap-readers", "alice")
		c := signedIn(t, e, "admin", adminPW)
		contains(t, must(t, 200, c.get("/ldap-providers")), "No LDAP providers yet", "New LDAP provider")

		v := providerForm("corp", "dc=example,,dc=com")
		v.Set("search_group", "nope")
		v.Set("upn_domain", "Example.COM")
		r := must(t, 400, c.post("/ldap-providers", v))
		contains(t, r, `id="err-base_dn"`, `value="dc=example,,dc=com"`, `value="nope"`, `value="Example.COM"`)
		v.Set("base_dn", "dc=example,dc=com")
		contains(t, must(t, 400, c.post("/ldap-providers", v)), `id="err-search_group"`, `value="nope"`)
		e.Must(404, e.Admin("GET", "/api/v1/ldap-providers/corp", nil))
		v.Set("search_group", "ldap-readers")
		r = must(t, 303, c.post("/ldap-providers", v))
		if r.Location != "/ldap-providers/corp" {
			t.Fatalf("created provider: redirect to %q", r.Location)
		}
		contains(t, must(t, 200, c.get("/ldap-providers/corp")), "dc=example,dc=com", `href="/groups/ldap-readers"`, "No outposts")
		r = must(t, 200, c.get("/ldap-providers/corp/directory"))
		contains(t, r, "cn=alice,ou=users,dc=example,dc=com", "cn=ldap-readers,ou=groups,dc=example,dc=com", "cn=admin,ou=users,dc=example,dc=com")
		// Settings keep what was typed.
		v = providerForm("", "dc=corp")
		v.Set("search_mode", "sideways")
		contains(t, must(t, 400, c.post("/ldap-providers/corp", v)), `id="err-search_mode"`, `value="dc=corp"`)
		v.Set("search_mode", "direct")
		must(t, 303, c.post("/ldap-providers/corp", v))
		if p := e.Must(200, e.Admin("GET", "/api/v1/ldap-providers/corp", nil)).JSON(); p["base_dn"] != "dc=corp" || p["search_mode"] != "direct" {
			t.Fatalf("after the settings form: %v", p)
		}

		// An outpost: its key is shown once, and works.
		contains(t, must(t, 200, c.get("/outposts?provider=corp")), `<option value="corp" selected>`)
		r = must(t, 400, c.post("/outposts", url.Values{"name": {"rack1"}, "provider": {"corp"}, "ttl": {"1s"}, "description": {"Rack 1"}}))
		contains(t, r, `id="err-ttl"`, `value="1s"`, `value="Rack 1"`)
		r = must(t, 201, c.post("/outposts", url.Values{"name": {"rack1"}, "provider": {"corp"}, "ttl": {"720h"}, "description": {"Rack 1"}}))
		m := keyOnPage.FindStringSubmatch(r.Body)
		if m == nil {
			t.Fatalf("no key on the page:\n%s", r.Body)
		}
		contains(t, r, "you will not see this again", "outpost-rack1")
		contains(t, must(t, 200, c.get("/outposts/rack1")), "never connected")
		if got := directoryStatus(e, "corp", m[1]); got != 200 {
			t.Fatalf("the outpost's key: %d", got)
		}
		r = must(t, 200, c.get("/outposts"))
		contains(t, r, `href="/outposts/rack1"`, "connected")
		lacks(t, r, m[1], "never connected")
		e.Clock.Advance(3 * time.Hour)
		contains(t, must(t, 200, c.get("/outposts/rack1")), "last seen 3 hours ago")

		// Rotation: a new key, the old one refused at once.
		contains(t, must(t, 400, c.post("/outposts/rack1/rotate", url.Values{"grace": {"soon"}})), `id="err-grace"`, `value="soon"`)
		r = must(t, 200, c.post("/outposts/rack1/rotate", url.Values{"grace": {"0s"}}))
		m2 := keyOnPage.FindStringSubmatch(r.Body)
		if m2 == nil || m2[1] == m[1] {
			t.Fatalf("no new key on the page:\n%s", r.Body)
		}
		if directoryStatus(e, "corp", m[1]) != http.StatusUnauthorized || directoryStatus(e, "corp", m2[1]) != 200 {
			t.Fatal("after the rotation, the old key works or the new one does not")
		}

		// A served provider cannot go; the outpost first.
		must(t, 409, c.post("/ldap-providers/corp/delete", url.Values{"confirm": {"corp"}}))
		contains(t, must(t, 200, c.get("/outposts/rack1/delete")), "Delete outpost rack1?")
		must(t, 303, c.post("/outposts/rack1/delete", url.Values{"confirm": {"rack1"}}))
		if directoryStatus(e, "corp", m2[1]) != http.StatusUnauthorized {
			t.Fatal("a deleted outpost's key still works")
		}
		must(t, 303, c.post("/ldap-providers/corp/delete", url.Values{"confirm": {"corp"}}))
		must(t, 404, c.get("/ldap-providers/corp"))
	})
}

func TestLDAPPagesPermissions(t *testing.T) {
	each(t, func(t *testing.T, e *servertest.Env) {
		for _, p := range []string{"corp", "lab"} {
			e.Must(201, e.Admin("POST", "/api/v1/ldap-providers", map[string]any{"name": p, "base_dn": "dc=" + p}))
		}
		e.Must(201, e.Admin("POST", "/api/v1/outposts", map[string]any{"name": "rack1", "provider": "corp"}))
		newRole(t, e, "ldap-reader", "ldap.read")
		newRole(t, e, "lab-admin", "ldap.read@ldap/lab", "ldap.write@ldap/lab", "tokens.self")
		newHuman(t, e, "reader", "reader-password-1", "ldap-reader")
		newHuman(t, e, "labby", "labby-password-1", "lab-admin")

		c := signedIn(t, e, "reader", "reader-password-1")
		contains(t, must(t, 200, c.get("/")), `href="/ldap-providers"`)
		lacks(t, must(t, 200, c.get("/ldap-providers")), "New LDAP provider")
		lacks(t, must(t, 200, c.get("/ldap-providers/corp")), "Save provider", "/delete")
		r := must(t, 200, c.get("/outposts"))
		contains(t, r, `href="/outposts/rack1"`)
		lacks(t, r, "Register an outpost")
		lacks(t, must(t, 200, c.get("/outposts/rack1")), "Rotate token", "/delete")
		must(t, 403, c.post("/ldap-providers", providerForm("mine", "dc=mine")))
		must(t, 403, c.post("/ldap-providers/corp", providerForm("", "dc=stolen")))
		must(t, 403, c.post("/outposts", url.Values{"name": {"rogue"}, "provider": {"corp"}}))
		must(t, 403, c.post("/outposts/rack1/rotate", nil))
		must(t, 403, c.get("/outposts/rack1/delete"))
		if p := e.Must(200, e.Admin("GET", "/api/v1/ldap-providers/corp", nil)).JSON(); p["base_dn"] != "dc=corp" {
			t.Fatalf("a reader changed the provider: %v", p)
		}
		e.Must(404, e.Admin("GET", "/api/v1/outposts/rogue", nil))

		// A grant scoped to lab: lab's pages only, and outposts of lab only.
		l := newClient(t, e)
		l.mustLogin("labby", "labby-password-1")
		r = must(t, 200, l.get("/ldap-providers"))
		contains(t, r, `href="/ldap-providers/lab"`)
		lacks(t, r, `href="/ldap-providers/corp"`, "New LDAP provider")
		must(t, 403, l.get("/ldap-providers/corp"))
		must(t, 403, l.get("/ldap-providers/corp/directory"))
		r = must(t, 200, l.get("/outposts"))
		contains(t, r, `<option value="lab"`)
		lacks(t, r, `<option value="corp"`, `href="/outposts/rack1"`)
		must(t, 403, l.post("/outposts", url.Values{"name": {"rogue"}, "provider": {"corp"}, "ttl": {"720h"}}))
		must(t, 403, l.post("/outposts", url.Values{"name": {"lab1"}, "provider": {"lab"}, "ttl": {"720h"}, "csrf_token": {""}}))
		e.Must(404, e.Admin("GET", "/api/v1/outposts/lab1", nil))
		must(t, 201, l.post("/outposts", url.Values{"name": {"lab1"}, "provider": {"lab"}, "ttl": {"720h"}}))
	})
}
