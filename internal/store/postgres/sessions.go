package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/store"
)

const sessionCols = `id_hash, user_uid, password_stamp, mfa_pending, mfa_failures, client_ip, user_agent,
	created_at, last_seen_at, expires_at`

func scanSession(row pgx.Row) (store.Session, error) {
	var s store.Session
	err := row.Scan(&s.IDHash, &s.UserUID, &s.PasswordStamp, &s.MFAPending, &s.MFAFailures, &s.ClientIP, &s.UserAgent,
		&s.CreatedAt, &s.LastSeenAt, &s.ExpiresAt)
	s.CreatedAt, s.LastSeenAt, s.ExpiresAt = s.CreatedAt.UTC(), s.LastSeenAt.UTC(), s.ExpiresAt.UTC()
	return s, err
}

// CreateSession inserts a session. The insert selects the owner, so that a
// user deleted meanwhile is ErrNotFound without a failed statement (which
// would abort the surrounding transaction).
func (q *queries) CreateSession(ctx context.Context, s store.Session) error {
	n, err := q.affected(ctx, `INSERT INTO ui_sessions (`+sessionCols+`)
		SELECT $1, uid, $2, $3, $4, $5, $6, $7, $8, $9 FROM users WHERE uid = $10`,
		s.IDHash, s.PasswordStamp, s.MFAPending, s.MFAFailures, s.ClientIP, s.UserAgent,
		s.CreatedAt, s.LastSeenAt, s.ExpiresAt, s.UserUID)
	return wrapf(store.OwnerFound(err, n == 0, s.UserUID), "create session")
}

func (q *queries) GetSession(ctx context.Context, idHash []byte) (store.Session, error) {
	s, err := one(ctx, q, scanSession, `SELECT `+sessionCols+` FROM ui_sessions WHERE id_hash = $1`, idHash)
	return s, wrapf(err, "get session")
}

func (q *queries) TouchSession(ctx context.Context, idHash []byte, lastSeen time.Time) error {
	err := q.change(ctx, `UPDATE ui_sessions SET last_seen_at = GREATEST(last_seen_at, $1) WHERE id_hash = $2`,
		lastSeen, idHash)
	return wrapf(err, "touch session")
}

func (q *queries) AddSessionMFAFailure(ctx context.Context, idHash []byte) (int, error) {
	n, err := value[int](ctx, q, `UPDATE ui_sessions SET mfa_failures = mfa_failures + 1
		WHERE id_hash = $1 RETURNING mfa_failures`, idHash)
	return n, wrapf(err, "count failed code on session")
}

func (q *queries) DeleteSession(ctx context.Context, idHash []byte) error {
	return wrapf(q.change(ctx, `DELETE FROM ui_sessions WHERE id_hash = $1`, idHash), "delete session")
}

func (q *queries) DeleteUserSessions(ctx context.Context, userUID string, keep []byte) (int, error) {
	if keep == nil {
		keep = []byte{} // matches no 32-byte hash
	}
	n, err := q.affected(ctx, `DELETE FROM ui_sessions WHERE user_uid = $1 AND id_hash <> $2`, userUID, keep)
	return n, wrapf(err, "delete sessions of user %q", userUID)
}

func (q *queries) ListUserSessions(ctx context.Context, userUID string) ([]store.Session, error) {
	out, err := all(ctx, q, scanSession, `SELECT `+sessionCols+` FROM ui_sessions WHERE user_uid = $1
		ORDER BY created_at DESC, id_hash`, userUID)
	return out, wrapf(err, "list sessions")
}

func (q *queries) DeleteStaleSessions(ctx context.Context, now, idleBefore time.Time) (int, error) {
	n, err := q.affected(ctx, `DELETE FROM ui_sessions WHERE expires_at <= $1 OR last_seen_at < $2`, now, idleBefore)
	return n, wrapf(err, "delete stale sessions")
}

// --- TOTP -------------------------------------------------------------------

func (q *queries) PutTOTP(ctx context.Context, t store.TOTP) error {
	n, err := q.affected(ctx, `INSERT INTO user_totp (user_uid, secret, confirmed, last_step, created_at, confirmed_at)
		SELECT uid, $1, $2, $3, $4, $5 FROM users WHERE uid = $6
		ON CONFLICT (user_uid) DO UPDATE SET secret = excluded.secret, confirmed = excluded.confirmed,
			last_step = excluded.last_step, created_at = excluded.created_at, confirmed_at = excluded.confirmed_at`,
		t.Secret, t.Confirmed, t.LastStep, t.CreatedAt, t.ConfirmedAt, t.UserUID)
	return wrapf(store.OwnerFound(err, n == 0, t.UserUID), "put totp")
}

func scanTOTP(r pgx.Row) (store.TOTP, error) {
	var t store.TOTP
	err := r.Scan(&t.UserUID, &t.Secret, &t.Confirmed, &t.LastStep, &t.CreatedAt, &t.ConfirmedAt)
	t.CreatedAt = t.CreatedAt.UTC()
	t.ConfirmedAt = utcPtr(t.ConfirmedAt)
	return t, err
}

func (q *queries) GetTOTP(ctx context.Context, userUID string) (store.TOTP, error) {
	t, err := one(ctx, q, scanTOTP, `SELECT user_uid, secret, confirmed, last_step, created_at, confirmed_at
		FROM user_totp WHERE user_uid = $1`, userUID)
	return t, wrapf(err, "get totp")
}

func (q *queries) UseTOTPStep(ctx context.Context, userUID string, step int64) error {
	n, err := q.affected(ctx, `UPDATE user_totp SET last_step = $1 WHERE user_uid = $2 AND confirmed AND last_step < $1`,
		step, userUID)
	if err == nil && n == 0 {
		err = store.ErrConflict
	}
	return wrapf(err, "use totp step")
}

func (q *queries) DeleteTOTP(ctx context.Context, userUID string) error {
	found, err := value[bool](ctx, q, `WITH
		codes AS (DELETE FROM totp_recovery_codes WHERE user_uid = $1),
		gone AS (DELETE FROM user_totp WHERE user_uid = $1 RETURNING 1)
		SELECT EXISTS (SELECT 1 FROM gone)`, userUID)
	if err == nil && !found {
		err = store.ErrNotFound
	}
	return wrapf(err, "delete totp")
}

// ReplaceRecoveryCodes deletes the old set and inserts the new one in one
// statement (two disjoint row sets: the deletion sees the snapshot before
// the insertion).
func (q *queries) ReplaceRecoveryCodes(ctx context.Context, userUID string, hashes [][]byte) error {
	if hashes == nil {
		hashes = [][]byte{}
	}
	found, err := value[bool](ctx, q, `WITH
		u AS (SELECT uid FROM users WHERE uid = $1),
		del AS (DELETE FROM totp_recovery_codes WHERE user_uid IN (SELECT uid FROM u)),
		ins AS (
			INSERT INTO totp_recovery_codes (user_uid, code_hash)
			SELECT u.uid, h.code_hash FROM u CROSS JOIN (SELECT DISTINCT unnest($2::bytea[]) AS code_hash) h
			ON CONFLICT DO NOTHING)
		SELECT EXISTS (SELECT 1 FROM u)`, userUID, hashes)
	return wrapf(store.OwnerFound(err, !found, userUID), "replace recovery codes")
}

func (q *queries) UseRecoveryCode(ctx context.Context, userUID string, hash []byte) error {
	err := q.change(ctx, `DELETE FROM totp_recovery_codes WHERE user_uid = $1 AND code_hash = $2`, userUID, hash)
	return wrapf(err, "use recovery code")
}

func (q *queries) CountRecoveryCodes(ctx context.Context, userUID string) (int, error) {
	n, err := value[int](ctx, q, `SELECT count(*) FROM totp_recovery_codes WHERE user_uid = $1`, userUID)
	return n, wrapf(err, "count recovery codes")
}

// --- Counts -----------------------------------------------------------------

func (q *queries) CountObjects(ctx context.Context, now time.Time) (store.ObjectCounts, error) {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	c := store.ObjectCounts{UsersByType: map[string]int{}, TokensByIntent: map[string]int{}}
	rows, err := q.db.Query(ctx, `SELECT 'user', type, count(*) FROM users GROUP BY type
		UNION ALL SELECT 'token', intent, count(*) FROM tokens GROUP BY intent
		UNION ALL SELECT 'group', '', count(*) FROM groups
		UNION ALL SELECT 'role', '', count(*) FROM roles
		UNION ALL SELECT 'session', '', count(*) FROM ui_sessions WHERE expires_at > $1`, now)
	if err != nil {
		return c, fmt.Errorf("postgres: count objects: %w", q.fail(err))
	}
	var kind, sub string
	var n int
	_, err = pgx.ForEachRow(rows, []any{&kind, &sub, &n}, func() error {
		c.Add(kind, sub, n)
		return nil
	})
	if err != nil {
		return store.ObjectCounts{}, fmt.Errorf("postgres: count objects: %w", q.fail(err))
	}
	return c, nil
}
