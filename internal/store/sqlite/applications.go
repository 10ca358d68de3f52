package sqlite

import (
	"context"
	"database/sql"
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
	if err != nil {
		return fmt.Errorf("create application %q: %w", a.Slug, err)
	}
	return nil
}

func (q *queries) GetApplication(ctx context.Context, slug string) (store.Application, error) {
	a, err := scanApplication(q.read.QueryRowContext(ctx, `SELECT `+applicationColumns+` FROM applications WHERE slug = ?`, slug))
	if err != nil {
		return store.Application{}, fmt.Errorf("get application %q: %w", slug, notFound(err))
	}
	return a, nil
}

func (q *queries) ListApplications(ctx context.Context, f store.ApplicationFilter) ([]store.Application, error) {
	var w where
	if f.Search != "" {
		w.search(f.Search, "slug", "name", "description")
	}
	if f.After != "" {
		w.add("slug > ?", f.After)
	}
	out, err := queryAll(ctx, q.read, scanApplication, `SELECT `+applicationColumns+` FROM applications`+w.String()+
		` ORDER BY slug LIMIT ?`, append(w.args, limitArg(f.Limit))...)
	if err != nil {
		return nil, fmt.Errorf("list applications: %w", err)
	}
	return out, nil
}

func (q *queries) UpdateApplication(ctx context.Context, a store.Application) error {
	err := execOne(ctx, q.write, `UPDATE applications SET name = ?, url = ?, description = ?, policy_engine_mode = ? WHERE uid = ?`,
		a.Name, a.URL, a.Description, a.PolicyEngineMode, a.UID)
	if err != nil {
		return fmt.Errorf("update application %q: %w", a.Slug, err)
	}
	return nil
}

// DeleteApplication deletes an application; the foreign keys cascade to
// its bindings.
func (q *queries) DeleteApplication(ctx context.Context, uid string) error {
	if err := execOne(ctx, q.write, `DELETE FROM applications WHERE uid = ?`, uid); err != nil {
		return fmt.Errorf("delete application %s: %w", uid, err)
	}
	return nil
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
	if err != nil {
		return fmt.Errorf("bind %s %s to application %s: %w", b.Kind, b.SubjectUID, b.ApplicationUID, err)
	}
	return nil
}

func (q *queries) DeleteBinding(ctx context.Context, applicationUID, kind, subjectUID string) error {
	table, column, err := bindingTable(kind)
	if err != nil {
		return err
	}
	if err := execOne(ctx, q.write, `DELETE FROM `+table+` WHERE application_uid = ? AND `+column+` = ?`,
		applicationUID, subjectUID); err != nil {
		return fmt.Errorf("unbind %s %s from application %s: %w", kind, subjectUID, applicationUID, err)
	}
	return nil
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

func scanBindings(rows *sql.Rows) ([]store.Binding, error) {
	return scanAll(rows, func(sc scanner) (store.Binding, error) {
		var (
			b      store.Binding
			negate int
		)
		err := sc.Scan(&b.ApplicationUID, &b.Kind, &b.SubjectUID, &b.SubjectName, &b.Order, &negate)
		b.Negate = negate != 0
		return b, err
	})
}

func (q *queries) ListBindings(ctx context.Context, applicationUID string) ([]store.Binding, error) {
	rows, err := q.read.QueryContext(ctx, fmt.Sprintf(bindingsSelect, "b.application_uid = ?1"), applicationUID)
	if err != nil {
		return nil, fmt.Errorf("list bindings of application %s: %w", applicationUID, err)
	}
	bs, err := scanBindings(rows)
	if err != nil {
		return nil, fmt.Errorf("list bindings of application %s: %w", applicationUID, err)
	}
	return bs, nil
}

func (q *queries) AllBindings(ctx context.Context) ([]store.Binding, error) {
	rows, err := q.read.QueryContext(ctx, fmt.Sprintf(bindingsSelect, "1 = 1"))
	if err != nil {
		return nil, fmt.Errorf("list bindings: %w", err)
	}
	bs, err := scanBindings(rows)
	if err != nil {
		return nil, fmt.Errorf("list bindings: %w", err)
	}
	return bs, nil
}
