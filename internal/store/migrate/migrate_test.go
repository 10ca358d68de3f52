package migrate

import (
	"testing"
	"testing/fstest"
)

func TestLoad(t *testing.T) {
	t.Parallel()
	good := fstest.MapFS{
		"sqlite/0002_more.sql":      {Data: []byte("CREATE TABLE b (x INTEGER);")},
		"sqlite/0001_initial.sql":   {Data: []byte("CREATE TABLE a (x INTEGER);")},
		"postgres/0001_initial.sql": {Data: []byte("CREATE TABLE a (x INT);")},
		"postgres/0002_more.sql":    {Data: []byte("-- nothing here\n\n  -- at all\n")},
	}
	ms, err := load(good)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].Version != 1 || ms[1].Version != 2 || ms[1].Name != "more" ||
		ms[0].Body(Postgres) != "CREATE TABLE a (x INT);" || ms[0].Body(SQLite) != "CREATE TABLE a (x INTEGER);" {
		t.Fatalf("load: %+v", ms)
	}
	if ms[1].NoOp(SQLite) || !ms[1].NoOp(Postgres) {
		t.Fatalf("NoOp: sqlite %v, postgres %v; want false, true", ms[1].NoOp(SQLite), ms[1].NoOp(Postgres))
	}
	both := func(files ...string) fstest.MapFS {
		fsys := fstest.MapFS{}
		for _, f := range files {
			fsys["sqlite/"+f] = &fstest.MapFile{}
			fsys["postgres/"+f] = &fstest.MapFile{}
		}
		return fsys
	}
	for name, fsys := range map[string]fstest.MapFS{
		"gap":       both("0001_a.sql", "0003_c.sql"),
		"duplicate": both("0001_a.sql", "001_b.sql"),
		"no name":   both("0001.sql"),
		"bad num":   both("x_a.sql"),
		"zero":      both("0000_a.sql"),
		"one dialect lacks a version": {
			"sqlite/0001_a.sql": {}, "sqlite/0002_b.sql": {}, "postgres/0001_a.sql": {},
		},
		"names differ": {"sqlite/0001_a.sql": {}, "postgres/0001_b.sql": {}},
	} {
		if _, err := load(fsys); err == nil {
			t.Errorf("load(%s): no error", name)
		}
	}
}

// The embedded history loads (a bad one panics at init) and keeps the
// numbering both dialects share, which released databases are mapped to.
func TestHistory(t *testing.T) {
	t.Parallel()
	want := []string{"initial", "applications", "ldap", "ui", "changes", "event_chain"}
	ms := All()
	if len(ms) < len(want) || Latest() != len(ms) {
		t.Fatalf("history has %d migrations (Latest %d), want at least %d", len(ms), Latest(), len(want))
	}
	for i, name := range want {
		if ms[i].Name != name || ms[i].Version != i+1 {
			t.Errorf("migration %d is %d_%s, want %d_%s", i+1, ms[i].Version, ms[i].Name, i+1, name)
		}
	}
	if !ms[4].NoOp(SQLite) || ms[4].NoOp(Postgres) {
		t.Error("0005_changes: want a no-op on SQLite and a change counter on PostgreSQL")
	}
	for _, r := range renumbered {
		if m := ms[r.to-1]; m.Name != r.name {
			t.Errorf("renumbered %s %d_%s to %d, which is %s", r.dialect, r.from, r.name, r.to, m.Name)
		}
	}
}
