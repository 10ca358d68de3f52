package auth

import "unsafe"

// unsafeBytes views s as bytes without copying. The result must not be
// modified or kept: it is only handed to hash functions that read it.
func unsafeBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
