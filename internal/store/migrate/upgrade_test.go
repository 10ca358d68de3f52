package migrate_test

// The upgrade test: a database left by a released gatehouse at any schema
// version, with data in it, is brought to the latest version by this
// runner with its data intact, its record in the shared numbering, and
// the conformance suite passing on it.
//
// The released history is built from today's files: a released
// migration is never edited (its SQL, that is: TestReleasedMigrationsUnchanged
// holds each one's digest), so the file that holds it now is what
// databases in the field were built from. Until the two dialects shared
// one numbering (bbad4d4), SQLite had no change counter step: its
// released 5 is today's 6, and today's 5 is a no-op there.

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/migrate"
	"github.com/gatehouse/gatehouse/internal/store/postgres"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

// releasedStep is one migration of a dialect's released history: the
// version a released gatehouse recorded it under, today's version of the
// same migration, and the SHA-256 of its SQL (its lines but the comment
// lines; see sqlDigest) as released.
type releasedStep struct {
	version, now int
	sha256       string
}

// releasedHistory is every migration a release applied, oldest first, per
// dialect. A new release appends its new migrations here, with their
// digests.
var releasedHistory = map[migrate.Dialect][]releasedStep{
	migrate.SQLite: {
		{1, 1, "c6de4338cead25beef1bf87cdbf70c97be304fa11e723f0c64a0beb9f13149a6"},
		{2, 2, "a69bd078fd68622e9453f05793b86b71327d1f4853760ef027589a35216fef40"},
		{3, 3, "2225f875f3c2a5a696438326a99864641fae6d8a740d1ab4ea8b0c9df85306d6"},
		{4, 4, "14c7409815d46319c3d66cb1b1dbe3b8fe465875f9b59166954c9b03a20516fa"},
		{5, 6, "e1107d145ec05de662cee6191bc05b4fa8bc8fa22824c6f5b0e05afd0f3ec22e"},
	},
	migrate.Postgres: {
		{1, 1, "b42432799fc0b7808c467a8ce8e71ff8906467e0ebd01d8d3bc8b09c8fbce48b"},
		{2, 2, "57c7383d1c2c54e2843a99f628082688138375e36cc7f8bb183e890a5207a4b9"},
		{3, 3, "10eb92211b7e1cdc24e395458d796a8416bf6edd89896b0654d2883910c83a4f"},
		{4, 4, "6db2d5e371b2af84d219a68e0722243fa5edc3e0a0917787d2150de424d63a3e"},
		{5, 5, "af27324b4eb76635aa05275595c3cf0300e05f8330757ba08fcdd5a483446896"},
		{6, 6, "c21692c98bf9f53fe3eeffd5f77a126e6fa5fc69902866b684e25884ab90f829"},
	},
}

// sqlDigest is the SHA-256 of body without its comment lines, in hex:
// what a released migration did, whatever its comments say now.
func sqlDigest(body string) string {
	h := sha256.New()
	for line := range strings.Lines(body) {
		if !strings.HasPrefix(strings.TrimSpace(line), "--") {
			h.Write([]byte(line))
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// releasedMigration is one migration as a released gatehouse applied it.
type releasedMigration struct {
	version int
	name    string
	body    string
}

// released is the released history of dialect d, oldest first, read from
// today's migrations.
func released(t testing.TB, d migrate.Dialect) []releasedMigration {
	t.Helper()
	all := migrate.All()
	var ms []releasedMigration
	for _, step := range releasedHistory[d] {
		m := all[step.now-1]
		ms = append(ms, releasedMigration{version: step.version, name: m.Name, body: m.Body(d)})
	}
	return ms
}

// TestReleasedMigrationsUnchanged guards the rule the upgrade test builds
// on: a released migration's SQL is never edited. A change to the schema
// is a new migration.
func TestReleasedMigrationsUnchanged(t *testing.T) {
	t.Parallel()
	all := migrate.All()
	for d, steps := range releasedHistory {
		for _, step := range steps {
			m := all[step.now-1]
			if got := sqlDigest(m.Body(d)); got != step.sha256 {
				t.Errorf("%s/%04d_%s.sql (released as %d) has been edited: its SQL's SHA-256 is %s, released %s; "+
					"undo the edit and write the change as a new migration", d, m.Version, m.Name, step.version, got, step.sha256)
			}
		}
	}
}

// backend makes databases as released versions left them.
type backend struct {
	dialect migrate.Dialect
	// at makes a new database at released version n (1..len(history))
	// and returns a way to open stores on it; Open does not migrate.
	at func(t *testing.T, n int) (open func(t *testing.T) store.Store)
}

func backends(t *testing.T) []backend {
	return []backend{
		{dialect: migrate.SQLite, at: sqliteAt(t)},
		{dialect: migrate.Postgres, at: postgresAt},
	}
}

// sqliteAt builds each version's file once (a template) and copies it.
func sqliteAt(t *testing.T) func(t *testing.T, n int) func(t *testing.T) store.Store {
	history := released(t, migrate.SQLite)
	var mu sync.Mutex
	templates := map[int][]byte{}
	template := func(t *testing.T, n int) []byte {
		mu.Lock()
		defer mu.Unlock()
		if b, ok := templates[n]; ok {
			return b
		}
		path := filepath.Join(t.TempDir(), "template.db")
		buildSQLite(t, path, history[:n])
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		templates[n] = b
		return b
	}
	return func(t *testing.T, n int) func(t *testing.T) store.Store {
		path := filepath.Join(t.TempDir(), "gatehouse.db")
		if err := os.WriteFile(path, template(t, n), 0o600); err != nil {
			t.Fatal(err)
		}
		return func(t *testing.T) store.Store {
			s, err := sqlite.Open(context.Background(), path)
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			return s
		}
	}
}

// buildSQLite applies ms as the released SQLite runner did: in one
// transaction, each recorded in schema_migrations as it created it.
func buildSQLite(t *testing.T, path string, ms []releasedMigration) {
	t.Helper()
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER NOT NULL PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL
	) STRICT`); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if _, err := tx.ExecContext(ctx, m.body); err != nil {
			t.Fatalf("released %d_%s: %v", m.version, m.name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			m.version, m.name, time.Now().UnixMicro()); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// postgresAt builds version n in a schema of its own, as the released
// PostgreSQL runner did: in one transaction, each migration recorded in
// schema_migrations as it created it.
func postgresAt(t *testing.T, n int) func(t *testing.T) store.Store {
	dsn := testenv.Postgres(t)
	schema := pgtest.FreshSchema(t, dsn)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	ident := pgx.Identifier{schema}.Sanitize()
	if _, err := tx.Exec(ctx, `CREATE SCHEMA `+ident+`; SET LOCAL search_path TO `+ident+`;
		CREATE TABLE schema_migrations (
			version    INTEGER     NOT NULL PRIMARY KEY,
			name       TEXT        NOT NULL,
			applied_at TIMESTAMPTZ NOT NULL
		)`); err != nil {
		t.Fatal(err)
	}
	for _, m := range released(t, migrate.Postgres)[:n] {
		if _, err := tx.Exec(ctx, m.body); err != nil {
			t.Fatalf("released %d_%s: %v", m.version, m.name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, now())`,
			m.version, m.name); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	return func(t *testing.T) store.Store {
		s, err := postgres.Open(ctx, dsn, postgres.Options{Schema: schema, MaxConns: 4, SlowQuery: -1})
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		return s
	}
}

// recorded lists schema_migrations as NNNN_name, by version.
func recorded(t *testing.T, s store.Store) []string {
	t.Helper()
	const q = `SELECT version, name FROM schema_migrations ORDER BY version`
	switch s := s.(type) {
	case *sqlite.Store:
		db, err := sql.Open("sqlite", "file:"+s.Path()+"?mode=ro")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		rows, err := db.QueryContext(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		return scanRecord(t, rows)
	case *postgres.Store:
		rows, err := s.Pool().Query(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		return scanRecord(t, rows)
	default:
		t.Fatalf("unknown store %T", s)
		return nil
	}
}

// scanRecord reads (version, name) rows, as *sql.Rows and pgx.Rows give
// them, as NNNN_name.
func scanRecord(t *testing.T, rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}) []string {
	t.Helper()
	var out []string
	for rows.Next() {
		var v int
		var name string
		if err := rows.Scan(&v, &name); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%04d_%s", v, name))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func latestRecord() []string {
	var out []string
	for _, m := range migrate.All() {
		out = append(out, fmt.Sprintf("%04d_%s", m.Version, m.Name))
	}
	return out
}

// t1 is the fixture's time: UTC, whole microseconds, as stores return it.
var t1 = time.Date(2026, 11, 20, 9, 30, 15, 123456000, time.UTC)

// fixture is what fill writes into a database at released version n:
// something in every table that version has.
type fixture struct {
	n      int
	tables map[string]bool // tables present at n, by a released migration's name
}

func (f fixture) has(name string) bool { return f.tables[name] }

// Fixture names, shared by fill and check.
const (
	aliceUID, botUID, opsUID, readerUID = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222",
		"33333333-3333-4333-8333-333333333333", "44444444-4444-4444-8444-444444444444"
	tokenUID, appUID, providerUID = "55555555-5555-4555-8555-555555555555", "66666666-6666-4666-8666-666666666666",
		"77777777-7777-4777-8777-777777777777"
)

func mustDo(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// fill writes the fixture with the store's own writes into tables that
// have not changed since the version that made them, so the rows are
// those a released gatehouse wrote; the one table that changed (events,
// given its chain columns) is written by hand as the release wrote it.
func fill(t *testing.T, s store.Store, f fixture) {
	t.Helper()
	ctx := context.Background()
	mustDo(t, "create alice", s.CreateUser(ctx, store.User{UID: aliceUID, Username: "alice", Type: store.TypeHuman,
		Name: "Alice", Email: "alice@example.com", IsActive: true, PasswordHash: "$argon2id$v=19$m=65536,t=1,p=4$c2FsdA$aGFzaA",
		PasswordChangedAt: &t1, CreatedAt: t1}))
	mustDo(t, "create bot", s.CreateUser(ctx, store.User{UID: botUID, Username: "bot", Type: store.TypeServiceAccount,
		IsActive: true, CreatedAt: t1}))
	mustDo(t, "create group", s.CreateGroup(ctx, store.Group{UID: opsUID, Name: "ops", CreatedAt: t1}))
	mustDo(t, "add member", s.AddMember(ctx, opsUID, aliceUID))
	mustDo(t, "create role", s.CreateRole(ctx, store.Role{UID: readerUID, Name: "reader",
		Permissions: []string{"users.read", "groups.read"}, CreatedAt: t1}))
	mustDo(t, "assign role", s.AssignRoleToGroup(ctx, readerUID, opsUID))
	mustDo(t, "user permissions", s.SetUserPermissions(ctx, botUID, []string{"tokens.read"}))
	mustDo(t, "put setting", s.PutSetting(ctx, "brand", `{"title":"upgraded"}`))
	var when any = t1
	if s.Dialect() == "sqlite" {
		when = t1.UnixMicro()
	}
	// Tokens gain columns in later versions (restrictions in 7): the
	// released table is written with its own columns, as a released
	// binary wrote it, not with today's store.
	storetest.Exec(t, s, `INSERT INTO tokens (uid, identifier, user_uid, intent, created_at, created_by)
		VALUES ($1, 'bot-key', $2, 'api', $3, 'alice')`, tokenUID, botUID, when)
	storetest.Exec(t, s, `INSERT INTO token_keys (lookup, token_uid, hash, created_at) VALUES ('lkbot', $1, $2, $3)`,
		tokenUID, []byte{1, 2, 3}, when)
	storetest.Exec(t, s, `INSERT INTO events (time, action, outcome, actor_username, target_kind, target_name, context)
		VALUES ($1, 'token.create', 'success', 'alice', 'token', 'bot-key', '{"intent":"api"}')`, when)
	if f.has("applications") {
		mustDo(t, "create application", s.CreateApplication(ctx, store.Application{UID: appUID, Slug: "wiki", Name: "Wiki",
			PolicyEngineMode: "any", CreatedAt: t1}))
		mustDo(t, "bind group", s.PutBinding(ctx, store.Binding{ApplicationUID: appUID, Kind: store.BindingGroup, SubjectUID: opsUID, Order: 3}))
	}
	if f.has("ldap") {
		mustDo(t, "create LDAP provider", s.CreateLDAPProvider(ctx, store.LDAPProvider{UID: providerUID, Name: "corp",
			BaseDN: "dc=example,dc=com", SearchGroup: "ops", BindMode: "direct", SearchMode: "cached", CreatedAt: t1}))
	}
	if f.has("ui") {
		mustDo(t, "create session", s.CreateSession(ctx, store.Session{IDHash: []byte("session-hash"), UserUID: aliceUID,
			PasswordStamp: []byte("stamp"), ClientIP: "192.0.2.1", UserAgent: "test", CreatedAt: t1, LastSeenAt: t1,
			ExpiresAt: t1.Add(time.Hour)}))
		mustDo(t, "put TOTP", s.PutTOTP(ctx, store.TOTP{UserUID: aliceUID, Secret: []byte("sealed"), Confirmed: true,
			LastStep: 42, CreatedAt: t1, ConfirmedAt: &t1}))
	}
}

// check reads the fixture back through the store after the upgrade, and
// writes what the new migrations made room for.
func check(t *testing.T, s store.Store, f fixture) {
	t.Helper()
	ctx := context.Background()
	alice, err := s.GetUser(ctx, "alice")
	mustDo(t, "get alice", err)
	if alice.UID != aliceUID || alice.Email != "alice@example.com" || !alice.IsActive || alice.PasswordHash == "" ||
		alice.PasswordChangedAt == nil || !alice.PasswordChangedAt.Equal(t1) || !alice.CreatedAt.Equal(t1) {
		t.Errorf("alice after upgrade: %+v", alice)
	}
	grants, err := s.UserGrants(ctx, aliceUID)
	mustDo(t, "alice's grants", err)
	if fmt.Sprint(grants.Groups, grants.Roles, grants.Permissions) != "[ops] [reader] [groups.read users.read]" {
		t.Errorf("alice's grants after upgrade: %+v", grants)
	}
	perms, err := s.GetUserPermissions(ctx, botUID)
	mustDo(t, "bot's permissions", err)
	if !slices.Equal(perms, []string{"tokens.read"}) {
		t.Errorf("bot's permissions after upgrade: %v", perms)
	}
	key, tok, err := s.LookupKey(ctx, "lkbot")
	mustDo(t, "look up bot's key", err)
	if tok.UID != tokenUID || tok.Username != "bot" || tok.CreatedBy != "alice" || string(key.Hash) != "\x01\x02\x03" {
		t.Errorf("bot's token after upgrade: %+v %+v", tok, key)
	}
	brand, err := s.GetSetting(ctx, "brand")
	mustDo(t, "get setting", err)
	if brand != `{"title":"upgraded"}` {
		t.Errorf("setting after upgrade: %q", brand)
	}
	// The released event is there, outside the chain, for the audit log to
	// give it its place at the first start (see audit).
	events, err := s.ListEvents(ctx, store.EventFilter{Limit: 10})
	mustDo(t, "list events", err)
	if len(events) != 1 || events[0].Action != "token.create" || events[0].Seq != 0 || !events[0].Time.Equal(t1) ||
		events[0].Context["intent"] != "api" {
		t.Errorf("events after upgrade: %+v", events)
	}
	unchained, err := s.UnchainedEvents(ctx, 10)
	mustDo(t, "unchained events", err)
	head, err := s.EventChain(ctx)
	mustDo(t, "event chain", err)
	if len(unchained) != 1 || head.Seq != 0 {
		t.Errorf("chain after upgrade: %d unchained, head %+v", len(unchained), head)
	}
	if f.has("applications") {
		app, err := s.GetApplication(ctx, "wiki")
		mustDo(t, "get application", err)
		bs, err := s.ListBindings(ctx, appUID)
		mustDo(t, "list bindings", err)
		if app.Name != "Wiki" || len(bs) != 1 || bs[0].SubjectName != "ops" || bs[0].Order != 3 {
			t.Errorf("application after upgrade: %+v %+v", app, bs)
		}
	}
	if f.has("ldap") {
		p, err := s.GetLDAPProvider(ctx, "corp")
		mustDo(t, "get LDAP provider", err)
		if p.UID != providerUID || p.BaseDN != "dc=example,dc=com" || p.SearchGroup != "ops" {
			t.Errorf("LDAP provider after upgrade: %+v", p)
		}
	}
	if f.has("ui") {
		sess, err := s.GetSession(ctx, []byte("session-hash"))
		mustDo(t, "get session", err)
		totp, err := s.GetTOTP(ctx, aliceUID)
		mustDo(t, "get TOTP", err)
		if sess.UserUID != aliceUID || !sess.ExpiresAt.Equal(t1.Add(time.Hour)) || totp.LastStep != 42 || !totp.Confirmed {
			t.Errorf("session and TOTP after upgrade: %+v %+v", sess, totp)
		}
	}

	// What the upgrade added works: a change is announced and counted (on
	// PostgreSQL), an application, a provider, a session can be written.
	mustDo(t, "publish a change", s.InTx(ctx, func(q store.Queries) error { return q.PublishChange(ctx, "upgrade-test") }))
	if v, err := s.ChangeVersion(ctx); err != nil || (s.Dialect() == "postgres" && v != 1) {
		t.Errorf("change version after one change: %d, %v", v, err)
	}
	mustDo(t, "create an application", s.CreateApplication(ctx, store.Application{UID: "88888888-8888-4888-8888-888888888888",
		Slug: "later", Name: "Later", PolicyEngineMode: "all", CreatedAt: t1}))
	mustDo(t, "create an LDAP provider", s.CreateLDAPProvider(ctx, store.LDAPProvider{UID: "99999999-9999-4999-8999-999999999999",
		Name: "later", BaseDN: "dc=later", BindMode: "cached", SearchMode: "direct", CreatedAt: t1}))
	mustDo(t, "create a session", s.CreateSession(ctx, store.Session{IDHash: []byte("later"), UserUID: botUID,
		PasswordStamp: []byte("x"), CreatedAt: t1, LastSeenAt: t1, ExpiresAt: t1.Add(time.Hour)}))
}

// TestUpgradeFromEveryReleasedVersion builds, for each dialect, a database
// at every schema version a release could have left (each prefix of the
// released history), fills it, closes it, and opens it as this binary
// does after an upgrade: Migrate, then the data.
func TestUpgradeFromEveryReleasedVersion(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(string(b.dialect), func(t *testing.T) {
			history := released(t, b.dialect)
			for n := 1; n <= len(history); n++ {
				t.Run(fmt.Sprintf("from-%d_%s", n, history[n-1].name), func(t *testing.T) {
					t.Parallel()
					f := fixture{n: n, tables: map[string]bool{}}
					for _, m := range history[:n] {
						f.tables[m.name] = true
					}
					open := b.at(t, n)

					old := open(t)
					fill(t, old, f)
					mustDo(t, "close the released database", old.Close())

					s := open(t)
					t.Cleanup(func() { s.Close() })
					for i := range 2 { // the second run finds nothing to do
						mustDo(t, "migrate #"+strconv.Itoa(i+1), s.Migrate(t.Context()))
						if got, want := recorded(t, s), latestRecord(); !slices.Equal(got, want) {
							t.Fatalf("schema_migrations after migrate #%d:\n got %v\nwant %v", i+1, got, want)
						}
					}
					check(t, s, f)
				})
			}
		})
	}
}

// TestConformanceAfterUpgrade runs the conformance suite on databases
// upgraded from each released version: all of it on SQLite; on
// PostgreSQL, where each fresh store is a schema built migration by
// migration, a test or two per table (the rest of the suite runs on a
// fresh schema in storetest, built by the same SQL in the same order).
func TestConformanceAfterUpgrade(t *testing.T) {
	part := map[string]bool{
		"users/create-and-get": true, "grants/direct-group-and-permissions": true, "keys/lookup": true,
		"events/chain-head": true, "events/unchained": true, "settings/get-put": true,
		"applications/bindings-cascade": true, "ldap/outposts": true, "sessions/create-get-delete": true,
		"totp/put-get-delete": true, "lifecycle/migrate-again-ping-dialect": true,
	}
	for _, b := range backends(t) {
		t.Run(string(b.dialect), func(t *testing.T) {
			var keep func(string) bool
			if b.dialect == migrate.Postgres {
				testenv.Postgres(t) // skip (or fail) once here rather than in every subtest
				keep = func(name string) bool { return part[name] }
			}
			for n := 1; n <= len(released(t, b.dialect)); n++ {
				t.Run("from-"+strconv.Itoa(n), func(t *testing.T) {
					storetest.RunPart(t, func(t *testing.T) store.Store {
						s := b.at(t, n)(t)
						t.Cleanup(func() { s.Close() })
						mustDo(t, "migrate", s.Migrate(context.Background()))
						return s
					}, keep)
				})
			}
		})
	}
}

// A record missing a migration that changes something, below one that is
// recorded, is refused: only a no-op step left by a renumbering is filled
// in.
func TestMigrateRefusesAHoleInTheRecord(t *testing.T) {
	t.Parallel()
	open := sqliteAt(t)(t, 4)
	s := open(t)
	t.Cleanup(func() { s.Close() })
	storetest.Exec(t, s, `DELETE FROM schema_migrations WHERE version = 3`)
	err := s.Migrate(t.Context())
	if err == nil || !strings.Contains(err.Error(), "0003_ldap") {
		t.Fatalf("Migrate with 0003_ldap missing from the record: %v, want an error naming it", err)
	}
	if got := recorded(t, s); len(got) != 3 {
		t.Fatalf("the refused migration changed the record: %v", got)
	}
}
