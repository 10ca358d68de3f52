package audit

import (
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// View is an event as the API shows it and the stream writes it.
type View struct {
	ID       int64          `json:"id"`
	Seq      int64          `json:"seq,omitempty"`
	Hash     string         `json:"hash,omitempty"`
	Time     time.Time      `json:"time"`
	Action   string         `json:"action"`
	Outcome  string         `json:"outcome"`
	Actor    Actor          `json:"actor"`
	ClientIP string         `json:"client_ip"`
	Target   ViewTarget     `json:"target"`
	Context  map[string]any `json:"context"`
}

// Actor is who acted.
type Actor struct {
	Username string `json:"username"`
	Type     string `json:"type"`
}

// ViewTarget is what the event is about.
type ViewTarget struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
}

// NewView renders a stored event.
func NewView(e store.Event) View {
	c := e.Context
	if c == nil {
		c = map[string]any{}
	}
	return View{ID: e.ID, Seq: e.Seq, Hash: e.Hash, Time: e.Time, Action: e.Action, Outcome: e.Outcome,
		Actor: Actor{e.ActorUsername, e.ActorType}, ClientIP: e.ClientIP,
		Target: ViewTarget{e.TargetKind, e.TargetName}, Context: c}
}
