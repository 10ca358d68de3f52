package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/gatehouse/gatehouse/client"
)

var (
	revocationsFlag = flag.Int("revocations", 1000, "propagation suite: revocations to time")
	giveUpFlag      = flag.Duration("give-up", 2*time.Second, "propagation suite: how long to poll the other instance for one revocation before counting it as never refused")
	pollFlag        = flag.Duration("poll", time.Millisecond, "propagation suite: pause between polls of the other instance")
)

func init() {
	register(Suite{
		Name:  "propagation",
		About: "two gatehouse processes on one PostgreSQL schema: revoke a token through A, time until B refuses it (p50, p99)",
		Run:   runPropagation,
	})
}

func runPropagation(ctx context.Context) ([]Result, error) {
	if postgresURL() == "" {
		return nil, errors.New("needs PostgreSQL: set -postgres, GATEHOUSE_BENCH_POSTGRES or GATEHOUSE_TEST_POSTGRES")
	}
	db, _, err := newDatabase(ctx, postgresBackend, "propagation")
	if err != nil {
		return nil, err
	}
	defer db.drop()
	// Same database, same key of the token hashes: two instances behind
	// one load balancer.
	a, err := startServer(ctx, db.Env)
	if err != nil {
		return nil, err
	}
	defer a.Stop()
	b, err := startServer(ctx, db.Env)
	if err != nil {
		return nil, err
	}
	defer b.Stop()
	ca, cb := newClient(a.URL()), newClient(b.URL())
	defer ca.close()
	defer cb.close()
	admin := ca.as(db.Env.AdminToken)
	if _, err := admin.ServiceAccounts.Create(ctx, client.ServiceAccountCreate{Username: "bench-prop",
		Description: "propagation benchmark"}); err != nil {
		return nil, err
	}

	// Baseline: one request to B with a key B already holds in memory,
	// the finest resolution the measurement below can have.
	first, err := admin.Tokens.Create(ctx, client.TokenCreate{User: "bench-prop", Identifier: "bench-prop-base", TTL: "1h"})
	if err != nil {
		return nil, err
	}
	rtt, err := cb.timeGET(ctx, 1000, first.Key, "/me", nil)
	if err != nil {
		return nil, fmt.Errorf("instance B: %w", err)
	}

	// Every timed revocation ends with one refused request to B, and
	// gatehouse limits refused credentials per client address (50 a
	// minute): the polls come from many loopback addresses, so that the
	// limiter, doing its job, does not answer 429 instead.
	pollers := make([]*benchClient, 200)
	for i := range pollers {
		pollers[i] = newClientFrom(b.URL(), net.IPv4(127, 77, byte(i/250), byte(1+i%250)))
		defer pollers[i].close()
	}

	var lat []time.Duration
	failures := 0
	n := *revocationsFlag
	for i := range n {
		cb := pollers[i%len(pollers)]
		id := fmt.Sprintf("bench-prop-%06d", i)
		tok, err := admin.Tokens.Create(ctx, client.TokenCreate{User: "bench-prop", Identifier: id, TTL: "1h"})
		if err != nil {
			return nil, err
		}
		// B admits the key and caches its verifier.
		if _, err := cb.timeGET(ctx, 2, tok.Key, "/me", nil); err != nil {
			return nil, fmt.Errorf("revocation %d: warm on B: %w", i+1, err)
		}
		// The clock starts when the revocation is sent to A: the figure
		// includes A's own work, and is what a client that revokes and
		// then relies on the revocation sees.
		t0 := time.Now()
		if err := admin.Tokens.Revoke(ctx, id); err != nil {
			return nil, err
		}
		refused := false
		holder := cb.as(tok.Key)
		for time.Since(t0) < *giveUpFlag {
			err := holder.Do(ctx, http.MethodGet, "/me", nil, nil, nil)
			if errors.Is(err, client.ErrUnauthorized) {
				refused = true
				break
			}
			if err != nil {
				return nil, fmt.Errorf("poll B: %w", err)
			}
			time.Sleep(*pollFlag)
		}
		if !refused {
			failures++
			fmt.Fprintf(os.Stderr, "  revocation %d: B still admitted the key after %s\n", i+1, *giveUpFlag)
			if failures == i+1 && failures >= 5 {
				// Not one revocation reached B: propagation does not exist
				// (yet). Waiting out the rest would only take n x give-up.
				fmt.Fprintf(os.Stderr, "  the first %d revocations never reached B: stopping\n", failures)
				break
			}
			continue
		}
		lat = append(lat, time.Since(t0))
		if (i+1)%100 == 0 {
			fmt.Fprintf(os.Stderr, "  %d revocations: %s\n", i+1, summarize(lat))
		}
	}
	attempted := len(lat) + failures
	rs := summarize(rtt)
	metric := fmt.Sprintf("revoke on A until B refuses, %d revocations", attempted)
	if failures > 0 {
		// A revocation B never refused counts as worse than any bound:
		// the percentiles are taken with those as +infinity.
		for range failures {
			lat = append(lat, time.Duration(1<<62))
		}
		metric += fmt.Sprintf(", %d NEVER refused within %s", failures, *giveUpFlag)
	}
	ls := summarize(lat)
	show := func(d time.Duration) string {
		if d == time.Duration(1<<62) {
			return "> " + giveUpFlag.String()
		}
		return fmtDur(d)
	}
	fmt.Fprintf(os.Stderr, "  propagation: p50 %s p99 %s; B round trip %s\n", show(ls.P50), show(ls.P99), rs)
	return []Result{
		{Suite: "propagation", Metric: metric + ": p50 (PostgreSQL)",
			Value: show(ls.P50), Baseline: fmtDur(rs.P50) + " (request to B, p50)", Ratio: ratioOrDash(ls.P50, rs.P50)},
		{Suite: "propagation", Metric: metric + ": p99 (PostgreSQL)",
			Value: show(ls.P99), Baseline: fmtDur(rs.P99) + " (request to B, p99)", Ratio: ratioOrDash(ls.P99, rs.P99),
			Goal: "< 250ms", Met: met(ls.P99 < 250*time.Millisecond)},
	}, nil
}

func ratioOrDash(v, base time.Duration) string {
	if v == time.Duration(1<<62) {
		return "-"
	}
	return durRatio(v, base)
}
