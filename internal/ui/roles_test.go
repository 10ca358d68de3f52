package ui_test

import (
	"net/url"
	"testing"

	"github.com/gatehouse/gatehouse/internal/server/servertest"
)

// TestRolePages drives the role forms: creation (refused input comes
// back as typed), removal of a holder, and deletion (refused for the
// built-in role).
func TestRolePages(t *testing.T) {
	each(t, func(t *testing.T, e *servertest.Env) {
		newGroup(t, e, "ops")
		c := signedIn(t, e, "admin", adminPW)
		contains(t, must(t, 200, c.get("/roles")), `href="/roles/admin"`)
		contains(t, must(t, 200, c.get("/roles/new")), `id="f-scoped"`)
		r := must(t, 400, c.post("/roles", url.Values{"name": {"readers"}, "description": {"Typed text"}, "scoped": {"no.such@group/ops"}}))
		contains(t, r, `id="err-scoped"`, `value="readers"`, "Typed text", "no.such@group/ops")
		r = must(t, 303, c.post("/roles", url.Values{"name": {"readers"}, "permissions": {"users.read"}}))
		if r.Location != "/roles/readers" {
			t.Fatalf("created role: redirect to %q", r.Location)
		}
		contains(t, must(t, 200, c.get("/roles/readers")), "Role readers created.")
		contains(t, must(t, 409, c.post("/roles", url.Values{"name": {"readers"}})), "already exists", `value="readers"`)

		must(t, 303, c.post("/roles/readers/assignments", url.Values{"kind": {"groups"}, "holder": {"ops"}}))
		must(t, 303, c.post("/roles/readers/assignments/groups/ops/remove", nil))
		contains(t, must(t, 200, c.get("/roles/readers")), "Role readers taken from ops.")
		must(t, 303, c.post("/roles/readers/assignments/groups/ops/remove", nil))
		contains(t, must(t, 200, c.get("/roles/readers")), "ops did not hold role readers (any more).")

		contains(t, must(t, 409, c.get("/roles/admin/delete")), "Role admin is built in and cannot be deleted.")
		contains(t, must(t, 200, c.get("/roles/readers/delete")), "Everyone holding it loses its permissions")
		contains(t, must(t, 400, c.post("/roles/readers/delete", url.Values{"confirm": {"reader"}})), "Type the name exactly to confirm.")
		r = must(t, 303, c.post("/roles/readers/delete", url.Values{"confirm": {"readers"}}))
		if r.Location != "/roles" {
			t.Fatalf("deleted role: redirect to %q", r.Location)
		}
		contains(t, must(t, 200, c.get("/roles")), "Role readers deleted.")
	})
}
