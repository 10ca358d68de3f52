package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// dbtx is what *sql.DB, *sql.Tx and preparedDB have in common.
type dbtx interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// queries implements store.Queries. On the Store, read is the reader pool
// and write the writer; inside InTx both are tx, the transaction.
type queries struct {
	read  dbtx
	write dbtx
	tx    *sql.Tx // the InTx transaction; nil on the Store
	store *Store  // for atomically outside a transaction; nil inside one
}

var _ store.Queries = (*queries)(nil)

// scanner is *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// micros encodes a time as unix microseconds, the precision the store
// keeps (PostgreSQL's timestamptz keeps the same); nanoseconds are
// truncated.
func micros(t time.Time) int64 { return t.UnixMicro() }

// optMicros encodes an optional time: NULL when nil.
func optMicros(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMicro()
}

// fromMicros decodes unix microseconds as a UTC time.
func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// optTime decodes a nullable microsecond column.
func optTime(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromMicros(n.Int64)
	return &t
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// limitArg turns a filter's Limit into a LIMIT argument; SQLite reads a
// negative LIMIT as "no limit", which is what a non-positive Limit means.
func limitArg(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}

// likeEscape is the ESCAPE character of containsPattern.
const likeEscape = `\`

// containsPattern makes a LIKE pattern matching s as a substring: its
// wildcard characters are escaped so they match literally. SQLite's LIKE
// ignores case for ASCII letters, which is what the search filters want
// (names are ASCII by validation; free text matches ASCII case-insensitively).
func containsPattern(s string) string {
	r := strings.NewReplacer(likeEscape, likeEscape+likeEscape, "%", likeEscape+"%", "_", likeEscape+"_")
	return "%" + r.Replace(s) + "%"
}

// where accumulates the conditions and arguments of a list query.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

// search adds "any of cols contains s, ignoring case".
func (w *where) search(s string, cols ...string) {
	p := containsPattern(s)
	var ors []string
	for _, c := range cols {
		ors = append(ors, c+` LIKE ? ESCAPE '`+likeEscape+`'`)
		w.args = append(w.args, p)
	}
	w.conds = append(w.conds, "("+strings.Join(ors, " OR ")+")")
}

// page adds the keyset condition "col > after" (when after is set) and
// returns the clauses of a page ordered by col, at most limit rows (see
// limitArg), with all the arguments.
func (w *where) page(col, after string, limit int) (string, []any) {
	if after != "" {
		w.add(col+" > ?", after)
	}
	return w.String() + " ORDER BY " + col + " LIMIT ?", append(w.args, limitArg(limit))
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// exec runs one write statement and maps constraint errors.
func (q *queries) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	res, err := q.write.ExecContext(ctx, query, args...)
	if err != nil {
		return nil, mapErr(err)
	}
	return res, nil
}

// execOne runs a write statement that must touch a row; none is
// store.ErrNotFound.
func execOne(ctx context.Context, db dbtx, query string, args ...any) error {
	res, err := db.ExecContext(ctx, query, args...)
	if err != nil {
		return mapErr(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// affected runs a write statement and returns how many rows it touched.
func (q *queries) affected(ctx context.Context, query string, args ...any) (int, error) {
	res, err := q.exec(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// wrapf prefixes a failed call's error with what the call was doing; nil
// stays nil.
func wrapf(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), err)
}

// one reads the single row of a query with scan; no row is
// store.ErrNotFound.
func one[T any](ctx context.Context, db dbtx, scan func(scanner) (T, error), query string, args ...any) (T, error) {
	v, err := scan(db.QueryRowContext(ctx, query, args...))
	if err != nil {
		var zero T
		return zero, notFound(err)
	}
	return v, nil
}

// value reads a query's single value (a count, a flag).
func value[T any](ctx context.Context, db dbtx, query string, args ...any) (T, error) {
	return one(ctx, db, func(sc scanner) (v T, err error) { return v, sc.Scan(&v) }, query, args...)
}

// notFound maps sql.ErrNoRows to store.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

// queryAll runs query and reads each row of its result with scan.
func queryAll[T any](ctx context.Context, db dbtx, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return scanAll(rows, scan)
}

// scanAll reads each of rows with scan, and closes rows.
func scanAll[T any](rows *sql.Rows, scan func(scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// queryStrings runs a query returning one text column.
func queryStrings(ctx context.Context, db dbtx, query string, args ...any) ([]string, error) {
	return queryAll(ctx, db, func(sc scanner) (s string, err error) { return s, sc.Scan(&s) }, query, args...)
}

// insertSet inserts each value of a set (permissions) for one owner; the
// query is expected to ignore duplicates (ON CONFLICT DO NOTHING).
func insertSet(ctx context.Context, tx dbtx, query, owner string, values []string) error {
	for _, v := range values {
		if _, err := tx.ExecContext(ctx, query, owner, v); err != nil {
			return mapErr(err)
		}
	}
	return nil
}

// --- Settings ---------------------------------------------------------------

func (q *queries) GetSetting(ctx context.Context, key string) (string, error) {
	v, err := value[string](ctx, q.read, `SELECT value FROM settings WHERE key = ?`, key)
	return v, wrapf(err, "get setting %q", key)
}

func (q *queries) PutSetting(ctx context.Context, key, value string) error {
	_, err := q.exec(ctx, `INSERT INTO settings (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	return wrapf(err, "put setting %q", key)
}
