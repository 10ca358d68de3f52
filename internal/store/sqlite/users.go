package sqlite

import (
	"context"
	"database/sql"

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
	return wrapf(err, "create user %q", u.Username)
}

func (q *queries) GetUser(ctx context.Context, username string) (store.User, error) {
	u, err := one(ctx, q.read, scanUser, `SELECT `+userColumns+` FROM users WHERE username = ?`, username)
	return u, wrapf(err, "get user %q", username)
}

func (q *queries) GetUserByUID(ctx context.Context, uid string) (store.User, error) {
	u, err := one(ctx, q.read, scanUser, `SELECT `+userColumns+` FROM users WHERE uid = ?`, uid)
	return u, wrapf(err, "get user %s", uid)
}

func (q *queries) ListUsers(ctx context.Context, f store.UserFilter) ([]store.User, error) {
	var w where
	if f.Type != "" {
		w.add("type = ?", f.Type)
	}
	if f.Search != "" {
		w.search(f.Search, "username", "name", "email", "description")
	}
	page, args := w.page("username", f.After, f.Limit)
	out, err := queryAll(ctx, q.read, scanUser, `SELECT `+userColumns+` FROM users`+page, args...)
	return out, wrapf(err, "list users")
}

func (q *queries) UpdateUser(ctx context.Context, u store.User) error {
	err := execOne(ctx, q.write, `UPDATE users SET username = ?, type = ?, name = ?, email = ?, description = ?,
		is_active = ?, managed = ?, password_hash = ?, password_changed_at = ?, last_login_at = ?
		WHERE uid = ?`,
		u.Username, u.Type, u.Name, u.Email, u.Description, boolInt(u.IsActive), boolInt(u.Managed),
		u.PasswordHash, optMicros(u.PasswordChangedAt), optMicros(u.LastLoginAt), u.UID)
	return wrapf(err, "update user %q", u.Username)
}

// DeleteUser deletes a user; the foreign keys cascade to its memberships,
// role assignments, permissions, tokens and their keys.
func (q *queries) DeleteUser(ctx context.Context, uid string) error {
	return wrapf(execOne(ctx, q.write, `DELETE FROM users WHERE uid = ?`, uid), "delete user %s", uid)
}

func (q *queries) CountUsers(ctx context.Context) (int, error) {
	n, err := value[int](ctx, q.read, `SELECT COUNT(*) FROM users`)
	return n, wrapf(err, "count users")
}

func (q *queries) CountUsersByType(ctx context.Context) (map[string]int, error) {
	type typeCount struct {
		typ string
		n   int
	}
	cs, err := queryAll(ctx, q.read, func(sc scanner) (c typeCount, err error) { return c, sc.Scan(&c.typ, &c.n) },
		`SELECT type, COUNT(*) FROM users GROUP BY type`)
	if err != nil {
		return nil, wrapf(err, "count users by type")
	}
	out := make(map[string]int, len(cs))
	for _, c := range cs {
		out[c.typ] = c.n
	}
	return out, nil
}

// SetUserPermissions replaces the user's direct permissions. The existence
// check is explicit because an empty set inserts nothing for a foreign key
// to catch.
func (q *queries) SetUserPermissions(ctx context.Context, userUID string, perms []string) error {
	err := q.atomically(ctx, func(tx *sql.Tx) error {
		if _, err := value[int](ctx, tx, `SELECT 1 FROM users WHERE uid = ?`, userUID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM user_permissions WHERE user_uid = ?`, userUID); err != nil {
			return err
		}
		return insertSet(ctx, tx, `INSERT INTO user_permissions (user_uid, permission) VALUES (?, ?)
			ON CONFLICT DO NOTHING`, userUID, perms)
	})
	return wrapf(err, "set permissions of user %s", userUID)
}

func (q *queries) GetUserPermissions(ctx context.Context, userUID string) ([]string, error) {
	perms, err := queryStrings(ctx, q.read,
		`SELECT permission FROM user_permissions WHERE user_uid = ? ORDER BY permission`, userUID)
	return perms, wrapf(err, "get permissions of user %s", userUID)
}
