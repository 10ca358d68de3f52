package core_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/internal/core"
	"github.com/gatehouse/gatehouse/internal/federation"
	"github.com/gatehouse/gatehouse/internal/federation/fedtest"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
)

const fedAudience = "https://gatehouse.example"

// fedSetup: a harness that may fetch keys from the fake issuer, the
// issuer "fake", a service account "deployer" (users.read) and a policy
// "deploy" for repository_id 42.
func fedSetup(t *testing.T, st store.Store) (*harness, *fedtest.Issuer) {
	h := newHarnessWith(t, st, core.Config{MaxTokensPerAccount: 100, OIDCAllowInsecureIssuers: true})
	iss := fedtest.New(t)
	h.must(h.Federation.CreateOIDCIssuer(h.ctx, h.admin, core.OIDCIssuerInput{Name: "fake", IssuerURL: iss.URL, AllowedAlgs: []string{"RS256", "ES256"}}))
	perms := []string{"users.read", "groups.read"}
	h.must(h.Access.CreateRole(h.ctx, h.admin, core.RoleInput{Name: "deployer-role", Permissions: &perms}))
	h.must(h.Accounts.CreateServiceAccount(h.ctx, h.admin, core.CreateServiceAccountInput{Username: "deployer", Roles: []string{"deployer-role"}, TokenIntent: "none"}))
	ttl := "10m"
	h.must(h.Federation.CreateTrustPolicy(h.ctx, h.admin, core.TrustPolicyInput{Name: "deploy", Issuer: "fake", ServiceAccount: "deployer",
		Audience: fedAudience, Conditions: map[string]core.ClaimValues{"repository_id": {"42"}, "ref": {"refs/heads/main"}}, TTL: &ttl}))
	return h, iss
}

func goodClaims(h *harness, iss *fedtest.Issuer, extra map[string]any) map[string]any {
	c := map[string]any{"repository_id": "42", "ref": "refs/heads/main"}
	for k, v := range extra {
		c[k] = v
	}
	return iss.Claims(h.clock.Now(), fedAudience, c)
}

func (h *harness) exchange(token, account string) (core.ExchangeResult, error) {
	return h.exchangeFrom("198.51.100.7", token, account)
}

func (h *harness) exchangeFrom(ip, token, account string) (core.ExchangeResult, error) {
	return h.Federation.Exchange(h.ctx, ip, core.ExchangeInput{GrantType: core.GrantTokenExchange,
		SubjectToken: token, SubjectTokenType: core.TokenTypeIDToken, ServiceAccount: account})
}

func (h *harness) lastDenial() map[string]any {
	h.t.Helper()
	evs, err := h.Events.ListEvents(h.ctx, h.admin, core.EventQuery{Action: "token_exchange_denied", Limit: 1})
	if err != nil || len(evs) == 0 {
		h.t.Fatalf("no token_exchange_denied event: %v", err)
	}
	return evs[0].Context
}

func TestFederationExchange(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, st store.Store) {
		h, iss := fedSetup(t, st)
		raw := iss.Sign(t, goodClaims(h, iss, nil))
		out, err := h.exchange(raw, "deployer")
		if err != nil {
			t.Fatal(err)
		}
		if out.TokenType != "Bearer" || out.ExpiresIn != 600 || out.IssuedTokenType != core.TokenTypeAccessToken || !strings.HasPrefix(out.AccessToken, "gat_") {
			t.Fatalf("answer %+v", out)
		}
		// The key works, as the service account, with federated provenance.
		c, err := h.Credentials.CheckCredential(h.ctx, core.DoorAPI, core.Presented{Kind: core.KindAPIToken, Secret: out.AccessToken}, "198.51.100.7", core.CheckOptions{})
		if err != nil || c.P.Username != "deployer" {
			t.Fatalf("minted key: %v", err)
		}
		v, err := h.Credentials.GetToken(h.ctx, h.admin, c.Cred.TokenIdentifier)
		if err != nil || v.Federated == nil || v.Federated.Policy != "deploy" || v.Federated.Issuer != "fake" || v.Extended || !v.Expiring {
			t.Fatalf("view %+v %v", v, err)
		}
		// No other door takes an ID token; no credential kind but an ID
		// token opens the exchange door.
		if _, err := h.Credentials.CheckCredential(h.ctx, core.DoorTokenExchange, core.Presented{Kind: core.KindAPIToken, Secret: out.AccessToken}, "198.51.100.7", core.CheckOptions{}); err == nil {
			t.Fatal("the exchange door took an API token")
		}
		// A minted key makes, rotates and changes no token (403); its
		// token cannot be rotated by anyone (409).
		minted := core.Actor{P: c.P, Cred: c.Cred, ClientIP: "198.51.100.7"}
		if _, err := h.Credentials.CreateToken(h.ctx, minted, core.CreateTokenInput{}); !errors.Is(err, core.ErrForbidden) {
			t.Fatalf("minted key created a token: %v", err)
		}
		if _, err := h.Credentials.RotateToken(h.ctx, minted, v.Identifier, core.RotateInput{}); !errors.Is(err, core.ErrForbidden) {
			t.Fatalf("minted key rotated itself: %v", err)
		}
		if _, err := h.Credentials.RotateToken(h.ctx, h.admin, v.Identifier, core.RotateInput{}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("rotating a minted token: %v", err)
		}
		// Replay: each ID token is good once.
		if _, err := h.exchange(raw, "deployer"); !isInvalidGrant(err) {
			t.Fatalf("replay: %v", err)
		}
		if d := h.lastDenial(); d["reason"] != "replayed_jti" {
			t.Fatalf("replay event %v", d)
		}
		// No event holds the ID token.
		evs, _ := h.Events.ListEvents(h.ctx, h.admin, core.EventQuery{Limit: 100})
		for _, e := range evs {
			if b, _ := json.Marshal(e); strings.Contains(string(b), raw[strings.LastIndex(raw, ".")+1:]) || strings.Contains(string(b), out.AccessToken) {
				t.Fatalf("event %s holds a token", e.Action)
			}
		}
		// Deleting the policy revokes what it minted, at once.
		h.ok(h.Federation.DeleteTrustPolicy(h.ctx, h.admin, "deploy"))
		if _, err := h.Credentials.CheckCredential(h.ctx, core.DoorAPI, core.Presented{Kind: core.KindAPIToken, Secret: out.AccessToken}, "198.51.100.7", core.CheckOptions{}); err == nil {
			t.Fatal("a token of a deleted policy still works")
		}
	})
}

func isInvalidGrant(err error) bool {
	var oe *core.OAuthError
	return errors.As(err, &oe) && oe.Code == "invalid_grant"
}

func TestFederationRefusals(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, st store.Store) {
		h, iss := fedSetup(t, st)
		now := h.clock.Now()
		perms := []string{"users.read"}
		h.must(h.Accounts.CreateServiceAccount(h.ctx, h.admin, core.CreateServiceAccountInput{Username: "sleeper", TokenIntent: "none"}))
		h.must(h.Federation.CreateTrustPolicy(h.ctx, h.admin, core.TrustPolicyInput{Name: "sleeper", Issuer: "fake", ServiceAccount: "sleeper",
			Audience: fedAudience, Conditions: map[string]core.ClaimValues{"repository_id": {"77"}}, Permissions: &[]string{}}))
		_ = perms
		inactive := false
		h.must(h.Accounts.UpdateServiceAccount(h.ctx, h.admin, "sleeper", core.UpdateUserInput{IsActive: &inactive}))
		cases := []struct {
			name, reason, account string
			token                 func() string
		}{
			{"bad signature", "bad_signature", "deployer", func() string { return iss.SignForeign(t, goodClaims(h, iss, nil)) }},
			{"alg none", "alg_not_allowed", "deployer", func() string { return fedtest.ForgeNone(goodClaims(h, iss, nil)) }},
			{"HS256 with the public key", "alg_not_allowed", "deployer", func() string { return iss.ForgeHS256(t, goodClaims(h, iss, nil)) }},
			{"unknown issuer", "unknown_issuer", "deployer", func() string {
				return iss.Sign(t, goodClaims(h, iss, map[string]any{"iss": "https://elsewhere.example"}))
			}},
			{"wrong audience", "no_policy_matched", "deployer", func() string {
				return iss.Sign(t, iss.Claims(now, "someone-else", map[string]any{"repository_id": "42", "ref": "refs/heads/main"}))
			}},
			{"expired beyond leeway", "expired", "deployer", func() string {
				return iss.Sign(t, goodClaims(h, iss, map[string]any{"exp": now.Add(-61 * time.Second).Unix(), "iat": now.Add(-10 * time.Minute).Unix(), "nbf": now.Add(-10 * time.Minute).Unix()}))
			}},
			{"nbf in the future", "not_yet_valid", "deployer", func() string {
				return iss.Sign(t, goodClaims(h, iss, map[string]any{"nbf": now.Add(2 * time.Minute).Unix()}))
			}},
			{"iat in the future", "issued_in_future", "deployer", func() string {
				return iss.Sign(t, goodClaims(h, iss, map[string]any{"iat": now.Add(2 * time.Minute).Unix()}))
			}},
			{"condition mismatch", "no_policy_matched", "deployer", func() string { return iss.Sign(t, goodClaims(h, iss, map[string]any{"repository_id": "43"})) }},
			{"number is not the string", "no_policy_matched", "deployer", func() string {
				return iss.Sign(t, goodClaims(h, iss, map[string]any{"ref": []string{"refs/heads/main"}}))
			}},
			{"missing claim", "no_policy_matched", "deployer", func() string { return iss.Sign(t, goodClaims(h, iss, map[string]any{"ref": nil})) }},
			{"no jti", "missing_jti", "deployer", func() string { return iss.Sign(t, goodClaims(h, iss, map[string]any{"jti": nil})) }},
			{"unknown service account", "no_policy_matched", "nobody", func() string { return iss.Sign(t, goodClaims(h, iss, nil)) }},
			{"disabled account", "inactive", "sleeper", func() string { return iss.Sign(t, goodClaims(h, iss, map[string]any{"repository_id": "77"})) }},
			{"garbage", "malformed", "deployer", func() string { return "not.a.jwt" }},
		}
		for n, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				raw := c.token()
				_, err := h.exchangeFrom(fmt.Sprintf("203.0.113.%d", n), raw, c.account)
				if !isInvalidGrant(err) {
					t.Fatalf("want invalid_grant, got %v", err)
				}
				d := h.lastDenial()
				if d["reason"] != c.reason {
					t.Fatalf("reason %v, want %s (%v)", d["reason"], c.reason, d)
				}
				if b, _ := json.Marshal(d); strings.Contains(string(b), raw) {
					t.Fatal("the event holds the ID token")
				}
			})
		}
		// Refusals count in the door's limiter: past it, 429 before any check.
		var rl *core.RateLimitedError
		for range 12 {
			_, err := h.exchangeFrom("203.0.113.200", "not.a.jwt", "")
			if errors.As(err, &rl) {
				break
			}
		}
		if _, err := h.exchangeFrom("203.0.113.200", iss.Sign(t, goodClaims(h, iss, nil)), ""); !errors.As(err, &rl) {
			t.Fatalf("past the limit: %v", err)
		}
		// A shared issuer refuses a policy that does not pin the tenant.
		h.must(h.Federation.CreateOIDCIssuer(h.ctx, h.admin, core.OIDCIssuerInput{Name: "gh", Kind: "github", IssuerURL: "http://gh.example", Leeway: ptr("10s")}))
		_, err := h.Federation.CreateTrustPolicy(h.ctx, h.admin, core.TrustPolicyInput{Name: "loose", Issuer: "gh", ServiceAccount: "deployer",
			Audience: fedAudience, Conditions: map[string]core.ClaimValues{"repository": {"acme/app"}}})
		var ve *core.ValidationError
		if !errors.As(err, &ve) || !strings.Contains(ve.Error(), "conditions") {
			t.Fatalf("unpinned policy on a shared issuer: %v", err)
		}
		// Humans are refused; bad issuer settings are refused, every field at once.
		_, err = h.Federation.CreateTrustPolicy(h.ctx, h.admin, core.TrustPolicyInput{Name: "human", Issuer: "fake", ServiceAccount: "admin",
			Audience: fedAudience, Conditions: map[string]core.ClaimValues{"repository_id": {"1"}}})
		if !errors.As(err, &ve) || ve.Errors[0].Field != "service_account" {
			t.Fatalf("human account: %v", err)
		}
		_, err = h.Federation.CreateOIDCIssuer(h.ctx, h.admin, core.OIDCIssuerInput{Name: "bad", IssuerURL: "ftp://x", AllowedAlgs: []string{"none", "HS256"}, Leeway: ptr("10m")})
		if !errors.As(err, &ve) || len(ve.Errors) != 4 {
			t.Fatalf("bad issuer: %v", err)
		}
	})
}

// A verifier on the fake clock: rotation, an outage, kid flooding.
func TestFederationKeys(t *testing.T) {
	h, iss := fedSetup(t, storetestSQLite(t))
	v := federation.New(federation.Options{Clock: h.clock, AllowInsecure: true})
	h.SetVerifier(v)
	ok := func(what string) {
		t.Helper()
		if _, err := h.exchange(iss.Sign(t, goodClaims(h, iss, nil)), ""); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	ok("first")
	// Rotation at the issuer: a new kid is fetched, once the minute since
	// the last fetch has passed.
	iss.AddKey(t, "k2", jose.ES256)
	h.clock.Advance(61 * time.Second)
	ok("after rotation")
	if n := v.Fetches("fake"); n != 2 {
		t.Fatalf("fetches %d", n)
	}
	// Flooding with unknown kids: at most one fetch a minute.
	for i := range 50 {
		_, _ = h.exchange(iss.SignWith(t, fmt.Sprintf("flood-%d", i), goodClaims(h, iss, nil)), "")
	}
	if n := v.Fetches("fake"); n > 3 {
		t.Fatalf("kid flooding made %d fetches", n)
	}
	// The issuer is down: the last good keys stay in use, even past
	// their age.
	iss.SetDown(true)
	h.clock.Advance(2 * time.Hour)
	ok("issuer down")
	h.clock.Advance(2 * time.Minute)
	ok("issuer still down")
}

// The tester says which check fails, for each policy, and uses nothing up.
func TestTrustPolicyTester(t *testing.T) {
	h, iss := fedSetup(t, storetestSQLite(t))
	raw := iss.Sign(t, goodClaims(h, iss, map[string]any{"ref": "refs/heads/dev"}))
	r, err := h.Federation.TestTrustPolicies(h.ctx, h.admin, core.PolicyTestInput{IDToken: raw})
	if err != nil || !r.Verified || r.Issuer != "fake" || len(r.Policies) != 1 || r.Policies[0].Matches || r.Policies[0].Failed != "condition ref" {
		t.Fatalf("%+v %v", r, err)
	}
	good := iss.Sign(t, goodClaims(h, iss, nil))
	if r, err = h.Federation.TestTrustPolicies(h.ctx, h.admin, core.PolicyTestInput{IDToken: good}); err != nil || !r.Policies[0].Matches || r.Refused != "" {
		t.Fatalf("%+v %v", r, err)
	}
	if _, err := h.exchange(good, ""); err != nil {
		t.Fatalf("the tester used the token up: %v", err)
	}
	if r, _ = h.Federation.TestTrustPolicies(h.ctx, h.admin, core.PolicyTestInput{IDToken: good}); r.Refused != "replayed_jti" {
		t.Fatalf("after the exchange: %+v", r)
	}
	if _, err := h.Federation.TestTrustPolicies(h.ctx, h.holder(), core.PolicyTestInput{IDToken: good}); !errors.Is(err, core.ErrForbidden) {
		t.Fatalf("without federation.read: %v", err)
	}
}

// TestFederationWriteCannotTakeOverAPolicy: federation.write alone cannot
// put its own keys into an issuer whose policies mint tokens of a more
// powerful account (it would then mint them), nor change or delete that
// issuer, nor delete such a policy (which revokes the account's minted
// tokens). Covering the policies' power, it may.
func TestFederationWriteCannotTakeOverAPolicy(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, st store.Store) {
		h, iss := fedSetup(t, st) // policy "deploy" mints tokens of deployer (users.read, groups.read)
		weak := h.holder("federation.read", "federation.write")
		own := fedtest.New(t)
		forged := own.JWKS()
		for what, err := range map[string]error{
			"put its own keys in": func() error {
				_, err := h.Federation.UpdateOIDCIssuer(h.ctx, weak, "fake", core.OIDCIssuerPatch{JWKS: core.InlineJWKS(forged)})
				return err
			}(),
			"point the issuer elsewhere": func() error {
				u := own.URL
				_, err := h.Federation.UpdateOIDCIssuer(h.ctx, weak, "fake", core.OIDCIssuerPatch{IssuerURL: &u})
				return err
			}(),
			"delete the issuer": h.Federation.DeleteOIDCIssuer(h.ctx, weak, "fake"),
			"delete the policy": h.Federation.DeleteTrustPolicy(h.ctx, weak, "deploy"),
		} {
			if !errors.Is(err, core.ErrForbidden) {
				t.Errorf("%s: %v, want forbidden", what, err)
			}
		}
		// The issuer still takes the real issuer's tokens only.
		if _, err := h.exchange(iss.Sign(t, goodClaims(h, iss, nil)), "deployer"); err != nil {
			t.Fatalf("the real issuer's token after the refusals: %v", err)
		}
		// A holder of what the policy's tokens may do may change it.
		strong := h.holder("federation.read", "federation.write", "users.read", "groups.read")
		h.ok(h.Federation.DeleteTrustPolicy(h.ctx, strong, "deploy"))
	})
}
