package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

const sessionCols = `id_hash, user_uid, password_stamp, mfa_pending, mfa_failures, client_ip, user_agent,
	created_at, last_seen_at, expires_at`

func scanSession(row scanner) (store.Session, error) {
	var (
		s                          store.Session
		pending                    int
		created, lastSeen, expires int64
	)
	err := row.Scan(&s.IDHash, &s.UserUID, &s.PasswordStamp, &pending, &s.MFAFailures, &s.ClientIP, &s.UserAgent,
		&created, &lastSeen, &expires)
	s.MFAPending = pending == 1
	s.CreatedAt, s.LastSeenAt, s.ExpiresAt = fromMicros(created), fromMicros(lastSeen), fromMicros(expires)
	return s, err
}

// CreateSession inserts a session. The insert selects the owner, so that
// a user deleted meanwhile is a plain ErrNotFound rather than a failed
// statement.
func (q *queries) CreateSession(ctx context.Context, s store.Session) error {
	n, err := q.affected(ctx, `INSERT INTO ui_sessions (`+sessionCols+`)
		SELECT ?, uid, ?, ?, ?, ?, ?, ?, ?, ? FROM users WHERE uid = ?`,
		s.IDHash, s.PasswordStamp, boolInt(s.MFAPending), s.MFAFailures, s.ClientIP, s.UserAgent,
		micros(s.CreatedAt), micros(s.LastSeenAt), micros(s.ExpiresAt), s.UserUID)
	return wrapf(store.OwnerFound(err, n == 0, s.UserUID), "create session")
}

func (q *queries) GetSession(ctx context.Context, idHash []byte) (store.Session, error) {
	s, err := one(ctx, q.read, scanSession, `SELECT `+sessionCols+` FROM ui_sessions WHERE id_hash = ?`, idHash)
	return s, wrapf(err, "get session")
}

func (q *queries) TouchSession(ctx context.Context, idHash []byte, lastSeen time.Time) error {
	err := execOne(ctx, q.write, `UPDATE ui_sessions SET last_seen_at = max(last_seen_at, ?) WHERE id_hash = ?`,
		micros(lastSeen), idHash)
	return wrapf(err, "touch session")
}

func (q *queries) AddSessionMFAFailure(ctx context.Context, idHash []byte) (int, error) {
	var n int
	err := q.write.QueryRowContext(ctx, `UPDATE ui_sessions SET mfa_failures = mfa_failures + 1
		WHERE id_hash = ? RETURNING mfa_failures`, idHash).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count failed code on session: %w", notFound(mapErr(err)))
	}
	return n, nil
}

func (q *queries) DeleteSession(ctx context.Context, idHash []byte) error {
	return wrapf(execOne(ctx, q.write, `DELETE FROM ui_sessions WHERE id_hash = ?`, idHash), "delete session")
}

func (q *queries) DeleteUserSessions(ctx context.Context, userUID string, keep []byte) (int, error) {
	if keep == nil {
		keep = []byte{} // matches no 32-byte hash
	}
	n, err := q.affected(ctx, `DELETE FROM ui_sessions WHERE user_uid = ? AND id_hash <> ?`, userUID, keep)
	return n, wrapf(err, "delete sessions of user %q", userUID)
}

func (q *queries) ListUserSessions(ctx context.Context, userUID string) ([]store.Session, error) {
	out, err := queryAll(ctx, q.read, scanSession, `SELECT `+sessionCols+` FROM ui_sessions WHERE user_uid = ?
		ORDER BY created_at DESC, id_hash`, userUID)
	return out, wrapf(err, "list sessions")
}

func (q *queries) DeleteStaleSessions(ctx context.Context, now, idleBefore time.Time) (int, error) {
	n, err := q.affected(ctx, `DELETE FROM ui_sessions WHERE expires_at <= ? OR last_seen_at < ?`,
		micros(now), micros(idleBefore))
	return n, wrapf(err, "delete stale sessions")
}

// --- TOTP -------------------------------------------------------------------

func (q *queries) PutTOTP(ctx context.Context, t store.TOTP) error {
	n, err := q.affected(ctx, `INSERT INTO user_totp (user_uid, secret, confirmed, last_step, created_at, confirmed_at)
		SELECT uid, ?, ?, ?, ?, ? FROM users WHERE uid = ?
		ON CONFLICT (user_uid) DO UPDATE SET secret = excluded.secret, confirmed = excluded.confirmed,
			last_step = excluded.last_step, created_at = excluded.created_at, confirmed_at = excluded.confirmed_at`,
		t.Secret, boolInt(t.Confirmed), t.LastStep, micros(t.CreatedAt), optMicros(t.ConfirmedAt), t.UserUID)
	return wrapf(store.OwnerFound(err, n == 0, t.UserUID), "put totp")
}

func scanTOTP(sc scanner) (store.TOTP, error) {
	var (
		t         store.TOTP
		confirmed int
		created   int64
		confAt    sql.NullInt64
	)
	err := sc.Scan(&t.UserUID, &t.Secret, &confirmed, &t.LastStep, &created, &confAt)
	t.Confirmed = confirmed == 1
	t.CreatedAt = fromMicros(created)
	t.ConfirmedAt = optTime(confAt)
	return t, err
}

func (q *queries) GetTOTP(ctx context.Context, userUID string) (store.TOTP, error) {
	t, err := one(ctx, q.read, scanTOTP, `SELECT user_uid, secret, confirmed, last_step, created_at, confirmed_at
		FROM user_totp WHERE user_uid = ?`, userUID)
	return t, wrapf(err, "get totp")
}

func (q *queries) UseTOTPStep(ctx context.Context, userUID string, step int64) error {
	n, err := q.affected(ctx, `UPDATE user_totp SET last_step = ? WHERE user_uid = ? AND confirmed = 1 AND last_step < ?`,
		step, userUID, step)
	if err == nil && n == 0 {
		err = store.ErrConflict
	}
	return wrapf(err, "use totp step")
}

func (q *queries) DeleteTOTP(ctx context.Context, userUID string) error {
	return q.atomically(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM totp_recovery_codes WHERE user_uid = ?`, userUID); err != nil {
			return fmt.Errorf("delete recovery codes: %w", mapErr(err))
		}
		if err := execOne(ctx, tx, `DELETE FROM user_totp WHERE user_uid = ?`, userUID); err != nil {
			return fmt.Errorf("delete totp: %w", err)
		}
		return nil
	})
}

func (q *queries) ReplaceRecoveryCodes(ctx context.Context, userUID string, hashes [][]byte) error {
	err := q.atomically(ctx, func(tx *sql.Tx) error {
		n, err := value[int](ctx, tx, `SELECT count(*) FROM users WHERE uid = ?`, userUID)
		if err = store.OwnerFound(err, n == 0, userUID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM totp_recovery_codes WHERE user_uid = ?`, userUID); err != nil {
			return mapErr(err)
		}
		for _, h := range hashes {
			if _, err := tx.ExecContext(ctx, `INSERT INTO totp_recovery_codes (user_uid, code_hash) VALUES (?, ?)
				ON CONFLICT DO NOTHING`, userUID, h); err != nil {
				return mapErr(err)
			}
		}
		return nil
	})
	return wrapf(err, "replace recovery codes")
}

func (q *queries) UseRecoveryCode(ctx context.Context, userUID string, hash []byte) error {
	err := execOne(ctx, q.write, `DELETE FROM totp_recovery_codes WHERE user_uid = ? AND code_hash = ?`, userUID, hash)
	return wrapf(err, "use recovery code")
}

func (q *queries) CountRecoveryCodes(ctx context.Context, userUID string) (int, error) {
	n, err := value[int](ctx, q.read, `SELECT count(*) FROM totp_recovery_codes WHERE user_uid = ?`, userUID)
	return n, wrapf(err, "count recovery codes")
}

// --- Counts -----------------------------------------------------------------

func (q *queries) CountObjects(ctx context.Context, now time.Time) (store.ObjectCounts, error) {
	c := store.ObjectCounts{UsersByType: map[string]int{}, TokensByIntent: map[string]int{}}
	err := func() error {
		rows, err := q.read.QueryContext(ctx, `SELECT 'user', type, count(*) FROM users GROUP BY type
			UNION ALL SELECT 'token', intent, count(*) FROM tokens GROUP BY intent
			UNION ALL SELECT 'group', '', count(*) FROM groups
			UNION ALL SELECT 'role', '', count(*) FROM roles
			UNION ALL SELECT 'session', '', count(*) FROM ui_sessions WHERE expires_at > ?`, micros(now))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				kind, sub string
				n         int
			)
			if err := rows.Scan(&kind, &sub, &n); err != nil {
				return err
			}
			c.Add(kind, sub, n)
		}
		return rows.Err()
	}()
	if err != nil {
		return store.ObjectCounts{}, fmt.Errorf("count objects: %w", err)
	}
	return c, nil
}
