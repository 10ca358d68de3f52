package api_test

import (
	"strings"
	"testing"
	"time"
)

// TestDurationsInDays: every token duration the API takes also takes
// whole days (additive: Go durations work as before).
func TestDurationsInDays(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		const day = 24 * time.Hour
		newSA(e, "bot")
		key, tok := newToken(e, map[string]any{"user": "bot", "ttl": "30d", "identifier": "month"})
		if tok["expires_at"] != e.Clock.Now().Add(30*day).Format(time.RFC3339) {
			t.Fatalf("ttl 30d: expires_at %v", tok["expires_at"])
		}
		_, tok = newToken(e, map[string]any{"user": "bot", "extended": true, "max_age": "1d12h", "identifier": "ext"})
		if tok["expires_at"] != e.Clock.Now().Add(36*time.Hour).Format(time.RFC3339) {
			t.Fatalf("max_age 1d12h: expires_at %v", tok["expires_at"])
		}
		for query, want := range map[string]bool{"expiring_within=31d": true, "expiring_within=29d": false, "unused_for=0d": true} {
			items := e.Must(200, e.Admin("GET", "/api/v1/tokens?user=bot&"+query, nil)).JSON()["items"].([]any)
			found := false
			for _, it := range items {
				found = found || it.(map[string]any)["identifier"] == "month"
			}
			if found != want {
				t.Errorf("%s: month listed %v, want %v", query, found, want)
			}
		}
		e.Must(200, e.Admin("POST", "/api/v1/tokens/month/rotate", map[string]any{"grace": "1d"}))
		e.Clock.Advance(day - time.Second)
		e.Must(200, e.Do("GET", "/api/v1/me", bearer(key), nil))
		e.Clock.Advance(time.Second)
		e.Must(401, e.Do("GET", "/api/v1/me", bearer(key), nil))

		r := e.Must(400, e.Admin("POST", "/api/v1/tokens", map[string]any{"user": "bot", "ttl": "3days"}))
		if !strings.Contains(string(r.Body), "720h or 30d") {
			t.Errorf("ttl 3days: %s", r.Body)
		}
	})
}
