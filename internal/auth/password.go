package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters: the OWASP Password Storage Cheat Sheet minimum
// (m=19 MiB, t=2, p=1). Stored in each hash, so they can be raised later
// without breaking existing passwords.
const (
	argonMemoryKiB = 19 * 1024
	argonTime      = 2
	argonThreads   = 1
	argonKeyLen    = 32
	argonSaltLen   = 16
)

// MinPasswordLength follows NIST SP 800-63B for memorized secrets.
const MinPasswordLength = 8

// MaxPasswordLength bounds the work argon2 is given.
const MaxPasswordLength = 256

// HashPassword returns an argon2id PHC string:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>
func HashPassword(password string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	sum := argon2.IDKey([]byte(password), salt, argonTime, argonMemoryKiB, argonThreads, argonKeyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, argonMemoryKiB, argonTime, argonThreads, enc.EncodeToString(salt), enc.EncodeToString(sum)), nil
}

// dummyHash is verified against when a user does not exist or has no
// password, so that both answers take as long as a real check. Made on
// first use, not at start: CLI commands never need it.
var dummyHash = sync.OnceValue(func() string {
	h, err := HashPassword("gatehouse-dummy-password-for-timing")
	if err != nil {
		panic("hash the timing dummy: " + err.Error())
	}
	return h
})

// VerifyPassword reports whether password matches the PHC string. An empty
// or unparsable encoded hash still costs one argon2id run and returns false.
func VerifyPassword(encoded, password string) bool {
	if encoded == "" {
		encoded = dummyHash()
		password = "\x00" + password // never matches the dummy
	}
	var version, mem, iters int
	var threads uint8
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		VerifyPassword("", password)
		return false
	}
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		VerifyPassword("", password)
		return false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mem, &iters, &threads); err != nil || mem <= 0 || iters <= 0 || threads == 0 || mem > 1<<22 || iters > 64 {
		VerifyPassword("", password)
		return false
	}
	enc := base64.RawStdEncoding
	salt, err1 := enc.DecodeString(parts[4])
	want, err2 := enc.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		VerifyPassword("", password)
		return false
	}
	got := argon2.IDKey([]byte(password), salt, uint32(iters), uint32(mem), threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// ValidPasswordHash reports whether s is a hash this package can verify.
func ValidPasswordHash(s string) bool { return strings.HasPrefix(s, "$argon2id$") }

// PrepareTiming makes the timing dummy ahead of the first login, so that
// not even the first check of an unknown user is slower. Servers call it
// at start; the CLI never does.
func PrepareTiming() { dummyHash() }
