package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/federation/fedtest"
	"github.com/gatehouse/gatehouse/internal/server/servertest"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
)

// FuzzTokenExchange sends forms to POST /api/v1/oauth/token of a real
// gatehouse that trusts a fake issuer. Whatever the body: never a 5xx,
// always RFC 6749's JSON (an error code of the RFCs', or a token),
// never cached, and the answer never echoes the subject token.
func FuzzTokenExchange(f *testing.F) {
	iss := fedtest.New(f)
	e := servertest.Start(f, storetest.NewSQLite(f), func(c *config.Config) { c.OIDCAllowInsecureIssuers = true })
	e.Must(201, e.Admin("POST", "/api/v1/service-accounts", map[string]any{"username": "deployer", "token_intent": "none"}))
	e.Must(201, e.Admin("POST", "/api/v1/oidc-issuers", map[string]any{"name": "fake", "issuer_url": iss.URL}))
	e.Must(201, e.Admin("POST", "/api/v1/trust-policies", map[string]any{"name": "deploy", "issuer": "fake", "service_account": "deployer",
		"audience": "gh", "conditions": map[string]any{"repository_id": "42"}}))
	now := e.App.Core.Clock().Now()
	good := iss.Sign(f, iss.Claims(now, "gh", map[string]any{"repository_id": "42"}))
	form := func(tok string) string {
		return url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:token-exchange"}, "subject_token": {tok},
			"subject_token_type": {"urn:ietf:params:oauth:token-type:id_token"}, "service_account": {"deployer"}}.Encode()
	}
	f.Add(true, form(good))
	f.Add(true, form(good)+"&scope=users.read")
	f.Add(true, form(iss.ForgeHS256(f, iss.Claims(now, "gh", map[string]any{"repository_id": "42"}))))
	f.Add(true, form(fedtest.ForgeNone(iss.Claims(now, "gh", map[string]any{"repository_id": "42"}))))
	f.Add(false, `{"grant_type":"x"}`)
	codes := map[string]bool{"invalid_request": true, "invalid_grant": true, "unsupported_grant_type": true, "invalid_scope": true,
		"invalid_target": true, "temporarily_unavailable": true}
	f.Fuzz(func(t *testing.T, asForm bool, body string) {
		req := httptest.NewRequest("POST", "/api/v1/oauth/token", bytes.NewReader([]byte(body)))
		if asForm {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			req.Header.Set("Content-Type", "application/json")
		}
		req.RemoteAddr = "198.51.100.9:1234"
		w := httptest.NewRecorder()
		e.App.Handler.ServeHTTP(w, req)
		if w.Code >= 500 && w.Code != http.StatusServiceUnavailable {
			t.Fatalf("%q: %d %s", body, w.Code, w.Body)
		}
		if cc := w.Header().Get("Cache-Control"); !strings.Contains(cc, "no-store") {
			t.Fatalf("%q: Cache-Control %q", body, cc)
		}
		var out map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
			t.Fatalf("%q: %d not JSON: %s", body, w.Code, w.Body)
		}
		if w.Code == http.StatusOK {
			if tok, _ := out["access_token"].(string); !strings.HasPrefix(tok, "gat_") || out["token_type"] != "Bearer" {
				t.Fatalf("%q: 200 %s", body, w.Body)
			}
			return
		}
		if code, _ := out["error"].(string); !codes[code] {
			t.Fatalf("%q: %d error %q", body, w.Code, code)
		}
		if v, err := url.ParseQuery(body); err == nil {
			if st := v.Get("subject_token"); len(st) > 8 && strings.Contains(w.Body.String(), st) {
				// A short token may be part of a fixed message (say
				// "-type:jwt"): it is echoed only if the answer to another
				// token does not hold it too.
				v.Set("subject_token", "canary-subject-token")
				again := httptest.NewRequest("POST", "/api/v1/oauth/token", strings.NewReader(v.Encode()))
				again.Header.Set("Content-Type", req.Header.Get("Content-Type"))
				again.RemoteAddr = req.RemoteAddr
				w2 := httptest.NewRecorder()
				e.App.Handler.ServeHTTP(w2, again)
				if !strings.Contains(w2.Body.String(), st) {
					t.Fatalf("the answer echoes the subject token")
				}
			}
		}
	})
}
