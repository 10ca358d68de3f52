package auth

import (
	"bytes"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The SHA-1 test vectors of RFC 6238, Appendix B, cut to 6 digits (the
// last six of the 8-digit values).
func TestTOTPCodeRFC6238(t *testing.T) {
	secret := []byte("12345678901234567890")
	for _, tc := range []struct {
		unix int64
		code string
	}{
		{59, "287082"},
		{1111111109, "081804"},
		{1111111111, "050471"},
		{1234567890, "005924"},
		{2000000000, "279037"},
		{20000000000, "353130"},
	} {
		at := time.Unix(tc.unix, 0)
		if got := TOTPCode(secret, TOTPStep(at)); got != tc.code {
			t.Errorf("code at %d = %s, want %s", tc.unix, got, tc.code)
		}
		step, ok := MatchTOTP(secret, tc.code, at)
		if !ok || step != TOTPStep(at) {
			t.Errorf("MatchTOTP(%s at %d) = %d, %v", tc.code, tc.unix, step, ok)
		}
	}
}

func TestMatchTOTPWindow(t *testing.T) {
	secret, err := NewTOTPSecret()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2030, 1, 1, 12, 0, 10, 0, time.UTC)
	cur := TOTPStep(now)
	// inWindow: the code of some accepted step (two steps share a code one
	// time in a million).
	inWindow := func(code string) bool {
		return code == TOTPCode(secret, cur-1) || code == TOTPCode(secret, cur) || code == TOTPCode(secret, cur+1)
	}
	for d := int64(-3); d <= 3; d++ {
		code := TOTPCode(secret, cur+d)
		step, ok := MatchTOTP(secret, code, now)
		switch {
		case d >= -TOTPSkew && d <= TOTPSkew && !ok:
			t.Errorf("code of step %+d refused", d)
		case d >= -TOTPSkew && d <= TOTPSkew && step != cur+d && TOTPCode(secret, step) != code:
			t.Errorf("code of step %+d matched as step %d", d, step-cur)
		case (d < -TOTPSkew || d > TOTPSkew) && ok && !inWindow(code):
			t.Errorf("code of step %+d accepted", d)
		}
	}
	code := TOTPCode(secret, cur)
	spaced := code[:3] + " " + code[3:]
	if _, ok := MatchTOTP(secret, spaced, now); !ok {
		t.Errorf("a code typed with a space (%q) is refused", spaced)
	}
	for _, bad := range []string{"", "12345", "1234567", "12a456", "١٢٣٤٥٦", code + "0"} {
		if _, ok := MatchTOTP(secret, bad, now); ok {
			t.Errorf("malformed code %q accepted", bad)
		}
	}
}

func TestTOTPURIAndText(t *testing.T) {
	secret := []byte("12345678901234567890")
	text := TOTPSecretText(secret)
	if text != "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ" {
		t.Fatalf("secret text = %q", text)
	}
	u, err := url.Parse(TOTPURI("Acme gatehouse", "alice", secret))
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/Acme gatehouse:alice" {
		t.Fatalf("uri = %s", u)
	}
	q := u.Query()
	if q.Get("secret") != strings.ReplaceAll(text, " ", "") || q.Get("issuer") != "Acme gatehouse" ||
		q.Get("digits") != "6" || q.Get("period") != "30" || q.Get("algorithm") != "SHA1" {
		t.Fatalf("uri query = %v", q)
	}
}

func TestRecoveryCodes(t *testing.T) {
	shape := regexp.MustCompile(`^[a-hjkmnp-z2-9]{5}-[a-hjkmnp-z2-9]{5}$`)
	seen := map[string]bool{}
	for range 2000 {
		c, err := NewRecoveryCode()
		if err != nil {
			t.Fatal(err)
		}
		if !shape.MatchString(c) {
			t.Fatalf("recovery code %q has the wrong shape", c)
		}
		if seen[c] {
			t.Fatalf("recovery code %q drawn twice", c)
		}
		seen[c] = true
	}
	if got := NormalizeRecoveryCode(" K7M2Q X9FPA "); got != "k7m2qx9fpa" {
		t.Fatalf("normalized = %q", got)
	}
}

func TestSealer(t *testing.T) {
	h := NewHasher([]byte("server-key-0123456789abcdef0123456789"))
	s := NewSealer(h, "totp")
	plain := []byte("the shared secret")
	sealed, err := s.Seal(plain, []byte("uid-1"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, plain) {
		t.Fatal("sealed value holds the plain text")
	}
	again, _ := s.Seal(plain, []byte("uid-1"))
	if bytes.Equal(sealed, again) {
		t.Fatal("two seals of the same value are equal: nonce reused")
	}
	got, err := s.Open(sealed, []byte("uid-1"))
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := s.Open(sealed, []byte("uid-2")); err == nil {
		t.Fatal("opened with another owner's data")
	}
	tampered := append([]byte(nil), sealed...)
	tampered[len(tampered)-1] ^= 1
	if _, err := s.Open(tampered, []byte("uid-1")); err == nil {
		t.Fatal("opened a tampered value")
	}
	if _, err := NewSealer(h, "other purpose").Open(sealed, []byte("uid-1")); err == nil {
		t.Fatal("opened with the key of another purpose")
	}
	if _, err := NewSealer(NewHasher([]byte("another-server-key-0123456789abcdef")), "totp").Open(sealed, []byte("uid-1")); err == nil {
		t.Fatal("opened with another server's key")
	}
	if _, err := s.Open([]byte("short"), nil); err == nil {
		t.Fatal("opened a too short value")
	}
}
