package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/server/servertest"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
)

// TestRestrictedKeysAtEveryDoor (issue 17): a key bound to networks is
// refused from elsewhere exactly like a bad key at every door (the API,
// forward-auth's Bearer and Basic, the in-server LDAP door over a socket,
// a running outpost), with a source_not_allowed event; a key bound to
// LDAP providers binds only there; a key bound to applications opens
// only those at forward-auth.
func TestRestrictedKeysAtEveryDoor(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, st store.Store) {
		m := newMatrix(t, st)
		m.Must(201, m.Admin("POST", "/api/v1/applications", map[string]any{"slug": "other", "name": "Other"}))
		m.Must(201, m.Admin("POST", "/api/v1/ldap-providers", map[string]any{"name": "elsewhere", "base_dn": "dc=elsewhere,dc=example"}))
		mk := func(name, intent string, extra map[string]any) string {
			body := map[string]any{"user": "alice", "intent": intent, "identifier": name}
			for k, v := range extra {
				body[k] = v
			}
			return m.Must(201, m.Admin("POST", "/api/v1/tokens", body)).JSON()["key"].(string)
		}
		// The doors see 127.0.0.1 (the LDAP peer, the outpost's client, the
		// HTTP client): a key bound to another network is used from elsewhere.
		away := map[string]any{"allowed_cidrs": []string{"10.0.0.0/8"}}
		home := map[string]any{"allowed_cidrs": []string{"127.0.0.0/8"}}
		apiAway, apiHome := mk("api-away", "api", away), mk("api-home", "api", home)
		appAway, appHome := mk("app-away", "app_password", away), mk("app-home", "app_password", home)
		appOtherProvider := mk("app-elsewhere", "app_password", map[string]any{"ldap_providers": []string{"elsewhere"}})
		appCorp := mk("app-corp", "app_password", map[string]any{"ldap_providers": []string{"corp"}})
		apiOtherApp := mk("api-other-app", "api", map[string]any{"applications": []string{"other"}})

		http1 := func(path, auth string) int {
			req, _ := http.NewRequest("GET", m.URL+path, nil)
			req.Header.Set("Authorization", auth)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			return res.StatusCode
		}
		basic := func(user, pw string) string {
			req, _ := http.NewRequest("GET", "/", nil)
			req.SetBasicAuth(user, pw)
			return req.Header.Get("Authorization")
		}
		dn := "cn=alice,ou=users," + matrixBase
		cases := []struct {
			name, want string
			try        func() string
		}{
			{"api from away", "401/source_not_allowed", func() string { return fmt.Sprint(http1("/api/v1/me", "Bearer "+apiAway)) }},
			{"api from home", "200", func() string { return fmt.Sprint(http1("/api/v1/me", "Bearer "+apiHome)) }},
			{"forward-auth bearer from away", "401/source_not_allowed", func() string {
				return fmt.Sprint(http1("/outpost/forward-auth/site", "Bearer "+apiAway))
			}},
			{"forward-auth basic from away", "401/source_not_allowed", func() string {
				return fmt.Sprint(http1("/outpost/forward-auth/site", basic("alice", appAway)))
			}},
			{"forward-auth basic from home", "200", func() string { return fmt.Sprint(http1("/outpost/forward-auth/site", basic("alice", appHome))) }},
			{"ldap from away", "49/source_not_allowed", func() string { return ldapBind(t, m.ldapAddr, dn, appAway) }},
			{"ldap from home", "0", func() string { return ldapBind(t, m.ldapAddr, dn, appHome) }},
			{"outpost from away", "49/source_not_allowed", func() string { return ldapBind(t, m.outpostAddr, dn, appAway) }},
			{"outpost from home", "0", func() string { return ldapBind(t, m.outpostAddr, dn, appHome) }},
			{"ldap at another provider", "49/provider_not_allowed", func() string { return ldapBind(t, m.ldapAddr, dn, appOtherProvider) }},
			{"outpost at another provider", "49/provider_not_allowed", func() string { return ldapBind(t, m.outpostAddr, dn, appOtherProvider) }},
			{"ldap at its provider", "0", func() string { return ldapBind(t, m.ldapAddr, dn, appCorp) }},
			{"forward-auth at another application", "403", func() string {
				return fmt.Sprint(http1("/outpost/forward-auth/site", "Bearer "+apiOtherApp))
			}},
			{"forward-auth at its application", "200", func() string {
				return fmt.Sprint(http1("/outpost/forward-auth/other", "Bearer "+apiOtherApp))
			}},
		}
		for _, c := range cases {
			m.Clock.Advance(61e9) // a new limiter window: this is about the key
			got := c.try()
			if reason := m.newLoginFailed(); reason != "" {
				got += "/" + reason
			}
			if got != c.want {
				t.Errorf("%s: got %s, want %s", c.name, got, c.want)
			}
		}
		// The refusal says nothing more than a bad key's.
		bad := m.Do("GET", "/api/v1/me", "Bearer "+servertest.ForgeKey(t, apiAway), nil)
		away1 := m.Do("GET", "/api/v1/me", "Bearer "+apiAway, nil)
		if strings.TrimSpace(string(bad.Body)) != strings.TrimSpace(string(away1.Body)) {
			t.Errorf("a key from away is answered unlike a bad key: %s / %s", away1.Body, bad.Body)
		}
	})
}
