package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

var loadgenFlag = flag.String("loadgen", "auto", "load generator of the http suite: wrk, go, or auto (wrk when installed)")

// loadResult is what a load generator reports for one run.
type loadResult struct {
	Tool     string
	Requests int64
	RPS      float64
	P99      time.Duration // 0 when the tool did not report it
	Non2xx   int64         // answers outside 2xx/3xx
	Errors   int64         // connect, read, write errors and timeouts
}

// load drives GET url with conns keep-alive connections for d, sending
// headers, with wrk when present (it costs the shared CPU less than a Go
// client does), otherwise with the Go generator. Both sides of a
// comparison must use the same tool: the tool is chosen once per run.
func load(ctx context.Context, url string, headers map[string]string, conns int, d time.Duration) (loadResult, error) {
	switch tool := loadTool(); tool {
	case "wrk":
		return wrkLoad(ctx, url, headers, conns, d)
	case "go":
		return goLoad(ctx, url, headers, conns, d)
	default:
		return loadResult{}, fmt.Errorf("unknown -loadgen %q (wrk, go or auto)", tool)
	}
}

func loadTool() string {
	if *loadgenFlag != "auto" {
		return *loadgenFlag
	}
	if _, err := exec.LookPath("wrk"); err == nil {
		return "wrk"
	}
	return "go"
}

func wrkLoad(ctx context.Context, url string, headers map[string]string, conns int, d time.Duration) (loadResult, error) {
	secs := max(int(d.Round(time.Second)/time.Second), 1)
	// Two threads: one per core of the machines this runs on; more only
	// take CPU from the server under test.
	args := []string{"-t2", "-c" + strconv.Itoa(conns), "-d" + strconv.Itoa(secs) + "s", "--latency", "--timeout", "5s"}
	for k, v := range headers {
		args = append(args, "-H", k+": "+v)
	}
	args = append(args, url)
	out, err := exec.CommandContext(ctx, "wrk", args...).CombinedOutput()
	if err != nil {
		return loadResult{}, fmt.Errorf("wrk: %w\n%s", err, out)
	}
	return parseWrk(string(out))
}

var (
	wrkRPS     = regexp.MustCompile(`(?m)^Requests/sec:\s+([0-9.]+)`)
	wrkTotal   = regexp.MustCompile(`(?m)^\s*(\d+) requests in`)
	wrkNon2xx  = regexp.MustCompile(`(?m)^\s*Non-2xx or 3xx responses:\s+(\d+)`)
	wrkSockets = regexp.MustCompile(`(?m)^\s*Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	wrkP99     = regexp.MustCompile(`(?m)^\s*99%\s+([0-9.]+)(us|ms|s)\s*$`)
)

// parseWrk reads wrk's report (run with --latency).
func parseWrk(out string) (loadResult, error) {
	r := loadResult{Tool: "wrk"}
	m := wrkRPS.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("wrk printed no Requests/sec:\n%s", out)
	}
	r.RPS, _ = strconv.ParseFloat(m[1], 64)
	if m := wrkTotal.FindStringSubmatch(out); m != nil {
		r.Requests, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if m := wrkNon2xx.FindStringSubmatch(out); m != nil {
		r.Non2xx, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if m := wrkSockets.FindStringSubmatch(out); m != nil {
		for _, s := range m[1:] {
			n, _ := strconv.ParseInt(s, 10, 64)
			r.Errors += n
		}
	}
	if m := wrkP99.FindStringSubmatch(out); m != nil {
		v, _ := strconv.ParseFloat(m[1], 64)
		unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[m[2]]
		r.P99 = time.Duration(v * float64(unit))
	}
	return r, nil
}

// goLoad is the fallback generator: conns goroutines, each with its own
// keep-alive connection, sending requests back to back for d.
func goLoad(ctx context.Context, url string, headers map[string]string, conns int, d time.Duration) (loadResult, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var total, non2xx, errs atomic.Int64
	lat := make([][]time.Duration, conns)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				for k, v := range headers {
					req.Header.Set(k, v)
				}
				t0 := time.Now()
				resp, err := hc.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						errs.Add(1)
					}
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lat[i] = append(lat[i], time.Since(t0))
				total.Add(1)
				if resp.StatusCode >= 400 {
					non2xx.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	r := loadResult{Tool: "go", Requests: total.Load(), Non2xx: non2xx.Load(), Errors: errs.Load(),
		RPS: float64(total.Load()) / elapsed.Seconds(), P99: percentile(all, 99)}
	if r.Requests == 0 {
		return r, errors.New("no request completed")
	}
	return r, nil
}

// checkClean refuses a run with refused or failed requests: a 401 is
// cheaper than a real answer and would flatter the figure.
func (r loadResult) checkClean(what string) error {
	if r.Non2xx > 0 || r.Errors > 0 {
		return fmt.Errorf("%s: %d of %d answers were not 2xx and %d requests failed; the figure would not measure what it says",
			what, r.Non2xx, r.Requests, r.Errors)
	}
	return nil
}

func (r loadResult) String() string {
	s := fmt.Sprintf("%.0f req/s (%s requests, %s", r.RPS, fmtCount(int(r.Requests)), r.Tool)
	if r.P99 > 0 {
		s += ", p99 " + fmtDur(r.P99)
	}
	return strings.TrimSpace(s) + ")"
}
