package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

var eventTests = []testCase{
	{"events/append-and-list", testEventAppendList},
	{"events/filters-and-pagination", testEventFilters},
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
		mustNil(t, s.AppendEvent(ctx(t), e), "AppendEvent")
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
		mustNil(t, s.AppendEvent(ctx(t), &e), "AppendEvent")
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
	got, err = s.GetSetting(ctx(t), "brand")
	mustNil(t, err, "GetSetting")
	equal(t, got, "", "overwritten brand: an empty value is a value")
	got, err = s.GetSetting(ctx(t), "instance_key_id")
	mustNil(t, err, "GetSetting")
	equal(t, got, "k1", "the other setting")
	_, err = s.GetSetting(ctx(t), "BRAND")
	wantErr(t, err, store.ErrNotFound, "GetSetting(BRAND): keys are case-sensitive")
}
