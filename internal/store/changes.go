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

// ChangeChannel is the PostgreSQL notification channel of a schema.
func ChangeChannel(schema string) string { return "gatehouse_changes." + schema }
