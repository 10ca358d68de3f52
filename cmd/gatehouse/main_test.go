package main_test

// End-to-end tests of the real binary: the README tour's steps with the
// CLI and curl on every backend (readme_test.go runs the tour's text
// itself), graceful shutdown on SIGTERM, and no acknowledged write lost on
// SIGKILL, on SQLite and on PostgreSQL.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/testenv"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gatehouse-e2e")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "gatehouse")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build gatehouse:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const adminToken = "e2e-bootstrap-token-0123456789abcdefghij"

var keyRegexp = regexp.MustCompile(`^ga[tp]_[0-9A-Za-z]{40}$`)

// backend is where a server under test keeps its data.
type backend struct {
	name string
	env  []string // GATEHOUSE_DATABASE and friends
	// scan returns every stored byte that could hold a secret.
	scan func(t *testing.T) []byte
}

func backends(t *testing.T) []backend {
	dir := t.TempDir()
	db := filepath.Join(dir, "gatehouse.db")
	sqlite := backend{name: "sqlite", env: []string{"GATEHOUSE_DATABASE=sqlite:" + db},
		scan: func(t *testing.T) []byte {
			var all []byte
			for _, f := range []string{db, db + "-wal", db + "-shm"} {
				b, _ := os.ReadFile(f)
				all = append(all, b...)
			}
			return all
		}}
	out := []backend{sqlite}
	if os.Getenv("GATEHOUSE_TEST_POSTGRES") == "" && !testenv.RequireAll() {
		return out
	}
	dsn := testenv.Postgres(t)
	schema := pgSchema(t, dsn)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	out = append(out, backend{name: "postgres",
		env: []string{"GATEHOUSE_DATABASE=" + u.String(), "GATEHOUSE_SECRET_KEY=e2e-secret-key-0123456789abcdefghijkl"},
		scan: func(t *testing.T) []byte {
			conn, err := pgx.Connect(context.Background(), u.String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(context.Background())
			var buf bytes.Buffer
			for _, table := range []string{"users", "tokens", "token_keys", "events", "settings"} {
				rows, err := conn.Query(context.Background(), "SELECT t::text FROM "+table+" t")
				if err != nil {
					t.Fatal(err)
				}
				for rows.Next() {
					var s string
					_ = rows.Scan(&s)
					buf.WriteString(s)
				}
				rows.Close()
			}
			return buf.Bytes()
		}})
	return out
}

func pgSchema(t *testing.T, dsn string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "gh_e2e_" + hex.EncodeToString(b[:])
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatalf("connect postgres: %v", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), dsn)
		if err == nil {
			_, _ = c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
			c.Close(context.Background())
		}
	})
	return schema
}

// proc is a running gatehouse process: a server or an outpost.
type proc struct {
	cmd    *exec.Cmd
	url    string          // a server's base URL
	stderr *testenv.Buffer // what it logged
	exited chan struct{}   // closed once it has exited; err is then its status
	err    error
}

// launch starts cmd with its standard error kept (and its standard output
// too, with both) and kills it when the test ends. Cleanup can never hang
// on a process that has already exited: exited is closed, not sent on.
func launch(t *testing.T, cmd *exec.Cmd, both bool) *proc {
	t.Helper()
	p := &proc{cmd: cmd, stderr: &testenv.Buffer{}, exited: make(chan struct{})}
	cmd.Stderr = p.stderr
	if both {
		cmd.Stdout = p.stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.exited
	})
	return p
}

// logAttr matches one key=value of the text log format.
var logAttr = regexp.MustCompile(`(\w+)=("(?:[^"\\]|\\.)*"|\S+)`)

// listening waits until the process (which logs in the text format) has
// logged msg with every attribute
// of match (key, value, key, value...) and returns that line's listen
// address. Every listener is opened on port 0 and found this way: a port
// picked beforehand and closed can be taken by another process, such as a
// parallel test package's outgoing connection, before the server binds it.
func (p *proc) listening(t *testing.T, msg string, match ...string) string {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; {
		for _, line := range strings.Split(p.stderr.String(), "\n") {
			if !strings.Contains(line, "msg="+strconv.Quote(msg)) {
				continue
			}
			attrs := map[string]string{}
			for _, m := range logAttr.FindAllStringSubmatch(line, -1) {
				v := m[2]
				if u, err := strconv.Unquote(v); err == nil {
					v = u
				}
				attrs[m[1]] = v
			}
			ok := true
			for i := 0; i+1 < len(match); i += 2 {
				ok = ok && attrs[match[i]] == match[i+1]
			}
			if ok && attrs["listen"] != "" {
				return attrs["listen"]
			}
		}
		select {
		case <-p.exited:
			t.Fatalf("%s exited before %q: %v\n%s", p.cmd.Args[1], msg, p.err, p.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not log %q:\n%s", p.cmd.Args[1], msg, p.stderr.String())
		}
	}
}

// ldapDoor is the address of the server's LDAP (or LDAPS) door.
func (p *proc) ldapDoor(t *testing.T, ldaps bool) string {
	t.Helper()
	return p.listening(t, "LDAP door is serving", "ldaps", strconv.FormatBool(ldaps))
}

// waitReady polls /readyz with client until it answers 200.
func (p *proc) waitReady(t *testing.T, client *http.Client) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; {
		if res, err := client.Get(p.url + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		select {
		case <-p.exited:
			t.Fatalf("server exited: %v\n%s", p.err, p.stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not ready:\n%s", p.stderr.String())
		}
	}
}

// serve starts `gatehouse serve` on be, listening on ports of its own
// choosing, and waits until it is ready. Standard output is kept with
// standard error when both is set.
func serve(t *testing.T, be backend, both bool, extra ...string) *proc {
	t.Helper()
	cmd := exec.Command(binary, "serve")
	cmd.Env = append(os.Environ(), "GATEHOUSE_LISTEN=127.0.0.1:0", "GATEHOUSE_LOG_FORMAT=text", "GATEHOUSE_BOOTSTRAP_TOKEN="+adminToken,
		"GATEHOUSE_BOOTSTRAP_PASSWORD=e2e-admin-password")
	cmd.Env = append(cmd.Env, be.env...)
	cmd.Env = append(cmd.Env, extra...)
	p := launch(t, cmd, both)
	p.url = "http://" + p.listening(t, "gatehouse is serving")
	p.waitReady(t, &http.Client{Timeout: 5 * time.Second})
	return p
}

func startServer(t *testing.T, be backend, extra ...string) *proc {
	t.Helper()
	return serve(t, be, false, extra...)
}

// stopGracefully sends SIGTERM and waits for a clean exit.
func stopGracefully(t *testing.T, p *proc) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
		if p.err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", p.err, p.stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
	if !strings.Contains(p.stderr.String(), "stopped cleanly") {
		t.Fatalf("no clean stop:\n%s", p.stderr.String())
	}
}

// cli runs the client and returns stdout, stderr and the exit code.
func cli(t *testing.T, p *proc, token string, args ...string) (string, string, int) {
	t.Helper()
	full := append([]string{"--server", p.url}, args...)
	if token != "" {
		full = append([]string{"--api-token", token}, full...)
	}
	cmd := command(t, binary, full...)
	cmd.Env = os.Environ()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func mustCLI(t *testing.T, p *proc, token string, args ...string) string {
	t.Helper()
	out, errs, code := cli(t, p, token, args...)
	if code != 0 {
		t.Fatalf("gatehouse %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// curl asks with the real curl and returns the HTTP status.
func curl(t *testing.T, p *proc, token, path string) int {
	t.Helper()
	bin := testenv.Binary(t, "curl")
	out, err := command(t, bin, "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Authorization: Bearer "+token, p.url+path).Output()
	if err != nil {
		t.Fatalf("curl: %v", err)
	}
	var code int
	fmt.Sscanf(string(out), "%d", &code)
	return code
}

// TestCLITourOnEveryBackend takes the README tour's steps one by one, on
// SQLite and PostgreSQL, and then looks for every key at rest and in the
// logs.
func TestCLITourOnEveryBackend(t *testing.T) {
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			streamFile := filepath.Join(t.TempDir(), "events.jsonl")
			p := startServer(t, be, "GATEHOUSE_EVENT_STREAM="+streamFile)
			if !strings.Contains(mustCLI(t, p, adminToken, "whoami"), "admin") {
				t.Fatal("whoami does not name admin")
			}
			mustCLI(t, p, adminToken, "role", "create", "user-reader", "--permission", "users.read")
			key := strings.TrimSpace(mustCLI(t, p, adminToken, "sa", "create", "ci-deploy", "--create-group", "--token-intent", "api", "--ttl", "720h"))
			if !keyRegexp.MatchString(key) {
				t.Fatalf("sa create printed %q, not a key alone", key)
			}
			if c := curl(t, p, key, "/api/v1/me"); c != 200 {
				t.Fatalf("me with the new key: %d", c)
			}
			if !strings.Contains(mustCLI(t, p, adminToken, "group", "get", "ci-deploy"), "ci-deploy") {
				t.Fatal("group does not hold the account")
			}
			if c := curl(t, p, key, "/api/v1/users"); c != 403 {
				t.Fatalf("users before the role: %d", c)
			}
			mustCLI(t, p, adminToken, "role", "assign", "user-reader", "--group", "ci-deploy")
			if c := curl(t, p, key, "/api/v1/users"); c != 200 {
				t.Fatalf("users with the role: %d", c)
			}
			mustCLI(t, p, adminToken, "role", "unassign", "user-reader", "--group", "ci-deploy")
			if c := curl(t, p, key, "/api/v1/users"); c != 403 {
				t.Fatalf("users after the role was taken: %d", c)
			}
			// The CLI with the account's own token: refused by the server (1).
			if _, errs, code := cli(t, p, key, "user", "list"); code != 1 || !strings.Contains(errs, "403") {
				t.Fatalf("user list as the bot: exit %d, %s", code, errs)
			}
			// Usage errors: 2.
			if _, _, code := cli(t, p, adminToken, "sa", "create"); code != 2 {
				t.Fatalf("missing argument: exit %d", code)
			}

			// Rotate with a grace: both keys work; revoke: the new one dies.
			var toks []map[string]any
			if err := json.Unmarshal([]byte(mustCLI(t, p, adminToken, "-o", "json", "token", "list", "--user", "ci-deploy")), &toks); err != nil || len(toks) != 1 {
				t.Fatalf("token list: %v %v", toks, err)
			}
			id := toks[0]["identifier"].(string)
			fresh := strings.TrimSpace(mustCLI(t, p, adminToken, "token", "rotate", id, "--grace", "1h"))
			if !keyRegexp.MatchString(fresh) || fresh == key {
				t.Fatalf("rotate printed %q", fresh)
			}
			if curl(t, p, key, "/api/v1/me") != 200 || curl(t, p, fresh, "/api/v1/me") != 200 {
				t.Fatal("a key stopped working during the grace")
			}
			mustCLI(t, p, adminToken, "token", "rotate", id, "--grace", "0s")
			if c := curl(t, p, fresh, "/api/v1/me"); c != 401 {
				t.Fatalf("rotated key without grace: %d", c)
			}
			appKey := strings.TrimSpace(mustCLI(t, p, adminToken, "token", "create", "--user", "ci-deploy", "--intent", "app_password", "--no-expiry"))
			if !strings.HasPrefix(appKey, "gap_") || curl(t, p, appKey, "/api/v1/me") != 401 {
				t.Fatal("an app password works on the API")
			}
			mustCLI(t, p, adminToken, "token", "revoke", id)
			if !strings.Contains(mustCLI(t, p, adminToken, "events", "list", "--action", "token_revoked"), id) {
				t.Fatal("no token_revoked event")
			}
			// The audit chain verifies; the stream has every event.
			verified := mustCLI(t, p, adminToken, "events", "verify")
			if !strings.HasPrefix(verified, "intact: ") {
				t.Fatalf("events verify: %q", verified)
			}

			// Graceful stop, then no key or password anywhere at rest or in the logs.
			stopGracefully(t, p)
			streamed, err := os.ReadFile(streamFile)
			if err != nil || !bytes.Contains(streamed, []byte(`"action":"token_revoked"`)) {
				t.Fatalf("event stream after a clean stop (%v):\n%s", err, streamed)
			}
			stored := be.scan(t)
			if len(stored) == 0 {
				t.Fatal("nothing scanned")
			}
			for _, secret := range []string{key, fresh, appKey, adminToken, "e2e-admin-password"} {
				if bytes.Contains(stored, []byte(secret)) || strings.Contains(p.stderr.String(), secret) || bytes.Contains(streamed, []byte(secret)) {
					t.Errorf("secret %s… found at rest or in logs", secret[:8])
				}
			}
		})
	}
}

// TestSIGKILLLosesNoAcknowledgedWrite kills the server in the middle of a
// stream of writes; every write it acknowledged is there after restart.
func TestSIGKILLLosesNoAcknowledgedWrite(t *testing.T) {
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			p := startServer(t, be)
			var acked []string
			client := &http.Client{Timeout: 5 * time.Second}
			// Write until the server is gone: SIGKILL comes 200 ms after
			// the 21st acknowledged write, while writes are in flight.
			killed := false
			for i, deadline := 0, time.Now().Add(time.Minute); ; i++ {
				if time.Now().After(deadline) {
					t.Fatalf("the server still answers a minute on, %d writes acknowledged", len(acked))
				}
				name := fmt.Sprintf("g-%04d", i)
				req, _ := http.NewRequest("POST", p.url+"/api/v1/groups", strings.NewReader(`{"name":"`+name+`"}`))
				req.Header.Set("Authorization", "Bearer "+adminToken)
				res, err := client.Do(req)
				if err != nil {
					if killed {
						break // killed mid-request: not acknowledged
					}
					t.Fatal(err)
				}
				res.Body.Close()
				if res.StatusCode != 201 {
					t.Fatalf("create %s: %d", name, res.StatusCode)
				}
				acked = append(acked, name)
				if i == 20 {
					killed = true
					time.AfterFunc(200*time.Millisecond, func() { _ = p.cmd.Process.Signal(syscall.SIGKILL) })
				}
			}
			select {
			case <-p.exited:
			case <-time.After(15 * time.Second):
				t.Fatal("the server has not exited 15 s after SIGKILL")
			}
			if len(acked) < 20 {
				t.Fatalf("only %d writes before the kill", len(acked))
			}
			q := startServer(t, be)
			var page struct {
				Items []struct {
					Name string `json:"name"`
				} `json:"items"`
			}
			req, _ := http.NewRequest("GET", q.url+"/api/v1/groups?page_size=500", nil)
			req.Header.Set("Authorization", "Bearer "+adminToken)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if err := json.NewDecoder(res.Body).Decode(&page); err != nil {
				t.Fatal(err)
			}
			have := map[string]bool{}
			for _, g := range page.Items {
				have[g.Name] = true
			}
			for _, name := range acked {
				if !have[name] {
					t.Errorf("acknowledged group %s lost", name)
				}
			}
			t.Logf("%d acknowledged writes, all present after SIGKILL", len(acked))
		})
	}
}

// command is exec.Command for a program that must end by itself (a
// client, or a server expected to refuse its configuration). It is killed
// after two minutes, so that one that hangs fails its test instead of
// holding the package until go test's timeout.
func command(t *testing.T, name string, args ...string) *exec.Cmd {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.WaitDelay = 10 * time.Second
	return cmd
}
