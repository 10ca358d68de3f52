package audit

import (
	"github.com/gatehouse/gatehouse/client"
	"github.com/gatehouse/gatehouse/internal/store"
)

// View is an event as the API shows it and the stream writes it.
type View = client.Event

// Actor is who acted.
type Actor = client.EventActor

// ViewTarget is what the event is about.
type ViewTarget = client.EventTarget

// NewView renders a stored event.
func NewView(e store.Event) View {
	c := e.Context
	if c == nil {
		c = map[string]any{}
	}
	return View{ID: e.ID, Seq: e.Seq, Hash: e.Hash, Time: e.Time, Action: e.Action, Outcome: e.Outcome,
		Actor: Actor{Username: e.ActorUsername, Type: e.ActorType}, ClientIP: e.ClientIP,
		Target: ViewTarget{Kind: e.TargetKind, Name: e.TargetName}, Context: c}
}
