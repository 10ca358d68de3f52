package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"

	"github.com/gatehouse/gatehouse/internal/store"
)

// roleWithPermissions selects roles joined with their permissions, one row
// per (role, permission) and one row with a NULL permission for a role
// without any; %s is the subquery choosing the roles. One statement, so
// the role and its permissions come from the same snapshot.
const roleColumns = `uid, name, description, builtin, created_at`

const roleWithPermissions = `SELECT r.uid, r.name, r.description, r.builtin, r.created_at, p.permission
	FROM (%s) r LEFT JOIN role_permissions p ON p.role_uid = r.uid
	ORDER BY r.name, p.permission`

// scanRoles folds the rows of roleWithPermissions into roles.
func scanRoles(rows *sql.Rows) ([]store.Role, error) {
	defer rows.Close()
	var out []store.Role
	for rows.Next() {
		var (
			r          store.Role
			builtin    int
			createdAt  int64
			permission sql.NullString
		)
		if err := rows.Scan(&r.UID, &r.Name, &r.Description, &builtin, &createdAt, &permission); err != nil {
			return nil, err
		}
		if n := len(out); n == 0 || out[n-1].UID != r.UID {
			r.Builtin = builtin != 0
			r.CreatedAt = fromMicros(createdAt)
			out = append(out, r)
		}
		if permission.Valid {
			last := &out[len(out)-1]
			last.Permissions = append(last.Permissions, permission.String)
		}
	}
	return out, rows.Err()
}

const insertRolePermission = `INSERT INTO role_permissions (role_uid, permission) VALUES (?, ?) ON CONFLICT DO NOTHING`

func (q *queries) CreateRole(ctx context.Context, r store.Role) error {
	err := q.atomically(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO roles (uid, name, description, builtin, created_at)
			VALUES (?, ?, ?, ?, ?)`, r.UID, r.Name, r.Description, boolInt(r.Builtin), micros(r.CreatedAt)); err != nil {
			return mapErr(err)
		}
		return insertSet(ctx, tx, insertRolePermission, r.UID, r.Permissions)
	})
	return wrapf(err, "create role %q", r.Name)
}

// roles reads the roles the query (a SELECT of roleColumns) chooses, with
// their permissions.
func (q *queries) roles(ctx context.Context, query string, args ...any) ([]store.Role, error) {
	rows, err := q.read.QueryContext(ctx, fmt.Sprintf(roleWithPermissions, query), args...)
	if err != nil {
		return nil, err
	}
	return scanRoles(rows)
}

func (q *queries) GetRole(ctx context.Context, name string) (store.Role, error) {
	roles, err := q.roles(ctx, `SELECT `+roleColumns+` FROM roles WHERE name = ?`, name)
	if err == nil && len(roles) == 0 {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Role{}, wrapf(err, "get role %q", name)
	}
	return roles[0], nil
}

func (q *queries) ListRoles(ctx context.Context, f store.RoleFilter) ([]store.Role, error) {
	var w where
	page, args := w.page("name", f.After, f.Limit)
	roles, err := q.roles(ctx, `SELECT `+roleColumns+` FROM roles`+page, args...)
	return roles, wrapf(err, "list roles")
}

// UpdateRole changes a role's name, description and permissions. Builtin
// and CreatedAt are not written.
func (q *queries) UpdateRole(ctx context.Context, r store.Role) error {
	err := q.atomically(ctx, func(tx *sql.Tx) error {
		if err := execOne(ctx, tx, `UPDATE roles SET name = ?, description = ? WHERE uid = ?`,
			r.Name, r.Description, r.UID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM role_permissions WHERE role_uid = ?`, r.UID); err != nil {
			return err
		}
		return insertSet(ctx, tx, insertRolePermission, r.UID, r.Permissions)
	})
	return wrapf(err, "update role %q", r.Name)
}

// DeleteRole deletes a role; the foreign keys cascade to its permissions
// and assignments.
func (q *queries) DeleteRole(ctx context.Context, uid string) error {
	return wrapf(execOne(ctx, q.write, `DELETE FROM roles WHERE uid = ?`, uid), "delete role %s", uid)
}

// roleSubject names the assignment table and subject column of
// assignments to users or to groups. Only these two constants reach the
// SQL.
type roleSubject struct{ kind, table, column string }

var (
	roleUsers  = roleSubject{"user", "role_user_assignments", "user_uid"}
	roleGroups = roleSubject{"group", "role_group_assignments", "group_uid"}
)

// assignRole is idempotent. A missing role or subject fails the foreign
// key: store.ErrNotFound.
func (q *queries) assignRole(ctx context.Context, s roleSubject, roleUID, subjectUID string) error {
	_, err := q.exec(ctx, `INSERT INTO `+s.table+` (role_uid, `+s.column+`) VALUES (?, ?) ON CONFLICT DO NOTHING`,
		roleUID, subjectUID)
	return wrapf(err, "assign role %s to %s %s", roleUID, s.kind, subjectUID)
}

func (q *queries) unassignRole(ctx context.Context, s roleSubject, roleUID, subjectUID string) error {
	err := execOne(ctx, q.write, `DELETE FROM `+s.table+` WHERE role_uid = ? AND `+s.column+` = ?`, roleUID, subjectUID)
	return wrapf(err, "unassign role %s from %s %s", roleUID, s.kind, subjectUID)
}

func (q *queries) AssignRoleToUser(ctx context.Context, roleUID, userUID string) error {
	return q.assignRole(ctx, roleUsers, roleUID, userUID)
}

func (q *queries) UnassignRoleFromUser(ctx context.Context, roleUID, userUID string) error {
	return q.unassignRole(ctx, roleUsers, roleUID, userUID)
}

func (q *queries) AssignRoleToGroup(ctx context.Context, roleUID, groupUID string) error {
	return q.assignRole(ctx, roleGroups, roleUID, groupUID)
}

func (q *queries) UnassignRoleFromGroup(ctx context.Context, roleUID, groupUID string) error {
	return q.unassignRole(ctx, roleGroups, roleUID, groupUID)
}

// RoleAssignments lists the role's direct holders in one statement: rows
// tagged 'u' are usernames, 'g' group names.
func (q *queries) RoleAssignments(ctx context.Context, roleUID string) (store.RoleAssignments, error) {
	type tagged struct{ kind, name string }
	rows, err := queryAll(ctx, q.read, func(sc scanner) (t tagged, err error) { return t, sc.Scan(&t.kind, &t.name) }, `
		SELECT 'u', u.username FROM role_user_assignments a JOIN users u ON u.uid = a.user_uid WHERE a.role_uid = ?1
		UNION ALL
		SELECT 'g', g.name FROM role_group_assignments a JOIN groups g ON g.uid = a.group_uid WHERE a.role_uid = ?1
		ORDER BY 1, 2`, roleUID)
	if err != nil {
		return store.RoleAssignments{}, wrapf(err, "assignments of role %s", roleUID)
	}
	var out store.RoleAssignments
	for _, t := range rows {
		if t.kind == "u" {
			out.Users = append(out.Users, t.name)
		} else {
			out.Groups = append(out.Groups, t.name)
		}
	}
	return out, nil
}

func (q *queries) GroupRoles(ctx context.Context, groupUID string) ([]string, error) {
	names, err := queryStrings(ctx, q.read, `SELECT r.name FROM role_group_assignments a
		JOIN roles r ON r.uid = a.role_uid
		WHERE a.group_uid = ? ORDER BY r.name`, groupUID)
	return names, wrapf(err, "roles of group %s", groupUID)
}

// userGrantsQuery computes everything UserGrants returns in one statement
// (one snapshot), as rows tagged by kind:
//
//	g  a group the user is a member of
//	d  a role assigned to the user directly
//	r  an effective role: direct, or through one of the user's groups
//	p  an effective permission: of an effective role, or granted directly
//
// Duplicates (a role held both ways, a permission in two roles) are
// removed in Go. The "IN my_roles" form makes the planner probe roles and
// role_permissions by key for each effective role; as a join, without
// table statistics, it may choose to scan role_permissions instead.
const userGrantsQuery = `
WITH
	my_groups(group_uid) AS (
		SELECT group_uid FROM group_members WHERE user_uid = ?1
	),
	my_roles(role_uid) AS (
		SELECT role_uid FROM role_user_assignments WHERE user_uid = ?1
		UNION
		SELECT a.role_uid FROM role_group_assignments a JOIN my_groups m ON m.group_uid = a.group_uid
	)
SELECT 'g', g.name FROM my_groups m JOIN groups g ON g.uid = m.group_uid
UNION ALL
SELECT 'd', r.name FROM role_user_assignments a JOIN roles r ON r.uid = a.role_uid WHERE a.user_uid = ?1
UNION ALL
SELECT 'r', name FROM roles WHERE uid IN my_roles
UNION ALL
SELECT 'p', permission FROM role_permissions WHERE role_uid IN my_roles
UNION ALL
SELECT 'p', permission FROM user_permissions WHERE user_uid = ?1`

func (q *queries) UserGrants(ctx context.Context, userUID string) (store.Grants, error) {
	rows, err := q.read.QueryContext(ctx, userGrantsQuery, userUID)
	if err != nil {
		return store.Grants{}, fmt.Errorf("grants of user %s: %w", userUID, err)
	}
	defer rows.Close()
	var g store.Grants
	for rows.Next() {
		var kind, name string
		if err := rows.Scan(&kind, &name); err != nil {
			return store.Grants{}, fmt.Errorf("grants of user %s: %w", userUID, err)
		}
		switch kind {
		case "g":
			g.Groups = append(g.Groups, name)
		case "d":
			g.DirectRoles = append(g.DirectRoles, name)
		case "r":
			g.Roles = append(g.Roles, name)
		case "p":
			g.Permissions = append(g.Permissions, name)
		}
	}
	if err := rows.Err(); err != nil {
		return store.Grants{}, fmt.Errorf("grants of user %s: %w", userUID, err)
	}
	g.Groups = sortedUnique(g.Groups)
	g.DirectRoles = sortedUnique(g.DirectRoles)
	g.Roles = sortedUnique(g.Roles)
	g.Permissions = sortedUnique(g.Permissions)
	return g, nil
}

// sortedUnique sorts s in place (byte order, like SQLite's BINARY
// collation) and drops duplicates.
func sortedUnique(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}
