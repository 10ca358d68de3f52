package postgres

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// indexNames lists the indexes a plan reads.
func indexNames(plan map[string]any) []string {
	var out []string
	if name, ok := plan["Index Name"].(string); ok {
		out = append(out, name)
	}
	if subs, ok := plan["Plans"].([]any); ok {
		for _, sub := range subs {
			out = append(out, indexNames(sub.(map[string]any))...)
		}
	}
	return out
}

// scanNodes lists the relations a plan reads with a sequential scan.
func scanNodes(plan map[string]any) []string {
	var out []string
	if plan["Node Type"] == "Seq Scan" {
		rel, _ := plan["Relation Name"].(string)
		out = append(out, rel)
	}
	if subs, ok := plan["Plans"].([]any); ok {
		for _, sub := range subs {
			out = append(out, scanNodes(sub.(map[string]any))...)
		}
	}
	return out
}

// TestListingPlansUseIndexes: on a schema holding enough rows for the
// planner to care (statistics gathered), no token or event listing reads
// its table sequentially.
func TestListingPlansUseIndexes(t *testing.T) {
	t.Parallel()
	s := NewTestStore(t)
	ctx := t.Context()
	const n = 50_000
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for _, sql := range []string{
		`INSERT INTO users (uid, username, type, created_at)
			SELECT 'u' || i, 'user' || i, 'service_account', $2 FROM generate_series(1, $1::int / 20) i`,
		`INSERT INTO tokens (uid, identifier, user_uid, intent, description, expiring, expires_at, created_at, last_used_at)
			SELECT 't' || i, 'tok-' || lpad(((i * 7919) % $1)::text, 7, '0'), 'u' || (i % ($1::int / 20) + 1),
				CASE WHEN i % 5 = 0 THEN 'app_password' ELSE 'api' END, 'token ' || i,
				i % 10 != 0, CASE WHEN i % 10 != 0 THEN $2::timestamptz + (i * 37 % 365) * interval '1 day' END, $2,
				CASE WHEN i % 3 != 0 THEN $2::timestamptz - (i % 200) * interval '1 day' END
			FROM generate_series(1, $1::int) i`,
		// A fleet account holding 4,000 tokens, as CI fleets do.
		`INSERT INTO users (uid, username, type, created_at) SELECT 'fleet', 'fleet', 'service_account', $2 WHERE $1::int > 0`,
		`INSERT INTO tokens (uid, identifier, user_uid, intent, description, expiring, expires_at, created_at)
			SELECT 'f' || i, 'fleet-' || lpad(((i * 7919) % 4000)::text, 5, '0'), 'fleet',
				CASE WHEN i % 5 = 0 THEN 'app_password' ELSE 'api' END, '', i % 10 != 0,
				CASE WHEN i % 10 != 0 THEN $2::timestamptz + (i * 37 % 365) * interval '1 day' END, $2
			FROM generate_series(1, least($1::int, 4000)) i`,
		`INSERT INTO events (time, action, outcome, actor_username, target_kind, target_name)
			SELECT $2::timestamptz + i * interval '1 second', CASE WHEN i % 7 = 0 THEN 'login' ELSE 'model_updated' END, 'success',
				'user' || (i % 500), 'user', 'user' || (i % 300) FROM generate_series(1, $1::int) i`,
		`ANALYZE users, tokens, events`,
	} {
		var args []any
		if sql[0] != 'A' {
			args = []any{n, now}
		}
		if _, err := s.Pool().Exec(ctx, sql, args...); err != nil {
			t.Fatalf("fill: %v", err)
		}
	}
	at := func(d time.Duration) *time.Time { v := now.Add(d); return &v }
	explain := func(name, stmt string, args []any) map[string]any {
		var doc []byte
		if err := s.Pool().QueryRow(ctx, `EXPLAIN (FORMAT JSON) `+stmt, args...).Scan(&doc); err != nil {
			t.Fatalf("%s: explain: %v", name, err)
		}
		var plans []map[string]any
		if err := json.Unmarshal(doc, &plans); err != nil {
			t.Fatalf("decode plan: %v", err)
		}
		plan := plans[0]["Plan"].(map[string]any)
		if seq := scanNodes(plan); len(seq) > 0 {
			t.Errorf("%s: sequential scan of %v:\n%s", name, seq, doc)
		}
		return plan
	}
	for name, f := range map[string]store.TokenFilter{
		"all":                           {Limit: 51},
		"user":                          {UserUID: "u7", Limit: 51},
		"user, intent, expiring_within": {UserUID: "u7", Intent: store.IntentAPI, ExpiringBefore: at(90 * 24 * time.Hour), Limit: 51},
		"user, unused_for":              {UserUID: "u7", UnusedSince: at(-90 * 24 * time.Hour), Limit: 51},
		"intent":                        {Intent: store.IntentAppPassword, Limit: 51},
		"intent, expiring_within":       {Intent: store.IntentAPI, ExpiringBefore: at(7 * 24 * time.Hour), Limit: 51},
		"intent, expiring_within, many": {Intent: store.IntentAPI, ExpiringBefore: at(300 * 24 * time.Hour), Limit: 51},
		"expiring_within":               {ExpiringBefore: at(7 * 24 * time.Hour), Limit: 51},
		"unused_for":                    {UnusedSince: at(-90 * 24 * time.Hour), Limit: 51},
		"intent, unused_for, after":     {Intent: store.IntentAPI, UnusedSince: at(-30 * 24 * time.Hour), After: "tok-0005000", Limit: 51},
	} {
		stmt, args := listTokensSQL(f)
		explain("tokens by "+name, stmt, args)
	}
	for name, f := range map[string]store.EventFilter{
		"none":          {Limit: 51},
		"action":        {Action: "login", Limit: 51},
		"actor":         {Actor: "user42", Limit: 51},
		"target":        {Target: "user42", Limit: 51},
		"action, since": {Action: "login", Since: at(time.Hour), Limit: 51},
		"since":         {Since: at(time.Hour), Limit: 51},
		"until":         {Until: at(time.Hour), Limit: 51},
		"before":        {Before: 1000, Limit: 51},
	} {
		stmt, args := listEventsSQL(f)
		explain("events by "+name, stmt, args)
	}

	// The fleet account's API tokens expiring this week (a few dozen of
	// its 4,000) are read from the expiring-tokens index (migration 10),
	// not found by walking all 3,200 of its API tokens in identifier order.
	stmt, args := listTokensSQL(store.TokenFilter{UserUID: "fleet", Intent: store.IntentAPI, ExpiringBefore: at(7 * 24 * time.Hour), Limit: 51})
	if used := indexNames(explain("the fleet's tokens expiring this week", stmt, args)); !slices.Contains(used, "tokens_user_intent_expires_at") {
		t.Errorf("the fleet's tokens expiring this week: plan reads %v, want tokens_user_intent_expires_at", used)
	}
}
