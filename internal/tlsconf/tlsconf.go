// Package tlsconf builds the one TLS configuration every listening door
// uses (HTTPS, LDAPS and StartTLS, the outpost's LDAP door): Mozilla's
// "intermediate" profile, so that what one door refuses no other accepts.
package tlsconf

import (
	"crypto/tls"
	"fmt"
)

// cipherSuites are the TLS 1.2 suites offered: ECDHE key exchange (forward
// secrecy) with an AEAD cipher only. Go's defaults already leave out RSA
// key exchange and 3DES but still offer ECDHE with AES-CBC-SHA1 (Lucky13
// class), which the intermediate profile does not. TLS 1.3 suites are not
// configurable in Go and are all AEAD.
var cipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// curves keeps Go's post-quantum hybrids first (they matter against
// recording now and decrypting later) and then the intermediate profile's
// X25519, P-256 and P-384; P-521, slow and needed by no client, is left out.
var curves = []tls.CurveID{
	tls.X25519MLKEM768, tls.SecP256r1MLKEM768,
	tls.X25519, tls.CurveP256, tls.CurveP384,
}

// Server returns the server configuration for certs. TLS 1.0 and 1.1 are
// refused (MinVersion). Renegotiation needs no setting: a Go server never
// accepts it.
func Server(certs ...tls.Certificate) *tls.Config {
	return &tls.Config{
		MinVersion:       tls.VersionTLS12,
		CipherSuites:     cipherSuites,
		CurvePreferences: curves,
		Certificates:     certs,
	}
}

// Load reads a PEM certificate and key and returns Server's configuration
// holding them, so that a bad file stops the start rather than the first
// handshake.
func Load(certFile, keyFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate %s: %w", certFile, err)
	}
	return Server(cert), nil
}
