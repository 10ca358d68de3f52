package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

var _ store.SessionQueries = (*queries)(nil)

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
	res, err := q.exec(ctx, `INSERT INTO ui_sessions (`+sessionCols+`)
		SELECT ?, uid, ?, ?, ?, ?, ?, ?, ?, ? FROM users WHERE uid = ?`,
		s.IDHash, s.PasswordStamp, boolInt(s.MFAPending), s.MFAFailures, s.ClientIP, s.UserAgent,
		micros(s.CreatedAt), micros(s.LastSeenAt), micros(s.ExpiresAt), s.UserUID)
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("create session: %w", err)
	} else if n == 0 {
		return fmt.Errorf("create session: user %q: %w", s.UserUID, store.ErrNotFound)
	}
	return nil
}

func (q *queries) GetSession(ctx context.Context, idHash []byte) (store.Session, error) {
	s, err := scanSession(q.read.QueryRowContext(ctx, `SELECT `+sessionCols+` FROM ui_sessions WHERE id_hash = ?`, idHash))
	if err != nil {
		return store.Session{}, fmt.Errorf("get session: %w", notFound(err))
	}
	return s, nil
}

func (q *queries) TouchSession(ctx context.Context, idHash []byte, lastSeen time.Time) error {
	if err := execOne(ctx, q.write, `UPDATE ui_sessions SET last_seen_at = max(last_seen_at, ?) WHERE id_hash = ?`,
		micros(lastSeen), idHash); err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	return nil
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
	if err := execOne(ctx, q.write, `DELETE FROM ui_sessions WHERE id_hash = ?`, idHash); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

func (q *queries) DeleteUserSessions(ctx context.Context, userUID string, keep []byte) (int, error) {
	if keep == nil {
		keep = []byte{} // matches no 32-byte hash
	}
	res, err := q.exec(ctx, `DELETE FROM ui_sessions WHERE user_uid = ? AND id_hash <> ?`, userUID, keep)
	if err != nil {
		return 0, fmt.Errorf("delete sessions of user %q: %w", userUID, err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

func (q *queries) ListUserSessions(ctx context.Context, userUID string) ([]store.Session, error) {
	out, err := queryAll(ctx, q.read, scanSession, `SELECT `+sessionCols+` FROM ui_sessions WHERE user_uid = ?
		ORDER BY created_at DESC, id_hash`, userUID)
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	return out, nil
}

func (q *queries) DeleteStaleSessions(ctx context.Context, now, idleBefore time.Time) (int, error) {
	res, err := q.exec(ctx, `DELETE FROM ui_sessions WHERE expires_at <= ? OR last_seen_at < ?`,
		micros(now), micros(idleBefore))
	if err != nil {
		return 0, fmt.Errorf("delete stale sessions: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// --- TOTP -------------------------------------------------------------------

func (q *queries) PutTOTP(ctx context.Context, t store.TOTP) error {
	res, err := q.exec(ctx, `INSERT INTO user_totp (user_uid, secret, confirmed, last_step, created_at, confirmed_at)
		SELECT uid, ?, ?, ?, ?, ? FROM users WHERE uid = ?
		ON CONFLICT (user_uid) DO UPDATE SET secret = excluded.secret, confirmed = excluded.confirmed,
			last_step = excluded.last_step, created_at = excluded.created_at, confirmed_at = excluded.confirmed_at`,
		t.Secret, boolInt(t.Confirmed), t.LastStep, micros(t.CreatedAt), optMicros(t.ConfirmedAt), t.UserUID)
	if err != nil {
		return fmt.Errorf("put totp: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("put totp: %w", err)
	} else if n == 0 {
		return fmt.Errorf("put totp: user %q: %w", t.UserUID, store.ErrNotFound)
	}
	return nil
}

func (q *queries) GetTOTP(ctx context.Context, userUID string) (store.TOTP, error) {
	var (
		t         store.TOTP
		confirmed int
		created   int64
		confAt    sql.NullInt64
	)
	err := q.read.QueryRowContext(ctx, `SELECT user_uid, secret, confirmed, last_step, created_at, confirmed_at
		FROM user_totp WHERE user_uid = ?`, userUID).Scan(&t.UserUID, &t.Secret, &confirmed, &t.LastStep, &created, &confAt)
	if err != nil {
		return store.TOTP{}, fmt.Errorf("get totp: %w", notFound(err))
	}
	t.Confirmed = confirmed == 1
	t.CreatedAt = fromMicros(created)
	t.ConfirmedAt = optTime(confAt)
	return t, nil
}

func (q *queries) UseTOTPStep(ctx context.Context, userUID string, step int64) error {
	res, err := q.exec(ctx, `UPDATE user_totp SET last_step = ? WHERE user_uid = ? AND confirmed = 1 AND last_step < ?`,
		step, userUID, step)
	if err != nil {
		return fmt.Errorf("use totp step: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("use totp step: %w", err)
	} else if n == 0 {
		return fmt.Errorf("use totp step: %w", store.ErrConflict)
	}
	return nil
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
	return q.atomically(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE uid = ?`, userUID).Scan(&n); err != nil {
			return fmt.Errorf("replace recovery codes: %w", err)
		}
		if n == 0 {
			return fmt.Errorf("replace recovery codes: user %q: %w", userUID, store.ErrNotFound)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM totp_recovery_codes WHERE user_uid = ?`, userUID); err != nil {
			return fmt.Errorf("replace recovery codes: %w", mapErr(err))
		}
		for _, h := range hashes {
			if _, err := tx.ExecContext(ctx, `INSERT INTO totp_recovery_codes (user_uid, code_hash) VALUES (?, ?)
				ON CONFLICT DO NOTHING`, userUID, h); err != nil {
				return fmt.Errorf("replace recovery codes: %w", mapErr(err))
			}
		}
		return nil
	})
}

func (q *queries) UseRecoveryCode(ctx context.Context, userUID string, hash []byte) error {
	if err := execOne(ctx, q.write, `DELETE FROM totp_recovery_codes WHERE user_uid = ? AND code_hash = ?`, userUID, hash); err != nil {
		return fmt.Errorf("use recovery code: %w", err)
	}
	return nil
}

func (q *queries) CountRecoveryCodes(ctx context.Context, userUID string) (int, error) {
	var n int
	if err := q.read.QueryRowContext(ctx, `SELECT count(*) FROM totp_recovery_codes WHERE user_uid = ?`, userUID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count recovery codes: %w", err)
	}
	return n, nil
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
			switch kind {
			case "user":
				c.UsersByType[sub] = n
			case "token":
				c.TokensByIntent[sub] = n
			case "group":
				c.Groups = n
			case "role":
				c.Roles = n
			case "session":
				c.Sessions = n
			}
		}
		return rows.Err()
	}()
	if err != nil {
		return store.ObjectCounts{}, fmt.Errorf("count objects: %w", err)
	}
	return c, nil
}
