package api_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/server/servertest"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
)

// TestEventChainVerifyAndRetention: the audit chain verifies through the
// API, retention removes old events without breaking it, and removing an
// old event by hand (even with the base moved to hide it) is found.
func TestEventChainVerifyAndRetention(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, st store.Store) {
		streamFile := filepath.Join(t.TempDir(), "events.jsonl")
		e := servertest.Start(t, st, func(c *config.Config) {
			c.EventRetention = 30 * 24 * time.Hour
			c.EventStream = streamFile
		})
		verify := func() map[string]any {
			t.Helper()
			return e.Must(200, e.Admin("GET", "/api/v1/events/verify", nil)).JSON()
		}
		for _, name := range []string{"old-1", "old-2", "old-3"} {
			e.Must(201, e.Admin("POST", "/api/v1/groups", map[string]any{"name": name}))
		}
		e.Must(401, e.Do("GET", "/api/v1/me", servertest.Basic("ghost", "wrong-password"), nil)) // a failure event
		v := verify()
		if v["intact"] != true || v["checked"].(float64) < 4 || v["first_seq"] != float64(1) {
			t.Fatalf("verify = %v, want intact from seq 1", v)
		}

		// In parts: two events, then the rest from where that stopped.
		part := e.Must(200, e.Admin("GET", "/api/v1/events/verify?limit=2", nil)).JSON()
		if part["intact"] != true || part["checked"] != float64(2) || part["next_after_seq"] != float64(2) {
			t.Fatalf("first part = %v, want 2 events and next_after_seq 2", part)
		}
		rest := e.Must(200, e.Admin("GET", "/api/v1/events/verify?after_seq=2", nil)).JSON()
		if rest["intact"] != true || rest["first_seq"] != float64(3) || rest["next_after_seq"] != nil {
			t.Fatalf("second part = %v, want the rest from seq 3", rest)
		}
		for _, q := range []string{"limit=-1", "limit=x", "after_seq=-3", "limit=100000001"} {
			e.Must(400, e.Admin("GET", "/api/v1/events/verify?"+q, nil))
		}

		// Listed events carry their place in the chain.
		list := e.Must(200, e.Admin("GET", "/api/v1/events?page_size=500", nil)).JSON()["items"].([]any)
		newest := list[0].(map[string]any)
		if newest["seq"] != v["last_seq"] || len(newest["hash"].(string)) != 64 {
			t.Fatalf("newest event %v, want seq %v and a hash", newest, v["last_seq"])
		}

		// Two months on, retention removes the old events.
		e.Clock.Advance(60 * 24 * time.Hour)
		e.Must(201, e.Admin("POST", "/api/v1/groups", map[string]any{"name": "new-1"}))
		if err := e.App.Core.Cleanup(context.Background()); err != nil {
			t.Fatal(err)
		}
		v = verify()
		if v["intact"] != true || v["base_seq"].(float64) < 4 || v["first_seq"] != v["base_seq"].(float64)+1 {
			t.Fatalf("verify after retention = %v, want intact with the old events gone", v)
		}
		pruned := e.Must(200, e.Admin("GET", "/api/v1/events?action=events_pruned", nil)).JSON()["items"].([]any)
		if len(pruned) != 1 {
			t.Fatalf("events_pruned events: %v", pruned)
		}
		pc := pruned[0].(map[string]any)["context"].(map[string]any)
		if pc["through_seq"] != v["base_seq"] || pc["removed"].(float64) < 4 {
			t.Fatalf("events_pruned context %v does not name the new base %v", pc, v["base_seq"])
		}
		old := e.Must(200, e.Admin("GET", "/api/v1/events?target=old-1", nil)).JSON()["items"].([]any)
		if len(old) != 0 {
			t.Fatalf("events about old-1 survived retention: %v", old)
		}
		// A second run has nothing to do and writes nothing.
		if err := e.App.Core.Cleanup(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := len(e.Must(200, e.Admin("GET", "/api/v1/events?action=events_pruned", nil)).JSON()["items"].([]any)); n != 1 {
			t.Fatalf("%d events_pruned events after a run with nothing to remove, want 1", n)
		}

		// The stream got every event, in chain order, as JSON lines.
		var lines []string
		deadline := time.Now().Add(5 * time.Second)
		for {
			b, _ := os.ReadFile(streamFile)
			lines = strings.Split(strings.TrimSpace(string(b)), "\n")
			last := map[string]any{}
			_ = json.Unmarshal([]byte(lines[len(lines)-1]), &last)
			if last["action"] == "events_pruned" || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		for i, line := range lines {
			var ev map[string]any
			if err := json.Unmarshal([]byte(line), &ev); err != nil {
				t.Fatalf("stream line %d %q: %v", i, line, err)
			}
			if ev["seq"] != float64(i+1) {
				t.Fatalf("stream line %d has seq %v, want %d (every event, in order)", i, ev["seq"], i+1)
			}
		}
		metrics := string(e.Must(200, e.Do("GET", "/metrics", "", nil)).Body)
		if !strings.Contains(metrics, "gatehouse_event_stream_written_total "+strconv.Itoa(len(lines))) ||
			!strings.Contains(metrics, "gatehouse_event_stream_dropped_total 0") {
			t.Fatalf("stream metrics do not count %d lines written and none dropped", len(lines))
		}
		if fi, err := os.Stat(streamFile); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("stream file mode: %v %v, want 0600", fi.Mode(), err)
		}

		// Someone with database access removes the oldest remaining event
		// and moves the base past it: found.
		base := int64(v["base_seq"].(float64))
		storetest.Exec(t, st, `UPDATE event_chain SET base_seq = $1, base_hash = (SELECT hash FROM events WHERE seq = $1)`, base+1)
		storetest.Exec(t, st, `DELETE FROM events WHERE seq = $1`, base+1)
		tampered := verify()
		broken, _ := tampered["broken"].(map[string]any)
		if tampered["intact"] != false || broken == nil || broken["seq"] != float64(base+2) ||
			!strings.Contains(broken["reason"].(string), "retention event") {
			t.Fatalf("verify after removing the oldest event = %v, want broken at seq %d", tampered, base+2)
		}
	})
}
