package config

import (
	"fmt"
	"regexp"
)

// providerNameRule is the naming rule of LDAP providers (the core's NameRule).
var providerNameRule = regexp.MustCompile(`^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$`)

func providerName(v string) (string, error) {
	if v != "" && !providerNameRule.MatchString(v) {
		return "", fmt.Errorf("%q is not a provider name", v)
	}
	return v, nil
}

// LDAPCertFiles returns the certificate and key of the LDAP door: its
// own, or the HTTPS ones.
func (c Config) LDAPCertFiles() (cert, key string) {
	if c.LDAPTLSCert != "" {
		return c.LDAPTLSCert, c.LDAPTLSKey
	}
	return c.TLSCert, c.TLSKey
}

// validateLDAP checks the LDAP door's settings against each other.
func (c Config) validateLDAP(g given) []string {
	var p []string
	const provider, listen, ldaps = "GATEHOUSE_LDAP_PROVIDER", "GATEHOUSE_LDAP_LISTEN", "GATEHOUSE_LDAPS_LISTEN"
	if c.LDAPProvider != "" && c.LDAPListen == "" && c.LDAPSListen == "" {
		p = append(p, fmt.Sprintf("%s: set, but neither %s nor %s is", g.name(provider, ""), g.name(listen, provider), g.name(ldaps, provider)))
	}
	if cert, _ := c.LDAPCertFiles(); c.LDAPSListen != "" && cert == "" {
		p = append(p, fmt.Sprintf("%s: needs a certificate (%s and %s, or %s and %s)", g.name(ldaps, ""),
			g.name("GATEHOUSE_LDAP_TLS_CERT", ldaps), g.name("GATEHOUSE_LDAP_TLS_KEY", ldaps),
			g.name("GATEHOUSE_TLS_CERT", ldaps), g.name("GATEHOUSE_TLS_KEY", ldaps)))
	}
	if (c.LDAPTLSCert == "") != (c.LDAPTLSKey == "") {
		p = append(p, fmt.Sprintf("%s and %s: give both or neither",
			g.name("GATEHOUSE_LDAP_TLS_CERT", "GATEHOUSE_LDAP_TLS_KEY"), g.name("GATEHOUSE_LDAP_TLS_KEY", "GATEHOUSE_LDAP_TLS_CERT")))
	}
	return p
}
