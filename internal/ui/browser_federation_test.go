package ui_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/gatehouse/gatehouse/internal/federation/fedtest"
	"github.com/gatehouse/gatehouse/internal/server/servertest"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
)

// TestBrowserFederation adds an issuer with an inline JWK Set (nothing
// is fetched) and a trust policy in a real browser, then pastes ID tokens
// signed by the test's own key into the policy tester.
func TestBrowserFederation(t *testing.T) {
	e := servertest.Start(t, storetest.NewSQLite(t))
	iss := fedtest.New(t)
	e.Must(201, e.Admin("POST", "/api/v1/service-accounts", map[string]any{"username": "deployer", "description": "Deploys acme/app", "token_intent": "none"}))
	newRole(t, e, "deploy", "users.read", "groups.read")
	e.Must(204, e.Admin("PUT", "/api/v1/roles/deploy/assignments/users/deployer", nil))
	p := newPage(t, e)
	p.login("admin", servertest.AdminPassword, `section[aria-labelledby="h-expiring"]`)

	// The Federation entry leads to the issuers.
	p.run(chromedp.Click(css(`.nav a[href="/oidc-issuers"]`)), chromedp.WaitVisible(css(".subnav")))
	p.run(chromedp.Click(css(`a.button[href="/oidc-issuers/new"]`)), chromedp.WaitVisible(css("#f-kind")))
	p.run(
		chromedp.SendKeys(css("#f-name"), "ci"),
		chromedp.SetValue(css("#f-kind"), "generic"),
		chromedp.SendKeys(css("#f-issuer-url"), fedIssuerURL),
		chromedp.SetValue(css("#f-jwks"), `{"keys": "not a list"}`),
	)
	// A bad JWK Set: back at the field, the rest as typed.
	p.submit("form.card button[type=submit]", "#err-jwks")
	if got := eval[string](p, `document.querySelector("#f-issuer-url").value`); got != fedIssuerURL {
		t.Fatalf("the refused form lost the issuer URL: %q", got)
	}
	p.shot("27-oidc-issuer-new-bad-jwks")
	p.run(chromedp.SetValue(css("#f-jwks"), iss.JWKS()))
	p.submit("form.card button[type=submit]", "#issuer-keys")
	if got := p.text("#issuer-keys"); got != "inline JWK Set" {
		t.Fatalf("the issuer's keys read %q", got)
	}
	p.shot("28-oidc-issuer")

	// A policy, from the issuer's page.
	p.run(chromedp.Click(css(`a[href="/trust-policies/new?issuer=ci"]`)), chromedp.WaitVisible(css("#f-conditions")))
	p.run(
		chromedp.SendKeys(css("#f-name"), "deploy-main"),
		chromedp.SendKeys(css("#f-service-account"), "deployer"),
		chromedp.SendKeys(css("#f-audience"), "https://gatehouse.example"),
		chromedp.SendKeys(css("#f-conditions"), "repository = acme/app\nref = refs/heads/main"),
		chromedp.Click(css("#f-perm-only")),
		chromedp.WaitVisible(css("#f-permissions")),
		chromedp.SendKeys(css("#f-permissions"), "users.read"),
		chromedp.SetValue(css("#f-ttl"), "10m"),
		chromedp.SendKeys(css("#f-description"), "main of acme/app deploys"),
	)
	p.shot("29-trust-policy-new")
	p.submit("form.card button[type=submit]", "#policy-conditions")
	if got := p.text("#policy-conditions"); !strings.Contains(got, "refs/heads/main") || !strings.Contains(got, "acme/app") {
		t.Fatalf("the policy's conditions read %q", got)
	}
	p.shot("30-trust-policy")
	p.view("/trust-policies", `a[href="/trust-policies/deploy-main"]`, "31-trust-policies")

	// The tester: a matching token, then one from another repository.
	now := e.Clock.Now()
	good := iss.Sign(t, iss.Claims(now, "https://gatehouse.example", map[string]any{"iss": fedIssuerURL, "repository": "acme/app", "ref": "refs/heads/main"}))
	bad := iss.Sign(t, iss.Claims(now, "https://gatehouse.example", map[string]any{"iss": fedIssuerURL, "repository": "evil/app", "ref": "refs/heads/main"}))
	p.open("/policy-tester")
	p.run(chromedp.WaitVisible(css("#f-id-token")), chromedp.SetValue(css("#f-id-token"), good))
	p.submit("form.card button[type=submit]", "#test-policies")
	if got := p.text("#test-policies tbody"); !strings.Contains(got, "deploy-main") || !strings.Contains(got, "matches") || strings.Contains(got, "does not match") {
		t.Fatalf("the tester says of a good token:\n%s", got)
	}
	if v := eval[string](p, `document.querySelector("#f-id-token").value`); v != "" {
		t.Fatal("the ID token was put back into the text area")
	}
	if eval[bool](p, `document.documentElement.outerHTML.includes(`+jsString(strings.Split(good, ".")[2])+`)`) {
		t.Fatal("the ID token is in the page")
	}
	p.shot("32-policy-tester-match")
	p.run(chromedp.SetValue(css("#f-id-token"), bad))
	eval[any](p, `document.querySelector("#test-result").remove()`) // so the wait below is for the next page
	p.submit("form.card button[type=submit]", "#test-policies")
	if got := p.text("#test-policies tbody"); !strings.Contains(got, "does not match") || !strings.Contains(got, "claim repository") {
		t.Fatalf("the tester says of a token of another repository:\n%s", got)
	}
	p.shot("33-policy-tester-mismatch")
}

func jsString(s string) string { return "'" + strings.ReplaceAll(s, "'", `\'`) + "'" }
