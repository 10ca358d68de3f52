package ui_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/gatehouse/gatehouse/internal/server/servertest"
)

func personForm(name, email, pw, again string) url.Values {
	return url.Values{"username": {name}, "name": {"Alice Liddell"}, "email": {email}, "new_password": {pw}, "confirm_password": {again}}
}

func TestPeoplePages(t *testing.T) {
	each(t, func(t *testing.T, e *servertest.Env) {
		c := signedIn(t, e, "admin", adminPW)
		contains(t, must(t, 200, c.get("/")), `href="/people"`, `href="/applications"`, `href="/ldap-providers"`)
		contains(t, must(t, 200, c.get("/people")), `href="/people/admin"`, "New person")

		// Bad input: every field as typed (never the passwords), each error at its field, nothing created.
		r := must(t, 400, c.post("/people", personForm("Bad Name", "not-an-address", "short", "short")))
		contains(t, r, `id="err-username"`, `id="err-email"`, `id="err-new_password"`, `value="Bad Name"`, `value="not-an-address"`, `value="Alice Liddell"`)
		lacks(t, r, `value="short"`)
		r = must(t, 400, c.post("/people", personForm("alice", "alice@example.com", "alice-password-1", "alice-password-2")))
		contains(t, r, `id="err-confirm_password"`, `value="alice@example.com"`)
		lacks(t, r, "alice-password-1")
		e.Must(404, e.Admin("GET", "/api/v1/users/alice", nil))

		r = must(t, 303, c.post("/people", personForm("alice", "alice@example.com", "alice-password-1", "alice-password-1")))
		if r.Location != "/people/alice" {
			t.Fatalf("created person: redirect to %q", r.Location)
		}
		contains(t, must(t, 409, c.post("/people", personForm("alice", "", "", ""))), "already exists", `value="alice"`)
		e.Must(201, e.Admin("POST", "/api/v1/tokens", map[string]any{"user": "alice", "identifier": "alice-laptop", "intent": "app_password"}))

		// Alice signs in; her page shows the session and her token.
		a := newClient(t, e)
		a.mustLogin("alice", "alice-password-1")
		r = must(t, 200, c.get("/people/alice"))
		contains(t, r, "Alice Liddell", "alice@example.com", "alice-laptop", "Sign out everywhere", "Reset password", `id="person-2fa"`)

		// The profile form keeps what was typed.
		r = must(t, 400, c.post("/people/alice", url.Values{"name": {"Alice L."}, "email": {"nope"}, "description": {"Finance"}}))
		contains(t, r, `id="err-email"`, `value="nope"`, `value="Alice L."`, `value="Finance"`)
		must(t, 303, c.post("/people/alice", url.Values{"name": {"Alice L."}, "email": {"al@example.com"}, "description": {"Finance"}}))
		if u := e.Must(200, e.Admin("GET", "/api/v1/users/alice", nil)).JSON(); u["email"] != "al@example.com" || u["description"] != "Finance" {
			t.Fatalf("after the profile form: %v", u)
		}

		// Signed out everywhere: her browser is back at the login page.
		must(t, 303, c.post("/people/alice/sessions/end", nil))
		if r := a.get("/"); r.Status != http.StatusSeeOther || r.Location[:6] != "/login" {
			t.Fatalf("alice after sign-out everywhere: %d %q", r.Status, r.Location)
		}

		// A new password: the short one is refused at its field.
		contains(t, must(t, 400, c.post("/people/alice/password", url.Values{"new_password": {"short"}, "confirm_password": {"short"}})), `id="err-new_password"`)
		contains(t, must(t, 400, c.post("/people/alice/password", url.Values{"new_password": {"alice-password-2"}, "confirm_password": {"x"}})), `id="err-confirm_password"`)
		must(t, 303, c.post("/people/alice/password", url.Values{"new_password": {"alice-password-2"}, "confirm_password": {"alice-password-2"}}))
		if r := newClient(t, e).login("alice", "alice-password-1"); r.Status == http.StatusSeeOther && r.Location == "/" {
			t.Fatal("the old password still works")
		}

		// Her second factor: she turns it on, the administrator removes it.
		a = newClient(t, e)
		a.mustLogin("alice", "alice-password-2")
		m := secretOnPage.FindStringSubmatch(must(t, 200, a.post("/profile/two-factor", nil)).Body)
		must(t, 200, a.post("/profile/two-factor/confirm", url.Values{"code": {codeAt(t, m[1], e.Clock.Now())}}))
		contains(t, must(t, 200, c.get("/people/alice")), "Remove second factor")
		must(t, 303, c.post("/people/alice/two-factor/reset", nil))
		lacks(t, must(t, 200, c.get("/people/alice")), "Remove second factor")
		if r := newClient(t, e).login("alice", "alice-password-2"); r.Location != "/" {
			t.Fatalf("after the reset, sign-in goes to %q", r.Location)
		}
		must(t, 404, c.post("/people/alice/two-factor/reset", nil))

		// Disabled: refused; enabled again.
		must(t, 303, c.post("/people/alice/active", url.Values{"active": {"false"}}))
		if r := newClient(t, e).login("alice", "alice-password-2"); r.Location == "/" {
			t.Fatal("a disabled person signed in")
		}
		must(t, 303, c.post("/people/alice/active", url.Values{"active": {"true"}}))

		// A service account is not a person.
		e.Must(201, e.Admin("POST", "/api/v1/service-accounts", map[string]any{"username": "bot", "token_intent": "none"}))
		must(t, 404, c.get("/people/bot"))
		must(t, 404, c.post("/people/bot/delete", url.Values{"confirm": {"bot"}}))
		e.Must(200, e.Admin("GET", "/api/v1/service-accounts/bot", nil))

		// Deletion asks for the name; one's own account cannot go.
		contains(t, must(t, 200, c.get("/people/alice/delete")), "Delete person alice?")
		contains(t, must(t, 400, c.post("/people/alice/delete", url.Values{"confirm": {"alic"}})), `id="err-confirm"`)
		must(t, 303, c.post("/people/alice/delete", url.Values{"confirm": {"alice"}}))
		must(t, 404, c.get("/people/alice"))
		must(t, 409, c.post("/people/admin/delete", url.Values{"confirm": {"admin"}}))
	})
}

func TestPeoplePagesPermissions(t *testing.T) {
	each(t, func(t *testing.T, e *servertest.Env) {
		newRole(t, e, "user-reader", "users.read")
		newRole(t, e, "user-admin", "users.read", "users.write")
		newHuman(t, e, "reader", "reader-password-1", "user-reader")
		newHuman(t, e, "helpdesk", "helpdesk-password-1", "user-admin")
		newHuman(t, e, "nobody", "nobody-password-1")

		c := signedIn(t, e, "reader", "reader-password-1")
		r := must(t, 200, c.get("/people"))
		contains(t, r, `href="/people/helpdesk"`)
		lacks(t, r, "New person")
		r = must(t, 200, c.get("/people/helpdesk"))
		lacks(t, r, "Reset password", "/delete", "Save profile", "Sign out everywhere")
		contains(t, must(t, 403, c.get("/people/helpdesk/delete")), "users.write")
		must(t, 403, c.post("/people", personForm("sneaky", "", "sneaky-password-1", "sneaky-password-1")))
		must(t, 403, c.post("/people/helpdesk/password", url.Values{"new_password": {"taken-over-1"}, "confirm_password": {"taken-over-1"}}))
		must(t, 403, c.post("/people/helpdesk/active", url.Values{"active": {"false"}}))
		must(t, 403, c.post("/people/helpdesk/delete", url.Values{"confirm": {"helpdesk"}}))
		e.Must(404, e.Admin("GET", "/api/v1/users/sneaky", nil))
		newClient(t, e).mustLogin("helpdesk", "helpdesk-password-1")

		// No way up: users.write does not reach the administrator.
		h := newClient(t, e)
		h.mustLogin("helpdesk", "helpdesk-password-1")
		must(t, 403, h.post("/people/admin/password", url.Values{"new_password": {"taken-over-1"}, "confirm_password": {"taken-over-1"}}))
		must(t, 403, h.post("/people/admin/sessions/end", nil))
		must(t, 403, h.post("/people/admin/active", url.Values{"active": {"false"}}))
		newClient(t, e).mustLogin("admin", adminPW)
		// A form without the CSRF token changes nothing.
		must(t, 403, h.post("/people/nobody/active", url.Values{"active": {"false"}, "csrf_token": {""}}))
		e.Must(200, e.Admin("GET", "/api/v1/users/nobody", nil))
		newClient(t, e).mustLogin("nobody", "nobody-password-1")

		n := newClient(t, e)
		n.mustLogin("nobody", "nobody-password-1")
		lacks(t, must(t, 200, n.get("/")), `href="/people"`, `href="/applications"`, `href="/ldap-providers"`)
		must(t, 403, n.get("/people"))
		must(t, 403, n.get("/people/reader"))
	})
}
