package postgres

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/store"
)

// tokenCols reads a token with its owner's username and type (the join
// in tokenFrom).
const tokenCols = `t.uid, t.identifier, t.user_uid, u.username, u.type, t.intent, t.description,
	t.expiring, t.expires_at, t.extended, t.max_age, t.created_at, t.created_by, t.last_used_at, t.managed,
	t.restrictions`

const tokenFrom = ` FROM tokens t JOIN users u ON u.uid = t.user_uid`

// scanToken scans tokenCols after the destinations in before (LookupKey
// reads the key's columns first).
func scanToken(row pgx.Row, before ...any) (store.Token, error) {
	var t store.Token
	var maxAge int64
	var restrictions *string
	dest := append(before, &t.UID, &t.Identifier, &t.UserUID, &t.Username, &t.UserType, &t.Intent, &t.Description,
		&t.Expiring, &t.ExpiresAt, &t.Extended, &maxAge, &t.CreatedAt, &t.CreatedBy, &t.LastUsedAt, &t.Managed, &restrictions)
	err := row.Scan(dest...)
	if err == nil {
		t.Restrictions, err = store.DecodeRestrictions(restrictions)
	}
	t.ExpiresAt = utcPtr(t.ExpiresAt)
	t.MaxAge = time.Duration(maxAge)
	t.CreatedAt = t.CreatedAt.UTC()
	t.LastUsedAt = utcPtr(t.LastUsedAt)
	return t, err
}

// scanTokenRow is scanToken for queryAll.
func scanTokenRow(row pgx.Row) (store.Token, error) { return scanToken(row) }

// CreateToken inserts the token and its first key in one statement, so
// both or neither are written, without a transaction. The statement first
// looks for a taken uid, identifier or lookup and for the owner, so that
// those expected outcomes do not need a failed statement; a concurrent
// insert of the same identifier or lookup that commits first still
// surfaces as a unique violation, store.ErrConflict too.
func (q *queries) CreateToken(ctx context.Context, t store.Token, k store.TokenKey) error {
	if k.TokenUID != "" && k.TokenUID != t.UID {
		return fmt.Errorf("postgres: create token %q: its key belongs to token %q", t.Identifier, k.TokenUID)
	}
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	var userFound, taken bool
	err := q.db.QueryRow(ctx, `WITH
		u AS (SELECT uid FROM users WHERE uid = $3::text),
		taken AS (
			SELECT 1 FROM tokens WHERE uid = $1::text OR identifier = $2::text
			UNION ALL
			SELECT 1 FROM token_keys WHERE lookup = $14::text),
		t AS (
			INSERT INTO tokens (uid, identifier, user_uid, intent, description, expiring, expires_at,
				extended, max_age, created_at, created_by, last_used_at, managed, restrictions, federated_policy_uid)
			SELECT $1::text, $2::text, u.uid, $4::text, $5::text, $6::boolean, $7::timestamptz,
				$8::boolean, $9::bigint, $10::timestamptz, $11::text, $12::timestamptz, $13::boolean, $18::text,
				NULLIF($19::text, '')
			FROM u WHERE NOT EXISTS (SELECT 1 FROM taken)
			RETURNING uid),
		k AS (
			INSERT INTO token_keys (lookup, token_uid, hash, not_after, created_at)
			SELECT $14::text, t.uid, $15::bytea, $16::timestamptz, $17::timestamptz FROM t)
		SELECT EXISTS (SELECT 1 FROM u), EXISTS (SELECT 1 FROM taken)`,
		t.UID, t.Identifier, t.UserUID, t.Intent, t.Description, t.Expiring, t.ExpiresAt,
		t.Extended, int64(t.MaxAge), t.CreatedAt, t.CreatedBy, t.LastUsedAt, t.Managed,
		k.Lookup, k.Hash, k.NotAfter, k.CreatedAt, store.EncodeRestrictions(t.Restrictions), t.FederatedPolicyUID).Scan(&userFound, &taken)
	if err == nil {
		switch {
		case !userFound:
			err = fmt.Errorf("user %q: %w", t.UserUID, store.ErrNotFound)
		case taken:
			err = store.ErrConflict
		}
	}
	if err != nil {
		return fmt.Errorf("postgres: create token %q: %w", t.Identifier, q.fail(err))
	}
	return nil
}

func (q *queries) GetToken(ctx context.Context, identifier string) (store.Token, error) {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	t, err := scanToken(q.db.QueryRow(ctx, `SELECT `+tokenCols+tokenFrom+` WHERE t.identifier = $1`, identifier))
	if err != nil {
		return store.Token{}, fmt.Errorf("postgres: get token %q: %w", identifier, q.fail(err))
	}
	return t, nil
}

func (q *queries) ListTokens(ctx context.Context, f store.TokenFilter) ([]store.Token, error) {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	query, args := listTokensSQL(f)
	ts, err := queryAll(ctx, q, scanTokenRow, query, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list tokens: %w", err)
	}
	return ts, nil
}

// listTokensSQL is ListTokens' statement and arguments. Each filter has
// an index that yields the page in identifier order (migration 9).
func listTokensSQL(f store.TokenFilter) (string, []any) {
	var w where
	if f.UserUID != "" {
		w.add("t.user_uid = " + w.arg(f.UserUID))
	}
	if f.Intent != "" {
		w.add("t.intent = " + w.arg(f.Intent))
	}
	if f.ExpiringBefore != nil {
		w.add("t.expiring AND t.expires_at < " + w.arg(*f.ExpiringBefore))
	}
	if f.UnusedSince != nil {
		w.add("(t.last_used_at IS NULL OR t.last_used_at < " + w.arg(*f.UnusedSince) + ")")
	}
	if f.Search != "" {
		w.search(f.Search, "t.identifier", "t.description")
	}
	if f.After != "" {
		w.add("t.identifier > " + w.arg(f.After))
	}
	return `SELECT ` + tokenCols + tokenFrom + w.sql("t.identifier", f.Limit), w.args
}

func (q *queries) UpdateToken(ctx context.Context, t store.Token) error {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	err := q.execOne(ctx, `UPDATE tokens SET description = $2, expiring = $3, expires_at = $4,
		extended = $5, max_age = $6, managed = $7 WHERE uid = $1`,
		t.UID, t.Description, t.Expiring, t.ExpiresAt, t.Extended, int64(t.MaxAge), t.Managed)
	if err != nil {
		return fmt.Errorf("postgres: update token %q: %w", t.Identifier, err)
	}
	return nil
}

func (q *queries) CountTokens(ctx context.Context, userUID string) (int, error) {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	var n int
	if err := q.db.QueryRow(ctx, `SELECT count(*) FROM tokens WHERE user_uid = $1 AND NOT managed AND federated_policy_uid IS NULL`, userUID).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: count tokens of %q: %w", userUID, q.fail(err))
	}
	return n, nil
}

// DeleteToken deletes the token; its keys cascade.
func (q *queries) DeleteToken(ctx context.Context, uid string) error {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	if err := q.execOne(ctx, `DELETE FROM tokens WHERE uid = $1`, uid); err != nil {
		return fmt.Errorf("postgres: delete token %q: %w", uid, err)
	}
	return nil
}

const keyCols = `lookup, token_uid, hash, not_after, created_at`

func scanKeyInto(k *store.TokenKey) []any {
	return []any{&k.Lookup, &k.TokenUID, &k.Hash, &k.NotAfter, &k.CreatedAt}
}

func fixKeyTimes(k *store.TokenKey) {
	k.NotAfter = utcPtr(k.NotAfter)
	k.CreatedAt = k.CreatedAt.UTC()
}

// ListTokenKeys lists the token's keys newest first; the lookup breaks
// ties so that the order is stable.
func (q *queries) ListTokenKeys(ctx context.Context, tokenUID string) ([]store.TokenKey, error) {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	ks, err := queryAll(ctx, q, func(r pgx.Row) (store.TokenKey, error) {
		var k store.TokenKey
		err := r.Scan(scanKeyInto(&k)...)
		fixKeyTimes(&k)
		return k, err
	}, `SELECT `+keyCols+` FROM token_keys WHERE token_uid = $1
		ORDER BY created_at DESC, lookup DESC`, tokenUID)
	if err != nil {
		return nil, fmt.Errorf("postgres: list keys of token %q: %w", tokenUID, err)
	}
	return ks, nil
}

// AddTokenKey adds a key to an existing token: store.ErrNotFound when the
// token is gone, store.ErrConflict when the lookup is taken.
func (q *queries) AddTokenKey(ctx context.Context, k store.TokenKey) error {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	var found, inserted bool
	err := q.db.QueryRow(ctx, `WITH
		t AS (SELECT uid FROM tokens WHERE uid = $2::text),
		ins AS (
			INSERT INTO token_keys (lookup, token_uid, hash, not_after, created_at)
			SELECT $1::text, t.uid, $3::bytea, $4::timestamptz, $5::timestamptz FROM t
			ON CONFLICT DO NOTHING
			RETURNING 1)
		SELECT EXISTS (SELECT 1 FROM t), EXISTS (SELECT 1 FROM ins)`,
		k.Lookup, k.TokenUID, k.Hash, k.NotAfter, k.CreatedAt).Scan(&found, &inserted)
	if err == nil {
		switch {
		case !found:
			err = store.ErrNotFound
		case !inserted:
			err = store.ErrConflict
		}
	}
	if err != nil {
		return fmt.Errorf("postgres: add key to token %q: %w", k.TokenUID, q.fail(err))
	}
	return nil
}

func (q *queries) LimitTokenKeys(ctx context.Context, tokenUID string, notAfter time.Time) error {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	if _, err := q.db.Exec(ctx, `UPDATE token_keys SET not_after = $2
		WHERE token_uid = $1 AND (not_after IS NULL OR not_after > $2)`, tokenUID, notAfter); err != nil {
		return fmt.Errorf("postgres: limit keys of token %q: %w", tokenUID, q.fail(err))
	}
	return nil
}

func (q *queries) DeleteTokenKeysBefore(ctx context.Context, t time.Time) (int, error) {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	tag, err := q.db.Exec(ctx, `DELETE FROM token_keys WHERE not_after <= $1`, t)
	if err != nil {
		return 0, fmt.Errorf("postgres: delete keys before %s: %w", t.Format(time.RFC3339Nano), q.fail(err))
	}
	return int(tag.RowsAffected()), nil
}

// lookupKeySQL reads a key with its token and the token's owner.
const lookupKeySQL = `SELECT k.lookup, k.token_uid, k.hash, k.not_after, k.created_at, ` + tokenCols + `
	FROM token_keys k JOIN tokens t ON t.uid = k.token_uid JOIN users u ON u.uid = t.user_uid
	WHERE k.lookup = $1`

// LookupKey is the cold path of every credential check: one query, three
// primary-key probes (token_keys, tokens, users), whatever the number of
// tokens.
func (q *queries) LookupKey(ctx context.Context, lookup string) (store.TokenKey, store.Token, error) {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	var k store.TokenKey
	t, err := scanToken(q.db.QueryRow(ctx, lookupKeySQL, lookup), scanKeyInto(&k)...)
	if err != nil {
		// The lookup part is public (it travels in front of the secret),
		// but a failed lookup may be a mistyped secret: keep it out.
		return store.TokenKey{}, store.Token{}, fmt.Errorf("postgres: look up key: %w", q.fail(err))
	}
	fixKeyTimes(&k)
	return k, t, nil
}

// loadKeySQL is lookupKeySQL with the owner's row and grants, which a
// lateral subquery computes from the same snapshot.
var loadKeySQL = `SELECT k.lookup, k.token_uid, k.hash, k.not_after, k.created_at,
	u.name, u.email, u.description, u.is_active, u.managed, u.password_hash, u.password_changed_at, u.created_at, u.last_login_at,
	gr.*, ` + tokenCols + `
	FROM token_keys k JOIN tokens t ON t.uid = k.token_uid JOIN users u ON u.uid = t.user_uid
	CROSS JOIN LATERAL (` + grantsSQL("u.uid") + `) gr
	WHERE k.lookup = $1`

// LoadKey is LookupKey with the owner and its grants: the first use of a
// key in one round trip, where it took three.
func (q *queries) LoadKey(ctx context.Context, lookup string) (store.KeyLoad, error) {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	var l store.KeyLoad
	u, g := &l.Owner, &l.Grants
	before := append(scanKeyInto(&l.Key), &u.Name, &u.Email, &u.Description, &u.IsActive, &u.Managed, &u.PasswordHash,
		&u.PasswordChangedAt, &u.CreatedAt, &u.LastLoginAt, &g.Groups, &g.DirectRoles, &g.Roles, &g.Permissions)
	t, err := scanToken(q.db.QueryRow(ctx, loadKeySQL, lookup), before...)
	if err != nil {
		return store.KeyLoad{}, fmt.Errorf("postgres: load key: %w", q.fail(err))
	}
	fixKeyTimes(&l.Key)
	l.Token = t
	u.UID, u.Username, u.Type = t.UserUID, t.Username, t.UserType
	u.PasswordChangedAt = utcPtr(u.PasswordChangedAt)
	u.CreatedAt = u.CreatedAt.UTC()
	u.LastLoginAt = utcPtr(u.LastLoginAt)
	return l, nil
}

// TouchTokens writes a batch of token uses in one statement. last_used_at
// never moves backwards (GREATEST ignores NULL, so a first use is
// written). expires_at is only written for extended tokens, and also only
// forwards: the batch may come from a cache that has not yet seen an
// update making the token non-extended, and another instance may already
// have written a later expiry.
//
// It runs serializable (with retries) rather than as a bare statement:
// two instances flushing overlapping batches lock the same rows in
// different orders and can deadlock, which a retry resolves.
func (q *queries) TouchTokens(ctx context.Context, uses []store.TokenUse) error {
	if len(uses) == 0 {
		return nil
	}
	// One row per token: UPDATE ... FROM applies only one of several
	// matching source rows, and not necessarily the latest.
	type use struct {
		last    time.Time
		expires *time.Time
	}
	merged := make(map[string]use, len(uses))
	for _, u := range uses {
		m, ok := merged[u.TokenUID]
		if !ok || u.LastUsedAt.After(m.last) {
			m.last = u.LastUsedAt
		}
		if u.ExpiresAt != nil && (m.expires == nil || u.ExpiresAt.After(*m.expires)) {
			m.expires = u.ExpiresAt
		}
		merged[u.TokenUID] = m
	}
	uids := make([]string, 0, len(merged))
	for uid := range merged {
		uids = append(uids, uid)
	}
	slices.Sort(uids)
	lasts := make([]time.Time, len(uids))
	expires := make([]*time.Time, len(uids))
	for i, uid := range uids {
		lasts[i], expires[i] = merged[uid].last, merged[uid].expires
	}

	ctx, cancel := q.timeout(ctx)
	defer cancel()
	err := q.atomically(ctx, func(q *queries) error {
		_, err := q.db.Exec(ctx, `UPDATE tokens t SET
			last_used_at = GREATEST(t.last_used_at, u.last_used_at),
			expires_at = CASE WHEN t.extended AND t.expiring AND u.expires_at IS NOT NULL
				THEN GREATEST(t.expires_at, u.last_used_at + make_interval(secs => t.max_age / 1000000000.0))
				ELSE t.expires_at END
			FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[]) AS u (uid, last_used_at, expires_at)
			WHERE t.uid = u.uid`, uids, lasts, expires)
		return q.fail(err)
	})
	if err != nil {
		return fmt.Errorf("postgres: touch %d tokens: %w", len(uids), err)
	}
	return nil
}

// ExpiredTokens lists tokens of an intent whose expiry has passed, oldest
// expiry first.
func (q *queries) ExpiredTokens(ctx context.Context, intent string, t time.Time, limit int) ([]store.Token, error) {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	var w where
	if intent == store.ExpiredFederated {
		w.add("t.federated_policy_uid IS NOT NULL")
	} else {
		w.add("t.intent = " + w.arg(intent))
	}
	w.add("t.expires_at <= " + w.arg(t))
	ts, err := queryAll(ctx, q, scanTokenRow, `SELECT `+tokenCols+tokenFrom+w.sql("t.expires_at, t.identifier", limit), w.args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: expired %s tokens: %w", intent, err)
	}
	return ts, nil
}

// ManagedTokensExpiringBefore lists managed API tokens expiring before t,
// soonest first.
func (q *queries) ManagedTokensExpiringBefore(ctx context.Context, t time.Time, limit int) ([]store.Token, error) {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	var w where
	w.add("t.managed")
	w.add("t.intent = " + w.arg(store.IntentAPI))
	w.add("t.expires_at < " + w.arg(t))
	ts, err := queryAll(ctx, q, scanTokenRow, `SELECT `+tokenCols+tokenFrom+w.sql("t.expires_at, t.identifier", limit), w.args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: managed tokens expiring before %s: %w", t.Format(time.RFC3339), err)
	}
	return ts, nil
}
