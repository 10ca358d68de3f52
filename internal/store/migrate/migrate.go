// Package migrate holds the schema history of both storage backends and
// the one runner that applies it.
//
// A migration is a version, a name and one body per dialect:
// sqlite/NNNN_name.sql and postgres/NNNN_name.sql. Both directories list
// the same versions under the same names, so a version number means the
// same step on either backend. A step that concerns one dialect only
// (PostgreSQL's change counter for LISTEN/NOTIFY) is a comment-only file,
// a no-op, on the other. A released migration is never edited: a change
// is a new version.
//
// Each backend gives the runner a way to begin a transaction that holds
// its migration lock (see Begin); the runner needs no driver of its own.
package migrate

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Dialect names a backend's SQL.
type Dialect string

// The dialects, named as the stores' Dialect methods name them.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Dialects lists every dialect, in the order their files are checked.
var Dialects = []Dialect{SQLite, Postgres}

// Migration is one step of the schema history.
type Migration struct {
	Version int
	Name    string
	bodies  map[Dialect]string
}

// Body is the migration's SQL in dialect d.
func (m Migration) Body(d Dialect) string { return m.bodies[d] }

// NoOp reports whether the migration changes nothing in dialect d: its
// file holds only comments.
func (m Migration) NoOp(d Dialect) bool { return noOp(m.bodies[d]) }

func noOp(body string) bool {
	for line := range strings.Lines(body) {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "--") {
			return false
		}
	}
	return true
}

//go:embed sqlite/*.sql postgres/*.sql
var files embed.FS

// all is the parsed, ordered schema history. It is checked when the
// package loads, so a misnamed file, or a version one dialect lacks,
// fails every test at once.
var all = mustLoad(files)

func mustLoad(fsys fs.FS) []Migration {
	ms, err := load(fsys)
	if err != nil {
		panic("migrate: " + err.Error())
	}
	return ms
}

// All returns the schema history, oldest first; All()[i].Version is i+1.
func All() []Migration { return slices.Clone(all) }

// Latest is the schema version this binary migrates to.
func Latest() int { return len(all) }

// load reads <dialect>/NNNN_name.sql for every dialect of fsys and checks
// that each dialect's versions run 1, 2, 3... without gaps or duplicates,
// with the same names in every dialect.
func load(fsys fs.FS) ([]Migration, error) {
	var ms []Migration
	for _, d := range Dialects {
		files, err := loadDir(fsys, string(d))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", d, err)
		}
		if ms == nil {
			ms = make([]Migration, len(files))
			for i, f := range files {
				ms[i] = Migration{Version: f.version, Name: f.name, bodies: map[Dialect]string{}}
			}
		}
		if len(files) != len(ms) {
			return nil, fmt.Errorf("%s has %d migrations, %s has %d: every version needs a file in each dialect (a comment-only file where one needs nothing)",
				d, len(files), Dialects[0], len(ms))
		}
		for i, f := range files {
			if f.name != ms[i].Name {
				return nil, fmt.Errorf("migration %d is %q in %s but %q in %s", f.version, f.name, d, ms[i].Name, Dialects[0])
			}
			ms[i].bodies[d] = f.body
		}
	}
	return ms, nil
}

type file struct {
	version int
	name    string
	body    string
}

func loadDir(fsys fs.FS, dir string) ([]file, error) {
	paths, err := fs.Glob(fsys, dir+"/*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	var out []file
	for _, p := range paths {
		base := strings.TrimSuffix(strings.TrimPrefix(p, dir+"/"), ".sql")
		num, name, ok := strings.Cut(base, "_")
		if !ok || name == "" {
			return nil, fmt.Errorf("migration %q: want NNNN_name.sql", p)
		}
		v, err := strconv.Atoi(num)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %q: bad version %q", p, num)
		}
		body, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, fmt.Errorf("read migration %q: %w", p, err)
		}
		out = append(out, file{version: v, name: name, body: string(body)})
	}
	slices.SortFunc(out, func(a, b file) int { return a.version - b.version })
	for i, f := range out {
		if f.version != i+1 {
			return nil, fmt.Errorf("migration versions must be 1..%d without gaps or duplicates; found %d at position %d", len(out), f.version, i+1)
		}
	}
	return out, nil
}

// renumbered lists migrations that released versions recorded under
// another number than they have now. Until the two dialects shared one
// numbering, SQLite had no change counter step, so its audit chain was
// its 5 where PostgreSQL's is 6. A database recording one of these is
// renumbered (by version and name: the name tells the old numbering from
// the new) before anything else, and the no-op steps the move leaves
// below it are recorded as applied. Entries are applied in order; each
// "to" must be free in the old numbering (it was never reached there).
var renumbered = []struct {
	dialect  Dialect
	from, to int
	name     string
}{
	{dialect: SQLite, from: 5, to: 6, name: "event_chain"},
}

// Tx is one transaction on the database being migrated. Queries write
// their parameters as $1, $2, ... whatever the dialect.
type Tx interface {
	Exec(ctx context.Context, query string, args ...any) error
	QueryRow(ctx context.Context, query string, args ...any) Row
	Commit(ctx context.Context) error
	// Rollback is called after Commit too, and must then do nothing.
	Rollback(ctx context.Context) error
}

// Row is a row read by Tx.QueryRow (*sql.Row and pgx.Row are).
type Row interface{ Scan(dest ...any) error }

// Begin starts a transaction holding the backend's migration lock, so
// that processes migrating the same database take turns; the commit or
// rollback releases it, even when the process dies. (SQLite: BEGIN
// IMMEDIATE on the one writer connection. PostgreSQL: a transaction-
// scoped advisory lock keyed by the schema.)
type Begin func(ctx context.Context) (Tx, error)

// Run brings the database to the latest version. Each pending migration
// is applied in a transaction of its own, begun by begin, and recorded in
// schema_migrations in the same transaction: a failure leaves the
// database at the last version applied, which this binary and the one
// before it both run against, and the next start carries on from there.
// Every transaction reads the version afresh under the lock, so
// instances starting together apply each migration once. A database
// newer than this binary (a version it does not know) is an error rather
// than something to run against.
func Run(ctx context.Context, d Dialect, begin Begin) error {
	return run(ctx, d, begin, all)
}

func run(ctx context.Context, d Dialect, begin Begin, ms []Migration) error {
	dl, ok := dialects[d]
	if !ok {
		return fmt.Errorf("migrate: unknown dialect %q", d)
	}
	for {
		done, err := step(ctx, d, dl, begin, ms)
		if err != nil {
			return fmt.Errorf("%s: migrate: %w", d, err)
		}
		if done {
			return nil
		}
	}
}

// dialect is what the runner's own statements need to know of one.
type dialect struct {
	// createTable creates schema_migrations if missing. The columns are
	// those the released runners created, so their databases need no
	// change; applied_at is in each backend's time representation.
	createTable string
	now         func() any
	// params rewrites $1, $2, ... into the dialect's placeholders.
	params func(string) string
}

var dollarParam = regexp.MustCompile(`\$([0-9]+)`)

var dialects = map[Dialect]dialect{
	SQLite: {
		createTable: `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER NOT NULL PRIMARY KEY,
			name       TEXT    NOT NULL,
			applied_at INTEGER NOT NULL
		) STRICT`,
		now:    func() any { return time.Now().UnixMicro() },
		params: func(q string) string { return dollarParam.ReplaceAllString(q, "?$1") },
	},
	Postgres: {
		createTable: `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER     NOT NULL PRIMARY KEY,
			name       TEXT        NOT NULL,
			applied_at TIMESTAMPTZ NOT NULL
		)`,
		now:    func() any { return time.Now() },
		params: func(q string) string { return q },
	},
}

// step applies the next pending migration, if any, in one transaction.
// done reports that the database is at the latest version.
func step(ctx context.Context, d Dialect, dl dialect, begin Begin, ms []Migration) (done bool, err error) {
	tx, err := begin(ctx)
	if err != nil {
		return false, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	if err := tx.Exec(ctx, dl.createTable); err != nil {
		return false, fmt.Errorf("create schema_migrations: %w", err)
	}
	if err := reconcile(ctx, tx, d, dl, ms); err != nil {
		return false, err
	}
	var current int
	if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return false, fmt.Errorf("read version: %w", err)
	}
	if current > len(ms) {
		return false, fmt.Errorf("database schema version %d is newer than this gatehouse knows (%d); upgrade gatehouse", current, len(ms))
	}
	if current == len(ms) {
		// Nothing to do. A commit rather than the deferred rollback keeps
		// a renumbering reconcile just made.
		if err := tx.Commit(ctx); err != nil {
			return false, fmt.Errorf("commit: %w", err)
		}
		return true, nil
	}
	m := ms[current]
	// A comment-only body is not sent: drivers differ on an empty query.
	// pgx sends an argument-less statement with the simple protocol, which
	// runs every statement of the file in one round trip.
	if !m.NoOp(d) {
		if err := tx.Exec(ctx, m.Body(d)); err != nil {
			return false, fmt.Errorf("apply %04d_%s: %w", m.Version, m.Name, err)
		}
	}
	if err := record(ctx, tx, dl, m); err != nil {
		return false, err
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("commit %04d_%s: %w", m.Version, m.Name, err)
	}
	return m.Version == len(ms), nil
}

func record(ctx context.Context, tx Tx, dl dialect, m Migration) error {
	if err := tx.Exec(ctx, dl.params(`INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`),
		m.Version, m.Name, dl.now()); err != nil {
		return fmt.Errorf("record %04d_%s: %w", m.Version, m.Name, err)
	}
	return nil
}

// reconcile brings the record of a database migrated by a released
// version to the shared numbering (see renumbered). On a database
// already in it, it changes nothing.
func reconcile(ctx context.Context, tx Tx, d Dialect, dl dialect, ms []Migration) error {
	for _, r := range renumbered {
		if r.dialect != d {
			continue
		}
		if err := tx.Exec(ctx, dl.params(`UPDATE schema_migrations SET version = $1 WHERE version = $2 AND name = $3`),
			r.to, r.from, r.name); err != nil {
			return fmt.Errorf("renumber %d_%s to %04d: %w", r.from, r.name, r.to, err)
		}
	}
	// Versions are unique and from 1: as many rows as the highest version
	// means none is missing, the common case, answered by one query.
	var rows, highest int
	if err := tx.QueryRow(ctx, `SELECT COUNT(*), COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&rows, &highest); err != nil {
		return fmt.Errorf("read versions: %w", err)
	}
	if rows == highest || highest > len(ms) {
		// Nothing missing, or a newer database, which step refuses (and
		// the rollback undoes any renumbering).
		return nil
	}
	for _, m := range ms[:min(highest, len(ms))] {
		var n int
		if err := tx.QueryRow(ctx, dl.params(`SELECT COUNT(*) FROM schema_migrations WHERE version = $1`), m.Version).Scan(&n); err != nil {
			return fmt.Errorf("read version %d: %w", m.Version, err)
		}
		if n == 1 {
			continue
		}
		if !m.NoOp(d) {
			return fmt.Errorf("schema_migrations records version %d but not %04d_%s, which it needs", highest, m.Version, m.Name)
		}
		// A no-op step left behind by a renumbering: applying it is
		// recording it.
		if err := record(ctx, tx, dl, m); err != nil {
			return err
		}
	}
	return nil
}
