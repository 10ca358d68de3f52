package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/gatehouse/gatehouse/internal/store"
)

const userColumns = `uid, username, type, name, email, description, is_active, managed,
	password_hash, password_changed_at, created_at, last_login_at`

func scanUser(sc scanner) (store.User, error) {
	var (
		u                      store.User
		active, managed        int
		changedAt, lastLoginAt sql.NullInt64
		createdAt              int64
	)
	err := sc.Scan(&u.UID, &u.Username, &u.Type, &u.Name, &u.Email, &u.Description, &active, &managed,
		&u.PasswordHash, &changedAt, &createdAt, &lastLoginAt)
	if err != nil {
		return store.User{}, err
	}
	u.IsActive = active != 0
	u.Managed = managed != 0
	u.PasswordChangedAt = optTime(changedAt)
	u.CreatedAt = fromMicros(createdAt)
	u.LastLoginAt = optTime(lastLoginAt)
	return u, nil
}

func (q *queries) CreateUser(ctx context.Context, u store.User) error {
	_, err := q.exec(ctx, `INSERT INTO users (`+userColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.UID, u.Username, u.Type, u.Name, u.Email, u.Description, boolInt(u.IsActive), boolInt(u.Managed),
		u.PasswordHash, optMicros(u.PasswordChangedAt), micros(u.CreatedAt), optMicros(u.LastLoginAt))
	if err != nil {
		return fmt.Errorf("create user %q: %w", u.Username, err)
	}
	return nil
}

func (q *queries) GetUser(ctx context.Context, username string) (store.User, error) {
	u, err := scanUser(q.read.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE username = ?`, username))
	if err != nil {
		return store.User{}, fmt.Errorf("get user %q: %w", username, notFound(err))
	}
	return u, nil
}

func (q *queries) GetUserByUID(ctx context.Context, uid string) (store.User, error) {
	u, err := scanUser(q.read.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE uid = ?`, uid))
	if err != nil {
		return store.User{}, fmt.Errorf("get user %s: %w", uid, notFound(err))
	}
	return u, nil
}

func (q *queries) ListUsers(ctx context.Context, f store.UserFilter) ([]store.User, error) {
	var w where
	if f.Type != "" {
		w.add("type = ?", f.Type)
	}
	if f.Search != "" {
		w.search(f.Search, "username", "name", "email", "description")
	}
	if f.After != "" {
		w.add("username > ?", f.After)
	}
	out, err := queryAll(ctx, q.read, scanUser, `SELECT `+userColumns+` FROM users`+w.String()+
		` ORDER BY username LIMIT ?`, append(w.args, limitArg(f.Limit))...)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return out, nil
}

func (q *queries) UpdateUser(ctx context.Context, u store.User) error {
	err := execOne(ctx, q.write, `UPDATE users SET username = ?, type = ?, name = ?, email = ?, description = ?,
		is_active = ?, managed = ?, password_hash = ?, password_changed_at = ?, last_login_at = ?
		WHERE uid = ?`,
		u.Username, u.Type, u.Name, u.Email, u.Description, boolInt(u.IsActive), boolInt(u.Managed),
		u.PasswordHash, optMicros(u.PasswordChangedAt), optMicros(u.LastLoginAt), u.UID)
	if err != nil {
		return fmt.Errorf("update user %q: %w", u.Username, err)
	}
	return nil
}

// DeleteUser deletes a user; the foreign keys cascade to its memberships,
// role assignments, permissions, tokens and their keys.
func (q *queries) DeleteUser(ctx context.Context, uid string) error {
	if err := execOne(ctx, q.write, `DELETE FROM users WHERE uid = ?`, uid); err != nil {
		return fmt.Errorf("delete user %s: %w", uid, err)
	}
	return nil
}

func (q *queries) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := q.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count users: %w", err)
	}
	return n, nil
}

func (q *queries) CountUsersByType(ctx context.Context) (map[string]int, error) {
	rows, err := q.read.QueryContext(ctx, `SELECT type, COUNT(*) FROM users GROUP BY type`)
	if err != nil {
		return nil, fmt.Errorf("count users by type: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var (
			typ string
			n   int
		)
		if err := rows.Scan(&typ, &n); err != nil {
			return nil, fmt.Errorf("count users by type: %w", err)
		}
		out[typ] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count users by type: %w", err)
	}
	return out, nil
}

// SetUserPermissions replaces the user's direct permissions. The existence
// check is explicit because an empty set inserts nothing for a foreign key
// to catch.
func (q *queries) SetUserPermissions(ctx context.Context, userUID string, perms []string) error {
	err := q.atomically(ctx, func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM users WHERE uid = ?`, userUID).Scan(&one); err != nil {
			return notFound(err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM user_permissions WHERE user_uid = ?`, userUID); err != nil {
			return err
		}
		return insertSet(ctx, tx, `INSERT INTO user_permissions (user_uid, permission) VALUES (?, ?)
			ON CONFLICT DO NOTHING`, userUID, perms)
	})
	if err != nil {
		return fmt.Errorf("set permissions of user %s: %w", userUID, err)
	}
	return nil
}

func (q *queries) GetUserPermissions(ctx context.Context, userUID string) ([]string, error) {
	perms, err := queryStrings(ctx, q.read,
		`SELECT permission FROM user_permissions WHERE user_uid = ? ORDER BY permission`, userUID)
	if err != nil {
		return nil, fmt.Errorf("get permissions of user %s: %w", userUID, err)
	}
	return perms, nil
}
