package authz_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/authz"
)

// The seed corpus is in testdata/fuzz/FuzzPermissions and runs with every
// "go test"; "go test -run '^$' -fuzz '^FuzzPermissions$' ./internal/authz"
// explores further.

// permissionRE states, apart from the parser, which strings are
// permissions: a catalogue name alone, or "name@kind/object" with a kind
// the catalogue allows for that name and an object name of lower-case
// letters, digits and ". _ -" that starts and ends with a letter or digit,
// at most 63 characters (the names of groups, LDAP providers and
// applications).
var permissionRE = func() *regexp.Regexp {
	const object = `[a-z0-9](?:[a-z0-9._-]{0,61}[a-z0-9])?`
	var alts []string
	for _, d := range authz.Catalogue {
		alt := regexp.QuoteMeta(d.Name)
		if len(d.Scopes) > 0 {
			alt += `(?:@(?:` + strings.Join(d.Scopes, "|") + `)/` + object + `)?`
		}
		alts = append(alts, alt)
	}
	return regexp.MustCompile(`^(?:` + strings.Join(alts, "|") + `)$`)
}()

// FuzzPermissions reads its input as a list of permission strings, one a
// line. Each is parsed: accepted exactly when the statement above says
// so, its parts are the string's, and it re-renders to the very string
// it came from; a refusal is a short, valid UTF-8 message. The list is
// normalized: the result is the accepted entries, sorted, without
// repeats, each refused entry reported at its index, and normalizing the
// result again changes nothing.
func FuzzPermissions(f *testing.F) {
	f.Fuzz(func(t *testing.T, list string) {
		in := strings.Split(list, "\n")
		want := map[string]bool{}
		for _, s := range in {
			p, err := authz.ParsePermission(s)
			if (err == nil) != permissionRE.MatchString(s) {
				t.Fatalf("ParsePermission(%q) = %+v, %v; the catalogue says the opposite", s, p, err)
			}
			if err != nil {
				if p != (authz.Permission{}) {
					t.Fatalf("ParsePermission(%q) refused it but returned %+v", s, p)
				}
				// Refusals reach problem documents; they quote at most 64
				// bytes of what was sent, each escaped to at most 4.
				if msg := err.Error(); !utf8.ValidString(msg) || len(msg) > 512 {
					t.Fatalf("ParsePermission(%q): error of %d bytes: %q", s, len(msg), msg)
				}
				continue
			}
			name, scope, scoped := strings.Cut(s, "@")
			kind, object, _ := strings.Cut(scope, "/")
			if p.Name != name || p.Kind != kind || p.Object != object || scoped != (p.Kind != "") {
				t.Fatalf("ParsePermission(%q) = %+v", s, p)
			}
			if p.String() != s {
				t.Fatalf("ParsePermission(%q) re-renders as %q", s, p.String())
			}
			if again, err := authz.ParsePermission(p.String()); err != nil || again != p {
				t.Fatalf("%q: parsed %+v, re-parsed %+v, %v", s, p, again, err)
			}
			want[s] = true
		}

		out, bad := authz.NormalizePermissions(in)
		if !slices.IsSorted(out) || len(slices.Compact(slices.Clone(out))) != len(out) {
			t.Fatalf("NormalizePermissions(%q) = %q: not sorted or repeated", in, out)
		}
		if len(out) != len(want) {
			t.Fatalf("NormalizePermissions(%q) = %q, want the set %v", in, out, want)
		}
		for _, s := range out {
			if !want[s] {
				t.Fatalf("NormalizePermissions(%q) = %q holds %q", in, out, s)
			}
		}
		for i, s := range in {
			if _, refused := bad[i]; refused == want[s] {
				t.Fatalf("NormalizePermissions(%q): entry %d %q reported %q", in, i, s, bad[i])
			}
		}
		for i := range bad {
			if i < 0 || i >= len(in) {
				t.Fatalf("NormalizePermissions(%q): a refusal at index %d", in, i)
			}
		}
		again, bad2 := authz.NormalizePermissions(out)
		if !slices.Equal(again, out) || len(bad2) != 0 {
			t.Fatalf("NormalizePermissions(%q) = %q, %v", out, again, bad2)
		}
	})
}
