package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/store"
)

const groupCols = `uid, name, description, created_at`

func scanGroup(row pgx.Row) (store.Group, error) {
	var g store.Group
	err := row.Scan(&g.UID, &g.Name, &g.Description, &g.CreatedAt)
	g.CreatedAt = g.CreatedAt.UTC()
	return g, err
}

func (q *queries) CreateGroup(ctx context.Context, g store.Group) error {
	err := q.insert(ctx, `INSERT INTO groups (`+groupCols+`) VALUES ($1, $2, $3, $4)
		ON CONFLICT DO NOTHING`, g.UID, g.Name, g.Description, g.CreatedAt)
	return wrapf(err, "create group %q", g.Name)
}

func (q *queries) GetGroup(ctx context.Context, name string) (store.Group, error) {
	g, err := one(ctx, q, scanGroup, `SELECT `+groupCols+` FROM groups WHERE name = $1`, name)
	return g, wrapf(err, "get group %q", name)
}

func (q *queries) ListGroups(ctx context.Context, f store.GroupFilter) ([]store.Group, error) {
	var w where
	if f.Search != "" {
		w.search(f.Search, "name", "description")
	}
	if f.After != "" {
		w.add("name > " + w.arg(f.After))
	}
	gs, err := all(ctx, q, scanGroup, `SELECT `+groupCols+` FROM groups`+w.sql("name", f.Limit), w.args...)
	return gs, wrapf(err, "list groups")
}

// UpdateGroup renames only when the name is free; see UpdateUser.
func (q *queries) UpdateGroup(ctx context.Context, g store.Group) error {
	err := q.rename(ctx, `WITH
		target AS (SELECT uid FROM groups WHERE uid = $1),
		taken AS (SELECT 1 FROM groups WHERE name = $2 AND uid <> $1),
		upd AS (
			UPDATE groups SET name = $2, description = $3
			WHERE uid = $1 AND NOT EXISTS (SELECT 1 FROM taken)
			RETURNING 1)
		SELECT EXISTS (SELECT 1 FROM target), EXISTS (SELECT 1 FROM upd)`,
		g.UID, g.Name, g.Description)
	return wrapf(err, "update group %q", g.Name)
}

// DeleteGroup deletes the group; memberships and role assignments cascade.
func (q *queries) DeleteGroup(ctx context.Context, uid string) error {
	return wrapf(q.change(ctx, `DELETE FROM groups WHERE uid = $1`, uid), "delete group %q", uid)
}

// AddMember inserts the membership if both rows exist and it is not there
// yet. A parent deleted concurrently, after the statement's snapshot,
// fails the foreign key check (store.ErrNotFound as well) or, inside InTx,
// the serializable check (retried).
func (q *queries) AddMember(ctx context.Context, groupUID, userUID string) error {
	err := q.link(ctx, "group", "user", `WITH
		g AS (SELECT uid FROM groups WHERE uid = $1),
		u AS (SELECT uid FROM users WHERE uid = $2),
		ins AS (
			INSERT INTO group_members (group_uid, user_uid)
			SELECT g.uid, u.uid FROM g CROSS JOIN u
			ON CONFLICT DO NOTHING)
		SELECT EXISTS (SELECT 1 FROM g), EXISTS (SELECT 1 FROM u)`, groupUID, userUID)
	return wrapf(err, "add user %q to group %q", userUID, groupUID)
}

func (q *queries) RemoveMember(ctx context.Context, groupUID, userUID string) error {
	err := q.change(ctx, `DELETE FROM group_members WHERE group_uid = $1 AND user_uid = $2`, groupUID, userUID)
	return wrapf(err, "remove user %q from group %q", userUID, groupUID)
}

func (q *queries) ListMembers(ctx context.Context, groupUID string) ([]string, error) {
	names, err := q.texts(ctx, `SELECT u.username FROM group_members m JOIN users u ON u.uid = m.user_uid
		WHERE m.group_uid = $1 ORDER BY u.username`, groupUID)
	return names, wrapf(err, "list members of group %q", groupUID)
}

func (q *queries) UserGroups(ctx context.Context, userUID string) ([]string, error) {
	names, err := q.texts(ctx, `SELECT g.name FROM group_members m JOIN groups g ON g.uid = m.group_uid
		WHERE m.user_uid = $1 ORDER BY g.name`, userUID)
	return names, wrapf(err, "list groups of user %q", userUID)
}
