package auth_test

import (
	"errors"
	"hash/crc32"
	"regexp"
	"testing"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// The seed corpus is in testdata/fuzz/FuzzParseKey and runs with every
// "go test"; "go test -run '^$' -fuzz '^FuzzParseKey$' ./internal/auth"
// explores further.

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// keyRE is the documented format, anchored: what a secret scanner
// matches (`\bga[tp]_[0-9A-Za-z]{40}\b`), as the whole string.
var keyRE = regexp.MustCompile(`^ga[tp]_[0-9A-Za-z]{40}$`)

// sealKey appends the checksum to the first 38 characters of a key as
// the documentation states it, written apart from key.go: the CRC-32
// (IEEE) of everything before it in 6 big-endian base62 digits.
func sealKey(head string) string {
	sum := crc32.ChecksumIEEE([]byte(head))
	var d [6]byte
	for i := 5; i >= 0; i-- {
		d[i] = base62[sum%62]
		sum /= 62
	}
	return head + string(d[:])
}

// wellFormed says whether s is a key by the documentation alone.
func wellFormed(s string) bool {
	return keyRE.MatchString(s) && sealKey(s[:auth.KeyLen-6]) == s
}

// FuzzParseKey holds ParseKey to the documented format both ways on
// arbitrary strings, then builds a well-formed key from the same input
// (its characters folded into base62) and checks that it parses into its
// parts and that changing any one of its characters to the fuzzed byte
// is refused.
func FuzzParseKey(f *testing.F) {
	// Keys the generator makes are well formed by the independent
	// statement above and parse back to themselves.
	for i := range 64 {
		k, err := auth.NewKey([]string{"api", "app_password"}[i%2])
		if err != nil {
			f.Fatal(err)
		}
		if !wellFormed(k.Raw) {
			f.Fatalf("the generator made %q, which is not a documented key", k.Raw)
		}
		if p, err := auth.ParseKey(k.Raw); err != nil || p != k {
			f.Fatalf("ParseKey(NewKey) = %+v, %v", p, err)
		}
	}
	f.Fuzz(func(t *testing.T, s string, c byte) {
		p, err := auth.ParseKey(s)
		switch {
		case err == nil && !wellFormed(s):
			t.Fatalf("accepted %q, which is not a documented key", s)
		case err != nil && wellFormed(s):
			t.Fatalf("refused the well-formed key %q: %v", s, err)
		case err != nil && (!errors.Is(err, auth.ErrMalformedKey) || p != auth.ParsedKey{}):
			t.Fatalf("%q: %+v, %v", s, p, err)
		case err == nil:
			checkParts(t, s, p)
		}

		// A well-formed key from the input.
		head := []byte("gat_")
		if c&1 == 1 {
			head = []byte("gap_")
		}
		for i := 0; len(head) < auth.KeyLen-6; i++ {
			var b byte
			if i < len(s) {
				b = s[i]
			}
			head = append(head, base62[int(b)%62])
		}
		key := sealKey(string(head))
		p, err = auth.ParseKey(key)
		if err != nil {
			t.Fatalf("refused the well-formed key %q: %v", key, err)
		}
		checkParts(t, key, p)
		for i := range auth.KeyLen {
			if key[i] == c {
				continue
			}
			typo := key[:i] + string([]byte{c}) + key[i+1:]
			if p, err := auth.ParseKey(typo); err == nil {
				t.Fatalf("%q with byte %d changed to %q was accepted: %+v", key, i, c, p)
			}
		}
	})
}

func checkParts(t *testing.T, s string, p auth.ParsedKey) {
	t.Helper()
	intent := map[string]string{auth.PrefixAPI: "api", auth.PrefixAppPassword: "app_password"}[s[:4]]
	if p.Raw != s || p.Lookup != s[4:16] || p.Intent != intent {
		t.Fatalf("%q parsed to %+v", s, p)
	}
	if !auth.LooksLikeKey(s) {
		t.Fatalf("LooksLikeKey(%q) = false", s)
	}
}
