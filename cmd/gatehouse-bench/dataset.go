package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/postgres"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
)

var (
	principalsFlag = flag.Int("principals", 100_000, "scale/startup suites: principals (users and service accounts) to load")
	tokensFlag     = flag.Int("tokens", 1_000_000, "scale/startup suites: tokens to load")
	loadFlag       = flag.String("load", "bulk", "scale/startup suites: how to load tokens: bulk (store.BulkLoader after a per-row sample) or store (CreateToken for every row; slow)")
	backendFlag    = flag.String("backend", "", "scale/startup suites: only sqlite or only postgres (default: both, PostgreSQL when configured)")
	postgresFlag   = flag.String("postgres", "", "PostgreSQL URL for the PostgreSQL figures (default $GATEHOUSE_BENCH_POSTGRES, then $GATEHOUSE_TEST_POSTGRES); each run works in a schema of its own, dropped at the end")
)

const (
	sqliteBackend   = "SQLite"
	postgresBackend = "PostgreSQL"
)

// postgresURL is the PostgreSQL to measure, or "" when none is configured.
func postgresURL() string {
	for _, v := range []string{*postgresFlag, os.Getenv("GATEHOUSE_BENCH_POSTGRES"), os.Getenv("GATEHOUSE_TEST_POSTGRES")} {
		if v != "" {
			return v
		}
	}
	return ""
}

// backends lists the backends to measure: SQLite always, PostgreSQL when
// one is configured (a note on stderr otherwise).
func backends(suite string) []string {
	switch *backendFlag {
	case "sqlite":
		return []string{sqliteBackend}
	case "postgres":
		return []string{postgresBackend}
	}
	if postgresURL() != "" {
		return []string{sqliteBackend, postgresBackend}
	}
	fmt.Fprintf(os.Stderr, "  %s: no PostgreSQL configured (-postgres, GATEHOUSE_BENCH_POSTGRES or GATEHOUSE_TEST_POSTGRES): SQLite only\n", suite)
	return []string{sqliteBackend}
}

// database is one gatehouse database of a run: an SQLite file in the run's
// directory, or a schema of its own on the PostgreSQL server.
type database struct {
	Backend string
	Env     serverEnv
	// open opens the same database in this process, through gatehouse's
	// own store package.
	open func(ctx context.Context) (store.Store, error)
	drop func()
}

// newDatabase makes an empty database, migrated and bootstrapped by a
// first start of the real server (whose time to ready is returned: it
// includes the migrations and the creation of the admin).
func newDatabase(ctx context.Context, backend, name string) (*database, time.Duration, error) {
	db, err := prepareDatabase(ctx, backend, name)
	if err != nil {
		return nil, 0, err
	}
	p, err := startServer(ctx, db.Env)
	if err != nil {
		return nil, 0, err
	}
	p.Stop()
	return db, p.Ready, nil
}

// prepareDatabase makes an empty, migrated database (a PostgreSQL schema
// of its own) that no server has started on yet.
func prepareDatabase(ctx context.Context, backend, name string) (*database, error) {
	dir, err := benchDir()
	if err != nil {
		return nil, err
	}
	db := &database{Backend: backend, Env: newServerEnv("")}
	switch backend {
	case sqliteBackend:
		path := filepath.Join(dir, name+".db")
		db.Env.Database = "sqlite:" + path
		db.open = func(ctx context.Context) (store.Store, error) { return sqlite.Open(ctx, path) }
		db.drop = func() {
			for _, suffix := range []string{"", "-wal", "-shm"} {
				os.Remove(path + suffix)
			}
		}
	case postgresBackend:
		base := postgresURL()
		if base == "" {
			return nil, errors.New("no PostgreSQL configured")
		}
		schema := "gh_bench_" + randomHex(6)
		// The server has no schema setting: it gets the schema as the
		// search_path startup parameter of its URL, which is what
		// postgres.Options.Schema sets for this process's store.
		u, err := url.Parse(base)
		if err != nil {
			return nil, fmt.Errorf("-postgres: %w", err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		db.Env.Database = u.String()
		db.open = func(ctx context.Context) (store.Store, error) {
			return postgres.Open(ctx, base, postgres.Options{Schema: schema, SlowQuery: -1, MaxConns: 4})
		}
		var once sync.Once
		db.drop = func() {
			once.Do(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				conn, err := pgx.Connect(ctx, base)
				if err != nil {
					fmt.Fprintf(os.Stderr, "drop schema %s: %v\n", schema, err)
					return
				}
				defer conn.Close(ctx)
				if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
					fmt.Fprintf(os.Stderr, "drop schema %s: %v\n", schema, err)
				}
			})
		}
	default:
		return nil, fmt.Errorf("unknown backend %q", backend)
	}
	atExit(db.drop)
	if *keepFlag {
		db.drop = func() {}
		fmt.Fprintf(os.Stderr, "  -keep: %s database %s\n", backend, db.Env.Database)
	}
	// Migrate in this process first: for PostgreSQL that creates the
	// schema the server's search_path names.
	st, err := db.open(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: open: %w", backend, err)
	}
	err = st.Migrate(ctx)
	st.Close()
	if err != nil {
		return nil, fmt.Errorf("%s: migrate: %w", backend, err)
	}
	return db, nil
}

// dataset is a database loaded with principals and tokens.
type dataset struct {
	*database
	Principals, Tokens int
	Load               time.Duration // whole load
	PerRow             time.Duration // the tokens loaded through the store interface
	PerRowCount        int
	Bulk               time.Duration // the tokens loaded through store.BulkLoader
	Method             string        // how it was loaded
	// Cold holds keys of API tokens of active owners that no request has
	// used yet, in random order: each is spent by the first benchmark that
	// uses it (take).
	cold []string
	// Fleet are the service accounts that hold many tokens each (CI
	// fleets), the ones whose token pages are worth listing.
	Fleet []string
}

// take hands out n never-used keys.
func (d *dataset) take(n int) ([]string, error) {
	if n > len(d.cold) {
		return nil, fmt.Errorf("only %d unused sample keys left, %d wanted", len(d.cold), n)
	}
	out := d.cold[:n]
	d.cold = d.cold[n:]
	return out, nil
}

// Datasets are expensive (minutes for a million tokens): one per backend
// per run, shared by the suites that need one (scale, startup).
var (
	datasetMu sync.Mutex
	datasets  = map[string]*dataset{}
)

// coldSample is how many never-used keys a load keeps for the benchmarks.
const coldSample = 12_000

// loadedDataset returns the run's loaded database of that backend, making
// and loading one when no suite has yet.
func loadedDataset(ctx context.Context, backend string) (*dataset, error) {
	datasetMu.Lock()
	defer datasetMu.Unlock()
	if d, ok := datasets[backend]; ok {
		return d, nil
	}
	db, _, err := newDatabase(ctx, backend, "scale")
	if err != nil {
		return nil, err
	}
	d, err := db.load(ctx, *principalsFlag, *tokensFlag)
	if err != nil {
		return nil, err
	}
	datasets[backend] = d
	return d, nil
}

// load fills a bootstrapped database. Keys are made by auth.NewKey and
// hashed by auth.NewHasher with the server's key, exactly as the server
// stores them. Roles and groups go through the store interface; then a
// sample of the tokens (2%, at most 20,000) goes through the store
// interface too, the calls the server makes (CreateToken in transactions
// of 1,000), which times the per-row path; everything else goes through
// the backend's bulk loader (store.BulkLoader: prepared statements on
// SQLite, COPY on PostgreSQL), unless -load store asks for the per-row
// path throughout.
//
// Shape, meant to look like a machine-identity deployment: 10 roles;
// one group per 100 principals, each holding one role; every principal in
// one group; one in ten a human; one in a hundred a "fleet" service
// account (a CI fleet) holding 40% of all tokens between them, the rest
// spread evenly. Tokens: 80% API tokens, 20% app passwords; 10% never
// expire, 5% extended (max_age 30 days), the rest expire at random within
// a year; half were used at some time in the last 90 days.
func (db *database) load(ctx context.Context, principals, tokens int) (*dataset, error) {
	if principals < 100 || tokens < principals {
		return nil, fmt.Errorf("want at least 100 principals and as many tokens (have %d, %d)", principals, tokens)
	}
	st, err := db.open(ctx)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	bulk, _ := st.(store.BulkLoader)
	if *loadFlag == "store" {
		bulk = nil
	} else if *loadFlag != "bulk" {
		return nil, fmt.Errorf("-load %q: want bulk or store", *loadFlag)
	}
	hasher := auth.NewHasher([]byte(db.Env.SecretKey))
	rng := rand.New(rand.NewPCG(1, 2)) // the same shape every run
	now := time.Now().UTC().Truncate(time.Microsecond)
	start := time.Now()

	nGroups := principals / 100
	nFleet := principals / 100
	roles := make([]store.Role, 10)
	perms := [][]string{{"users.read"}, {"groups.read"}, {"tokens.read"}, {"users.read", "groups.read"}, {"events.read"},
		{"tokens.self"}, {"roles.read"}, {"users.read", "tokens.read"}, {"groups.read", "roles.read"}, {"applications.read"}}
	groups := make([]store.Group, nGroups)
	users := make([]store.User, principals)
	err = st.InTx(ctx, func(q store.Queries) error {
		for i := range roles {
			roles[i] = store.Role{UID: uuid(rng), Name: fmt.Sprintf("bench-role-%d", i), Permissions: perms[i], CreatedAt: now}
			if err := q.CreateRole(ctx, roles[i]); err != nil {
				return err
			}
		}
		for i := range groups {
			groups[i] = store.Group{UID: uuid(rng), Name: fmt.Sprintf("team-%05d", i), CreatedAt: now}
			if err := q.CreateGroup(ctx, groups[i]); err != nil {
				return err
			}
			if err := q.AssignRoleToGroup(ctx, roles[i%len(roles)].UID, groups[i].UID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load roles and groups: %w", err)
	}
	members := make([]store.Membership, principals)
	for i := range users {
		u := store.User{UID: uuid(rng), Type: store.TypeServiceAccount, IsActive: true, CreatedAt: now,
			Description: "benchmark principal"}
		switch {
		case i < nFleet:
			u.Username = fmt.Sprintf("fleet-%05d", i)
		case i%10 == 0:
			// Humans need no password here: none logs in during the
			// benchmarks, and 10,000 argon2id hashes would take minutes.
			u.Type, u.Username, u.Name, u.Email = store.TypeHuman, fmt.Sprintf("human-%06d", i), "Bench Human", fmt.Sprintf("human-%06d@example.com", i)
		default:
			u.Username = fmt.Sprintf("sa-%06d", i)
		}
		users[i] = u
		members[i] = store.Membership{GroupUID: groups[i%len(groups)].UID, UserUID: u.UID}
	}
	if bulk != nil {
		err = bulk.BulkLoad(ctx, store.Bulk{Users: users, Members: members})
	} else {
		err = inBatches(len(users), 2000, func(lo, hi int) error {
			return st.InTx(ctx, func(q store.Queries) error {
				for i := lo; i < hi; i++ {
					if err := q.CreateUser(ctx, users[i]); err != nil {
						return err
					}
					if err := q.AddMember(ctx, members[i].GroupUID, members[i].UserUID); err != nil {
						return err
					}
				}
				return nil
			})
		})
	}
	if err != nil {
		return nil, fmt.Errorf("load users: %w", err)
	}
	fmt.Fprintf(os.Stderr, "  %s: %s principals in %s\n", db.Backend, fmtCount(principals), fmtDur(time.Since(start)))

	d := &dataset{database: db, Principals: principals, Tokens: tokens}
	for _, u := range users[:nFleet] {
		d.Fleet = append(d.Fleet, u.Username)
	}
	// Keep about coldSample keys of API tokens, chosen at random over the
	// whole load.
	keep := float64(coldSample) * 1.1 / (float64(tokens) * 0.8)
	fleetTokens := tokens * 2 / 5
	makeToken := func(i int) (store.Token, store.TokenKey, error) {
		var owner store.User
		if i < fleetTokens {
			owner = users[i%nFleet]
		} else {
			owner = users[nFleet+i%(principals-nFleet)]
		}
		t := store.Token{UID: uuid(rng), Identifier: fmt.Sprintf("%s-%07d", owner.Username, i), UserUID: owner.UID,
			Intent: store.IntentAPI, CreatedAt: now, CreatedBy: "admin", Description: "benchmark token"}
		// Drawn, not derived from i: i also picks the owner, and every
		// owner's tokens must have the whole mix.
		if rng.IntN(5) == 0 {
			t.Intent = store.IntentAppPassword
		}
		switch life := rng.IntN(20); {
		case life < 2:
			// never expires
		case life == 2:
			t.Expiring, t.Extended, t.MaxAge = true, true, 30*24*time.Hour
			exp := now.Add(t.MaxAge)
			t.ExpiresAt = &exp
		default:
			exp := now.Add(time.Hour + time.Duration(rng.Int64N(int64(365*24*time.Hour)))).Truncate(time.Microsecond)
			t.Expiring, t.ExpiresAt = true, &exp
		}
		if rng.IntN(2) == 0 {
			lu := now.Add(-time.Duration(rng.Int64N(int64(90 * 24 * time.Hour)))).Truncate(time.Microsecond)
			t.LastUsedAt = &lu
		}
		pk, err := auth.NewKey(t.Intent)
		if err != nil {
			return t, store.TokenKey{}, err
		}
		if t.Intent == store.IntentAPI && rng.Float64() < keep {
			d.cold = append(d.cold, pk.Raw)
		}
		return t, store.TokenKey{Lookup: pk.Lookup, TokenUID: t.UID, Hash: hasher.Sum(pk.Raw), CreatedAt: now}, nil
	}

	perRow := tokens
	if bulk != nil {
		perRow = min(tokens/50, 20_000)
	}
	tokenStart := time.Now()
	err = inBatches(perRow, 1000, func(lo, hi int) error {
		return st.InTx(ctx, func(q store.Queries) error {
			for i := lo; i < hi; i++ {
				t, k, err := makeToken(i)
				if err != nil {
					return err
				}
				if err := q.CreateToken(ctx, t, k); err != nil {
					return fmt.Errorf("token %d: %w", i, err)
				}
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("load tokens: %w", err)
	}
	d.PerRow = time.Since(tokenStart)
	d.PerRowCount = perRow
	bulkStart := time.Now()
	err = inBatches(tokens-perRow, 200_000, func(lo, hi int) error {
		var b store.Bulk
		for i := perRow + lo; i < perRow+hi; i++ {
			t, k, err := makeToken(i)
			if err != nil {
				return err
			}
			b.Tokens, b.Keys = append(b.Tokens, t), append(b.Keys, k)
		}
		if err := bulk.BulkLoad(ctx, b); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "  %s: %s tokens in %s\n", db.Backend, fmtCount(perRow+hi), fmtDur(time.Since(tokenStart)))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bulk load tokens: %w", err)
	}
	d.Bulk = time.Since(bulkStart)
	d.Method = "store interface (CreateToken, transactions of 1,000)"
	if bulk != nil {
		d.Method = fmt.Sprintf("%s tokens through the store interface (CreateToken), the rest through store.BulkLoader", fmtCount(perRow))
	}
	if ps, ok := st.(*postgres.Store); ok {
		// What autovacuum would do on its own shortly after a bulk import
		// (statistics, and the visibility map that lets index-only scans
		// skip the table); done now so that it does not run in the middle
		// of a measurement, or not at all where autovacuum is off.
		// This schema's tables only: the database may hold others' (the
		// tests' database, when the suite falls back to it).
		vacuumStart := time.Now()
		var tables string
		if err := ps.Pool().QueryRow(ctx, `SELECT string_agg(format('%I.%I', schemaname, tablename), ', ')
			FROM pg_tables WHERE schemaname = current_schema()`).Scan(&tables); err != nil {
			return nil, fmt.Errorf("list tables: %w", err)
		}
		if _, err := ps.Pool().Exec(ctx, `VACUUM (ANALYZE) `+tables); err != nil {
			return nil, fmt.Errorf("vacuum: %w", err)
		}
		// The figures depend on how much of the tables the server keeps
		// in its own memory: say how it is set up.
		var version, buffers, autovacuum string
		if err := ps.Pool().QueryRow(ctx, `SELECT current_setting('server_version'), current_setting('shared_buffers'),
			current_setting('autovacuum')`).Scan(&version, &buffers, &autovacuum); err != nil {
			return nil, fmt.Errorf("settings: %w", err)
		}
		fmt.Fprintf(os.Stderr, "  %s: VACUUM (ANALYZE) in %s; PostgreSQL %s, shared_buffers %s, autovacuum %s\n",
			db.Backend, fmtDur(time.Since(vacuumStart)), version, buffers, autovacuum)
	}
	d.Load = time.Since(start)
	rng.Shuffle(len(d.cold), func(i, j int) { d.cold[i], d.cold[j] = d.cold[j], d.cold[i] })
	return d, nil
}

// inBatches calls fn for [lo, hi) ranges of at most size covering [0, n),
// stopping at the first error.
func inBatches(n, size int, fn func(lo, hi int) error) error {
	for lo := 0; lo < n; lo += size {
		if err := fn(lo, min(lo+size, n)); err != nil {
			return err
		}
	}
	return nil
}

// uuid makes a version-4 UUID from rng: the load needs a million of them,
// and their randomness protects nothing here.
func uuid(rng *rand.Rand) string {
	var b [16]byte
	for i := 0; i < 16; i += 8 {
		v := rng.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
