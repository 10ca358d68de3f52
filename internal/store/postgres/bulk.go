package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/store"
)

var _ store.BulkLoader = (*Store)(nil)

// BulkLoad implements store.BulkLoader with COPY, one stream per table in
// one transaction: the database checks every constraint and foreign key
// as for single inserts, but the rows travel without a round trip each.
// A taken name or lookup fails the whole load (store.ErrConflict), as does
// a reference to a missing row (store.ErrNotFound). The values are those
// CreateUser, AddMember and CreateToken write.
func (s *Store) BulkLoad(ctx context.Context, b store.Bulk) error {
	if err := b.Check(); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: bulk load: begin: %w", err)
	}
	defer rollback(ctx, tx)
	copyRows := func(what string, table string, cols []string, n int, row func(i int) []any) error {
		if n == 0 {
			return nil
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromSlice(n, func(i int) ([]any, error) { return row(i), nil }))
		if err != nil {
			return fmt.Errorf("postgres: bulk load %s: %w", what, mapErr(err))
		}
		return nil
	}
	err = copyRows("users", "users", []string{"uid", "username", "type", "name", "email", "description", "is_active", "managed",
		"password_hash", "password_changed_at", "created_at", "last_login_at"}, len(b.Users), func(i int) []any {
		u := b.Users[i]
		return []any{u.UID, u.Username, u.Type, u.Name, u.Email, u.Description, u.IsActive, u.Managed,
			u.PasswordHash, u.PasswordChangedAt, u.CreatedAt, u.LastLoginAt}
	})
	if err == nil {
		err = copyRows("members", "group_members", []string{"group_uid", "user_uid"}, len(b.Members), func(i int) []any {
			return []any{b.Members[i].GroupUID, b.Members[i].UserUID}
		})
	}
	if err == nil {
		err = copyRows("tokens", "tokens", []string{"uid", "identifier", "user_uid", "intent", "description", "expiring", "expires_at",
			"extended", "max_age", "created_at", "created_by", "last_used_at", "managed"}, len(b.Tokens), func(i int) []any {
			t := b.Tokens[i]
			return []any{t.UID, t.Identifier, t.UserUID, t.Intent, t.Description, t.Expiring, t.ExpiresAt,
				t.Extended, int64(t.MaxAge), t.CreatedAt, t.CreatedBy, t.LastUsedAt, t.Managed}
		})
	}
	if err == nil {
		err = copyRows("keys", "token_keys", []string{"lookup", "token_uid", "hash", "not_after", "created_at"}, len(b.Keys), func(i int) []any {
			k := b.Keys[i]
			// The key belongs to its token whatever k.TokenUID says, as in CreateToken.
			return []any{k.Lookup, b.Tokens[i].UID, k.Hash, k.NotAfter, k.CreatedAt}
		})
	}
	if err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: bulk load: commit: %w", mapErr(err))
	}
	return nil
}
