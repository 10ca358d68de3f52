package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// tokenSelect reads tokens with their owner's username and type.
const tokenSelect = `SELECT ` + tokenColumns + ` FROM tokens t JOIN users u ON u.uid = t.user_uid`

// tokenColumns are the columns tokenDest reads, of tokens t and users u.
const tokenColumns = `t.uid, t.identifier, t.user_uid, u.username, u.type, t.intent, t.description,
	t.expiring, t.expires_at, t.extended, t.max_age, t.created_at, t.created_by, t.last_used_at, t.managed,
	t.restrictions`

// tokenSelectFrom is tokenSelect reading tokens t from from (the table
// with an INDEXED BY clause).
func tokenSelectFrom(from string) string {
	return `SELECT ` + tokenColumns + ` FROM ` + from + ` JOIN users u ON u.uid = t.user_uid`
}

// tokenDest returns the scan destinations of tokenSelect's columns and a
// function that finishes the token once they are filled.
func tokenDest(t *store.Token) ([]any, func() error) {
	var (
		expiring, extended, managed int
		expiresAt, lastUsedAt       sql.NullInt64
		maxAge, createdAt           int64
		restrictions                sql.NullString
	)
	dest := []any{&t.UID, &t.Identifier, &t.UserUID, &t.Username, &t.UserType, &t.Intent, &t.Description,
		&expiring, &expiresAt, &extended, &maxAge, &createdAt, &t.CreatedBy, &lastUsedAt, &managed, &restrictions}
	return dest, func() error {
		t.Expiring = expiring != 0
		t.ExpiresAt = optTime(expiresAt)
		t.Extended = extended != 0
		t.MaxAge = time.Duration(maxAge)
		t.CreatedAt = fromMicros(createdAt)
		t.LastUsedAt = optTime(lastUsedAt)
		t.Managed = managed != 0
		var err error
		if restrictions.Valid {
			t.Restrictions, err = store.DecodeRestrictions(&restrictions.String)
		}
		return err
	}
}

func scanToken(sc scanner) (store.Token, error) {
	var t store.Token
	dest, finish := tokenDest(&t)
	if err := sc.Scan(dest...); err != nil {
		return store.Token{}, err
	}
	return t, finish()
}

func scanTokens(rows *sql.Rows) ([]store.Token, error) { return scanAll(rows, scanToken) }

// hashArg binds a key hash as a BLOB; a nil slice would bind as NULL.
func hashArg(h []byte) []byte {
	if h == nil {
		return []byte{}
	}
	return h
}

const insertTokenKey = `INSERT INTO token_keys (lookup, token_uid, hash, not_after, created_at) VALUES (?, ?, ?, ?, ?)`

// CreateToken inserts the token and its first key together. The key
// belongs to the new token whatever k.TokenUID says.
func (q *queries) CreateToken(ctx context.Context, t store.Token, k store.TokenKey) error {
	err := q.atomically(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO tokens (uid, identifier, user_uid, intent, description,
			expiring, expires_at, extended, max_age, created_at, created_by, last_used_at, managed, restrictions,
			federated_policy_uid)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULLIF(?, ''))`,
			t.UID, t.Identifier, t.UserUID, t.Intent, t.Description,
			boolInt(t.Expiring), optMicros(t.ExpiresAt), boolInt(t.Extended), int64(t.MaxAge),
			micros(t.CreatedAt), t.CreatedBy, optMicros(t.LastUsedAt), boolInt(t.Managed), store.EncodeRestrictions(t.Restrictions),
			t.FederatedPolicyUID)
		if err != nil {
			return mapErr(err)
		}
		_, err = tx.ExecContext(ctx, insertTokenKey, k.Lookup, t.UID, hashArg(k.Hash), optMicros(k.NotAfter), micros(k.CreatedAt))
		return mapErr(err)
	})
	if err != nil {
		return fmt.Errorf("create token %q: %w", t.Identifier, err)
	}
	return nil
}

func (q *queries) GetToken(ctx context.Context, identifier string) (store.Token, error) {
	t, err := scanToken(q.read.QueryRowContext(ctx, tokenSelect+` WHERE t.identifier = ?`, identifier))
	if err != nil {
		return store.Token{}, fmt.Errorf("get token %q: %w", identifier, notFound(err))
	}
	return t, nil
}

func (q *queries) CountTokens(ctx context.Context, userUID string) (int, error) {
	var n int
	err := q.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM tokens WHERE user_uid = ? AND managed = 0 AND federated_policy_uid IS NULL`, userUID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count tokens of %q: %w", userUID, err)
	}
	return n, nil
}

// fewExpiring is how many tokens an expiry filter may match for a
// fleet-wide page to be read from the expiry index and sorted; past it,
// walking identifiers finds the page's matches sooner.
var fewExpiring = 5000 // a variable for the plan tests

// ListTokens chooses its index itself, whatever the statistics say
// (migration 9): an account's tokens walk tokens_user_identifier; a
// fleet-wide page walks tokens_identifier_filters, or, when an expiry
// window holds fewer than fewExpiring tokens, reads their identifiers
// from the expiry index, sorts them and fetches the page. SQLite keeps no
// histogram of expiry times, so only counting tells the two apart. The
// filters are tested on index entries; a row is read for each token on
// the page (and for the search, which no index holds).
func (q *queries) ListTokens(ctx context.Context, f store.TokenFilter) ([]store.Token, error) {
	query, args, err := q.listTokensQuery(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	rows, err := q.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	ts, err := scanTokens(rows)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return ts, nil
}

// listTokensQuery is ListTokens' statement and arguments.
func (q *queries) listTokensQuery(ctx context.Context, f store.TokenFilter) (string, []any, error) {
	var w where
	index := "tokens_identifier_filters"
	if f.UserUID != "" {
		w.add("t.user_uid = ?", f.UserUID)
		index = "tokens_user_identifier"
	}
	if f.Intent != "" {
		w.add("t.intent = ?", f.Intent)
	}
	if f.ExpiringBefore != nil {
		w.add("t.expiring = 1 AND t.expires_at < ?", micros(*f.ExpiringBefore))
	}
	if f.UnusedSince != nil {
		w.add("(t.last_used_at IS NULL OR t.last_used_at < ?)", micros(*f.UnusedSince))
	}
	if f.Search != "" {
		w.search(f.Search, "t.identifier", "t.description")
	}
	if f.After != "" {
		w.add("t.identifier > ?", f.After)
	}
	query := tokenSelectFrom("tokens t INDEXED BY "+index) + w.String() + ` ORDER BY t.identifier LIMIT ?`
	args := append(w.args, limitArg(f.Limit))
	if f.UserUID == "" && f.ExpiringBefore != nil {
		few, err := q.fewExpiring(ctx, f.Intent, *f.ExpiringBefore)
		if err != nil {
			return "", nil, err
		}
		if few {
			index = "tokens_expires_at"
			if f.Intent != "" {
				index = "tokens_intent_expires_at"
			}
			query = tokenSelect + ` WHERE t.identifier IN (SELECT t.identifier FROM tokens t INDEXED BY ` + index +
				w.String() + ` ORDER BY t.identifier LIMIT ?) ORDER BY t.identifier`
		}
	}
	return query, args, nil
}

// fewExpiring reports whether fewer than fewExpiring tokens (of intent,
// when given) expire before t, counted on the expiry index alone.
func (q *queries) fewExpiring(ctx context.Context, intent string, t time.Time) (bool, error) {
	var n int
	var err error
	if intent != "" {
		err = q.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM tokens INDEXED BY tokens_intent_expires_at
			WHERE intent = ? AND expires_at < ? LIMIT ?)`, intent, micros(t), fewExpiring).Scan(&n)
	} else {
		err = q.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM tokens INDEXED BY tokens_expires_at
			WHERE expires_at < ? LIMIT ?)`, micros(t), fewExpiring).Scan(&n)
	}
	return n < fewExpiring, err
}

func (q *queries) UpdateToken(ctx context.Context, t store.Token) error {
	err := execOne(ctx, q.write, `UPDATE tokens SET description = ?, expiring = ?, expires_at = ?,
		extended = ?, max_age = ?, managed = ? WHERE uid = ?`,
		t.Description, boolInt(t.Expiring), optMicros(t.ExpiresAt), boolInt(t.Extended), int64(t.MaxAge),
		boolInt(t.Managed), t.UID)
	if err != nil {
		return fmt.Errorf("update token %q: %w", t.Identifier, err)
	}
	return nil
}

// DeleteToken deletes a token; the foreign key cascades to its keys.
func (q *queries) DeleteToken(ctx context.Context, uid string) error {
	if err := execOne(ctx, q.write, `DELETE FROM tokens WHERE uid = ?`, uid); err != nil {
		return fmt.Errorf("delete token %s: %w", uid, err)
	}
	return nil
}

const keyColumns = `lookup, token_uid, hash, not_after, created_at`

func keyDest(k *store.TokenKey) ([]any, func()) {
	var (
		notAfter  sql.NullInt64
		createdAt int64
	)
	return []any{&k.Lookup, &k.TokenUID, &k.Hash, &notAfter, &createdAt}, func() {
		k.NotAfter = optTime(notAfter)
		k.CreatedAt = fromMicros(createdAt)
	}
}

func (q *queries) ListTokenKeys(ctx context.Context, tokenUID string) ([]store.TokenKey, error) {
	out, err := queryAll(ctx, q.read, func(sc scanner) (store.TokenKey, error) {
		var k store.TokenKey
		dest, finish := keyDest(&k)
		err := sc.Scan(dest...)
		finish()
		return k, err
	}, `SELECT `+keyColumns+` FROM token_keys WHERE token_uid = ?
		ORDER BY created_at DESC, lookup DESC`, tokenUID)
	if err != nil {
		return nil, fmt.Errorf("list keys of token %s: %w", tokenUID, err)
	}
	return out, nil
}

func (q *queries) AddTokenKey(ctx context.Context, k store.TokenKey) error {
	// A taken lookup is store.ErrConflict; a vanished token fails the
	// foreign key: store.ErrNotFound.
	if _, err := q.exec(ctx, insertTokenKey, k.Lookup, k.TokenUID, hashArg(k.Hash), optMicros(k.NotAfter), micros(k.CreatedAt)); err != nil {
		return fmt.Errorf("add key to token %s: %w", k.TokenUID, err)
	}
	return nil
}

func (q *queries) LimitTokenKeys(ctx context.Context, tokenUID string, notAfter time.Time) error {
	na := micros(notAfter)
	if _, err := q.exec(ctx, `UPDATE token_keys SET not_after = ?1
		WHERE token_uid = ?2 AND (not_after IS NULL OR not_after > ?1)`, na, tokenUID); err != nil {
		return fmt.Errorf("limit keys of token %s: %w", tokenUID, err)
	}
	return nil
}

const deleteKeysBeforeQuery = `DELETE FROM token_keys WHERE not_after <= ?`

func (q *queries) DeleteTokenKeysBefore(ctx context.Context, t time.Time) (int, error) {
	res, err := q.exec(ctx, deleteKeysBeforeQuery, micros(t))
	if err != nil {
		return 0, fmt.Errorf("delete keys expired by %s: %w", t.UTC().Format(time.RFC3339), err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete keys expired by %s: %w", t.UTC().Format(time.RFC3339), err)
	}
	return int(n), nil
}

// lookupKeyQuery finds a key and its token in one statement: three
// primary-key lookups (token_keys.lookup, tokens.uid, users.uid), however
// many tokens there are.
const lookupKeyQuery = `SELECT k.lookup, k.token_uid, k.hash, k.not_after, k.created_at, ` + tokenColumns + keyFrom

const keyFrom = `
	FROM token_keys k
	JOIN tokens t ON t.uid = k.token_uid
	JOIN users u ON u.uid = t.user_uid
	WHERE k.lookup = ?`

func (q *queries) LookupKey(ctx context.Context, lookup string) (store.TokenKey, store.Token, error) {
	var (
		k store.TokenKey
		t store.Token
	)
	kd, kfinish := keyDest(&k)
	td, tfinish := tokenDest(&t)
	if err := q.read.QueryRowContext(ctx, lookupKeyQuery, lookup).Scan(append(kd, td...)...); err != nil {
		// The lookup part is public (it is sent in the clear before the
		// secret), so it may appear in the error.
		return store.TokenKey{}, store.Token{}, fmt.Errorf("lookup key %q: %w", lookup, notFound(err))
	}
	kfinish()
	if err := tfinish(); err != nil {
		return store.TokenKey{}, store.Token{}, fmt.Errorf("lookup key %q: %w", lookup, err)
	}
	return k, t, nil
}

// loadKeyQuery is lookupKeyQuery with the owner's row.
const loadKeyQuery = `SELECT k.lookup, k.token_uid, k.hash, k.not_after, k.created_at,
	u.name, u.email, u.description, u.is_active, u.managed, u.password_hash, u.password_changed_at, u.created_at, u.last_login_at,
	` + tokenColumns + keyFrom

// LoadKey is LookupKey with the owner and its grants: two statements, in
// process (as LookupKey, GetUserByUID and UserGrants were three).
func (q *queries) LoadKey(ctx context.Context, lookup string) (store.KeyLoad, error) {
	var l store.KeyLoad
	u := &l.Owner
	var active, managed int
	var changed, last sql.NullInt64
	var created int64
	kd, kfinish := keyDest(&l.Key)
	td, tfinish := tokenDest(&l.Token)
	dest := append(kd, &u.Name, &u.Email, &u.Description, &active, &managed, &u.PasswordHash, &changed, &created, &last)
	if err := q.read.QueryRowContext(ctx, loadKeyQuery, lookup).Scan(append(dest, td...)...); err != nil {
		return store.KeyLoad{}, fmt.Errorf("load key %q: %w", lookup, notFound(err))
	}
	kfinish()
	if err := tfinish(); err != nil {
		return store.KeyLoad{}, fmt.Errorf("load key %q: %w", lookup, err)
	}
	u.UID, u.Username, u.Type = l.Token.UserUID, l.Token.Username, l.Token.UserType
	u.IsActive, u.Managed = active != 0, managed != 0
	u.PasswordChangedAt, u.CreatedAt, u.LastLoginAt = optTime(changed), fromMicros(created), optTime(last)
	var err error
	if l.Grants, err = q.UserGrants(ctx, u.UID); err != nil {
		return store.KeyLoad{}, fmt.Errorf("load key %q: %w", lookup, err)
	}
	return l, nil
}

// touchToken records one use. last_used_at only moves forward. expires_at
// is written when given, and only while the use is not older than the
// last recorded one (a late, stale batch must not shorten an extension)
// and the token is still expiring and extended (an update in between may
// have made it non-expiring, whose expires_at must stay NULL).
// The extension is computed from the row's own max_age, not taken from
// the caller: a late batch computed under an older max_age cannot undo a
// shortening made since.
const touchToken = `UPDATE tokens SET
	expires_at = CASE
		WHEN ?3 IS NOT NULL AND expiring = 1 AND extended = 1
		THEN MAX(COALESCE(expires_at, 0), ?2 + max_age / 1000) ELSE expires_at END,
	last_used_at = MAX(COALESCE(last_used_at, ?2), ?2)
	WHERE uid = ?1`

// TouchTokens writes a batch of uses in one transaction (one commit, one
// sync) with one prepared statement. Tokens that vanished match no row and
// are skipped.
func (q *queries) TouchTokens(ctx context.Context, uses []store.TokenUse) error {
	if len(uses) == 0 {
		return nil
	}
	err := q.atomically(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, touchToken)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, u := range uses {
			if _, err := stmt.ExecContext(ctx, u.TokenUID, micros(u.LastUsedAt), optMicros(u.ExpiresAt)); err != nil {
				return mapErr(err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("touch %d tokens: %w", len(uses), err)
	}
	return nil
}

const expiredTokensQuery = tokenSelect + ` WHERE t.intent = ? AND t.expires_at <= ?
	ORDER BY t.expires_at, t.identifier LIMIT ?`

const expiredFederatedQuery = tokenSelect + ` WHERE t.federated_policy_uid IS NOT NULL AND t.expires_at <= ?
	ORDER BY t.expires_at, t.identifier LIMIT ?`

func (q *queries) ExpiredTokens(ctx context.Context, intent string, t time.Time, limit int) ([]store.Token, error) {
	query, args := expiredTokensQuery, []any{intent, micros(t), limitArg(limit)}
	if intent == store.ExpiredFederated {
		query, args = expiredFederatedQuery, args[1:]
	}
	rows, err := q.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("expired %s tokens: %w", intent, err)
	}
	ts, err := scanTokens(rows)
	if err != nil {
		return nil, fmt.Errorf("expired %s tokens: %w", intent, err)
	}
	return ts, nil
}

const managedExpiringQuery = tokenSelect + ` WHERE t.intent = ? AND t.managed = 1 AND t.expiring = 1
	AND t.expires_at < ? ORDER BY t.expires_at, t.identifier LIMIT ?`

// ManagedTokensExpiringBefore lists managed API tokens with expires_at < t,
// soonest first.
func (q *queries) ManagedTokensExpiringBefore(ctx context.Context, t time.Time, limit int) ([]store.Token, error) {
	rows, err := q.read.QueryContext(ctx, managedExpiringQuery, store.IntentAPI, micros(t), limitArg(limit))
	if err != nil {
		return nil, fmt.Errorf("managed tokens expiring before %s: %w", t.UTC().Format(time.RFC3339), err)
	}
	ts, err := scanTokens(rows)
	if err != nil {
		return nil, fmt.Errorf("managed tokens expiring before %s: %w", t.UTC().Format(time.RFC3339), err)
	}
	return ts, nil
}
