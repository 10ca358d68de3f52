package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

const ldapProviderColumns = `uid, name, base_dn, search_group, bind_mode, search_mode, upn_domain, created_at`

func scanLDAPProvider(sc scanner) (store.LDAPProvider, error) {
	var (
		p         store.LDAPProvider
		createdAt int64
	)
	if err := sc.Scan(&p.UID, &p.Name, &p.BaseDN, &p.SearchGroup, &p.BindMode, &p.SearchMode, &p.UPNDomain, &createdAt); err != nil {
		return store.LDAPProvider{}, err
	}
	p.CreatedAt = fromMicros(createdAt)
	return p, nil
}

func (q *queries) CreateLDAPProvider(ctx context.Context, p store.LDAPProvider) error {
	_, err := q.exec(ctx, `INSERT INTO ldap_providers (`+ldapProviderColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		p.UID, p.Name, p.BaseDN, p.SearchGroup, p.BindMode, p.SearchMode, p.UPNDomain, micros(p.CreatedAt))
	return wrapf(err, "create ldap provider %q", p.Name)
}

func (q *queries) GetLDAPProvider(ctx context.Context, name string) (store.LDAPProvider, error) {
	p, err := one(ctx, q.read, scanLDAPProvider, `SELECT `+ldapProviderColumns+` FROM ldap_providers WHERE name = ?`, name)
	return p, wrapf(err, "get ldap provider %q", name)
}

func (q *queries) ListLDAPProviders(ctx context.Context, f store.LDAPProviderFilter) ([]store.LDAPProvider, error) {
	var w where
	page, args := w.page("name", f.After, f.Limit)
	out, err := queryAll(ctx, q.read, scanLDAPProvider, `SELECT `+ldapProviderColumns+` FROM ldap_providers`+page, args...)
	return out, wrapf(err, "list ldap providers")
}

func (q *queries) UpdateLDAPProvider(ctx context.Context, p store.LDAPProvider) error {
	err := execOne(ctx, q.write, `UPDATE ldap_providers SET base_dn = ?, search_group = ?, bind_mode = ?,
		search_mode = ?, upn_domain = ? WHERE uid = ?`,
		p.BaseDN, p.SearchGroup, p.BindMode, p.SearchMode, p.UPNDomain, p.UID)
	return wrapf(err, "update ldap provider %q", p.Name)
}

// DeleteLDAPProvider deletes a provider no outpost serves. The check and
// the deletion are one statement, so an outpost created concurrently
// either blocks the deletion or fails its own foreign key.
func (q *queries) DeleteLDAPProvider(ctx context.Context, uid string) error {
	n, err := q.affected(ctx, `DELETE FROM ldap_providers WHERE uid = ?
		AND NOT EXISTS (SELECT 1 FROM ldap_outposts WHERE provider_uid = ?)`, uid, uid)
	if err == nil && n == 0 {
		// Not deleted: either it is not there, or outposts serve it.
		if _, err = value[int](ctx, q.read, `SELECT 1 FROM ldap_providers WHERE uid = ?`, uid); err == nil {
			err = fmt.Errorf("outposts serve it: %w", store.ErrConflict)
		}
	}
	return wrapf(err, "delete ldap provider %s", uid)
}

const outpostSelect = `SELECT o.uid, o.name, o.description, o.provider_uid, p.name, o.user_uid, u.username, o.token_ttl, o.created_at
	FROM ldap_outposts o JOIN ldap_providers p ON p.uid = o.provider_uid JOIN users u ON u.uid = o.user_uid`

func scanOutpost(sc scanner) (store.Outpost, error) {
	var (
		o         store.Outpost
		createdAt int64
	)
	var ttl int64
	if err := sc.Scan(&o.UID, &o.Name, &o.Description, &o.ProviderUID, &o.ProviderName, &o.UserUID, &o.Username, &ttl, &createdAt); err != nil {
		return store.Outpost{}, err
	}
	o.CreatedAt = fromMicros(createdAt)
	o.TokenTTL = time.Duration(ttl)
	return o, nil
}

func (q *queries) CreateOutpost(ctx context.Context, o store.Outpost) error {
	_, err := q.exec(ctx, `INSERT INTO ldap_outposts (uid, name, description, provider_uid, user_uid, token_ttl, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, o.UID, o.Name, o.Description, o.ProviderUID, o.UserUID, int64(o.TokenTTL), micros(o.CreatedAt))
	return wrapf(err, "create outpost %q", o.Name)
}

func (q *queries) GetOutpost(ctx context.Context, name string) (store.Outpost, error) {
	o, err := one(ctx, q.read, scanOutpost, outpostSelect+` WHERE o.name = ?`, name)
	return o, wrapf(err, "get outpost %q", name)
}

func (q *queries) GetOutpostByUser(ctx context.Context, userUID string) (store.Outpost, error) {
	o, err := one(ctx, q.read, scanOutpost, outpostSelect+` WHERE o.user_uid = ?`, userUID)
	return o, wrapf(err, "get outpost of user %s", userUID)
}

func (q *queries) ListOutposts(ctx context.Context, f store.OutpostFilter) ([]store.Outpost, error) {
	var w where
	if f.ProviderUID != "" {
		w.add("o.provider_uid = ?", f.ProviderUID)
	}
	page, args := w.page("o.name", f.After, f.Limit)
	out, err := queryAll(ctx, q.read, scanOutpost, outpostSelect+page, args...)
	return out, wrapf(err, "list outposts")
}

func (q *queries) DeleteOutpost(ctx context.Context, uid string) error {
	return wrapf(execOne(ctx, q.write, `DELETE FROM ldap_outposts WHERE uid = ?`, uid), "delete outpost %s", uid)
}

func (q *queries) ListMemberships(ctx context.Context) ([]store.Membership, error) {
	out, err := queryAll(ctx, q.read, func(sc scanner) (m store.Membership, err error) {
		return m, sc.Scan(&m.GroupUID, &m.UserUID)
	}, `SELECT group_uid, user_uid FROM group_members ORDER BY group_uid, user_uid`)
	return out, wrapf(err, "list memberships")
}
