package config

import (
	"fmt"
	"net"
	"regexp"
)

// providerName is the naming rule of LDAP providers (the core's NameRule).
var providerName = regexp.MustCompile(`^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$`)

// LDAPCertFiles returns the certificate and key of the LDAP door: its
// own, or the HTTPS ones.
func (c Config) LDAPCertFiles() (cert, key string) {
	if c.LDAPTLSCert != "" {
		return c.LDAPTLSCert, c.LDAPTLSKey
	}
	return c.TLSCert, c.TLSKey
}

func (c Config) validateLDAP() []string {
	var p []string
	if c.LDAPProvider != "" && !providerName.MatchString(c.LDAPProvider) {
		p = append(p, fmt.Sprintf("GATEHOUSE_LDAP_PROVIDER: %q is not a provider name", c.LDAPProvider))
	}
	if c.LDAPProvider != "" && c.LDAPListen == "" && c.LDAPSListen == "" {
		p = append(p, "GATEHOUSE_LDAP_PROVIDER: set, but neither GATEHOUSE_LDAP_LISTEN nor GATEHOUSE_LDAPS_LISTEN is")
	}
	if c.LDAPSListen != "" {
		if _, _, err := net.SplitHostPort(c.LDAPSListen); err != nil {
			p = append(p, fmt.Sprintf("GATEHOUSE_LDAPS_LISTEN: %q is not host:port", c.LDAPSListen))
		}
		if cert, _ := c.LDAPCertFiles(); cert == "" {
			p = append(p, "GATEHOUSE_LDAPS_LISTEN: needs a certificate (GATEHOUSE_LDAP_TLS_CERT and _KEY, or GATEHOUSE_TLS_CERT and _KEY)")
		}
	}
	if (c.LDAPTLSCert == "") != (c.LDAPTLSKey == "") {
		p = append(p, "GATEHOUSE_LDAP_TLS_CERT and GATEHOUSE_LDAP_TLS_KEY: give both or neither")
	}
	return p
}
