package ui

import (
	"net/url"

	"github.com/gatehouse/gatehouse/internal/core"
)

// pageSize is the length of every list page.
const pageSize = 50

// listPage cuts a listing read with pageSize+1 items to one page, and
// gives the query string of the next page ("" on the last one): keep,
// with after set to the key of the page's last item.
func listPage[T any](items []T, key func(T) string, keep url.Values) ([]T, string) {
	if len(items) <= pageSize {
		return items, ""
	}
	items = items[:pageSize]
	next := url.Values{}
	for k, v := range keep {
		if len(v) > 0 && v[0] != "" {
			next[k] = v
		}
	}
	next.Set("after", key(items[pageSize-1]))
	return items, next.Encode()
}

// username is the key of accounts in lists.
func username(u core.UserView) string { return u.Username }
