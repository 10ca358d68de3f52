package audit_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

var key = audit.ChainKey([]byte("test-secret-key-0123456789abcdef!"))

var t0 = time.Date(2030, 1, 1, 12, 0, 0, 123456789, time.UTC)

// appendEvents writes n events through log, one transaction each, with
// contexts of every JSON kind, and returns them as written.
func appendEvents(t *testing.T, st store.Store, log *audit.Log, n int) []store.Event {
	t.Helper()
	var out []store.Event
	for i := range n {
		e := store.Event{Time: t0.Add(time.Duration(i) * time.Minute), Action: audit.ActionModelCreated, Outcome: audit.Success,
			ActorUsername: "alice", ActorType: store.TypeHuman, ClientIP: "192.0.2.7", TargetKind: audit.KindUser,
			TargetName: fmt.Sprintf("user-%d", i)}
		switch i % 3 {
		case 1:
			e.Context = map[string]any{"n": i, "big": int64(1) << 60, "ratio": 0.1, "ok": true, "none": nil,
				"list": []string{"a", "<b>"}, "nested": map[string]any{"zoë": "✓ \"quoted\""}}
		case 2:
			e.Context = map[string]any{}
		}
		if err := st.InTx(context.Background(), func(q store.Queries) error {
			ev := e
			if err := log.Append(context.Background(), q, &ev); err != nil {
				return err
			}
			e = ev
			return nil
		}); err != nil {
			t.Fatalf("append event %d: %v", i, err)
		}
		out = append(out, e)
	}
	return out
}

// tamper changes the database behind the store's back, as someone with
// access to the database (but not the server's key) could.
var tamper = storetest.Exec

func verify(t *testing.T, st store.Store, log *audit.Log) audit.Verification {
	t.Helper()
	v, err := log.Verify(context.Background(), st, 0, 0)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return v
}

func TestChainIntact(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		log := audit.New(key, nil)
		if v := verify(t, st, log); !v.Intact || v.Checked != 0 {
			t.Fatalf("empty log: %+v, want intact with nothing checked", v)
		}
		evs := appendEvents(t, st, log, 12)
		for i, e := range evs {
			if e.Seq != int64(i+1) || len(e.Hash) != 64 {
				t.Fatalf("event %d: seq %d hash %q", i, e.Seq, e.Hash)
			}
		}
		v := verify(t, st, log)
		want := audit.Verification{Intact: true, Checked: 12, FirstSeq: 1, LastSeq: 12}
		if fmt.Sprint(v) != fmt.Sprint(want) {
			t.Fatalf("Verify = %+v, want %+v", v, want)
		}
		// Another key (another server, or a guessed one) sees nothing it
		// can vouch for.
		other := audit.New(audit.ChainKey([]byte("another-secret-key-0123456789abcd")), nil)
		if v := verify(t, st, other); v.Intact || v.Broken == nil || v.Broken.Seq != 1 {
			t.Fatalf("Verify with another key = %+v, want broken at seq 1", v)
		}
	})
}

// TestChainNamesFirstBrokenEvent: every kind of change to the stored log
// is found, at the first event it affects.
func TestChainNamesFirstBrokenEvent(t *testing.T) {
	cases := []struct {
		name    string
		tamper  string // $1 is the seq of event 5
		seq     int64  // the break Verify must name
		withID  bool   // the break names an existing event
		because string // part of the reason
	}{
		{"target renamed", `UPDATE events SET target_name = 'mallory' WHERE seq = $1`, 5, true, "hash does not match"},
		{"outcome flipped", `UPDATE events SET outcome = 'success', action = 'login' WHERE seq = $1`, 5, true, "hash does not match"},
		{"time moved", "", 5, true, "hash does not match"}, // by a microsecond, in each dialect: below
		{"actor erased", `UPDATE events SET actor_username = '' WHERE seq = $1`, 5, true, "hash does not match"},
		{"hash replaced", `UPDATE events SET hash = '` + strings.Repeat("ab", 32) + `' WHERE seq = $1`, 5, true, "hash does not match"},
		{"event removed", `DELETE FROM events WHERE seq = $1`, 5, false, "seq 5 is missing"},
		{"renumbered over a removal", `DELETE FROM events WHERE seq = $1`, 5, false, "missing"},
		{"newest events removed", `DELETE FROM events WHERE seq >= $1`, 5, false, "are missing"},
		{"head rolled back", `UPDATE event_chain SET seq = $1 - 1`, 4, false, "chain head does not match"},
		{"base raised to hide removal", `UPDATE event_chain SET base_seq = $1, base_hash = (SELECT hash FROM events WHERE seq = $1)`, 6, false, "no retention event"},
	}
	storetest.ForEachBackend(t, func(t *testing.T, _ store.Store) {
		backend := t.Name()[strings.LastIndex(t.Name(), "/")+1:]
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				var st store.Store
				for _, b := range storetest.Backends() {
					if b.Name == backend {
						st = b.New(t)
					}
				}
				log := audit.New(key, nil)
				evs := appendEvents(t, st, log, 8)
				q := c.tamper
				if c.name == "time moved" {
					if backend == "postgres" {
						q = `UPDATE events SET time = time + interval '1 microsecond' WHERE seq = $1`
					} else {
						q = `UPDATE events SET time = time + 1 WHERE seq = $1`
					}
				}
				if c.name == "renumbered over a removal" {
					// Close the gap: 6, 7, 8 become 5, 6, 7, head follows.
					tamper(t, st, q, 5)
					tamper(t, st, `UPDATE events SET seq = seq - 1 WHERE seq > $1`, 5)
					tamper(t, st, `UPDATE event_chain SET seq = 7, hash = (SELECT hash FROM events WHERE seq = 7)`)
					c.seq, c.withID, c.because = 5, true, "hash does not match"
					evs = append(evs[:4], evs[5:]...) // seq 5 is now the sixth event
				} else {
					tamper(t, st, q, 5)
				}
				if strings.HasPrefix(c.name, "base raised") {
					tamper(t, st, `DELETE FROM events WHERE seq <= $1`, 5)
				}
				v := verify(t, st, log)
				if v.Intact || v.Broken == nil {
					t.Fatalf("after %s: Verify = %+v, want broken", c.name, v)
				}
				if v.Broken.Seq != c.seq || !strings.Contains(v.Broken.Reason, c.because) {
					t.Fatalf("after %s: broken at seq %d (%s), want seq %d (%s)", c.name, v.Broken.Seq, v.Broken.Reason, c.seq, c.because)
				}
				if c.withID && v.Broken.ID != evs[c.seq-1].ID {
					t.Fatalf("after %s: broken event id %d, want %d", c.name, v.Broken.ID, evs[c.seq-1].ID)
				}
			})
		}
	})
}

// TestEventsOutsideTheChain: rows the walk never meets are looked for:
// an event with no place in the chain, one beyond the head, and a forged
// retention event placed beyond the head to excuse removing the oldest.
func TestEventsOutsideTheChain(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, _ store.Store) {
		backend := t.Name()[strings.LastIndex(t.Name(), "/")+1:]
		fresh := func(t *testing.T) store.Store {
			for _, b := range storetest.Backends() {
				if b.Name == backend {
					return b.New(t)
				}
			}
			t.Fatal("no backend " + backend)
			return nil
		}
		when := func(st store.Store) any {
			if st.Dialect() == "sqlite" {
				return t0.UnixMicro()
			}
			return t0
		}
		t.Run("unchained row", func(t *testing.T) {
			t.Parallel()
			st := fresh(t)
			log := audit.New(key, nil)
			appendEvents(t, st, log, 4)
			tamper(t, st, `INSERT INTO events (time, action, outcome, actor_username) VALUES ($1, 'login', 'success', 'mallory')`, when(st))
			if v := verify(t, st, log); v.Intact || v.Broken == nil || !strings.Contains(v.Broken.Reason, "no place in the chain") {
				t.Fatalf("Verify = %+v, want the unchained row reported", v)
			}
		})
		t.Run("row beyond the head", func(t *testing.T) {
			t.Parallel()
			st := fresh(t)
			log := audit.New(key, nil)
			appendEvents(t, st, log, 4)
			tamper(t, st, `INSERT INTO events (time, action, outcome, seq, hash) VALUES ($1, 'login', 'success', 1000000, 'x')`, when(st))
			if v := verify(t, st, log); v.Intact || v.Broken == nil || v.Broken.Seq != 1000000 {
				t.Fatalf("Verify = %+v, want seq 1000000 reported", v)
			}
		})
		t.Run("forged retention event", func(t *testing.T) {
			t.Parallel()
			st := fresh(t)
			log := audit.New(key, nil)
			evs := appendEvents(t, st, log, 8)
			tamper(t, st, `UPDATE event_chain SET base_seq = 5, base_hash = $1`, evs[4].Hash)
			forged := `{"through_seq":5,"anchor":"` + evs[4].Hash + `"}`
			tamper(t, st, `INSERT INTO events (time, action, outcome, seq, hash, context) VALUES ($1, 'events_pruned', 'success', 5000000, 'x', $2)`, when(st), forged)
			tamper(t, st, `DELETE FROM events WHERE seq <= 5`)
			if v := verify(t, st, log); v.Intact || v.Broken == nil {
				t.Fatalf("Verify = %+v, want broken", v)
			}
			// Placed inside the chain instead, its hash gives it away.
			tamper(t, st, `DELETE FROM events WHERE id = $1`, evs[5].ID)
			tamper(t, st, `UPDATE events SET seq = 6, hash = 'x' WHERE seq = 5000000`)
			if v := verify(t, st, log); v.Intact || v.Broken == nil {
				t.Fatalf("Verify = %+v, want broken", v)
			}
		})
		t.Run("events from before the chain", func(t *testing.T) {
			t.Parallel()
			st := fresh(t)
			for _, a := range []string{"login", "model_created", "logout"} {
				tamper(t, st, `INSERT INTO events (time, action, outcome, context) VALUES ($1, $2, 'success', '{"n": 1}')`, when(st), a)
			}
			log := audit.New(key, nil)
			chain := func() int {
				var n int
				if err := st.InTx(context.Background(), func(q store.Queries) error {
					var err error
					n, err = log.ChainLegacy(context.Background(), q)
					return err
				}); err != nil {
					t.Fatal(err)
				}
				return n
			}
			if n := chain(); n != 3 {
				t.Fatalf("chained %d legacy events, want 3", n)
			}
			appendEvents(t, st, log, 2)
			if v := verify(t, st, log); !v.Intact || v.Checked != 5 {
				t.Fatalf("Verify = %+v, want 5 intact events", v)
			}
			// Once the chain has begun, a row without a place is not
			// legacy: it is not chained, and it is reported.
			tamper(t, st, `INSERT INTO events (time, action, outcome) VALUES ($1, 'login', 'success')`, when(st))
			if n := chain(); n != 0 {
				t.Fatalf("chained %d events into a chain already begun", n)
			}
			if v := verify(t, st, log); v.Intact {
				t.Fatalf("Verify = %+v, want the late unchained row reported", v)
			}
		})
	})
}

// TestChainInParts: a long chain is checked in parts, each going on from
// where the last stopped, and a change is found in the part that holds it.
func TestChainInParts(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		log := audit.New(key, nil)
		appendEvents(t, st, log, 8)
		walk := func() []audit.Verification {
			var parts []audit.Verification
			for after := int64(0); ; {
				v, err := log.Verify(context.Background(), st, after, 3)
				if err != nil {
					t.Fatal(err)
				}
				parts = append(parts, v)
				if !v.Intact || v.NextAfterSeq == 0 {
					return parts
				}
				after = v.NextAfterSeq
			}
		}
		parts := walk()
		if len(parts) != 3 || parts[0].NextAfterSeq != 3 || parts[1].FirstSeq != 4 || parts[2].LastSeq != 8 ||
			parts[0].Checked+parts[1].Checked+parts[2].Checked != 8 || !parts[2].Intact || parts[2].NextAfterSeq != 0 {
			t.Fatalf("parts %+v, want 1-3, 4-6, 7-8 all intact", parts)
		}
		tamper(t, st, `UPDATE events SET target_name = 'mallory' WHERE seq = $1`, 5)
		parts = walk()
		last := parts[len(parts)-1]
		if len(parts) != 2 || !parts[0].Intact || last.Intact || last.Broken.Seq != 5 {
			t.Fatalf("parts after a change at seq 5: %+v, want the second part broken at 5", parts)
		}
		// Going on from a seq that is not there is a break, not a pass.
		if v, err := log.Verify(context.Background(), st, 42, 3); err != nil || v.Intact {
			t.Fatalf("Verify after seq 42 of 8 = %+v, %v; want not intact", v, err)
		}
	})
}

// TestChainNeverForks: transactions on many connections append at once
// (as several instances would); the chain stays one line.
func TestChainNeverForks(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		const workers, each = 4, 10
		var wg sync.WaitGroup
		errs := make(chan error, workers*each)
		for w := range workers {
			log := audit.New(key, nil) // one log per "instance"
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					errs <- st.InTx(context.Background(), func(q store.Queries) error {
						for j := range 2 { // two events in one transaction
							e := store.Event{Time: time.Now(), Action: fmt.Sprintf("w%d-%d-%d", w, i, j), Outcome: audit.Success}
							if err := log.Append(context.Background(), q, &e); err != nil {
								return err
							}
						}
						return nil
					})
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if v := verify(t, st, audit.New(key, nil)); !v.Intact || v.Checked != workers*each*2 {
			t.Fatalf("Verify = %+v, want intact with %d events", v, workers*each*2)
		}
	})
}

// TestStream: committed events reach the stream as JSON lines, in order,
// carrying seq and hash.
func TestStream(t *testing.T) {
	st := storetest.NewSQLite(t)
	var buf testenv.Buffer
	stream := audit.NewStream(&buf, nil, nil)
	log := audit.New(key, stream)
	evs := appendEvents(t, st, log, 5)
	log.Committed(evs...)
	if err := stream.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	// A handler still running after shutdown gave up on it: dropped and
	// counted, never a panic.
	log.Committed(evs[0])
	if stream.Dropped() != 1 {
		t.Fatalf("an event emitted after Close: dropped %d, want 1", stream.Dropped())
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 5 || stream.Written() != 5 {
		t.Fatalf("%d lines, written %d; want 5, 5:\n%s", len(lines), stream.Written(), buf.String())
	}
	for i, line := range lines {
		var v audit.View
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("line %d %q: %v", i, line, err)
		}
		if v.Seq != evs[i].Seq || v.Hash != evs[i].Hash || v.ID != evs[i].ID || v.Target.Name != evs[i].TargetName {
			t.Fatalf("line %d = %+v, want event %+v", i, v, evs[i])
		}
	}
}

// TestStreamNeverBlocks: a stalled reader costs stream lines (counted),
// never a request.
func TestStreamNeverBlocks(t *testing.T) {
	stall := make(chan struct{})
	w := writerFunc(func(p []byte) (int, error) { <-stall; return len(p), nil })
	stream := audit.NewStream(w, nil, nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 20_000 {
			stream.Emit([]store.Event{{ID: int64(i), Action: "x"}})
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Emit blocked on a stalled stream")
	}
	if stream.Dropped() == 0 {
		t.Fatal("nothing counted as dropped with a stalled reader")
	}
	close(stall)
	if err := stream.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := stream.Written() + stream.Dropped(); got != 20_000 {
		t.Fatalf("written %d + dropped %d = %d, want 20000", stream.Written(), stream.Dropped(), got)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
