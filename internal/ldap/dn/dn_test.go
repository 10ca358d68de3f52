package dn

import "testing"

func TestParseAndPrint(t *testing.T) {
	for _, tc := range []struct{ in, out, key string }{
		{"", "", ""},
		{"dc=example,dc=com", "dc=example,dc=com", "dc=example,dc=com"},
		{"DC=Example , DC=COM", "dc=Example,dc=COM", "dc=example,dc=com"},
		{"commonName=Bob;domainComponent=x", "cn=Bob,dc=x", "cn=bob,dc=x"},
		{"2.5.4.3=bob,0.9.2342.19200300.100.1.25=x", "cn=bob,dc=x", "cn=bob,dc=x"},
		{`o=Acme\, Inc.,c=US`, `o=Acme\, Inc.,c=US`, `o=acme\, inc.,c=us`},
		{`cn=\41lice`, "cn=Alice", "cn=alice"},
		{`cn=\ lead and trail\ `, `cn=\ lead and trail\ `, `cn=lead and trail`},
		{`cn=a\2Bb`, `cn=a\+b`, `cn=a\+b`},
		{"cn=#0c03616263", "cn=abc", "cn=abc"},
		{"uid=b+cn=a,dc=x", "uid=b+cn=a,dc=x", "cn=a+uid=b,dc=x"},
		{`cn=caf\C3\A9`, "cn=café", "cn=café"},
		{"cn=  lots   of   space  ", "cn=lots   of   space", "cn=lots of space"},
	} {
		d, err := Parse(tc.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		if d.String() != tc.out || d.Key() != tc.key {
			t.Errorf("Parse(%q) = %q key %q, want %q key %q", tc.in, d.String(), d.Key(), tc.out, tc.key)
		}
	}
	for _, bad := range []string{"dc", "=x", "dc=x,", "dc=x,,dc=y", `cn=a\`, `cn=a\zz`, `cn=a"b`, "cn=a<b", "1x=y", "01.2=y", "cn=#zz", "cn=#0402abcd",
		"cn=\xff", "cn=a\x00b", "c n=x"} {
		if d, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) = %q, want an error", bad, d)
		}
	}
}

func TestCompare(t *testing.T) {
	base, _ := Parse("dc=Example,dc=com")
	for _, tc := range []struct {
		dn    string
		under bool
	}{
		{"cn=bob,ou=users,DC=example,DC=COM", true},
		{"dc=example,dc=com", true},
		{"dc=com", false},
		{"cn=bob,dc=other,dc=com", false},
		{"cn=bob,ou=users,dc=example,dc=com,dc=x", false},
	} {
		d, err := Parse(tc.dn)
		if err != nil {
			t.Fatal(err)
		}
		if d.Under(base) != tc.under {
			t.Errorf("%q under %q: %v", tc.dn, base, !tc.under)
		}
	}
	a, _ := Parse("uid=b+cn=a,dc=x")
	b, _ := Parse("CN=A+UID=B,DC=X")
	if !a.Equal(b) {
		t.Error("multi-valued RDNs in another order differ")
	}
	if got := base.Child("cn", "a,b").String(); got != `cn=a\,b,dc=Example,dc=com` {
		t.Errorf("Child = %q", got)
	}
	if long := make([]byte, MaxLength+1); true {
		for i := range long {
			long[i] = 'a'
		}
		if _, err := Parse("cn=" + string(long)); err == nil {
			t.Error("an over-long DN parsed")
		}
	}
}
