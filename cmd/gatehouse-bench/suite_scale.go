package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/gatehouse/gatehouse/client"
	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/clock"
)

var (
	coldFlag     = flag.Int("cold", 5000, "scale suite: first uses of never-used tokens to time (over HTTP, and as many in-process)")
	listsFlag    = flag.Int("lists", 1000, "scale suite: token list requests to time per filter")
	listTimeFlag = flag.Duration("list-time", time.Minute, "scale suite: time budget of each listing measurement (fewer than -lists requests when they are slow)")
)

func init() {
	register(Suite{
		Name: "scale",
		About: "100,000 principals and 1,000,000 tokens (-principals, -tokens) on SQLite and PostgreSQL: load time, " +
			"server RSS, first-use p99 of random tokens, p99 of listing 50 tokens with filters",
		Run: runScale,
	})
}

// The requests of the scale suite. listQuery is the filtered page an
// operator asks for ("this account's API tokens expiring within 90
// days"); fleetQuery the fleet-wide page ("every API token expiring this
// week"), which no per-user index narrows.
func listQuery(user string) url.Values {
	return url.Values{"user": {user}, "intent": {"api"}, "expiring_within": {"2160h"}, "page_size": {"50"}}
}

func fleetQuery() url.Values {
	return url.Values{"intent": {"api"}, "expiring_within": {"168h"}, "page_size": {"50"}}
}

// warmUp is the same traffic for the empty and the loaded server before
// their memory is read: the admin's calls and token listings.
func warmUp(ctx context.Context, c *benchClient, token string, listUsers []string) error {
	if _, err := c.timeGET(ctx, 1000, token, "/me", nil); err != nil {
		return err
	}
	for i := range 20 {
		if _, err := c.timeGET(ctx, 1, token, "/tokens", listQuery(listUsers[i%len(listUsers)])); err != nil {
			return err
		}
	}
	_, err := c.timeGET(ctx, 10, token, "/tokens", fleetQuery())
	return err
}

// adminKey issues a gat_ API token for the admin (the bootstrap token is
// a free-form key, which clients rarely use and which skips the warm
// fast path).
func adminKey(ctx context.Context, c *benchClient, bootstrap string) (string, error) {
	out, err := c.as(bootstrap).Tokens.Create(ctx, client.TokenCreate{User: "admin", TTL: "24h"})
	return out.Key, err
}

// emptyFigures are the baselines taken on an empty database.
type emptyFigures struct {
	RSS     uint64
	ListP99 time.Duration
}

func runScale(ctx context.Context) ([]Result, error) {
	var rs []Result
	for _, b := range backends("scale") {
		r, err := scaleBackend(ctx, b)
		if err != nil {
			return rs, fmt.Errorf("%s: %w", b, err)
		}
		rs = append(rs, r...)
	}
	return rs, nil
}

func scaleBackend(ctx context.Context, backend string) ([]Result, error) {
	// Baselines first, on an empty database of the same backend.
	empty, _, err := newDatabase(ctx, backend, "scale-empty")
	if err != nil {
		return nil, err
	}
	ef, err := measureEmpty(ctx, empty)
	empty.drop()
	if err != nil {
		return nil, fmt.Errorf("empty database: %w", err)
	}

	d, err := loadedDataset(ctx, backend)
	if err != nil {
		return nil, err
	}
	cold, err := d.take(*coldFlag)
	if err != nil {
		return nil, err
	}
	coldInProc, err := d.take(*coldFlag)
	if err != nil {
		return nil, err
	}

	p, err := startServer(ctx, d.Env)
	if err != nil {
		return nil, err
	}
	defer p.Stop()
	c := newClient(p.URL())
	defer c.close()
	admin, err := adminKey(ctx, c, d.Env.AdminToken)
	if err != nil {
		return nil, err
	}
	if err := warmUp(ctx, c, admin, d.Fleet); err != nil {
		return nil, err
	}
	memWarm, err := readMemory(p.PID())
	if err != nil {
		return nil, err
	}

	// First use of random tokens: every request presents a key this
	// server has never seen, so the verifier and (often) the principal
	// come from the database.
	coldLat := make([]time.Duration, 0, len(cold))
	for _, k := range cold {
		ds, err := c.timeGET(ctx, 1, k, "/me", nil)
		if err != nil {
			return nil, fmt.Errorf("first use: %w", err)
		}
		coldLat = append(coldLat, ds[0])
	}
	memCold, err := readMemory(p.PID())
	if err != nil {
		return nil, err
	}
	// The same request with a key already in memory.
	warmLat, err := c.timeGET(ctx, len(cold), cold[0], "/me", nil)
	if err != nil {
		return nil, err
	}

	adminAPI := c.as(admin)
	rng := rand.New(rand.NewPCG(3, 4))
	full := 0
	userLat, err := timedLoop(ctx, *listsFlag, *listTimeFlag, func() error {
		u := d.Fleet[rng.IntN(len(d.Fleet))]
		page, err := client.List[json.RawMessage](ctx, adminAPI, "/tokens", listQuery(u), client.ListOptions{})
		if err != nil {
			return err
		}
		if len(page.Items) == 50 {
			full++
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if full == 0 {
		return nil, fmt.Errorf("no token page of a fleet account had 50 items: the dataset is too small for the listing figure (-tokens)")
	}
	fleetLat, err := timedLoop(ctx, *listsFlag, *listTimeFlag, func() error {
		return adminAPI.Do(ctx, http.MethodGet, "/tokens", fleetQuery(), nil, nil)
	})
	if err != nil {
		return nil, err
	}
	p.Stop()

	inCold, inWarm, err := inProcessFirstUse(ctx, d, coldInProc)
	if err != nil {
		return nil, err
	}

	cs, ws := summarize(coldLat), summarize(warmLat)
	ics, iws := summarize(inCold), summarize(inWarm)
	us, fs := summarize(userLat), summarize(fleetLat)
	fmt.Fprintf(os.Stderr, "  %s first use over HTTP: %s; warm: %s\n", backend, cs, ws)
	fmt.Fprintf(os.Stderr, "  %s first use in-process: %s; warm: %s\n", backend, ics, iws)
	fmt.Fprintf(os.Stderr, "  %s list by user (%d/%d pages full): %s; fleet-wide: %s\n", backend, full, len(userLat), us, fs)
	fmt.Fprintf(os.Stderr, "  %s RSS: empty %s, loaded+warm %s, after %d first uses %s (peak %s)\n", backend,
		fmtMiB(ef.RSS), fmtMiB(memWarm.RSS), len(cold), fmtMiB(memCold.RSS), fmtMiB(memCold.HWM))

	size := fmt.Sprintf("%s principals, %s tokens", fmtCount(d.Principals), fmtCount(d.Tokens))
	tokenLoad := d.PerRow + d.Bulk
	perRowAll := float64(d.PerRow) / float64(max(d.PerRowCount, 1)) * float64(d.Tokens)
	return []Result{
		{Suite: "scale", Metric: fmt.Sprintf("%s: load %s (total with principals %s)", backend, size, fmtDur(d.Load)),
			Value:    fmt.Sprintf("%s (%.0f tokens/s)", fmtDur(tokenLoad), float64(d.Tokens)/tokenLoad.Seconds()),
			Baseline: fmtDur(time.Duration(perRowAll)) + " (per-row CreateToken, extrapolated)",
			Ratio:    fmtRatio(float64(tokenLoad), perRowAll)},
		{Suite: "scale", Metric: fmt.Sprintf("%s: server RSS, loaded, after warm-up", backend),
			Value: fmtMiB(memWarm.RSS), Baseline: fmtMiB(ef.RSS) + " (empty db)", Ratio: fmtRatio(float64(memWarm.RSS), float64(ef.RSS)),
			Goal: "< 300 MiB", Met: met(memWarm.RSS < 300<<20)},
		{Suite: "scale", Metric: fmt.Sprintf("%s:   RSS after %s more first uses", backend, fmtCount(len(cold))),
			Value: fmtMiB(memCold.RSS), Baseline: fmtMiB(memWarm.RSS), Ratio: fmtRatio(float64(memCold.RSS), float64(memWarm.RSS)),
			Goal: "< 300 MiB", Met: met(memCold.RSS < 300<<20)},
		{Suite: "scale", Metric: fmt.Sprintf("%s: first use p99, GET /api/v1/me over HTTP", backend),
			Value: fmtDur(cs.P99), Baseline: fmtDur(ws.P99) + " (warm key)", Ratio: durRatio(cs.P99, ws.P99),
			Goal: "<= warm + 1ms", Met: met(cs.P99 <= ws.P99+time.Millisecond)},
		{Suite: "scale", Metric: fmt.Sprintf("%s: first use p99, in-process VerifyAPIKey", backend),
			Value: fmtDur(ics.P99), Baseline: fmtDur(iws.P99) + " (warm key)", Ratio: durRatio(ics.P99, iws.P99),
			Goal: "< 1ms", Met: met(ics.P99 < time.Millisecond)},
		{Suite: "scale", Metric: fmt.Sprintf("%s: list 50 tokens ?user&intent&expiring_within p99 (n=%d)", backend, us.N),
			Value: fmtDur(us.P99), Baseline: fmtDur(ef.ListP99) + " (empty db)", Ratio: durRatio(us.P99, ef.ListP99),
			Goal: "< 10ms", Met: met(us.P99 < 10*time.Millisecond)},
		{Suite: "scale", Metric: fmt.Sprintf("%s: list 50 tokens ?intent&expiring_within p99 (n=%d)", backend, fs.N),
			Value: fmtDur(fs.P99), Baseline: fmtDur(ef.ListP99) + " (empty db)", Ratio: durRatio(fs.P99, ef.ListP99),
			Goal: "< 10ms", Met: met(fs.P99 < 10*time.Millisecond)},
	}, nil
}

// measureEmpty runs the warm-up and the listing on a server over an empty
// database: the baselines of memory and listing.
func measureEmpty(ctx context.Context, db *database) (emptyFigures, error) {
	p, err := startServer(ctx, db.Env)
	if err != nil {
		return emptyFigures{}, err
	}
	defer p.Stop()
	c := newClient(p.URL())
	defer c.close()
	admin, err := adminKey(ctx, c, db.Env.AdminToken)
	if err != nil {
		return emptyFigures{}, err
	}
	if err := warmUp(ctx, c, admin, []string{"admin"}); err != nil {
		return emptyFigures{}, err
	}
	mem, err := readMemory(p.PID())
	if err != nil {
		return emptyFigures{}, err
	}
	lat, err := c.timeGET(ctx, *listsFlag, admin, "/tokens", listQuery("admin"))
	if err != nil {
		return emptyFigures{}, err
	}
	return emptyFigures{RSS: mem.RSS, ListP99: percentile(lat, 99)}, nil
}

// inProcessFirstUse checks never-used keys through a fresh
// auth.Authenticator over the loaded database (this process, no HTTP),
// then one key again once it is warm.
func inProcessFirstUse(ctx context.Context, d *dataset, keys []string) (cold, warm []time.Duration, err error) {
	st, err := d.open(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer st.Close()
	a := auth.NewAuthenticator(st, auth.NewHasher([]byte(d.Env.SecretKey)), clock.Real{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, k := range keys {
		t0 := time.Now()
		if _, _, err := a.VerifyAPIKey(ctx, k); err != nil {
			return nil, nil, fmt.Errorf("in-process first use: %w", err)
		}
		cold = append(cold, time.Since(t0))
	}
	for range len(keys) {
		t0 := time.Now()
		if _, _, err := a.VerifyAPIKey(ctx, keys[0]); err != nil {
			return nil, nil, err
		}
		warm = append(warm, time.Since(t0))
	}
	return cold, warm, nil
}

// timedLoop times fn up to n times, stopping early once budget is spent
// (a slow query must not hold the whole run for an hour); at least one
// call is made.
func timedLoop(ctx context.Context, n int, budget time.Duration, fn func() error) ([]time.Duration, error) {
	var ds []time.Duration
	start := time.Now()
	for range max(n, 1) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		t0 := time.Now()
		if err := fn(); err != nil {
			return nil, err
		}
		ds = append(ds, time.Since(t0))
		if time.Since(start) > budget {
			break
		}
	}
	return ds, nil
}
