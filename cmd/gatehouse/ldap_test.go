package main_test

// End-to-end tests of LDAP with real clients: OpenLDAP's ldapwhoami and
// ldapsearch against the in-server door and against an outpost process,
// on both backends. The "done when" lines are
// TestLDAPDoneWhenInServer and TestLDAPDoneWhenOutpost.

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/testenv"
)

const ldapBase = "dc=example,dc=com"

func ldapDN(user string) string { return "cn=" + user + ",ou=users," + ldapBase }

// ldapTool runs ldapwhoami or ldapsearch and returns its output and exit code.
func ldapTool(t *testing.T, tool string, env []string, args ...string) (string, int) {
	t.Helper()
	bin := testenv.Binary(t, tool)
	cmd := command(t, bin, args...)
	// LDAPNOINIT keeps the machine's ldap.conf out, but also every
	// LDAPTLS_* variable: TLS calls pass their settings by variable instead.
	if env == nil {
		env = []string{"LDAPNOINIT=1"}
	}
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	code := exitCode(t, cmd.Run())
	return out.String(), code
}

func whoami(t *testing.T, url, dn, pw string, extra ...string) (string, int) {
	t.Helper()
	return ldapTool(t, "ldapwhoami", nil, append([]string{"-x", "-H", url, "-D", dn, "-w", pw}, extra...)...)
}

// searchUIDs lists the uid of every user dn may see, with ldapsearch.
func searchUIDs(t *testing.T, url, dn, pw string) []string {
	t.Helper()
	out, code := ldapTool(t, "ldapsearch", nil, "-x", "-H", url, "-D", dn, "-w", pw, "-b", ldapBase, "-LLL", "(objectClass=inetOrgPerson)", "uid")
	if code != 0 {
		t.Fatalf("ldapsearch as %s: exit %d\n%s", dn, code, out)
	}
	var uids []string
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "uid: "); ok {
			uids = append(uids, v)
		}
	}
	slices.Sort(uids)
	return uids
}

// ldapFixture creates, with the CLI, provider corp, bot (an app password
// and an API token) and reader (an app password and a role that may
// search the whole directory). It returns bot's app password and API
// token, and reader's app password.
func ldapFixture(t *testing.T, p *proc) (botKey, botToken, readerKey string) {
	t.Helper()
	mustCLI(t, p, adminToken, "ldap-provider", "create", "corp", "--base-dn", ldapBase)
	botKey = strings.TrimSpace(mustCLI(t, p, adminToken, "sa", "create", "bot"))
	botToken = strings.TrimSpace(mustCLI(t, p, adminToken, "token", "create", "--user", "bot", "--intent", "api"))
	mustCLI(t, p, adminToken, "role", "create", "dir-reader", "--permission", "ldap.search_full_directory@ldap/corp")
	readerKey = strings.TrimSpace(mustCLI(t, p, adminToken, "sa", "create", "reader", "--role", "dir-reader"))
	for _, k := range []string{botKey, botToken, readerKey} {
		if !keyRegexp.MatchString(k) {
			t.Fatalf("not a key: %q", k)
		}
	}
	return botKey, botToken, readerKey
}

// appPasswordID returns the identifier of a user's app password.
func appPasswordID(t *testing.T, p *proc, user string) string {
	t.Helper()
	var toks []map[string]any
	if err := json.Unmarshal([]byte(mustCLI(t, p, adminToken, "-o", "json", "token", "list", "--user", user, "--intent", "app_password")), &toks); err != nil || len(toks) == 0 {
		t.Fatalf("token list: %v %v", toks, err)
	}
	return toks[0]["identifier"].(string)
}

// doneWhen is the three "done when" lines against one LDAP door.
func doneWhen(t *testing.T, p *proc, url, botKey, botToken, readerKey string, revoke func()) {
	t.Helper()
	// 1. ldapwhoami answers with the bot's DN; with an API token or a
	// wrong password it fails with 49.
	out, code := whoami(t, url, ldapDN("bot"), botKey)
	if code != 0 || strings.TrimSpace(out) != "dn:"+ldapDN("bot") {
		t.Fatalf("ldapwhoami: exit %d: %s", code, out)
	}
	for what, pw := range map[string]string{"API token": botToken, "wrong password": "not-the-app-password"} {
		out, code := whoami(t, url, ldapDN("bot"), pw)
		if code != 49 || !strings.Contains(out, "Invalid credentials (49)") {
			t.Fatalf("ldapwhoami with %s: exit %d: %s", what, code, out)
		}
	}
	// 2. With the permission, ldapsearch lists every user; without, only itself.
	if got := searchUIDs(t, url, ldapDN("reader"), readerKey); !slices.Equal(got, []string{"admin", "bot", "reader"}) &&
		!slices.Equal(got, []string{"admin", "bot", "outpost-rack1", "reader"}) {
		t.Fatalf("reader sees %v", got)
	}
	if got := searchUIDs(t, url, ldapDN("bot"), botKey); !slices.Equal(got, []string{"bot"}) {
		t.Fatalf("bot sees %v", got)
	}
	// 3. Revoking the app password makes the next bind fail.
	revoke()
	out, code = whoami(t, url, ldapDN("bot"), botKey)
	if code != 49 {
		t.Fatalf("ldapwhoami after revocation: exit %d: %s", code, out)
	}
}

func TestLDAPDoneWhenInServer(t *testing.T) {
	testenv.Binary(t, "ldapwhoami")
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			dir := t.TempDir()
			certFile, keyFile := writeCert(t, dir)
			p := startServer(t, be, "GATEHOUSE_LDAP_PROVIDER=corp", "GATEHOUSE_LDAP_LISTEN=127.0.0.1:0", "GATEHOUSE_LDAPS_LISTEN=127.0.0.1:0",
				"GATEHOUSE_LDAP_TLS_CERT="+certFile, "GATEHOUSE_LDAP_TLS_KEY="+keyFile)
			ldapAddr, ldapsAddr := p.ldapDoor(t, false), p.ldapDoor(t, true)
			// The door is up before its provider exists: binds are unavailable.
			if out, code := whoami(t, "ldap://"+ldapAddr, ldapDN("bot"), "whatever-password"); code != 52 {
				t.Fatalf("before the provider exists: exit %d: %s", code, out)
			}
			botKey, botToken, readerKey := ldapFixture(t, p)
			url := "ldap://" + ldapAddr
			// StartTLS and LDAPS with the configured certificate.
			tlsEnv := []string{"LDAPTLS_CACERT=" + certFile}
			if out, code := ldapTool(t, "ldapwhoami", tlsEnv, "-x", "-ZZ", "-H", url, "-D", ldapDN("bot"), "-w", botKey); code != 0 || !strings.Contains(out, "dn:"+ldapDN("bot")) {
				t.Fatalf("StartTLS: exit %d: %s", code, out)
			}
			if out, code := ldapTool(t, "ldapwhoami", tlsEnv, "-x", "-H", "ldaps://"+ldapsAddr, "-D", ldapDN("bot"), "-w", botKey); code != 0 || !strings.Contains(out, "dn:"+ldapDN("bot")) {
				t.Fatalf("LDAPS: exit %d: %s", code, out)
			}
			// Read-only: ldapmodify-style requests get unwillingToPerform.
			if bin, err := exec.LookPath("ldapdelete"); err == nil {
				out, _ := command(t, bin, "-x", "-H", url, "-D", ldapDN("reader"), "-w", readerKey, ldapDN("bot")).CombinedOutput()
				if !strings.Contains(string(out), "(53)") {
					t.Fatalf("ldapdelete: %s", out)
				}
			}
			id := appPasswordID(t, p, "bot")
			doneWhen(t, p, url, botKey, botToken, readerKey, func() { mustCLI(t, p, adminToken, "token", "revoke", id) })
			// Failed binds are events; no event holds a secret.
			evs := mustCLI(t, p, adminToken, "-o", "json", "events", "list", "--action", "login_failed")
			if !strings.Contains(evs, `"method": "ldap"`) || strings.Contains(evs, botKey) || strings.Contains(evs, botToken) {
				t.Fatalf("login_failed events: %s", evs)
			}
			if res, err := http.Get(p.url + "/metrics"); err != nil {
				t.Fatal(err)
			} else {
				m, _ := io.ReadAll(res.Body)
				res.Body.Close()
				for _, series := range []string{`method="ldap",outcome="success"`, `method="ldap",outcome="failure"`} {
					if !strings.Contains(string(m), series) {
						t.Errorf("/metrics lacks %s", series)
					}
				}
			}
			for _, secret := range []string{botKey, botToken, readerKey, "not-the-app-password"} {
				if strings.Contains(p.stderr.String(), secret) || bytes.Contains(be.scan(t), []byte(secret)) {
					t.Fatal("a secret is in the server's log or database")
				}
			}
		})
	}
}

func TestLDAPDoneWhenOutpost(t *testing.T) {
	testenv.Binary(t, "ldapwhoami")
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			p := startServer(t, be)
			botKey, botToken, readerKey := ldapFixture(t, p)
			key := strings.TrimSpace(mustCLI(t, p, adminToken, "outpost", "create", "rack1", "--provider", "corp"))
			if !keyRegexp.MatchString(key) {
				t.Fatalf("outpost create printed %q", key)
			}
			o := startOutpost(t, p, "corp", key)
			url := "ldap://" + o.addr
			id := appPasswordID(t, p, "bot")
			doneWhen(t, p, url, botKey, botToken, readerKey, func() { mustCLI(t, p, adminToken, "token", "revoke", id) })

			// A disabled account and a removed permission stop working on
			// the running outpost, within the feed's latency (milliseconds;
			// a busy machine is given 10 s).
			mustCLI(t, p, adminToken, "role", "unassign", "dir-reader", "--user", "reader")
			within(t, 10*time.Second, "the permission removal", func() bool {
				return slices.Equal(searchUIDs(t, url, ldapDN("reader"), readerKey), []string{"reader"})
			})
			mustCLI(t, p, adminToken, "sa", "disable", "reader")
			within(t, 10*time.Second, "the disabled account", func() bool {
				_, code := whoami(t, url, ldapDN("reader"), readerKey)
				return code == 49
			})
			// The outpost's failures are the server's events, with the
			// LDAP client's address.
			evs := mustCLI(t, p, adminToken, "-o", "json", "events", "list", "--action", "login_failed", "--actor", "reader")
			if !strings.Contains(evs, `"outpost": "rack1"`) || !strings.Contains(evs, `"client_ip": "127.0.0.1"`) {
				t.Fatalf("events: %s", evs)
			}
		})
	}
}

// TestOutpostRotatesItsToken: an outpost whose token lives 12 seconds
// rotates it at two thirds, writes the new key to its token file, and
// goes on serving past the first key's expiry without a restart.
func TestOutpostRotatesItsToken(t *testing.T) {
	testenv.Binary(t, "ldapwhoami")
	be := backends(t)[0]
	p := startServer(t, be)
	botKey, _, _ := ldapFixture(t, p)
	key := strings.TrimSpace(mustCLI(t, p, adminToken, "outpost", "create", "rack1", "--provider", "corp", "--ttl", "12s"))
	start := time.Now()
	o := startOutpost(t, p, "corp", key)
	within(t, 15*time.Second, "the rotation", func() bool {
		b, _ := os.ReadFile(o.tokenFile)
		return strings.TrimSpace(string(b)) != key
	})
	b, _ := os.ReadFile(o.tokenFile)
	newKey := strings.TrimSpace(string(b))
	if !keyRegexp.MatchString(newKey) {
		t.Fatalf("the token file holds %q", newKey)
	}
	if st, _ := os.Stat(o.tokenFile); st.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode %v", st.Mode())
	}
	if !strings.Contains(mustCLI(t, p, adminToken, "events", "list", "--action", "token_rotated", "--actor", "outpost-rack1"), "outpost-rack1") {
		t.Fatal("no token_rotated event by the outpost")
	}
	time.Sleep(time.Until(start.Add(13 * time.Second)))
	if c := curl(t, p, key, "/api/v1/me"); c != 401 {
		t.Fatalf("the first key after its expiry: %d", c)
	}
	if out, code := whoami(t, "ldap://"+o.addr, ldapDN("bot"), botKey); code != 0 {
		t.Fatalf("the outpost after its first key expired: exit %d: %s\n%s", code, out, o.stderr.String())
	}
	if strings.Contains(o.stderr.String(), key) || strings.Contains(o.stderr.String(), newKey) {
		t.Fatal("the outpost logged a key")
	}
}

// outpostProc is a running "gatehouse ldap".
type outpostProc struct {
	*proc
	addr      string
	tokenFile string
}

// startOutpost runs an outpost for provider with key, on a port of its
// own choosing, and waits until it serves.
func startOutpost(t *testing.T, p *proc, provider, key string) *outpostProc {
	t.Helper()
	tokenFile := filepath.Join(t.TempDir(), "outpost-token")
	if err := os.WriteFile(tokenFile, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "ldap", "--server", p.url, "--provider", provider, "--listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "GATEHOUSE_API_TOKEN_FILE="+tokenFile)
	o := &outpostProc{proc: launch(t, cmd, false), tokenFile: tokenFile}
	o.addr = o.listening(t, "LDAP outpost is serving", "ldaps", "false")
	return o
}

// within polls fn until it holds, failing after d.
func within(t *testing.T, d time.Duration, what string, fn func() bool) {
	t.Helper()
	start := time.Now()
	for !fn() {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("%s: after %s", what, time.Since(start).Round(time.Millisecond))
}

// writeCert writes a self-signed certificate for 127.0.0.1 and its key.
func writeCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
