package ui_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/gatehouse/gatehouse/internal/server/servertest"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
)

// TestBrowserModel walks the pages of people, applications, LDAP
// providers and outposts in a real browser, from the main navigation:
// forms refused and kept as typed, then accepted; who can enter an
// application; an outpost's key, shown once, used.
func TestBrowserModel(t *testing.T) {
	e := servertest.Start(t, storetest.NewSQLite(t))
	newHuman(t, e, "bob", "bob-password-1")
	e.Must(201, e.Admin("POST", "/api/v1/groups", map[string]any{"name": "ops", "description": "Operations"}))
	e.Must(201, e.Admin("POST", "/api/v1/service-accounts", map[string]any{"username": "jenkins-ldap", "description": "Jenkins reads the directory", "token_intent": "none"}))
	p := newPage(t, e)
	p.login("admin", servertest.AdminPassword, `section[aria-labelledby="h-expiring"]`)

	// People: a refused form keeps what was typed, never the passwords.
	p.run(chromedp.Click(css(`.nav a[href="/people"]`)))
	p.run(chromedp.WaitVisible(css("#h-new-person")))
	p.fill("#f-username", "alice", "#f-name", "Alice Liddell", "#f-email", "alice(at)example.com",
		"#f-new-password", "alice-password-1", "#f-confirm-password", "alice-password-1")
	p.submit("form.stack button[type=submit]", "#err-email")
	if got := eval[string](p, `document.querySelector("#f-name").value + "|" + document.querySelector("#f-new-password").value`); got != "Alice Liddell|" {
		t.Fatalf("the refused form holds %q", got)
	}
	p.shot("34-people-new-bad-email")
	p.run(chromedp.SetValue(css("#f-email"), "alice@example.com"))
	p.fill("#f-new-password", "alice-password-1", "#f-confirm-password", "alice-password-1")
	p.submit("form.stack button[type=submit]", "#person-2fa")
	e.Must(204, e.Admin("PUT", "/api/v1/groups/ops/members/alice", nil))
	e.Must(201, e.Admin("POST", "/api/v1/tokens", map[string]any{"user": "alice", "identifier": "alice-nas", "intent": "app_password", "description": "NAS at home"}))
	newClient(t, e).mustLogin("alice", "alice-password-1")
	p.open("/people/alice")
	p.run(chromedp.WaitVisible(css("#h-sessions")))
	if got := p.text("#h-sessions + .table-wrap"); !strings.Contains(got, "127.0.0.1") {
		t.Fatalf("alice's sessions read %q", got)
	}
	p.shot("35-person")
	p.submit(`form[action="/people/alice/sessions/end"] button`, ".alert-ok")
	if got := p.text(".alert-ok"); !strings.Contains(got, "1 session(s) of alice signed out") {
		t.Fatalf("after signing alice out: %q", got)
	}
	p.view("/people", `a[href="/people/alice"]`, "36-people")

	// Applications: created from the list, bound to a group and a person.
	p.run(chromedp.Click(css(`.nav a[href="/applications"]`)))
	p.run(chromedp.WaitVisible(css("#h-new-app")))
	p.fill("#f-slug", "grafana", "#f-name", "Grafana", "#f-url", "grafana.example.org", "#f-description", "Dashboards of the platform team")
	p.submit("form.stack button[type=submit]", "#err-url")
	if got := eval[string](p, `document.querySelector("#f-slug").value`); got != "grafana" {
		t.Fatalf("the refused form lost the slug: %q", got)
	}
	p.run(chromedp.SetValue(css("#f-url"), "https://grafana.example.org/"))
	p.submit("form.stack button[type=submit]", "#h-bindings")
	p.run(chromedp.SetValue(css("#f-kind"), "groups"), chromedp.SendKeys(css("#f-subject"), "ops"), chromedp.SetValue(css("#f-order"), "10"))
	p.submit(`form[action="/applications/grafana/bindings"] button`, "#bindings")
	p.run(chromedp.SetValue(css("#f-kind"), "users"), chromedp.SendKeys(css("#f-subject"), "jenkins-ldap"), chromedp.SetValue(css("#f-order"), "20"))
	p.submit(`form[action="/applications/grafana/bindings"] button`, `#bindings a[href="/groups/ops"]`)
	p.run(chromedp.WaitVisible(chromedp.Search(`//table[@id="bindings"]//td[contains(., "jenkins-ldap")]`)))
	p.shot("37-application")
	p.run(chromedp.Click(css(`a[href="/applications/grafana/entrants"]`)), chromedp.WaitVisible(css("#entrants")))
	got := p.text("#entrants tbody")
	for _, want := range []string{"alice", "group ops", "jenkins-ldap", "user jenkins-ldap"} {
		if !strings.Contains(got, want) {
			t.Fatalf("who can enter lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "bob") {
		t.Fatalf("who can enter lists bob:\n%s", got)
	}
	p.shot("38-application-entrants")
	p.view("/applications", `a[href="/applications/grafana"]`, "39-applications")

	// LDAP: a provider, its directory, an outpost and its key.
	p.run(chromedp.Click(css(`.nav a[href="/ldap-providers"]`)))
	p.run(chromedp.WaitVisible(css("#h-new-provider")))
	p.fill("#f-name", "corp", "#f-base-dn", "dc=example,dc=com", "#f-search-group", "ops", "#f-upn-domain", "example.com")
	p.shot("40-ldap-provider-new")
	p.submit("form.stack button[type=submit]", "#provider-base-dn")
	p.shot("41-ldap-provider")
	p.run(chromedp.Click(css(`a[href="/ldap-providers/corp/directory"]`)), chromedp.WaitVisible(css("#directory-users")))
	if got := p.text("#directory-users"); !strings.Contains(got, "cn=alice,ou=users,dc=example,dc=com") {
		t.Fatalf("the directory reads:\n%s", got)
	}
	p.shot("42-ldap-directory")
	p.open("/ldap-providers/corp")
	p.run(chromedp.Click(css(`a[href^="/outposts?provider=corp"]`)), chromedp.WaitVisible(css("#f-provider")))
	p.fill("#f-name", "rack1", "#f-description", "Rack 1, next to Jenkins")
	p.submit("form.stack button[type=submit]", "#new-key")
	key := p.text("#new-key")
	if !strings.HasPrefix(key, "gat_") {
		t.Fatalf("the outpost's key on the page = %q", key)
	}
	p.shot("43-outpost-created")
	if status := directoryStatus(e, "corp", key); status != 200 {
		t.Fatalf("the outpost's key from the page: %d", status)
	}
	p.open("/outposts/rack1")
	if got := p.text("#outpost-status"); got != "connected" {
		t.Fatalf("the outpost's status reads %q", got)
	}
	p.shot("44-outpost")
	p.view("/outposts", `a[href="/outposts/rack1"]`, "45-outposts")
	p.view("/ldap-providers", `a[href="/ldap-providers/corp"]`, "46-ldap-providers")
}

// fill types into fields: a selector, its text, the next selector...
func (p *page) fill(pairs ...string) {
	p.t.Helper()
	var as []chromedp.Action[chromedp.Void]
	for i := 0; i+1 < len(pairs); i += 2 {
		as = append(as, chromedp.SendKeys(css(pairs[i]), pairs[i+1]))
	}
	p.run(as...)
}
