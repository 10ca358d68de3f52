package ui_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/core"
	"github.com/gatehouse/gatehouse/internal/server/servertest"
	"github.com/gatehouse/gatehouse/internal/store"
)

var nonceField = regexp.MustCompile(`name="nonce" value="([a-z0-9]{8})"`)

// seedLeastPrivilege makes a service account ci holding three permissions,
// an application and an LDAP provider to bind its tokens to.
func seedLeastPrivilege(t *testing.T, e *servertest.Env) {
	t.Helper()
	newRole(t, e, "ci-role", "users.read", "groups.read", "tokens.self")
	e.Must(201, e.Admin("POST", "/api/v1/service-accounts", map[string]any{"username": "ci", "roles": []string{"ci-role"}, "token_intent": "none"}))
	e.Must(201, e.Admin("POST", "/api/v1/applications", map[string]any{"slug": "site", "name": "Site"}))
	e.Must(201, e.Admin("POST", "/api/v1/ldap-providers", map[string]any{"name": "corp", "base_dn": "dc=example,dc=com"}))
}

// tokenForm reads a fresh token form for user and returns its nonce.
func tokenForm(t *testing.T, c *client, user string) (*resp, string) {
	t.Helper()
	page := must(t, 200, c.get("/tokens/new?user="+user))
	m := nonceField.FindStringSubmatch(page.Body)
	if m == nil {
		t.Fatalf("no nonce in the form:\n%s", page.Body)
	}
	return page, m[1]
}

// TestTokenFormLeastPrivilege: the form offers what the owner holds and
// the applications and providers there are, makes a narrowed token, keeps
// what was typed when the core refuses it, and the token's pages show
// its limits.
func TestTokenFormLeastPrivilege(t *testing.T) {
	each(t, func(t *testing.T, e *servertest.Env) {
		seedLeastPrivilege(t, e)
		c := signedIn(t, e, "admin", adminPW)

		// The picker offers ci's permissions, not the administrator's.
		page, nonce := tokenForm(t, c, "ci")
		contains(t, page, "Least privilege", `name="perm_mode" value="all" checked`,
			`name="permissions" value="users.read"`, `name="permissions" value="groups.read"`, `name="permissions" value="tokens.self"`,
			`name="applications" value="site"`, `name="ldap_providers" value="corp"`, `name="allowed_cidrs"`)
		if strings.Contains(page.Body, `value="users.write"`) {
			t.Fatal("the picker offers a permission ci does not hold")
		}

		// A narrowed token through the form.
		r := must(t, http.StatusCreated, c.post("/tokens", url.Values{"user": {"ci"}, "intent": {"api"}, "expiry": {"720h"}, "nonce": {nonce},
			"perm_mode": {"only"}, "permissions": {"users.read"}, "allowed_cidrs": {"10.20.0.0/16\r\n\r\n192.0.2.7\r\n"},
			"applications": {"site"}, "ldap_providers": {"corp"}}))
		id := "ci-" + nonce
		contains(t, r, `id="new-key"`, "<code>users.read</code>", "<code>10.20.0.0/16</code>", "<code>192.0.2.7/32</code>")
		var tv core.TokenView
		e.Must(200, e.Admin("GET", "/api/v1/tokens/"+id, nil)).Decode(t, &tv)
		if tv.Permissions == nil || !slices.Equal(*tv.Permissions, []string{"users.read"}) ||
			!slices.Equal(tv.AllowedCIDRs, []string{"10.20.0.0/16", "192.0.2.7/32"}) ||
			!slices.Equal(tv.Applications, []string{"site"}) || !slices.Equal(tv.LDAPProviders, []string{"corp"}) {
			t.Fatalf("the token made through the form: %+v", tv)
		}
		detail := must(t, 200, c.get("/tokens/"+id))
		contains(t, detail, `<dd id="token-permissions"><code>users.read</code>`, `<dd id="token-networks"><code>10.20.0.0/16</code>, <code>192.0.2.7/32</code></dd>`,
			`<dd id="token-applications">site</dd>`, `<dd id="token-ldap-providers">corp</dd>`)
		contains(t, must(t, 200, c.get("/tokens?user=ci")), "1 permission, 2 networks, 1 application, 1 LDAP provider")

		// "Only these" with nothing ticked: a key that proves identity only.
		_, nonce = tokenForm(t, c, "ci")
		must(t, http.StatusCreated, c.post("/tokens", url.Values{"user": {"ci"}, "intent": {"api"}, "expiry": {"720h"}, "nonce": {nonce}, "perm_mode": {"only"}}))
		contains(t, must(t, 200, c.get("/tokens/ci-"+nonce)), `<dd id="token-permissions">none: proves identity only</dd>`)
		// The default: all of the owner's, anywhere, for anything.
		_, nonce = tokenForm(t, c, "ci")
		must(t, http.StatusCreated, c.post("/tokens", url.Values{"user": {"ci"}, "intent": {"api"}, "expiry": {"720h"}, "nonce": {nonce},
			"perm_mode": {"all"}, "permissions": {"users.read"}}))
		contains(t, must(t, 200, c.get("/tokens/ci-"+nonce)), `<dd id="token-permissions"><span class="muted">all of the owner's</span>`,
			`<dd id="token-networks"><span class="muted">anywhere</span>`, `<dd id="token-applications"><span class="muted">any</span>`)

		// Bad input: every error by its field, what was typed kept, nothing made.
		before := len(e.Must(200, e.Admin("GET", "/api/v1/tokens?user=ci", nil)).JSON()["items"].([]any))
		_, nonce = tokenForm(t, c, "ci")
		r = must(t, http.StatusBadRequest, c.post("/tokens", url.Values{"user": {"ci"}, "intent": {"api"}, "expiry": {"720h"}, "nonce": {nonce},
			"description": {"deploy key"}, "perm_mode": {"only"}, "permissions": {"groups.read"}, "permissions_text": {"users.write"},
			"allowed_cidrs": {"10.0.0.0/8\nnot-a-network"}, "applications": {"site"}}))
		contains(t, r,
			`<span class="field-error" id="err-allowed_cidrs">&#34;not-a-network&#34; must be a network`,
			`<li>Networks (entry 2): &#34;not-a-network&#34; must be a network`,
			`aria-invalid="true">10.0.0.0/8`+"\n"+`not-a-network</textarea>`,
			`<span class="field-error" id="err-permissions">Users.write is not held by &#34;ci&#34;`,
			`name="perm_mode" value="only" checked`, `value="groups.read" checked`, `>users.write</textarea>`,
			`value="site" checked`, `value="deploy key"`, `value="`+nonce+`"`)
		if after := len(e.Must(200, e.Admin("GET", "/api/v1/tokens?user=ci", nil)).JSON()["items"].([]any)); after != before {
			t.Fatalf("a refused form made a token: %d tokens, were %d", after, before)
		}

		// The picker fetched again for another owner (what htmx asks when
		// the owner changes) keeps the choices that owner can hold, and
		// the nonce of the suggested identifier.
		r = must(t, 200, c.get("/tokens/new?user=ci&perm_mode=only&permissions=users.read&permissions=roles.write&nonce=abcd1234"))
		contains(t, r, `name="perm_mode" value="only" checked`, `value="users.read" checked`, "<code>ci-abcd1234</code>")
		if strings.Contains(r.Body, "roles.write") {
			t.Fatal("the picker kept a permission ci does not hold")
		}
		contains(t, must(t, 200, c.get("/tokens/new?user=nobody")), "There is no account named nobody.")
	})
}

// TestTokenFormWithoutUsersRead: an account that may not read another's
// permissions is told so, not refused (and no refusal is recorded for a
// page that only offers choices); it still sees its own.
func TestTokenFormWithoutUsersRead(t *testing.T) {
	each(t, func(t *testing.T, e *servertest.Env) {
		seedLeastPrivilege(t, e)
		newRole(t, e, "self-keys", "tokens.self", "groups.read")
		newHuman(t, e, "dana", "dana-password-1", "self-keys")
		c := signedIn(t, e, "dana", "dana-password-1")
		page := must(t, 200, c.get("/tokens/new"))
		contains(t, page, `value="groups.read"`, `value="tokens.self"`)
		if strings.Contains(page.Body, `name="applications"`) || strings.Contains(page.Body, `name="ldap_providers"`) {
			t.Fatal("applications or providers offered to an account that may not read them")
		}
		page = must(t, 200, c.get("/tokens/new?user=ci"))
		contains(t, page, "Listing what ci holds needs the users.read permission")
		evs, err := e.App.Store.ListEvents(t.Context(), store.EventFilter{Action: "authz_denied", Limit: 10})
		if err != nil || len(evs) != 0 {
			t.Fatalf("authz_denied events: %v %+v", err, evs)
		}
		// Her own narrowed key, made through the form.
		_, nonce := tokenForm(t, c, "dana")
		must(t, http.StatusCreated, c.post("/tokens", url.Values{"user": {"dana"}, "intent": {"api"}, "expiry": {"168h"}, "nonce": {nonce},
			"perm_mode": {"only"}, "permissions": {"groups.read"}}))
		contains(t, must(t, 200, c.get(fmt.Sprintf("/tokens/dana-%s", nonce))), `<dd id="token-permissions"><code>groups.read</code>`)
	})
}
