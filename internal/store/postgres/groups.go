package postgres

import (
	"context"
	"fmt"

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
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	tag, err := q.db.Exec(ctx, `INSERT INTO groups (`+groupCols+`) VALUES ($1, $2, $3, $4)
		ON CONFLICT DO NOTHING`, g.UID, g.Name, g.Description, g.CreatedAt)
	if err == nil {
		err = insertOutcome(tag)
	}
	if err != nil {
		return fmt.Errorf("postgres: create group %q: %w", g.Name, q.fail(err))
	}
	return nil
}

func (q *queries) GetGroup(ctx context.Context, name string) (store.Group, error) {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	g, err := scanGroup(q.db.QueryRow(ctx, `SELECT `+groupCols+` FROM groups WHERE name = $1`, name))
	if err != nil {
		return store.Group{}, fmt.Errorf("postgres: get group %q: %w", name, q.fail(err))
	}
	return g, nil
}

func (q *queries) ListGroups(ctx context.Context, f store.GroupFilter) ([]store.Group, error) {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	var w where
	if f.Search != "" {
		w.search(f.Search, "name", "description")
	}
	if f.After != "" {
		w.add("name > " + w.arg(f.After))
	}
	gs, err := queryAll(ctx, q, scanGroup, `SELECT `+groupCols+` FROM groups`+w.sql("name", f.Limit), w.args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list groups: %w", err)
	}
	return gs, nil
}

// UpdateGroup renames only when the name is free; see UpdateUser.
func (q *queries) UpdateGroup(ctx context.Context, g store.Group) error {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	err := q.atomically(ctx, func(q *queries) error {
		var found, updated bool
		err := q.db.QueryRow(ctx, `WITH
			target AS (SELECT uid FROM groups WHERE uid = $1),
			taken AS (SELECT 1 FROM groups WHERE name = $2 AND uid <> $1),
			upd AS (
				UPDATE groups SET name = $2, description = $3
				WHERE uid = $1 AND NOT EXISTS (SELECT 1 FROM taken)
				RETURNING 1)
			SELECT EXISTS (SELECT 1 FROM target), EXISTS (SELECT 1 FROM upd)`,
			g.UID, g.Name, g.Description).Scan(&found, &updated)
		if err != nil {
			return q.fail(err)
		}
		return renameOutcome(found, updated)
	})
	if err != nil {
		return fmt.Errorf("postgres: update group %q: %w", g.Name, err)
	}
	return nil
}

// DeleteGroup deletes the group; memberships and role assignments cascade.
func (q *queries) DeleteGroup(ctx context.Context, uid string) error {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	if err := q.execOne(ctx, `DELETE FROM groups WHERE uid = $1`, uid); err != nil {
		return fmt.Errorf("postgres: delete group %q: %w", uid, err)
	}
	return nil
}

// AddMember inserts the membership if both rows exist and it is not there
// yet. A parent deleted concurrently, after the statement's snapshot,
// fails the foreign key check (store.ErrNotFound as well) or, inside InTx,
// the serializable check (retried).
func (q *queries) AddMember(ctx context.Context, groupUID, userUID string) error {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	var gFound, uFound bool
	err := q.db.QueryRow(ctx, `WITH
		g AS (SELECT uid FROM groups WHERE uid = $1),
		u AS (SELECT uid FROM users WHERE uid = $2),
		ins AS (
			INSERT INTO group_members (group_uid, user_uid)
			SELECT g.uid, u.uid FROM g CROSS JOIN u
			ON CONFLICT DO NOTHING)
		SELECT EXISTS (SELECT 1 FROM g), EXISTS (SELECT 1 FROM u)`, groupUID, userUID).Scan(&gFound, &uFound)
	if err == nil {
		err = linkOutcome(gFound, uFound, "group", "user")
	}
	if err != nil {
		return fmt.Errorf("postgres: add user %q to group %q: %w", userUID, groupUID, q.fail(err))
	}
	return nil
}

func (q *queries) RemoveMember(ctx context.Context, groupUID, userUID string) error {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	if err := q.execOne(ctx, `DELETE FROM group_members WHERE group_uid = $1 AND user_uid = $2`, groupUID, userUID); err != nil {
		return fmt.Errorf("postgres: remove user %q from group %q: %w", userUID, groupUID, err)
	}
	return nil
}

func (q *queries) ListMembers(ctx context.Context, groupUID string) ([]string, error) {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	names, err := q.queryStrings(ctx, `SELECT u.username FROM group_members m JOIN users u ON u.uid = m.user_uid
		WHERE m.group_uid = $1 ORDER BY u.username`, groupUID)
	if err != nil {
		return nil, fmt.Errorf("postgres: list members of group %q: %w", groupUID, err)
	}
	return names, nil
}

func (q *queries) UserGroups(ctx context.Context, userUID string) ([]string, error) {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	names, err := q.queryStrings(ctx, `SELECT g.name FROM group_members m JOIN groups g ON g.uid = m.group_uid
		WHERE m.user_uid = $1 ORDER BY g.name`, userUID)
	if err != nil {
		return nil, fmt.Errorf("postgres: list groups of user %q: %w", userUID, err)
	}
	return names, nil
}
