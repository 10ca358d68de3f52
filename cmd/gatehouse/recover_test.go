package main_test

// Bootstrap that cannot trap (issue 21): the warning when bootstrap
// variables meet a database with users, and gatehouse recover, with the
// real binary.

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// run runs the binary with env (added to this process's) and returns
// stdout, stderr and the exit code.
func run(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := command(t, binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	code := exitCode(t, cmd.Run())
	return out.String(), errb.String(), code
}

// exitCode is the exit code of a command that ran with err; any other
// failure to run it fails the test.
func exitCode(t *testing.T, err error) int {
	t.Helper()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0
}

// status asks path with a Bearer key and returns the status and detail.
func status(t *testing.T, p *proc, key, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", p.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var prob struct{ Detail string }
	_ = json.NewDecoder(res.Body).Decode(&prob)
	return res.StatusCode, prob.Detail
}

// TestBootstrapVariablesIgnoredAreSaid: a server started on a database
// with users, with bootstrap variables that do not work there, says so
// on standard error and in the log, and names gatehouse recover; the same
// variables that still work get one quiet log line.
func TestBootstrapVariablesIgnoredAreSaid(t *testing.T) {
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			p := startServer(t, be) // creates admin with adminToken
			if strings.Contains(p.stderr.String(), "IGNORED") {
				t.Fatalf("first start warns:\n%s", p.stderr.String())
			}
			stopGracefully(t, p)

			q := startServer(t, be) // the same variables: they still work
			if s := q.stderr.String(); strings.Contains(s, "IGNORED") || !strings.Contains(s, "bootstrap variables ignored") {
				t.Fatalf("restart with working variables:\n%s", s)
			}
			stopGracefully(t, q)

			const other = "another-bootstrap-token-0123456789abcdefgh"
			r := startServer(t, be, "GATEHOUSE_BOOTSTRAP_TOKEN="+other, "GATEHOUSE_BOOTSTRAP_PASSWORD=another-password")
			s := r.stderr.String()
			for _, want := range []string{
				"gatehouse IGNORED GATEHOUSE_BOOTSTRAP_TOKEN and GATEHOUSE_BOOTSTRAP_PASSWORD",
				"this database has 1 user already",
				"GATEHOUSE_BOOTSTRAP_TOKEN is not a working API token of this database",
				`GATEHOUSE_BOOTSTRAP_PASSWORD is not the password of an active user "admin"`,
				"gatehouse recover",
				`level=WARN msg="bootstrap variables ignored`,
			} {
				if !strings.Contains(s, want) {
					t.Errorf("stderr lacks %q:\n%s", want, s)
				}
			}
			if strings.Contains(s, other) || strings.Contains(s, "another-password") {
				t.Error("the warning shows a secret")
			}
			if c, _ := status(t, r, other, "/api/v1/me"); c != 401 {
				t.Fatalf("ignored token: %d", c)
			}
		})
	}
}

// TestBootstrapGeneratesWhatIsMissing: a token alone gets a generated
// password (printed, and it signs in), and a password alone a generated
// token.
func TestBootstrapGeneratesWhatIsMissing(t *testing.T) {
	for name, env := range map[string][]string{
		"token only":    {"GATEHOUSE_BOOTSTRAP_TOKEN=" + adminToken, "GATEHOUSE_BOOTSTRAP_PASSWORD="},
		"password only": {"GATEHOUSE_BOOTSTRAP_TOKEN=", "GATEHOUSE_BOOTSTRAP_PASSWORD=e2e-admin-password"},
	} {
		t.Run(name, func(t *testing.T) {
			be := backend{name: "sqlite", env: []string{"GATEHOUSE_DATABASE=sqlite:" + filepath.Join(t.TempDir(), "g.db")}}
			p := startServer(t, be, env...)
			s := p.stderr.String()
			fields := map[string]string{}
			for _, line := range strings.Split(s, "\n") {
				if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
					fields[k] = strings.TrimSpace(v)
				}
			}
			password, token := fields["password"], fields["API token"]
			if name == "token only" {
				if token != "(the one in GATEHOUSE_BOOTSTRAP_TOKEN)" || len(password) < 20 {
					t.Fatalf("box:\n%s", s)
				}
				token = adminToken
			} else {
				if password != "(the one in GATEHOUSE_BOOTSTRAP_PASSWORD)" || !keyRegexp.MatchString(token) {
					t.Fatalf("box:\n%s", s)
				}
				password = "e2e-admin-password"
			}
			if c, _ := status(t, p, token, "/api/v1/me"); c != 200 {
				t.Fatalf("token: %d", c)
			}
			req, _ := http.NewRequest("GET", p.url+"/api/v1/me", nil)
			req.SetBasicAuth("admin", password)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 200 {
				t.Fatalf("password: %d", res.StatusCode)
			}
		})
	}
}

// TestRecover: gatehouse recover mints a working admin token that
// expires, writes its event, and on SQLite refuses to run beside a
// server unless --force is given.
func TestRecover(t *testing.T) {
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			p := startServer(t, be)
			mustCLI(t, p, adminToken, "role", "create", "reader", "--permission", "users.read")
			mustCLI(t, p, adminToken, "sa", "create", "bot", "--token-intent", "none")
			mustCLI(t, p, adminToken, "role", "assign", "reader", "--user", "bot")

			if be.name == "sqlite" {
				// Beside a running server: refused, nothing written.
				out, errs, code := run(t, be.env, "recover")
				if code != 1 || out != "" || !strings.Contains(errs, "a gatehouse server has") || !strings.Contains(errs, "--force") {
					t.Fatalf("recover beside a server: exit %d\n%s%s", code, out, errs)
				}
				if n := countAction(t, p, "recovery_token_created"); n != 0 {
					t.Fatalf("a refused recovery wrote %d events", n)
				}
				// --force: done, and the running server takes the token.
				out, errs, code = run(t, be.env, "recover", "--force", "--ttl", "5m")
				key := strings.TrimSpace(out)
				if code != 0 || !keyRegexp.MatchString(key) || !strings.Contains(errs, "--force") {
					t.Fatalf("recover --force: exit %d\n%s%s", code, out, errs)
				}
				if c, _ := status(t, p, key, "/api/v1/users"); c != 200 {
					t.Fatalf("forced recovery token: %d", c)
				}
				stopGracefully(t, p)
			}

			// Not an administrator, or nobody: refused.
			if _, errs, code := run(t, be.env, "recover", "--user", "bot", "--force"); code != 1 || !strings.Contains(errs, `"bot" does not hold the role admin`) {
				t.Fatalf("recover --user bot: exit %d\n%s", code, errs)
			}
			if _, errs, code := run(t, be.env, "recover", "--user", "nobody", "--force"); code != 1 || !strings.Contains(errs, `no user "nobody"`) {
				t.Fatalf("recover --user nobody: exit %d\n%s", code, errs)
			}
			if _, errs, code := run(t, be.env, "recover", "--ttl", "48h", "--force"); code != 1 || !strings.Contains(errs, "at most 24h") {
				t.Fatalf("recover --ttl 48h: exit %d\n%s", code, errs)
			}

			// The ordinary way: the server is stopped (SQLite) or running
			// (PostgreSQL, where recover may run beside servers).
			out, errs, code := run(t, be.env, "recover", "--ttl", "10m")
			key := strings.TrimSpace(out)
			if code != 0 || !keyRegexp.MatchString(key) || !strings.Contains(errs, "recovery-") {
				t.Fatalf("recover: exit %d\n%s%s", code, out, errs)
			}
			if strings.Contains(errs, key) {
				t.Fatal("the key is on standard error too")
			}
			q := p
			if be.name == "sqlite" {
				q = startServer(t, be)
			}
			if c, _ := status(t, q, key, "/api/v1/users"); c != 200 {
				t.Fatalf("recovery token: %d", c)
			}
			// Its event: actor gatehouse recover, the user, no secret.
			evs := mustCLI(t, q, adminToken, "-o", "json", "events", "list", "--action", "recovery_token_created")
			if !strings.Contains(evs, `"gatehouse recover"`) || !strings.Contains(evs, `"admin"`) || strings.Contains(evs, key) || strings.Contains(evs, key[16:]) {
				t.Fatalf("recovery events:\n%s", evs)
			}
			if !strings.HasPrefix(mustCLI(t, q, adminToken, "events", "verify"), "intact: ") {
				t.Fatal("the audit chain does not verify after a recovery")
			}
			// A short-lived one expires, and its holder is told so (only a
			// key that parses and whose time is up gets that detail). The
			// server's clock is real: this waits for it, however slowly a
			// busy machine starts the command, rather than guessing a
			// sleep.
			args := []string{"recover", "--ttl", "2s"}
			if be.name == "sqlite" {
				args = append(args, "--force") // q is running
			}
			out, errs, code = run(t, be.env, args...)
			short := strings.TrimSpace(out)
			if code != 0 || !keyRegexp.MatchString(short) {
				t.Fatalf("recover --ttl 2s: exit %d\n%s%s", code, out, errs)
			}
			for deadline := time.Now().Add(time.Minute); ; time.Sleep(250 * time.Millisecond) {
				c, d := status(t, q, short, "/api/v1/me")
				if c == 401 && d == "this key has expired" {
					break
				}
				if c != 200 || time.Now().After(deadline) {
					t.Fatalf("short recovery token: %d %q, want 200 until it expires, then 401 %q", c, d, "this key has expired")
				}
			}
		})
	}
}

func countAction(t *testing.T, p *proc, action string) int {
	t.Helper()
	var evs []json.RawMessage
	if err := json.Unmarshal([]byte(mustCLI(t, p, adminToken, "-o", "json", "events", "list", "--action", action)), &evs); err != nil {
		t.Fatal(err)
	}
	return len(evs)
}
