package main_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/testenv"
)

// curlForward asks the forward-auth endpoint with the real curl; args are
// curl's credential options. It returns the status and the headers.
func curlForward(t *testing.T, p *proc, slug string, args ...string) (int, string) {
	t.Helper()
	bin := testenv.Binary(t, "curl")
	full := append([]string{"-s", "-D", "-", "-o", "/dev/null", "-w", "%{http_code}"}, args...)
	out, err := command(t, bin, append(full, p.url+"/outpost/forward-auth/"+slug)...).Output()
	if err != nil {
		t.Fatalf("curl: %v", err)
	}
	s := string(out)
	var code int
	fmt.Sscanf(s[strings.LastIndex(s, "\n")+1:], "%d", &code)
	return code, s
}

// TestReadmeApplications runs the README's application and forward-auth
// commands with the real binary, CLI and curl, on both backends.
func TestReadmeApplications(t *testing.T) {
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			p := startServer(t, be)
			key := strings.TrimSpace(mustCLI(t, p, adminToken, "sa", "create", "ci-deploy", "--create-group", "--token-intent", "api", "--ttl", "720h"))
			app := strings.TrimSpace(mustCLI(t, p, adminToken, "token", "create", "--user", "ci-deploy", "--intent", "app_password", "--no-expiry"))
			other := strings.TrimSpace(mustCLI(t, p, adminToken, "sa", "create", "intern", "--token-intent", "api"))

			mustCLI(t, p, adminToken, "app", "create", "ci-site", "--name", "CI artefacts", "--url", "https://ci.example.org/")
			// Open to every active account until it has a binding.
			if code, _ := curlForward(t, p, "ci-site", "-H", "Authorization: Bearer "+other); code != 200 {
				t.Fatalf("no bindings: intern %d", code)
			}
			mustCLI(t, p, adminToken, "app", "bind", "ci-site", "--group", "ci-deploy")
			mustCLI(t, p, adminToken, "app", "bind", "ci-site", "--user", "intern", "--negate", "--order", "-1")
			mustCLI(t, p, adminToken, "app", "update", "ci-site", "--mode", "all")
			got := mustCLI(t, p, adminToken, "app", "get", "ci-site")
			for _, want := range []string{"ci-site", "CI artefacts", "all", "-1:!user/intern,0:group/ci-deploy", "https://ci.example.org/"} {
				if !strings.Contains(got, want) {
					t.Fatalf("app get lacks %q:\n%s", want, got)
				}
			}

			code, headers := curlForward(t, p, "ci-site", "-H", "Authorization: Bearer "+key)
			if code != 200 || !strings.Contains(headers, "X-Gatehouse-User: ci-deploy") || !strings.Contains(headers, "X-Gatehouse-Groups: ci-deploy") {
				t.Fatalf("token: %d\n%s", code, headers)
			}
			if code, _ := curlForward(t, p, "ci-site", "-u", "ci-deploy:"+app); code != 200 {
				t.Fatalf("app password: %d", code)
			}
			if code, _ := curlForward(t, p, "ci-site", "-H", "Authorization: Bearer "+other); code != 403 {
				t.Fatalf("intern: %d", code)
			}
			code, headers = curlForward(t, p, "ci-site")
			if code != 401 || !strings.Contains(strings.ToLower(headers), `www-authenticate: basic realm="ci-site", bearer realm="ci-site"`) {
				t.Fatalf("no credential: %d\n%s", code, headers)
			}
			if code, _ := curlForward(t, p, "ci-site", "-u", "admin:e2e-admin-password"); code != 401 {
				t.Fatalf("a person's password on forward-auth: %d", code)
			}
			mustCLI(t, p, adminToken, "app", "unbind", "ci-site", "--user", "intern")
			mustCLI(t, p, adminToken, "app", "update", "ci-site", "--mode", "any")
			if code, _ := curlForward(t, p, "ci-site", "-H", "Authorization: Bearer "+other); code != 403 {
				t.Fatalf("intern after unbind: %d", code)
			}

			// The brand's default application.
			mustCLI(t, p, adminToken, "brand", "set", "--default-application", "ci-site")
			if out := mustCLI(t, p, adminToken, "-o", "json", "brand", "get"); !strings.Contains(out, `"default_application": "ci-site"`) {
				t.Fatalf("brand get: %s", out)
			}
			_, errs, exit := cli(t, p, adminToken, "app", "delete", "ci-site")
			if exit != 1 || !strings.Contains(errs, "409 Conflict") || !strings.Contains(errs, "default application") {
				t.Fatalf("delete the brand's default: exit %d %s", exit, errs)
			}
			_, errs, exit = cli(t, p, adminToken, "brand", "set", "--default-application", "nope")
			if exit != 1 || !strings.Contains(errs, `default_application: application "nope" does not exist`) {
				t.Fatalf("brand with a missing application: exit %d %s", exit, errs)
			}

			// Introspection with curl, as the README shows it.
			out, err := command(t, testenv.Binary(t, "curl"), "-s", "-H", "Authorization: Bearer "+adminToken,
				"--data-urlencode", "token="+key, p.url+"/api/v1/introspect").Output()
			if err != nil {
				t.Fatal(err)
			}
			var in map[string]any
			if err := json.Unmarshal(out, &in); err != nil || in["active"] != true || in["username"] != "ci-deploy" || in["token_type"] != "api" {
				t.Fatalf("introspection: %s", out)
			}
			mustCLI(t, p, adminToken, "sa", "disable", "ci-deploy")
			out, _ = command(t, testenv.Binary(t, "curl"), "-s", "-H", "Authorization: Bearer "+adminToken,
				"--data-urlencode", "token="+key, p.url+"/api/v1/introspect").Output()
			if strings.TrimSpace(string(out)) != `{"active":false}` {
				t.Fatalf("introspection of a disabled account's token: %s", out)
			}
			if code, _ := curlForward(t, p, "ci-site", "-H", "Authorization: Bearer "+key); code != 401 {
				t.Fatalf("disabled account through forward-auth: %d", code)
			}
		})
	}
}

// TestTrustedProxiesConfig: a bad GATEHOUSE_TRUSTED_PROXIES stops the
// server before it serves, saying what is wrong.
func TestTrustedProxiesConfig(t *testing.T) {
	cmd := command(t, binary, "serve", "--listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "GATEHOUSE_DATABASE=sqlite:"+t.TempDir()+"/g.db", "GATEHOUSE_TRUSTED_PROXIES=10.0.0.0/8, proxy.example.org")
	out, err := cmd.CombinedOutput()
	if _, ok := err.(*exec.ExitError); !ok {
		t.Fatalf("serve with a bad trusted proxy list: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), `GATEHOUSE_TRUSTED_PROXIES: not CIDR networks such as 10.0.0.0/8 or ::1/128: "proxy.example.org"`) {
		t.Fatalf("message: %s", out)
	}
}
