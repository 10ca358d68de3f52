package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/store"
)

// roleSelect reads roles with their permissions (sorted) in one query.
const roleSelect = `SELECT r.uid, r.name, r.description, r.builtin, r.created_at,
	ARRAY(SELECT p.permission FROM role_permissions p WHERE p.role_uid = r.uid ORDER BY p.permission)
	FROM roles r`

func scanRole(row pgx.Row) (store.Role, error) {
	var r store.Role
	err := row.Scan(&r.UID, &r.Name, &r.Description, &r.Builtin, &r.CreatedAt, &r.Permissions)
	r.CreatedAt = r.CreatedAt.UTC()
	return r, err
}

// CreateRole inserts the role and its permissions in one statement (so
// atomically without a transaction); the permissions are only inserted
// when the role was.
func (q *queries) CreateRole(ctx context.Context, r store.Role) error {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	var created bool
	err := q.db.QueryRow(ctx, `WITH
		r AS (
			INSERT INTO roles (uid, name, description, builtin, created_at)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT DO NOTHING
			RETURNING uid),
		perms AS (
			INSERT INTO role_permissions (role_uid, permission)
			SELECT r.uid, p.permission FROM r CROSS JOIN (SELECT DISTINCT unnest($6::text[]) AS permission) p)
		SELECT EXISTS (SELECT 1 FROM r)`,
		r.UID, r.Name, r.Description, r.Builtin, r.CreatedAt, textArray(r.Permissions)).Scan(&created)
	if err == nil && !created {
		err = store.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("postgres: create role %q: %w", r.Name, q.fail(err))
	}
	return nil
}

func (q *queries) GetRole(ctx context.Context, name string) (store.Role, error) {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	r, err := scanRole(q.db.QueryRow(ctx, roleSelect+` WHERE r.name = $1`, name))
	if err != nil {
		return store.Role{}, fmt.Errorf("postgres: get role %q: %w", name, q.fail(err))
	}
	return r, nil
}

func (q *queries) ListRoles(ctx context.Context, f store.RoleFilter) ([]store.Role, error) {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	var w where
	if f.After != "" {
		w.add("r.name > " + w.arg(f.After))
	}
	rs, err := queryAll(ctx, q, scanRole, roleSelect+w.sql("r.name", f.Limit), w.args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list roles: %w", err)
	}
	return rs, nil
}

// UpdateRole renames (when the name is free; see UpdateUser), sets the
// description and replaces the permissions in one statement, serializable
// so that two concurrent updates cannot mix their permission sets. The
// permission replacement deletes those not in the new set and inserts the
// rest, disjoint sets, and only when the role row was updated.
func (q *queries) UpdateRole(ctx context.Context, r store.Role) error {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	err := q.atomically(ctx, func(q *queries) error {
		var found, updated bool
		err := q.db.QueryRow(ctx, `WITH
			target AS (SELECT uid FROM roles WHERE uid = $1),
			taken AS (SELECT 1 FROM roles WHERE name = $2 AND uid <> $1),
			upd AS (
				UPDATE roles SET name = $2, description = $3
				WHERE uid = $1 AND NOT EXISTS (SELECT 1 FROM taken)
				RETURNING uid),
			del AS (
				DELETE FROM role_permissions
				WHERE role_uid IN (SELECT uid FROM upd) AND permission <> ALL ($4::text[])),
			ins AS (
				INSERT INTO role_permissions (role_uid, permission)
				SELECT upd.uid, p.permission FROM upd CROSS JOIN (SELECT DISTINCT unnest($4::text[]) AS permission) p
				ON CONFLICT DO NOTHING)
			SELECT EXISTS (SELECT 1 FROM target), EXISTS (SELECT 1 FROM upd)`,
			r.UID, r.Name, r.Description, textArray(r.Permissions)).Scan(&found, &updated)
		if err != nil {
			return q.fail(err)
		}
		return renameOutcome(found, updated)
	})
	if err != nil {
		return fmt.Errorf("postgres: update role %q: %w", r.Name, err)
	}
	return nil
}

// DeleteRole deletes the role; its permissions and assignments cascade.
func (q *queries) DeleteRole(ctx context.Context, uid string) error {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	if err := q.execOne(ctx, `DELETE FROM roles WHERE uid = $1`, uid); err != nil {
		return fmt.Errorf("postgres: delete role %q: %w", uid, err)
	}
	return nil
}

// AssignRoleToUser is idempotent; see AddMember for the vanished-parent
// cases.
func (q *queries) AssignRoleToUser(ctx context.Context, roleUID, userUID string) error {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	var rFound, uFound bool
	err := q.db.QueryRow(ctx, `WITH
		r AS (SELECT uid FROM roles WHERE uid = $1),
		u AS (SELECT uid FROM users WHERE uid = $2),
		ins AS (
			INSERT INTO role_user_assignments (role_uid, user_uid)
			SELECT r.uid, u.uid FROM r CROSS JOIN u
			ON CONFLICT DO NOTHING)
		SELECT EXISTS (SELECT 1 FROM r), EXISTS (SELECT 1 FROM u)`, roleUID, userUID).Scan(&rFound, &uFound)
	if err == nil {
		err = linkOutcome(rFound, uFound, "role", "user")
	}
	if err != nil {
		return fmt.Errorf("postgres: assign role %q to user %q: %w", roleUID, userUID, q.fail(err))
	}
	return nil
}

func (q *queries) UnassignRoleFromUser(ctx context.Context, roleUID, userUID string) error {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	if err := q.execOne(ctx, `DELETE FROM role_user_assignments WHERE role_uid = $1 AND user_uid = $2`, roleUID, userUID); err != nil {
		return fmt.Errorf("postgres: unassign role %q from user %q: %w", roleUID, userUID, err)
	}
	return nil
}

// AssignRoleToGroup is idempotent; see AddMember for the vanished-parent
// cases.
func (q *queries) AssignRoleToGroup(ctx context.Context, roleUID, groupUID string) error {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	var rFound, gFound bool
	err := q.db.QueryRow(ctx, `WITH
		r AS (SELECT uid FROM roles WHERE uid = $1),
		g AS (SELECT uid FROM groups WHERE uid = $2),
		ins AS (
			INSERT INTO role_group_assignments (role_uid, group_uid)
			SELECT r.uid, g.uid FROM r CROSS JOIN g
			ON CONFLICT DO NOTHING)
		SELECT EXISTS (SELECT 1 FROM r), EXISTS (SELECT 1 FROM g)`, roleUID, groupUID).Scan(&rFound, &gFound)
	if err == nil {
		err = linkOutcome(rFound, gFound, "role", "group")
	}
	if err != nil {
		return fmt.Errorf("postgres: assign role %q to group %q: %w", roleUID, groupUID, q.fail(err))
	}
	return nil
}

func (q *queries) UnassignRoleFromGroup(ctx context.Context, roleUID, groupUID string) error {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	if err := q.execOne(ctx, `DELETE FROM role_group_assignments WHERE role_uid = $1 AND group_uid = $2`, roleUID, groupUID); err != nil {
		return fmt.Errorf("postgres: unassign role %q from group %q: %w", roleUID, groupUID, err)
	}
	return nil
}

func (q *queries) RoleAssignments(ctx context.Context, roleUID string) (store.RoleAssignments, error) {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	var a store.RoleAssignments
	err := q.db.QueryRow(ctx, `SELECT
		ARRAY(SELECT u.username FROM role_user_assignments a JOIN users u ON u.uid = a.user_uid
			WHERE a.role_uid = $1 ORDER BY u.username),
		ARRAY(SELECT g.name FROM role_group_assignments a JOIN groups g ON g.uid = a.group_uid
			WHERE a.role_uid = $1 ORDER BY g.name)`, roleUID).Scan(&a.Users, &a.Groups)
	if err != nil {
		return store.RoleAssignments{}, fmt.Errorf("postgres: assignments of role %q: %w", roleUID, q.fail(err))
	}
	return a, nil
}

func (q *queries) GroupRoles(ctx context.Context, groupUID string) ([]string, error) {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	names, err := q.queryStrings(ctx, `SELECT r.name FROM role_group_assignments a JOIN roles r ON r.uid = a.role_uid
		WHERE a.group_uid = $1 ORDER BY r.name`, groupUID)
	if err != nil {
		return nil, fmt.Errorf("postgres: roles of group %q: %w", groupUID, err)
	}
	return names, nil
}

// grantsSQL selects the grants of the user whose uid is the expression
// user (a parameter, or a column of an enclosing query): groups, direct
// roles, effective roles and permissions, each an array.
func grantsSQL(user string) string {
	return `WITH
		grp AS (
			SELECT g.uid, g.name FROM group_members m JOIN groups g ON g.uid = m.group_uid
			WHERE m.user_uid = ` + user + `),
		direct AS (
			SELECT r.uid, r.name FROM role_user_assignments a JOIN roles r ON r.uid = a.role_uid
			WHERE a.user_uid = ` + user + `),
		effective AS (
			SELECT uid, name FROM direct
			UNION
			SELECT r.uid, r.name FROM role_group_assignments a
				JOIN grp ON grp.uid = a.group_uid
				JOIN roles r ON r.uid = a.role_uid),
		perms AS (
			SELECT p.permission FROM role_permissions p JOIN effective e ON e.uid = p.role_uid
			UNION
			SELECT permission FROM user_permissions WHERE user_uid = ` + user + `)
		SELECT
			ARRAY(SELECT name FROM grp ORDER BY name),
			ARRAY(SELECT name FROM direct ORDER BY name),
			ARRAY(SELECT DISTINCT name FROM effective ORDER BY name),
			ARRAY(SELECT permission FROM perms ORDER BY permission)`
}

// UserGrants computes everything in one round trip, from one snapshot:
// the user's groups, direct roles, effective roles (direct or through a
// group) and effective permissions (of every effective role, plus the
// user's direct ones). Each list is sorted and unique; all "C"-collated,
// so sorted in byte order.
func (q *queries) UserGrants(ctx context.Context, userUID string) (store.Grants, error) {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	var g store.Grants
	err := q.db.QueryRow(ctx, grantsSQL("$1"), userUID).
		Scan(&g.Groups, &g.DirectRoles, &g.Roles, &g.Permissions)
	if err != nil {
		return store.Grants{}, fmt.Errorf("postgres: grants of user %q: %w", userUID, q.fail(err))
	}
	return g, nil
}
