package auth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// TOTP parameters (RFC 6238 with the defaults every authenticator app
// understands: HMAC-SHA-1, 6 digits, 30-second steps). A code of the step
// before or after the current one is accepted too, for clock drift and
// the seconds it takes to type a code.
const (
	TOTPDigits     = 6
	TOTPPeriod     = 30 * time.Second
	TOTPSkew       = 1
	TOTPSecretSize = 20 // 160 bits, the size RFC 4226 recommends
)

// ErrBadCode: a one-time code or recovery code is malformed or wrong.
var ErrBadCode = errors.New("invalid code")

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewTOTPSecret returns a random shared secret.
func NewTOTPSecret() ([]byte, error) {
	b := make([]byte, TOTPSecretSize)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("generate totp secret: %w", err)
	}
	return b, nil
}

// TOTPSecretText is the secret as authenticator apps take it typed in:
// base32 without padding, in groups of four for reading.
func TOTPSecretText(secret []byte) string {
	s := b32.EncodeToString(secret)
	var b strings.Builder
	for i := 0; i < len(s); i += 4 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s[i:min(i+4, len(s))])
	}
	return b.String()
}

// TOTPURI is the otpauth:// URI of a secret (the Key Uri Format of Google
// Authenticator, which other apps follow), the text of the QR code.
func TOTPURI(issuer, account string, secret []byte) string {
	label := url.PathEscape(issuer) + ":" + url.PathEscape(account)
	v := url.Values{}
	v.Set("secret", b32.EncodeToString(secret))
	v.Set("issuer", issuer)
	v.Set("algorithm", "SHA1")
	v.Set("digits", fmt.Sprint(TOTPDigits))
	v.Set("period", fmt.Sprint(int(TOTPPeriod/time.Second)))
	return "otpauth://totp/" + label + "?" + v.Encode()
}

// TOTPStep is the step number of t: whole periods since the Unix epoch.
func TOTPStep(t time.Time) int64 { return t.Unix() / int64(TOTPPeriod/time.Second) }

// TOTPCode is the code of a step (RFC 4226 HOTP with the step as counter).
func TOTPCode(secret []byte, step int64) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(step))
	m := hmac.New(sha1.New, secret)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%0*d", TOTPDigits, bin%1_000_000)
}

// NormalizeCode removes the spaces and dashes people type in codes.
func NormalizeCode(code string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '\t' {
			return -1
		}
		return r
	}, code)
}

// MatchTOTP reports which step within ±TOTPSkew of now the code belongs to.
// Every candidate is compared in constant time. It does not refuse
// replays: the caller records the step (store.UseTOTPStep) and refuses a
// step already used.
func MatchTOTP(secret []byte, code string, now time.Time) (int64, bool) {
	code = NormalizeCode(code)
	if len(code) != TOTPDigits {
		return 0, false
	}
	for _, c := range code {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	cur := TOTPStep(now)
	found, match := int64(0), 0
	for step := cur - TOTPSkew; step <= cur+TOTPSkew; step++ {
		eq := subtle.ConstantTimeCompare([]byte(TOTPCode(secret, step)), []byte(code))
		if eq == 1 && match == 0 {
			found, match = step, 1
		}
	}
	return found, match == 1
}

// recoveryAlphabet leaves out look-alikes (0/o, 1/l/i) so that a code
// copied from paper is typed right.
const recoveryAlphabet = "abcdefghjkmnpqrstuvwxyz23456789"

// NewRecoveryCode returns a random single-use recovery code such as
// "k7m2q-x9fpa": 10 characters of a 31-letter alphabet, 49 bits.
func NewRecoveryCode() (string, error) {
	const n = 10
	out := make([]byte, 0, n+1)
	buf := make([]byte, 1)
	for len(out) < n+1 {
		if len(out) == n/2 {
			out = append(out, '-')
			continue
		}
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("generate recovery code: %w", err)
		}
		// Rejection sampling: 248 = 8*31, so the kept bytes are uniform.
		if buf[0] >= 248 {
			continue
		}
		out = append(out, recoveryAlphabet[int(buf[0])%len(recoveryAlphabet)])
	}
	return string(out), nil
}

// NormalizeRecoveryCode folds case and removes separators, so that
// "K7M2Q X9FPA" matches "k7m2q-x9fpa".
func NormalizeRecoveryCode(code string) string {
	return strings.ToLower(NormalizeCode(code))
}

// Sealer encrypts small secrets kept in the database (TOTP secrets) with
// AES-256-GCM under a key derived from the server's secret key, so that a
// copy of the database alone does not reveal them.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer derives a sealing key for one purpose from the hasher's key:
// HMAC-SHA256(server key, "seal\x00" + purpose), an HKDF-Expand style
// derivation. The NUL byte keeps the input apart from every token hash
// (keys are printable text, environment variables cannot hold NUL) and
// from the other derivations of the package ("lookup\x00", "password\x00").
func NewSealer(h *Hasher, purpose string) *Sealer {
	key := h.Sum("seal\x00" + purpose)
	block, err := aes.NewCipher(key) // 32 bytes: AES-256
	if err != nil {
		panic(fmt.Sprintf("aes with a 32-byte key: %v", err))
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(fmt.Sprintf("gcm: %v", err))
	}
	return &Sealer{aead: aead}
}

// Seal encrypts plain, bound to ad (for example the owner's UID, so a
// sealed value moved to another row does not open). The result is
// nonce || ciphertext || tag.
func (s *Sealer) Seal(plain, ad []byte) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return s.aead.Seal(nonce, nonce, plain, ad), nil
}

// Open decrypts what Seal made with the same ad.
func (s *Sealer) Open(sealed, ad []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return nil, errors.New("open sealed value: too short")
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], ad)
	if err != nil {
		return nil, errors.New("open sealed value: authentication failed (wrong server key or altered data)")
	}
	return plain, nil
}
