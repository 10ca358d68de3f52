package forwardauth

import (
	"encoding/base64"
	"errors"
	"strings"
	"unicode/utf8"
)

// Limits of the Authorization header. The longest valid credential is a
// Basic pair of a 256-byte username and a 44-byte app password, or a
// Bearer bootstrap token of 512 bytes; anything much longer is not a
// credential and is refused before any work.
const (
	MaxAuthorization = 2048
	maxUsername      = 256
	maxSecret        = 1024
)

// Scheme is how a request presents its credential.
type Scheme int

const (
	SchemeBearer Scheme = iota + 1 // Authorization: Bearer <API token>
	SchemeBasic                    // Authorization: Basic base64(username:app password)
)

// Credential is a parsed Authorization header. It holds a secret: never
// log it.
type Credential struct {
	Scheme   Scheme
	Token    string // Bearer
	Username string // Basic
	Password string // Basic
}

// ErrMissing: the request has no Authorization header.
var ErrMissing = errors.New("no Authorization header")

// MalformedError says why an Authorization header was refused. The
// reason is for events and logs; it never quotes the header.
type MalformedError struct{ Reason string }

func (e *MalformedError) Error() string { return "malformed Authorization header: " + e.Reason }

func malformed(reason string) error { return &MalformedError{Reason: reason} }

// ParseAuthorization reads the values of a request's Authorization
// header: exactly one, "Bearer TOKEN" or "Basic BASE64", the scheme
// matched without regard to case (RFC 9110 §11.1), separated from the
// credentials by spaces. Anything else is refused: a repeated header
// (which proxies and servers disagree about), an unknown scheme, a header
// over MaxAuthorization bytes, control characters or spaces inside the
// credentials, Basic that is not strict base64 of valid UTF-8 holding a
// colon, an empty username, token or password.
func ParseAuthorization(values []string) (Credential, error) {
	switch len(values) {
	case 0:
		return Credential{}, ErrMissing
	case 1:
	default:
		return Credential{}, malformed("repeated header")
	}
	v := values[0]
	if len(v) > MaxAuthorization {
		return Credential{}, malformed("too long")
	}
	scheme, rest, ok := strings.Cut(v, " ")
	if !ok {
		return Credential{}, malformed("no credentials after the scheme")
	}
	rest = strings.TrimLeft(rest, " ")
	if rest == "" {
		return Credential{}, malformed("no credentials after the scheme")
	}
	if !visibleASCII(rest) {
		return Credential{}, malformed("spaces or control characters in the credentials")
	}
	switch {
	case asciiEqualFold(scheme, "Bearer"):
		if len(rest) > maxSecret {
			return Credential{}, malformed("token too long")
		}
		return Credential{Scheme: SchemeBearer, Token: rest}, nil
	case asciiEqualFold(scheme, "Basic"):
		raw, err := base64.StdEncoding.Strict().DecodeString(rest)
		if err != nil {
			return Credential{}, malformed("basic credentials are not base64")
		}
		if !utf8.Valid(raw) {
			return Credential{}, malformed("basic credentials are not UTF-8")
		}
		user, pass, ok := strings.Cut(string(raw), ":")
		switch {
		case !ok:
			return Credential{}, malformed("basic credentials without a colon")
		case user == "" || pass == "":
			return Credential{}, malformed("empty username or password")
		case len(user) > maxUsername || len(pass) > maxSecret:
			return Credential{}, malformed("username or password too long")
		case hasControl(user) || hasControl(pass):
			return Credential{}, malformed("control characters in the username or password")
		}
		return Credential{Scheme: SchemeBasic, Username: user, Password: pass}, nil
	}
	return Credential{}, malformed("unsupported scheme")
}

// asciiEqualFold compares an ASCII word without regard to case. Unlike
// strings.EqualFold it folds ASCII only: "Baſic" (with a long s) is not
// a scheme.
func asciiEqualFold(s, word string) bool {
	if len(s) != len(word) {
		return false
	}
	for i := 0; i < len(s); i++ {
		a, b := s[i], word[i]
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if a != b {
			return false
		}
	}
	return true
}

// visibleASCII reports whether s is only printable ASCII without spaces,
// the alphabet of both token68 and the keys.
func visibleASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return true
		}
	}
	return false
}
