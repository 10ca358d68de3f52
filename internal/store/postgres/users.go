package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/store"
)

const userCols = `uid, username, type, name, email, description, is_active, managed,
	password_hash, password_changed_at, created_at, last_login_at`

func scanUser(row pgx.Row) (store.User, error) {
	var u store.User
	err := row.Scan(&u.UID, &u.Username, &u.Type, &u.Name, &u.Email, &u.Description, &u.IsActive, &u.Managed,
		&u.PasswordHash, &u.PasswordChangedAt, &u.CreatedAt, &u.LastLoginAt)
	u.PasswordChangedAt = utcPtr(u.PasswordChangedAt)
	u.CreatedAt = u.CreatedAt.UTC()
	u.LastLoginAt = utcPtr(u.LastLoginAt)
	return u, err
}

var users = table[store.User]{what: "user", plural: "users", name: "users",
	sel: `SELECT ` + userCols + ` FROM users`, key: "username", scan: scanUser}

func (q *queries) CreateUser(ctx context.Context, u store.User) error {
	err := q.insert(ctx, `INSERT INTO users (`+userCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		ON CONFLICT DO NOTHING`,
		u.UID, u.Username, u.Type, u.Name, u.Email, u.Description, u.IsActive, u.Managed,
		u.PasswordHash, u.PasswordChangedAt, u.CreatedAt, u.LastLoginAt)
	return wrapf(err, "create user %q", u.Username)
}

func (q *queries) GetUser(ctx context.Context, username string) (store.User, error) {
	return users.get(ctx, q, username)
}

func (q *queries) GetUserByUID(ctx context.Context, uid string) (store.User, error) {
	return users.getBy(ctx, q, "uid", uid)
}

func (q *queries) ListUsers(ctx context.Context, f store.UserFilter) ([]store.User, error) {
	var w where
	if f.Type != "" {
		w.add("type = " + w.arg(f.Type))
	}
	if f.Search != "" {
		w.search(f.Search, "username", "name", "email", "description")
	}
	return users.list(ctx, q, &w, f.After, f.Limit)
}

// UpdateUser renames only when the new username is free. The statement
// reports whether the user exists and whether it was updated, so that a
// taken name is store.ErrConflict without a failed statement. It runs
// serializable: under READ COMMITTED a user deleted between the
// statement's snapshot and its update would read as "found, not updated",
// a conflict instead of store.ErrNotFound.
func (q *queries) UpdateUser(ctx context.Context, u store.User) error {
	err := q.rename(ctx, "users", "username", `username = $2, type = $3, name = $4, email = $5, description = $6,
		is_active = $7, managed = $8, password_hash = $9, password_changed_at = $10, last_login_at = $11`, "",
		u.UID, u.Username, u.Type, u.Name, u.Email, u.Description, u.IsActive, u.Managed,
		u.PasswordHash, u.PasswordChangedAt, u.LastLoginAt)
	return wrapf(err, "update user %q", u.Username)
}

// DeleteUser deletes the user; the foreign keys cascade to memberships,
// role assignments, direct permissions, tokens and their keys.
func (q *queries) DeleteUser(ctx context.Context, uid string) error {
	return users.delete(ctx, q, uid)
}

func (q *queries) CountUsers(ctx context.Context) (int, error) {
	n, err := value[int](ctx, q, `SELECT count(*) FROM users`)
	return n, wrapf(err, "count users")
}

func (q *queries) CountUsersByType(ctx context.Context) (map[string]int, error) {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	out := map[string]int{}
	var typ string
	var n int
	rows, err := q.db.Query(ctx, `SELECT type, count(*) FROM users GROUP BY type`)
	if err == nil {
		_, err = pgx.ForEachRow(rows, []any{&typ, &n}, func() error { out[typ] = n; return nil })
	}
	if err != nil {
		return nil, wrapf(q.fail(err), "count users by type")
	}
	return out, nil
}

// SetUserPermissions replaces the user's direct permissions in one
// statement: it deletes those not in perms and inserts the rest, two
// disjoint sets, so the two parts never touch the same row. It runs
// serializable, so that two concurrent replacements cannot both apply
// half (leaving the union).
func (q *queries) SetUserPermissions(ctx context.Context, userUID string, perms []string) error {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	err := q.atomically(ctx, func(q *queries) error {
		var found bool
		err := q.db.QueryRow(ctx, `WITH
			u AS (SELECT uid FROM users WHERE uid = $1),`+replacePermissions("user_permissions", "user_uid", "u", "$2")+`
			SELECT EXISTS (SELECT 1 FROM u)`, userUID, textArray(perms)).Scan(&found)
		if err != nil {
			return q.fail(err)
		}
		if !found {
			return store.ErrNotFound
		}
		return nil
	})
	return wrapf(err, "set permissions of user %q", userUID)
}

func (q *queries) GetUserPermissions(ctx context.Context, userUID string) ([]string, error) {
	ps, err := q.texts(ctx, `SELECT permission FROM user_permissions WHERE user_uid = $1 ORDER BY permission`, userUID)
	return ps, wrapf(err, "get permissions of user %q", userUID)
}
