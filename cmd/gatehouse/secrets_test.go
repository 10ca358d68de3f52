package main_test

// Secrets at rest: a full scenario against the real binary (every kind of
// credential made, rotated, revoked, used on every door and tried wrong),
// then a scan of everything gatehouse keeps or prints for every key and
// password of the scenario, in every form it could take there. The one
// place a key may appear is the output of the command that made it.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

// secret is one key or password of the scenario, with the account it
// was presented for (its Basic header holds user:value).
type secret struct {
	what  string
	value string
	user  string
}

// forms are the shapes a secret could take where it leaked: as is; as
// the base64 of a Basic header; for keys, the random part after the
// public lookup part (what is left of a key cut at its prefix); hex and
// base64 of its bytes (a bytea column is dumped in hex, a []byte logged
// as JSON is base64).
func (s secret) forms() map[string]string {
	f := map[string]string{
		"as is":  s.value,
		"hex":    hex.EncodeToString([]byte(s.value)),
		"base64": base64.StdEncoding.EncodeToString([]byte(s.value)),
	}
	if s.user != "" {
		f["in a Basic header"] = base64.StdEncoding.EncodeToString([]byte(s.user + ":" + s.value))
	}
	if auth.LooksLikeKey(s.value) && len(s.value) == auth.KeyLen {
		f["its secret part"] = s.value[16:38]
	}
	return f
}

// place is something gatehouse keeps or prints, by name.
type place struct {
	name string
	data []byte
}

// finding is a secret found somewhere, with enough to find it again (no
// more of the secret than its kind and first characters).
type finding struct {
	secret, form, place string
	offset              int
}

func (f finding) String() string {
	return fmt.Sprintf("%s (%s) in %s at byte %d", f.secret, f.form, f.place, f.offset)
}

func scanFor(secrets []secret, places []place) []finding {
	var out []finding
	for _, s := range secrets {
		for form, needle := range s.forms() {
			for _, p := range places {
				if i := bytes.Index(p.data, []byte(needle)); i >= 0 {
					out = append(out, finding{secret: s.what, form: form, place: p.name, offset: i})
				}
			}
		}
	}
	return out
}

// scenario records what a test did: the secrets, and every output of the
// CLI and answer of the server that is not the one showing a new key.
type scenario struct {
	t       *testing.T
	p       *proc
	secrets []secret
	outputs []place
}

func (s *scenario) remember(what, value, user string) string {
	s.t.Helper()
	if value == "" {
		s.t.Fatalf("empty secret %s", what)
	}
	s.secrets = append(s.secrets, secret{what: what, value: value, user: user})
	return value
}

func (s *scenario) keep(name string, data []byte) {
	s.outputs = append(s.outputs, place{name: name, data: data})
}

// run runs the CLI, keeps both its outputs, and returns its stdout.
func (s *scenario) run(token string, args ...string) string {
	s.t.Helper()
	out, errs, code := cli(s.t, s.p, token, args...)
	s.keep("CLI: "+strings.Join(args[:min(2, len(args))], " ")+" stdout", []byte(out))
	s.keep("CLI: "+strings.Join(args[:min(2, len(args))], " ")+" stderr", []byte(errs))
	if code != 0 && code != 1 {
		s.t.Fatalf("gatehouse %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// newKey runs a command that prints a new key alone: the one place the
// key is shown, so its standard output is not scanned (its standard
// error is).
func (s *scenario) newKey(what, user string, args ...string) string {
	s.t.Helper()
	out, errs, code := cli(s.t, s.p, adminToken, args...)
	s.keep("CLI: "+strings.Join(args[:2], " ")+" stderr", []byte(errs))
	key := strings.TrimSpace(out)
	if code != 0 || !keyRegexp.MatchString(key) {
		s.t.Fatalf("gatehouse %s: exit %d, %q\n%s", strings.Join(args, " "), code, out, errs)
	}
	// The scanner finds a key where it is.
	if f := scanFor([]secret{{what: what, value: key, user: user}}, []place{{name: "its command's output", data: []byte(out)}}); len(f) == 0 {
		s.t.Fatalf("the scanner misses %s in the output that shows it", what)
	}
	return s.remember(what, key, user)
}

// http sends a request and keeps the answer (its body and headers).
func (s *scenario) http(method, path, authz string, body io.Reader, contentType string) (int, []byte) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.p.url+path, body)
	if err != nil {
		s.t.Fatal(err)
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var h bytes.Buffer
	_ = res.Header.Write(&h)
	s.keep(method+" "+path+" answer", append(h.Bytes(), b...))
	return res.StatusCode, b
}

func (s *scenario) asAdmin(method, path string, body any, want int) []byte {
	s.t.Helper()
	buf, _ := json.Marshal(body)
	code, b := s.http(method, path, "Bearer "+adminToken, bytes.NewReader(buf), "application/json")
	if code != want {
		s.t.Fatalf("%s %s: %d, want %d: %s", method, path, code, want, b)
	}
	return b
}

func basicHeader(user, pw string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))
}

// curl asks with the real curl, credentials in its options, and keeps
// what curl printed.
func (s *scenario) curl(path string, args ...string) int {
	s.t.Helper()
	bin := testenv.Binary(s.t, "curl")
	out, err := command(s.t, bin, append(append([]string{"-s", "-i", "-w", "\n%{http_code}"}, args...), s.p.url+path)...).Output()
	if err != nil {
		s.t.Fatalf("curl %s: %v", path, err)
	}
	s.keep("curl "+path, out)
	var code int
	fmt.Sscanf(string(out[bytes.LastIndexByte(out, '\n')+1:]), "%d", &code)
	return code
}

// webClient is a browser: a cookie jar, and the page's CSRF token.
type webClient struct {
	s    *scenario
	jar  *cookiejar.Jar
	csrf string
}

var (
	csrfField   = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	csrfMeta    = regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)">`)
	totpOnPage  = regexp.MustCompile(`<code id="totp-secret">([A-Z2-7 ]+)</code>`)
	recoveryOne = regexp.MustCompile(`<li>([a-z2-9]{5}-[a-z2-9]{5})</li>`)
)

func (s *scenario) browser() *webClient {
	jar, _ := cookiejar.New(nil)
	return &webClient{s: s, jar: jar}
}

// page gets or posts (form non-nil) a page as this browser; keep says
// whether the answer is scanned (not the pages that show a secret once).
func (w *webClient) page(method, path string, form url.Values, keep bool) (int, string, string) {
	w.s.t.Helper()
	var body io.Reader
	if form != nil {
		if w.csrf != "" && form.Get("csrf_token") == "" {
			form.Set("csrf_token", w.csrf)
		}
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, w.s.p.url+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	hc := &http.Client{Jar: w.jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := hc.Do(req)
	if err != nil {
		w.s.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if m := csrfMeta.FindSubmatch(b); m != nil {
		w.csrf = string(m[1])
	} else if m := csrfField.FindSubmatch(b); m != nil {
		w.csrf = string(m[1])
	}
	if keep {
		// The answer that issues a session is the one place its cookie
		// is shown, as a new key's is.
		hd := res.Header.Clone()
		hd.Del("Set-Cookie")
		var h bytes.Buffer
		_ = hd.Write(&h)
		w.s.keep("web "+method+" "+path, append(h.Bytes(), b...))
	}
	return res.StatusCode, res.Header.Get("Location"), string(b)
}

// login signs in with the form; it returns the status and where it leads.
func (w *webClient) login(user, pw string) (int, string) {
	w.s.t.Helper()
	w.page("GET", "/login", nil, true)
	code, loc, _ := w.page("POST", "/login", url.Values{"username": {user}, "password": {pw}}, true)
	return code, loc
}

// session remembers this browser's session cookie: a bearer credential.
func (w *webClient) session(what string) {
	w.s.t.Helper()
	u, _ := url.Parse(w.s.p.url + "/")
	for _, c := range w.jar.Cookies(u) {
		if c.Name == "gatehouse_session" {
			w.s.remember(what, c.Value, "")
			return
		}
	}
	w.s.t.Fatalf("no session cookie for %s", what)
}

// forgedKey has key's public lookup part, a valid checksum and another
// secret: a guess by someone who saw the start of the key.
func forgedKey(t *testing.T, key string) string {
	t.Helper()
	const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	r, err := auth.RandomString(22)
	if err != nil {
		t.Fatal(err)
	}
	body := key[:16] + r
	sum := uint64(crc32.ChecksumIEEE([]byte(body)))
	d := make([]byte, 6)
	for i := 5; i >= 0; i-- {
		d[i] = base62[sum%62]
		sum /= 62
	}
	if _, err := auth.ParseKey(body + string(d)); err != nil {
		t.Fatalf("forged key: %v", err)
	}
	return body + string(d)
}

// startLogged starts serve as startServer does, at the debug level, with
// standard output and standard error both kept (startServer keeps
// standard error only).
func startLogged(t *testing.T, be backend, extra ...string) (*proc, *testenv.Buffer) {
	t.Helper()
	p := serve(t, be, true, append([]string{"GATEHOUSE_LOG_LEVEL=debug"}, extra...)...)
	return p, p.stderr
}

// storedPlaces returns everything the database holds: the SQLite file
// and its -wal and -shm files (not the .key file beside it: that is the
// key of the token hashes, kept there on purpose), or every table of the
// PostgreSQL schema dumped as text.
func storedPlaces(t *testing.T, be backend) []place {
	t.Helper()
	dsn := envValue(be.env, "GATEHOUSE_DATABASE")
	if path, ok := strings.CutPrefix(dsn, "sqlite:"); ok {
		var out []place
		for _, f := range []string{path, path + "-wal", path + "-shm"} {
			if b, err := os.ReadFile(f); err == nil {
				out = append(out, place{name: filepath.Base(f), data: b})
			}
		}
		return out
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	schema := u.Query().Get("search_path")
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY 1`, schema)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(tables) < 5 {
		t.Fatalf("tables of %s: %v %v", schema, tables, err)
	}
	var out []place
	for _, table := range tables {
		var buf bytes.Buffer
		q := fmt.Sprintf("COPY (SELECT * FROM %s) TO STDOUT", pgx.Identifier{schema, table}.Sanitize())
		if _, err := conn.PgConn().CopyTo(ctx, &buf, q); err != nil {
			t.Fatalf("dump %s: %v", table, err)
		}
		out = append(out, place{name: "table " + table, data: buf.Bytes()})
	}
	return out
}

func envValue(env []string, name string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v
		}
	}
	return ""
}

// TestNoSecretAtRest runs the scenario on each backend and finds no key
// or password of it in the database files, the server's log (at debug
// level), the events (through the API and in their table) or the
// outputs of the CLI and the server, but for the one output that shows
// each new key.
func TestNoSecretAtRest(t *testing.T) {
	testenv.Binary(t, "ldapwhoami")
	testenv.Binary(t, "curl")
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			p, logs := startLogged(t, be, "GATEHOUSE_LDAP_PROVIDER=corp", "GATEHOUSE_LDAP_LISTEN=127.0.0.1:0")
			ldapAddr := p.ldapDoor(t, false)
			s := &scenario{t: t, p: p}
			s.remember("bootstrap token", adminToken, "")
			s.remember("bootstrap password", "e2e-admin-password", "admin")
			hmacKey := envValue(be.env, "GATEHOUSE_SECRET_KEY")
			if path, ok := strings.CutPrefix(envValue(be.env, "GATEHOUSE_DATABASE"), "sqlite:"); ok {
				b, err := os.ReadFile(path + ".key")
				if err != nil {
					t.Fatalf("the key of the token hashes beside the database: %v", err)
				}
				hmacKey = string(b)
			}
			s.remember("key of the token hashes", hmacKey, "")
			canary := "canary-" + hex.EncodeToString(randomBytes(t, 8))

			// Set-up, with the CLI.
			s.run(adminToken, "ldap-provider", "create", "corp", "--base-dn", ldapBase)
			s.run(adminToken, "app", "create", "site", "--name", "Site")
			s.run(adminToken, "role", "create", "user-reader", "--permission", "users.read", "--permission", "tokens.read")
			apiKey := s.newKey("API token", "ci-deploy", "sa", "create", "ci-deploy", "--create-group", "--token-intent", "api", "--ttl", "720h", "--description", canary)
			s.run(adminToken, "role", "assign", "user-reader", "--group", "ci-deploy")
			appKey := s.newKey("app password", "ci-deploy", "token", "create", "--user", "ci-deploy", "--intent", "app_password", "--no-expiry")
			nasKey := s.newKey("app password of nas", "nas", "sa", "create", "nas")
			alicePW := s.remember("alice's password", "alice-first-password-"+hex.EncodeToString(randomBytes(t, 4)), "alice")
			s.asAdmin("POST", "/api/v1/users", map[string]any{"username": "alice", "password": alicePW}, 201)
			doraPW := s.remember("dora's password", "dora-password-"+hex.EncodeToString(randomBytes(t, 4)), "dora")
			s.asAdmin("POST", "/api/v1/users", map[string]any{"username": "dora", "password": doraPW}, 201)

			// Rotation with a grace: both keys work; then the old one is revoked.
			var toks []map[string]any
			if err := json.Unmarshal([]byte(s.run(adminToken, "-o", "json", "token", "list", "--user", "ci-deploy", "--intent", "api")), &toks); err != nil || len(toks) != 1 {
				t.Fatalf("token list: %v %v", toks, err)
			}
			apiID := toks[0]["identifier"].(string)
			rotated := s.newKey("rotated API token", "ci-deploy", "token", "rotate", apiID, "--grace", "1h")
			for _, k := range []string{apiKey, rotated} {
				if c := s.curl("/api/v1/me", "-H", "Authorization: Bearer "+k); c != 200 {
					t.Fatalf("a key during the grace: %d", c)
				}
			}
			third := s.newKey("API token after the second rotation", "ci-deploy", "token", "rotate", apiID, "--grace", "0s")
			if c := s.curl("/api/v1/me", "-H", "Authorization: Bearer "+rotated); c != 401 {
				t.Fatalf("the rotated key after a rotation without grace: %d", c)
			}
			revokedKey := s.newKey("revoked API token", "ci-deploy", "token", "create", "--user", "ci-deploy", "--intent", "api", "--identifier", "to-revoke")
			s.run(adminToken, "token", "revoke", "to-revoke")
			if c := s.curl("/api/v1/me", "-H", "Authorization: Bearer "+revokedKey); c != 401 {
				t.Fatalf("a revoked key: %d", c)
			}
			outpostKey := s.newKey("outpost token", "", "outpost", "create", "rack1", "--provider", "corp")
			if c := s.curl("/api/v1/me", "-H", "Authorization: Bearer "+outpostKey); c != 200 {
				t.Fatalf("outpost token: %d", c)
			}
			outpostKey2 := s.newKey("rotated outpost token", "", "outpost", "rotate", "rack1")

			// Every credential on every door.
			if c := s.curl("/api/v1/me", "-H", "Authorization: Bearer "+third); c != 200 {
				t.Fatalf("API Bearer: %d", c)
			}
			if c := s.curl("/api/v1/me", "-u", "alice:"+alicePW); c != 200 {
				t.Fatalf("API Basic: %d", c)
			}
			if out := s.run(third, "whoami"); !strings.Contains(out, "ci-deploy") {
				t.Fatalf("CLI --api-token: %s", out)
			}
			if out := s.run("", "--user", "alice:"+alicePW, "whoami"); !strings.Contains(out, "alice") {
				t.Fatalf("CLI --user: %s", out)
			}
			if c := s.curl("/api/v1/me", "-H", "Authorization: Bearer "+outpostKey2); c != 200 {
				t.Fatalf("outpost token: %d", c)
			}
			ldapURL := "ldap://" + ldapAddr
			for _, b := range []struct{ user, pw string }{{"nas", nasKey}, {"ci-deploy", appKey}, {"alice", alicePW}} {
				if out, code := whoami(t, ldapURL, ldapDN(b.user), b.pw); code != 0 {
					t.Fatalf("ldapwhoami as %s: exit %d: %s", b.user, code, out)
				}
			}
			if c := s.curl("/outpost/forward-auth/site", "-u", "nas:"+nasKey); c != 200 {
				t.Fatalf("forward-auth Basic: %d", c)
			}
			if c := s.curl("/outpost/forward-auth/site", "-H", "Authorization: Bearer "+third); c != 200 {
				t.Fatalf("forward-auth Bearer: %d", c)
			}
			// Introspection, by the account itself (it may read tokens).
			if c, b := s.http("POST", "/api/v1/introspect", "Bearer "+third, strings.NewReader(url.Values{"token": {appKey}}.Encode()), "application/x-www-form-urlencoded"); c != 200 || !bytes.Contains(b, []byte(`"active":true`)) {
				t.Fatalf("introspect: %d %s", c, b)
			}
			// The web interface; then a password change; then two-factor.
			alice := s.browser()
			if code, loc := alice.login("alice", alicePW); code != http.StatusSeeOther || loc != "/" {
				t.Fatalf("web sign-in: %d %q", code, loc)
			}
			alice.session("alice's web session")
			alice.page("GET", "/", nil, true)
			alicePW2 := s.remember("alice's new password", "alice-second-password-"+hex.EncodeToString(randomBytes(t, 4)), "alice")
			if code, _, body := alice.page("POST", "/profile/password", url.Values{"current_password": {alicePW}, "new_password": {alicePW2}, "confirm_password": {alicePW2}}, true); code >= 400 {
				t.Fatalf("change password: %d\n%s", code, body)
			}
			if c := s.curl("/api/v1/me", "-u", "alice:"+alicePW2); c != 200 {
				t.Fatalf("the new password: %d", c)
			}
			dora := s.browser()
			if code, _ := dora.login("dora", doraPW); code != http.StatusSeeOther {
				t.Fatalf("dora's sign-in: %d", code)
			}
			dora.session("dora's web session")
			dora.page("GET", "/profile", nil, true)
			_, _, page := dora.page("POST", "/profile/two-factor", url.Values{}, false) // shows the secret, once
			m := totpOnPage.FindStringSubmatch(page)
			if m == nil {
				t.Fatalf("no TOTP secret on the enrolment page:\n%s", page)
			}
			secretText := strings.ReplaceAll(m[1], " ", "")
			totpSecret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secretText)
			if err != nil {
				t.Fatal(err)
			}
			s.remember("TOTP secret (base32)", secretText, "")
			s.remember("TOTP secret (bytes)", string(totpSecret), "")
			now := time.Now()
			_, _, codes := dora.page("POST", "/profile/two-factor/confirm", url.Values{"code": {auth.TOTPCode(totpSecret, auth.TOTPStep(now))}}, false)
			recovery := recoveryOne.FindAllStringSubmatch(codes, -1)
			if len(recovery) != 10 {
				t.Fatalf("%d recovery codes:\n%s", len(recovery), codes)
			}
			for i, r := range recovery {
				s.remember(fmt.Sprintf("recovery code %d", i), r[1], "")
			}
			d2 := s.browser()
			if code, loc := d2.login("dora", doraPW); code != http.StatusSeeOther || !strings.HasPrefix(loc, "/login/code") {
				t.Fatalf("dora's sign-in with two factors: %d %q", code, loc)
			}
			d2.page("GET", "/login/code", nil, true)
			if code, loc, _ := d2.page("POST", "/login/code", url.Values{"code": {auth.TOTPCode(totpSecret, auth.TOTPStep(now)+1)}}, true); code != http.StatusSeeOther || loc != "/" {
				t.Fatalf("the TOTP code: %d %q", code, loc)
			}
			d2.session("dora's second session")
			d3 := s.browser()
			d3.login("dora", doraPW)
			d3.page("GET", "/login/code", nil, true)
			if code, _, _ := d3.page("POST", "/login/code", url.Values{"code": {recovery[0][1]}}, true); code != http.StatusSeeOther {
				t.Fatalf("a recovery code: %d", code)
			}

			// Wrong secrets, on every door: not to be written anywhere either.
			wrongPW := s.remember("wrong password", "wrong-guess-"+hex.EncodeToString(randomBytes(t, 6)), "alice")
			forged := s.remember("forged key", forgedKey(t, third), "")
			forgedApp := s.remember("forged app password", forgedKey(t, nasKey), "nas")
			randomKey, _ := auth.NewKey("api")
			unknown := s.remember("unknown key", randomKey.Raw, "")
			for _, c := range []int{
				s.curl("/api/v1/me", "-u", "alice:"+wrongPW),
				s.curl("/api/v1/me", "-H", "Authorization: Bearer "+forged),
				s.curl("/api/v1/me", "-H", "Authorization: Bearer "+unknown),
				s.curl("/outpost/forward-auth/site", "-u", "nas:"+forgedApp),
				s.curl("/outpost/forward-auth/site", "-H", "Authorization: Bearer "+forged),
			} {
				if c != 401 {
					t.Fatalf("a wrong secret answered %d", c)
				}
			}
			if code, _ := s.browser().login("alice", wrongPW); code != http.StatusUnauthorized {
				t.Fatalf("web sign-in with a wrong password: %d", code)
			}
			for _, b := range []struct{ user, pw string }{{"alice", wrongPW}, {"nas", forgedApp}, {"ci-deploy", third}} {
				if out, code := whoami(t, ldapURL, ldapDN(b.user), b.pw); code != 49 {
					t.Fatalf("ldapwhoami as %s with a wrong secret: exit %d: %s", b.user, code, out)
				}
			}
			if _, errs, code := cli(t, p, "", "--user", "alice:"+wrongPW, "whoami"); code != 1 {
				t.Fatalf("CLI with a wrong password: exit %d %s", code, errs)
			} else {
				s.keep("CLI: --user (wrong) stderr", []byte(errs))
			}
			if _, errs, code := cli(t, p, forged, "whoami"); code != 1 {
				t.Fatalf("CLI with a forged key: exit %d %s", code, errs)
			} else {
				s.keep("CLI: --api-token (forged) stderr", []byte(errs))
			}
			if c, b := s.http("POST", "/api/v1/introspect", "Bearer "+third, strings.NewReader(url.Values{"token": {forged}}.Encode()), "application/x-www-form-urlencoded"); c != 200 || !bytes.Contains(b, []byte(`"active":false`)) {
				t.Fatalf("introspect a forged key: %d %s", c, b)
			}
			// The log canary: a name is logged when the web sign-in is
			// refused by the limiter; the scan must find it there.
			canaryUser := "canary-user-" + hex.EncodeToString(randomBytes(t, 4))
			cb := s.browser()
			for range 11 {
				cb.login(canaryUser, "not-a-secret")
			}

			// The events, through the API: every door's failures are there.
			events := s.run(adminToken, "-o", "json", "events", "list", "--limit", "0")
			for _, want := range []string{`"token_rotated"`, `"token_revoked"`, `"login_failed"`, `"method": "ldap"`, `"method": "web"`, `"method": "basic"`, `"method": "bearer"`} {
				if !strings.Contains(events, want) {
					t.Errorf("the events lack %s", want)
				}
			}
			if !strings.Contains(logs.String(), "level=DEBUG") {
				t.Error("the server did not log at debug level")
			}

			// Stop, then scan: the database while it was last written
			// (the WAL is folded into the file at a clean stop), the logs,
			// the events, every output.
			runningDB := storedPlaces(t, be)
			stopGracefully(t, p)
			var places []place
			for _, pl := range runningDB {
				places = append(places, place{name: "database (running): " + pl.name, data: pl.data})
			}
			for _, pl := range storedPlaces(t, be) {
				places = append(places, place{name: "database (stopped): " + pl.name, data: pl.data})
			}
			places = append(places, place{name: "server log (stdout and stderr, debug)", data: []byte(logs.String())})
			places = append(places, s.outputs...)

			t.Run("the scan finds what is there", func(t *testing.T) {
				probe := []secret{{what: "canary description", value: canary}, {what: "canary user", value: canaryUser}}
				got := map[string]bool{}
				for _, f := range scanFor(probe, places) {
					got[f.secret+" in "+strings.SplitN(f.place, ":", 2)[0]] = true
				}
				for _, want := range []string{"canary description in database (stopped)", "canary user in server log (stdout and stderr, debug)"} {
					if !got[want] {
						t.Errorf("the scan does not find the %s; found %v", want, got)
					}
				}
				// Every form, in a stream where it is.
				key := secret{what: "key", value: third, user: "ci-deploy"}
				for form, v := range key.forms() {
					if f := scanFor([]secret{key}, []place{{name: "x", data: []byte("…" + v + "…")}}); len(f) == 0 {
						t.Errorf("the scan misses a key %s", form)
					}
				}
			})

			findings := scanFor(s.secrets, places)
			for _, f := range findings {
				t.Errorf("found %v", f)
			}
			var scanned int
			for _, pl := range places {
				scanned += len(pl.data)
			}
			t.Logf("%d secrets, each in up to 5 forms, in %d places (%d bytes): %d findings",
				len(s.secrets), len(places), scanned, len(findings))
		})
	}
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}
