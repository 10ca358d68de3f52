package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

var eventTests = []testCase{
	{"events/append-and-list", testEventAppendList},
	{"events/filters-and-pagination", testEventFilters},
	{"events/chain-head", testEventChainHead},
	{"events/chain-concurrent-appenders", testEventChainConcurrent},
	{"events/prune", testEventPrune},
	{"events/prune-keeps-events-after-a-wrong-time", testEventPruneWrongTime},
	{"events/unchained", testUnchainedEvents},
}

// insertUnchained writes an event without a place in the chain, as the
// store held them before the chain existed.
func insertUnchained(t *testing.T, s store.Store, tm time.Time, action string) {
	t.Helper()
	var when any = tm
	if s.Dialect() == "sqlite" {
		when = tm.UnixMicro()
	}
	Exec(t, s, `INSERT INTO events (time, action, outcome) VALUES ($1, $2, 'success')`, when, action)
}

func testEventPruneWrongTime(t *testing.T, s store.Store) {
	for i := range 10 {
		e := store.Event{Time: at(time.Duration(i) * time.Minute), Action: "a", Outcome: "success"}
		if i == 7 {
			e.Time = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC) // an instance whose clock was wrong
		}
		mustNil(t, appendEvent(t, s, &e), "append")
	}
	wantRead(t, store.EventPrune{Removed: 5, ThroughSeq: 5, Anchor: "hash-5"}, "pruned before minute 5, not up to the event dated 1970")(s.PruneEvents(ctx(t), at(5*time.Minute), 100))
}

func testUnchainedEvents(t *testing.T, s store.Store) {
	insertUnchained(t, s, at(0), "legacy-1")
	insertUnchained(t, s, at(time.Minute), "legacy-2")
	evs, err := s.UnchainedEvents(ctx(t), 0)
	mustNil(t, err, "UnchainedEvents")
	if len(evs) != 2 || evs[0].Action != "legacy-1" || evs[0].Seq != 0 || evs[1].ID <= evs[0].ID {
		t.Fatalf("unchained events %+v", evs)
	}
	first := evs[0]
	first.Seq, first.Hash = 2, "hash-2"
	wantErr(t, s.ChainEvent(ctx(t), first), store.ErrConflict, "ChainEvent(seq 2 on an empty chain)")
	first.Seq, first.Hash = 1, "hash-1"
	mustNil(t, s.ChainEvent(ctx(t), first), "ChainEvent")
	wantErr(t, s.ChainEvent(ctx(t), store.Event{ID: first.ID, Seq: 2, Hash: "hash-2"}), store.ErrConflict, "ChainEvent(an event already chained)")
	head, err := s.EventChain(ctx(t))
	mustNil(t, err, "EventChain")
	equal(t, head.Seq, int64(1), "head after chaining one event")
	evs, err = s.UnchainedEvents(ctx(t), 0)
	mustNil(t, err, "UnchainedEvents")
	if len(evs) != 1 || evs[0].Action != "legacy-2" {
		t.Fatalf("unchained after chaining one: %+v", evs)
	}
	chained, err := s.ListChainedEvents(ctx(t), 0, 0)
	mustNil(t, err, "ListChainedEvents")
	if len(chained) != 1 || chained[0].ID != first.ID || chained[0].Hash != "hash-1" {
		t.Fatalf("chained: %+v", chained)
	}
}

// appendEvent appends e as the chain's next event, the way audit.Log
// does, with a stand-in hash (the store keeps hashes, it does not make
// or check them).
func appendEvent(t *testing.T, q store.Queries, e *store.Event) error {
	t.Helper()
	head, err := q.EventChain(ctx(t))
	if err != nil {
		return err
	}
	e.Seq = head.Seq + 1
	e.Hash = fmt.Sprintf("hash-%d", e.Seq)
	return q.AppendEvent(ctx(t), e)
}

func testEventChainHead(t *testing.T, s store.Store) {
	head, err := s.EventChain(ctx(t))
	mustNil(t, err, "EventChain(empty)")
	equal(t, head, store.EventChain{Hash: store.GenesisHash, BaseHash: store.GenesisHash}, "the head of an empty chain")

	var appended []store.Event
	for i := range 5 {
		e := store.Event{Time: at(time.Duration(i) * time.Second), Action: "a", Outcome: "success"}
		mustNil(t, appendEvent(t, s, &e), "append")
		appended = append(appended, e)
	}
	head, err = s.EventChain(ctx(t))
	mustNil(t, err, "EventChain")
	equal(t, head, store.EventChain{Seq: 5, Hash: "hash-5", BaseHash: store.GenesisHash}, "the head after five events")

	// An event that does not follow the head is refused and changes nothing.
	for _, seq := range []int64{5, 7, 1} {
		e := store.Event{Time: t0, Action: "fork", Outcome: "success", Seq: seq, Hash: "forged"}
		wantErr(t, s.AppendEvent(ctx(t), &e), store.ErrConflict, fmt.Sprintf("AppendEvent(seq %d after head 5)", seq))
	}
	e := store.Event{Time: t0, Action: "unchained", Outcome: "success"}
	if err := s.AppendEvent(ctx(t), &e); err == nil {
		t.Fatal("AppendEvent without seq and hash succeeded")
	}
	wantRead(t, head, "the head after refused appends")(s.EventChain(ctx(t)))

	wantRead(t, appended, "chained events in seq order")(s.ListChainedEvents(ctx(t), 0, 0))
	wantRead(t, appended[2:4], "a page of the chain")(s.ListChainedEvents(ctx(t), 2, 2))
}

// testEventChainConcurrent: transactions appending at once never fork
// the chain: every seq from 1 to N is used once.
func testEventChainConcurrent(t *testing.T, s store.Store) {
	const workers, each = 6, 8
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				errs <- s.InTx(ctx(t), func(q store.Queries) error {
					e := store.Event{Time: t0, Action: fmt.Sprintf("w%d-%d", w, i), Outcome: "success"}
					return appendEvent(t, q, &e)
				})
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		mustNil(t, err, "InTx(append)")
	}
	evs, err := s.ListChainedEvents(ctx(t), 0, 0)
	mustNil(t, err, "ListChainedEvents")
	if len(evs) != workers*each {
		t.Fatalf("%d chained events, want %d", len(evs), workers*each)
	}
	for i, e := range evs {
		if e.Seq != int64(i+1) || e.Hash != fmt.Sprintf("hash-%d", e.Seq) {
			t.Fatalf("event %d has seq %d hash %q: the chain forked or skipped", i, e.Seq, e.Hash)
		}
	}
}

func testEventPrune(t *testing.T, s store.Store) {
	p, err := s.PruneEvents(ctx(t), at(time.Hour), 100)
	mustNil(t, err, "PruneEvents(empty)")
	equal(t, p, store.EventPrune{}, "pruning an empty log")

	for i := range 10 {
		e := store.Event{Time: at(time.Duration(i) * time.Minute), Action: "a", Outcome: "success"}
		mustNil(t, appendEvent(t, s, &e), "append")
	}
	// Events before minute 6 (seq 1-6), at most 4 at a time.
	wantRead(t, store.EventPrune{Removed: 4, ThroughSeq: 4, Anchor: "hash-4"}, "first batch")(s.PruneEvents(ctx(t), at(6*time.Minute), 4))
	wantRead(t, store.EventPrune{Removed: 2, ThroughSeq: 6, Anchor: "hash-6"}, "second batch")(s.PruneEvents(ctx(t), at(6*time.Minute), 4))
	wantRead(t, store.EventPrune{}, "nothing left to prune")(s.PruneEvents(ctx(t), at(6*time.Minute), 4))

	head, err := s.EventChain(ctx(t))
	mustNil(t, err, "EventChain")
	equal(t, head, store.EventChain{Seq: 10, Hash: "hash-10", BaseSeq: 6, BaseHash: "hash-6"}, "head and base after pruning")
	evs, err := s.ListChainedEvents(ctx(t), 0, 0)
	mustNil(t, err, "ListChainedEvents")
	if len(evs) != 4 || evs[0].Seq != 7 {
		t.Fatalf("after pruning: %d events starting at seq %d, want 4 from seq 7", len(evs), evs[0].Seq)
	}
	// Appending goes on from the head.
	e := store.Event{Time: at(time.Hour), Action: "after", Outcome: "success"}
	mustNil(t, appendEvent(t, s, &e), "append after pruning")
	equal(t, e.Seq, int64(11), "seq after pruning")
}

var settingTests = []testCase{
	{"settings/get-put", testSettings},
}

func testEventAppendList(t *testing.T, s store.Store) {
	evs, err := s.ListEvents(ctx(t), store.EventFilter{Limit: 10})
	mustNil(t, err, "ListEvents(empty)")
	equal(t, evs, nil, "events of an empty store")

	full := store.Event{
		Time: at(time.Second), Action: "model_created", Outcome: "success",
		ActorUsername: "alice", ActorType: store.TypeHuman, ClientIP: "2001:db8::1",
		TargetKind: "user", TargetName: "bob",
		Context: map[string]any{
			"user":    "bob",
			"count":   float64(3), // JSON numbers come back as float64
			"ratio":   0.25,
			"managed": false,
			"roles":   []any{"admin", "viewer"},
			"nested":  map[string]any{"unicode": "Zoë ✓", "quote": `"'\`},
			"nothing": nil,
		},
	}
	bare := store.Event{Time: at(2 * time.Second), Action: "login_failed", Outcome: "failure"}
	third := store.Event{Time: at(time.Second), Action: "logout", Outcome: "success", ActorUsername: "alice",
		Context: map[string]any{}}
	var lastID int64
	for _, e := range []*store.Event{&full, &bare, &third} {
		e.ID = 0
		mustNil(t, appendEvent(t, s, e), "AppendEvent")
		if e.ID <= lastID {
			t.Fatalf("AppendEvent set ID %d after %d: IDs must increase", e.ID, lastID)
		}
		lastID = e.ID
	}
	evs, err = s.ListEvents(ctx(t), store.EventFilter{Limit: 10})
	mustNil(t, err, "ListEvents")
	// Newest first by ID, whatever the times say.
	equal(t, evs, []store.Event{third, bare, full}, "events")
}

func testEventFilters(t *testing.T, s store.Store) {
	type spec struct {
		at             time.Duration
		action, actor  string
		target, kind   string
		outcome, actTy string
	}
	specs := []spec{
		{0, "login", "alice", "alice", "user", "success", store.TypeHuman},
		{1 * time.Minute, "login_failed", "bob", "bob", "user", "failure", store.TypeHuman},
		{2 * time.Minute, "model_created", "alice", "ops", "group", "success", store.TypeHuman},
		{3 * time.Minute, "model_updated", "alice", "ops", "group", "success", store.TypeHuman},
		{3 * time.Minute, "login", "bob", "bob", "user", "success", store.TypeHuman},
		{4 * time.Minute, "model_deleted", "carol", "ops", "group", "success", store.TypeServiceAccount},
		{5 * time.Minute, "login", "alice", "alice", "user", "success", store.TypeHuman},
	}
	all := make([]store.Event, len(specs))
	for i, sp := range specs {
		e := store.Event{Time: at(sp.at), Action: sp.action, Outcome: sp.outcome, ActorUsername: sp.actor,
			ActorType: sp.actTy, ClientIP: "192.0.2.1", TargetKind: sp.kind, TargetName: sp.target,
			Context: map[string]any{"n": float64(i + 1)}}
		mustNil(t, appendEvent(t, s, &e), "AppendEvent")
		all[i] = e
	}
	// pick returns the events numbered n (1-based, in append order), newest first.
	pick := func(ns ...int) []store.Event {
		var out []store.Event
		for _, n := range ns {
			out = append(out, all[n-1])
		}
		slices.SortFunc(out, func(a, b store.Event) int { return int(b.ID - a.ID) })
		return out
	}
	id := func(n int) int64 { return all[n-1].ID }

	cases := []struct {
		name string
		f    store.EventFilter
		want []store.Event
	}{
		{"all", store.EventFilter{}, pick(1, 2, 3, 4, 5, 6, 7)},
		{"action", store.EventFilter{Action: "login"}, pick(1, 5, 7)},
		{"actor", store.EventFilter{Actor: "alice"}, pick(1, 3, 4, 7)},
		{"target", store.EventFilter{Target: "ops"}, pick(3, 4, 6)},
		{"unknown action", store.EventFilter{Action: "nothing"}, nil},
		{"since (inclusive)", store.EventFilter{Since: ptr(at(3 * time.Minute))}, pick(4, 5, 6, 7)},
		{"until (exclusive)", store.EventFilter{Until: ptr(at(3 * time.Minute))}, pick(1, 2, 3)},
		{"since and until", store.EventFilter{Since: ptr(at(time.Minute)), Until: ptr(at(4 * time.Minute))}, pick(2, 3, 4, 5)},
		{"empty window", store.EventFilter{Since: ptr(at(3 * time.Minute)), Until: ptr(at(3 * time.Minute))}, nil},
		{"before", store.EventFilter{Before: id(5)}, pick(1, 2, 3, 4)},
		{"before the first", store.EventFilter{Before: id(1)}, nil},
		{"combined", store.EventFilter{Actor: "alice", Since: ptr(at(time.Minute)), Before: id(7)}, pick(3, 4)},
		{"action and target", store.EventFilter{Action: "login", Target: "bob"}, pick(5)},
		{"limit", store.EventFilter{Limit: 2}, pick(6, 7)},
		{"action, limit", store.EventFilter{Action: "login", Limit: 2}, pick(5, 7)},
	}
	for _, c := range cases {
		f := c.f
		if f.Limit == 0 {
			f.Limit = 100
		}
		got, err := s.ListEvents(ctx(t), f)
		mustNil(t, err, "ListEvents("+c.name+")")
		equal(t, got, c.want, "ListEvents("+c.name+")")
	}

	// Keyset pagination: Before = the last ID of the previous page.
	var pages [][]store.Event
	before := int64(0)
	for {
		page, err := s.ListEvents(ctx(t), store.EventFilter{Before: before, Limit: 3})
		mustNil(t, err, "ListEvents(page)")
		if len(page) == 0 {
			break
		}
		pages = append(pages, page)
		before = page[len(page)-1].ID
		if len(pages) > 10 {
			t.Fatal("pagination does not end")
		}
	}
	equal(t, pages, [][]store.Event{pick(5, 6, 7), pick(2, 3, 4), pick(1)}, "pages of 3")
}

func testSettings(t *testing.T, s store.Store) {
	_, err := s.GetSetting(ctx(t), "brand")
	wantErr(t, err, store.ErrNotFound, "GetSetting(unset)")
	doc := `{"title":"Gatehouse","colour":"#123456","note":"Zoë ✓"}`
	mustNil(t, s.PutSetting(ctx(t), "brand", doc), "PutSetting")
	mustNil(t, s.PutSetting(ctx(t), "instance_key_id", "k1"), "PutSetting")
	got, err := s.GetSetting(ctx(t), "brand")
	mustNil(t, err, "GetSetting")
	equal(t, got, doc, "brand")
	mustNil(t, s.PutSetting(ctx(t), "brand", ""), "PutSetting(overwrite, empty)")
	wantRead(t, "", "overwritten brand: an empty value is a value")(s.GetSetting(ctx(t), "brand"))
	wantRead(t, "k1", "the other setting")(s.GetSetting(ctx(t), "instance_key_id"))
	wantNotFound(t, "GetSetting(BRAND): keys are case-sensitive")(s.GetSetting(ctx(t), "BRAND"))
}
