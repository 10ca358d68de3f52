package postgres

import (
	"context"
	"fmt"
)

// PublishChange notifies the schema's change channel with
// "origin:number". NOTIFY inside a transaction is delivered at commit and
// dropped on rollback, so listeners hear of exactly the committed changes.
func (q *queries) PublishChange(ctx context.Context, origin string) error {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	_, err := q.db.Exec(ctx,
		`SELECT pg_notify('gatehouse_changes.' || current_schema(), $1::text || ':' || nextval('change_seq')::text)`, origin)
	if err != nil {
		return fmt.Errorf("postgres: publish change: %w", q.fail(err))
	}
	return nil
}

// ChangeVersion reads the latest number handed out by PublishChange.
func (q *queries) ChangeVersion(ctx context.Context) (int64, error) {
	ctx, cancel := q.timeout(ctx)
	defer cancel()
	var v int64
	err := q.db.QueryRow(ctx, `SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM change_seq`).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("postgres: change version: %w", q.fail(err))
	}
	return v, nil
}

// Schema is the schema the store's connections use ("" for the server's
// default search_path): another store opened on it shares the data, as a
// second instance would.
func (s *Store) Schema() string { return s.schema }
