package cli

import (
	"encoding/base64"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExitCodes(t *testing.T) {
	t.Parallel()
	conflict := `{"type":"about:blank","title":"Conflict","status":409,"detail":"username \"ci-bot\" is taken"}`
	invalid := `{"title":"Bad Request","status":400,"detail":"invalid request",
		"errors":[{"field":"username","message":"must match ^[a-z0-9]..."},{"field":"roles[0]","message":"role \"x\" does not exist"}]}`
	f := newFakeAPI(t, map[string]reply{
		"GET /api/v1/me":                {body: meJSON},
		"POST /api/v1/service-accounts": {status: 409, body: conflict},
		"POST /api/v1/users":            {status: 400, body: invalid},
		"GET /api/v1/groups/x":          {status: 502, body: "<html>Bad Gateway</html>"},
	})
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string // wanted in stderr
	}{
		{"done", []string{"whoami"}, ExitOK, ""},
		{"help", []string{"sa", "create", "--help"}, ExitOK, ""},

		{"unknown flag", []string{"whoami", "--nope"}, ExitUsage, "unknown flag: --nope"},
		{"unknown command", []string{"frobnicate"}, ExitUsage, `unknown command "frobnicate"`},
		{"unknown subcommand", []string{"sa", "frobnicate"}, ExitUsage, `unknown command "frobnicate" for "gatehouse sa"`},
		{"missing subcommand", []string{"sa"}, ExitUsage, "gatehouse sa needs a command"},
		{"missing argument", []string{"sa", "get"}, ExitUsage, "accepts 1 arg(s), received 0"},
		{"extra argument", []string{"whoami", "extra"}, ExitUsage, "unknown command"},
		{"bad output format", []string{"-o", "yaml", "whoami"}, ExitUsage, "must be one of table, json"},
		{"bad duration", []string{"token", "create", "--ttl", "3days"}, ExitUsage, "must be a duration"},
		{"bad time", []string{"token", "create", "--expires-at", "tomorrow"}, ExitUsage, "RFC 3339"},
		{"bad intent", []string{"sa", "create", "x", "--token-intent", "ssh"}, ExitUsage, "must be one of app_password, api, none"},
		{"negative limit", []string{"user", "list", "--limit", "-1"}, ExitUsage, "--limit must not be negative"},
		{"api-token with user", []string{"--api-token", "tok", "--user", "a:b", "whoami"}, ExitUsage, "--api-token and --user cannot be used together"},
		{"extended without max-age", []string{"token", "create", "--extended"}, ExitUsage, "--extended requires --max-age"},
		{"max-age without extended", []string{"token", "create", "--max-age", "1h"}, ExitUsage, "--max-age is only allowed with --extended"},
		{"extended with ttl", []string{"token", "create", "--extended", "--max-age", "1h", "--ttl", "2h"}, ExitUsage, "none of the others"},
		{"ttl with no-expiry", []string{"sa", "create", "x", "--ttl", "1h", "--no-expiry"}, ExitUsage, "none of the others"},
		{"expiry without credential", []string{"sa", "create", "x", "--token-intent", "none", "--ttl", "1h"}, ExitUsage, "--token-intent is none"},
		{"assign to nobody", []string{"role", "assign", "r"}, ExitUsage, "at least one of the flags in the group [user group]"},
		{"assign to both", []string{"role", "assign", "r", "--user", "u", "--group", "g"}, ExitUsage, "none of the others"},
		{"set and clear", []string{"user", "permissions", "u", "--set", "p", "--clear"}, ExitUsage, "none of the others"},
		{"update nothing", []string{"user", "update", "alice"}, ExitUsage, "nothing to change: give --name, --email, --description"},
		{"no password on stdin", []string{"user", "set-password", "alice"}, ExitUsage, "no password"},
		{"malformed --user", []string{"--user", "alice", "whoami"}, ExitUsage, "--user must be USERNAME:PASSWORD"},
		{"bad --server", []string{"--server", "ftp://x", "whoami"}, ExitUsage, "--server must be an http:// or https:// URL"},
		{"--server with credentials", []string{"--server", "http://u:p@x", "whoami"}, ExitUsage, "must not hold credentials"},

		{"server refuses", []string{"sa", "create", "ci-bot"}, ExitFailure, "error: 409 Conflict: username \"ci-bot\" is taken\n"},
		{
			"field errors listed", []string{"user", "create", "Bad"}, ExitFailure,
			"error: 400 Bad Request: invalid request\n  username: must match ^[a-z0-9]...\n  roles[0]: role \"x\" does not exist\n",
		},
		{"not problem+json", []string{"group", "get", "x"}, ExitFailure, "error: 502 Bad Gateway\n"},
		{"not found", []string{"token", "get", "nope"}, ExitFailure, "error: 404 Not Found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := run(t, f, invocation{args: tc.args})
			res.wantCode(t, tc.code)
			if !strings.Contains(res.stderr, tc.stderr) {
				t.Errorf("stderr %q, want it to hold %q", res.stderr, tc.stderr)
			}
			if tc.code == ExitUsage && !strings.Contains(res.stderr, "--help' for usage") {
				t.Errorf("usage error without a hint: %q", res.stderr)
			}
			if tc.code != ExitOK && res.stdout != "" {
				t.Errorf("stdout %q, want nothing on failure", res.stdout)
			}
		})
	}
}

func TestConnectionFailure(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(nil)
	url := srv.URL
	srv.Close()
	res := run(t, nil, invocation{args: []string{"whoami"}, env: map[string]string{EnvServer: url}})
	res.wantCode(t, ExitFailure)
	if !strings.Contains(res.stderr, "error: cannot reach gatehouse at "+url) {
		t.Errorf("stderr %q", res.stderr)
	}
}

func TestCredentials(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tokenFile := write("token", "  file-token\n")
	userFile := write("user", "bob:file-pass\n")
	emptyFile := write("empty", "\n")
	basic := func(userPass string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(userPass))
	}
	tests := []struct {
		name string
		inv  invocation
		auth string // wanted Authorization header
	}{
		{"none", args("whoami"), ""},
		{"token flag", args("--api-token", "flag-token", "whoami"), "Bearer flag-token"},
		{"token env", invocation{args: []string{"whoami"}, env: map[string]string{EnvAPIToken: "env-token"}}, "Bearer env-token"},
		{"token file, trimmed", invocation{args: []string{"whoami"}, env: map[string]string{EnvAPIToken + "_FILE": tokenFile}}, "Bearer file-token"},
		{"user flag", args("--user", "alice:pa:ss", "whoami"), basic("alice:pa:ss")},
		{"user env", invocation{args: []string{"whoami"}, env: map[string]string{EnvUser: "alice:env-pass"}}, basic("alice:env-pass")},
		{"user file", invocation{args: []string{"whoami"}, env: map[string]string{EnvUser + "_FILE": userFile}}, basic("bob:file-pass")},
		{
			"token flag wins over token env",
			invocation{args: []string{"--api-token", "flag-token", "whoami"}, env: map[string]string{EnvAPIToken: "env-token"}},
			"Bearer flag-token",
		},
		{
			"user flag wins over token env",
			invocation{args: []string{"--user", "alice:pw", "whoami"}, env: map[string]string{EnvAPIToken: "env-token"}},
			basic("alice:pw"),
		},
		{
			"token flag wins over a broken user env",
			invocation{args: []string{"--api-token", "flag-token", "whoami"}, env: map[string]string{EnvUser + "_FILE": "/nonexistent"}},
			"Bearer flag-token",
		},
		{
			// token create's own --user names the owner; the login comes from the environment.
			"subject --user does not shadow the login",
			invocation{args: []string{"token", "create", "--user", "ci-bot"}, env: map[string]string{EnvUser: "alice:pw"}},
			basic("alice:pw"),
		},
	}
	routes := map[string]reply{
		"GET /api/v1/me":      {body: meJSON},
		"POST /api/v1/tokens": {status: 201, body: keyTokenJSON},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeAPI(t, routes)
			run(t, f, tc.inv).wantCode(t, ExitOK)
			if got := f.only(t).Authorization; got != tc.auth {
				t.Errorf("Authorization %q, want %q", got, tc.auth)
			}
		})
	}

	failures := []struct {
		name   string
		env    map[string]string
		code   int
		stderr string
	}{
		{"token and token file", map[string]string{EnvAPIToken: "a", EnvAPIToken + "_FILE": tokenFile}, ExitUsage,
			"GATEHOUSE_API_TOKEN and GATEHOUSE_API_TOKEN_FILE are both set"},
		{"token and user", map[string]string{EnvAPIToken: "a", EnvUser: "b:c"}, ExitUsage, "GATEHOUSE_API_TOKEN and GATEHOUSE_USER are both set"},
		{"missing file", map[string]string{EnvAPIToken + "_FILE": filepath.Join(dir, "missing")}, ExitFailure, "GATEHOUSE_API_TOKEN_FILE:"},
		{"empty file", map[string]string{EnvAPIToken + "_FILE": emptyFile}, ExitFailure, "is empty"},
		{"malformed user env", map[string]string{EnvUser: "alice"}, ExitUsage, "GATEHOUSE_USER must be USERNAME:PASSWORD"},
	}
	for _, tc := range failures {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			refusedLocally(t, routes, invocation{args: []string{"whoami"}, env: tc.env}, tc.code, tc.stderr)
		})
	}
}

func TestServerSetting(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t, map[string]reply{"GET /api/v1/me": {body: meJSON}})
	other := newFakeAPI(t, map[string]reply{"GET /api/v1/me": {body: meJSON}})

	// The environment names one server, the flag another: the flag wins.
	run(t, other, args("--server", f.srv.URL+"/", "whoami")).wantCode(t, ExitOK)
	if len(f.requests()) != 1 || len(other.requests()) != 0 {
		t.Errorf("--server should win over %s", EnvServer)
	}

	// A path prefix (a reverse proxy) is kept.
	prefixed := newFakeAPI(t, map[string]reply{"GET /gatehouse/api/v1/me": {body: meJSON}})
	run(t, nil, invocation{args: []string{"whoami"}, env: map[string]string{EnvServer: prefixed.srv.URL + "/gatehouse"}}).wantCode(t, ExitOK)
}

// TestSecretsNeverPrinted runs commands that succeed, fail at the server,
// fail on usage and fail to connect, with secrets given every way, and
// looks for the secrets in everything printed.
func TestSecretsNeverPrinted(t *testing.T) {
	t.Parallel()
	const (
		token    = "gat_SecretTokenValue0123456789abcdefXYZ"
		password = "Sup3r-Secret-Passw0rd"
	)
	f := newFakeAPI(t, map[string]reply{
		"GET /api/v1/me":                    {status: 401, body: `{"title":"Unauthorized","status":401,"detail":"bad credentials"}`},
		"GET /api/v1/users":                 {body: items(userJSON)},
		"PUT /api/v1/users/alice/password":  {status: 400, body: `{"title":"Bad Request","status":400,"errors":[{"field":"password","message":"too short"}]}`},
		"POST /api/v1/tokens":               {status: 201, body: keyTokenJSON},
		"DELETE /api/v1/tokens/ci-bot-abcd": {status: 204},
	})
	closed := httptest.NewServer(nil)
	closed.Close()
	var invs []invocation
	for _, cmd := range [][]string{
		{"whoami"},
		{"user", "list"},
		{"token", "create"},
		{"token", "revoke", "ci-bot-abcd"},
		{"whoami", "--nope"},
		{"sa", "get"},
		{"--help"},
		{"token", "create", "--extended"},
	} {
		invs = append(invs,
			invocation{args: append([]string{"--api-token", token}, cmd...)},
			invocation{args: append([]string{"--api-token=" + token, "-o", "json"}, cmd...)},
			invocation{args: append([]string{"--user", "alice:" + password}, cmd...)},
			invocation{args: cmd, env: map[string]string{EnvAPIToken: token}},
			invocation{args: append([]string{"--api-token", token}, cmd...), env: map[string]string{EnvServer: closed.URL}},
		)
	}
	invs = append(invs,
		invocation{args: []string{"--api-token", token, "--user", "alice:" + password, "whoami"}},
		invocation{args: []string{"--api-token", token, "user", "set-password", "alice"}, stdin: password + "\n"},
		invocation{args: []string{"--server", "http://alice:" + password + "@example.com", "whoami"}},
		invocation{args: []string{"--server", "http://a b:" + password + "@%zz", "whoami"}},
	)
	for _, inv := range invs {
		res := run(t, f, inv)
		for _, secret := range []string{token, password} {
			if strings.Contains(res.stdout+res.stderr, secret) {
				t.Errorf("%q printed a secret:\nstdout: %s\nstderr: %s", inv.args, res.stdout, res.stderr)
			}
		}
	}
}
