package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/client"
)

var (
	exchangeClientsFlag = flag.Int("exchange-clients", 4, "exchange suite: concurrent clients (each one exchange at a time, keep-alive)")
	exchangeTokensFlag  = flag.Int("exchange-tokens", 8_000, "exchange suite: distinct ID tokens minted before the runs (each is good for one exchange per database; a run that uses them all ends early)")
)

// The issuer of the exchange suite: given to gatehouse as an inline JWK
// Set, so that nothing is fetched.
const (
	exchangeIssuer   = "https://issuer.bench.example"
	exchangeAudience = "https://gatehouse.bench.example"
	exchangeKID      = "bench-1"
)

func init() {
	register(Suite{
		Name: "exchange",
		About: "RFC 8693 token exchange (POST /api/v1/oauth/token, RS256 ID token for a minted token) over HTTP, SQLite and PostgreSQL, " +
			"vs a bare go-oidc verification of the same ID tokens in this process",
		Run: func(ctx context.Context) ([]Result, error) {
			return runExchange(ctx, exchangeOptions{Backends: backends("exchange"), Duration: *durationFlag,
				Clients: *exchangeClientsFlag, Tokens: *exchangeTokensFlag})
		},
	})
}

type exchangeOptions struct {
	Backends []string
	Duration time.Duration // of each run: the baseline's and each backend's
	Clients  int
	Tokens   int
}

// exchangeRun is the outcome of one timed run.
type exchangeRun struct {
	N       int
	Elapsed time.Duration
	Lat     summary
}

func (r exchangeRun) rate() float64 { return float64(r.N) / r.Elapsed.Seconds() }

func runExchange(ctx context.Context, o exchangeOptions) ([]Result, error) {
	o.Clients = max(o.Clients, 1)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: exchangeKID, Algorithm: string(jose.RS256), Use: "sig"}}})
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	tokens, err := mintIDTokens(key, max(o.Tokens, 1))
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "  minted %d ID tokens (RS256) in %s\n", len(tokens), fmtDur(time.Since(t0)))

	// Baseline: what any relying party must do with an ID token, and no
	// more: go-oidc's Verify (signature, iss, exp) and the claims decoded,
	// with a static key set, by as many goroutines as there are clients.
	verifier := oidc.NewVerifier(exchangeIssuer, &oidc.StaticKeySet{PublicKeys: []crypto.PublicKey{&key.PublicKey}},
		&oidc.Config{SkipClientIDCheck: true, SupportedSigningAlgs: []string{string(jose.RS256)}})
	var next atomic.Int64
	base, err := timedRun(ctx, o.Duration, o.Clients, func(ctx context.Context) error {
		raw := tokens[int(next.Add(1)-1)%len(tokens)]
		idt, err := verifier.Verify(ctx, raw)
		if err != nil {
			return err
		}
		var claims map[string]json.RawMessage
		return idt.Claims(&claims)
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	fmt.Fprintf(os.Stderr, "  baseline, go-oidc Verify: %.0f/s %s\n", base.rate(), base.Lat)

	var rs []Result
	for _, backend := range o.Backends {
		r, err := exchangeOn(ctx, o, backend, string(jwks), tokens)
		if err != nil {
			return rs, fmt.Errorf("%s: %w", backend, err)
		}
		fmt.Fprintf(os.Stderr, "  %s: %.0f exchanges/s %s\n", backend, r.rate(), r.Lat)
		rs = append(rs,
			Result{Suite: "exchange", Metric: fmt.Sprintf("%s: POST /oauth/token, %d clients, in-process server", backend, o.Clients),
				Value: fmt.Sprintf("%.0f exchanges/s", r.rate()), Baseline: fmt.Sprintf("%.0f verifications/s (go-oidc)", base.rate()),
				Ratio: fmtRatio(r.rate(), base.rate())},
			Result{Suite: "exchange", Metric: "  latency p50", Value: fmtDur(r.Lat.P50), Baseline: fmtDur(base.Lat.P50), Ratio: durRatio(r.Lat.P50, base.Lat.P50)},
			Result{Suite: "exchange", Metric: "  latency p99", Value: fmtDur(r.Lat.P99), Baseline: fmtDur(base.Lat.P99), Ratio: durRatio(r.Lat.P99, base.Lat.P99)},
		)
	}
	return rs, nil
}

// exchangeOn measures the exchange on a new database of backend: a
// service account, the issuer and a trust policy, then every client
// exchanging tokens it has not used, one after the other.
func exchangeOn(ctx context.Context, o exchangeOptions, backend, jwks string, tokens []string) (exchangeRun, error) {
	db, err := prepareDatabase(ctx, backend, "exchange")
	if err != nil {
		return exchangeRun{}, err
	}
	defer db.drop()
	gh, err := startInProcess(ctx, db.Env, false, nil)
	if err != nil {
		return exchangeRun{}, err
	}
	defer gh.Stop()
	admin, closeAdmin := adminOf(gh.URL(), db.Env)
	defer closeAdmin()
	if _, err := admin.Roles.Create(ctx, client.RoleCreate{Name: "bench-deployer", Permissions: &[]string{"users.read", "groups.read"}}); err != nil {
		return exchangeRun{}, err
	}
	if _, err := admin.ServiceAccounts.Create(ctx, client.ServiceAccountCreate{Username: "bench-deployer",
		Roles: []string{"bench-deployer"}, TokenIntent: client.IntentNone}); err != nil {
		return exchangeRun{}, err
	}
	if _, err := admin.OIDCIssuers.Create(ctx, client.OIDCIssuerCreate{Name: "bench", IssuerURL: exchangeIssuer,
		JWKS: json.RawMessage(jwks), AllowedAlgs: []string{string(jose.RS256)}}); err != nil {
		return exchangeRun{}, err
	}
	if _, err := admin.TrustPolicies.Create(ctx, client.TrustPolicyCreate{Name: "bench-deploy", Issuer: "bench",
		ServiceAccount: "bench-deployer", Audience: exchangeAudience, TTL: "10m",
		Conditions: map[string][]string{"repository_id": {"42"}, "ref": {"refs/heads/main"}}}); err != nil {
		return exchangeRun{}, err
	}

	// Each client has its own keep-alive connection; each token is
	// exchanged once (the server refuses a second use of its jti).
	clients := make([]*benchClient, o.Clients)
	for i := range clients {
		clients[i] = newClient(gh.URL())
		defer clients[i].close()
	}
	var next atomic.Int64
	var worker atomic.Int64
	errOut := errors.New("ID tokens used up")
	r, err := timedRun(ctx, o.Duration, o.Clients, nil, func() func(context.Context) error {
		cl := clients[int(worker.Add(1)-1)%len(clients)].api
		return func(ctx context.Context) error {
			i := int(next.Add(1) - 1)
			if i >= len(tokens) {
				return errOut
			}
			out, err := cl.Exchange(ctx, client.ExchangeRequest{IDToken: tokens[i], ServiceAccount: "bench-deployer"})
			if err == nil && out.AccessToken == "" {
				err = errors.New("no access token in the answer")
			}
			return err
		}
	})
	if errors.Is(err, errOut) {
		fmt.Fprintf(os.Stderr, "  %s: the %d ID tokens were used up after %s (raise -exchange-tokens)\n", backend, len(tokens), fmtDur(r.Elapsed))
		err = nil
	}
	if err == nil && r.N == 0 {
		err = errors.New("no exchange completed")
	}
	return r, err
}

// timedRun runs op in n goroutines, each call after the previous one,
// for d (or until an op fails), and returns the count and latencies of
// the calls that succeeded. perWorker, when not nil, makes each
// goroutine's op.
func timedRun(ctx context.Context, d time.Duration, n int, op func(context.Context) error, perWorker func() func(context.Context) error) (exchangeRun, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu    sync.Mutex
		lats  []time.Duration
		first error
		wg    sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(d)
	for range n {
		f := op
		if perWorker != nil {
			f = perWorker()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := make([]time.Duration, 0, 1024)
			defer func() { mu.Lock(); lats = append(lats, mine...); mu.Unlock() }()
			for ctx.Err() == nil && time.Now().Before(deadline) {
				t0 := time.Now()
				if err := f(ctx); err != nil {
					mu.Lock()
					if first == nil && ctx.Err() == nil {
						first = err
					}
					mu.Unlock()
					cancel()
					return
				}
				mine = append(mine, time.Since(t0))
			}
		}()
	}
	wg.Wait()
	r := exchangeRun{N: len(lats), Elapsed: time.Since(start), Lat: summarize(lats)}
	return r, first
}

// mintIDTokens signs n ID tokens as a CI provider would, each with its
// own jti, valid for an hour, on every core.
func mintIDTokens(key *rsa.PrivateKey, n int) ([]string, error) {
	now := time.Now()
	out := make([]string, n)
	errs := make([]error, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for w := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key},
				(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", exchangeKID))
			if err != nil {
				errs[w] = err
				return
			}
			for i := w; i < n; i += len(errs) {
				claims := map[string]any{"iss": exchangeIssuer, "aud": exchangeAudience,
					"sub": "repo:acme/app:ref:refs/heads/main", "repository_id": "42", "ref": "refs/heads/main",
					"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": randomHex(12)}
				payload, _ := json.Marshal(claims)
				jws, err := signer.Sign(payload)
				if err == nil {
					out[i], err = jws.CompactSerialize()
				}
				if err != nil {
					errs[w] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
}
