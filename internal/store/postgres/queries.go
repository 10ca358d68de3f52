package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gatehouse/gatehouse/internal/store"
)

// dbtx is what *pgxpool.Pool and pgx.Tx have in common.
type dbtx interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// queries implements store.Queries on the pool (the Store's own methods)
// or on a transaction (the Queries given to InTx's fn).
type queries struct {
	db    dbtx
	store *Store
	tx    *txState // nil outside a transaction
}

var _ store.Queries = (*queries)(nil)

// timeout applies the Store's per-call timeout to one method call.
func (q *queries) timeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return q.store.withTimeout(ctx)
}

// fail classifies a driver error (see mapErr) and, inside a transaction,
// notes a serialization failure or deadlock for InTx's retry loop.
func (q *queries) fail(err error) error {
	if q.tx != nil && retryable(err) {
		q.tx.retry.Store(true)
	}
	return mapErr(err)
}

// utcPtr returns a nullable time in UTC. pgx decodes timestamptz in the
// local zone; the store's times are UTC.
func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// textArray makes a set argument for a text[] parameter: pgx sends a nil
// slice as NULL, and "x <> ALL (NULL)" is NULL, not true.
func textArray(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// containsPattern makes an ILIKE pattern matching s as a substring: its
// wildcard characters and the escape character are escaped so that they
// match literally (backslash is LIKE's default escape in PostgreSQL).
func containsPattern(s string) string {
	r := strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`)
	return "%" + r.Replace(s) + "%"
}

// where accumulates the conditions and numbered arguments of a list query.
type where struct {
	conds []string
	args  []any
}

// arg adds an argument and returns its placeholder.
func (w *where) arg(v any) string {
	w.args = append(w.args, v)
	return "$" + strconv.Itoa(len(w.args))
}

func (w *where) add(cond string) { w.conds = append(w.conds, cond) }

// search adds "any of cols contains s, ignoring case". ILIKE folds case by
// the column's collation: the free-text columns use the database's, the
// name columns "C" (ASCII only; names are ASCII by validation).
func (w *where) search(s string, cols ...string) {
	p := w.arg(containsPattern(s))
	ors := make([]string, len(cols))
	for i, c := range cols {
		ors[i] = c + ` ILIKE ` + p
	}
	w.add("(" + strings.Join(ors, " OR ") + ")")
}

// sql renders " WHERE ..." (or nothing), the ORDER BY clause and, when
// limit > 0, a LIMIT; a non-positive limit means all rows.
func (w *where) sql(orderBy string, limit int) string {
	var b strings.Builder
	if len(w.conds) > 0 {
		b.WriteString(" WHERE ")
		b.WriteString(strings.Join(w.conds, " AND "))
	}
	b.WriteString(" ORDER BY ")
	b.WriteString(orderBy)
	if limit > 0 {
		b.WriteString(" LIMIT ")
		b.WriteString(w.arg(limit))
	}
	return b.String()
}

// page adds the keyset condition "col > after" (when after is set) and
// renders the clauses of a page ordered by col (see sql), with all the
// arguments.
func (w *where) page(col, after string, limit int) (string, []any) {
	if after != "" {
		w.add(col + " > " + w.arg(after))
	}
	clauses := w.sql(col, limit)
	return clauses, w.args
}

// queryAll runs a query and reads each row of its result with scan.
func queryAll[T any](ctx context.Context, q *queries, scan func(pgx.Row) (T, error), sql string, args ...any) ([]T, error) {
	rows, err := q.db.Query(ctx, sql, args...)
	if err != nil {
		return nil, q.fail(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (T, error) { return scan(r) })
	if err != nil {
		return nil, q.fail(err)
	}
	return out, nil
}

// queryStrings runs a query returning one text column.
func (q *queries) queryStrings(ctx context.Context, sql string, args ...any) ([]string, error) {
	return queryAll(ctx, q, func(r pgx.Row) (s string, err error) { return s, r.Scan(&s) }, sql, args...)
}

// execOne runs a statement that must touch a row; none is
// store.ErrNotFound.
func (q *queries) execOne(ctx context.Context, sql string, args ...any) error {
	tag, err := q.db.Exec(ctx, sql, args...)
	if err != nil {
		return q.fail(err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// The helpers below run one statement under the call timeout and return
// its error classified (see fail); a method adds what it was doing with
// wrapf.

// wrapf prefixes a failed call's error with what the call was doing, as
// "postgres: get user \"ann\": ..."; nil stays nil.
func wrapf(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("postgres: %s: %w", fmt.Sprintf(format, args...), err)
}

// one reads the single row of a query with scan; no row is
// store.ErrNotFound.
func one[T any](ctx context.Context, q *queries, scan func(pgx.Row) (T, error), sql string, args ...any) (T, error) {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	v, err := scan(q.db.QueryRow(ctx, sql, args...))
	if err != nil {
		var zero T
		return zero, q.fail(err)
	}
	return v, nil
}

// value reads a query's single value (a count, a flag).
func value[T any](ctx context.Context, q *queries, sql string, args ...any) (T, error) {
	return one(ctx, q, func(r pgx.Row) (v T, err error) { return v, r.Scan(&v) }, sql, args...)
}

// all reads every row of a query with scan.
func all[T any](ctx context.Context, q *queries, scan func(pgx.Row) (T, error), sql string, args ...any) ([]T, error) {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	return queryAll(ctx, q, scan, sql, args...)
}

// texts reads the one text column of every row of a query.
func (q *queries) texts(ctx context.Context, sql string, args ...any) ([]string, error) {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	return q.queryStrings(ctx, sql, args...)
}

// change runs a statement that must touch a row; none is
// store.ErrNotFound.
func (q *queries) change(ctx context.Context, sql string, args ...any) error {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	return q.execOne(ctx, sql, args...)
}

// affected runs a statement and returns how many rows it touched.
func (q *queries) affected(ctx context.Context, sql string, args ...any) (int, error) {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	tag, err := q.db.Exec(ctx, sql, args...)
	if err != nil {
		return 0, q.fail(err)
	}
	return int(tag.RowsAffected()), nil
}

// insert runs the INSERT ... ON CONFLICT DO NOTHING of a uniquely named
// row; see insertOutcome.
func (q *queries) insert(ctx context.Context, sql string, args ...any) error {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	tag, err := q.db.Exec(ctx, sql, args...)
	if err != nil {
		return q.fail(err)
	}
	return insertOutcome(tag)
}

// rename runs, serializable, the update of a row of table that may be
// renamed: set (the SET list; $1 is the row's UID, $2 the new value of
// nameCol) applies only when no other row has the name. more are further
// CTEs, which may read upd (the updated row's uid). The statement selects
// (found, updated); see renameOutcome and UpdateUser.
func (q *queries) rename(ctx context.Context, table, nameCol, set, more string, args ...any) error {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	sql := `WITH
		target AS (SELECT uid FROM ` + table + ` WHERE uid = $1),
		taken AS (SELECT 1 FROM ` + table + ` WHERE ` + nameCol + ` = $2 AND uid <> $1),
		upd AS (
			UPDATE ` + table + ` SET ` + set + `
			WHERE uid = $1 AND NOT EXISTS (SELECT 1 FROM taken)
			RETURNING uid)` + more + `
		SELECT EXISTS (SELECT 1 FROM target), EXISTS (SELECT 1 FROM upd)`
	return q.atomically(ctx, func(q *queries) error {
		var found, updated bool
		if err := q.db.QueryRow(ctx, sql, args...).Scan(&found, &updated); err != nil {
			return q.fail(err)
		}
		return renameOutcome(found, updated)
	})
}

// link runs the idempotent insert of a link row between two parents,
// which selects (left found, right found); see linkOutcome and AddMember.
func (q *queries) link(ctx context.Context, left, right, sql string, args ...any) error {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	var leftFound, rightFound bool
	if err := q.db.QueryRow(ctx, sql, args...).Scan(&leftFound, &rightFound); err != nil {
		return q.fail(err)
	}
	return linkOutcome(leftFound, rightFound, left, right)
}

// table describes a kind of row that a unique name addresses, for the
// reads and the deletion every such kind has alike.
type table[T any] struct {
	what, plural string // in error messages: "trust policy", "trust policies"
	name         string // the table
	sel          string // SELECT of the columns scan reads, FROM the table (and its joins)
	key          string // the name column, as sel sees it
	scan         func(pgx.Row) (T, error)
}

// get reads the row named name; store.ErrNotFound.
func (tb table[T]) get(ctx context.Context, q *queries, name string) (T, error) {
	return tb.getBy(ctx, q, tb.key, name)
}

// getBy reads the row whose col (another unique column) is v;
// store.ErrNotFound.
func (tb table[T]) getBy(ctx context.Context, q *queries, col, v string) (T, error) {
	r, err := one(ctx, q, tb.scan, tb.sel+` WHERE `+col+` = $1`, v)
	return r, wrapf(err, "get %s %q", tb.what, v)
}

// list reads the page of rows after the name after that w (nil: every
// row) selects, ordered by name.
func (tb table[T]) list(ctx context.Context, q *queries, w *where, after string, limit int) ([]T, error) {
	if w == nil {
		w = new(where)
	}
	page, args := w.page(tb.key, after, limit)
	rs, err := all(ctx, q, tb.scan, tb.sel+page, args...)
	return rs, wrapf(err, "list %s", tb.plural)
}

// delete deletes the row with the UID; store.ErrNotFound.
func (tb table[T]) delete(ctx context.Context, q *queries, uid string) error {
	return wrapf(q.change(ctx, `DELETE FROM `+tb.name+` WHERE uid = $1`, uid), "delete %s %q", tb.what, uid)
}

// insertOutcome turns "the insert of a uniquely named row wrote nothing"
// into store.ErrConflict. The inserts use ON CONFLICT DO NOTHING so that
// a taken name is not an error that would abort the surrounding
// transaction. A racing insert of the same name is covered too: under READ
// COMMITTED the insert waits for the other transaction and then does
// nothing if it committed; inside InTx (SERIALIZABLE) it fails with a
// serialization failure and InTx runs fn again, which then sees the name.
func insertOutcome(tag pgconn.CommandTag) error {
	if tag.RowsAffected() == 0 {
		return store.ErrConflict
	}
	return nil
}

// renameOutcome interprets the (found, updated) result of an update that
// may rename a row: see the UpdateUser query.
func renameOutcome(found, updated bool) error {
	switch {
	case !found:
		return store.ErrNotFound
	case !updated:
		return store.ErrConflict
	}
	return nil
}

// linkOutcome interprets the (left found, right found) result of an
// idempotent insert of a link row between two parents.
func linkOutcome(leftFound, rightFound bool, left, right string) error {
	switch {
	case !leftFound:
		return fmt.Errorf("%s: %w", left, store.ErrNotFound)
	case !rightFound:
		return fmt.Errorf("%s: %w", right, store.ErrNotFound)
	}
	return nil
}

// replacePermissions renders two CTEs, del and ins, that make the
// permission set (in table, owned through col) of the rows in owners (a
// CTE with a uid column) the distinct values of the text[] parameter
// param: they delete those not in it and insert the rest, disjoint sets,
// so the two never touch the same row.
func replacePermissions(table, col, owners, param string) string {
	return `
		del AS (
			DELETE FROM ` + table + `
			WHERE ` + col + ` IN (SELECT uid FROM ` + owners + `) AND permission <> ALL (` + param + `::text[])),
		ins AS (
			INSERT INTO ` + table + ` (` + col + `, permission)
			SELECT ` + owners + `.uid, p.permission FROM ` + owners + ` CROSS JOIN (SELECT DISTINCT unnest(` + param + `::text[]) AS permission) p
			ON CONFLICT DO NOTHING)`
}

// --- Settings ---------------------------------------------------------------

func (q *queries) GetSetting(ctx context.Context, key string) (string, error) {
	v, err := value[string](ctx, q, `SELECT value FROM settings WHERE key = $1`, key)
	return v, wrapf(err, "get setting %q", key)
}

func (q *queries) PutSetting(ctx context.Context, key, value string) error {
	_, err := q.affected(ctx, `INSERT INTO settings (key, value) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	return wrapf(err, "put setting %q", key)
}
