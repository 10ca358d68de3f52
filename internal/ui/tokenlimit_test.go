package ui_test

import (
	"net/http"
	"net/url"
	"regexp"
	"testing"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/server/servertest"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
)

// TestTokenFormAtTheLimit: the web token form is held to
// GATEHOUSE_MAX_TOKENS_PER_ACCOUNT like the API, and says so (not "this
// form was already submitted", the other conflict a fresh form meets).
func TestTokenFormAtTheLimit(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, s store.Store) {
		e := servertest.Start(t, s, func(c *config.Config) { c.MaxTokensPerAccount = 2 })
		e.Must(201, e.Admin("POST", "/api/v1/service-accounts", map[string]any{"username": "ci", "token_intent": "api"}))
		c := signedIn(t, e, "admin", adminPW)
		submit := func() *resp {
			page := must(t, 200, c.get("/tokens/new?user=ci"))
			nonce := regexp.MustCompile(`name="nonce" value="([a-z0-9]{8})"`).FindStringSubmatch(page.Body)
			if nonce == nil {
				t.Fatal("no nonce in the token form")
			}
			return c.post("/tokens", url.Values{"user": {"ci"}, "intent": {"api"}, "expiry": {"720h"}, "nonce": {nonce[1]}})
		}
		must(t, http.StatusCreated, submit())
		r := must(t, http.StatusConflict, submit())
		contains(t, r, "at most 2 per account", "GATEHOUSE_MAX_TOKENS_PER_ACCOUNT")
		if regexp.MustCompile(`already submitted`).MatchString(r.Body) {
			t.Fatal("the limit is reported as a repeated submission")
		}
		if ts, _ := e.App.Store.ListTokens(t.Context(), store.TokenFilter{Search: "ci-", Limit: 10}); len(ts) != 2 {
			t.Fatalf("%d tokens of ci, want 2", len(ts))
		}
	})
}
