package forwardauth_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/forwardauth"
	"github.com/gatehouse/gatehouse/internal/ratelimit"
	"github.com/gatehouse/gatehouse/internal/server/servertest"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
)

// The seed corpora live in testdata/fuzz/<FuzzName>/ and run with every
// "go test"; "go test -fuzz=FuzzParseAuthorization ./internal/forwardauth"
// explores further.

var knownReasons = map[string]bool{
	"too long": true, "no credentials after the scheme": true, "spaces or control characters in the credentials": true,
	"token too long": true, "basic credentials are not base64": true, "basic credentials are not UTF-8": true,
	"basic credentials without a colon": true, "empty username or password": true, "username or password too long": true,
	"control characters in the username or password": true, "unsupported scheme": true,
}

// bearerRE is an independent statement of what a Bearer header may be.
// (RE2 repeats at most 1000 times: the token's length is checked apart.)
var bearerRE = regexp.MustCompile(`^(?i:bearer) +([\x21-\x7e]+)$`)

func bearerOK(v string) bool {
	m := bearerRE.FindStringSubmatch(v)
	return m != nil && len(m[1]) <= 1024 && len(v) <= forwardauth.MaxAuthorization
}

// FuzzParseAuthorization checks the parser against its contract: no
// panic; exactly one value or a refusal; what it accepts is bounded,
// free of spaces and control characters, and round-trips (the Bearer
// token is the header's tail, the Basic pair re-encodes to the header's
// base64); Bearer acceptance agrees with an independent regexp.
func FuzzParseAuthorization(f *testing.F) {
	f.Fuzz(func(t *testing.T, v1, v2 string, n uint8) {
		values := [][]string{nil, {v1}, {v1, v2}}[n%3]
		cred, err := forwardauth.ParseAuthorization(values)
		if len(values) == 0 {
			if !errors.Is(err, forwardauth.ErrMissing) {
				t.Fatalf("no header: %v", err)
			}
			return
		}
		if len(values) > 1 {
			if err == nil {
				t.Fatalf("repeated header accepted: %+v", cred)
			}
			return
		}
		if bearerOK(v1) != (err == nil && cred.Scheme == forwardauth.SchemeBearer) {
			t.Fatalf("%q: parser says %+v, %v; the regexp disagrees", v1, cred, err)
		}
		if err != nil {
			// The reason is one of a few constants: nothing of the header
			// (which may hold a secret) reaches events or logs through it.
			var m *forwardauth.MalformedError
			if !errors.As(err, &m) || !knownReasons[m.Reason] {
				t.Fatalf("%q: error %v", v1, err)
			}
			return
		}
		if len(v1) > forwardauth.MaxAuthorization {
			t.Fatalf("accepted a header of %d bytes", len(v1))
		}
		_, tail, _ := strings.Cut(v1, " ")
		tail = strings.TrimLeft(tail, " ")
		switch cred.Scheme {
		case forwardauth.SchemeBearer:
			if cred.Token != tail || cred.Token == "" || strings.ContainsAny(cred.Token, " \t\r\n") {
				t.Fatalf("%q: token %q", v1, cred.Token)
			}
		case forwardauth.SchemeBasic:
			if cred.Username == "" || cred.Password == "" || strings.Contains(cred.Username, ":") {
				t.Fatalf("%q: pair %q %q", v1, cred.Username, cred.Password)
			}
			if base64.StdEncoding.EncodeToString([]byte(cred.Username+":"+cred.Password)) != tail {
				t.Fatalf("%q: pair %q %q does not round-trip", v1, cred.Username, cred.Password)
			}
			for _, r := range cred.Username + cred.Password {
				if r < ' ' || r == 0x7f {
					t.Fatalf("%q: control character accepted", v1)
				}
			}
		default:
			t.Fatalf("%q: accepted with scheme %d", v1, cred.Scheme)
		}
	})
}

// FuzzForwardAuth drives the whole door (over SQLite) with one or two
// Authorization values built from templates in which {KEY}, {APP},
// {USER} and {BASIC} stand for a real API token, app password, its
// owner's name and the right Basic pair. Whatever the mutation, a request
// is admitted only when it carries exactly one header that parses to
// exactly the right credential, and never answers anything but 200, 401
// or 429.
func FuzzForwardAuth(f *testing.F) {
	e := servertest.Start(f, storetest.NewSQLite(f))
	created := e.Must(201, e.Admin("POST", "/api/v1/service-accounts", map[string]any{"username": "bot", "token_intent": "api"})).JSON()
	key := created["token"].(map[string]any)["key"].(string)
	app := e.Must(201, e.Admin("POST", "/api/v1/tokens", map[string]any{"user": "bot", "intent": "app_password"})).JSON()["key"].(string)
	e.Must(201, e.Admin("POST", "/api/v1/applications", map[string]any{"slug": "wiki", "name": "Wiki"}))
	// Limits out of reach: the property is about credentials, and a
	// limiter refusing everything after ten failures would hide them.
	e.App.Core.Credentials.UseLimiter(ratelimit.New(e.Clock, ratelimit.Config{
		PerPair: 1 << 30, PerClient: 1 << 30, Window: time.Minute, AccountSlowdown: 1 << 30, MaxEntries: 1000}))
	h := forwardauth.New(e.App.Core, forwardauth.Config{})
	mux := http.NewServeMux()
	h.Mount(mux)
	fill := strings.NewReplacer("{KEY}", key, "{APP}", app, "{USER}", "bot",
		"{BASIC}", base64.StdEncoding.EncodeToString([]byte("bot:"+app)))

	f.Fuzz(func(t *testing.T, v1, v2 string, n uint8) {
		values := [][]string{nil, {fill.Replace(v1)}, {fill.Replace(v1), fill.Replace(v2)}}[n%3]
		for _, v := range values {
			// What an HTTP/1.1 server never hands a handler: control
			// characters (but tab), surrounding white space.
			if strings.ContainsFunc(v, func(r rune) bool { return (r < ' ' && r != '\t') || r == 0x7f }) || strings.TrimSpace(v) != v {
				return
			}
		}
		req := httptest.NewRequestWithContext(context.Background(), "GET", "/outpost/forward-auth/wiki", nil)
		for _, v := range values {
			req.Header.Add("Authorization", v)
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		cred, err := forwardauth.ParseAuthorization(values)
		right := err == nil && ((cred.Scheme == forwardauth.SchemeBearer && cred.Token == key) ||
			(cred.Scheme == forwardauth.SchemeBasic && cred.Username == "bot" && cred.Password == app))
		switch {
		case right && w.Code != 200:
			t.Fatalf("the right credential %q was refused: %d %s", values, w.Code, w.Body)
		case !right && w.Code == 200:
			t.Fatalf("admitted %q", values)
		case w.Code != 200 && w.Code != 401 && w.Code != 429:
			t.Fatalf("%q: status %d %s", values, w.Code, w.Body)
		case w.Code == 200 && w.Header().Get("X-Gatehouse-User") != "bot":
			t.Fatalf("admitted without the user header: %v", w.Header())
		}
	})
}
