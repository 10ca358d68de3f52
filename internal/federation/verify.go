package federation

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/internal/clock"
)

// Options tune an OIDC verifier.
type Options struct {
	Clock clock.Clock
	Log   *slog.Logger
	// AllowInsecure allows plain HTTP and any address (tests only).
	AllowInsecure bool
	// HTTPClient replaces the fetching client (tests).
	HTTPClient *http.Client
	// RefetchEvery bounds fetches per issuer when an unknown kid is seen
	// (default a minute): an attacker must not make us hammer an issuer.
	RefetchEvery time.Duration
	// MaxAge is how long fetched keys are used before they are fetched
	// again on the next verification (default an hour).
	MaxAge time.Duration
}

// OIDC is the Verifier: go-oidc over cached, carefully fetched keys.
type OIDC struct {
	opts   Options
	client *http.Client

	mu   sync.Mutex
	sets map[string]*keySet // by Issuer.cacheKey
	// fetches counts fetches of JWK Sets (tests).
	fetches map[string]int
}

// New builds the verifier.
func New(opts Options) *OIDC {
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.RefetchEvery <= 0 {
		opts.RefetchEvery = time.Minute
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = time.Hour
	}
	c := opts.HTTPClient
	if c == nil {
		c = NewHTTPClient(opts.AllowInsecure)
	}
	return &OIDC{opts: opts, client: c, sets: map[string]*keySet{}, fetches: map[string]int{}}
}

// Fetches reports how many times the issuer's keys were fetched.
func (v *OIDC) Fetches(issuerName string) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.fetches[issuerName]
}

// Forget drops an issuer's cached keys (it was changed or deleted).
func (v *OIDC) Forget(issuerName string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for k := range v.sets {
		if strings.HasPrefix(k, issuerName+"\x00") {
			delete(v.sets, k)
		}
	}
}

// keySet is one issuer's keys: the last good set, when it was fetched,
// and when a fetch was last tried (successful or not).
type keySet struct {
	mu          sync.Mutex
	keys        []jose.JSONWebKey
	fetchedAt   time.Time
	attemptedAt time.Time
	jwksURL     string // discovered
}

func (v *OIDC) set(is Issuer) *keySet {
	v.mu.Lock()
	defer v.mu.Unlock()
	k := is.cacheKey()
	s, ok := v.sets[k]
	if !ok {
		// An update replaced the source: drop the old cache.
		for old := range v.sets {
			if strings.HasPrefix(old, is.Name+"\x00") {
				delete(v.sets, old)
			}
		}
		s = &keySet{}
		v.sets[k] = s
	}
	return s
}

// ParseJWKS reads an inline JWK Set: public signing keys only (a private
// or symmetric key is a secret, which gatehouse does not store).
func ParseJWKS(raw string) ([]jose.JSONWebKey, error) {
	var set jose.JSONWebKeySet
	dec := json.NewDecoder(strings.NewReader(raw))
	if err := dec.Decode(&set); err != nil {
		return nil, fmt.Errorf("not a JWK Set: %w", err)
	}
	if len(set.Keys) == 0 {
		return nil, errors.New("holds no key")
	}
	for i, k := range set.Keys {
		if !k.Valid() {
			return nil, fmt.Errorf("key %d is not valid", i)
		}
		if !k.IsPublic() {
			return nil, fmt.Errorf("key %d is not a public key: give public keys only", i)
		}
	}
	return set.Keys, nil
}

// keys returns the issuer's keys, fetching them when there are none yet,
// when they are older than MaxAge, or when kid is unknown; fetches are at
// most one per RefetchEvery, and a failed fetch keeps the last good keys.
func (v *OIDC) keys(ctx context.Context, is Issuer, kid string) ([]jose.JSONWebKey, error) {
	if is.JWKS != "" {
		return ParseJWKS(is.JWKS)
	}
	s := v.set(is)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := v.opts.Clock.Now()
	have := s.fetchedAt.IsZero() == false
	stale := !have || now.Sub(s.fetchedAt) >= v.opts.MaxAge || (kid != "" && !slices.ContainsFunc(s.keys, func(k jose.JSONWebKey) bool { return k.KeyID == kid }))
	if stale && (s.attemptedAt.IsZero() || now.Sub(s.attemptedAt) >= v.opts.RefetchEvery) {
		s.attemptedAt = now
		keys, jwksURL, err := v.fetch(ctx, is, s.jwksURL)
		if err != nil {
			v.opts.Log.Warn("fetch OIDC issuer keys; keeping the last good ones", "issuer", is.Name, "err", err)
		} else {
			s.keys, s.fetchedAt, s.jwksURL = keys, now, jwksURL
		}
	}
	if s.fetchedAt.IsZero() {
		return nil, refused(ReasonKeysUnavailable, "the issuer's keys could not be fetched")
	}
	return s.keys, nil
}

func (v *OIDC) fetch(ctx context.Context, is Issuer, discovered string) ([]jose.JSONWebKey, string, error) {
	v.mu.Lock()
	v.fetches[is.Name]++
	v.mu.Unlock()
	// Not the request's context: a client that goes away must not leave
	// the issuer's keys unfetched for a minute.
	ctx = context.WithoutCancel(ctx)
	jwksURL := is.JWKSURL
	if jwksURL == "" {
		jwksURL = discovered
	}
	if jwksURL == "" {
		var doc struct {
			Issuer  string `json:"issuer"`
			JWKSURI string `json:"jwks_uri"`
		}
		if err := get(ctx, v.client, strings.TrimSuffix(is.URL, "/")+"/.well-known/openid-configuration", v.opts.AllowInsecure, &doc); err != nil {
			return nil, "", fmt.Errorf("discovery: %w", err)
		}
		if doc.Issuer != is.URL {
			return nil, "", fmt.Errorf("discovery: the document names issuer %q, not %q", truncate(doc.Issuer, 200), is.URL)
		}
		if doc.JWKSURI == "" {
			return nil, "", errors.New("discovery: no jwks_uri")
		}
		jwksURL = doc.JWKSURI
	}
	var set jose.JSONWebKeySet
	if err := get(ctx, v.client, jwksURL, v.opts.AllowInsecure, &set); err != nil {
		return nil, "", fmt.Errorf("keys: %w", err)
	}
	var keys []jose.JSONWebKey
	for _, k := range set.Keys {
		if k.Valid() && k.IsPublic() && k.Use != "enc" {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, "", errors.New("keys: the JWK Set holds no public signing key")
	}
	return keys, jwksURL, nil
}

// Verify checks rawIDToken against the issuer: its algorithm, signature
// (go-oidc, with the issuer's keys), iss, and exp, nbf and iat with the
// issuer's leeway on the injected clock. The audience and the claims are
// the trust policies' to check.
func (v *OIDC) Verify(ctx context.Context, is Issuer, raw string) (*Token, error) {
	if len(raw) > MaxTokenSize {
		return nil, refused(ReasonMalformed, "longer than %d bytes", MaxTokenSize)
	}
	algs := make([]jose.SignatureAlgorithm, 0, len(is.AllowedAlgs))
	for _, a := range is.AllowedAlgs {
		if CheckAlg(a) == "" {
			algs = append(algs, jose.SignatureAlgorithm(a))
		}
	}
	jws, err := jose.ParseSigned(raw, algs)
	if err != nil {
		if alg := headerAlg(raw); alg != "" && !slices.Contains(is.AllowedAlgs, alg) {
			return nil, refused(ReasonAlgNotAllowed, "alg %q is not allowed by the issuer", truncate(alg, 20))
		}
		return nil, refused(ReasonMalformed, "not a signed JWT")
	}
	if len(jws.Signatures) != 1 {
		return nil, refused(ReasonMalformed, "not exactly one signature")
	}
	h := jws.Signatures[0].Header
	keys, err := v.keys(ctx, is, h.KeyID)
	if err != nil {
		return nil, err
	}
	var pubs []crypto.PublicKey
	for _, k := range keys {
		if (h.KeyID == "" || k.KeyID == h.KeyID) && (k.Algorithm == "" || k.Algorithm == h.Algorithm) {
			pubs = append(pubs, k.Key)
		}
	}
	if len(pubs) == 0 {
		return nil, refused(ReasonUnknownKey, "no key of the issuer has kid %q", truncate(h.KeyID, 100))
	}
	leeway := is.Leeway
	now := v.opts.Clock.Now()
	verifier := oidc.NewVerifier(is.URL, &oidc.StaticKeySet{PublicKeys: pubs}, &oidc.Config{
		SkipClientIDCheck:    true, // each trust policy checks its own audience
		SupportedSigningAlgs: is.AllowedAlgs,
		// go-oidc refuses exp before Now: shifted back by the leeway, exp
		// gets the issuer's leeway on the injected clock.
		Now: func() time.Time { return now.Add(-leeway) },
	})
	idt, err := verifier.Verify(ctx, raw)
	if err != nil {
		var exp *oidc.TokenExpiredError
		switch {
		case errors.As(err, &exp):
			return nil, refused(ReasonExpired, "expired at %s", exp.Expiry.UTC().Format(time.RFC3339))
		case strings.Contains(err.Error(), "different provider"):
			return nil, refused(ReasonWrongIssuer, "iss is not %q", is.URL)
		case strings.Contains(err.Error(), "failed to verify signature"):
			return nil, refused(ReasonBadSignature, "the signature does not verify with the issuer's keys")
		}
		return nil, refused(ReasonMalformed, "%s", truncate(err.Error(), 200))
	}
	var raws map[string]json.RawMessage
	if err := idt.Claims(&raws); err != nil {
		return nil, refused(ReasonMalformed, "claims are not a JSON object")
	}
	claims := make(map[string]any, len(raws))
	for k, r := range raws {
		dec := json.NewDecoder(bytes.NewReader(r))
		dec.UseNumber()
		var val any
		if err := dec.Decode(&val); err != nil {
			return nil, refused(ReasonMalformed, "claim %q", truncate(k, 64))
		}
		claims[k] = val
	}
	t := &Token{Issuer: idt.Issuer, Subject: idt.Subject, Audience: idt.Audience, Expiry: idt.Expiry, IssuedAt: idt.IssuedAt, Claims: claims}
	if jti, ok := claims["jti"].(string); ok {
		t.JTI = jti
	}
	if n, ok := claims["nbf"].(json.Number); ok {
		if f, err := n.Float64(); err == nil {
			t.NotBefore = time.Unix(int64(f), 0).UTC()
		}
	}
	switch {
	case !t.NotBefore.IsZero() && t.NotBefore.After(now.Add(leeway)):
		return nil, refused(ReasonNotYetValid, "nbf %s is in the future", t.NotBefore.Format(time.RFC3339))
	case !t.IssuedAt.IsZero() && t.IssuedAt.After(now.Add(leeway)):
		return nil, refused(ReasonIssuedInFuture, "iat %s is in the future", t.IssuedAt.UTC().Format(time.RFC3339))
	}
	return t, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
