package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gatehouse/gatehouse/client"
	"github.com/gatehouse/gatehouse/internal/forwardauth"
)

// stubEnv, when set, makes this binary the baseline's auth server instead
// of the benchmark (see startStubProcess).
const stubEnv = "GATEHOUSE_BENCH_AUTH_STUB"

func init() {
	if os.Getenv(stubEnv) != "" {
		serveStub()
	}
	register(Suite{
		Name: "forward-auth",
		About: "nginx auth_request to gatehouse's forward-auth (process, SQLite and PostgreSQL, a binding to check) vs the same nginx " +
			"with auth_request to a Go handler that only answers 200; wrk, same duration, threads and connections",
		Run: runForwardAuth,
	})
}

// forwardAuthHTTP is the nginx configuration of both runs (the body of
// its http block); only the address and path of the auth subrequest
// differ. It is the README's configuration, with keep-alive to the protected service as well, so
// that what is measured is the auth subrequest, not connection setup.
const forwardAuthHTTP = `
    upstream auth { server %[2]s; keepalive 64; }
    upstream app  { server %[4]s; keepalive 64; }

    server {
        listen %[1]s;
        location / {
            auth_request /outpost/auth;
            auth_request_set $gatehouse_user   $upstream_http_x_gatehouse_user;
            auth_request_set $gatehouse_type   $upstream_http_x_gatehouse_type;
            auth_request_set $gatehouse_groups $upstream_http_x_gatehouse_groups;
            proxy_set_header X-Gatehouse-User   $gatehouse_user;
            proxy_set_header X-Gatehouse-Type   $gatehouse_type;
            proxy_set_header X-Gatehouse-Groups $gatehouse_groups;
            proxy_set_header Authorization "";
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://app;
        }
        location = /outpost/auth {
            internal;
            proxy_pass http://auth%[3]s;
            proxy_method GET;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }
    }`

// runForwardAuth measures on each backend (-backend; PostgreSQL when one
// is configured), each against the same baseline in its own rounds. A
// warm request reads no database, so the two should read alike.
func runForwardAuth(ctx context.Context) ([]Result, error) {
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		return nil, errors.New("forward-auth needs nginx (Debian: apt-get install nginx)")
	}
	if tool := loadTool(); tool != "wrk" {
		return nil, fmt.Errorf("forward-auth needs wrk as its load generator (Debian: apt-get install wrk), not %q", tool)
	}
	var all []Result
	for _, b := range backends("forward-auth") {
		rs, err := runForwardAuthOn(ctx, nginx, b)
		all = append(all, rs...)
		if err != nil {
			return all, fmt.Errorf("%s: %w", b, err)
		}
	}
	return all, nil
}

func runForwardAuthOn(ctx context.Context, nginx, backend string) ([]Result, error) {
	db, err := prepareDatabase(ctx, backend, "forward-auth")
	if err != nil {
		return nil, err
	}
	defer db.drop()
	env := db.Env
	gh, err := startServer(ctx, env)
	if err != nil {
		return nil, err
	}
	defer gh.Stop()

	// A CI job's service account, admitted through a group binding; a
	// negated binding ahead of it, so the decision walks two bindings.
	admin, closeAdmin := adminOf(gh.URL(), env)
	defer closeAdmin()
	sa, err := admin.ServiceAccounts.Create(ctx, client.ServiceAccountCreate{Username: "bench-ci", CreateGroup: true,
		TokenIntent: client.IntentAPI, TTL: "24h"})
	if err != nil {
		return nil, err
	}
	first, negate := -1, true
	steps := []func() error{
		func() error {
			_, err := admin.ServiceAccounts.Create(ctx, client.ServiceAccountCreate{Username: "bench-intern", TokenIntent: client.IntentNone})
			return err
		},
		func() error {
			_, err := admin.Applications.Create(ctx, client.ApplicationInput{Slug: "bench", Name: new("Benchmark")})
			return err
		},
		func() error {
			_, err := admin.Applications.Bind(ctx, "bench", client.SubjectUsers, "bench-intern", client.BindingInput{Order: &first, Negate: &negate})
			return err
		},
		func() error {
			_, err := admin.Applications.Bind(ctx, "bench", client.SubjectGroups, "bench-ci", client.BindingInput{})
			return err
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	auth := map[string]string{"Authorization": "Bearer " + sa.Token.Key}

	app, err := startPlainServer(http.StatusOK)
	if err != nil {
		return nil, err
	}
	defer app.Close()
	stub, err := startStubProcess(ctx)
	if err != nil {
		return nil, err
	}
	defer stub.stop()

	ghAddr := strings.TrimPrefix(gh.URL(), "http://")
	withGatehouse, err := startBenchNginx(ctx, nginx, "nginx-gatehouse", ghAddr, "/outpost/forward-auth/bench", app.Addr)
	if err != nil {
		return nil, err
	}
	defer withGatehouse.stop()
	withStub, err := startBenchNginx(ctx, nginx, "nginx-stub", stub.Addr, "/", app.Addr)
	if err != nil {
		return nil, err
	}
	defer withStub.stop()

	// Both answer 200 through nginx, and gatehouse says who: warm its
	// caches (credential, admission) on the way.
	for _, n := range []*benchNginx{withGatehouse, withStub} {
		if err := checkThrough(ctx, n.url, auth); err != nil {
			return nil, err
		}
	}
	if err := checkThrough(ctx, withGatehouse.url, nil); err == nil {
		return nil, errors.New("nginx with gatehouse admitted a request without a credential")
	}

	// Besides requests per second, the CPU time each auth server spends
	// per request: unlike a rate, it does not move when other work on the
	// machine takes cores away.
	var bestBase, bestGH loadResult
	var cpuBase, cpuGH, allBase, allGH []time.Duration
	var pairs []float64 // gatehouse/baseline of each round
	for round := range max(*roundsFlag, 1) {
		b, bcpu, ball, err := loadWithCPU(ctx, stub.cmd.Process.Pid, withStub.cmd.Process.Pid, withStub.url, auth)
		if err != nil {
			return nil, fmt.Errorf("baseline: %w", err)
		}
		if err := b.checkClean("nginx + stub auth"); err != nil {
			return nil, err
		}
		g, gcpu, gall, err := loadWithCPU(ctx, gh.PID(), withGatehouse.cmd.Process.Pid, withGatehouse.url, auth)
		if err != nil {
			return nil, fmt.Errorf("gatehouse: %w", err)
		}
		if err := g.checkClean("nginx + gatehouse forward-auth"); err != nil {
			return nil, err
		}
		fmt.Fprintf(os.Stderr, "  %s round %d: nginx + stub %s, %s CPU/request; nginx + gatehouse %s, %s CPU/request\n",
			backend, round+1, b, fmtDur(bcpu), g, fmtDur(gcpu))
		cpuBase, cpuGH = append(cpuBase, bcpu), append(cpuGH, gcpu)
		allBase, allGH = append(allBase, ball), append(allGH, gall)
		pairs = append(pairs, g.RPS/b.RPS)
		if b.RPS > bestBase.RPS {
			bestBase = b
		}
		if g.RPS > bestGH.RPS {
			bestGH = g
		}
	}
	ratio := bestGH.RPS / bestBase.RPS
	rs := []Result{{
		Suite:    "forward-auth",
		Metric:   fmt.Sprintf("%s: GET through nginx auth_request, %d conns, wrk", backend, *connsFlag),
		Value:    fmt.Sprintf("%.0f req/s", bestGH.RPS),
		Baseline: fmt.Sprintf("%.0f req/s (Go 200)", bestBase.RPS),
		Ratio:    fmtRatio(bestGH.RPS, bestBase.RPS),
		Goal:     fmt.Sprintf(">= %.2fx", forwardAuthGoal), Met: met(ratio >= forwardAuthGoal),
	}}
	if bestGH.P99 > 0 && bestBase.P99 > 0 {
		rs = append(rs, Result{
			Suite: "forward-auth", Metric: "  " + backend + ": latency p99 under that load",
			Value: fmtDur(bestGH.P99), Baseline: fmtDur(bestBase.P99), Ratio: durRatio(bestGH.P99, bestBase.P99),
		})
	}
	// The best runs count (other work on the machine only ever slows a
	// run down); the median of the rounds' own ratios shows how far noise
	// moved it.
	slices.Sort(pairs)
	rs = append(rs, Result{
		Suite: "forward-auth", Metric: "  " + backend + ": median of the rounds' ratios",
		Value: fmt.Sprintf("%.2fx over %d rounds", pairs[len(pairs)/2], len(pairs)),
	})
	g, b := percentile(cpuGH, 50), percentile(cpuBase, 50)
	rs = append(rs, Result{
		Suite: "forward-auth", Metric: "  " + backend + ": auth server CPU per request (median of rounds)",
		Value: fmtDur(g), Baseline: fmtDur(b) + " (Go 200)", Ratio: durRatio(g, b),
	})
	// On a machine whose cores the whole chain shares, throughput is
	// the inverse of the chain's CPU per request: this ratio is what the
	// requests per second come to without the noise of other work.
	g, b = percentile(allGH, 50), percentile(allBase, 50)
	rs = append(rs, Result{
		Suite: "forward-auth", Metric: "  " + backend + ": whole chain CPU per request: wrk, nginx, service, auth (median)",
		Value: fmtDur(g), Baseline: fmtDur(b) + " (Go 200)", Ratio: durRatio(g, b),
	})
	rs = append(rs, Result{
		Suite: "forward-auth", Metric: "  " + backend + ": requests per second that CPU allows",
		Value:    fmt.Sprintf("%.0f/s per core", float64(time.Second)/float64(g)),
		Baseline: fmt.Sprintf("%.0f/s per core", float64(time.Second)/float64(b)),
		Ratio:    fmtRatio(float64(b), float64(g)), Goal: fmt.Sprintf(">= %.2fx", forwardAuthGoal), Met: met(float64(b)/float64(g) >= forwardAuthGoal),
	})
	return rs, nil
}

// forwardAuthGoal is the share of the bare chain's rate that the chain
// through gatehouse must reach (issue 20).
const forwardAuthGoal = 0.95

// loadWithCPU runs one load and returns, with its result, the CPU time
// (user + system) spent per request meanwhile by the auth server
// (authPID) and by the whole chain: wrk (a child of this process, reaped
// when it ends), nginx (nginxPID and its workers), this process (the
// protected service) and the auth server.
func loadWithCPU(ctx context.Context, authPID, nginxPID int, url string, headers map[string]string) (loadResult, time.Duration, time.Duration, error) {
	chain := func() (auth, all time.Duration, err error) {
		if auth, err = processCPU(authPID); err != nil {
			return 0, 0, err
		}
		self, children, err := selfCPU()
		if err != nil {
			return 0, 0, err
		}
		ngx, err := treeCPU(nginxPID)
		if err != nil {
			return 0, 0, err
		}
		return auth, auth + self + children + ngx, nil
	}
	auth0, all0, err := chain()
	if err != nil {
		return loadResult{}, 0, 0, err
	}
	r, err := load(ctx, url, headers, *connsFlag, *durationFlag)
	if err != nil {
		return r, 0, 0, err
	}
	auth1, all1, err := chain()
	if err != nil {
		return r, 0, 0, err
	}
	n := time.Duration(max(r.Requests, 1))
	return r, (auth1 - auth0) / n, (all1 - all0) / n, nil
}

// selfCPU is this process's CPU time and that of its reaped children.
func selfCPU() (self, children time.Duration, err error) {
	f, err := statFields(os.Getpid())
	if err != nil {
		return 0, 0, err
	}
	return f[0] + f[1], f[2] + f[3], nil
}

// treeCPU is the CPU time of a process and of its direct children (nginx
// and its workers).
func treeCPU(pid int) (time.Duration, error) {
	total, err := processCPU(pid)
	if err != nil {
		return 0, err
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", child))
		if err != nil {
			continue // gone meanwhile
		}
		s := string(b)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) { // ppid
			if t, err := processCPU(child); err == nil {
				total += t
			}
		}
	}
	return total, nil
}

// processCPU reads utime + stime of a process from /proc/PID/stat.
func processCPU(pid int) (time.Duration, error) {
	f, err := statFields(pid)
	if err != nil {
		return 0, err
	}
	return f[0] + f[1], nil
}

// statFields reads utime, stime, cutime and cstime of a process from
// /proc/PID/stat (clock ticks of 10 ms, USER_HZ on Linux).
func statFields(pid int) ([4]time.Duration, error) {
	var out [4]time.Duration
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return out, err
	}
	// The command name is in parentheses and may hold spaces; counted
	// from after it, state is field 0 and utime..cstime are 11..14.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 15 {
		return out, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	for i := range out {
		n, err := strconv.ParseInt(fields[11+i], 10, 64)
		if err != nil {
			return out, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		out[i] = time.Duration(n) * 10 * time.Millisecond
	}
	return out, nil
}

// checkThrough sends one GET through nginx and wants a 200 (with the
// user header echoed, when the service is the plain server).
func checkThrough(ctx context.Context, url string, headers map[string]string) error {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return err
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	defer hc.CloseIdleConnections()
	res, err := hc.Do(req)
	if err != nil {
		return err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s through nginx: %d", url, res.StatusCode)
	}
	return nil
}

// stubProcess is the baseline's auth server: a Go handler that only
// answers 200, in a process of its own as gatehouse is, so that both runs
// pay for the same number of Go runtimes on the shared cores.
type stubProcess struct {
	Addr string
	cmd  *exec.Cmd
	done chan struct{}
}

func startStubProcess(ctx context.Context) (*stubProcess, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), stubEnv+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the stub auth server: %w", err)
	}
	p := &stubProcess{cmd: cmd, done: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		addr <- strings.TrimSpace(line)
		io.Copy(io.Discard, out)
		cmd.Wait()
		close(p.done)
	}()
	atExit(p.stop)
	select {
	case p.Addr = <-addr:
	case <-ctx.Done():
		p.stop()
		return nil, ctx.Err()
	case <-time.After(30 * time.Second):
		p.stop()
		return nil, errors.New("the stub auth server did not start")
	}
	if p.Addr == "" {
		p.stop()
		return nil, errors.New("the stub auth server exited")
	}
	return p, nil
}

func (p *stubProcess) stop() { stopCommand(p.cmd, p.done, os.Kill, time.Second) }

// serveStub is the stub process: it prints its address and answers 200
// to everything until killed.
func serveStub() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr().String())
	srv := statusServer(http.StatusOK)
	fmt.Fprintln(os.Stderr, srv.Serve(ln))
	os.Exit(1)
}

// statusServer answers every request with status and no body, with the
// same server timeouts as gatehouse.
func statusServer(status int) *http.Server {
	return plainHTTPServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(status) }))
}

// plainHTTPServer serves h with gatehouse's server settings (its
// timeouts: each costs deadlines set on every request).
func plainHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}

// plainServer is a statusServer in this process: forward-auth's
// protected service, and the baseline of the HTTP suite.
type plainServer struct {
	Addr string
	srv  *http.Server
}

func startPlainServer(status int) (*plainServer, error) {
	return startServing(statusServer(status))
}

// startReplayServer answers every request with the same status, header
// and body, as recorded from one of gatehouse's answers.
func startReplayServer(status int, header http.Header, body []byte) (*plainServer, error) {
	return startServing(plainHTTPServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		for k, v := range header {
			h[k] = v
		}
		w.WriteHeader(status)
		_, _ = w.Write(body)
	})))
}

func startServing(srv *http.Server) (*plainServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go srv.Serve(ln)
	return &plainServer{Addr: ln.Addr().String(), srv: srv}, nil
}

func (p *plainServer) Close() { p.srv.Close() }

type benchNginx struct {
	url  string
	cmd  *exec.Cmd
	done chan struct{}
}

// startBenchNginx runs nginx in a directory of its own under the run's
// temporary directory, listening on a free loopback port.
func startBenchNginx(ctx context.Context, bin, name, authAddr, authPath, appAddr string) (*benchNginx, error) {
	base, err := benchDir()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(base, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	listen, err := freeAddr()
	if err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(forwardauth.NginxConf(dir, "warn", 4096, fmt.Sprintf(forwardAuthHTTP, listen, authAddr, authPath, appAddr))), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", conf)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start nginx: %w", err)
	}
	n := &benchNginx{url: "http://" + listen + "/", cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(n.done) }()
	atExit(n.stop)
	deadline := time.Now().Add(15 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", listen, 200*time.Millisecond); err == nil {
			c.Close()
			return n, nil
		}
		select {
		case <-n.done:
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			return nil, fmt.Errorf("nginx exited:\n%s", log)
		case <-ctx.Done():
			n.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			n.stop()
			return nil, fmt.Errorf("nginx does not listen on %s", listen)
		}
	}
}

func (n *benchNginx) stop() { stopCommand(n.cmd, n.done, syscall.SIGQUIT, 10*time.Second) }
