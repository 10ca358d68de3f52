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

var groups = table[store.Group]{what: "group", plural: "groups", name: "groups",
	sel: `SELECT ` + groupCols + ` FROM groups`, key: "name", scan: scanGroup}

func (q *queries) CreateGroup(ctx context.Context, g store.Group) error {
	err := q.insert(ctx, `INSERT INTO groups (`+groupCols+`) VALUES ($1, $2, $3, $4)
		ON CONFLICT DO NOTHING`, g.UID, g.Name, g.Description, g.CreatedAt)
	return wrapf(err, "create group %q", g.Name)
}

func (q *queries) GetGroup(ctx context.Context, name string) (store.Group, error) {
	return groups.get(ctx, q, name)
}

func (q *queries) ListGroups(ctx context.Context, f store.GroupFilter) ([]store.Group, error) {
	var w where
	if f.Search != "" {
		w.search(f.Search, "name", "description")
	}
	return groups.list(ctx, q, &w, f.After, f.Limit)
}

// UpdateGroup renames only when the name is free; see UpdateUser.
func (q *queries) UpdateGroup(ctx context.Context, g store.Group) error {
	err := q.rename(ctx, "groups", "name", `name = $2, description = $3`, "", g.UID, g.Name, g.Description)
	return wrapf(err, "update group %q", g.Name)
}

// DeleteGroup deletes the group; memberships and role assignments cascade.
func (q *queries) DeleteGroup(ctx context.Context, uid string) error {
	return groups.delete(ctx, q, uid)
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
