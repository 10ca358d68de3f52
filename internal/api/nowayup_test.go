package api_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/server/servertest"
)

// holder makes a service account holding perms (through a role of its
// own) and returns its API key.
func holder(t *testing.T, e *env, name string, perms ...string) string {
	t.Helper()
	e.Must(201, e.Admin("POST", "/api/v1/roles", map[string]any{"name": name + "-role", "permissions": perms}))
	e.Must(201, e.Admin("POST", "/api/v1/service-accounts", map[string]any{"username": name, "token_intent": "none", "roles": []string{name + "-role"}}))
	key, _ := newToken(e, map[string]any{"user": name})
	return key
}

// permissionsOf is what GET /me shows the holder of authz.
func permissionsOf(e *env, authz string) string {
	return strings.Join(anyStrings(e.Must(200, e.Do("GET", "/api/v1/me", authz, nil)).JSON()["permissions"]), " ")
}

func anyStrings(v any) []string {
	var out []string
	for _, s := range v.([]any) {
		out = append(out, s.(string))
	}
	return out
}

// TestGroupsWriteCannotMakeAnAdmin: issue 14, item 1. Membership hands
// out the group's roles, so adding an account to a group (itself
// included) or creating an account inside it works only when the
// group's roles are within the actor's rights, unless the actor holds
// roles.write, which can grant anything.
func TestGroupsWriteCannotMakeAnAdmin(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.Must(201, e.Admin("POST", "/api/v1/groups", map[string]any{"name": "admins"}))
		e.Must(204, e.Admin("PUT", "/api/v1/roles/admin/assignments/groups/admins", nil))
		e.Must(201, e.Admin("POST", "/api/v1/roles", map[string]any{"name": "auditor", "permissions": []string{"events.read", "users.read"}}))
		e.Must(201, e.Admin("POST", "/api/v1/groups", map[string]any{"name": "auditors"}))
		e.Must(204, e.Admin("PUT", "/api/v1/roles/auditor/assignments/groups/auditors", nil))
		e.Must(201, e.Admin("POST", "/api/v1/groups", map[string]any{"name": "plain"}))

		gm := holder(t, e, "gm", "groups.read", "groups.write")
		r := e.Must(403, e.Do("PUT", "/api/v1/groups/admins/members/gm", bearer(gm), nil))
		if !strings.Contains(string(r.Body), "admin") {
			t.Errorf("the refusal does not say why: %s", r.Body)
		}
		e.Must(403, e.Do("PUT", "/api/v1/groups/auditors/members/gm", bearer(gm), nil))
		e.Must(204, e.Do("PUT", "/api/v1/groups/plain/members/gm", bearer(gm), nil))
		if got := permissionsOf(e, bearer(gm)); got != "groups.read groups.write" {
			t.Fatalf("gm holds %q", got)
		}

		// Creating an account already inside such a group.
		um := holder(t, e, "um", "users.write", "groups.write")
		e.Must(403, e.Do("POST", "/api/v1/service-accounts", bearer(um), map[string]any{"username": "sneaky", "groups": []string{"admins"}}))
		e.Must(404, e.Admin("GET", "/api/v1/users/sneaky", nil))
		e.Must(201, e.Do("POST", "/api/v1/service-accounts", bearer(um), map[string]any{"username": "fine", "groups": []string{"plain"}}))

		// A group holding exactly what the actor holds is within bounds.
		e.Must(201, e.Admin("POST", "/api/v1/roles", map[string]any{"name": "auditor-and-more", "permissions": []string{"events.read", "users.read", "groups.write"}}))
		au := holder(t, e, "au", "events.read", "users.read", "groups.write")
		e.Must(204, e.Do("PUT", "/api/v1/groups/auditors/members/au", bearer(au), nil))

		// roles.write says it can grant anything, and may.
		rw := holder(t, e, "rw", "roles.write", "groups.write")
		e.Must(204, e.Do("PUT", "/api/v1/groups/admins/members/rw", bearer(rw), nil))

		denied := e.Must(200, e.Admin("GET", "/api/v1/events?action=authz_denied&actor=gm", nil)).JSON()["items"].([]any)
		if len(denied) != 2 {
			t.Fatalf("%d authz_denied events for gm, want 2", len(denied))
		}
	})
}

// TestUsersWriteCannotChangeMorePowerfulAccounts: issue 14, item 8 and
// the rest of "acting on an account": users.write cannot disable,
// rename, re-address or delete an administrator, nor change its direct
// permissions or roles, nor take it out of a group.
func TestUsersWriteCannotChangeMorePowerfulAccounts(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.Must(201, e.Admin("POST", "/api/v1/users", map[string]any{"username": "boss", "type": "human", "password": "boss-password-123"}))
		e.Must(204, e.Admin("PUT", "/api/v1/roles/admin/assignments/users/boss", nil))
		e.Must(201, e.Admin("POST", "/api/v1/groups", map[string]any{"name": "team"}))
		e.Must(204, e.Admin("PUT", "/api/v1/groups/team/members/boss", nil))
		uw := holder(t, e, "uw", "users.read", "users.write")
		gw := holder(t, e, "gw", "groups.write")
		rw := holder(t, e, "rw", "roles.write", "users.write")

		for _, c := range []struct {
			key, method, path string
			body              any
		}{
			{uw, "PATCH", "/api/v1/users/boss", map[string]any{"is_active": false}},
			{uw, "PATCH", "/api/v1/users/boss", map[string]any{"name": "Not the boss"}},
			{uw, "PATCH", "/api/v1/users/boss", map[string]any{"email": "attacker@example.com"}},
			{uw, "DELETE", "/api/v1/users/boss", nil},
			{uw, "PUT", "/api/v1/users/boss/password", map[string]any{"password": "taken-over-password"}},
			{uw, "DELETE", "/api/v1/users/admin/totp", nil},
			{gw, "DELETE", "/api/v1/groups/team/members/boss", nil},
			{gw, "DELETE", "/api/v1/groups/team", nil},
			{rw, "PUT", "/api/v1/users/boss/permissions", map[string]any{"permissions": []string{}}},
			{rw, "DELETE", "/api/v1/roles/admin/assignments/users/boss", nil},
		} {
			if r := e.Do(c.method, c.path, bearer(c.key), c.body); r.Status != 403 {
				t.Errorf("%s %s: %d %s, want 403", c.method, c.path, r.Status, r.Body)
			}
		}
		boss := e.Must(200, e.Admin("GET", "/api/v1/users/boss", nil)).JSON()
		if boss["is_active"] != true || boss["name"] != "" || boss["email"] != "" || !strings.Contains(permissionsOf(e, servertest.Basic("boss", "boss-password-123")), "roles.write") {
			t.Fatalf("boss changed: %v", boss)
		}
		e.Must(200, e.Admin("GET", "/api/v1/groups/team", nil))

		// Within bounds: an account holding nothing.
		e.Must(201, e.Admin("POST", "/api/v1/users", map[string]any{"username": "temp", "type": "human", "password": "temp-password-123"}))
		e.Must(200, e.Do("PATCH", "/api/v1/users/temp", bearer(uw), map[string]any{"is_active": false}))
		e.Must(204, e.Do("DELETE", "/api/v1/users/temp", bearer(uw), nil))
	})
}

// TestScopedTokenGrantsStopAtMorePowerfulMembers: issue 14, item 4.
// Scoped tokens.write and groups.write on a group cannot put an
// administrator into it, and when an administrator is a member anyway
// (put there by an administrator), cannot list, change or revoke its
// tokens. Unscoped tokens.write cannot revoke an administrator's key
// either: revoking follows the bound of issuing.
func TestScopedTokenGrantsStopAtMorePowerfulMembers(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.Must(201, e.Admin("POST", "/api/v1/groups", map[string]any{"name": "team"}))
		lead := holder(t, e, "lead", "tokens.write@group/team", "groups.write@group/team")
		e.Must(403, e.Do("PUT", "/api/v1/groups/team/members/admin", bearer(lead), nil))

		e.Must(204, e.Admin("PUT", "/api/v1/groups/team/members/admin", nil))
		e.Must(403, e.Do("GET", "/api/v1/tokens?user=admin", bearer(lead), nil))
		e.Must(403, e.Do("GET", "/api/v1/tokens/bootstrap", bearer(lead), nil))
		e.Must(403, e.Do("DELETE", "/api/v1/tokens/bootstrap", bearer(lead), nil))
		e.Must(403, e.Do("PATCH", "/api/v1/tokens/bootstrap", bearer(lead), map[string]any{"description": "mine"}))
		e.Must(403, e.Do("DELETE", "/api/v1/groups/team/members/admin", bearer(lead), nil))

		tw := holder(t, e, "tw", "tokens.write", "tokens.read")
		e.Must(403, e.Do("DELETE", "/api/v1/tokens/bootstrap", bearer(tw), nil))
		// Reading anyone's tokens (never a key) is what unscoped
		// tokens.read is for.
		e.Must(200, e.Do("GET", "/api/v1/tokens?user=admin", bearer(tw), nil))
		e.Must(200, e.Admin("GET", "/api/v1/me", nil))

		// Within bounds: a plain member's tokens.
		e.Must(201, e.Admin("POST", "/api/v1/service-accounts", map[string]any{"username": "member", "token_intent": "none", "groups": []string{"team"}}))
		e.Must(201, e.Do("POST", "/api/v1/tokens", bearer(lead), map[string]any{"user": "member", "identifier": "member-key"}))
		e.Must(200, e.Do("GET", "/api/v1/tokens?user=member", bearer(lead), nil))
		e.Must(204, e.Do("DELETE", "/api/v1/tokens/member-key", bearer(lead), nil))
	})
}

// TestDeletingABoundSubjectNeverOpensAnApplication: issue 14, item 13.
// An application bound to one group admits only its members; deleting
// the group (groups.write) or a bound account (users.write) would leave
// it without bindings, open to everyone. It is refused with 409 naming
// the applications unless the actor may change them, and then each
// application records that its binding went.
func TestDeletingABoundSubjectNeverOpensAnApplication(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.Must(201, e.Admin("POST", "/api/v1/applications", map[string]any{"slug": "wiki", "name": "Wiki"}))
		e.Must(201, e.Admin("POST", "/api/v1/groups", map[string]any{"name": "editors"}))
		e.Must(200, e.Admin("PUT", "/api/v1/applications/wiki/bindings/groups/editors", nil))
		e.Must(201, e.Admin("POST", "/api/v1/service-accounts", map[string]any{"username": "banned", "token_intent": "none"}))
		e.Must(200, e.Admin("PUT", "/api/v1/applications/wiki/bindings/users/banned", map[string]any{"negate": true}))
		gw := holder(t, e, "gw", "groups.write")
		uw := holder(t, e, "uw", "users.write")

		r := e.Must(409, e.Do("DELETE", "/api/v1/groups/editors", bearer(gw), nil))
		if !strings.Contains(string(r.Body), "wiki") {
			t.Errorf("409 does not name the application: %s", r.Body)
		}
		e.Must(409, e.Do("DELETE", "/api/v1/service-accounts/banned", bearer(uw), nil))
		app := e.Must(200, e.Admin("GET", "/api/v1/applications/wiki", nil)).JSON()
		if n := len(app["bindings"].([]any)); n != 2 {
			t.Fatalf("bindings after refused deletions: %v", app["bindings"])
		}

		// An actor who may change the application goes ahead; the
		// application's log says why its binding went.
		gaw := holder(t, e, "gaw", "groups.write", "applications.write@application/wiki")
		e.Must(204, e.Do("DELETE", "/api/v1/groups/editors", bearer(gaw), nil))
		evs := e.Must(200, e.Admin("GET", "/api/v1/events?target=wiki", nil)).JSON()["items"].([]any)
		found := false
		for _, ev := range evs {
			c, _ := ev.(map[string]any)["context"].(map[string]any)
			found = found || (c["binding"] == "group/editors" && c["change"] == "deleted")
		}
		if !found {
			t.Fatalf("no event on wiki for the deleted binding: %v", evs)
		}
	})
}

// TestOutpostsNeedWhatTheirKeyHolds: issue 14, item 14. An outpost's
// account reads its provider's directory (ldap.read@ldap/P) and rotates
// its own key (tokens.self); registering one or rotating its key hands
// that key to the actor, so ldap.write alone is not enough.
func TestOutpostsNeedWhatTheirKeyHolds(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.Must(201, e.Admin("POST", "/api/v1/ldap-providers", map[string]any{"name": "corp", "base_dn": "dc=corp,dc=example"}))
		w := holder(t, e, "ldapw", "ldap.write@ldap/corp")
		e.Must(403, e.Do("POST", "/api/v1/outposts", bearer(w), map[string]any{"name": "east", "provider": "corp"}))
		e.Must(404, e.Admin("GET", "/api/v1/outposts/east", nil))
		e.Must(201, e.Admin("POST", "/api/v1/outposts", map[string]any{"name": "west", "provider": "corp"}))
		e.Must(403, e.Do("POST", "/api/v1/outposts/west/rotate", bearer(w), map[string]any{}))

		rw := holder(t, e, "ldaprw", "ldap.write@ldap/corp", "ldap.read@ldap/corp", "tokens.self")
		e.Must(201, e.Do("POST", "/api/v1/outposts", bearer(rw), map[string]any{"name": "east", "provider": "corp"}))
		e.Must(200, e.Do("POST", "/api/v1/outposts/west/rotate", bearer(rw), map[string]any{}))
	})
}

// TestApplicationWritersStayInTheirLane: issue 14, item 19. A writer of
// one application cannot send service accounts elsewhere by changing the
// brand's default application's URL, and cannot learn which accounts or
// groups exist by binding them.
func TestApplicationWritersStayInTheirLane(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.Must(201, e.Admin("POST", "/api/v1/applications", map[string]any{"slug": "home", "name": "Home", "url": "https://home.example.com/"}))
		e.Must(200, e.Admin("PATCH", "/api/v1/brand", map[string]any{"default_application": "home"}))
		aw := holder(t, e, "aw", "applications.write@application/home", "applications.read@application/home")
		e.Must(403, e.Do("PATCH", "/api/v1/applications/home", bearer(aw), map[string]any{"url": "https://evil.example/"}))
		e.Must(200, e.Do("PATCH", "/api/v1/applications/home", bearer(aw), map[string]any{"name": "Home page"}))
		if u := e.Must(200, e.Admin("GET", "/api/v1/applications/home", nil)).JSON()["url"]; u != "https://home.example.com/" {
			t.Fatalf("url = %v", u)
		}
		bw := holder(t, e, "bw", "applications.write@application/home", "brand.write")
		e.Must(200, e.Do("PATCH", "/api/v1/applications/home", bearer(bw), map[string]any{"url": "https://home2.example.com/"}))

		// The same answer for an account that exists and one that does not.
		a := e.Do("PUT", "/api/v1/applications/home/bindings/users/admin", bearer(aw), nil)
		b := e.Do("PUT", "/api/v1/applications/home/bindings/users/nobody", bearer(aw), nil)
		if a.Status != 403 || b.Status != 403 || string(a.Body) != string(b.Body) {
			t.Fatalf("binding answers tell accounts apart: %d %s / %d %s", a.Status, a.Body, b.Status, b.Body)
		}
		a = e.Do("PUT", "/api/v1/applications/home/bindings/groups/admins", bearer(aw), nil)
		b = e.Do("PUT", "/api/v1/applications/home/bindings/groups/nothing", bearer(aw), nil)
		if a.Status != 403 || b.Status != 403 || string(a.Body) != string(b.Body) {
			t.Fatalf("binding answers tell groups apart: %d / %d", a.Status, b.Status)
		}
		// Its own account, and with users.read anyone's.
		e.Must(200, e.Do("PUT", "/api/v1/applications/home/bindings/users/aw", bearer(aw), nil))
		e.Must(200, e.Admin("PUT", "/api/v1/users/aw/permissions", map[string]any{"permissions": []string{"users.read"}}))
		e.Must(200, e.Do("PUT", "/api/v1/applications/home/bindings/users/admin", bearer(aw), nil))
		e.Must(404, e.Do("PUT", "/api/v1/applications/home/bindings/users/nobody", bearer(aw), nil))
	})
}

// TestNoPermissionReachesAMorePowerfulAccount is the successor of
// TestUnscopedGrantsCannotTakeOverMorePowerfulAccounts: for every
// permission that changes membership, assignments, bindings, accounts or
// tokens, unscoped and scoped (each holder also reads everything), every
// way of granting itself an administrator's power or of changing an
// administrator is tried, and each must be refused with the
// administrator untouched.
func TestNoPermissionReachesAMorePowerfulAccount(t *testing.T) {
	reads := []string{"users.read", "groups.read", "roles.read", "tokens.read", "events.read", "ldap.read", "applications.read"}
	holders := [][]string{
		{"groups.write"}, {"groups.write@group/team"}, {"groups.write@group/admins"},
		{"users.write"}, {"users.write", "groups.write"},
		{"roles.write"}, {"roles.write", "users.write", "groups.write", "tokens.write"},
		{"tokens.write"}, {"tokens.write@group/team"}, {"tokens.write@group/team", "groups.write@group/team"}, {"tokens.self"},
		{"ldap.write"}, {"ldap.write@ldap/corp"},
		{"applications.write"}, {"applications.write@application/home"},
		{"brand.write"},
	}
	each(t, func(t *testing.T, e *env) {
		e.Must(201, e.Admin("POST", "/api/v1/users", map[string]any{"username": "boss", "type": "human", "password": "boss-password-123"}))
		e.Must(204, e.Admin("PUT", "/api/v1/roles/admin/assignments/users/boss", nil))
		e.Must(201, e.Admin("POST", "/api/v1/groups", map[string]any{"name": "admins"}))
		e.Must(204, e.Admin("PUT", "/api/v1/roles/admin/assignments/groups/admins", nil))
		e.Must(201, e.Admin("POST", "/api/v1/groups", map[string]any{"name": "team"}))
		e.Must(204, e.Admin("PUT", "/api/v1/groups/team/members/boss", nil))
		e.Must(201, e.Admin("POST", "/api/v1/tokens", map[string]any{"user": "boss", "identifier": "boss-key"}))
		e.Must(201, e.Admin("POST", "/api/v1/ldap-providers", map[string]any{"name": "corp", "base_dn": "dc=corp,dc=example"}))
		e.Must(201, e.Admin("POST", "/api/v1/outposts", map[string]any{"name": "west", "provider": "corp"}))
		e.Must(201, e.Admin("POST", "/api/v1/applications", map[string]any{"slug": "home", "name": "Home", "url": "https://home.example.com/"}))
		e.Must(200, e.Admin("PATCH", "/api/v1/brand", map[string]any{"default_application": "home"}))
		bossAuth := servertest.Basic("boss", "boss-password-123")
		bossPerms := permissionsOf(e, bossAuth)

		for i, perms := range holders {
			name := fmt.Sprintf("h%d", i)
			key := holder(t, e, name, append(append([]string{}, perms...), reads...)...)
			type attack struct {
				method, path string
				body         any
			}
			// Changing an administrator: refused to every holder.
			attacks := []attack{
				{"PUT", "/api/v1/groups/team/members/admin", nil},
				{"DELETE", "/api/v1/groups/team/members/boss", nil},
				{"DELETE", "/api/v1/groups/team", nil},
				{"PATCH", "/api/v1/users/boss", map[string]any{"is_active": false}},
				{"PATCH", "/api/v1/users/boss", map[string]any{"email": "attacker@example.com"}},
				{"DELETE", "/api/v1/users/boss", nil},
				{"PUT", "/api/v1/users/boss/password", map[string]any{"password": "taken-over-password"}},
				{"DELETE", "/api/v1/users/boss/totp", nil},
				{"PUT", "/api/v1/users/boss/permissions", map[string]any{"permissions": []string{}}},
				{"DELETE", "/api/v1/roles/admin/assignments/users/boss", nil},
				{"POST", "/api/v1/tokens", map[string]any{"user": "boss"}},
				{"POST", "/api/v1/tokens/boss-key/rotate", map[string]any{}},
				{"PATCH", "/api/v1/tokens/boss-key", map[string]any{"description": "mine"}},
				{"DELETE", "/api/v1/tokens/boss-key", nil},
				{"POST", "/api/v1/tokens/bootstrap/rotate", map[string]any{}},
				{"PATCH", "/api/v1/applications/home", map[string]any{"url": "https://evil.example/"}},
			}
			if !slices.Contains(perms, "roles.write") {
				// Granting oneself an administrator's power: roles.write
				// can grant anything, and says so; no other permission.
				attacks = append(attacks,
					attack{"PUT", "/api/v1/groups/admins/members/" + name, nil},
					attack{"POST", "/api/v1/service-accounts", map[string]any{"username": name + "-sa", "groups": []string{"admins"}, "token_intent": "api"}},
					attack{"PUT", "/api/v1/roles/admin/assignments/users/" + name, nil})
				if !slices.Contains(perms, "tokens.self") {
					// An outpost's key reads the directory and rotates itself.
					attacks = append(attacks,
						attack{"POST", "/api/v1/outposts", map[string]any{"name": name, "provider": "corp"}},
						attack{"POST", "/api/v1/outposts/west/rotate", map[string]any{}})
				}
			}
			for _, a := range attacks {
				r := e.Do(a.method, a.path, bearer(key), a.body)
				if r.Status < 400 {
					t.Errorf("%v: %s %s = %d %s", perms, a.method, a.path, r.Status, r.Body)
				}
			}
			if got := permissionsOf(e, bearer(key)); strings.Contains(got, "brand.write") != slices.Contains(perms, "brand.write") {
				t.Fatalf("%v now holds %s", perms, got)
			}
		}
		if got := permissionsOf(e, bossAuth); got != bossPerms {
			t.Fatalf("boss holds %s, held %s", got, bossPerms)
		}
		boss := e.Must(200, e.Admin("GET", "/api/v1/users/boss", nil)).JSON()
		if boss["email"] != "" || fmt.Sprint(boss["groups"]) != "[team]" {
			t.Fatalf("boss changed: %v", boss)
		}
		e.Must(200, e.Admin("GET", "/api/v1/tokens/boss-key", nil))
		e.Must(200, e.Admin("GET", "/api/v1/me", nil))
		if u := e.Must(200, e.Admin("GET", "/api/v1/applications/home", nil)).JSON()["url"]; u != "https://home.example.com/" {
			t.Fatalf("home's url = %v", u)
		}
	})
}
