package postgres

import (
	"encoding/json"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"
)

// planNodes lists the node types of an EXPLAIN (FORMAT JSON) plan.
func planNodes(plan map[string]any) []string {
	out := []string{plan["Node Type"].(string)}
	if subs, ok := plan["Plans"].([]any); ok {
		for _, sub := range subs {
			out = append(out, planNodes(sub.(map[string]any))...)
		}
	}
	return out
}

// LookupKey is the cold path of every credential check: it must stay a
// few index probes however many tokens there are. The test fills a schema
// with tokens (10,000; 1,000,000 with GATEHOUSE_TEST_PG_LARGE=1), checks
// that the plan has no sequential scan and that lookups are fast.
func TestLookupKeyUsesIndexes(t *testing.T) {
	t.Parallel()
	n := 10_000
	if os.Getenv("GATEHOUSE_TEST_PG_LARGE") == "1" {
		n = 1_000_000
	}
	s := NewTestStore(t)
	ctx := t.Context()

	start := time.Now()
	for _, sql := range []string{
		`INSERT INTO users (uid, username, type, created_at)
			SELECT 'u' || i, 'user' || i, 'human', now() FROM generate_series(1, $1::int / 10) i`,
		`INSERT INTO tokens (uid, identifier, user_uid, intent, created_at)
			SELECT 't' || i, 'token' || i, 'u' || (i % ($1::int / 10) + 1), 'api', now() FROM generate_series(1, $1::int) i`,
		`INSERT INTO token_keys (lookup, token_uid, hash, created_at)
			SELECT 'lk' || i, 't' || i, '\x0102', now() FROM generate_series(1, $1::int) i`,
	} {
		if _, err := s.Pool().Exec(ctx, sql, n); err != nil {
			t.Fatalf("fill: %v", err)
		}
	}
	if _, err := s.Pool().Exec(ctx, `ANALYZE users, tokens, token_keys`); err != nil {
		t.Fatalf("analyze: %v", err)
	}
	t.Logf("filled %d tokens in %s", n, time.Since(start).Round(time.Millisecond))

	var doc []byte
	if err := s.Pool().QueryRow(ctx, `EXPLAIN (FORMAT JSON) `+lookupKeySQL, "lk42").Scan(&doc); err != nil {
		t.Fatalf("explain: %v", err)
	}
	var plans []map[string]any
	if err := json.Unmarshal(doc, &plans); err != nil {
		t.Fatalf("decode plan: %v", err)
	}
	nodes := planNodes(plans[0]["Plan"].(map[string]any))
	if slices.Contains(nodes, "Seq Scan") || slices.Contains(nodes, "Bitmap Heap Scan") {
		t.Fatalf("LookupKey plan scans a table: %v\n%s", nodes, doc)
	}

	// Warm up, then time lookups spread over the whole key range.
	lookup := func(i int) {
		k, tok, err := s.LookupKey(ctx, "lk"+strconv.Itoa(i))
		if err != nil || k.TokenUID != "t"+strconv.Itoa(i) || tok.Username == "" {
			t.Fatalf("LookupKey(lk%d) = %+v, %+v, %v", i, k, tok, err)
		}
	}
	for i := 1; i <= 20; i++ {
		lookup(i)
	}
	const lookups = 500
	var durations []time.Duration
	for i := range lookups {
		at := time.Now()
		lookup(1 + (i*7919)%n)
		durations = append(durations, time.Since(at))
	}
	slices.Sort(durations)
	median, p99 := durations[lookups/2], durations[lookups*99/100]
	t.Logf("LookupKey over %d tokens: median %s, p99 %s", n, median, p99)
	// Generous: a shared 2-core CI box; an index probe takes well under a
	// millisecond, a sequential scan of even 10,000 rows several.
	if median > 20*time.Millisecond {
		t.Fatalf("LookupKey median %s is too slow", median)
	}
}
