package sqlite

import "context"

// PublishChange is a no-op: an SQLite database serves one instance, whose
// core invalidates its own caches after every change.
func (q *queries) PublishChange(ctx context.Context, origin string) error { return nil }

// ChangeVersion is always 0 on SQLite.
func (q *queries) ChangeVersion(ctx context.Context) (int64, error) { return 0, nil }
