package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/store"
)

const applicationCols = `uid, slug, name, url, description, policy_engine_mode, created_at`

func scanApplication(row pgx.Row) (store.Application, error) {
	var a store.Application
	err := row.Scan(&a.UID, &a.Slug, &a.Name, &a.URL, &a.Description, &a.PolicyEngineMode, &a.CreatedAt)
	a.CreatedAt = a.CreatedAt.UTC()
	return a, err
}

var applications = table[store.Application]{what: "application", plural: "applications", name: "applications",
	sel: `SELECT ` + applicationCols + ` FROM applications`, key: "slug", scan: scanApplication}

func (q *queries) CreateApplication(ctx context.Context, a store.Application) error {
	err := q.insert(ctx, `INSERT INTO applications (`+applicationCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT DO NOTHING`, a.UID, a.Slug, a.Name, a.URL, a.Description, a.PolicyEngineMode, a.CreatedAt)
	return wrapf(err, "create application %q", a.Slug)
}

func (q *queries) GetApplication(ctx context.Context, slug string) (store.Application, error) {
	return applications.get(ctx, q, slug)
}

func (q *queries) ListApplications(ctx context.Context, f store.ApplicationFilter) ([]store.Application, error) {
	var w where
	if f.Search != "" {
		w.search(f.Search, "slug", "name", "description")
	}
	return applications.list(ctx, q, &w, f.After, f.Limit)
}

func (q *queries) UpdateApplication(ctx context.Context, a store.Application) error {
	err := q.change(ctx, `UPDATE applications SET name = $2, url = $3, description = $4, policy_engine_mode = $5 WHERE uid = $1`,
		a.UID, a.Name, a.URL, a.Description, a.PolicyEngineMode)
	return wrapf(err, "update application %q", a.Slug)
}

// DeleteApplication deletes the application; its bindings cascade.
func (q *queries) DeleteApplication(ctx context.Context, uid string) error {
	return applications.delete(ctx, q, uid)
}

// bindingTable names the table, subject column and subject table of a
// binding kind. The kind is checked against the two constants, so no
// caller text reaches the SQL.
func bindingTable(kind string) (table, column, subjects string, err error) {
	switch kind {
	case store.BindingUser:
		return "application_user_bindings", "user_uid", "users", nil
	case store.BindingGroup:
		return "application_group_bindings", "group_uid", "groups", nil
	}
	return "", "", "", fmt.Errorf("unknown binding kind %q", kind)
}

// PutBinding inserts or replaces the binding if both parents exist; see
// AddMember for the vanished-parent cases.
func (q *queries) PutBinding(ctx context.Context, b store.Binding) error {
	table, column, subjects, err := bindingTable(b.Kind)
	if err != nil {
		return err
	}
	err = q.link(ctx, "application", b.Kind, `WITH
		a AS (SELECT uid FROM applications WHERE uid = $1),
		s AS (SELECT uid FROM `+subjects+` WHERE uid = $2),
		ins AS (
			INSERT INTO `+table+` (application_uid, `+column+`, sort_order, negate)
			SELECT a.uid, s.uid, $3, $4 FROM a CROSS JOIN s
			ON CONFLICT (application_uid, `+column+`) DO UPDATE SET sort_order = excluded.sort_order, negate = excluded.negate)
		SELECT EXISTS (SELECT 1 FROM a), EXISTS (SELECT 1 FROM s)`,
		b.ApplicationUID, b.SubjectUID, b.Order, b.Negate)
	return wrapf(err, "bind %s %q to application %q", b.Kind, b.SubjectUID, b.ApplicationUID)
}

func (q *queries) DeleteBinding(ctx context.Context, applicationUID, kind, subjectUID string) error {
	table, column, _, err := bindingTable(kind)
	if err != nil {
		return err
	}
	err = q.change(ctx, `DELETE FROM `+table+` WHERE application_uid = $1 AND `+column+` = $2`, applicationUID, subjectUID)
	return wrapf(err, "unbind %s %q from application %q", kind, subjectUID, applicationUID)
}

// bindingsSelect reads the bindings of both kinds with their subjects'
// names; %s is a condition on b.application_uid.
const bindingsSelect = `SELECT application_uid, kind, subject_uid, subject_name, sort_order, negate FROM (
	SELECT b.application_uid, 'group' COLLATE "C" AS kind, g.uid AS subject_uid, g.name AS subject_name, b.sort_order, b.negate
		FROM application_group_bindings b JOIN groups g ON g.uid = b.group_uid WHERE %[1]s
	UNION ALL
	SELECT b.application_uid, 'user' COLLATE "C", u.uid, u.username, b.sort_order, b.negate
		FROM application_user_bindings b JOIN users u ON u.uid = b.user_uid WHERE %[1]s) x
	ORDER BY application_uid, sort_order, kind, subject_name`

func scanBinding(row pgx.Row) (store.Binding, error) {
	var b store.Binding
	var order int32
	err := row.Scan(&b.ApplicationUID, &b.Kind, &b.SubjectUID, &b.SubjectName, &order, &b.Negate)
	b.Order = int(order)
	return b, err
}

func (q *queries) ListBindings(ctx context.Context, applicationUID string) ([]store.Binding, error) {
	bs, err := all(ctx, q, scanBinding, fmt.Sprintf(bindingsSelect, "b.application_uid = $1"), applicationUID)
	return bs, wrapf(err, "list bindings of application %q", applicationUID)
}

func (q *queries) AllBindings(ctx context.Context) ([]store.Binding, error) {
	bs, err := all(ctx, q, scanBinding, fmt.Sprintf(bindingsSelect, "TRUE"))
	return bs, wrapf(err, "list bindings")
}
