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

func (q *queries) CreateLDAPProvider(ctx context.Context, p store.LDAPProvider) error {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	tag, err := q.db.Exec(ctx, `INSERT INTO ldap_providers (`+ldapProviderCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
		p.UID, p.Name, p.BaseDN, p.SearchGroup, p.BindMode, p.SearchMode, p.UPNDomain, p.CreatedAt)
	if err == nil {
		err = insertOutcome(tag)
	}
	if err != nil {
		return fmt.Errorf("postgres: create ldap provider %q: %w", p.Name, q.fail(err))
	}
	return nil
}

func (q *queries) GetLDAPProvider(ctx context.Context, name string) (store.LDAPProvider, error) {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	p, err := scanLDAPProvider(q.db.QueryRow(ctx, `SELECT `+ldapProviderCols+` FROM ldap_providers WHERE name = $1`, name))
	if err != nil {
		return store.LDAPProvider{}, fmt.Errorf("postgres: get ldap provider %q: %w", name, q.fail(err))
	}
	return p, nil
}

func (q *queries) ListLDAPProviders(ctx context.Context, f store.LDAPProviderFilter) ([]store.LDAPProvider, error) {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	var w where
	if f.After != "" {
		w.add("name > " + w.arg(f.After))
	}
	ps, err := queryAll(ctx, q, scanLDAPProvider, `SELECT `+ldapProviderCols+` FROM ldap_providers`+w.sql("name", f.Limit), w.args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list ldap providers: %w", err)
	}
	return ps, nil
}

func (q *queries) UpdateLDAPProvider(ctx context.Context, p store.LDAPProvider) error {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	err := q.execOne(ctx, `UPDATE ldap_providers SET base_dn = $1, search_group = $2, bind_mode = $3,
		search_mode = $4, upn_domain = $5 WHERE uid = $6`,
		p.BaseDN, p.SearchGroup, p.BindMode, p.SearchMode, p.UPNDomain, p.UID)
	if err != nil {
		return fmt.Errorf("postgres: update ldap provider %q: %w", p.Name, err)
	}
	return nil
}

// DeleteLDAPProvider deletes a provider no outpost serves; the check and
// the deletion are one statement.
func (q *queries) DeleteLDAPProvider(ctx context.Context, uid string) error {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	var found, deleted bool
	err := q.db.QueryRow(ctx, `WITH
		target AS (SELECT uid FROM ldap_providers WHERE uid = $1),
		del AS (
			DELETE FROM ldap_providers WHERE uid = $1
			AND NOT EXISTS (SELECT 1 FROM ldap_outposts WHERE provider_uid = $1)
			RETURNING 1)
		SELECT EXISTS (SELECT 1 FROM target), EXISTS (SELECT 1 FROM del)`, uid).Scan(&found, &deleted)
	switch {
	case err != nil:
		err = q.fail(err)
	case !found:
		err = store.ErrNotFound
	case !deleted:
		err = fmt.Errorf("outposts serve it: %w", store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("postgres: delete ldap provider %q: %w", uid, err)
	}
	return nil
}

const outpostSelect = `SELECT o.uid, o.name, o.description, o.provider_uid, p.name, o.user_uid, u.username, o.token_ttl, o.created_at
	FROM ldap_outposts o JOIN ldap_providers p ON p.uid = o.provider_uid JOIN users u ON u.uid = o.user_uid`

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
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	var pFound, uFound, inserted bool
	err := q.db.QueryRow(ctx, `WITH
		p AS (SELECT uid FROM ldap_providers WHERE uid = $4),
		u AS (SELECT uid FROM users WHERE uid = $5),
		ins AS (
			INSERT INTO ldap_outposts (uid, name, description, provider_uid, user_uid, created_at, token_ttl)
			SELECT $1, $2, $3, p.uid, u.uid, $6, $7 FROM p CROSS JOIN u
			ON CONFLICT DO NOTHING
			RETURNING 1)
		SELECT EXISTS (SELECT 1 FROM p), EXISTS (SELECT 1 FROM u), EXISTS (SELECT 1 FROM ins)`,
		o.UID, o.Name, o.Description, o.ProviderUID, o.UserUID, o.CreatedAt, int64(o.TokenTTL)).Scan(&pFound, &uFound, &inserted)
	if err == nil {
		err = linkOutcome(pFound, uFound, "ldap provider", "user")
	}
	if err == nil && !inserted {
		err = store.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("postgres: create outpost %q: %w", o.Name, q.fail(err))
	}
	return nil
}

func (q *queries) GetOutpost(ctx context.Context, name string) (store.Outpost, error) {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	o, err := scanOutpost(q.db.QueryRow(ctx, outpostSelect+` WHERE o.name = $1`, name))
	if err != nil {
		return store.Outpost{}, fmt.Errorf("postgres: get outpost %q: %w", name, q.fail(err))
	}
	return o, nil
}

func (q *queries) GetOutpostByUser(ctx context.Context, userUID string) (store.Outpost, error) {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	o, err := scanOutpost(q.db.QueryRow(ctx, outpostSelect+` WHERE o.user_uid = $1`, userUID))
	if err != nil {
		return store.Outpost{}, fmt.Errorf("postgres: get outpost of user %q: %w", userUID, q.fail(err))
	}
	return o, nil
}

func (q *queries) ListOutposts(ctx context.Context, f store.OutpostFilter) ([]store.Outpost, error) {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	var w where
	if f.ProviderUID != "" {
		w.add("o.provider_uid = " + w.arg(f.ProviderUID))
	}
	if f.After != "" {
		w.add("o.name > " + w.arg(f.After))
	}
	os, err := queryAll(ctx, q, scanOutpost, outpostSelect+w.sql("o.name", f.Limit), w.args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list outposts: %w", err)
	}
	return os, nil
}

func (q *queries) DeleteOutpost(ctx context.Context, uid string) error {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	if err := q.execOne(ctx, `DELETE FROM ldap_outposts WHERE uid = $1`, uid); err != nil {
		return fmt.Errorf("postgres: delete outpost %q: %w", uid, err)
	}
	return nil
}

func scanMembership(r pgx.Row) (m store.Membership, err error) {
	return m, r.Scan(&m.GroupUID, &m.UserUID)
}

func (q *queries) ListMemberships(ctx context.Context) ([]store.Membership, error) {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	ms, err := queryAll(ctx, q, scanMembership, `SELECT group_uid, user_uid FROM group_members ORDER BY group_uid, user_uid`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list memberships: %w", err)
	}
	return ms, nil
}
