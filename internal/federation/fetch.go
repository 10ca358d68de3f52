package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Fetching an issuer's keys reaches out to a URL an administrator typed,
// from inside the network gatehouse runs in: it must not become a way to
// probe that network (SSRF). So: HTTPS only, no proxy, no redirect away
// from HTTPS, bounded sizes and time, and every connection's address is
// checked when it is dialled, after DNS resolution, so that a name that
// resolves to a public address when checked and to 127.0.0.1 when used
// (DNS rebinding) is refused all the same.

// MaxResponse bounds a discovery document or JWK Set.
const MaxResponse = 256 << 10

// FetchTimeout bounds one fetch, connection included.
const FetchTimeout = 10 * time.Second

// ErrForbiddenAddress: the address is loopback, private, link-local or
// otherwise not on the public internet.
var ErrForbiddenAddress = errors.New("address not allowed: loopback, private, link-local and other non-public addresses are refused (--oidc-allow-insecure-issuers is for tests)")

// PublicAddress reports whether addr is a public unicast address.
func PublicAddress(addr netip.Addr) bool {
	addr = addr.Unmap()
	if !addr.IsValid() || addr.IsLoopback() || addr.IsPrivate() || addr.IsLinkLocalUnicast() || addr.IsLinkLocalMulticast() ||
		addr.IsInterfaceLocalMulticast() || addr.IsMulticast() || addr.IsUnspecified() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(addr) {
			return false
		}
	}
	return true
}

// nonPublic: ranges the netip predicates do not name.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, broadcast
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("fec0::/10"),       // site-local (deprecated)
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
}

// dialControl refuses, at dial time, a non-public address.
func dialControl(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("dial %s: %w", address, ErrForbiddenAddress)
	}
	if !PublicAddress(addr) {
		return fmt.Errorf("dial %s: %w", addr, ErrForbiddenAddress)
	}
	return nil
}

// NewHTTPClient is the client keys are fetched with. With insecure, any
// address and plain HTTP are allowed (tests; the server warns at start).
func NewHTTPClient(insecure bool) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	if !insecure {
		d.Control = dialControl
	}
	tr := &http.Transport{
		Proxy:                  nil, // a proxy would be dialled instead of the issuer, and checked in its place
		DialContext:            d.DialContext,
		TLSHandshakeTimeout:    5 * time.Second,
		ResponseHeaderTimeout:  5 * time.Second,
		MaxResponseHeaderBytes: 16 << 10,
		IdleConnTimeout:        30 * time.Second,
		MaxIdleConnsPerHost:    2,
		ForceAttemptHTTP2:      true,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   FetchTimeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 3 {
				return errors.New("too many redirects")
			}
			return CheckURL(req.URL.String(), insecure)
		},
	}
}

// CheckURL says whether u may be fetched: absolute HTTPS (HTTP too when
// insecure), no credentials, no fragment, and a host that is not an
// address literal outside the public internet. Names are checked again
// when dialled.
func CheckURL(raw string, insecure bool) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || !u.IsAbs() {
		return errors.New("must be an absolute https:// URL")
	}
	switch {
	case u.Scheme != "https" && !(insecure && u.Scheme == "http"):
		return errors.New("must be an https:// URL")
	case u.User != nil:
		return errors.New("must not hold credentials")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return errors.New("must not have a fragment")
	}
	if insecure {
		return nil
	}
	host := u.Hostname()
	if addr, err := netip.ParseAddr(host); err == nil && !PublicAddress(addr) {
		return ErrForbiddenAddress
	}
	if h := strings.ToLower(strings.TrimSuffix(host, ".")); h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return ErrForbiddenAddress
	}
	return nil
}

// get fetches a JSON document of at most MaxResponse bytes.
func get(ctx context.Context, c *http.Client, raw string, insecure bool, v any) error {
	if err := CheckURL(raw, insecure); err != nil {
		return fmt.Errorf("%s: %w", raw, err)
	}
	ctx, cancel := context.WithTimeout(ctx, FetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", raw, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponse+1))
	if err != nil {
		return fmt.Errorf("GET %s: %w", raw, err)
	}
	if len(body) > MaxResponse {
		return fmt.Errorf("GET %s: answer larger than %d bytes", raw, MaxResponse)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: not JSON: %w", raw, err)
	}
	return nil
}
