package clientip

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestClientIP(t *testing.T) {
	trusted, err := ParsePrefixes("127.0.0.0/8, ::1, 10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	r := New(trusted)
	tests := []struct {
		name   string
		remote string
		xff    []string
		real   []string
		want   string
	}{
		{"untrusted peer, headers ignored", "203.0.113.7:5000", []string{"198.51.100.1"}, []string{"198.51.100.2"}, "203.0.113.7"},
		{"trusted peer without headers", "127.0.0.1:5000", nil, nil, "127.0.0.1"},
		{"trusted peer, X-Real-IP", "127.0.0.1:5000", nil, []string{"198.51.100.2"}, "198.51.100.2"},
		{"trusted peer, repeated X-Real-IP ignored", "127.0.0.1:5000", nil, []string{"198.51.100.2", "198.51.100.3"}, "127.0.0.1"},
		{"trusted peer, bad X-Real-IP", "127.0.0.1:5000", nil, []string{"nope"}, "127.0.0.1"},
		{"X-Forwarded-For wins over X-Real-IP", "127.0.0.1:5000", []string{"198.51.100.1"}, []string{"198.51.100.2"}, "198.51.100.1"},
		{"spoofed left entries skipped", "127.0.0.1:5000", []string{"1.2.3.4, 198.51.100.1"}, nil, "198.51.100.1"},
		{"trusted hops skipped", "127.0.0.1:5000", []string{"1.2.3.4, 198.51.100.1, 10.1.1.1, 10.2.2.2"}, nil, "198.51.100.1"},
		{"repeated headers are one list", "127.0.0.1:5000", []string{"1.2.3.4", "198.51.100.1, 10.1.1.1"}, nil, "198.51.100.1"},
		{"all trusted: farthest", "127.0.0.1:5000", []string{"10.9.9.9, 10.1.1.1"}, nil, "10.9.9.9"},
		{"malformed hop stops the walk", "127.0.0.1:5000", []string{"198.51.100.1, garbage, 10.1.1.1"}, nil, "10.1.1.1"},
		{"malformed nearest hop", "127.0.0.1:5000", []string{"198.51.100.1, garbage"}, nil, "127.0.0.1"},
		{"empty header", "127.0.0.1:5000", []string{""}, nil, "127.0.0.1"},
		{"ipv6 peer and hop", "[::1]:5000", []string{"2001:db8::1"}, nil, "2001:db8::1"},
		{"v4-mapped peer is trusted", "[::ffff:127.0.0.1]:5000", []string{"198.51.100.9"}, nil, "198.51.100.9"},
		{"v4-mapped untrusted peer in dotted form", "[::ffff:203.0.113.7]:5000", nil, nil, "203.0.113.7"},
		{"v4-mapped trusted peer without headers", "[::ffff:127.0.0.1]:5000", nil, nil, "127.0.0.1"},
		{"ipv6 untrusted peer", "[2001:db8::7]:5000", []string{"198.51.100.1"}, nil, "2001:db8::7"},
		{"hop with port is malformed", "127.0.0.1:5000", []string{"198.51.100.1:443"}, nil, "127.0.0.1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/", nil)
			req.RemoteAddr = tc.remote
			for _, v := range tc.xff {
				req.Header.Add("X-Forwarded-For", v)
			}
			for _, v := range tc.real {
				req.Header.Add("X-Real-IP", v)
			}
			if got := r.ClientIP(req); got != tc.want {
				t.Fatalf("ClientIP = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestResolvingAllocatesNothing: the resolver runs on every request of
// every door; an IPv4 client is given back as the text it came in.
func TestResolvingAllocatesNothing(t *testing.T) {
	r := New([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})
	for _, tc := range []struct{ name, remote, real string }{
		{"untrusted peer", "203.0.113.7:5000", ""},
		{"trusted peer alone", "127.0.0.1:5000", ""},
		{"trusted peer, X-Real-IP", "127.0.0.1:5000", "198.51.100.2"},
	} {
		req := httptest.NewRequest("GET", "/", nil)
		req.RemoteAddr = tc.remote
		if tc.real != "" {
			req.Header.Set("X-Real-IP", tc.real)
		}
		if n := testing.AllocsPerRun(100, func() { r.ClientIP(req) }); n != 0 {
			t.Errorf("%s: %.0f allocations", tc.name, n)
		}
	}
}

func TestNoTrustedProxies(t *testing.T) {
	req := httptest.NewRequest("GET", "/", nil)
	req.RemoteAddr = "127.0.0.1:1"
	req.Header.Set("X-Forwarded-For", "198.51.100.1")
	if got := New(nil).ClientIP(req); got != "127.0.0.1" {
		t.Fatalf("ClientIP = %q, want the peer", got)
	}
}

func TestParsePrefixes(t *testing.T) {
	got, err := ParsePrefixes(" 10.1.2.3/8 ,192.0.2.1,, ::1 ")
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.1/32"), netip.MustParsePrefix("::1/128")}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	if _, err := ParsePrefixes("10.0.0.0/33, nope, 1.2.3.4"); err == nil || err.Error() != `not CIDR networks such as 10.0.0.0/8 or ::1/128: "10.0.0.0/33", "nope"` {
		t.Fatalf("err = %v", err)
	}
	if got, err := ParsePrefixes(""); err != nil || len(got) != 0 {
		t.Fatalf("empty: %v %v", got, err)
	}
}

func TestParseNetwork(t *testing.T) {
	for in, want := range map[string]string{
		"10.20.1.0/16":    "10.20.0.0/16",
		"10.0.0.1":        "10.0.0.1/32",
		"::ffff:10.0.0.1": "10.0.0.1/32",
		"2001:db8::1":     "2001:db8::1/128",
		"2001:db8::/48":   "2001:db8::/48",
		"10.0.0.0/33":     "",
		"nope":            "",
	} {
		p, err := ParseNetwork(in)
		if want == "" {
			if err == nil {
				t.Errorf("ParseNetwork(%q) = %v, want an error", in, p)
			}
			continue
		}
		if err != nil || p.String() != want {
			t.Errorf("ParseNetwork(%q) = %v, %v; want %s", in, p, err, want)
		}
	}
}
