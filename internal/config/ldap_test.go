package config

import (
	"strings"
	"testing"
)

func TestLDAPSettings(t *testing.T) {
	c, err := Load(Source{Getenv: env(nil)})
	if err != nil || c.LDAPListen != "127.0.0.1:3389" || c.LDAPProvider != "" {
		t.Fatalf("defaults: %+v %v (the door is off without a provider)", c, err)
	}
	c, err = Load(Source{Flags: map[string]string{"ldap-provider": "corp", "ldaps-listen": "127.0.0.1:6636"},
		Getenv: env(map[string]string{"GATEHOUSE_TLS_CERT": "h.pem", "GATEHOUSE_TLS_KEY": "h.key"})})
	if err != nil || c.LDAPProvider != "corp" || c.LDAPSListen != "127.0.0.1:6636" {
		t.Fatalf("config: %+v %v", c, err)
	}
	if cert, key := c.LDAPCertFiles(); cert != "h.pem" || key != "h.key" {
		t.Fatalf("the LDAP door does not fall back to the HTTPS certificate: %s %s", cert, key)
	}
	_, err = Load(Source{Getenv: env(map[string]string{"GATEHOUSE_LDAP_PROVIDER": "Not A Name", "GATEHOUSE_LDAPS_LISTEN": "nope",
		"GATEHOUSE_LDAP_TLS_CERT": "c.pem"})})
	for _, want := range []string{"GATEHOUSE_LDAP_PROVIDER", "GATEHOUSE_LDAPS_LISTEN: \"nope\"", "GATEHOUSE_LDAP_TLS_CERT and GATEHOUSE_LDAP_TLS_KEY"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("no problem about %s: %v", want, err)
		}
	}
	_, err = Load(Source{Getenv: env(map[string]string{"GATEHOUSE_LDAPS_LISTEN": "127.0.0.1:6636"})})
	if err == nil || !strings.Contains(err.Error(), "needs a certificate") {
		t.Errorf("LDAPS without a certificate: %v", err)
	}
}
