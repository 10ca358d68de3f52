package store

import (
	"context"
	"fmt"
)

// Bulk is a set of new rows for a bulk load: users, their group
// memberships, and tokens each with its first key (Keys[i] belongs to
// Tokens[i]).
type Bulk struct {
	Users   []User
	Members []Membership // (ldap.go)
	Tokens  []Token
	Keys    []TokenKey
}

// Check reports a bulk load a backend cannot even begin: a token without
// its key, or a key without its token.
func (b Bulk) Check() error {
	if len(b.Keys) != len(b.Tokens) {
		return fmt.Errorf("bulk load: %d tokens but %d keys", len(b.Tokens), len(b.Keys))
	}
	return nil
}

// BulkLoader is implemented by backends that can insert many new rows far
// faster than one call per row: the benchmark suite loads a million tokens
// with it (cmd/gatehouse-bench). It is no part of Queries: the server never
// needs it, and it writes no audit events.
//
// BulkLoad inserts everything in one transaction: all rows or none. The
// rows must be new; a taken name, uid or lookup, or a reference to a
// missing user or group, fails the whole load (ErrConflict, ErrNotFound or
// a plain error, depending on the backend) rather than being skipped.
type BulkLoader interface {
	BulkLoad(ctx context.Context, b Bulk) error
}
