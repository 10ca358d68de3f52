package ui

import (
	"context"
	"net/http"
	"net/url"

	"github.com/gatehouse/gatehouse/internal/authz"
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

// usernames lists the accounts the actor may read, for a form's
// suggestions; none without users.read (the form still takes a name).
func (s *Server) usernames(ctx context.Context, c *reqCtx) []string {
	if !c.can(authz.UsersRead) {
		return nil
	}
	us, err := s.core.Accounts.ListUsers(ctx, c.actor, core.UserQuery{Limit: 500})
	if err != nil {
		return nil
	}
	names := make([]string, len(us))
	for i, u := range us {
		names[i] = username(u)
	}
	return names
}

// username is the key of accounts in lists.
func username(u core.UserView) string { return u.Username }

// listData is a list page's data: one page of items, the search and the
// next page, and the create form when the viewer may create.
type listData[T any] struct {
	Items    []T
	Search   string
	Next     string // query string of the next page, "" on the last
	CanWrite bool
	Form     *form
	Extra    any // what one list shows besides (the create form's choices)
}

// listing is a searchable list page with its create form.
type listing[T any] struct {
	tmpl, title, section string
	write                string // the permission that shows the create form
	key                  func(T) string
	list                 func(s *Server, ctx context.Context, c *reqCtx, search, after string) ([]T, error)
	extra                func(s *Server, ctx context.Context, c *reqCtx) any // nil: none
}

// page is the list's GET handler.
func (l listing[T]) page(s *Server) handler {
	return func(w http.ResponseWriter, r *http.Request, c *reqCtx) {
		l.render(s, w, r, c, http.StatusOK, newForm(nil))
	}
}

// render shows the list's page, with the create form f (as typed, after
// a refusal, with status).
func (l listing[T]) render(s *Server, w http.ResponseWriter, r *http.Request, c *reqCtx, status int, f *form) {
	q := r.URL.Query()
	search := q.Get("search")
	items, err := l.list(s, r.Context(), c, search, q.Get("after"))
	if err != nil {
		s.fail(w, r, c, err)
		return
	}
	d := listData[T]{Search: search, CanWrite: c.can(l.write), Form: f}
	d.Items, d.Next = listPage(items, l.key, url.Values{"search": {search}})
	if d.CanWrite && l.extra != nil {
		d.Extra = l.extra(s, r.Context(), c)
	}
	s.render(w, r, c, status, l.tmpl, l.title, l.section, d)
}

// create handles the list's create form (see submit): an error about
// the input shows the list again with the form as typed.
func (l listing[T]) create(s *Server, w http.ResponseWriter, r *http.Request, c *reqCtx, rename map[string]string,
	create func(ctx context.Context, v url.Values) (target, done string, err error)) {
	s.submit(w, r, c, rename, create, func(status int, f *form) { l.render(s, w, r, c, status, f) })
}
