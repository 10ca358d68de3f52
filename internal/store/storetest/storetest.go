// Package storetest is the conformance suite every storage backend must
// pass, and the list of backends other packages run their own tests on.
//
// The suite states the behaviour store.Queries and store.Store promise,
// including what the interface comments leave to a convention both
// backends share:
//
//   - names and identifiers order in byte order (Go's sort.Strings), in
//     lists and in keyset pagination;
//   - search filters match a case-insensitive (ASCII) substring, with the
//     LIKE wildcards % and _ matched literally;
//   - EventFilter.Since is inclusive and Until exclusive: [Since, Until);
//   - times come back in UTC, exact to the microsecond;
//   - a permission set is a set: duplicates given on write are stored once,
//     and reads return it sorted;
//   - empty lists may be nil.
package storetest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// testCase is one subtest of the suite.
type testCase struct {
	name string
	fn   func(t *testing.T, s store.Store)
}

// suite lists every test; each file adds its own.
func suite() []testCase {
	var all []testCase
	for _, part := range [][]testCase{
		userTests, groupTests, roleTests, grantTests, cascadeTests,
		tokenTests, keyTests, eventTests, settingTests, timeTests,
		txTests, lifecycleTests, concurrencyTests,
		sessionTests,
		applicationTests,
		ldapTests,
		federationTests,
		bulkTests, // bulk loader of the benchmarks (bulk.go)
	} {
		all = append(all, part...)
	}
	return all
}

// Run runs the conformance suite. Every subtest runs in parallel with the
// others on its own store from newStore, which must return a fresh,
// migrated, empty store and close it when the test ends.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	RunPart(t, newStore, nil)
}

// RunPart runs the subtests whose names keep accepts (every one when keep
// is nil), as Run does: for tests that run the suite on many stores (one
// upgraded from each released schema version) and can afford only part
// of it where a fresh store is slow to make.
func RunPart(t *testing.T, newStore func(t *testing.T) store.Store, keep func(name string) bool) {
	for _, tc := range suite() {
		if keep != nil && !keep(tc.name) {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newStore(t))
		})
	}
}

// t0 is the suite's reference time: microsecond precision, UTC.
var t0 = time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.UTC)

// at returns t0 plus d.
func at(d time.Duration) time.Time { return t0.Add(d) }

// ptr returns a pointer to a copy of v.
func ptr[T any](v T) *T { return &v }

// newUID returns a random version-4 UUID, the form core gives every UID
// (a backend may store UIDs in a uuid column).
func newUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// --- fixtures -----------------------------------------------------------------

func human(username string) store.User {
	return store.User{
		UID: newUID(), Username: username, Type: store.TypeHuman,
		Name: "Name of " + username, Email: username + "@example.org",
		IsActive: true, CreatedAt: t0,
	}
}

func mustCreateUser(t *testing.T, q store.Queries, u store.User) store.User {
	t.Helper()
	if err := q.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("CreateUser(%q): %v", u.Username, err)
	}
	return u
}

func mustUser(t *testing.T, q store.Queries, username string) store.User {
	t.Helper()
	return mustCreateUser(t, q, human(username))
}

func mustGroup(t *testing.T, q store.Queries, name string) store.Group {
	t.Helper()
	g := store.Group{UID: newUID(), Name: name, Description: "group " + name, CreatedAt: t0}
	if err := q.CreateGroup(t.Context(), g); err != nil {
		t.Fatalf("CreateGroup(%q): %v", name, err)
	}
	return g
}

func mustRole(t *testing.T, q store.Queries, name string, perms ...string) store.Role {
	t.Helper()
	r := store.Role{UID: newUID(), Name: name, Description: "role " + name, Permissions: perms, CreatedAt: t0}
	if err := q.CreateRole(t.Context(), r); err != nil {
		t.Fatalf("CreateRole(%q): %v", name, err)
	}
	r.Permissions = sortedSet(perms)
	return r
}

func apiToken(u store.User, identifier string) store.Token {
	return store.Token{
		UID: newUID(), Identifier: identifier, UserUID: u.UID, Username: u.Username, UserType: u.Type,
		Intent: store.IntentAPI, Description: "token " + identifier, CreatedAt: t0, CreatedBy: "admin",
	}
}

func keyFor(tok store.Token, lookup string) store.TokenKey {
	return store.TokenKey{Lookup: lookup, TokenUID: tok.UID, Hash: []byte("hash of " + lookup + "\x00\xff"), CreatedAt: tok.CreatedAt}
}

// mustToken creates tok with one key whose lookup is "lk-" + identifier.
func mustToken(t *testing.T, q store.Queries, tok store.Token) store.Token {
	t.Helper()
	if err := q.CreateToken(t.Context(), tok, keyFor(tok, "lk-"+tok.Identifier)); err != nil {
		t.Fatalf("CreateToken(%q): %v", tok.Identifier, err)
	}
	return tok
}

// --- assertions ---------------------------------------------------------------

func mustNil(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// wantRead returns a check that a read succeeded and returned want, for
// the read's results: wantRead(t, want, what)(s.GetGroup(ctx(t), name)).
func wantRead[T any](t *testing.T, want T, what string) func(got T, err error) {
	t.Helper()
	return func(got T, err error) {
		t.Helper()
		mustNil(t, err, what)
		equal(t, got, want, what)
	}
}

// wantNotFound returns a check that a read failed with store.ErrNotFound,
// for the read's results: wantNotFound(t, what)(s.GetGroup(ctx(t), name)).
func wantNotFound(t *testing.T, what string) func(any, error) {
	t.Helper()
	return func(_ any, err error) {
		t.Helper()
		wantErr(t, err, store.ErrNotFound, what)
	}
}

// wantDeleted deletes by UID a row that get reads by name, and checks
// that it is gone, that deleting it again is store.ErrNotFound, and that
// the other row is untouched.
func wantDeleted[T any](t *testing.T, del func(context.Context, string) error, get func(context.Context, string) (T, error),
	uid, name string, other T, otherName string) {
	t.Helper()
	mustNil(t, del(ctx(t), uid), "delete")
	_, err := get(ctx(t), name)
	wantErr(t, err, store.ErrNotFound, "read the deleted "+name)
	wantErr(t, del(ctx(t), uid), store.ErrNotFound, "delete again")
	wantRead(t, other, "the other row")(get(ctx(t), otherName))
}

// wantErr fails unless errors.Is(err, want).
func wantErr(t *testing.T, err, want error, what string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

// equal fails unless got and want are deeply equal after normalising nil
// and empty slices and maps (see norm).
func equal[T any](t *testing.T, got, want T, what string) {
	t.Helper()
	g, w := norm(got), norm(want)
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("%s:\n got: %+v\nwant: %+v", what, dump(got), dump(want))
	}
}

// norm copies v with every empty slice or map made nil, recursively, so
// that "empty" compares equal however a backend builds it. Times are
// compared exactly, location included: backends return UTC.
func norm(v any) any {
	rv := reflect.ValueOf(v)
	if !rv.IsValid() {
		return nil
	}
	return normValue(rv).Interface()
}

func normValue(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Slice:
		if v.Len() == 0 {
			return reflect.Zero(v.Type())
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return v
		}
		out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := range v.Len() {
			out.Index(i).Set(normValue(v.Index(i)))
		}
		return out
	case reflect.Map:
		if v.Len() == 0 {
			return reflect.Zero(v.Type())
		}
		out := reflect.MakeMapWithSize(v.Type(), v.Len())
		for it := v.MapRange(); it.Next(); {
			out.SetMapIndex(it.Key(), normValue(it.Value()))
		}
		return out
	case reflect.Interface:
		if v.IsNil() {
			return v
		}
		out := reflect.New(v.Type()).Elem()
		out.Set(normValue(v.Elem()))
		return out
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			return v
		}
		out := reflect.New(v.Type()).Elem()
		out.Set(v)
		for i := range v.NumField() {
			if out.Field(i).CanSet() {
				out.Field(i).Set(normValue(v.Field(i)))
			}
		}
		return out
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		out := reflect.New(v.Type().Elem())
		out.Elem().Set(normValue(v.Elem()))
		return out
	}
	return v
}

// dump renders v for a failure message, pointers followed.
func dump(v any) string {
	return fmt.Sprintf("%+v", derefAll(reflect.ValueOf(v)))
}

func derefAll(v reflect.Value) any {
	if !v.IsValid() {
		return nil
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return "<nil>"
		}
		if t, ok := v.Interface().(*time.Time); ok {
			return t.Format(time.RFC3339Nano + " MST")
		}
		return derefAll(v.Elem())
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return fmt.Sprintf("%q", v.Bytes())
		}
		out := make([]any, v.Len())
		for i := range v.Len() {
			out[i] = derefAll(v.Index(i))
		}
		return out
	case reflect.Struct:
		if t, ok := v.Interface().(time.Time); ok {
			return t.Format(time.RFC3339Nano + " MST")
		}
		out := make(map[string]any, v.NumField())
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				out[v.Type().Field(i).Name] = derefAll(v.Field(i))
			}
		}
		return out
	}
	if v.CanInterface() {
		return v.Interface()
	}
	return v.String()
}

// sortedSet returns the sorted distinct values of s.
func sortedSet(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

// names extracts a name from each element, in order.
func names[T any](items []T, name func(T) string) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = name(it)
	}
	return out
}

func usernames(us []store.User) []string {
	return names(us, func(u store.User) string { return u.Username })
}
func groupNames(gs []store.Group) []string {
	return names(gs, func(g store.Group) string { return g.Name })
}
func identifiers(ts []store.Token) []string {
	return names(ts, func(t store.Token) string { return t.Identifier })
}

// paginate collects every page of a keyset-paginated list, checking that
// no page is longer than limit and that pages end when one comes back
// short. next lists the page after the given key ("" first).
func paginate[T any](t *testing.T, limit int, key func(T) string, next func(after string) ([]T, error)) (all []T, pages int) {
	t.Helper()
	after := ""
	for {
		page, err := next(after)
		if err != nil {
			t.Fatalf("page %d (after %q): %v", pages+1, after, err)
		}
		if len(page) > limit {
			t.Fatalf("page %d has %d items, limit %d", pages+1, len(page), limit)
		}
		if len(page) > 0 {
			pages++
			all = append(all, page...)
		}
		if len(page) < limit {
			return all, pages
		}
		after = key(page[len(page)-1])
		if pages > 1000 {
			t.Fatal("pagination does not end")
		}
	}
}

// ctx returns the test's context.
func ctx(t *testing.T) context.Context { return t.Context() }
