// Package fedtest is an in-process OpenID Connect issuer for tests:
// discovery and JWKS endpoints over httptest, RSA and P-256 keys made
// on the spot, key rotation, an outage switch, and ID tokens signed as
// the test asks (forged ones included).
package fedtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

type key struct {
	alg  jose.SignatureAlgorithm
	priv any
	pub  any
}

// Issuer is the fake issuer.
type Issuer struct {
	URL    string
	Server *httptest.Server

	mu      sync.Mutex
	keys    map[string]key
	order   []string
	current string

	down     atomic.Bool
	JWKSHits atomic.Int64
}

// New starts an issuer (plain HTTP: the server under test runs with
// --oidc-allow-insecure-issuers) with one RSA key, "k1".
func New(t testing.TB) *Issuer {
	t.Helper()
	i := &Issuer{keys: map[string]key{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		if i.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": i.URL, "jwks_uri": i.URL + "/jwks",
			"id_token_signing_alg_values_supported": []string{"RS256", "ES256"}})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		i.JWKSHits.Add(1)
		if i.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte(i.JWKS()))
	})
	i.Server = httptest.NewServer(mux)
	t.Cleanup(i.Server.Close)
	i.URL = i.Server.URL
	i.AddKey(t, "k1", jose.RS256)
	return i
}

// AddKey makes a key (RSA for RS*, P-256 for ES256) and signs with it
// from now on; older keys stay published.
func (i *Issuer) AddKey(t testing.TB, kid string, alg jose.SignatureAlgorithm) {
	t.Helper()
	var k key
	switch alg {
	case jose.ES256:
		p, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		k = key{alg: alg, priv: p, pub: &p.PublicKey}
	default:
		p, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		k = key{alg: alg, priv: p, pub: &p.PublicKey}
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	i.keys[kid] = k
	i.order = append(i.order, kid)
	i.current = kid
}

// RemoveKey stops publishing a key.
func (i *Issuer) RemoveKey(kid string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	delete(i.keys, kid)
}

// SetDown makes both endpoints answer 503.
func (i *Issuer) SetDown(down bool) { i.down.Store(down) }

// JWKS is the public key set.
func (i *Issuer) JWKS() string {
	i.mu.Lock()
	defer i.mu.Unlock()
	var set jose.JSONWebKeySet
	for _, kid := range i.order {
		if k, ok := i.keys[kid]; ok {
			set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.pub, KeyID: kid, Algorithm: string(k.alg), Use: "sig"})
		}
	}
	b, _ := json.Marshal(set)
	return string(b)
}

// Claims are a valid token's claims at now for aud, with extra added
// (a nil value removes a claim).
func (i *Issuer) Claims(now time.Time, aud string, extra map[string]any) map[string]any {
	var b [12]byte
	_, _ = rand.Read(b[:])
	c := map[string]any{"iss": i.URL, "aud": aud, "sub": "repo:acme/app:ref:refs/heads/main",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "jti": fmt.Sprintf("%x", b)}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// Sign signs claims with the current key.
func (i *Issuer) Sign(t testing.TB, claims map[string]any) string {
	i.mu.Lock()
	kid := i.current
	i.mu.Unlock()
	return i.SignWith(t, kid, claims)
}

// SignWith signs claims with the key kid (its header names kid even when
// the key is unknown: then a fresh key signs).
func (i *Issuer) SignWith(t testing.TB, kid string, claims map[string]any) string {
	t.Helper()
	i.mu.Lock()
	k, ok := i.keys[kid]
	i.mu.Unlock()
	if !ok {
		p, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		k = key{alg: jose.ES256, priv: p}
	}
	return sign(t, k.alg, k.priv, kid, claims)
}

func sign(t testing.TB, alg jose.SignatureAlgorithm, priv any, kid string, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: priv}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// ForgeHS256 signs claims with HMAC, the secret being the current RSA
// key's public modulus: the classic algorithm-confusion forgery.
func (i *Issuer) ForgeHS256(t testing.TB, claims map[string]any) string {
	i.mu.Lock()
	k := i.keys[i.current]
	i.mu.Unlock()
	pub, _ := k.pub.(*rsa.PublicKey)
	secret := []byte("fallback-secret-of-32-bytes-long!")
	if pub != nil {
		secret = pub.N.Bytes()
	}
	return sign(t, jose.HS256, secret, i.current, claims)
}

// ForgeNone makes an unsigned token (alg none).
func ForgeNone(claims map[string]any) string {
	h, _ := json.Marshal(map[string]string{"alg": "none", "typ": "JWT"})
	p, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p) + "."
}

// SignForeign signs claims with a key the issuer never published, under
// the current kid (a bad signature).
func (i *Issuer) SignForeign(t testing.TB, claims map[string]any) string {
	t.Helper()
	p, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	i.mu.Lock()
	kid := i.current
	i.mu.Unlock()
	return sign(t, jose.RS256, p, kid, claims)
}
