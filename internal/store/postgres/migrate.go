package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// migrationFiles holds the schema history, one file per version, named
// NNNN_description.sql. A released migration is never edited: a change is
// a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// migrations is the parsed, ordered schema history. It is checked when
// the package loads, so a misnamed file fails every test at once.
var migrations = mustLoadMigrations(migrationFiles)

func mustLoadMigrations(fsys fs.FS) []migration {
	ms, err := loadMigrations(fsys)
	if err != nil {
		panic("postgres: " + err.Error())
	}
	return ms
}

// loadMigrations reads migrations/*.sql and checks that the versions run
// 1, 2, 3... without gaps or duplicates.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	paths, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	var ms []migration
	for _, p := range paths {
		base := strings.TrimSuffix(strings.TrimPrefix(p, "migrations/"), ".sql")
		num, desc, ok := strings.Cut(base, "_")
		if !ok || desc == "" {
			return nil, fmt.Errorf("migration %q: want NNNN_description.sql", p)
		}
		v, err := strconv.Atoi(num)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %q: bad version %q", p, num)
		}
		body, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, fmt.Errorf("read migration %q: %w", p, err)
		}
		ms = append(ms, migration{version: v, name: desc, sql: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration versions must be 1..%d without gaps or duplicates; found %d at position %d", len(ms), m.version, i+1)
		}
	}
	return ms, nil
}

// migrateLockClass is the first key of Migrate's advisory lock ("gate" in
// ASCII). The second key is a hash of the schema name, so instances
// migrating the same schema take turns while different schemas (test
// schemas, or several gatehouse deployments in one database) do not wait
// for each other.
const migrateLockClass int32 = 0x67617465

// Migrate applies the pending migrations in one transaction and records
// each in schema_migrations. The transaction first takes a transaction-
// scoped advisory lock, so instances starting at once take turns: the
// first applies, the others then find nothing pending. The lock is
// released by the commit or rollback, even if the process dies. A
// database newer than this binary (a version it does not know) is an
// error rather than something to run against.
//
// When Options.Schema names a schema that does not exist yet, Migrate
// creates it.
//
// Migrate does not apply QueryTimeout: a future migration may rewrite a
// large table. The caller's context bounds it.
func (s *Store) Migrate(ctx context.Context) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{})
	if err != nil {
		return fmt.Errorf("postgres: migrate: begin: %w", err)
	}
	defer rollback(ctx, tx)

	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext(COALESCE(NULLIF($2::text, ''), current_schema(), '')))`,
		migrateLockClass, s.schema); err != nil {
		return fmt.Errorf("postgres: migrate: lock: %w", err)
	}
	if s.schema != "" {
		// Look before creating: CREATE SCHEMA IF NOT EXISTS still needs the
		// CREATE privilege on the database, which a deployment whose
		// schema was made by an administrator need not have.
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, s.schema).Scan(&exists); err != nil {
			return fmt.Errorf("postgres: migrate: look up schema %q: %w", s.schema, err)
		}
		if !exists {
			if _, err := tx.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{s.schema}.Sanitize()); err != nil {
				return fmt.Errorf("postgres: migrate: create schema %q: %w", s.schema, err)
			}
		}
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER     NOT NULL PRIMARY KEY,
		name       TEXT        NOT NULL,
		applied_at TIMESTAMPTZ NOT NULL
	)`); err != nil {
		return fmt.Errorf("postgres: migrate: create schema_migrations: %w", err)
	}
	var current int
	if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("postgres: migrate: read version: %w", err)
	}
	if current > len(migrations) {
		return fmt.Errorf("postgres: migrate: database schema version %d is newer than this gatehouse knows (%d); upgrade gatehouse", current, len(migrations))
	}
	if current == len(migrations) {
		return nil // nothing to do; the rollback releases the lock
	}
	now := time.Now()
	for _, m := range migrations[current:] {
		// No arguments: pgx sends the file with the simple protocol, which
		// runs all its statements in one round trip.
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return fmt.Errorf("postgres: migrate: apply %04d_%s: %w", m.version, m.name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
			m.version, m.name, now); err != nil {
			return fmt.Errorf("postgres: migrate: record %04d_%s: %w", m.version, m.name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: migrate: commit: %w", err)
	}
	return nil
}

// SchemaVersion reports the highest applied migration (0: none).
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	// Look first: before the first Migrate the table does not exist, and
	// a query naming it would fail at parse time.
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return 0, fmt.Errorf("postgres: schema version: %w", err)
	}
	if !exists {
		return 0, nil
	}
	var v int
	if err := s.pool.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("postgres: schema version: %w", err)
	}
	return v, nil
}
