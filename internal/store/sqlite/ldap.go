package sqlite

import (
	"context"
	"database/sql"
	"errors"
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
	if err != nil {
		return fmt.Errorf("create ldap provider %q: %w", p.Name, err)
	}
	return nil
}

func (q *queries) GetLDAPProvider(ctx context.Context, name string) (store.LDAPProvider, error) {
	p, err := scanLDAPProvider(q.read.QueryRowContext(ctx, `SELECT `+ldapProviderColumns+` FROM ldap_providers WHERE name = ?`, name))
	if err != nil {
		return store.LDAPProvider{}, fmt.Errorf("get ldap provider %q: %w", name, notFound(err))
	}
	return p, nil
}

func (q *queries) ListLDAPProviders(ctx context.Context, f store.LDAPProviderFilter) ([]store.LDAPProvider, error) {
	var w where
	if f.After != "" {
		w.add("name > ?", f.After)
	}
	out, err := queryAll(ctx, q.read, scanLDAPProvider, `SELECT `+ldapProviderColumns+` FROM ldap_providers`+w.String()+
		` ORDER BY name LIMIT ?`, append(w.args, limitArg(f.Limit))...)
	if err != nil {
		return nil, fmt.Errorf("list ldap providers: %w", err)
	}
	return out, nil
}

func (q *queries) UpdateLDAPProvider(ctx context.Context, p store.LDAPProvider) error {
	err := execOne(ctx, q.write, `UPDATE ldap_providers SET base_dn = ?, search_group = ?, bind_mode = ?,
		search_mode = ?, upn_domain = ? WHERE uid = ?`,
		p.BaseDN, p.SearchGroup, p.BindMode, p.SearchMode, p.UPNDomain, p.UID)
	if err != nil {
		return fmt.Errorf("update ldap provider %q: %w", p.Name, err)
	}
	return nil
}

// DeleteLDAPProvider deletes a provider no outpost serves. The check and
// the deletion are one statement, so an outpost created concurrently
// either blocks the deletion or fails its own foreign key.
func (q *queries) DeleteLDAPProvider(ctx context.Context, uid string) error {
	res, err := q.exec(ctx, `DELETE FROM ldap_providers WHERE uid = ?
		AND NOT EXISTS (SELECT 1 FROM ldap_outposts WHERE provider_uid = ?)`, uid, uid)
	if err != nil {
		return fmt.Errorf("delete ldap provider %s: %w", uid, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("delete ldap provider %s: %w", uid, err)
	} else if n == 1 {
		return nil
	}
	var exists int
	err = q.read.QueryRowContext(ctx, `SELECT 1 FROM ldap_providers WHERE uid = ?`, uid).Scan(&exists)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("delete ldap provider %s: %w", uid, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("delete ldap provider %s: %w", uid, err)
	}
	return fmt.Errorf("delete ldap provider %s: outposts serve it: %w", uid, store.ErrConflict)
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
	if err != nil {
		return fmt.Errorf("create outpost %q: %w", o.Name, err)
	}
	return nil
}

func (q *queries) GetOutpost(ctx context.Context, name string) (store.Outpost, error) {
	o, err := scanOutpost(q.read.QueryRowContext(ctx, outpostSelect+` WHERE o.name = ?`, name))
	if err != nil {
		return store.Outpost{}, fmt.Errorf("get outpost %q: %w", name, notFound(err))
	}
	return o, nil
}

func (q *queries) GetOutpostByUser(ctx context.Context, userUID string) (store.Outpost, error) {
	o, err := scanOutpost(q.read.QueryRowContext(ctx, outpostSelect+` WHERE o.user_uid = ?`, userUID))
	if err != nil {
		return store.Outpost{}, fmt.Errorf("get outpost of user %s: %w", userUID, notFound(err))
	}
	return o, nil
}

func (q *queries) ListOutposts(ctx context.Context, f store.OutpostFilter) ([]store.Outpost, error) {
	var w where
	if f.ProviderUID != "" {
		w.add("o.provider_uid = ?", f.ProviderUID)
	}
	if f.After != "" {
		w.add("o.name > ?", f.After)
	}
	out, err := queryAll(ctx, q.read, scanOutpost, outpostSelect+w.String()+` ORDER BY o.name LIMIT ?`, append(w.args, limitArg(f.Limit))...)
	if err != nil {
		return nil, fmt.Errorf("list outposts: %w", err)
	}
	return out, nil
}

func (q *queries) DeleteOutpost(ctx context.Context, uid string) error {
	if err := execOne(ctx, q.write, `DELETE FROM ldap_outposts WHERE uid = ?`, uid); err != nil {
		return fmt.Errorf("delete outpost %s: %w", uid, err)
	}
	return nil
}

func (q *queries) ListMemberships(ctx context.Context) ([]store.Membership, error) {
	out, err := queryAll(ctx, q.read, func(sc scanner) (m store.Membership, err error) {
		return m, sc.Scan(&m.GroupUID, &m.UserUID)
	}, `SELECT group_uid, user_uid FROM group_members ORDER BY group_uid, user_uid`)
	if err != nil {
		return nil, fmt.Errorf("list memberships: %w", err)
	}
	return out, nil
}
