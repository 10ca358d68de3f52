package audit

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/client"
	"github.com/gatehouse/gatehouse/internal/store"
)

// The audit chain makes the event log tamper-evident. Every event carries
// its place in the chain (seq 1, 2, 3, ... without a gap) and a hash:
//
//	hash(n) = HMAC-SHA256(chain key, "gatehouse-event-v1\n" || hash(n-1) || "\n" || canonical(event n))
//
// The chain key is derived from the server's secret key, which is never
// in the database: someone who can write to the database but does not
// hold the key can change, insert or remove an event, but cannot make the
// hashes agree again. Verify names the first event where they do not.
//
// What the chain cannot show on its own: the newest events removed
// together with the chain head rolled back to match, or the whole log
// replaced. A copy kept elsewhere (the JSON-lines stream carries seq and
// hash) anchors the chain against that.

// chainKeyLabel derives the chain key from the server's secret key, so
// that the token-hash key and the chain key are never the same bytes.
const chainKeyLabel = "gatehouse audit chain v1"

// ChainKey derives the chain key from the server's secret key.
func ChainKey(secret []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(chainKeyLabel))
	return m.Sum(nil)
}

// canonical is the hashed form of an event: every field but the storage
// ID, in a fixed order, with the time in microseconds (what both stores
// keep) and the context as the JSON both stores give back.
type canonical struct {
	Seq           int64           `json:"seq"`
	Time          string          `json:"time"`
	Action        string          `json:"action"`
	Outcome       string          `json:"outcome"`
	ActorUsername string          `json:"actor_username"`
	ActorType     string          `json:"actor_type"`
	ClientIP      string          `json:"client_ip"`
	TargetKind    string          `json:"target_kind"`
	TargetName    string          `json:"target_name"`
	Context       json.RawMessage `json:"context"`
}

// normalTime is an event time as both stores keep it.
func normalTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// normalContext renders a context as it reads back from either store:
// JSON numbers come back as float64 and maps with sorted keys, so the
// context goes through one decode and encode before it is hashed.
func normalContext(c map[string]any) (json.RawMessage, error) {
	if len(c) == 0 {
		return json.RawMessage("{}"), nil
	}
	b, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// seal computes an event's chain hash from the previous one's.
func seal(key []byte, prev string, e *store.Event) (string, error) {
	ctxJSON, err := normalContext(e.Context)
	if err != nil {
		return "", fmt.Errorf("encode the context: %w", err)
	}
	doc, err := json.Marshal(canonical{
		Seq: e.Seq, Time: normalTime(e.Time).Format(time.RFC3339Nano), Action: e.Action, Outcome: e.Outcome,
		ActorUsername: e.ActorUsername, ActorType: e.ActorType, ClientIP: e.ClientIP,
		TargetKind: e.TargetKind, TargetName: e.TargetName, Context: ctxJSON,
	})
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("gatehouse-event-v1\n"))
	m.Write([]byte(prev))
	m.Write([]byte("\n"))
	m.Write(doc)
	return hex.EncodeToString(m.Sum(nil)), nil
}

// Verification is the result of checking the chain.
type Verification = client.ChainVerification

// Break names where the chain breaks.
type Break = client.ChainBreak

// ActionEventsPruned records removal of old events by retention; its
// context names the new base of the chain (through_seq, anchor).
const ActionEventsPruned = "events_pruned"

// verifyPage is how many events Verify reads at a time.
const verifyPage = 1000

// Verify checks the chain as it stands, at most limit events (0: all)
// after the event with seq after (0: from the start of the chain). A long
// chain is checked in parts, each going on from where the last stopped
// (NextAfterSeq): the first event of a part chains to the last event of
// the part before, whose hash that part checked. Events appended while it
// runs are left for the next check; if retention moves the chain's base
// while it runs, it starts over once.
func (l *Log) Verify(ctx context.Context, q store.Queries, after int64, limit int64) (Verification, error) {
	for attempt := 0; ; attempt++ {
		v, head, err := l.verifyOnce(ctx, q, after, limit)
		if err != nil || v.Intact || attempt == 1 {
			return v, err
		}
		now, err := q.EventChain(ctx)
		if err != nil {
			return v, err
		}
		if now.BaseSeq == head.BaseSeq {
			return v, nil
		}
	}
}

func (l *Log) verifyOnce(ctx context.Context, q store.Queries, after, limit int64) (Verification, store.EventChain, error) {
	head, err := q.EventChain(ctx)
	if err != nil {
		return Verification{}, head, err
	}
	v := Verification{BaseSeq: head.BaseSeq}
	broken := func(seq, id int64, reason string) (Verification, store.EventChain, error) {
		v.Broken = &Break{Seq: seq, ID: id, Reason: reason}
		return v, head, nil
	}
	prev, next := head.BaseHash, head.BaseSeq+1
	first := after <= head.BaseSeq
	if !first {
		if after > head.Seq {
			return broken(after, 0, fmt.Sprintf("there is no event seq %d: the chain ends at seq %d", after, head.Seq))
		}
		// Go on from a part already checked: its last event's hash.
		evs, err := q.ListChainedEvents(ctx, after-1, 1)
		if err != nil {
			return v, head, fmt.Errorf("verify the audit chain: %w", err)
		}
		if len(evs) == 0 || evs[0].Seq != after {
			return broken(after, 0, fmt.Sprintf("event seq %d, where this part goes on from, is missing: events were removed", after))
		}
		prev, next = evs[0].Hash, after+1
	}
	end := head.Seq
	if limit > 0 && next-1+limit < end {
		end = next - 1 + limit
	}
	for next <= end {
		evs, err := q.ListChainedEvents(ctx, next-1, int(min(verifyPage, end-next+1)))
		if err != nil {
			return v, head, fmt.Errorf("verify the audit chain: %w", err)
		}
		if len(evs) == 0 {
			break
		}
		for i := range evs {
			e := &evs[i]
			if e.Seq != next {
				return broken(next, 0, fmt.Sprintf("event seq %d is missing (the next event is seq %d): events were removed", next, e.Seq))
			}
			want, err := seal(l.key, prev, e)
			if err != nil {
				return v, head, fmt.Errorf("verify event %d: %w", e.ID, err)
			}
			if !hmac.Equal([]byte(want), []byte(e.Hash)) {
				return broken(e.Seq, e.ID, "the hash does not match: this event was changed, its hash was, or the event before it was removed or changed")
			}
			if v.FirstSeq == 0 {
				v.FirstSeq = e.Seq
			}
			v.LastSeq, v.Checked = e.Seq, v.Checked+1
			prev, next = e.Hash, next+1
		}
	}
	if next <= end {
		return broken(next, 0, "events from seq "+strconv.FormatInt(next, 10)+" to the chain head (seq "+strconv.FormatInt(head.Seq, 10)+") are missing")
	}
	if end == head.Seq && !hmac.Equal([]byte(prev), []byte(head.Hash)) {
		return broken(head.Seq, 0, "the chain head does not match the newest event")
	}
	if first {
		if b := l.checkOutside(ctx, q, head); b != nil {
			v.Broken = b
			return v, head, nil
		}
		if head.BaseSeq > 0 {
			if reason := l.checkBase(ctx, q, head); reason != "" {
				return broken(head.BaseSeq+1, 0, reason)
			}
		}
	}
	if end < head.Seq {
		v.NextAfterSeq = end
	}
	v.Intact = true
	return v, head, nil
}

// checkOutside finds events outside the chain: without a place in it
// (the events from before it were given one on the first start), or with
// a seq beyond its head or within the part retention removed. The walk
// never meets them, so they are looked for.
func (l *Log) checkOutside(ctx context.Context, q store.Queries, head store.EventChain) *Break {
	if evs, err := q.UnchainedEvents(ctx, 1); err != nil {
		return &Break{Reason: "cannot look for events outside the chain: " + err.Error()}
	} else if len(evs) > 0 {
		return &Break{ID: evs[0].ID, Reason: fmt.Sprintf("event id %d has no place in the chain: it was added behind the store's back", evs[0].ID)}
	}
	if evs, err := q.ListChainedEvents(ctx, head.Seq, 1); err != nil {
		return &Break{Reason: "cannot look for events outside the chain: " + err.Error()}
	} else if len(evs) > 0 {
		return &Break{Seq: evs[0].Seq, ID: evs[0].ID, Reason: fmt.Sprintf("event seq %d lies beyond the chain head (seq %d): it was added behind the store's back", evs[0].Seq, head.Seq)}
	}
	if evs, err := q.ListChainedEvents(ctx, math.MinInt64, 1); err != nil {
		return &Break{Reason: "cannot look for events outside the chain: " + err.Error()}
	} else if len(evs) > 0 && evs[0].Seq <= head.BaseSeq {
		return &Break{Seq: evs[0].Seq, ID: evs[0].ID, Reason: fmt.Sprintf("event seq %d lies in the part of the chain retention removed (up to seq %d): it was added behind the store's back", evs[0].Seq, head.BaseSeq)}
	}
	return nil
}

// checkBase checks that the chain's base was set by retention: the newest
// events_pruned event names it, and that event's own hash holds (the
// walk checks it too, but perhaps in a later part).
func (l *Log) checkBase(ctx context.Context, q store.Queries, head store.EventChain) string {
	evs, err := q.ListEvents(ctx, store.EventFilter{Action: ActionEventsPruned, Limit: 1})
	if err != nil {
		return "cannot read the retention events: " + err.Error()
	}
	if len(evs) == 0 || evs[0].Seq <= head.BaseSeq || evs[0].Seq > head.Seq {
		return fmt.Sprintf("the chain starts after seq %d, but no retention event records that removal", head.BaseSeq)
	}
	e := evs[0]
	prev := head.BaseHash
	if e.Seq-1 > head.BaseSeq {
		before, err := q.ListChainedEvents(ctx, e.Seq-2, 1)
		if err != nil || len(before) == 0 || before[0].Seq != e.Seq-1 {
			return fmt.Sprintf("the event before the retention event (seq %d) is missing", e.Seq)
		}
		prev = before[0].Hash
	}
	if want, err := seal(l.key, prev, &e); err != nil || !hmac.Equal([]byte(want), []byte(e.Hash)) {
		return fmt.Sprintf("the retention event (seq %d) that would account for the removal does not check out", e.Seq)
	}
	through, _ := e.Context["through_seq"].(float64)
	anchor, _ := e.Context["anchor"].(string)
	if int64(through) != head.BaseSeq || !hmac.Equal([]byte(anchor), []byte(head.BaseHash)) {
		return fmt.Sprintf("the chain starts after seq %d, but the newest retention event (seq %d) removed events up to seq %d",
			head.BaseSeq, e.Seq, int64(through))
	}
	return ""
}
