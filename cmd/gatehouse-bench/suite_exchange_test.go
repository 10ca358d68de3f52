package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestExchangeSuiteSmoke runs the exchange suite for about two seconds on
// SQLite (one second of baseline, one of exchanges) and checks that it
// measured something.
func TestExchangeSuiteSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server")
	}
	t.Cleanup(runCleanups)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rs, err := runExchange(ctx, exchangeOptions{Backends: []string{sqliteBackend}, Duration: time.Second, Clients: 2, Tokens: 400})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 3 {
		t.Fatalf("%d rows, want 3: %+v", len(rs), rs)
	}
	for _, r := range rs {
		t.Logf("%s | %s | %s | %s", r.Metric, r.Value, r.Baseline, r.Ratio)
		for _, v := range []string{r.Value, r.Baseline} {
			if v == "" || strings.HasPrefix(v, "0 ") || strings.HasPrefix(v, "0.00") || r.Ratio == "-" {
				t.Errorf("row %q: value %q, baseline %q, ratio %q", r.Metric, r.Value, r.Baseline, r.Ratio)
			}
		}
	}
}
