package ui_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/federation/fedtest"
	"github.com/gatehouse/gatehouse/internal/server/servertest"
)

const fedIssuerURL = "https://ci.example"

// issuerForm is the new-issuer form of a generic issuer with an inline
// JWK Set (nothing is fetched).
func issuerForm(name, jwks string) url.Values {
	return url.Values{"name": {name}, "kind": {"generic"}, "issuer_url": {fedIssuerURL}, "jwks": {jwks},
		"allowed_algs": {"RS256", "ES256"}, "leeway": {"60s"}}
}

func policyForm(name, conditions string) url.Values {
	return url.Values{"name": {name}, "issuer": {"ci"}, "service_account": {"deployer"}, "audience": {"https://gatehouse.example"},
		"conditions": {conditions}, "perm_mode": {"all"}, "ttl": {"10m"}}
}

func TestFederationPages(t *testing.T) {
	each(t, func(t *testing.T, e *servertest.Env) {
		iss := fedtest.New(t)
		e.Must(201, e.Admin("POST", "/api/v1/service-accounts", map[string]any{"username": "deployer", "token_intent": "none"}))
		newRole(t, e, "deploy", "users.read", "groups.read")
		e.Must(204, e.Admin("PUT", "/api/v1/roles/deploy/assignments/users/deployer", nil))
		c := signedIn(t, e, "admin", adminPW)
		contains(t, must(t, 200, c.get("/")), `href="/oidc-issuers"`)
		contains(t, must(t, 200, c.get("/oidc-issuers")), "No OIDC issuers yet", `href="/oidc-issuers/new"`)
		contains(t, must(t, 200, c.get("/oidc-issuers/new")), `<option value="github"`, `name="allowed_algs" value="RS256" checked`)

		// A bad JWK Set and a bad leeway: every field comes back as typed,
		// the errors at their fields.
		v := issuerForm("ci", `{"nokeys": 1}`)
		v.Set("leeway", "forever")
		r := must(t, 400, c.post("/oidc-issuers", v))
		contains(t, r, `id="err-jwks"`, `id="err-leeway"`, `value="forever"`, `value="https://ci.example"`, "{&#34;nokeys&#34;: 1}")
		v = issuerForm("ci", iss.JWKS())
		v.Set("allowed_algs", "HS256")
		contains(t, must(t, 400, c.post("/oidc-issuers", v)), `id="err-allowed_algs"`)
		// Created.
		r = must(t, 303, c.post("/oidc-issuers", issuerForm("ci", iss.JWKS())))
		if r.Location != "/oidc-issuers/ci" {
			t.Fatalf("created issuer: redirect to %q", r.Location)
		}
		r = must(t, 200, c.get("/oidc-issuers/ci"))
		contains(t, r, "OIDC issuer ci", "inline JWK Set", "None: no ID token of this issuer can be exchanged yet", `href="/oidc-issuers/ci/delete"`)
		contains(t, must(t, 409, c.post("/oidc-issuers", issuerForm("ci2", iss.JWKS()))), "already exists", `value="ci2"`)
		// Edit: the whole form is sent back, as the page has it.
		v = issuerForm("", iss.JWKS())
		v.Set("leeway", "30s")
		must(t, 303, c.post("/oidc-issuers/ci", v))
		contains(t, must(t, 200, c.get("/oidc-issuers/ci")), "30s")
		v.Set("jwks_url", "https://keys.ci.example/jwks")
		contains(t, must(t, 400, c.post("/oidc-issuers/ci", v)), `id="err-jwks"`, "not both", `value="https://keys.ci.example/jwks"`)
		e.Must(200, e.Admin("GET", "/api/v1/oidc-issuers/ci", nil))

		// Policies: malformed lines, reserved claims, unknown accounts.
		contains(t, must(t, 200, c.get("/trust-policies/new?issuer=ci")), `<option value="ci" selected>`)
		r = must(t, 400, c.post("/trust-policies", policyForm("deploy-main", "repository = acme/app\nnonsense")))
		contains(t, r, `id="err-conditions"`, "line 2 must read claim = value", "repository = acme/app\nnonsense")
		r = must(t, 400, c.post("/trust-policies", policyForm("deploy-main", "aud = x")))
		contains(t, r, `id="err-conditions"`, "aud: ")
		v = policyForm("deploy-main", "repository = acme/app\nref = refs/heads/main")
		v.Set("service_account", "nobody")
		v.Set("ttl", "3h")
		r = must(t, 400, c.post("/trust-policies", v))
		contains(t, r, `id="err-ttl"`, `value="nobody"`, `value="3h"`)
		v.Set("ttl", "5m")
		contains(t, must(t, 400, c.post("/trust-policies", v)), `id="err-service_account"`, `value="nobody"`, `value="5m"`)
		r = must(t, 303, c.post("/trust-policies", policyForm("deploy-main", "repository = acme/app\nref = refs/heads/main")))
		if r.Location != "/trust-policies/deploy-main" {
			t.Fatalf("created policy: redirect to %q", r.Location)
		}
		contains(t, must(t, 200, c.get("/trust-policies/deploy-main")), "Trust policy deploy-main", "refs/heads/main", "10m0s")
		contains(t, must(t, 200, c.get("/trust-policies")), `href="/trust-policies/deploy-main"`)
		contains(t, must(t, 200, c.get("/oidc-issuers/ci")), `href="/trust-policies/deploy-main"`)
		// Edit: narrowed permissions, a bad network kept with its error.
		v = policyForm("", "repository = acme/app\nref = refs/heads/main\nref = refs/heads/release")
		v.Set("perm_mode", "only")
		v.Set("permissions", "users.read")
		v.Set("allowed_cidrs", "10.0.0.300/8")
		contains(t, must(t, 400, c.post("/trust-policies/deploy-main", v)), `id="err-allowed_cidrs"`, "10.0.0.300/8")
		v.Set("allowed_cidrs", "")
		must(t, 303, c.post("/trust-policies/deploy-main", v))
		p := e.Must(200, e.Admin("GET", "/api/v1/trust-policies/deploy-main", nil)).JSON()
		if perms, _ := p["permissions"].([]any); len(perms) != 1 || perms[0] != "users.read" {
			t.Fatalf("edited policy = %v", p)
		}

		// The tester: the token is never shown, stored or logged.
		now := e.Clock.Now()
		good := iss.Sign(t, iss.Claims(now, "https://gatehouse.example", map[string]any{"iss": fedIssuerURL,
			"repository": "acme/app", "ref": "refs/heads/main"}))
		bad := iss.Sign(t, iss.Claims(now, "https://gatehouse.example", map[string]any{"iss": fedIssuerURL,
			"repository": "acme/other", "ref": "refs/heads/main"}))
		contains(t, must(t, 200, c.get("/policy-tester")), `name="id_token"`)
		r = must(t, 200, c.post("/policy-tester", url.Values{"id_token": {good}}))
		contains(t, r, `id="test-result"`, "signature, issuer and times are good", "matches", "acme/app")
		if strings.Contains(r.Body, good) || strings.Contains(r.Body, strings.Split(good, ".")[2]) {
			t.Fatal("the tester echoed the ID token")
		}
		r = must(t, 200, c.post("/policy-tester", url.Values{"id_token": {bad}, "service_account": {"deployer"}}))
		contains(t, r, "does not match", "condition repository", `value="deployer"`)
		r = must(t, 200, c.post("/policy-tester", url.Values{"id_token": {"not-a-token"}}))
		contains(t, r, "refused: <code>malformed</code>")
		if strings.Contains(r.Body, "not-a-token") {
			t.Fatal("the tester echoed the malformed token")
		}
		contains(t, must(t, 400, c.post("/policy-tester", url.Values{"id_token": {""}})), `id="err-id_token"`)
		if strings.Contains(e.Logs.String(), good) || strings.Contains(e.Logs.String(), bad) {
			t.Fatal("an ID token reached the log")
		}
		// The tester did not use the jti up: the exchange still works.
		form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:token-exchange"}, "subject_token": {good},
			"subject_token_type": {"urn:ietf:params:oauth:token-type:id_token"}}.Encode()
		res, err := http.Post(e.URL+"/api/v1/oauth/token", "application/x-www-form-urlencoded", strings.NewReader(form))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("exchange after the tester: %d", res.StatusCode)
		}

		// Deletion asks for the name.
		contains(t, must(t, 200, c.get("/trust-policies/deploy-main/delete")), "Delete trust policy deploy-main?")
		contains(t, must(t, 400, c.post("/trust-policies/deploy-main/delete", url.Values{"confirm": {"deploy"}})), `id="err-confirm"`)
		must(t, 303, c.post("/trust-policies/deploy-main/delete", url.Values{"confirm": {"deploy-main"}}))
		must(t, 404, c.get("/trust-policies/deploy-main"))
		must(t, 303, c.post("/trust-policies", policyForm("again", "repository = acme/app")))
		contains(t, must(t, 200, c.get("/oidc-issuers/ci/delete")), "Its trust policies (1)")
		must(t, 303, c.post("/oidc-issuers/ci/delete", url.Values{"confirm": {"ci"}}))
		must(t, 404, c.get("/oidc-issuers/ci"))
		e.Must(404, e.Admin("GET", "/api/v1/trust-policies/again", nil))
	})
}

func TestFederationPagesPermissions(t *testing.T) {
	each(t, func(t *testing.T, e *servertest.Env) {
		e.Must(201, e.Admin("POST", "/api/v1/oidc-issuers", map[string]any{"name": "ci", "issuer_url": fedIssuerURL}))
		newRole(t, e, "fed-reader", "federation.read")
		newRole(t, e, "user-reader", "users.read")
		newHuman(t, e, "reader", "a-long-password-for-reader", "fed-reader")
		newHuman(t, e, "other", "a-long-password-for-other", "user-reader")

		c := signedIn(t, e, "reader", "a-long-password-for-reader")
		contains(t, must(t, 200, c.get("/")), `href="/oidc-issuers"`)
		r := must(t, 200, c.get("/oidc-issuers"))
		contains(t, r, `href="/oidc-issuers/ci"`)
		if strings.Contains(r.Body, "/oidc-issuers/new") {
			t.Fatal("a reader is offered a new issuer")
		}
		r = must(t, 200, c.get("/oidc-issuers/ci"))
		if strings.Contains(r.Body, "/delete") || strings.Contains(r.Body, "Save issuer") {
			t.Fatal("a reader is offered to change or delete the issuer")
		}
		must(t, 200, c.get("/policy-tester"))
		contains(t, must(t, 403, c.get("/oidc-issuers/new")), "federation.write")
		must(t, 403, c.get("/trust-policies/new"))
		must(t, 403, c.get("/oidc-issuers/ci/delete"))
		must(t, 403, c.post("/oidc-issuers", issuerForm("x", "")))
		must(t, 403, c.post("/oidc-issuers/ci/delete", url.Values{"confirm": {"ci"}}))
		e.Must(200, e.Admin("GET", "/api/v1/oidc-issuers/ci", nil))

		c = newClient(t, e)
		c.mustLogin("other", "a-long-password-for-other")
		if r := must(t, 200, c.get("/")); strings.Contains(r.Body, `href="/oidc-issuers"`) {
			t.Fatal("the Federation entry is shown without federation.read")
		}
		must(t, http.StatusForbidden, c.get("/oidc-issuers"))
		must(t, http.StatusForbidden, c.get("/trust-policies"))
		must(t, http.StatusForbidden, c.get("/policy-tester"))
		must(t, http.StatusForbidden, c.post("/policy-tester", url.Values{"id_token": {"x.y.z"}}))
	})
}
