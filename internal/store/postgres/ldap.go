package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/store"
)

const ldapProviderCols = `uid, name, base_dn, search_group, bind_mode, search_mode, upn_domain, created_at`

func scanLDAPProvider(row pgx.Row) (store.LDAPProvider, error) {
	var p store.LDAPProvider
	err := row.Scan(&p.UID, &p.Name, &p.BaseDN, &p.SearchGroup, &p.BindMode, &p.SearchMode, &p.UPNDomain, &p.CreatedAt)
	p.CreatedAt = p.CreatedAt.UTC()
	return p, err
}

var ldapProviders = table[store.LDAPProvider]{what: "ldap provider", plural: "ldap providers", name: "ldap_providers",
	sel: `SELECT ` + ldapProviderCols + ` FROM ldap_providers`, key: "name", scan: scanLDAPProvider}

func (q *queries) CreateLDAPProvider(ctx context.Context, p store.LDAPProvider) error {
	err := q.insert(ctx, `INSERT INTO ldap_providers (`+ldapProviderCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
		p.UID, p.Name, p.BaseDN, p.SearchGroup, p.BindMode, p.SearchMode, p.UPNDomain, p.CreatedAt)
	return wrapf(err, "create ldap provider %q", p.Name)
}

func (q *queries) GetLDAPProvider(ctx context.Context, name string) (store.LDAPProvider, error) {
	return ldapProviders.get(ctx, q, name)
}

func (q *queries) ListLDAPProviders(ctx context.Context, f store.LDAPProviderFilter) ([]store.LDAPProvider, error) {
	return ldapProviders.list(ctx, q, nil, f.After, f.Limit)
}

func (q *queries) UpdateLDAPProvider(ctx context.Context, p store.LDAPProvider) error {
	err := q.change(ctx, `UPDATE ldap_providers SET base_dn = $1, search_group = $2, bind_mode = $3,
		search_mode = $4, upn_domain = $5 WHERE uid = $6`,
		p.BaseDN, p.SearchGroup, p.BindMode, p.SearchMode, p.UPNDomain, p.UID)
	return wrapf(err, "update ldap provider %q", p.Name)
}

// DeleteLDAPProvider deletes a provider no outpost serves; the check and
// the deletion are one statement.
func (q *queries) DeleteLDAPProvider(ctx context.Context, uid string) error {
	type outcome struct{ found, deleted bool }
	o, err := one(ctx, q, func(r pgx.Row) (o outcome, err error) { return o, r.Scan(&o.found, &o.deleted) }, `WITH
		target AS (SELECT uid FROM ldap_providers WHERE uid = $1),
		del AS (
			DELETE FROM ldap_providers WHERE uid = $1
			AND NOT EXISTS (SELECT 1 FROM ldap_outposts WHERE provider_uid = $1)
			RETURNING 1)
		SELECT EXISTS (SELECT 1 FROM target), EXISTS (SELECT 1 FROM del)`, uid)
	switch {
	case err != nil:
	case !o.found:
		err = store.ErrNotFound
	case !o.deleted:
		err = fmt.Errorf("outposts serve it: %w", store.ErrConflict)
	}
	return wrapf(err, "delete ldap provider %q", uid)
}

const outpostSelect = `SELECT o.uid, o.name, o.description, o.provider_uid, p.name, o.user_uid, u.username, o.token_ttl, o.created_at
	FROM ldap_outposts o JOIN ldap_providers p ON p.uid = o.provider_uid JOIN users u ON u.uid = o.user_uid`

var outposts = table[store.Outpost]{what: "outpost", plural: "outposts", name: "ldap_outposts",
	sel: outpostSelect, key: "o.name", scan: scanOutpost}

func scanOutpost(row pgx.Row) (store.Outpost, error) {
	var o store.Outpost
	var ttl int64
	err := row.Scan(&o.UID, &o.Name, &o.Description, &o.ProviderUID, &o.ProviderName, &o.UserUID, &o.Username, &ttl, &o.CreatedAt)
	o.CreatedAt = o.CreatedAt.UTC()
	o.TokenTTL = time.Duration(ttl)
	return o, err
}

// CreateOutpost inserts the outpost when its provider and user exist; a
// taken name or user is store.ErrConflict, a missing parent
// store.ErrNotFound, without aborting the surrounding transaction.
func (q *queries) CreateOutpost(ctx context.Context, o store.Outpost) error {
	type outcome struct{ pFound, uFound, inserted bool }
	r, err := one(ctx, q, func(row pgx.Row) (r outcome, err error) { return r, row.Scan(&r.pFound, &r.uFound, &r.inserted) }, `WITH
		p AS (SELECT uid FROM ldap_providers WHERE uid = $4),
		u AS (SELECT uid FROM users WHERE uid = $5),
		ins AS (
			INSERT INTO ldap_outposts (uid, name, description, provider_uid, user_uid, created_at, token_ttl)
			SELECT $1, $2, $3, p.uid, u.uid, $6, $7 FROM p CROSS JOIN u
			ON CONFLICT DO NOTHING
			RETURNING 1)
		SELECT EXISTS (SELECT 1 FROM p), EXISTS (SELECT 1 FROM u), EXISTS (SELECT 1 FROM ins)`,
		o.UID, o.Name, o.Description, o.ProviderUID, o.UserUID, o.CreatedAt, int64(o.TokenTTL))
	if err == nil {
		err = linkOutcome(r.pFound, r.uFound, "ldap provider", "user")
	}
	if err == nil && !r.inserted {
		err = store.ErrConflict
	}
	return wrapf(err, "create outpost %q", o.Name)
}

func (q *queries) GetOutpost(ctx context.Context, name string) (store.Outpost, error) {
	return outposts.get(ctx, q, name)
}

func (q *queries) GetOutpostByUser(ctx context.Context, userUID string) (store.Outpost, error) {
	return outposts.getBy(ctx, q, "o.user_uid", userUID)
}

func (q *queries) ListOutposts(ctx context.Context, f store.OutpostFilter) ([]store.Outpost, error) {
	var w where
	if f.ProviderUID != "" {
		w.add("o.provider_uid = " + w.arg(f.ProviderUID))
	}
	return outposts.list(ctx, q, &w, f.After, f.Limit)
}

func (q *queries) DeleteOutpost(ctx context.Context, uid string) error {
	return outposts.delete(ctx, q, uid)
}

func scanMembership(r pgx.Row) (m store.Membership, err error) {
	return m, r.Scan(&m.GroupUID, &m.UserUID)
}

func (q *queries) ListMemberships(ctx context.Context) ([]store.Membership, error) {
	ms, err := all(ctx, q, scanMembership, `SELECT group_uid, user_uid FROM group_members ORDER BY group_uid, user_uid`)
	return ms, wrapf(err, "list memberships")
}
