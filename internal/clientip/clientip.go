// Package clientip finds the address of the client behind a chain of
// reverse proxies. X-Forwarded-For and X-Real-IP are plain request
// headers that anyone can send, so they are believed only when the peer
// that sent them is a configured trusted proxy; otherwise the peer's own
// address is the client's.
package clientip

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// DefaultTrusted is the default set of trusted proxies: loopback only, the
// usual place of a reverse proxy on the same host.
var DefaultTrusted = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// ParsePrefixes parses a comma-separated list of CIDR networks (a bare
// address is one host: /32 or /128). It reports every bad entry at once.
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	var bad []string
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if p, err := ParseNetwork(part); err == nil {
			out = append(out, p)
			continue
		}
		bad = append(bad, fmt.Sprintf("%q", part))
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("not CIDR networks such as 10.0.0.0/8 or ::1/128: %s", strings.Join(bad, ", "))
	}
	return out, nil
}

// ParseNetwork reads a CIDR network (masked: 10.20.1.0/16 is
// 10.20.0.0/16), or one address as its own network (10.0.0.1 is
// 10.0.0.1/32): the rule of trusted proxies and of the networks a token
// is bound to alike.
func ParseNetwork(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	addr, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	addr = addr.Unmap()
	return netip.PrefixFrom(addr, addr.BitLen()), nil
}

// Resolver finds client addresses, trusting forwarding headers only from
// its trusted proxies.
type Resolver struct {
	trusted []netip.Prefix
}

// New returns a resolver trusting the given networks (nil or empty: none,
// every peer is the client).
func New(trusted []netip.Prefix) *Resolver {
	return &Resolver{trusted: trusted}
}

func (r *Resolver) isTrusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// peer is the address of the connection's other end, and its text when
// RemoteAddr holds it as an IPv4 address in dotted form (for text).
func peer(req *http.Request) (netip.Addr, string, bool) {
	if ap, err := netip.ParseAddrPort(req.RemoteAddr); err == nil {
		a := ap.Addr()
		if a.Is4() {
			// "a.b.c.d:port": the host is the text before the last colon.
			return a, req.RemoteAddr[:strings.LastIndexByte(req.RemoteAddr, ':')], true
		}
		return a.Unmap(), "", true
	}
	host, _, err := net.SplitHostPort(req.RemoteAddr)
	if err != nil {
		host = req.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, "", false
	}
	return a.Unmap(), "", true
}

// text renders an address; an IPv4 address parsed from text is given
// back as that text (netip accepts only its canonical dotted form), which
// spares an allocation per request.
func text(a netip.Addr, parsed string) string {
	if a.Is4() && parsed != "" {
		return parsed
	}
	return a.String()
}

// ClientIP returns the client's address as text. When the peer is a
// trusted proxy, X-Forwarded-For is read from the right (the hop nearest
// to us) leftwards, skipping trusted proxies: the first untrusted address
// is the client; a malformed entry stops the walk at the last address
// known good. Without X-Forwarded-For, a trusted peer's X-Real-IP is
// used. Repeated X-Forwarded-For headers are one list (RFC 9110 §5.3);
// repeated X-Real-IP headers are ambiguous, and ignored.
func (r *Resolver) ClientIP(req *http.Request) string {
	p, pText, ok := peer(req)
	if !ok {
		return req.RemoteAddr
	}
	if !r.isTrusted(p) {
		return text(p, pText)
	}
	if xff := req.Header.Values("X-Forwarded-For"); len(xff) > 0 {
		a, s := r.walk(p, xff)
		return text(a, s)
	}
	// Indexed by its canonical form: Values would canonicalise the name
	// into a new string on every request.
	if xr := req.Header["X-Real-Ip"]; len(xr) == 1 {
		s := strings.TrimSpace(xr[0])
		if a, err := netip.ParseAddr(s); err == nil {
			if a.Is4() {
				return text(a, s)
			}
			return a.Unmap().String()
		}
	}
	return text(p, pText)
}

// walk goes through the X-Forwarded-For values from the right. It
// returns the client and, when it came from the header as an IPv4
// address, its text.
func (r *Resolver) walk(last netip.Addr, values []string) (netip.Addr, string) {
	lastText := ""
	for i := len(values) - 1; i >= 0; i-- {
		v := values[i]
		for v != "" {
			var hop string
			if j := strings.LastIndexByte(v, ','); j >= 0 {
				hop, v = v[j+1:], v[:j]
			} else {
				hop, v = v, ""
			}
			hop = strings.TrimSpace(hop)
			a, err := netip.ParseAddr(hop)
			if err != nil {
				return last, lastText // a hop we cannot read: trust nothing beyond it
			}
			if !a.Is4() {
				hop = "" // only dotted IPv4 text is sure to be canonical
			}
			a = a.Unmap()
			if !r.isTrusted(a) {
				return a, hop
			}
			last, lastText = a, hop
		}
	}
	return last, lastText // every hop is a trusted proxy: the farthest is the client
}
