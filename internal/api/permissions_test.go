package api_test

import (
	"strings"
	"testing"
)

// TestScopeObjectsFollowTheNamingRule: the object of a scoped permission
// names a group, an LDAP provider or an application, all lower case; an
// object that could never match one (upper case, too long) is refused
// with 400 naming the entry, in roles and in direct grants alike, and
// nothing changes.
func TestScopeObjectsFollowTheNamingRule(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		newSA(e, "bot")
		e.Must(201, e.Admin("POST", "/api/v1/roles", map[string]any{"name": "lead", "permissions": []string{"groups.write@group/team"}}))
		bad := []string{
			"groups.write@group/TEAM", "tokens.write@group/Team", "ldap.read@ldap/Corp",
			"applications.read@application/Grafana", "groups.read@group/" + strings.Repeat("a", 64),
		}
		for _, p := range bad {
			for _, c := range []struct {
				method, path string
				body         map[string]any
			}{
				{"POST", "/api/v1/roles", map[string]any{"name": "r1", "permissions": []string{"users.read", p}}},
				{"PATCH", "/api/v1/roles/lead", map[string]any{"permissions": []string{"users.read", p}}},
				{"PUT", "/api/v1/users/bot/permissions", map[string]any{"permissions": []string{"users.read", p}}},
			} {
				r := e.Admin(c.method, c.path, c.body)
				if r.Status != 400 || r.Header.Get("Content-Type") != "application/problem+json" ||
					!strings.Contains(string(r.Body), `"field":"permissions[1]"`) || strings.Contains(string(r.Body), `"field":"permissions[0]"`) {
					t.Errorf("%s %s with %q: %d %s", c.method, c.path, p, r.Status, r.Body)
				}
			}
		}
		e.Must(404, e.Admin("GET", "/api/v1/roles/r1", nil))
		if got := e.Must(200, e.Admin("GET", "/api/v1/roles/lead", nil)).JSON()["permissions"]; len(got.([]any)) != 1 {
			t.Fatalf("refused changes changed the role: %v", got)
		}
		if got := e.Must(200, e.Admin("GET", "/api/v1/users/bot/permissions", nil)).JSON()["permissions"]; len(got.([]any)) != 0 {
			t.Fatalf("refused grants were kept: %v", got)
		}
		// The names the objects really have are accepted.
		e.Must(200, e.Admin("PUT", "/api/v1/users/bot/permissions", map[string]any{"permissions": []string{
			"groups.write@group/team.ops_1", "ldap.read@ldap/corp", "applications.read@application/grafana", "groups.read@group/" + strings.Repeat("a", 63),
		}}))
	})
}
