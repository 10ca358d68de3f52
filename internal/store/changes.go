package store

import "context"

// ChangeQueries lets instances that share one database tell each other
// that something changed, so each can drop what it holds in memory.
type ChangeQueries interface {
	// PublishChange, called inside a write transaction, announces a change
	// to every instance listening, when and only when the transaction
	// commits. origin names the announcing instance. A no-op on backends
	// that serve a single instance (SQLite).
	PublishChange(ctx context.Context, origin string) error
	// ChangeVersion is the number of the latest change announced (0 where
	// unsupported). It only grows; a number announced by a transaction
	// that rolled back is never notified.
	ChangeVersion(ctx context.Context) (int64, error)
}

// Change is a change announced by PublishChange, as a listener hears it.
type Change struct {
	Origin string // the instance that made it (PublishChange's origin)
	Seq    int64  // its number, as ChangeVersion counts
}

// ChangeFeed is implemented by backends that several instances share
// (PostgreSQL: LISTEN/NOTIFY): it lets an instance hear the changes the
// others announce. Backends that serve one instance (SQLite) do not
// implement it; there is nobody else to hear.
type ChangeFeed interface {
	// ListenChanges opens a subscription on a connection of its own.
	// name identifies it to the database's operators (PostgreSQL's
	// application_name). Every change committed after ListenChanges
	// returns is heard; one committed before may not be, so a listener
	// reads ChangeVersion afterwards to catch up.
	ListenChanges(ctx context.Context, name string) (ChangeSubscription, error)
}

// ChangeSubscription is one open subscription of a ChangeFeed.
type ChangeSubscription interface {
	// Next waits for the next change. An error (the connection lost, or
	// ctx ended) ends the subscription: close it and open another.
	Next(ctx context.Context) (Change, error)
	// Channel names where the changes are heard, for logs.
	Channel() string
	// Close ends the subscription and its connection.
	Close()
}
