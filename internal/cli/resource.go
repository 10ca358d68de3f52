package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/client"
)

// resource is a collection of the API addressed by name (or identifier),
// and how its items are shown.
type resource[T any] struct {
	noun, plural string // for messages: "service account", "service accounts"
	collection   string // path segment under /api/v1
	arg          string // placeholder of an item's name in usage: NAME, ID
	view         view[T]
}

// commands is the collection's command group, use (with aliases): its
// list (with filters), get and delete commands, and more.
func (r resource[T]) commands(a *app, use, short string, aliases []string, filters []filter, more ...*cobra.Command) *cobra.Command {
	c := group(use, short, append([]*cobra.Command{r.listCmd(a, 0, filters...), r.getCmd(a), r.deleteCmd(a)}, more...)...)
	c.Aliases = aliases
	return c
}

// path is the collection's path, or an item's and below it.
func (r resource[T]) path(segments ...string) string {
	return client.Path(append([]string{r.collection}, segments...)...)
}

// send makes one request and shows its answer: whole with -o json (the
// server's answer as sent, with fields this client does not know),
// otherwise through table, given the answer decoded as a wire type.
func send[T any](ctx context.Context, s *session, method, path string, body any, table func(T) error) error {
	var raw json.RawMessage
	if err := s.api.Do(ctx, method, path, nil, body, &raw); err != nil {
		return err
	}
	if len(raw) == 0 {
		return fmt.Errorf("%s %s: the server's answer has no body", method, path)
	}
	if s.json {
		return writeJSON(s.out, raw)
	}
	var answer T
	if err := json.Unmarshal(raw, &answer); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return table(answer)
}

// row returns a table printer of one item, for send.
func (v view[T]) row(s *session) func(T) error {
	return func(item T) error { return v.write(s.out, []T{item}) }
}

// list reads every page of a collection (up to limit items) and shows
// them: a JSON array with -o json, otherwise a table.
func list[T any](ctx context.Context, s *session, path string, query url.Values, limit int, v view[T]) error {
	raw, err := client.ListAll[json.RawMessage](ctx, s.api, path, query, client.ListOptions{Limit: limit})
	if err != nil {
		return err
	}
	if s.json {
		return writeJSON(s.out, raw)
	}
	items := make([]T, len(raw))
	for i, r := range raw {
		if err := json.Unmarshal(r, &items[i]); err != nil {
			return fmt.Errorf("GET %s: decode item: %w", path, err)
		}
	}
	return v.write(s.out, items)
}

// confirm makes one request whose answer is not shown: standard output
// stays empty, and in table mode done is said on standard error.
func confirm(ctx context.Context, s *session, method, path string, body any, done string) error {
	if err := s.api.Do(ctx, method, path, nil, body, nil); err != nil {
		return err
	}
	if !s.json {
		fmt.Fprintln(s.errOut, done)
	}
	return nil
}

// printKey prints a new key alone on standard output, so that
// KEY=$(gatehouse ...) captures exactly the key.
func printKey(s *session, key string) error {
	if key == "" {
		return errors.New("the server's answer holds no key")
	}
	_, err := fmt.Fprintln(s.out, key)
	return err
}

// Commands built the same way for every resource.

func (r resource[T]) listCmd(a *app, defaultLimit int, filters ...filter) *cobra.Command {
	var limit int
	c := &cobra.Command{Use: "list", Aliases: []string{"ls"}, Short: "List " + r.plural, Args: cobra.NoArgs}
	c.Flags().IntVar(&limit, "limit", defaultLimit, "show at most this many (0: all)")
	for _, f := range filters {
		c.Flags().Var(f.value, f.flag, f.usage)
	}
	c.PreRunE = func(*cobra.Command, []string) error {
		if limit < 0 {
			return usagef("--limit must not be negative")
		}
		return nil
	}
	return a.leaf(c, func(ctx context.Context, s *session, _ []string) error {
		return list(ctx, s, r.path(), filterQuery(c.Flags(), filters), limit, r.view)
	})
}

func (r resource[T]) getCmd(a *app) *cobra.Command {
	c := &cobra.Command{Use: "get " + r.arg, Short: "Show a " + r.noun, Args: cobra.ExactArgs(1)}
	return a.leaf(c, func(ctx context.Context, s *session, args []string) error {
		return send(ctx, s, http.MethodGet, r.path(args[0]), nil, r.view.row(s))
	})
}

func (r resource[T]) deleteCmd(a *app) *cobra.Command {
	c := &cobra.Command{Use: "delete " + r.arg, Short: "Delete a " + r.noun, Args: cobra.ExactArgs(1)}
	return a.leaf(c, func(ctx context.Context, s *session, args []string) error {
		return confirm(ctx, s, http.MethodDelete, r.path(args[0]), nil, fmt.Sprintf("deleted %s %q", r.noun, args[0]))
	})
}

// createCmd posts {nameKey: NAME} and every field's flag value; complete,
// when not nil, adds to the body before it is sent.
func (r resource[T]) createCmd(a *app, nameKey string, fields []field, complete func(body map[string]any) error) *cobra.Command {
	c := &cobra.Command{Use: "create " + r.arg, Short: "Create a " + r.noun, Args: cobra.ExactArgs(1)}
	addFields(c.Flags(), fields)
	return a.leaf(c, func(ctx context.Context, s *session, args []string) error {
		body := map[string]any{nameKey: args[0]}
		fieldBody(c.Flags(), fields, false, body)
		if complete != nil {
			if err := complete(body); err != nil {
				return err
			}
		}
		return send(ctx, s, http.MethodPost, r.path(), body, r.view.row(s))
	})
}

// updateCmd patches the fields whose flags are given, and only those.
func (r resource[T]) updateCmd(a *app, fields []field) *cobra.Command {
	c := &cobra.Command{Use: "update " + r.arg, Short: "Change a " + r.noun, Args: cobra.ExactArgs(1)}
	addFields(c.Flags(), fields)
	c.PreRunE = func(cmd *cobra.Command, _ []string) error {
		for _, f := range fields {
			if cmd.Flags().Changed(f.flag) {
				return nil
			}
		}
		names := make([]string, len(fields))
		for i, f := range fields {
			names[i] = "--" + f.flag
		}
		return usagef("nothing to change: give %s", strings.Join(names, ", "))
	}
	return a.leaf(c, func(ctx context.Context, s *session, args []string) error {
		body := map[string]any{}
		fieldBody(c.Flags(), fields, true, body)
		return send(ctx, s, http.MethodPatch, r.path(args[0]), body, r.view.row(s))
	})
}

// activeCmd is "enable NAME" or "disable NAME": a PATCH of is_active.
func (r resource[T]) activeCmd(a *app, active bool) *cobra.Command {
	verb, short := "disable", "Disable a "+r.noun+"; it and its tokens are refused until enabled"
	if active {
		verb, short = "enable", "Enable a disabled "+r.noun
	}
	c := &cobra.Command{Use: verb + " " + r.arg, Short: short, Args: cobra.ExactArgs(1)}
	return a.leaf(c, func(ctx context.Context, s *session, args []string) error {
		return send(ctx, s, http.MethodPatch, r.path(args[0]), map[string]bool{"is_active": active}, r.view.row(s))
	})
}
