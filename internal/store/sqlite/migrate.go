package sqlite

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"
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
		panic("sqlite: " + err.Error())
	}
	return ms
}

// loadMigrations reads migrations/*.sql and checks that the versions run
// 1, 2, 3... without gaps or duplicates.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	var ms []migration
	for _, path := range names {
		base := strings.TrimSuffix(path[len("migrations/"):], ".sql")
		num, desc, ok := strings.Cut(base, "_")
		if !ok || desc == "" {
			return nil, fmt.Errorf("migration %q: want NNNN_description.sql", path)
		}
		v, err := strconv.Atoi(num)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %q: bad version %q", path, num)
		}
		body, err := fs.ReadFile(fsys, path)
		if err != nil {
			return nil, fmt.Errorf("read migration %q: %w", path, err)
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

// Migrate applies the pending migrations in one transaction and records
// each in schema_migrations. The transaction is BEGIN IMMEDIATE on the
// writer, so processes migrating the same file at once take turns: the
// first applies, the others then find nothing pending. A database newer
// than this binary (a version it does not know) is an error rather than
// something to run against.
func (s *Store) Migrate(ctx context.Context) error {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: migrate: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit

	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER NOT NULL PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL
	) STRICT`); err != nil {
		return fmt.Errorf("sqlite: migrate: create schema_migrations: %w", err)
	}
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("sqlite: migrate: read version: %w", err)
	}
	if current > len(migrations) {
		return fmt.Errorf("sqlite: migrate: database schema version %d is newer than this gatehouse knows (%d); upgrade gatehouse", current, len(migrations))
	}
	if current == len(migrations) {
		return nil // nothing to do; the rollback releases the write lock
	}
	now := time.Now().UnixMicro()
	for _, m := range migrations[current:] {
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("sqlite: migrate: apply %d_%s: %w", m.version, m.name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			m.version, m.name, now); err != nil {
			return fmt.Errorf("sqlite: migrate: record %d_%s: %w", m.version, m.name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: migrate: commit: %w", err)
	}
	return nil
}

// SchemaVersion reports the highest applied migration (0: none).
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var exists int
	if err := s.reader.QueryRowContext(ctx,
		`SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'`).Scan(&exists); err != nil {
		return 0, fmt.Errorf("sqlite: schema version: %w", err)
	}
	if exists == 0 {
		return 0, nil
	}
	var v int
	if err := s.reader.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("sqlite: schema version: %w", err)
	}
	return v, nil
}
