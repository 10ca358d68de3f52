package main

import (
	"math"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/testenv"
)

// series samples f every step over run, with the garbage collector's
// sawtooth and random noise on top, as the heap in use looks.
func series(run, step time.Duration, f func(t float64) float64, noise float64) ([]time.Duration, []float64) {
	rng := rand.New(rand.NewPCG(7, 9))
	var at []time.Duration
	var vs []float64
	for t := time.Duration(0); t <= run; t += step {
		x := t.Seconds()
		saw := math.Mod(x, 7) / 7 // a GC cycle every 7 s
		at = append(at, t)
		vs = append(vs, f(x)*(1+noise*(saw-0.5))+noise*f(x)*(rng.Float64()-0.5))
	}
	return at, vs
}

func TestFlatTrend(t *testing.T) {
	const mib = 1 << 20
	run, step := 10*time.Minute, 3*time.Second
	cases := []struct {
		name string
		f    func(t float64) float64
		flat bool
	}{
		{"flat with GC sawtooth and noise", func(float64) float64 { return 20 * mib }, true},
		{"warm-up growth in the first quarter, then flat", func(t float64) float64 { return 20*mib + 10*mib*math.Min(t/120, 1) }, true},
		{"slowly falling", func(t float64) float64 { return 30*mib - t*2000 }, true},
		{"steady leak of 10 KiB/s (6 MiB over 10 min)", func(t float64) float64 { return 20*mib + t*10*1024 }, false},
		{"leak that starts half-way", func(t float64) float64 { return 20*mib + math.Max(t-300, 0)*20*1024 }, false},
		{"leak under the tolerance (1 MiB over 10 min)", func(t float64) float64 { return 20*mib + t*mib/600 }, true},
	}
	for _, c := range cases {
		at, vs := series(run, step, c.f, 0.6)
		tr := flatTrend("heap", at, vs, run, 0.10, 4*mib)
		if tr.Flat != c.flat {
			t.Errorf("%s: flat = %v, want %v (growth %.1f MiB, early %.1f, late %.1f, limit %.1f MiB)",
				c.name, tr.Flat, c.flat, tr.Growth/mib, tr.Early/mib, tr.Late/mib, tr.Limit/mib)
		}
	}

	// Goroutines: integers that jump with the requests in flight.
	rng := rand.New(rand.NewPCG(1, 1))
	flat := func(float64) float64 { return float64(20 + rng.IntN(12)) }
	leak := func(t float64) float64 { return float64(20+rng.IntN(12)) + t/20 } // one every 20 s
	at, vs := series(run, step, flat, 0)
	if tr := flatTrend("goroutines", at, vs, run, 0.10, 8); !tr.Flat {
		t.Errorf("jittery goroutines judged growing: %+v", tr)
	}
	at, vs = series(run, step, leak, 0)
	if tr := flatTrend("goroutines", at, vs, run, 0.10, 8); tr.Flat {
		t.Errorf("a goroutine leaked every 20 s judged flat: %+v", tr)
	}

	// Too few samples after warm-up: no verdict of flat.
	at, vs = series(8*time.Second, 2*time.Second, func(float64) float64 { return 1 }, 0)
	if tr := flatTrend("x", at, vs, 8*time.Second, 0.1, 1); tr.Flat || tr.N >= soakMinSamples {
		t.Errorf("judged %d samples: %+v", len(vs), tr)
	}
}

func TestSoakVerdict(t *testing.T) {
	run, step := 2*time.Minute, time.Second
	report := func(heap func(t float64) float64) *soakReport {
		r := &soakReport{Cfg: soakConfig{Backend: sqliteBackend, Duration: run, Sample: step}, Elapsed: run}
		at, vs := series(run, step, heap, 0.3)
		for i := range at {
			r.Samples = append(r.Samples, soakSample{At: at[i], RSS: 40 << 20, HeapInuse: vs[i], Goroutines: 20, FDs: 30})
		}
		r.OK[kWarm] = 1000
		r.analyse()
		return r
	}
	good := report(func(float64) float64 { return 10 << 20 })
	if err := good.verdict(); err != nil {
		t.Fatalf("flat run failed: %v", err)
	}
	var b strings.Builder
	good.printTimeline(&b)
	if !strings.Contains(b.String(), "soak verdict: PASS") {
		t.Errorf("timeline of a good run:\n%s", b.String())
	}

	leaking := report(func(t float64) float64 { return 10<<20 + t*100*1024 })
	if err := leaking.verdict(); err == nil || !strings.Contains(err.Error(), "heap in use") {
		t.Errorf("leaking heap: verdict %v", err)
	}

	bad := report(func(float64) float64 { return 10 << 20 })
	bad.Bad[kRevoked] = 1
	if err := bad.verdict(); err == nil || !strings.Contains(err.Error(), "1 unexpected") {
		t.Errorf("an admitted revoked key: verdict %v", err)
	}
	for _, r := range bad.results() {
		if strings.HasPrefix(r.Metric, "unexpected answers") && (r.Met == nil || *r.Met) {
			t.Errorf("unexpected answers row: %+v", r)
		}
	}
}

func TestParseMetrics(t *testing.T) {
	text := `# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 23
go_memstats_heap_inuse_bytes 1.2345678e+07
go_memstats_heap_inuse_bytes_total{x="y"} 5
gatehouse_http_requests_total{method="GET",route="/api/v1/me",status="200"} 42
`
	v := parseMetrics([]byte(text), "go_memstats_heap_inuse_bytes", "go_goroutines", "missing")
	if v[0] != 12345678 || v[1] != 23 || !math.IsNaN(v[2]) {
		t.Errorf("parseMetrics = %v", v)
	}
}

func TestPGSockets(t *testing.T) {
	table := `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:A1B2 0100007F:1538 01 00000000:00000000 00:00000000 00000000     0        0 111 1 0 20 4 30 10 -1
   1: 0100007F:A1B3 0100007F:1538 01 00000000:00000000 00:00000000 00000000     0        0 222 1 0 20 4 30 10 -1
   2: 0100007F:A1B4 0100007F:20E4 01 00000000:00000000 00:00000000 00000000     0        0 333 1 0 20 4 30 10 -1
   3: 0100007F:1538 0100007F:A1B5 01 00000000:00000000 00:00000000 00000000     0        0 444 1 0 20 4 30 10 -1
`
	// 0x1538 is 5432: sockets 111 and 222 go to PostgreSQL, but only 111
	// is the process's; 444 is PostgreSQL's side.
	if n := pgSockets([]byte(table), 5432, map[string]bool{"111": true, "333": true, "444": true}); n != 1 {
		t.Errorf("pgSockets = %d, want 1", n)
	}
}

func TestAddrPool(t *testing.T) {
	p := newAddrPool()
	now := time.Unix(1_000_000, 0)
	seen := map[string]int{}
	for range soakAddrs * soakRefusalsPerAddr {
		ip, ok := p.take(now)
		if !ok {
			t.Fatal("pool exhausted before its budget")
		}
		if !ip.IsLoopback() {
			t.Fatalf("%v is not a loopback address", ip)
		}
		seen[ip.String()]++
	}
	if len(seen) != soakAddrs {
		t.Errorf("%d distinct addresses, want %d", len(seen), soakAddrs)
	}
	// Every address used its minute's budget: nothing until the minute
	// (and the second of slack) is over.
	if ip, ok := p.take(now.Add(time.Minute)); ok {
		t.Errorf("address %v handed out over its budget", ip)
	}
	if _, ok := p.take(now.Add(time.Minute + 2*time.Second)); !ok {
		t.Error("no address after the minute")
	}
	if net.ParseIP("127.84.0.1").Equal(p.ips[0]) == false {
		t.Errorf("first address %v", p.ips[0])
	}
}

// TestSoakShort runs the real soak for a few seconds on each backend:
// one gatehouse process, every kind of change and check, samples from
// /proc and /metrics, and no unexpected answer. (Memory over a few
// seconds is warm-up; flatness is TestFlatTrend's.)
func TestSoakShort(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server for several seconds")
	}
	t.Cleanup(runCleanups)
	for _, backend := range []string{sqliteBackend, postgresBackend} {
		t.Run(backend, func(t *testing.T) {
			if backend == postgresBackend && postgresURL() == "" {
				testenv.Postgres(t) // skips, or fails in CI
			}
			t.Parallel()
			var out, log strings.Builder
			rep, err := soak(t.Context(), soakConfig{Backend: backend, Duration: 12 * time.Second, Sample: 200 * time.Millisecond,
				Rate: 400, Changes: 30, Checkers: 3, Accounts: 12, Grace: 2500 * time.Millisecond, ShortTTL: time.Second,
				Out: &out, Log: &log})
			if err != nil {
				t.Fatalf("%v\n%s", err, log.String())
			}
			rep.printTimeline(&out)
			t.Logf("%s", out.String())
			if n := rep.unexpected(); n > 0 {
				t.Errorf("%d unexpected answers:\n%s", n, strings.Join(rep.Failures, "\n"))
			}
			for k := range nSoakKinds {
				if rep.OK[k] == 0 {
					t.Errorf("never done: %s", soakKindNames[k])
				}
			}
			if len(rep.Samples) < 20 {
				t.Fatalf("%d samples in 12 s", len(rep.Samples))
			}
			last := rep.Samples[len(rep.Samples)-1]
			if last.RSS < 1<<20 || last.HeapInuse < 1<<20 || last.Goroutines < 2 || last.FDs < 3 || last.DBConns < 1 {
				t.Errorf("implausible sample: %+v", last)
			}
			if len(rep.Trends) != len(soakLimits) || len(rep.results()) < int(nSoakKinds) {
				t.Errorf("report: %d trends, %d rows", len(rep.Trends), len(rep.results()))
			}
		})
	}
}
