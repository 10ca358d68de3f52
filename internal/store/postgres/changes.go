package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/store"
)

// changeChannel is the notification channel of a schema. PublishChange
// names it in SQL ('gatehouse_changes.' || current_schema()).
func changeChannel(schema string) string { return "gatehouse_changes." + schema }

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

var _ store.ChangeFeed = (*Store)(nil)

// ListenChanges holds a connection of its own in LISTEN on the schema's
// change channel. It does not apply QueryTimeout: the subscription waits
// as long as its caller's context lets it.
func (s *Store) ListenChanges(ctx context.Context, name string) (store.ChangeSubscription, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres: listen for changes: acquire: %w", err)
	}
	// The connection leaves the pool for good: a LISTENing connection
	// must not be handed to queries.
	sub := &subscription{conn: conn.Hijack()}
	if err := sub.listen(ctx, name); err != nil {
		sub.Close()
		return nil, fmt.Errorf("postgres: listen for changes: %w", err)
	}
	return sub, nil
}

// subscription is a connection in LISTEN.
type subscription struct {
	conn    *pgx.Conn
	channel string
}

func (s *subscription) listen(ctx context.Context, name string) error {
	if _, err := s.conn.Exec(ctx, "SELECT set_config('application_name', $1, false)", name); err != nil {
		return fmt.Errorf("name connection: %w", err)
	}
	// The pool's connections have the store's schema first on their
	// search_path; PublishChange notifies the channel of current_schema().
	var schema string
	if err := s.conn.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return fmt.Errorf("current schema: %w", err)
	}
	s.channel = changeChannel(schema)
	if _, err := s.conn.Exec(ctx, "LISTEN "+pgx.Identifier{s.channel}.Sanitize()); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	return nil
}

// Next waits for a notification and reads PublishChange's
// "origin:number" from it.
func (s *subscription) Next(ctx context.Context) (store.Change, error) {
	n, err := s.conn.WaitForNotification(ctx)
	if err != nil {
		return store.Change{}, err
	}
	origin, num, _ := strings.Cut(n.Payload, ":")
	seq, _ := strconv.ParseInt(num, 10, 64)
	return store.Change{Origin: origin, Seq: seq}, nil
}

func (s *subscription) Channel() string { return s.channel }

func (s *subscription) Close() { s.conn.Close(context.Background()) }
