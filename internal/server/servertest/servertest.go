// Package servertest runs a whole gatehouse over a test store, behind a
// real HTTP listener, with a fake clock: the harness of the API tests.
package servertest

import (
	"bytes"
	"context"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/clock"
	"github.com/gatehouse/gatehouse/internal/cluster"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/core"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

// AdminToken is the bootstrap token of every test server.
const AdminToken = "test-bootstrap-token-0123456789abcdef"

// AdminPassword is the bootstrap password of every test server.
const AdminPassword = "admin-password-for-tests"

// Env is a running test server.
type Env struct {
	T     testing.TB
	App   *server.App
	URL   string
	Clock *clock.Fake
	Logs  *testenv.Buffer
	// stopFollowing ends FollowChanges and waits for it.
	stopFollowing func()
}

// StopFollowing stops following other instances' changes, as an instance
// alone on its database does not follow them: what it caches stays
// trusted when the database goes away, instead of being bypassed (fail
// safe) at the listener's next check. For tests of that single-instance
// behaviour on PostgreSQL.
func (e *Env) StopFollowing() { e.stopFollowing() }

// Start assembles gatehouse over st and serves it until the test ends.
func Start(t testing.TB, st store.Store, mutate ...func(*config.Config)) *Env {
	t.Helper()
	return StartFollowing(t, st, cluster.Options{CheckEvery: 100 * time.Millisecond, ReconnectDelay: 50 * time.Millisecond}, mutate...)
}

// StartFollowing is Start with the change listener's options chosen (on
// PostgreSQL); it returns once the listener is connected.
func StartFollowing(t testing.TB, st store.Store, follow cluster.Options, mutate ...func(*config.Config)) *Env {
	t.Helper()
	cfg := config.Defaults()
	cfg.BootstrapToken = AdminToken
	cfg.BootstrapPassword = AdminPassword
	// Tests read the access log: debug, unless a test chooses a level
	// (a benchmark measures what a server at info level does).
	cfg.LogLevel = "debug"
	for _, m := range mutate {
		m(&cfg)
	}
	clk := clock.NewFake(time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC))
	logs := &testenv.Buffer{}
	log := server.NewLogger(cfg, logs)
	app, err := server.Assemble(context.Background(), st, []byte("test-secret-key-0123456789abcdef!"), clk, cfg, log, io.Discard)
	if err != nil {
		t.Fatalf("assemble: %v", err)
	}
	srv := httptest.NewServer(app.Handler)
	t.Cleanup(srv.Close)
	// On PostgreSQL, follow changes made by other instances, as serve does.
	followCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		app.FollowChanges(followCtx, follow)
	}()
	var once sync.Once
	stopFollowing := func() { once.Do(func() { stop(); <-done }) }
	t.Cleanup(stopFollowing)
	if st.Dialect() == "postgres" {
		deadline := time.Now().Add(10 * time.Second)
		for app.Listener() == nil || !app.Listener().Connected() {
			if time.Now().After(deadline) {
				t.Fatal("change listener did not connect")
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return &Env{T: t, App: app, URL: srv.URL, Clock: clk, Logs: logs, stopFollowing: stopFollowing}
}

// Resp is an answer.
type Resp struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body as an object.
func (r *Resp) JSON() map[string]any {
	var m map[string]any
	_ = json.Unmarshal(r.Body, &m)
	return m
}

// Decode decodes the body into v.
func (r *Resp) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// Bearer is an Authorization header value.
func Bearer(token string) string { return "Bearer " + token }

// Basic is an Authorization header value.
func Basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// Do sends a request with an Authorization header value (or none) and a
// body: nil, a string (sent as is) or anything else (sent as JSON).
func (e *Env) Do(method, path, authz string, body any) *Resp {
	e.T.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			e.T.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, e.URL+path, rd)
	if err != nil {
		e.T.Fatal(err)
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := client.Do(req)
	if err != nil {
		e.T.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return &Resp{Status: res.StatusCode, Header: res.Header, Body: b}
}

// client is http.DefaultClient with a time limit: a handler that never
// answers fails its test instead of hanging the package until go test's
// timeout.
var client = &http.Client{Timeout: time.Minute}

// Admin sends a request as the bootstrap admin.
func (e *Env) Admin(method, path string, body any) *Resp {
	e.T.Helper()
	return e.Do(method, path, Bearer(AdminToken), body)
}

// Must asserts the status and returns the answer.
func (e *Env) Must(status int, r *Resp) *Resp {
	e.T.Helper()
	if r.Status != status {
		e.T.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	return r
}

// EnrolTOTP turns on a person's second factor through the core, as the
// profile page does, and returns the secret (for auth.TOTPCode).
func (e *Env) EnrolTOTP(username string) []byte {
	e.T.Helper()
	ctx := context.Background()
	p, err := e.App.Core.Authenticator().PrincipalByName(ctx, username)
	if err != nil {
		e.T.Fatalf("enrol %s: %v", username, err)
	}
	en, err := e.App.Core.Sessions.BeginTOTP(ctx, core.Actor{P: p})
	if err != nil {
		e.T.Fatalf("enrol %s: %v", username, err)
	}
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ReplaceAll(en.Secret, " ", ""))
	if err != nil {
		e.T.Fatalf("enrol %s: secret %q: %v", username, en.Secret, err)
	}
	if _, err := e.App.Core.Sessions.ConfirmTOTP(ctx, core.Actor{P: p}, auth.TOTPCode(secret, auth.TOTPStep(e.Clock.Now()))); err != nil {
		e.T.Fatalf("enrol %s: confirm: %v", username, err)
	}
	return secret
}

// ForgeKey returns a well-formed key (checksum right) with the lookup
// part of key and a different secret: what an attacker who saw a key's
// public part would try.
func ForgeKey(t testing.TB, key string) string {
	t.Helper()
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	secret, err := auth.RandomString(22)
	if err != nil {
		t.Fatal(err)
	}
	body := key[:4+12] + secret
	sum := uint64(crc32.ChecksumIEEE([]byte(body)))
	var digits [6]byte
	for i := 5; i >= 0; i-- {
		digits[i] = alphabet[sum%62]
		sum /= 62
	}
	forged := body + string(digits[:])
	if pk, err := auth.ParseKey(forged); err != nil || pk.Lookup != key[4:16] || forged == key {
		t.Fatalf("forged key does not parse as intended: %v", err)
	}
	return forged
}
