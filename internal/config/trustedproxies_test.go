package config

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func TestTrustedProxies(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	c, err := Load(Source{Getenv: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	if !reflect.DeepEqual(c.TrustedProxies, loopback) {
		t.Fatalf("default %v, want loopback only", c.TrustedProxies)
	}
	c, err = Load(Source{Getenv: env(map[string]string{"GATEHOUSE_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.7"})})
	if err != nil || !reflect.DeepEqual(c.TrustedProxies, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32")}) {
		t.Fatalf("env: %v %v", c.TrustedProxies, err)
	}
	c, err = Load(Source{Getenv: env(map[string]string{"GATEHOUSE_TRUSTED_PROXIES": "10.0.0.0/8"}), Flags: map[string]string{"trusted-proxies": "none"}})
	if err != nil || len(c.TrustedProxies) != 0 {
		t.Fatalf("flag none: %v %v", c.TrustedProxies, err)
	}
	_, err = Load(Source{Getenv: env(map[string]string{"GATEHOUSE_TRUSTED_PROXIES": "nope, 10.0.0.0/40", "GATEHOUSE_LOG_LEVEL": "loud"})})
	if err == nil || !strings.Contains(err.Error(), `GATEHOUSE_TRUSTED_PROXIES: not CIDR networks such as 10.0.0.0/8 or ::1/128: "nope", "10.0.0.0/40"`) ||
		!strings.Contains(err.Error(), "GATEHOUSE_LOG_LEVEL") {
		t.Fatalf("bad list: %v", err)
	}
}
