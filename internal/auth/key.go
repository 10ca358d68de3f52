package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"hash"
	"hash/crc32"
	"sync"
)

// Key format.
//
//	gat_<lookup:12><secret:22><checksum:6>   API token
//	gap_<lookup:12><secret:22><checksum:6>   app password
//
// All three parts are base62 ([0-9A-Za-z]). lookup is public: it finds the
// stored verifier without revealing anything. secret is 22 uniformly random
// base62 characters (22·log2(62) ≈ 131 bits from crypto/rand). checksum is
// the CRC-32 (IEEE) of everything before it, in 6 base62 digits, so typos
// and random strings are refused before any lookup, and secret scanners can
// check candidates offline. Regular expression for scanners:
//
//	\bga[tp]_[0-9A-Za-z]{40}\b
const (
	PrefixAPI         = "gat_"
	PrefixAppPassword = "gap_"

	prefixLen   = 4
	lookupLen   = 12
	secretLen   = 22
	checksumLen = 6
	bodyLen     = lookupLen + secretLen + checksumLen
	// KeyLen is the length of a formatted key.
	KeyLen = prefixLen + bodyLen
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// ErrMalformedKey: not a gatehouse key, or its checksum does not match.
var ErrMalformedKey = errors.New("malformed key")

// ParsedKey is a key split into its parts. It holds the secret: never log it.
type ParsedKey struct {
	Intent string // store.IntentAPI or store.IntentAppPassword, "" for free-form keys
	Lookup string // public lookup part
	Raw    string // the whole key as presented
}

var base62Index = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(base62); i++ {
		t[base62[i]] = int8(i)
	}
	return t
}()

// ParseKey splits a formatted key and verifies its checksum. It does not
// allocate: the parts are substrings of s.
func ParseKey(s string) (ParsedKey, error) {
	if len(s) != KeyLen {
		return ParsedKey{}, ErrMalformedKey
	}
	var intent string
	switch s[:prefixLen] {
	case PrefixAPI:
		intent = "api"
	case PrefixAppPassword:
		intent = "app_password"
	default:
		return ParsedKey{}, ErrMalformedKey
	}
	for i := prefixLen; i < KeyLen; i++ {
		if base62Index[s[i]] < 0 {
			return ParsedKey{}, ErrMalformedKey
		}
	}
	want := checksum(s[:KeyLen-checksumLen])
	var got uint64
	for i := KeyLen - checksumLen; i < KeyLen; i++ {
		got = got*62 + uint64(base62Index[s[i]])
	}
	if got != uint64(want) {
		return ParsedKey{}, ErrMalformedKey
	}
	return ParsedKey{Intent: intent, Lookup: s[prefixLen : prefixLen+lookupLen], Raw: s}, nil
}

// LooksLikeKey reports whether s has a gatehouse key prefix; such strings
// are never treated as free-form keys or passwords by mistake.
func LooksLikeKey(s string) bool {
	return len(s) >= prefixLen && (s[:prefixLen] == PrefixAPI || s[:prefixLen] == PrefixAppPassword)
}

func checksum(s string) uint32 {
	// crc32.ChecksumIEEE takes []byte; update with a string without copying.
	return crc32.Update(0, crc32.IEEETable, unsafeBytes(s))
}

// NewKey generates a fresh key of the given intent.
func NewKey(intent string) (ParsedKey, error) {
	prefix := PrefixAPI
	if intent == "app_password" {
		prefix = PrefixAppPassword
	}
	buf := make([]byte, 0, KeyLen)
	buf = append(buf, prefix...)
	var err error
	if buf, err = appendRandomBase62(buf, lookupLen+secretLen); err != nil {
		return ParsedKey{}, err
	}
	sum := uint64(checksum(string(buf)))
	var digits [checksumLen]byte
	for i := checksumLen - 1; i >= 0; i-- {
		digits[i] = base62[sum%62]
		sum /= 62
	}
	buf = append(buf, digits[:]...)
	return ParseKey(string(buf))
}

// appendRandomBase62 appends n uniformly random base62 characters, drawn
// from crypto/rand by rejection sampling (no modulo bias).
func appendRandomBase62(dst []byte, n int) ([]byte, error) {
	var pool [64]byte
	for n > 0 {
		if _, err := rand.Read(pool[:]); err != nil {
			return nil, err
		}
		for _, b := range pool {
			b &= 63 // 0..63; reject 62 and 63
			if b < 62 {
				dst = append(dst, base62[b])
				n--
				if n == 0 {
					break
				}
			}
		}
	}
	return dst, nil
}

// RandomString returns n random base62 characters (identifiers, passwords).
func RandomString(n int) (string, error) {
	b, err := appendRandomBase62(make([]byte, 0, n), n)
	return string(b), err
}

// Hasher computes the stored verifier of a key: HMAC-SHA256 keyed with the
// server's secret key. A fast hash is right here: keys carry 128+ random
// bits, so there is nothing to brute-force, and a slow hash would cost on
// every request. The server key (never stored in the database) means a
// stolen database cannot even be used to test guessed keys offline.
type Hasher struct {
	pool sync.Pool
}

type hmacState struct {
	h   hash.Hash
	in  [KeyLen + 128]byte
	out [sha256.Size]byte
}

// NewHasher returns a hasher keyed with secret (at least 32 bytes).
func NewHasher(secret []byte) *Hasher {
	k := append([]byte(nil), secret...)
	h := &Hasher{}
	h.pool.New = func() any { return &hmacState{h: hmac.New(sha256.New, k)} }
	return h
}

// Sum returns the verifier of key as a new slice (for storing).
func (h *Hasher) Sum(key string) []byte {
	st := h.pool.Get().(*hmacState)
	defer h.pool.Put(st)
	return append([]byte(nil), st.sum(key)...)
}

// Equal reports, in constant time, whether key hashes to want. It does not
// allocate once the pool is warm.
func (h *Hasher) Equal(key string, want []byte) bool {
	st := h.pool.Get().(*hmacState)
	ok := hmac.Equal(st.sum(key), want)
	h.pool.Put(st)
	return ok
}

func (st *hmacState) sum(key string) []byte {
	st.h.Reset()
	if len(key) <= len(st.in) {
		n := copy(st.in[:], key)
		st.h.Write(st.in[:n])
	} else {
		st.h.Write([]byte(key))
	}
	return st.h.Sum(st.out[:0])
}
