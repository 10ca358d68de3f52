package storetest

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

var federationTests = []testCase{
	{"federation/issuers-and-policies", testFederationCRUD},
	{"federation/minted-tokens-go-with-their-policy", testFederationCascade},
	{"federation/jtis", testFederationJTIs},
}

func oidcIssuer(name, url string) store.OIDCIssuer {
	return store.OIDCIssuer{UID: newUID(), Name: name, Kind: store.IssuerGeneric, IssuerURL: url, AllowedAlgs: []string{"ES256", "RS256"},
		Leeway: time.Minute, TenantClaims: []string{}, CreatedAt: at(time.Minute)}
}

func trustPolicy(name string, i store.OIDCIssuer, u store.User) store.TrustPolicy {
	return store.TrustPolicy{UID: newUID(), Name: name, IssuerUID: i.UID, IssuerName: i.Name, UserUID: u.UID, Username: u.Username,
		Audience: "aud", Conditions: map[string][]string{"repository_id": {"42"}}, AllowedCIDRs: []string{}, TTL: 15 * time.Minute, CreatedAt: at(time.Hour)}
}

func testFederationCRUD(t *testing.T, s store.Store) {
	i := oidcIssuer("gh", "https://token.example")
	i.JWKS, i.Shared, i.TenantClaims = `{"keys":[]}`, true, []string{"org_id"}
	mustNil(t, s.CreateOIDCIssuer(ctx(t), i), "CreateOIDCIssuer")
	wantErr(t, s.CreateOIDCIssuer(ctx(t), oidcIssuer("gh2", i.IssuerURL)), store.ErrConflict, "CreateOIDCIssuer(taken issuer_url)")
	wantErr(t, s.CreateOIDCIssuer(ctx(t), oidcIssuer("gh", "https://other.example")), store.ErrConflict, "CreateOIDCIssuer(taken name)")
	got, err := s.GetOIDCIssuerByURL(ctx(t), i.IssuerURL)
	mustNil(t, err, "GetOIDCIssuerByURL")
	equal(t, got, i, "issuer")
	i.Leeway, i.AllowedAlgs = 5*time.Second, []string{"PS256"}
	mustNil(t, s.UpdateOIDCIssuer(ctx(t), i), "UpdateOIDCIssuer")
	wantRead(t, i, "updated issuer")(s.GetOIDCIssuer(ctx(t), "gh"))
	wantNotFound(t, "GetOIDCIssuer(missing)")(s.GetOIDCIssuer(ctx(t), "nope"))

	u := mustCreateUser(t, s, store.User{UID: newUID(), Username: "deployer", Type: store.TypeServiceAccount, IsActive: true, CreatedAt: t0})
	p := trustPolicy("deploy", i, u)
	perms := []string{"users.read"}
	p.Permissions = &perms
	mustNil(t, s.CreateTrustPolicy(ctx(t), p), "CreateTrustPolicy")
	wantErr(t, s.CreateTrustPolicy(ctx(t), p), store.ErrConflict, "CreateTrustPolicy(taken)")
	ghost := trustPolicy("ghost", i, u)
	ghost.UserUID = newUID()
	wantErr(t, s.CreateTrustPolicy(ctx(t), ghost), store.ErrNotFound, "CreateTrustPolicy(missing user)")
	gp, err := s.GetTrustPolicy(ctx(t), "deploy")
	mustNil(t, err, "GetTrustPolicy")
	equal(t, gp, p, "policy")
	p.Permissions, p.TTL = nil, time.Hour
	mustNil(t, s.UpdateTrustPolicy(ctx(t), p), "UpdateTrustPolicy")
	ps, err := s.ListTrustPolicies(ctx(t), store.FederationFilter{IssuerUID: i.UID})
	mustNil(t, err, "ListTrustPolicies")
	if len(ps) != 1 || ps[0].Permissions != nil || ps[0].TTL != time.Hour {
		t.Fatalf("policies %s", dump(ps))
	}
	mustNil(t, s.DeleteOIDCIssuer(ctx(t), i.UID), "DeleteOIDCIssuer")
	wantNotFound(t, "a policy of a deleted issuer")(s.GetTrustPolicy(ctx(t), "deploy"))
}

func testFederationCascade(t *testing.T, s store.Store) {
	i := oidcIssuer("k8s", "https://k8s.example")
	mustNil(t, s.CreateOIDCIssuer(ctx(t), i), "CreateOIDCIssuer")
	u := mustCreateUser(t, s, store.User{UID: newUID(), Username: "reporter", Type: store.TypeServiceAccount, IsActive: true, CreatedAt: t0})
	p := trustPolicy("report", i, u)
	mustNil(t, s.CreateTrustPolicy(ctx(t), p), "CreateTrustPolicy")
	minted := apiToken(u, "reporter-minted")
	minted.FederatedPolicyUID, minted.Expiring = p.UID, true
	exp := at(time.Minute)
	minted.ExpiresAt = &exp
	minted.Restrictions = &store.TokenRestrictions{Federated: &store.TokenFederation{Issuer: "k8s", Policy: "report", Subject: "s", JTI: "j"}}
	mustToken(t, s, minted)
	mustToken(t, s, apiToken(u, "reporter-own"))
	n, err := s.CountTokens(ctx(t), u.UID)
	mustNil(t, err, "CountTokens")
	equal(t, n, 1, "minted tokens are not counted")
	exp2, err := s.ExpiredTokens(ctx(t), store.ExpiredFederated, at(time.Hour), 10)
	mustNil(t, err, "ExpiredTokens(federated)")
	equal(t, identifiers(exp2), []string{"reporter-minted"}, "expired minted tokens")
	got, err := s.GetToken(ctx(t), "reporter-minted")
	mustNil(t, err, "GetToken")
	if got.Restrictions == nil || got.Restrictions.Federated == nil || got.Restrictions.Federated.Policy != "report" {
		t.Fatalf("provenance lost: %s", dump(got))
	}
	uids, err := s.FederatedTokens(ctx(t), i.UID, "")
	mustNil(t, err, "FederatedTokens(issuer)")
	equal(t, uids, []string{minted.UID}, "tokens of the issuer's policies")
	mustNil(t, s.DeleteTrustPolicy(ctx(t), p.UID), "DeleteTrustPolicy")
	wantNotFound(t, "a minted token of a deleted policy")(s.GetToken(ctx(t), "reporter-minted"))
	_, err = s.GetToken(ctx(t), "reporter-own")
	mustNil(t, err, "the account's own token stays")
}

func testFederationJTIs(t *testing.T, s store.Store) {
	mustNil(t, s.UseJTI(ctx(t), "https://a.example", "j1", at(time.Minute)), "UseJTI")
	mustNil(t, s.UseJTI(ctx(t), "https://b.example", "j1", at(time.Minute)), "UseJTI(other issuer)")
	wantErr(t, s.UseJTI(ctx(t), "https://a.example", "j1", at(time.Hour)), store.ErrConflict, "UseJTI(replay)")
	// In a transaction, a replay fails the statement, not the transaction.
	err := s.InTx(ctx(t), func(q store.Queries) error {
		wantErr(t, q.UseJTI(ctx(t), "https://a.example", "j1", at(time.Minute)), store.ErrConflict, "UseJTI(replay in tx)")
		return q.UseJTI(ctx(t), "https://a.example", "j2", at(time.Minute))
	})
	mustNil(t, err, "InTx")
	wantRead(t, 3, "pruned")(s.PruneJTIs(ctx(t), at(2*time.Minute)))
	mustNil(t, s.UseJTI(ctx(t), "https://a.example", "j1", at(time.Minute)), "UseJTI after prune")
}
