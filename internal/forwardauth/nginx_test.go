package forwardauth_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/forwardauth"
	"github.com/gatehouse/gatehouse/internal/server/servertest"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

// The README's example, as a newcomer would copy it: these are the
// addresses and the slug it uses, replaced by the test's own.
const (
	readmeSection  = "## Forward-auth behind nginx"
	readmeListen   = "listen 80;"
	readmeGate     = "127.0.0.1:8420"
	readmeBackend  = "127.0.0.1:8080"
	readmeSlug     = "whoami"
	readmeAuthPath = "/outpost/forward-auth/" + readmeSlug
)

// readmeNginxSnippet returns the first indented block of the README's
// forward-auth section: the configuration a reader copies.
func readmeNginxSnippet(t testing.TB) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(raw), "\n"+readmeSection+"\n")
	if !ok {
		t.Fatalf("README.md has no %q section", readmeSection)
	}
	var block []string
	sc := bufio.NewScanner(strings.NewReader(section))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "    "):
			block = append(block, line[4:])
		case strings.TrimSpace(line) == "" && len(block) > 0:
			block = append(block, "")
		case len(block) > 0:
			return strings.Join(block, "\n")
		case strings.HasPrefix(line, "## "):
			t.Fatal("the forward-auth section has no indented configuration block")
		}
	}
	return strings.Join(block, "\n")
}

// nginxConfig turns the README snippet into a whole nginx.conf for dir.
func nginxConfig(t testing.TB, snippet, dir, listen, gate, backend, slug string) string {
	t.Helper()
	for _, must := range []string{readmeListen, readmeGate, readmeBackend, readmeAuthPath, "auth_request ", "proxy_pass_request_body off;"} {
		if !strings.Contains(snippet, must) {
			t.Fatalf("the README snippet lacks %q:\n%s", must, snippet)
		}
	}
	s := strings.NewReplacer(
		readmeListen, "listen "+listen+";",
		readmeGate, gate,
		readmeBackend, backend,
		readmeAuthPath, "/outpost/forward-auth/"+slug,
	).Replace(snippet)
	return forwardauth.NginxConf(dir, "info", 1024, s)
}

// startNginx runs nginx with conf until the test ends and waits until it
// accepts connections on listen.
func startNginx(t testing.TB, bin, dir, conf, listen string) {
	t.Helper()
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", path)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	// exited closes once nginx has exited, waitErr then set: the loop
	// below and the cleanup may both wait on it.
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGQUIT) // graceful: workers finish, then exit
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx exited: %v\n%s\n%s\nconfig:\n%s", waitErr, out.String(), log, conf)
		default:
		}
		if c, err := net.DialTimeout("tcp", listen, 200*time.Millisecond); err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx does not listen on %s", listen)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// echoBackend is the protected service: it shows what reached it.
func echoBackend(t testing.TB) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "user=%s type=%s groups=%s authorization=%t method=%s body=%s",
			r.Header.Get("X-Gatehouse-User"), r.Header.Get("X-Gatehouse-Type"), r.Header.Get("X-Gatehouse-Groups"),
			r.Header.Get("Authorization") != "", r.Method, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestNginx puts a service behind Debian's nginx with the README's
// configuration and checks, with real HTTP through nginx, who gets in.
func TestNginx(t *testing.T) {
	bin := testenv.Binary(t, "nginx")
	snippet := readmeNginxSnippet(t)
	storetest.ForEachBackend(t, func(t *testing.T, st store.Store) {
		e := servertest.Start(t, st)
		gate := strings.TrimPrefix(e.URL, "http://")
		backend := echoBackend(t)
		listen := testenv.DaemonAddr(t)
		dir := t.TempDir()
		startNginx(t, bin, dir, nginxConfig(t, snippet, dir, listen, gate, strings.TrimPrefix(backend.URL, "http://"), "ci-site"), listen)

		// A CI job's service account, bound to the application through its
		// group; another account that is not bound.
		e.Must(201, e.Admin("POST", "/api/v1/service-accounts", map[string]any{
			"username": "ci-deploy", "create_group": true, "token_intent": "none"}))
		key := e.Must(201, e.Admin("POST", "/api/v1/tokens", map[string]any{"user": "ci-deploy", "identifier": "ci-deploy-key"})).JSON()["key"].(string)
		app := e.Must(201, e.Admin("POST", "/api/v1/tokens", map[string]any{"user": "ci-deploy", "intent": "app_password"})).JSON()["key"].(string)
		stranger := e.Must(201, e.Admin("POST", "/api/v1/service-accounts", map[string]any{"username": "stranger", "token_intent": "api"})).JSON()
		strangerKey := stranger["token"].(map[string]any)["key"].(string)
		e.Must(201, e.Admin("POST", "/api/v1/applications", map[string]any{"slug": "ci-site", "name": "CI site"}))
		e.Must(200, e.Admin("PUT", "/api/v1/applications/ci-site/bindings/groups/ci-deploy", nil))

		client := &http.Client{Timeout: 10 * time.Second}
		get := func(method, authz string, extra ...string) (int, http.Header, string) {
			t.Helper()
			var body io.Reader
			if method == "POST" {
				body = strings.NewReader("payload")
			}
			req, err := http.NewRequest(method, "http://"+listen+"/some/page?q=1", body)
			if err != nil {
				t.Fatal(err)
			}
			if authz != "" {
				req.Header.Set("Authorization", authz)
			}
			for i := 0; i+1 < len(extra); i += 2 {
				req.Header.Add(extra[i], extra[i+1])
			}
			res, err := client.Do(req)
			if err != nil {
				t.Fatalf("through nginx: %v", err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			return res.StatusCode, res.Header, string(b)
		}

		status, h, _ := get("GET", "")
		if status != 401 || h.Get("WWW-Authenticate") != `Basic realm="ci-site", Bearer realm="ci-site"` {
			t.Fatalf("no credential: %d %v", status, h)
		}
		if status, _, _ := get("GET", bearer("gat_0123456789abcdefghijABCDEFGHIJ0123456789")); status != 401 {
			t.Fatalf("bad credential: %d", status)
		}
		status, _, body := get("GET", bearer(key))
		if status != 200 || body != "user=ci-deploy type=service_account groups=ci-deploy authorization=false method=GET body=" {
			t.Fatalf("bound token: %d %q", status, body)
		}
		status, _, body = get("GET", basic("ci-deploy", app))
		if status != 200 || !strings.HasPrefix(body, "user=ci-deploy ") {
			t.Fatalf("bound app password: %d %q", status, body)
		}
		// Other methods reach the service too (nginx asks with GET).
		status, _, body = get("POST", bearer(key))
		if status != 200 || !strings.HasSuffix(body, "method=POST body=payload") {
			t.Fatalf("POST: %d %q", status, body)
		}
		// A header the client forges is replaced by gatehouse's answer.
		status, _, body = get("GET", bearer(key), "X-Gatehouse-User", "admin")
		if status != 200 || !strings.HasPrefix(body, "user=ci-deploy ") {
			t.Fatalf("forged identity header: %d %q", status, body)
		}
		if status, _, _ := get("GET", bearer(strangerKey)); status != 403 {
			t.Fatalf("unbound account: %d", status)
		}
		// Least privilege through nginx: a key bound to the network nginx
		// and the client share (loopback) opens; one bound elsewhere is a
		// bad key, and one bound to another application does not open.
		e.Must(201, e.Admin("POST", "/api/v1/applications", map[string]any{"slug": "docs", "name": "Docs"}))
		narrow := func(id string, extra map[string]any) string {
			body := map[string]any{"user": "ci-deploy", "identifier": id}
			for k, v := range extra {
				body[k] = v
			}
			return e.Must(201, e.Admin("POST", "/api/v1/tokens", body)).JSON()["key"].(string)
		}
		if status, _, _ := get("GET", bearer(narrow("ci-here", map[string]any{"allowed_cidrs": []string{"127.0.0.0/8", "::1"}}))); status != 200 {
			t.Fatalf("a key bound to the client's network: %d", status)
		}
		if status, _, _ := get("GET", bearer(narrow("ci-away", map[string]any{"allowed_cidrs": []string{"10.0.0.0/8"}}))); status != 401 {
			t.Fatalf("a key bound to another network: %d", status)
		}
		if status, _, _ := get("GET", bearer(narrow("ci-docs", map[string]any{"applications": []string{"docs"}}))); status != 403 {
			t.Fatalf("a key bound to another application: %d", status)
		}
		if status, _, _ := get("GET", basic("admin", servertest.AdminPassword)); status != 401 {
			t.Fatalf("a person's password: %d", status)
		}
		if status, _, _ := get("GET", bearer(key), "Authorization", bearer(key)); status == 200 {
			t.Fatal("repeated Authorization admitted")
		}
		if status, _, _ := get("GET", bearer(key), "X-Padding", strings.Repeat("p", 2<<20)); status == 200 {
			t.Fatal("a multi-megabyte header was admitted")
		}

		// Revoked: refused on the very next request.
		e.Must(204, e.Admin("DELETE", "/api/v1/tokens/ci-deploy-key", nil))
		if status, _, _ := get("GET", bearer(key)); status != 401 {
			t.Fatalf("revoked key: %d", status)
		}
		// Unbound: refused on the very next request.
		e.Must(204, e.Admin("DELETE", "/api/v1/applications/ci-site/bindings/groups/ci-deploy", nil))
		e.Must(200, e.Admin("PUT", "/api/v1/applications/ci-site/bindings/users/stranger", nil))
		if status, _, _ := get("GET", basic("ci-deploy", app)); status != 403 {
			t.Fatalf("unbound app password: %d", status)
		}
		if status, _, body := get("GET", bearer(strangerKey)); status != 200 || !strings.HasPrefix(body, "user=stranger ") {
			t.Fatalf("newly bound account: %d %q", status, body)
		}

		// The client address gatehouse saw is the one nginx forwarded.
		q := url.Values{"action": {"login_failed"}}
		var page struct {
			Items []map[string]any `json:"items"`
		}
		e.Must(200, e.Admin("GET", "/api/v1/events?"+q.Encode(), nil)).Decode(t, &page)
		if len(page.Items) == 0 || page.Items[0]["client_ip"] != "127.0.0.1" {
			t.Fatalf("login_failed events: %v", page.Items)
		}
	})
}
