package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/store"
)

const issuerCols = `uid, name, kind, issuer_url, jwks_url, jwks, allowed_algs, leeway, shared, tenant_claims, created_at`

func scanIssuer(row pgx.Row) (store.OIDCIssuer, error) {
	var (
		i            store.OIDCIssuer
		algs, tenant string
		leeway       int64
	)
	if err := row.Scan(&i.UID, &i.Name, &i.Kind, &i.IssuerURL, &i.JWKSURL, &i.JWKS, &algs, &leeway, &i.Shared, &tenant, &i.CreatedAt); err != nil {
		return store.OIDCIssuer{}, err
	}
	i.Leeway, i.CreatedAt = time.Duration(leeway), i.CreatedAt.UTC()
	if err := store.DecodeJSON(algs, &i.AllowedAlgs); err != nil {
		return i, err
	}
	return i, store.DecodeJSON(tenant, &i.TenantClaims)
}

var issuers = table[store.OIDCIssuer]{what: "oidc issuer", plural: "oidc issuers", name: "oidc_issuers",
	sel: `SELECT ` + issuerCols + ` FROM oidc_issuers`, key: "name", scan: scanIssuer}

func (q *queries) CreateOIDCIssuer(ctx context.Context, i store.OIDCIssuer) error {
	err := q.insert(ctx, `INSERT INTO oidc_issuers (`+issuerCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING`,
		i.UID, i.Name, i.Kind, i.IssuerURL, i.JWKSURL, i.JWKS, store.EncodeList(i.AllowedAlgs), int64(i.Leeway),
		i.Shared, store.EncodeList(i.TenantClaims), i.CreatedAt)
	return wrapf(err, "create oidc issuer %q", i.Name)
}

func (q *queries) GetOIDCIssuer(ctx context.Context, name string) (store.OIDCIssuer, error) {
	return issuers.get(ctx, q, name)
}

func (q *queries) GetOIDCIssuerByURL(ctx context.Context, issuerURL string) (store.OIDCIssuer, error) {
	return issuers.getBy(ctx, q, "issuer_url", issuerURL)
}

func (q *queries) ListOIDCIssuers(ctx context.Context, f store.FederationFilter) ([]store.OIDCIssuer, error) {
	return issuers.list(ctx, q, nil, f.After, f.Limit)
}

func (q *queries) UpdateOIDCIssuer(ctx context.Context, i store.OIDCIssuer) error {
	err := q.change(ctx, `UPDATE oidc_issuers SET issuer_url = $1, jwks_url = $2, jwks = $3, allowed_algs = $4,
		leeway = $5, shared = $6, tenant_claims = $7 WHERE uid = $8`,
		i.IssuerURL, i.JWKSURL, i.JWKS, store.EncodeList(i.AllowedAlgs), int64(i.Leeway), i.Shared,
		store.EncodeList(i.TenantClaims), i.UID)
	return wrapf(err, "update oidc issuer %q", i.Name)
}

func (q *queries) DeleteOIDCIssuer(ctx context.Context, uid string) error {
	return issuers.delete(ctx, q, uid)
}

const policySelect = `SELECT p.uid, p.name, p.description, p.issuer_uid, i.name, p.user_uid, u.username, p.audience,
	p.conditions, p.permissions, p.allowed_cidrs, p.ttl, p.created_at
	FROM trust_policies p JOIN oidc_issuers i ON i.uid = p.issuer_uid JOIN users u ON u.uid = p.user_uid`

var policies = table[store.TrustPolicy]{what: "trust policy", plural: "trust policies", name: "trust_policies",
	sel: policySelect, key: "p.name", scan: scanPolicy}

func scanPolicy(row pgx.Row) (store.TrustPolicy, error) {
	var (
		p   store.TrustPolicy
		c   store.PolicyColumns
		ttl int64
	)
	if err := row.Scan(&p.UID, &p.Name, &p.Description, &p.IssuerUID, &p.IssuerName, &p.UserUID, &p.Username, &p.Audience,
		&c.Conditions, &c.Permissions, &c.AllowedCIDRs, &ttl, &p.CreatedAt); err != nil {
		return store.TrustPolicy{}, err
	}
	p.TTL, p.CreatedAt = time.Duration(ttl), p.CreatedAt.UTC()
	return p, c.DecodeInto(&p)
}

func (q *queries) CreateTrustPolicy(ctx context.Context, p store.TrustPolicy) error {
	c := store.EncodePolicyColumns(p)
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	tag, err := q.db.Exec(ctx, `INSERT INTO trust_policies (uid, name, description, issuer_uid, user_uid, audience, conditions,
		permissions, allowed_cidrs, ttl, created_at)
		SELECT $1, $2, $3, i.uid, u.uid, $6, $7, $8, $9, $10, $11
		FROM oidc_issuers i, users u WHERE i.uid = $4 AND u.uid = $5
		ON CONFLICT DO NOTHING`,
		p.UID, p.Name, p.Description, p.IssuerUID, p.UserUID, p.Audience, c.Conditions,
		c.Permissions, c.AllowedCIDRs, int64(p.TTL), p.CreatedAt)
	if err == nil && tag.RowsAffected() == 0 {
		// Either the name is taken or a referenced row is gone.
		var refs bool
		err = q.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM oidc_issuers WHERE uid = $1) AND EXISTS (SELECT 1 FROM users WHERE uid = $2)`,
			p.IssuerUID, p.UserUID).Scan(&refs)
		if err == nil {
			err = store.ErrConflict
			if !refs {
				err = store.ErrNotFound
			}
		}
	}
	if err != nil {
		return fmt.Errorf("postgres: create trust policy %q: %w", p.Name, q.fail(err))
	}
	return nil
}

func (q *queries) GetTrustPolicy(ctx context.Context, name string) (store.TrustPolicy, error) {
	return policies.get(ctx, q, name)
}

func (q *queries) ListTrustPolicies(ctx context.Context, f store.FederationFilter) ([]store.TrustPolicy, error) {
	var w where
	if f.IssuerUID != "" {
		w.add("p.issuer_uid = " + w.arg(f.IssuerUID))
	}
	return policies.list(ctx, q, &w, f.After, f.Limit)
}

func (q *queries) UpdateTrustPolicy(ctx context.Context, p store.TrustPolicy) error {
	c := store.EncodePolicyColumns(p)
	err := q.change(ctx, `UPDATE trust_policies SET description = $1, user_uid = $2, audience = $3, conditions = $4,
		permissions = $5, allowed_cidrs = $6, ttl = $7 WHERE uid = $8`,
		p.Description, p.UserUID, p.Audience, c.Conditions, c.Permissions, c.AllowedCIDRs, int64(p.TTL), p.UID)
	return wrapf(err, "update trust policy %q", p.Name)
}

func (q *queries) DeleteTrustPolicy(ctx context.Context, uid string) error {
	return policies.delete(ctx, q, uid)
}

func (q *queries) FederatedTokens(ctx context.Context, issuerUID, policyUID string) ([]string, error) {
	query, arg := `SELECT t.uid FROM tokens t WHERE t.federated_policy_uid = $1`, policyUID
	if policyUID == "" {
		query, arg = `SELECT t.uid FROM tokens t JOIN trust_policies p ON p.uid = t.federated_policy_uid WHERE p.issuer_uid = $1`, issuerUID
	}
	out, err := q.texts(ctx, query, arg)
	return out, wrapf(err, "federated tokens")
}

func (q *queries) UseJTI(ctx context.Context, issuerURL, jti string, expiresAt time.Time) error {
	// ON CONFLICT: a used jti must not abort the transaction it is asked in.
	err := q.insert(ctx, `INSERT INTO federation_jtis (issuer_url, jti, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT DO NOTHING`, issuerURL, jti, expiresAt)
	return wrapf(err, "use jti")
}

func (q *queries) PruneJTIs(ctx context.Context, t time.Time) (int, error) {
	n, err := q.affected(ctx, `DELETE FROM federation_jtis WHERE expires_at < $1`, t)
	return n, wrapf(err, "prune jtis")
}
