package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"time"
)

var startsFlag = flag.Int("starts", 5, "startup suite: starts timed per database (the median counts)")

func init() {
	register(Suite{
		Name: "startup",
		About: "time from process start to /readyz 200 on an empty and on a loaded (1,000,000-token) database, " +
			"SQLite and PostgreSQL, against the time the binary takes to print --help",
		Run: runStartup,
	})
}

func runStartup(ctx context.Context) ([]Result, error) {
	bin, err := gatehouseBinary(ctx)
	if err != nil {
		return nil, err
	}
	// Baseline: the cost of starting the process at all (loading a 30 MB
	// binary, the Go runtime, cobra), with no database and no listener.
	var help []time.Duration
	for range 11 {
		t0 := time.Now()
		if out, err := exec.CommandContext(ctx, bin, "--help").CombinedOutput(); err != nil {
			return nil, fmt.Errorf("gatehouse --help: %v\n%s", err, out)
		}
		help = append(help, time.Since(t0))
	}
	helpMed := percentile(help, 50)
	fmt.Fprintf(os.Stderr, "  gatehouse --help: %s\n", summarize(help))

	var rs []Result
	for _, backend := range backends("startup") {
		empty, first, err := newDatabase(ctx, backend, "startup-empty")
		if err != nil {
			return nil, err
		}
		emptyMed, err := timeStarts(ctx, empty.Env)
		empty.drop()
		if err != nil {
			return nil, err
		}
		d, err := loadedDataset(ctx, backend)
		if err != nil {
			return nil, err
		}
		loadedMed, err := timeStarts(ctx, d.Env)
		if err != nil {
			return nil, err
		}
		rs = append(rs,
			Result{Suite: "startup", Metric: backend + ": first start, new database (migrations, admin)",
				Value: fmtDur(first), Baseline: fmtDur(helpMed) + " (--help)", Ratio: durRatio(first, helpMed)},
			Result{Suite: "startup", Metric: backend + ": start to /readyz, empty database",
				Value: fmtDur(emptyMed), Baseline: fmtDur(helpMed) + " (--help)", Ratio: durRatio(emptyMed, helpMed),
				Goal: "< 1s", Met: met(emptyMed < time.Second)},
			Result{Suite: "startup", Metric: fmt.Sprintf("%s: start to /readyz, %s tokens", backend, fmtCount(d.Tokens)),
				Value: fmtDur(loadedMed), Baseline: fmtDur(helpMed) + " (--help)", Ratio: durRatio(loadedMed, helpMed),
				Goal: "< 1s", Met: met(loadedMed < time.Second)},
		)
	}
	return rs, nil
}

// timeStarts starts and stops gatehouse -starts times on a database and
// returns the median time from exec to the first /readyz 200.
func timeStarts(ctx context.Context, env serverEnv) (time.Duration, error) {
	var ds []time.Duration
	for range max(*startsFlag, 1) {
		p, err := startServer(ctx, env)
		if err != nil {
			return 0, err
		}
		ds = append(ds, p.Ready)
		p.Stop()
	}
	return percentile(ds, 50), nil
}
