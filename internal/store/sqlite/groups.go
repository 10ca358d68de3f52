package sqlite

import (
	"context"
	"fmt"

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
	if err != nil {
		return fmt.Errorf("create group %q: %w", g.Name, err)
	}
	return nil
}

func (q *queries) GetGroup(ctx context.Context, name string) (store.Group, error) {
	g, err := scanGroup(q.read.QueryRowContext(ctx, `SELECT `+groupColumns+` FROM groups WHERE name = ?`, name))
	if err != nil {
		return store.Group{}, fmt.Errorf("get group %q: %w", name, notFound(err))
	}
	return g, nil
}

func (q *queries) ListGroups(ctx context.Context, f store.GroupFilter) ([]store.Group, error) {
	var w where
	if f.Search != "" {
		w.search(f.Search, "name", "description")
	}
	if f.After != "" {
		w.add("name > ?", f.After)
	}
	out, err := queryAll(ctx, q.read, scanGroup, `SELECT `+groupColumns+` FROM groups`+w.String()+
		` ORDER BY name LIMIT ?`, append(w.args, limitArg(f.Limit))...)
	if err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	return out, nil
}

func (q *queries) UpdateGroup(ctx context.Context, g store.Group) error {
	err := execOne(ctx, q.write, `UPDATE groups SET name = ?, description = ? WHERE uid = ?`,
		g.Name, g.Description, g.UID)
	if err != nil {
		return fmt.Errorf("update group %q: %w", g.Name, err)
	}
	return nil
}

// DeleteGroup deletes a group; the foreign keys cascade to its memberships
// and role assignments.
func (q *queries) DeleteGroup(ctx context.Context, uid string) error {
	if err := execOne(ctx, q.write, `DELETE FROM groups WHERE uid = ?`, uid); err != nil {
		return fmt.Errorf("delete group %s: %w", uid, err)
	}
	return nil
}

func (q *queries) AddMember(ctx context.Context, groupUID, userUID string) error {
	// A missing group or user fails the foreign key: store.ErrNotFound.
	_, err := q.exec(ctx, `INSERT INTO group_members (group_uid, user_uid) VALUES (?, ?) ON CONFLICT DO NOTHING`,
		groupUID, userUID)
	if err != nil {
		return fmt.Errorf("add user %s to group %s: %w", userUID, groupUID, err)
	}
	return nil
}

func (q *queries) RemoveMember(ctx context.Context, groupUID, userUID string) error {
	err := execOne(ctx, q.write, `DELETE FROM group_members WHERE group_uid = ? AND user_uid = ?`, groupUID, userUID)
	if err != nil {
		return fmt.Errorf("remove user %s from group %s: %w", userUID, groupUID, err)
	}
	return nil
}

func (q *queries) ListMembers(ctx context.Context, groupUID string) ([]string, error) {
	names, err := queryStrings(ctx, q.read, `SELECT u.username FROM group_members m
		JOIN users u ON u.uid = m.user_uid
		WHERE m.group_uid = ? ORDER BY u.username`, groupUID)
	if err != nil {
		return nil, fmt.Errorf("list members of group %s: %w", groupUID, err)
	}
	return names, nil
}

func (q *queries) UserGroups(ctx context.Context, userUID string) ([]string, error) {
	names, err := queryStrings(ctx, q.read, `SELECT g.name FROM group_members m
		JOIN groups g ON g.uid = m.group_uid
		WHERE m.user_uid = ? ORDER BY g.name`, userUID)
	if err != nil {
		return nil, fmt.Errorf("list groups of user %s: %w", userUID, err)
	}
	return names, nil
}
