package auth

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

var scannerRegexp = regexp.MustCompile(`\bga[tp]_[0-9A-Za-z]{40}\b`)

func TestNewKeyFormat(t *testing.T) {
	seen := map[string]bool{}
	for _, intent := range []string{"api", "app_password"} {
		for i := 0; i < 200; i++ {
			k, err := NewKey(intent)
			if err != nil {
				t.Fatal(err)
			}
			if len(k.Raw) != KeyLen || !scannerRegexp.MatchString("x "+k.Raw+" y") {
				t.Fatalf("key %q does not match the documented format", k.Raw)
			}
			if k.Intent != intent {
				t.Fatalf("intent %q, want %q", k.Intent, intent)
			}
			if seen[k.Lookup] {
				t.Fatalf("lookup %q repeated", k.Lookup)
			}
			seen[k.Lookup] = true
			p, err := ParseKey(k.Raw)
			if err != nil || p != k {
				t.Fatalf("ParseKey(%q) = %+v, %v", k.Raw, p, err)
			}
		}
	}
}

func TestParseKeyRejects(t *testing.T) {
	good, _ := NewKey("api")
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		return string(b)
	}
	cases := map[string]string{
		"empty":           "",
		"truncated":       good.Raw[:KeyLen-1],
		"too long":        good.Raw + "a",
		"wrong prefix":    "ghp_" + good.Raw[4:],
		"bad character":   good.Raw[:10] + "!" + good.Raw[11:],
		"typo in secret":  flip(good.Raw, 20),
		"typo in lookup":  flip(good.Raw, 5),
		"typo in sum":     flip(good.Raw, KeyLen-1),
		"prefix swapped":  "gap_" + good.Raw[4:],
		"spaces":          " " + good.Raw[1:],
		"unicode padding": strings.Repeat("é", KeyLen/2),
	}
	for name, s := range cases {
		if _, err := ParseKey(s); err == nil {
			t.Errorf("%s: ParseKey(%q) accepted", name, s)
		}
	}
}

func TestHasher(t *testing.T) {
	h := NewHasher([]byte("0123456789abcdef0123456789abcdef"))
	other := NewHasher([]byte("fedcba9876543210fedcba9876543210"))
	k, _ := NewKey("api")
	sum := h.Sum(k.Raw)
	if len(sum) != 32 {
		t.Fatalf("sum length %d", len(sum))
	}
	if !h.Equal(k.Raw, sum) {
		t.Fatal("Equal rejects the right key")
	}
	if h.Equal(k.Raw[:KeyLen-1]+"x", sum) {
		t.Fatal("Equal accepts a different key")
	}
	if other.Equal(k.Raw, sum) {
		t.Fatal("a hasher with another secret accepts the key")
	}
	long := strings.Repeat("x", 4000)
	if !h.Equal(long, h.Sum(long)) {
		t.Fatal("long input")
	}
	if allocs := testing.AllocsPerRun(100, func() { h.Equal(k.Raw, sum) }); allocs != 0 && !raceEnabled {
		t.Fatalf("Equal allocates %v times", allocs)
	}
}

func TestPasswordHash(t *testing.T) {
	h, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q lacks the OWASP parameters", h)
	}
	if !VerifyPassword(h, "correct horse battery") {
		t.Fatal("right password refused")
	}
	for _, bad := range []string{"correct horse batter", "", "Correct horse battery"} {
		if VerifyPassword(h, bad) {
			t.Fatalf("wrong password %q accepted", bad)
		}
	}
	for _, enc := range []string{"", "$argon2i$v=19$m=1,t=1,p=1$AA$AA", "$argon2id$v=19$m=999999999,t=1,p=1$AA$AA", "garbage"} {
		if VerifyPassword(enc, "x") {
			t.Fatalf("malformed hash %q accepted", enc)
		}
	}
	h2, _ := HashPassword("correct horse battery")
	if h == h2 {
		t.Fatal("two hashes of one password are equal: no salt")
	}
}

func TestLogThrottle(t *testing.T) {
	var th logThrottle
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	steps := []struct {
		after   time.Duration
		ok      bool
		skipped int
	}{{0, true, 0}, {10 * time.Millisecond, false, 0}, {500 * time.Millisecond, false, 0}, {time.Second, true, 2}, {1500 * time.Millisecond, false, 0}, {3 * time.Second, true, 1}}
	for _, s := range steps {
		ok, skipped := th.allow(t0.Add(s.after))
		if ok != s.ok || skipped != s.skipped {
			t.Fatalf("at %s: allow = %v, %d; want %v, %d", s.after, ok, skipped, s.ok, s.skipped)
		}
	}
}
