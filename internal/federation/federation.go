// Package federation verifies the OpenID Connect ID tokens that workload
// identity federation trades for short-lived gatehouse tokens (the
// exchange itself, RFC 8693, is the core's: internal/core/federation.go).
//
// Signatures are checked by github.com/coreos/go-oidc/v3 over
// github.com/go-jose/go-jose/v4, never by code of ours; this package
// chooses the keys (an issuer's JWK Set, fetched with care or given
// inline), bounds the algorithms, applies the issuer's clock leeway with
// the injected clock, and matches claims against trust policies'
// conditions. Behind the small Verifier interface, so that the core and
// its tests see one method.
package federation

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Issuer is what verifying an issuer's ID token needs.
type Issuer struct {
	// Name keys the issuer's key cache.
	Name string
	// URL is the issuer: the ID token's iss must equal it.
	URL string
	// JWKSURL is where its keys are; "" discovers it from URL.
	JWKSURL string
	// JWKS is an inline JWK Set (public keys): nothing is fetched.
	JWKS string
	// AllowedAlgs bounds the signature algorithms.
	AllowedAlgs []string
	// Leeway is the clock skew allowed on exp, nbf and iat.
	Leeway time.Duration
}

// cacheKey identifies the issuer's key source: an update that changes
// where the keys come from starts a fresh cache.
func (i Issuer) cacheKey() string {
	return i.Name + "\x00" + i.URL + "\x00" + i.JWKSURL + "\x00" + i.JWKS
}

// Token is a verified ID token.
type Token struct {
	Issuer    string
	Subject   string
	Audience  []string
	JTI       string
	Expiry    time.Time
	IssuedAt  time.Time // zero when absent
	NotBefore time.Time // zero when absent
	// Claims holds every claim, numbers as json.Number.
	Claims map[string]any
}

// Verifier checks an ID token against one issuer.
type Verifier interface {
	Verify(ctx context.Context, is Issuer, rawIDToken string) (*Token, error)
}

// Reason says why an ID token was refused. It goes into events, never
// to the client.
type Reason string

// The reasons of a refusal.
const (
	ReasonMalformed       Reason = "malformed"
	ReasonAlgNotAllowed   Reason = "alg_not_allowed"
	ReasonUnknownKey      Reason = "unknown_key"
	ReasonBadSignature    Reason = "bad_signature"
	ReasonKeysUnavailable Reason = "keys_unavailable"
	ReasonWrongIssuer     Reason = "wrong_issuer"
	ReasonExpired         Reason = "expired"
	ReasonNotYetValid     Reason = "not_yet_valid"
	ReasonIssuedInFuture  Reason = "issued_in_future"
)

// Error is a refused ID token. Detail never holds the token.
type Error struct {
	Reason Reason
	Detail string
}

func (e *Error) Error() string {
	if e.Detail == "" {
		return "id token refused: " + string(e.Reason)
	}
	return "id token refused: " + string(e.Reason) + ": " + e.Detail
}

func refused(r Reason, format string, args ...any) *Error {
	return &Error{Reason: r, Detail: fmt.Sprintf(format, args...)}
}

// ReasonOf is the reason of a refusal (malformed for other errors).
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ReasonMalformed
}

// MaxTokenSize bounds an ID token (GitHub's are about 1.5 KB).
const MaxTokenSize = 16 << 10

// SupportedAlgs are the asymmetric algorithms an issuer may allow.
var SupportedAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// DefaultAlgs are allowed when an issuer names none.
var DefaultAlgs = []string{"RS256", "ES256"}

// CheckAlg says what is wrong with an algorithm an issuer would allow
// ("" when nothing): none and HMAC are refused by name, since a token
// signed with a public key as the HMAC secret is the classic forgery.
func CheckAlg(alg string) string {
	switch {
	case strings.EqualFold(alg, "none"):
		return "none is never allowed: an unsigned token proves nothing"
	case strings.HasPrefix(strings.ToUpper(alg), "HS"):
		return alg + " is refused: HMAC needs a shared secret, and a public key used as one forges tokens"
	case !slices.Contains(SupportedAlgs, alg):
		return fmt.Sprintf("%s is not supported: use one of %s", alg, strings.Join(SupportedAlgs, ", "))
	}
	return ""
}

// Peek reads the claims of a token whose signature is not yet checked:
// only to choose the issuer that will check it. Nothing read here is
// trusted.
func Peek(raw string) (iss string, err error) {
	if len(raw) > MaxTokenSize {
		return "", refused(ReasonMalformed, "longer than %d bytes", MaxTokenSize)
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return "", refused(ReasonMalformed, "not a compact JWS")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", refused(ReasonMalformed, "payload is not base64url")
	}
	var c struct {
		Iss any `json:"iss"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return "", refused(ReasonMalformed, "payload is not a JSON object")
	}
	s, ok := c.Iss.(string)
	if !ok || s == "" {
		return "", refused(ReasonMalformed, "no iss claim")
	}
	return s, nil
}

// headerAlg reads the alg a token's header names, for the refusal's
// reason only.
func headerAlg(raw string) string {
	h, _, ok := strings.Cut(raw, ".")
	if !ok {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		return ""
	}
	var v struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(b, &v) != nil {
		return ""
	}
	return v.Alg
}
