package sqlite

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// fillForPlans loads users, tokens and events in bulk, with statistics
// gathered as Migrate gathers them, so that plans are chosen as on a
// large database.
func fillForPlans(t *testing.T, s *Store, tokens int) time.Time {
	t.Helper()
	ctx := t.Context()
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	day := int64(24 * time.Hour / time.Microsecond)
	for _, q := range []string{
		`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1 / 20)
			INSERT INTO users (uid, username, type, created_at) SELECT 'u' || i, 'user' || i, 'service_account', ?2 FROM n`,
		// Every fifth token an app password, every tenth never expiring,
		// the others expiring over a year; a third never used.
		`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
			INSERT INTO tokens (uid, identifier, user_uid, intent, description, expiring, expires_at, created_at, last_used_at)
			SELECT 't' || i, printf('tok-%07d', (i * 7919) % ?1), 'u' || (i % (?1 / 20) + 1),
				CASE WHEN i % 5 = 0 THEN 'app_password' ELSE 'api' END, 'token ' || i,
				i % 10 != 0, CASE WHEN i % 10 != 0 THEN ?2 + (i * 37 % 365) * ?3 END, ?2,
				CASE WHEN i % 3 != 0 THEN ?2 - (i % 200) * ?3 END FROM n`,
		`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
			INSERT INTO events (time, action, outcome, actor_username, target_kind, target_name)
			SELECT ?2 + i * 1000000, CASE WHEN i % 7 = 0 THEN 'login' ELSE 'model_updated' END, 'success',
				'user' || (i % 500), 'user', 'user' || (i % 300) FROM n`,
	} {
		if _, err := s.writer.ExecContext(ctx, q, tokens, now.UnixMicro(), day); err != nil {
			t.Fatalf("fill: %v", err)
		}
	}
	if err := s.analyze(ctx, "ANALYZE"); err != nil {
		t.Fatal(err)
	}
	return now
}

// scans returns the lines of stmt's query plan that read table (by its
// name or alias) without an index: full scans.
func scans(t *testing.T, s *Store, stmt string, args []any, names ...string) (full []string, plan string) {
	t.Helper()
	rows, err := s.reader.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+stmt, args...)
	if err != nil {
		t.Fatalf("explain %s: %v", stmt, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan += detail + "\n"
		for _, n := range names {
			if detail == "SCAN "+n {
				full = append(full, detail)
			}
		}
	}
	return full, plan
}

// TestListingPlansUseIndexes: every documented token filter, and the
// event filters, read through an index, never the whole table; both
// plans of a fleet-wide expiry filter (few or many matches) give the
// same pages.
func TestListingPlansUseIndexes(t *testing.T) {
	t.Parallel()
	s := openMigrated(t)
	now := fillForPlans(t, s, 20_000)
	ctx := t.Context()
	at := func(d time.Duration) *time.Time { v := now.Add(d); return &v }
	var user store.User
	if err := s.reader.QueryRowContext(ctx, `SELECT uid FROM users WHERE username = 'user7'`).Scan(&user.UID); err != nil {
		t.Fatal(err)
	}
	filters := map[string]store.TokenFilter{
		"all":                           {Limit: 51},
		"user":                          {UserUID: user.UID, Limit: 51},
		"user, intent, expiring_within": {UserUID: user.UID, Intent: store.IntentAPI, ExpiringBefore: at(90 * 24 * time.Hour), Limit: 51},
		"user, unused_for":              {UserUID: user.UID, UnusedSince: at(-90 * 24 * time.Hour), Limit: 51},
		"intent":                        {Intent: store.IntentAppPassword, Limit: 51},
		"intent, expiring_within":       {Intent: store.IntentAPI, ExpiringBefore: at(7 * 24 * time.Hour), Limit: 51},
		"intent, expiring_within, many": {Intent: store.IntentAPI, ExpiringBefore: at(300 * 24 * time.Hour), Limit: 51},
		"expiring_within":               {ExpiringBefore: at(7 * 24 * time.Hour), Limit: 51},
		"expiring_within, after":        {ExpiringBefore: at(200 * 24 * time.Hour), After: "tok-0010000", Limit: 51},
		"unused_for":                    {UnusedSince: at(-90 * 24 * time.Hour), Limit: 51},
		"search":                        {Search: "oken 12", Limit: 51},
		"intent, unused_for, after":     {Intent: store.IntentAPI, UnusedSince: at(-30 * 24 * time.Hour), After: "tok-0005000", Limit: 51},
	}
	defer func(n int) { fewExpiring = n }(fewExpiring)
	for name, f := range filters {
		var pages [][]string
		for _, few := range []int{1 << 30, 0, 5000} { // always few, never few, as shipped
			fewExpiring = few
			stmt, args, err := s.listTokensQuery(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if full, plan := scans(t, s, stmt, args, "t", "tokens"); len(full) > 0 {
				t.Errorf("%s: tokens read without an index:\n%s%s", name, plan, stmt)
			}
			ts, err := s.ListTokens(ctx, f)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			var ids []string
			for _, tok := range ts {
				ids = append(ids, tok.Identifier)
			}
			if !slices.IsSorted(ids) {
				t.Errorf("%s: page out of order: %v", name, ids)
			}
			pages = append(pages, ids)
		}
		if !slices.Equal(pages[0], pages[1]) || !slices.Equal(pages[1], pages[2]) {
			t.Errorf("%s: the plans disagree:\n%v\n%v\n%v", name, pages[0], pages[1], pages[2])
		}
		if len(pages[0]) == 0 && name != "search" {
			t.Errorf("%s: empty page: the data does not exercise the filter", name)
		}
	}

	// Events by action, actor or target walk that column's index in id
	// order. A time window alone walks the log newest first by its
	// primary key and stops at the page's end (no sort): the times follow
	// the ids only as far as clocks do, so no index on time gives id
	// order.
	for name, f := range map[string]store.EventFilter{
		"action":         {Action: "login", Limit: 51},
		"actor":          {Actor: "user42", Limit: 51},
		"target":         {Target: "user42", Limit: 51},
		"action, since":  {Action: "login", Since: at(time.Hour), Limit: 51},
		"actor, before":  {Actor: "user42", Before: 10_000, Limit: 51},
		"target, until":  {Target: "user42", Until: at(time.Hour), Limit: 51},
		"since (walk)":   {Since: at(time.Hour), Limit: 51},
		"until (walk)":   {Until: at(time.Hour), Limit: 51},
		"before (range)": {Before: 1000, Limit: 51},
	} {
		stmt, args := listEventsQuery(f)
		full, plan := scans(t, s, stmt, args, "events")
		if strings.HasSuffix(name, "(walk)") {
			if plan != "SCAN events\n" {
				t.Errorf("events by %s: want a walk of the log in id order, got:\n%s", name, plan)
			}
		} else if len(full) > 0 || strings.Contains(plan, "TEMP B-TREE") {
			t.Errorf("events by %s read without an index, or sorted:\n%s", name, plan)
		}
	}
}
