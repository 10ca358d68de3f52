package sqlite

import (
	"context"

	"github.com/gatehouse/gatehouse/internal/store"
)

const groupColumns = `uid, name, description, created_at`

func scanGroup(sc scanner) (store.Group, error) {
	var (
		g         store.Group
		createdAt int64
	)
	if err := sc.Scan(&g.UID, &g.Name, &g.Description, &createdAt); err != nil {
		return store.Group{}, err
	}
	g.CreatedAt = fromMicros(createdAt)
	return g, nil
}

func (q *queries) CreateGroup(ctx context.Context, g store.Group) error {
	_, err := q.exec(ctx, `INSERT INTO groups (`+groupColumns+`) VALUES (?, ?, ?, ?)`,
		g.UID, g.Name, g.Description, micros(g.CreatedAt))
	return wrapf(err, "create group %q", g.Name)
}

func (q *queries) GetGroup(ctx context.Context, name string) (store.Group, error) {
	g, err := one(ctx, q.read, scanGroup, `SELECT `+groupColumns+` FROM groups WHERE name = ?`, name)
	return g, wrapf(err, "get group %q", name)
}

func (q *queries) ListGroups(ctx context.Context, f store.GroupFilter) ([]store.Group, error) {
	var w where
	if f.Search != "" {
		w.search(f.Search, "name", "description")
	}
	page, args := w.page("name", f.After, f.Limit)
	out, err := queryAll(ctx, q.read, scanGroup, `SELECT `+groupColumns+` FROM groups`+page, args...)
	return out, wrapf(err, "list groups")
}

func (q *queries) UpdateGroup(ctx context.Context, g store.Group) error {
	err := execOne(ctx, q.write, `UPDATE groups SET name = ?, description = ? WHERE uid = ?`,
		g.Name, g.Description, g.UID)
	return wrapf(err, "update group %q", g.Name)
}

// DeleteGroup deletes a group; the foreign keys cascade to its memberships
// and role assignments.
func (q *queries) DeleteGroup(ctx context.Context, uid string) error {
	return wrapf(execOne(ctx, q.write, `DELETE FROM groups WHERE uid = ?`, uid), "delete group %s", uid)
}

func (q *queries) AddMember(ctx context.Context, groupUID, userUID string) error {
	// A missing group or user fails the foreign key: store.ErrNotFound.
	_, err := q.exec(ctx, `INSERT INTO group_members (group_uid, user_uid) VALUES (?, ?) ON CONFLICT DO NOTHING`,
		groupUID, userUID)
	return wrapf(err, "add user %s to group %s", userUID, groupUID)
}

func (q *queries) RemoveMember(ctx context.Context, groupUID, userUID string) error {
	err := execOne(ctx, q.write, `DELETE FROM group_members WHERE group_uid = ? AND user_uid = ?`, groupUID, userUID)
	return wrapf(err, "remove user %s from group %s", userUID, groupUID)
}

func (q *queries) ListMembers(ctx context.Context, groupUID string) ([]string, error) {
	names, err := queryStrings(ctx, q.read, `SELECT u.username FROM group_members m
		JOIN users u ON u.uid = m.user_uid
		WHERE m.group_uid = ? ORDER BY u.username`, groupUID)
	return names, wrapf(err, "list members of group %s", groupUID)
}

func (q *queries) UserGroups(ctx context.Context, userUID string) ([]string, error) {
	names, err := queryStrings(ctx, q.read, `SELECT g.name FROM group_members m
		JOIN groups g ON g.uid = m.group_uid
		WHERE m.user_uid = ? ORDER BY g.name`, userUID)
	return names, wrapf(err, "list groups of user %s", userUID)
}
