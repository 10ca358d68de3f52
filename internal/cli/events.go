package cli

import (
	"github.com/spf13/cobra"
)

var events = resource[Event]{
	noun: "event", plural: "audit events, newest first",
	collection: "events", arg: "ID", view: eventView,
}

// defaultEventLimit keeps "events list" short: the log only grows.
const defaultEventLimit = 50

func (a *app) eventsCmd() *cobra.Command {
	since, until := &timeValue{now: a.now}, &timeValue{now: a.now}
	c := group("events", "Read the audit log",
		events.listCmd(a, defaultEventLimit,
			textFilter("action", "action", "only events of this action, such as login_failed or token_created"),
			textFilter("actor", "actor", "only events by this username"),
			textFilter("target", "target", "only events about this name"),
			filter{flag: "since", param: "since", usage: "only events from this RFC 3339 time on, or from this long ago (24h)", value: since},
			filter{flag: "until", param: "until", usage: "only events up to this RFC 3339 time, or up to this long ago", value: until},
		),
	)
	c.Aliases = []string{"event"}
	return c
}
