package sqlite

import (
	"context"
	"fmt"

	"github.com/gatehouse/gatehouse/internal/store"
)

const applicationColumns = `uid, slug, name, url, description, policy_engine_mode, created_at`

func scanApplication(sc scanner) (store.Application, error) {
	var (
		a         store.Application
		createdAt int64
	)
	if err := sc.Scan(&a.UID, &a.Slug, &a.Name, &a.URL, &a.Description, &a.PolicyEngineMode, &createdAt); err != nil {
		return store.Application{}, err
	}
	a.CreatedAt = fromMicros(createdAt)
	return a, nil
}

func (q *queries) CreateApplication(ctx context.Context, a store.Application) error {
	_, err := q.exec(ctx, `INSERT INTO applications (`+applicationColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		a.UID, a.Slug, a.Name, a.URL, a.Description, a.PolicyEngineMode, micros(a.CreatedAt))
	return wrapf(err, "create application %q", a.Slug)
}

func (q *queries) GetApplication(ctx context.Context, slug string) (store.Application, error) {
	a, err := one(ctx, q.read, scanApplication, `SELECT `+applicationColumns+` FROM applications WHERE slug = ?`, slug)
	return a, wrapf(err, "get application %q", slug)
}

func (q *queries) ListApplications(ctx context.Context, f store.ApplicationFilter) ([]store.Application, error) {
	var w where
	if f.Search != "" {
		w.search(f.Search, "slug", "name", "description")
	}
	page, args := w.page("slug", f.After, f.Limit)
	out, err := queryAll(ctx, q.read, scanApplication, `SELECT `+applicationColumns+` FROM applications`+page, args...)
	return out, wrapf(err, "list applications")
}

func (q *queries) UpdateApplication(ctx context.Context, a store.Application) error {
	err := execOne(ctx, q.write, `UPDATE applications SET name = ?, url = ?, description = ?, policy_engine_mode = ? WHERE uid = ?`,
		a.Name, a.URL, a.Description, a.PolicyEngineMode, a.UID)
	return wrapf(err, "update application %q", a.Slug)
}

// DeleteApplication deletes an application; the foreign keys cascade to
// its bindings.
func (q *queries) DeleteApplication(ctx context.Context, uid string) error {
	return wrapf(execOne(ctx, q.write, `DELETE FROM applications WHERE uid = ?`, uid), "delete application %s", uid)
}

// bindingTable names the table and subject column of a binding kind. The
// kind is checked against the two constants, so no caller text reaches
// the SQL.
func bindingTable(kind string) (table, column string, err error) {
	switch kind {
	case store.BindingUser:
		return "application_user_bindings", "user_uid", nil
	case store.BindingGroup:
		return "application_group_bindings", "group_uid", nil
	}
	return "", "", fmt.Errorf("unknown binding kind %q", kind)
}

func (q *queries) PutBinding(ctx context.Context, b store.Binding) error {
	table, column, err := bindingTable(b.Kind)
	if err != nil {
		return err
	}
	// A missing application or subject fails the foreign key:
	// store.ErrNotFound.
	_, err = q.exec(ctx, `INSERT INTO `+table+` (application_uid, `+column+`, sort_order, negate) VALUES (?, ?, ?, ?)
		ON CONFLICT (application_uid, `+column+`) DO UPDATE SET sort_order = excluded.sort_order, negate = excluded.negate`,
		b.ApplicationUID, b.SubjectUID, b.Order, boolInt(b.Negate))
	return wrapf(err, "bind %s %s to application %s", b.Kind, b.SubjectUID, b.ApplicationUID)
}

func (q *queries) DeleteBinding(ctx context.Context, applicationUID, kind, subjectUID string) error {
	table, column, err := bindingTable(kind)
	if err != nil {
		return err
	}
	err = execOne(ctx, q.write, `DELETE FROM `+table+` WHERE application_uid = ? AND `+column+` = ?`, applicationUID, subjectUID)
	return wrapf(err, "unbind %s %s from application %s", kind, subjectUID, applicationUID)
}

// bindingsSelect reads the bindings of both kinds with their subjects'
// names; %s is a condition on b.application_uid.
const bindingsSelect = `SELECT application_uid, kind, subject_uid, subject_name, sort_order, negate FROM (
	SELECT b.application_uid, 'group' AS kind, g.uid AS subject_uid, g.name AS subject_name, b.sort_order, b.negate
		FROM application_group_bindings b JOIN groups g ON g.uid = b.group_uid WHERE %[1]s
	UNION ALL
	SELECT b.application_uid, 'user', u.uid, u.username, b.sort_order, b.negate
		FROM application_user_bindings b JOIN users u ON u.uid = b.user_uid WHERE %[1]s)
	ORDER BY application_uid, sort_order, kind, subject_name`

func scanBinding(sc scanner) (store.Binding, error) {
	var (
		b      store.Binding
		negate int
	)
	err := sc.Scan(&b.ApplicationUID, &b.Kind, &b.SubjectUID, &b.SubjectName, &b.Order, &negate)
	b.Negate = negate != 0
	return b, err
}

func (q *queries) ListBindings(ctx context.Context, applicationUID string) ([]store.Binding, error) {
	bs, err := queryAll(ctx, q.read, scanBinding, fmt.Sprintf(bindingsSelect, "b.application_uid = ?1"), applicationUID)
	return bs, wrapf(err, "list bindings of application %s", applicationUID)
}

func (q *queries) AllBindings(ctx context.Context) ([]store.Binding, error) {
	bs, err := queryAll(ctx, q.read, scanBinding, fmt.Sprintf(bindingsSelect, "1 = 1"))
	return bs, wrapf(err, "list bindings")
}
