package main

import (
	"context"
	"strings"
	"sync"
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
	// The run's directory is made once per process and removed by
	// runCleanups, which other tests of the package call too: start on a
	// new one, and leave none behind.
	workDirOnce = sync.Once{}
	t.Cleanup(func() { runCleanups(); workDirOnce = sync.Once{} })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
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
