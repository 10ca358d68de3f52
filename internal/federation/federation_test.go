package federation_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/clock"
	"github.com/gatehouse/gatehouse/internal/federation"
	"github.com/gatehouse/gatehouse/internal/federation/fedtest"
)

func TestCheckURL(t *testing.T) {
	for _, u := range []string{"http://issuer.example", "https://127.0.0.1/x", "https://[::1]/", "https://10.1.2.3/",
		"https://169.254.169.254/latest/meta-data", "https://localhost/", "https://a.localhost/", "https://user:pw@issuer.example/",
		"https://issuer.example/#frag", "issuer.example", "https://100.64.0.1/", "https://[fe80::1]/", "https://0.0.0.0/"} {
		if federation.CheckURL(u, false) == nil {
			t.Errorf("%s was allowed", u)
		}
	}
	for _, u := range []string{"https://token.actions.githubusercontent.com", "https://gitlab.com", "https://8.8.8.8/keys"} {
		if err := federation.CheckURL(u, false); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
	if federation.CheckURL("http://127.0.0.1:8080", true) != nil {
		t.Error("insecure: plain HTTP on loopback refused")
	}
}

// The address is checked when dialled, after resolution: a name that
// resolves to loopback (localhost, through the resolver, as a rebinding
// name would) is refused, and so is an address literal that slipped past
// the URL check; a redirect to one is refused too.
func TestSSRFRefusedAtDialTime(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(`{}`)) }))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	c := federation.NewHTTPClient(false)
	for _, target := range []string{"https://localhost:" + port + "/", "https://127.0.0.1:" + port + "/", "https://[::1]:" + port + "/"} {
		_, err := c.Get(target)
		if err == nil || !errors.Is(err, federation.ErrForbiddenAddress) {
			t.Errorf("%s: %v", target, err)
		}
	}
	for _, a := range []string{"127.0.0.1", "10.0.0.1", "192.168.1.1", "172.16.0.1", "169.254.169.254", "::1", "fe80::1", "fd00::1", "::ffff:127.0.0.1", "100.64.1.1"} {
		if federation.PublicAddress(netip.MustParseAddr(a)) {
			t.Errorf("%s is public?", a)
		}
	}
	// With the verifier: an issuer on loopback is never fetched from.
	v := federation.New(federation.Options{})
	_, err := v.Verify(context.Background(), federation.Issuer{Name: "x", URL: "https://localhost:" + port, AllowedAlgs: federation.DefaultAlgs},
		"eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJpc3MiOiJ4In0.c2ln")
	if federation.ReasonOf(err) != federation.ReasonKeysUnavailable && federation.ReasonOf(err) != federation.ReasonMalformed {
		t.Fatalf("loopback issuer: %v", err)
	}
	if v.Fetches("x") > 1 {
		t.Fatal("fetched more than once")
	}
}

func TestVerifyInlineKeysAndBounds(t *testing.T) {
	iss := fedtest.New(t)
	clk := clock.NewFake(time.Now())
	v := federation.New(federation.Options{Clock: clk})
	is := federation.Issuer{Name: "inline", URL: iss.URL, JWKS: iss.JWKS(), AllowedAlgs: federation.DefaultAlgs, Leeway: time.Minute}
	tok, err := v.Verify(context.Background(), is, iss.Sign(t, iss.Claims(clk.Now(), "aud", map[string]any{"n": json.Number("42")})))
	if err != nil || tok.JTI == "" || tok.Claims["n"] != json.Number("42") {
		t.Fatalf("%v %+v", err, tok)
	}
	if v.Fetches("inline") != 0 {
		t.Fatal("inline keys were fetched")
	}
	// Within the leeway: accepted; beyond: refused.
	clk.Advance(5*time.Minute + 30*time.Second)
	if _, err := v.Verify(context.Background(), is, iss.Sign(t, iss.Claims(clk.Now().Add(-5*time.Minute-30*time.Second), "aud", nil))); err != nil {
		t.Fatalf("within leeway: %v", err)
	}
	if _, err := federation.ParseJWKS(`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`); err == nil {
		t.Fatal("a symmetric key was taken as inline keys")
	}
	if _, err := v.Verify(context.Background(), is, strings.Repeat("a", federation.MaxTokenSize+1)); federation.ReasonOf(err) != federation.ReasonMalformed {
		t.Fatal("an oversized token")
	}
	for _, alg := range []string{"none", "HS256", "hs512", "RS1"} {
		if federation.CheckAlg(alg) == "" {
			t.Errorf("%s allowed", alg)
		}
	}
}

func TestMatch(t *testing.T) {
	claims := map[string]any{"repository_id": "42", "n": json.Number("7"), "b": true, "l": []any{"x"}, "o": map[string]any{"a": "b"}}
	cases := []struct {
		conds  map[string][]string
		failed string
		ok     bool
	}{
		{map[string][]string{"repository_id": {"42"}}, "", true},
		{map[string][]string{"repository_id": {"41", "42"}, "n": {"7"}, "b": {"true"}}, "", true},
		{map[string][]string{"repository_id": {"4"}}, "repository_id", false},
		{map[string][]string{"missing": {""}}, "missing", false},
		{map[string][]string{"l": {"x"}}, "l", false},
		{map[string][]string{"o": {"map[a:b]"}}, "o", false},
		{map[string][]string{}, "", false},
		{map[string][]string{"repository_id": {"42 "}}, "repository_id", false},
	}
	for i, c := range cases {
		failed, ok := federation.Match(c.conds, claims)
		if failed != c.failed || ok != c.ok {
			t.Errorf("%d: %q %v", i, failed, ok)
		}
	}
}

// FuzzMatch: the matcher never panics, and a match means every named
// claim is there with one of its values, exactly.
func FuzzMatch(f *testing.F) {
	f.Add(`{"repository_id":"42","ref":"refs/heads/main"}`, "repository_id", "42")
	f.Add(`{"a":1.0,"b":[1],"c":{"d":"e"}}`, "a", "1")
	f.Add(`{"a":null}`, "a", "")
	f.Fuzz(func(t *testing.T, claimsJSON, name, value string) {
		dec := json.NewDecoder(strings.NewReader(claimsJSON))
		dec.UseNumber()
		var claims map[string]any
		if dec.Decode(&claims) != nil {
			return
		}
		conds := map[string][]string{name: {value}}
		_, ok := federation.Match(conds, claims)
		v, present := claims[name]
		got, scalar := federation.ClaimValue(v)
		if ok != (present && scalar && got == value) {
			t.Fatalf("Match(%q=%q) = %v for %s", name, value, ok, claimsJSON)
		}
	})
}
