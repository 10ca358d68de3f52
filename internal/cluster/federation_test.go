package cluster_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/federation/fedtest"
	"github.com/gatehouse/gatehouse/internal/server/servertest"
	"github.com/gatehouse/gatehouse/internal/store/postgres"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

// TestMintedTokenRevokedAcrossInstances: a token minted by an exchange
// at one instance, warm in the other's cache, is refused there, by
// notification, once its trust policy is deleted at the first.
func TestMintedTokenRevokedAcrossInstances(t *testing.T) {
	dsn := testenv.Postgres(t)
	insecure := func(c *config.Config) { c.OIDCAllowInsecureIssuers = true }
	first := storetest.NewPostgres(t)
	second, err := postgres.Open(context.Background(), dsn, postgres.Options{Schema: first.(*postgres.Store).Schema()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { second.Close() })
	a := servertest.Start(t, first, insecure)
	b := servertest.StartFollowing(t, second, notified, insecure)

	iss := fedtest.New(t)
	a.Must(201, a.Admin("POST", "/api/v1/service-accounts", map[string]any{"username": "deployer", "token_intent": "none"}))
	a.Must(201, a.Admin("POST", "/api/v1/oidc-issuers", map[string]any{"name": "fake", "issuer_url": iss.URL}))
	a.Must(201, a.Admin("POST", "/api/v1/trust-policies", map[string]any{"name": "deploy", "issuer": "fake", "service_account": "deployer",
		"audience": "gh", "conditions": map[string]any{"repository_id": "42"}}))
	tok := iss.Sign(t, iss.Claims(a.App.Core.Clock().Now(), "gh", map[string]any{"repository_id": "42"}))
	form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:token-exchange"}, "subject_token": {tok},
		"subject_token_type": {"urn:ietf:params:oauth:token-type:id_token"}}.Encode()
	req, _ := http.NewRequest("POST", a.URL+"/api/v1/oauth/token", strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		AccessToken string `json:"access_token"`
	}
	decodeJSON(t, resp, &out)
	if out.AccessToken == "" {
		t.Fatal("no token minted")
	}
	me := func() int { return b.Do("GET", "/api/v1/me", servertest.Bearer(out.AccessToken), nil).Status }
	if got := me(); got != 200 {
		t.Fatalf("the other instance: %d", got)
	}
	a.Must(204, a.Admin("DELETE", "/api/v1/trust-policies/deploy", nil))
	took := within(t, "minted token after its policy was deleted elsewhere", 401, me)
	t.Logf("refused by the other instance after %s", took)
}

func decodeJSON(t *testing.T, resp *http.Response, v any) {
	t.Helper()
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}
