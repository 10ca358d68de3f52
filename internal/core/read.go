package core

import (
	"context"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/store"
)

// The shapes of the plain reads. Each takes the answer of the call's
// authorization (authorized: nil when allowed, or when the caller
// authorized the read before), made before the read is, and reads nothing
// when it refuses.

// readOne is a Get: the item named name is read, its absence answered as
// the noun's not found, and shown.
func readOne[S, V any](ctx context.Context, authorized error, get func(context.Context, string) (S, error), noun, name string, view func(S) (V, error)) (V, error) {
	var zero V
	if authorized != nil {
		return zero, authorized
	}
	item, err := get(ctx, name)
	if err != nil {
		return zero, notFound(err, noun, name)
	}
	return view(item)
}

// listOf is a List: the items filter selects are read and shown.
func listOf[F, S, V any](ctx context.Context, authorized error, list func(context.Context, F) ([]S, error), filter F, view func(S) V) ([]V, error) {
	if authorized != nil {
		return nil, authorized
	}
	items, err := list(ctx, filter)
	if err != nil {
		return nil, err
	}
	return viewsOf(items, view), nil
}

// viewsOf shows items read from the store.
func viewsOf[S, V any](items []S, view func(S) V) []V {
	out := make([]V, len(items))
	for i, item := range items {
		out[i] = view(item)
	}
	return out
}

// infallible is a view that cannot fail, for readOne.
func infallible[S, V any](view func(S) V) func(S) (V, error) {
	return func(item S) (V, error) { return view(item), nil }
}

// writeOne is a change of one item, authorized by the caller: in one
// transaction (Service.write) the item named name is read, its absence
// answered as the noun's not found, and change makes the rest.
func writeOne[S any](ctx context.Context, s *Service, get func(store.Queries, context.Context, string) (S, error), noun, name string,
	change func(q store.Queries, rec func(store.Event), item S) error) error {
	return s.write(ctx, func(q store.Queries, rec func(store.Event)) error {
		item, err := get(q, ctx, name)
		if err != nil {
			return notFound(err, noun, name)
		}
		return change(q, rec, item)
	})
}

// scopedList is a List that a scoped grant narrows: perm on any object of
// objOf's kind lets the caller list (else authorize's refusal, on target),
// search is checked as in every list, and an item is shown only when perm
// holds on objOf(scope(item)) (visiblePage reads past the hidden ones).
func scopedList[T, V any](ctx context.Context, s *Service, a Actor, perm string, objOf func(string) authz.Object, target audit.Target,
	search, after string, limit int, page func(after string, limit int) ([]T, error), key, scope func(T) string, view func(T) (V, error)) ([]V, error) {
	if a.P == nil || !a.P.CanSomewhere(perm, objOf("").Kind) {
		if err := s.authorize(ctx, a, perm, target); err != nil {
			return nil, err
		}
	}
	var f fields
	f.maxLen("search", search, 256)
	if err := f.err(); err != nil {
		return nil, err
	}
	return visiblePage(after, limit, page, key, func(item T) bool { return a.P.CanOn(perm, objOf(scope(item))) }, view)
}

// deleted ends the deletion of an item inside its transaction: err is the
// store's delete (the item gone meanwhile: the noun's not found), and the
// deletion is recorded (context: the event's).
func (s *Service) deleted(rec func(store.Event), a Actor, err error, noun, name string, target audit.Target, context map[string]any) error {
	if err != nil {
		return notFound(err, noun, name)
	}
	rec(s.event(a, audit.ActionModelDeleted, audit.Success, target, context))
	return nil
}

// then runs changed after a write that succeeded (err nil), so that the
// caches learn of it, and returns err.
func then(err error, changed func()) error {
	if err == nil {
		changed()
	}
	return err
}

// readAll reads every item of a store list, a page at a time after the
// key of the last one read.
func readAll[T any](list func(after string, limit int) ([]T, error), key func(T) string) ([]T, error) {
	const page = 5000
	var all []T
	for after := ""; ; {
		items, err := list(after, page)
		if err != nil {
			return nil, err
		}
		all = append(all, items...)
		if len(items) < page {
			return all, nil
		}
		after = key(items[len(items)-1])
	}
}
