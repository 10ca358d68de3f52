package sqlite

import (
	"context"
	"fmt"

	"github.com/gatehouse/gatehouse/internal/store"
)

var _ store.BulkLoader = (*Store)(nil)

// BulkLoad implements store.BulkLoader: one writer transaction, each
// statement prepared once and run per row (the per-row cost left is
// SQLite's own insert; parsing each statement again is what makes a
// million CreateToken calls slow). The values are encoded exactly as
// CreateUser, AddMember and CreateToken encode them.
func (s *Store) BulkLoad(ctx context.Context, b store.Bulk) error {
	if err := b.Check(); err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: bulk load: begin: %w", mapErr(err))
	}
	// Rows with random keys (UUIDs, lookups) land all over every index:
	// with the default 2 MiB page cache a large load spends its time
	// re-reading pages. The cache of the writer connection grows for the
	// load and shrinks back afterwards.
	var cacheSize int64
	if err := tx.QueryRowContext(ctx, `PRAGMA cache_size`).Scan(&cacheSize); err != nil {
		_ = tx.Rollback()
		return fmt.Errorf("sqlite: bulk load: read cache_size: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			_ = tx.Rollback()
		}
		// Only now is the writer's single connection free again: the
		// cache goes back to its size on that connection.
		_, _ = s.writer.ExecContext(context.WithoutCancel(ctx), fmt.Sprintf(`PRAGMA cache_size = %d`, cacheSize))
	}()
	if _, err := tx.ExecContext(ctx, `PRAGMA cache_size = -262144`); err != nil { // 256 MiB
		return fmt.Errorf("sqlite: bulk load: cache_size: %w", err)
	}
	run := func(what, query string, n int, args func(i int) []any) error {
		if n == 0 {
			return nil
		}
		st, err := tx.PrepareContext(ctx, query)
		if err != nil {
			return fmt.Errorf("sqlite: bulk load %s: %w", what, mapErr(err))
		}
		defer st.Close()
		for i := range n {
			if _, err := st.ExecContext(ctx, args(i)...); err != nil {
				return fmt.Errorf("sqlite: bulk load %s %d: %w", what, i, mapErr(err))
			}
		}
		return nil
	}
	err = run("users", `INSERT INTO users (`+userColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, len(b.Users), func(i int) []any {
		u := b.Users[i]
		return []any{u.UID, u.Username, u.Type, u.Name, u.Email, u.Description, boolInt(u.IsActive), boolInt(u.Managed),
			u.PasswordHash, optMicros(u.PasswordChangedAt), micros(u.CreatedAt), optMicros(u.LastLoginAt)}
	})
	if err == nil {
		err = run("members", `INSERT INTO group_members (group_uid, user_uid) VALUES (?, ?)`, len(b.Members), func(i int) []any {
			return []any{b.Members[i].GroupUID, b.Members[i].UserUID}
		})
	}
	if err == nil {
		err = run("tokens", `INSERT INTO tokens (uid, identifier, user_uid, intent, description,
			expiring, expires_at, extended, max_age, created_at, created_by, last_used_at, managed)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, len(b.Tokens), func(i int) []any {
			t := b.Tokens[i]
			return []any{t.UID, t.Identifier, t.UserUID, t.Intent, t.Description,
				boolInt(t.Expiring), optMicros(t.ExpiresAt), boolInt(t.Extended), int64(t.MaxAge),
				micros(t.CreatedAt), t.CreatedBy, optMicros(t.LastUsedAt), boolInt(t.Managed)}
		})
	}
	if err == nil {
		err = run("keys", insertTokenKey, len(b.Keys), func(i int) []any {
			k := b.Keys[i]
			// The key belongs to its token whatever k.TokenUID says, as in CreateToken.
			return []any{k.Lookup, b.Tokens[i].UID, hashArg(k.Hash), optMicros(k.NotAfter), micros(k.CreatedAt)}
		})
	}
	if err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: bulk load: commit: %w", mapErr(err))
	}
	committed = true
	return nil
}
