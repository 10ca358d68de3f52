package client

import (
	"context"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
)

// Page is one page of a list answer. NextPageToken, when not empty, asks
// for the page after it (ListOptions.PageToken).
type Page[T any] struct {
	Items         []T    `json:"items"`
	NextPageToken string `json:"next_page_token"`
}

// ListOptions chooses a page, or where ListAll begins and ends.
type ListOptions struct {
	// PageSize is the number of items a page holds at most: the server's
	// default (50) when 0 for List, MaxPageSize for ListAll.
	PageSize int
	// PageToken goes on from a previous page's NextPageToken.
	PageToken string
	// Limit stops ListAll and All after this many items (0: no limit).
	Limit int
}

// List reads one page of the collection at path (under /api/v1), with
// query's filters. The typed List methods of the resources call it; it
// serves collections they do not cover, and callers that want the items
// as sent (T = json.RawMessage).
func List[T any](ctx context.Context, c *Client, path string, query url.Values, opts ListOptions) (Page[T], error) {
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	if opts.PageSize > 0 {
		q.Set("page_size", strconv.Itoa(opts.PageSize))
	}
	if opts.PageToken != "" {
		q.Set("page_token", opts.PageToken)
	}
	var p Page[T]
	if err := c.Do(ctx, http.MethodGet, path, q, nil, &p); err != nil {
		return Page[T]{}, err
	}
	return p, nil
}

// All iterates over the collection at path, page after page, from
// opts.PageToken on, until the last page or opts.Limit items. It stops
// at the first error, which it yields with a zero item.
func All[T any](ctx context.Context, c *Client, path string, query url.Values, opts ListOptions) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		token, n := opts.PageToken, 0
		for {
			size := opts.PageSize
			if size <= 0 {
				size = MaxPageSize
			}
			if opts.Limit > 0 {
				size = min(size, opts.Limit-n)
			}
			p, err := List[T](ctx, c, path, query, ListOptions{PageSize: size, PageToken: token})
			if err != nil {
				yield(zero, err)
				return
			}
			for _, item := range p.Items {
				if !yield(item, nil) {
					return
				}
				if n++; opts.Limit > 0 && n >= opts.Limit {
					return
				}
			}
			switch p.NextPageToken {
			case "":
				return
			case token:
				yield(zero, fmt.Errorf("GET %s: the server answered the same page token twice", path))
				return
			}
			token = p.NextPageToken
		}
	}
}

// ListAll collects All into a slice (never nil).
func ListAll[T any](ctx context.Context, c *Client, path string, query url.Values, opts ListOptions) ([]T, error) {
	items := []T{}
	for item, err := range All[T](ctx, c, path, query, opts) {
		if err != nil {
			return nil, err
		}
		items = append(items, item)
	}
	return items, nil
}
