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

var roles = table[store.Role]{what: "role", plural: "roles", name: "roles", sel: roleSelect, key: "r.name", scan: scanRole}

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
	created, err := value[bool](ctx, q, `WITH
		r AS (
			INSERT INTO roles (uid, name, description, builtin, created_at)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT DO NOTHING
			RETURNING uid),
		perms AS (
			INSERT INTO role_permissions (role_uid, permission)
			SELECT r.uid, p.permission FROM r CROSS JOIN (SELECT DISTINCT unnest($6::text[]) AS permission) p)
		SELECT EXISTS (SELECT 1 FROM r)`,
		r.UID, r.Name, r.Description, r.Builtin, r.CreatedAt, textArray(r.Permissions))
	if err == nil && !created {
		err = store.ErrConflict
	}
	return wrapf(err, "create role %q", r.Name)
}

func (q *queries) GetRole(ctx context.Context, name string) (store.Role, error) {
	return roles.get(ctx, q, name)
}

func (q *queries) ListRoles(ctx context.Context, f store.RoleFilter) ([]store.Role, error) {
	return roles.list(ctx, q, nil, f.After, f.Limit)
}

// UpdateRole renames (when the name is free; see UpdateUser), sets the
// description and replaces the permissions in one statement, serializable
// so that two concurrent updates cannot mix their permission sets. The
// permission replacement deletes those not in the new set and inserts the
// rest, disjoint sets, and only when the role row was updated.
func (q *queries) UpdateRole(ctx context.Context, r store.Role) error {
	err := q.rename(ctx, "roles", "name", `name = $2, description = $3`,
		`,`+replacePermissions("role_permissions", "role_uid", "upd", "$4"),
		r.UID, r.Name, r.Description, textArray(r.Permissions))
	return wrapf(err, "update role %q", r.Name)
}

// DeleteRole deletes the role; its permissions and assignments cascade.
func (q *queries) DeleteRole(ctx context.Context, uid string) error {
	return roles.delete(ctx, q, uid)
}

// roleSubject names the assignment table, subject column and subject table
// of assignments to users or to groups. Only these two constants reach
// the SQL.
type roleSubject struct{ kind, table, column, subjects string }

var (
	roleUsers  = roleSubject{"user", "role_user_assignments", "user_uid", "users"}
	roleGroups = roleSubject{"group", "role_group_assignments", "group_uid", "groups"}
)

// assignRole is idempotent; see AddMember for the vanished-parent cases.
func (q *queries) assignRole(ctx context.Context, s roleSubject, roleUID, subjectUID string) error {
	err := q.link(ctx, "role", s.kind, `WITH
		r AS (SELECT uid FROM roles WHERE uid = $1),
		s AS (SELECT uid FROM `+s.subjects+` WHERE uid = $2),
		ins AS (
			INSERT INTO `+s.table+` (role_uid, `+s.column+`)
			SELECT r.uid, s.uid FROM r CROSS JOIN s
			ON CONFLICT DO NOTHING)
		SELECT EXISTS (SELECT 1 FROM r), EXISTS (SELECT 1 FROM s)`, roleUID, subjectUID)
	return wrapf(err, "assign role %q to %s %q", roleUID, s.kind, subjectUID)
}

func (q *queries) unassignRole(ctx context.Context, s roleSubject, roleUID, subjectUID string) error {
	err := q.change(ctx, `DELETE FROM `+s.table+` WHERE role_uid = $1 AND `+s.column+` = $2`, roleUID, subjectUID)
	return wrapf(err, "unassign role %q from %s %q", roleUID, s.kind, subjectUID)
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

func (q *queries) RoleAssignments(ctx context.Context, roleUID string) (store.RoleAssignments, error) {
	a, err := one(ctx, q, func(r pgx.Row) (a store.RoleAssignments, err error) { return a, r.Scan(&a.Users, &a.Groups) }, `SELECT
		ARRAY(SELECT u.username FROM role_user_assignments a JOIN users u ON u.uid = a.user_uid
			WHERE a.role_uid = $1 ORDER BY u.username),
		ARRAY(SELECT g.name FROM role_group_assignments a JOIN groups g ON g.uid = a.group_uid
			WHERE a.role_uid = $1 ORDER BY g.name)`, roleUID)
	return a, wrapf(err, "assignments of role %q", roleUID)
}

func (q *queries) GroupRoles(ctx context.Context, groupUID string) ([]string, error) {
	names, err := q.texts(ctx, `SELECT r.name FROM role_group_assignments a JOIN roles r ON r.uid = a.role_uid
		WHERE a.group_uid = $1 ORDER BY r.name`, groupUID)
	return names, wrapf(err, "roles of group %q", groupUID)
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
