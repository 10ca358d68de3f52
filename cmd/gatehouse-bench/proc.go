package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

var binaryFlag = flag.String("gatehouse", "", "gatehouse binary to benchmark (default: go build ./cmd/gatehouse into a temporary directory)")

// Cleanups registered by suites (temporary directories, PostgreSQL
// schemas, datasets shared between suites); main runs them at the end.
var (
	cleanupMu sync.Mutex
	cleanups  []func()
)

var keepFlag = flag.Bool("keep", false, "keep the temporary directory (SQLite files) and PostgreSQL schemas for inspection, and print where they are")

// atExit registers a cleanup; with -keep, nothing is cleaned up.
func atExit(f func()) {
	if *keepFlag {
		return
	}
	cleanupMu.Lock()
	defer cleanupMu.Unlock()
	cleanups = append(cleanups, f)
}

// runCleanups runs the registered cleanups, newest first.
func runCleanups() {
	cleanupMu.Lock()
	fs := cleanups
	cleanups = nil
	cleanupMu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
}

var (
	workDirOnce sync.Once
	workDir     string
	workDirErr  error
)

// benchDir is the run's temporary directory (binary, SQLite files),
// removed at exit.
func benchDir() (string, error) {
	workDirOnce.Do(func() {
		workDir, workDirErr = os.MkdirTemp("", "gatehouse-bench-")
		if workDirErr == nil {
			atExit(func() { os.RemoveAll(workDir) })
			if *keepFlag {
				fmt.Fprintf(os.Stderr, "  -keep: files stay in %s\n", workDir)
			}
		}
	})
	return workDir, workDirErr
}

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// gatehouseBinary builds the real server binary once per run (or uses
// -gatehouse), so every figure is a real process listening on TCP.
func gatehouseBinary(ctx context.Context) (string, error) {
	if *binaryFlag != "" {
		return filepath.Abs(*binaryFlag)
	}
	buildOnce.Do(func() {
		dir, err := benchDir()
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "gatehouse")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", buildPath, "github.com/gatehouse/gatehouse/cmd/gatehouse")
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/gatehouse (run gatehouse-bench from the repository): %w", err)
		}
	})
	return buildPath, buildErr
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// serverEnv is how a benchmark starts gatehouse: the database, the key of
// the token hashes, the bootstrap admin token. Nothing is inherited from
// the caller's GATEHOUSE_* environment.
type serverEnv struct {
	Database   string
	SecretKey  string
	AdminToken string
	Extra      []string // more NAME=value pairs
	Args       []string // more flags of serve, after (and so overriding) the defaults
}

// newServerEnv is the environment of a new server on database, with a
// secret key and a bootstrap admin token of its own.
func newServerEnv(database string) serverEnv {
	return serverEnv{Database: database, SecretKey: randomHex(32), AdminToken: "bench-admin-" + randomHex(24)}
}

// proc is a running `gatehouse serve`.
type proc struct {
	cmd     *exec.Cmd
	Addr    string // host:port it listens on
	LDAP    string // the LDAP door's host:port, when it has one
	Started time.Time
	Ready   time.Duration // from exec to the first /readyz 200
	done    chan struct{}
	waitErr error

	mu   sync.Mutex
	tail []string // last log lines, for error reports
}

// startServer runs `gatehouse serve` on an ephemeral port and waits until
// /readyz answers 200. Ready is the time from starting the process to that
// answer.
func startServer(ctx context.Context, env serverEnv) (*proc, error) {
	bin, err := gatehouseBinary(ctx)
	if err != nil {
		return nil, err
	}
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--ldap-listen=", "--log-format", "json", "--log-level", "info"}, env.Args...)
	cmd := exec.Command(bin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GATEHOUSE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env,
		"GATEHOUSE_DATABASE="+env.Database,
		"GATEHOUSE_SECRET_KEY="+env.SecretKey,
		"GATEHOUSE_BOOTSTRAP_TOKEN="+env.AdminToken,
	)
	cmd.Env = append(cmd.Env, env.Extra...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout = io.Discard
	p := &proc{cmd: cmd, done: make(chan struct{})}
	addr := make(chan string, 1)
	p.Started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start gatehouse: %w", err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.tail = append(p.tail, line)
			if len(p.tail) > 40 {
				p.tail = p.tail[len(p.tail)-40:]
			}
			p.mu.Unlock()
			switch door, a := listenAddr(line); door {
			case "ldap":
				p.LDAP = a // read once addr is received: the send orders it
			case "http":
				select {
				case addr <- a:
				default:
				}
			}
		}
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	select {
	case p.Addr = <-addr:
	case <-p.done:
		return nil, fmt.Errorf("gatehouse exited before serving (%v):\n%s", p.waitErr, p.logTail())
	case <-ctx.Done():
		p.Stop()
		return nil, ctx.Err()
	case <-time.After(5 * time.Minute):
		p.Stop()
		return nil, fmt.Errorf("gatehouse did not start serving within 5 minutes:\n%s", p.logTail())
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	for {
		resp, err := hc.Get("http://" + p.Addr + "/readyz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				p.Ready = time.Since(p.Started)
				hc.CloseIdleConnections()
				return p, nil
			}
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("gatehouse exited before ready (%v):\n%s", p.waitErr, p.logTail())
		case <-ctx.Done():
			p.Stop()
			return nil, ctx.Err()
		case <-time.After(time.Millisecond):
		}
		if time.Since(p.Started) > 5*time.Minute {
			p.Stop()
			return nil, fmt.Errorf("gatehouse not ready within 5 minutes:\n%s", p.logTail())
		}
	}
}

// listenAddr picks a door and its address out of the JSON log lines
// "LDAP door is serving" (plain LDAP: "ldap") and "gatehouse is serving"
// ("http"), which comes after every LDAP door's. Servers listen on port 0
// and are found this way.
func listenAddr(line string) (door, addr string) {
	var l struct {
		Msg    string `json:"msg"`
		Listen string `json:"listen"`
		LDAPS  bool   `json:"ldaps"`
	}
	if json.Unmarshal([]byte(line), &l) != nil || l.Listen == "" {
		return "", ""
	}
	switch {
	case l.Msg == "gatehouse is serving":
		return "http", l.Listen
	case l.Msg == "LDAP door is serving" && !l.LDAPS:
		return "ldap", l.Listen
	}
	return "", ""
}

// URL is the server's base URL.
func (p *proc) URL() string { return "http://" + p.Addr }

// LDAPAddr is the LDAP door's address.
func (p *proc) LDAPAddr() string { return p.LDAP }

// PID is the server's process id.
func (p *proc) PID() int { return p.cmd.Process.Pid }

func (p *proc) logTail() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.tail, "\n")
}

// Stop asks the server to stop (SIGTERM, as an orchestrator would) and
// waits; a server that does not stop within 30 s is killed.
func (p *proc) Stop() { stopCommand(p.cmd, p.done, syscall.SIGTERM, 30*time.Second) }

// stopCommand asks a started command to stop with sig and waits until
// done, which closes when it has exited; one still running after grace
// is killed. A command already gone is left alone.
func stopCommand(cmd *exec.Cmd, done <-chan struct{}, sig os.Signal, grace time.Duration) {
	select {
	case <-done:
		return
	default:
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-done
	}
}

// memory is a process's resident memory, from /proc/PID/status.
type memory struct {
	RSS uint64 // VmRSS, bytes
	HWM uint64 // VmHWM (peak resident), bytes
}

func readMemory(pid int) (memory, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memory{}, err
	}
	defer f.Close()
	return parseProcStatus(f)
}

// parseProcStatus reads VmRSS and VmHWM ("VmRSS:   123456 kB") from the
// text of /proc/PID/status.
func parseProcStatus(r io.Reader) (memory, error) {
	var m memory
	found := 0
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return memory{}, fmt.Errorf("unexpected %s line %q", name, sc.Text())
		}
		kb, err := strconv.ParseUint(fields[0], 10, 64)
		if err != nil {
			return memory{}, fmt.Errorf("bad %s value %q", name, fields[0])
		}
		if name == "VmRSS" {
			m.RSS = kb << 10
		} else {
			m.HWM = kb << 10
		}
		found++
	}
	if err := sc.Err(); err != nil {
		return memory{}, err
	}
	if m.RSS == 0 {
		return memory{}, errors.New("no VmRSS line (not Linux, or a kernel thread)")
	}
	return m, nil
}

// loadAverage is the 1-minute load average, or "?" where /proc has none.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "?"
}
