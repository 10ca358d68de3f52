package main_test

// HTTPS and LDAPS of the real binary, asked by the real curl and by Go's
// TLS client: Mozilla's "intermediate" profile (TLS 1.2 and 1.3; in 1.2
// only ECDHE with AES-GCM or ChaCha20-Poly1305; X25519, P-256, P-384 and
// the post-quantum hybrids), HSTS on every HTTPS answer.

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/testenv"
)

func TestTLSModernConfiguration(t *testing.T) {
	curlBin := testenv.Binary(t, "curl")
	dir := t.TempDir()
	certFile, keyFile := writeCert(t, dir)
	pemBytes, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pemBytes)

	cmd := exec.Command(binary, "serve")
	cmd.Env = append(os.Environ(), "GATEHOUSE_LISTEN=127.0.0.1:0", "GATEHOUSE_LOG_FORMAT=text", "GATEHOUSE_BOOTSTRAP_TOKEN="+adminToken,
		"GATEHOUSE_DATABASE=sqlite:"+filepath.Join(dir, "gatehouse.db"),
		"GATEHOUSE_TLS_CERT="+certFile, "GATEHOUSE_TLS_KEY="+keyFile,
		// The LDAP door takes the HTTPS certificate when it has none of its own.
		"GATEHOUSE_LDAP_PROVIDER=corp", "GATEHOUSE_LDAP_LISTEN=127.0.0.1:0", "GATEHOUSE_LDAPS_LISTEN=127.0.0.1:0")
	p := launch(t, cmd, false)
	addr, ldapsAddr := p.listening(t, "gatehouse is serving", "tls", "true"), p.ldapDoor(t, true)
	base := "https://" + addr
	p.url = base
	p.waitReady(t, &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}})

	// curl: -v shows the negotiated protocol and suite, -D - the headers.
	run := func(args ...string) (string, bool) {
		t.Helper()
		full := append([]string{"-sS", "-v", "-o", "/dev/null", "-D", "-", "--max-time", "10", "--cacert", certFile}, args...)
		out, err := command(t, curlBin, full...).CombinedOutput()
		return string(out), err == nil
	}
	t.Run("curl", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			args []string
			want string // in curl's verbose output
		}{
			{"TLS 1.2", []string{"--tlsv1.2", "--tls-max", "1.2"}, "SSL connection using TLSv1.2 / ECDHE-ECDSA-"},
			{"TLS 1.3", []string{"--tlsv1.3"}, "SSL connection using TLSv1.3 / TLS_AES_"},
		} {
			out, ok := run(append(tc.args, base+"/healthz")...)
			if !ok || !strings.Contains(out, tc.want) || !strings.Contains(out, "HTTP/") {
				t.Fatalf("%s: want a connection (%q):\n%s", tc.name, tc.want, out)
			}
			if !strings.Contains(strings.ToLower(out), "strict-transport-security: max-age=") {
				t.Errorf("%s: no HSTS header on the HTTPS answer:\n%s", tc.name, out)
			}
		}
		// Refusals must come from the server: curl is told to allow
		// what it would refuse by itself (@SECLEVEL=0), and the alert the
		// server sends is checked.
		for _, tc := range []struct {
			name  string
			args  []string
			alert string
		}{
			{"TLS 1.1", []string{"--tlsv1.0", "--tls-max", "1.1", "--ciphers", "DEFAULT@SECLEVEL=0"}, "protocol version"},
			{"TLS 1.0", []string{"--tlsv1.0", "--tls-max", "1.0", "--ciphers", "DEFAULT@SECLEVEL=0"}, "protocol version"},
			// ECDHE, but CBC with SHA-1: in Go's defaults, not in the profile.
			{"ECDHE-ECDSA-AES128-SHA", []string{"--tls-max", "1.2", "--ciphers", "ECDHE-ECDSA-AES128-SHA"}, "handshake failure"},
			{"ECDHE-ECDSA-AES256-SHA", []string{"--tls-max", "1.2", "--ciphers", "ECDHE-ECDSA-AES256-SHA"}, "handshake failure"},
			{"ECDHE-ECDSA-AES128-SHA256", []string{"--tls-max", "1.2", "--ciphers", "ECDHE-ECDSA-AES128-SHA256"}, "handshake failure"},
		} {
			out, ok := run(append(tc.args, base+"/healthz")...)
			if ok || !strings.Contains(out, tc.alert) {
				t.Errorf("%s: want the server to refuse (%q):\n%s", tc.name, tc.alert, out)
			}
		}
		// Plain HTTP to the HTTPS port: Go answers a bare 400 and no API.
		out, _ := command(t, curlBin, "-sS", "-D", "-", "--max-time", "10", "http://"+addr+"/api/v1/openapi.json").CombinedOutput()
		if !strings.Contains(string(out), " 400 ") || strings.Contains(string(out), "openapi") {
			t.Errorf("plain HTTP to the HTTPS port: want 400 and nothing else:\n%s", out)
		}
	})

	t.Run("go", func(t *testing.T) {
		for _, door := range []struct{ name, addr string }{{"https", addr}, {"ldaps", ldapsAddr}} {
			dial := func(c *tls.Config) (tls.ConnectionState, error) {
				c.RootCAs, c.ServerName = roots, "127.0.0.1"
				conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", door.addr, c)
				if err != nil {
					return tls.ConnectionState{}, err
				}
				defer conn.Close()
				return conn.ConnectionState(), nil
			}
			// A current client gets TLS 1.3 with the post-quantum hybrid.
			if cs, err := dial(&tls.Config{}); err != nil || cs.Version != tls.VersionTLS13 || cs.CurveID != tls.X25519MLKEM768 {
				t.Errorf("%s default client: %v, %s, %s", door.name, err, tls.VersionName(cs.Version), cs.CurveID)
			}
			// TLS 1.2: an ECDHE AEAD suite and an intermediate curve.
			for _, curve := range []tls.CurveID{tls.X25519, tls.CurveP256, tls.CurveP384} {
				cs, err := dial(&tls.Config{MaxVersion: tls.VersionTLS12, CurvePreferences: []tls.CurveID{curve}})
				if err != nil || cs.Version != tls.VersionTLS12 || cs.CurveID != curve ||
					(cs.CipherSuite != tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 && cs.CipherSuite != tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256) {
					t.Errorf("%s TLS 1.2 with %s: %v, %s, %s", door.name, curve, err, tls.CipherSuiteName(cs.CipherSuite), cs.CurveID)
				}
			}
			for _, bad := range []struct {
				name string
				conf *tls.Config
			}{
				{"TLS 1.1", &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}},
				{"ECDHE with AES-CBC-SHA", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{
					tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA}}},
				{"P-521 only", &tls.Config{CurvePreferences: []tls.CurveID{tls.CurveP521}}},
			} {
				if cs, err := dial(bad.conf); err == nil {
					t.Errorf("%s accepted %s: %s %s %s", door.name, bad.name, tls.VersionName(cs.Version), tls.CipherSuiteName(cs.CipherSuite), cs.CurveID)
				}
			}
		}
	})
}
