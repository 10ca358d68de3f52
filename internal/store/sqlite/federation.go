package sqlite

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

const issuerColumns = `uid, name, kind, issuer_url, jwks_url, jwks, allowed_algs, leeway, shared, tenant_claims, created_at`

func scanIssuer(sc scanner) (store.OIDCIssuer, error) {
	var (
		i                 store.OIDCIssuer
		algs, tenant      string
		leeway, createdAt int64
		shared            int
	)
	if err := sc.Scan(&i.UID, &i.Name, &i.Kind, &i.IssuerURL, &i.JWKSURL, &i.JWKS, &algs, &leeway, &shared, &tenant, &createdAt); err != nil {
		return store.OIDCIssuer{}, err
	}
	i.Leeway, i.Shared, i.CreatedAt = time.Duration(leeway), shared != 0, fromMicros(createdAt)
	if err := store.DecodeJSON(algs, &i.AllowedAlgs); err != nil {
		return i, err
	}
	return i, store.DecodeJSON(tenant, &i.TenantClaims)
}

func (q *queries) CreateOIDCIssuer(ctx context.Context, i store.OIDCIssuer) error {
	_, err := q.exec(ctx, `INSERT INTO oidc_issuers (`+issuerColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		i.UID, i.Name, i.Kind, i.IssuerURL, i.JWKSURL, i.JWKS, store.EncodeList(i.AllowedAlgs), int64(i.Leeway),
		boolInt(i.Shared), store.EncodeList(i.TenantClaims), micros(i.CreatedAt))
	return wrapf(err, "create oidc issuer %q", i.Name)
}

func (q *queries) getIssuer(ctx context.Context, col, v string) (store.OIDCIssuer, error) {
	i, err := one(ctx, q.read, scanIssuer, `SELECT `+issuerColumns+` FROM oidc_issuers WHERE `+col+` = ?`, v)
	return i, wrapf(err, "get oidc issuer %q", v)
}

func (q *queries) GetOIDCIssuer(ctx context.Context, name string) (store.OIDCIssuer, error) {
	return q.getIssuer(ctx, "name", name)
}

func (q *queries) GetOIDCIssuerByURL(ctx context.Context, issuerURL string) (store.OIDCIssuer, error) {
	return q.getIssuer(ctx, "issuer_url", issuerURL)
}

func (q *queries) ListOIDCIssuers(ctx context.Context, f store.FederationFilter) ([]store.OIDCIssuer, error) {
	var w where
	page, args := w.page("name", f.After, f.Limit)
	out, err := queryAll(ctx, q.read, scanIssuer, `SELECT `+issuerColumns+` FROM oidc_issuers`+page, args...)
	return out, wrapf(err, "list oidc issuers")
}

func (q *queries) UpdateOIDCIssuer(ctx context.Context, i store.OIDCIssuer) error {
	err := execOne(ctx, q.write, `UPDATE oidc_issuers SET issuer_url = ?, jwks_url = ?, jwks = ?, allowed_algs = ?,
		leeway = ?, shared = ?, tenant_claims = ? WHERE uid = ?`,
		i.IssuerURL, i.JWKSURL, i.JWKS, store.EncodeList(i.AllowedAlgs), int64(i.Leeway), boolInt(i.Shared),
		store.EncodeList(i.TenantClaims), i.UID)
	return wrapf(err, "update oidc issuer %q", i.Name)
}

func (q *queries) DeleteOIDCIssuer(ctx context.Context, uid string) error {
	return wrapf(execOne(ctx, q.write, `DELETE FROM oidc_issuers WHERE uid = ?`, uid), "delete oidc issuer %s", uid)
}

const policySelect = `SELECT p.uid, p.name, p.description, p.issuer_uid, i.name, p.user_uid, u.username, p.audience,
	p.conditions, p.permissions, p.allowed_cidrs, p.ttl, p.created_at
	FROM trust_policies p JOIN oidc_issuers i ON i.uid = p.issuer_uid JOIN users u ON u.uid = p.user_uid`

func scanPolicy(sc scanner) (store.TrustPolicy, error) {
	var (
		p              store.TrustPolicy
		c              store.PolicyColumns
		ttl, createdAt int64
	)
	if err := sc.Scan(&p.UID, &p.Name, &p.Description, &p.IssuerUID, &p.IssuerName, &p.UserUID, &p.Username, &p.Audience,
		&c.Conditions, &c.Permissions, &c.AllowedCIDRs, &ttl, &createdAt); err != nil {
		return store.TrustPolicy{}, err
	}
	p.TTL, p.CreatedAt = time.Duration(ttl), fromMicros(createdAt)
	return p, c.DecodeInto(&p)
}

func (q *queries) CreateTrustPolicy(ctx context.Context, p store.TrustPolicy) error {
	c := store.EncodePolicyColumns(p)
	_, err := q.exec(ctx, `INSERT INTO trust_policies (uid, name, description, issuer_uid, user_uid, audience, conditions,
		permissions, allowed_cidrs, ttl, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.UID, p.Name, p.Description, p.IssuerUID, p.UserUID, p.Audience, c.Conditions,
		c.Permissions, c.AllowedCIDRs, int64(p.TTL), micros(p.CreatedAt))
	return wrapf(err, "create trust policy %q", p.Name)
}

func (q *queries) GetTrustPolicy(ctx context.Context, name string) (store.TrustPolicy, error) {
	p, err := one(ctx, q.read, scanPolicy, policySelect+` WHERE p.name = ?`, name)
	return p, wrapf(err, "get trust policy %q", name)
}

func (q *queries) ListTrustPolicies(ctx context.Context, f store.FederationFilter) ([]store.TrustPolicy, error) {
	var w where
	if f.IssuerUID != "" {
		w.add("p.issuer_uid = ?", f.IssuerUID)
	}
	page, args := w.page("p.name", f.After, f.Limit)
	out, err := queryAll(ctx, q.read, scanPolicy, policySelect+page, args...)
	return out, wrapf(err, "list trust policies")
}

func (q *queries) UpdateTrustPolicy(ctx context.Context, p store.TrustPolicy) error {
	c := store.EncodePolicyColumns(p)
	err := execOne(ctx, q.write, `UPDATE trust_policies SET description = ?, user_uid = ?, audience = ?, conditions = ?,
		permissions = ?, allowed_cidrs = ?, ttl = ? WHERE uid = ?`,
		p.Description, p.UserUID, p.Audience, c.Conditions, c.Permissions, c.AllowedCIDRs, int64(p.TTL), p.UID)
	return wrapf(err, "update trust policy %q", p.Name)
}

func (q *queries) DeleteTrustPolicy(ctx context.Context, uid string) error {
	return wrapf(execOne(ctx, q.write, `DELETE FROM trust_policies WHERE uid = ?`, uid), "delete trust policy %s", uid)
}

func (q *queries) FederatedTokens(ctx context.Context, issuerUID, policyUID string) ([]string, error) {
	query, arg := `SELECT t.uid FROM tokens t WHERE t.federated_policy_uid = ?`, policyUID
	if policyUID == "" {
		query, arg = `SELECT t.uid FROM tokens t JOIN trust_policies p ON p.uid = t.federated_policy_uid WHERE p.issuer_uid = ?`, issuerUID
	}
	out, err := queryStrings(ctx, q.read, query, arg)
	return out, wrapf(err, "federated tokens")
}

func (q *queries) UseJTI(ctx context.Context, issuerURL, jti string, expiresAt time.Time) error {
	_, err := q.exec(ctx, `INSERT INTO federation_jtis (issuer_url, jti, expires_at) VALUES (?, ?, ?)`,
		issuerURL, jti, micros(expiresAt))
	return wrapf(err, "use jti")
}

func (q *queries) PruneJTIs(ctx context.Context, t time.Time) (int, error) {
	n, err := q.affected(ctx, `DELETE FROM federation_jtis WHERE expires_at < ?`, micros(t))
	return n, wrapf(err, "prune jtis")
}
