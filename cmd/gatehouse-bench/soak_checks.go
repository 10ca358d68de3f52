package main

// The soak's credential checks: good keys on the API, forward-auth and
// LDAP, and keys that must be refused, paced and spread over client
// addresses.

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
)

// checker sends credential checks at its share of -soak-rate: mostly
// good keys, some refused ones (revoked, deleted, expired, after grace,
// the wrong intent) from the address pool.
func (s *soakRun) checker(ctx context.Context) {
	var pace *pacer
	if s.cfg.Rate > 0 {
		pace = newPacer(time.Duration(float64(time.Second) * float64(s.cfg.Checkers) / float64(s.cfg.Rate)))
	} else {
		pace = newPacer(0)
	}
	c := newClient(s.base)
	defer c.close()
	yes, no := true, false
	for pace.wait(ctx) {
		r := s.randN(100)
		switch {
		case r < 50:
			if t := s.pickToken("api", &yes); t != nil {
				s.checkMe(ctx, c, kWarm, t)
				continue
			}
			fallthrough
		case r < 60:
			if t := s.pickToken("api", &no); t != nil {
				s.checkMe(ctx, c, kCold, t)
			}
		case r < 75:
			if t := s.pickToken("app_password", nil); t != nil {
				s.checkForward(ctx, c, kFABasic, t.user, t.key, t.intent, func() { s.release(t) })
			}
		case r < 80:
			if t := s.pickToken("api", nil); t != nil {
				s.checkForward(ctx, c, kFABearer, t.user, t.key, t.intent, func() { s.release(t) })
			}
		case r < 85:
			if g, ok := s.pickGrace(); ok {
				s.checkGrace(ctx, c, g)
			}
		default:
			s.checkRefused(ctx)
		}
	}
}

// soakGET sends one GET, with an Authorization header unless authz is
// empty, and returns the answer as it came: the soak judges status,
// headers and body of credential checks itself.
func soakGET(ctx context.Context, hc *http.Client, url, authz string) (int, http.Header, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, nil, err
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b, err
}

func basicAuth(user, pass string) string {
	req := http.Request{Header: http.Header{}}
	req.SetBasicAuth(user, pass)
	return req.Header.Get("Authorization")
}

// admitted reports whether an answer admits the expected user: /me names
// them, forward-auth's header does.
func admitted(status int, h http.Header, body []byte, user string) bool {
	if status != http.StatusOK {
		return false
	}
	if h.Get("X-Gatehouse-User") == user {
		return true
	}
	return bytes.Contains(body, []byte(`"username":"`+user+`"`))
}

func (s *soakRun) checkMe(ctx context.Context, c *benchClient, k soakKind, t *soakToken) {
	defer s.release(t)
	st, h, b, err := soakGET(ctx, c.hc, s.base+"/api/v1/me", "Bearer "+t.key)
	s.judgeGood(ctx, k, t.id, st, h, b, err, t.user)
}

func (s *soakRun) judgeGood(ctx context.Context, k soakKind, what string, st int, h http.Header, b []byte, err error, user string) {
	switch {
	case ctx.Err() != nil:
	case err != nil:
		s.fail(k, "%s: %v", what, err)
	case !admitted(st, h, b, user):
		s.fail(k, "%s of %s: status %d: %s", what, user, st, snippet(b))
	default:
		s.ok[k].Add(1)
	}
}

func (s *soakRun) checkForward(ctx context.Context, c *benchClient, k soakKind, user, key, intent string, release func()) {
	defer release()
	authz := "Bearer " + key
	if intent == "app_password" {
		authz = basicAuth(user, key)
	}
	st, h, b, err := soakGET(ctx, c.hc, s.base+"/outpost/forward-auth/"+soakSlug, authz)
	s.judgeGood(ctx, k, "forward-auth", st, h, b, err, user)
}

func (s *soakRun) checkGrace(ctx context.Context, c *benchClient, g graceKey) {
	defer func() {
		s.mu.Lock()
		g.tok.inflight--
		s.mu.Unlock()
	}()
	url, authz := s.base+"/api/v1/me", "Bearer "+g.key
	if g.intent == "app_password" {
		url, authz = s.base+"/outpost/forward-auth/"+soakSlug, basicAuth(g.user, g.key)
	}
	st, h, b, err := soakGET(ctx, c.hc, url, authz)
	if err == nil && st == http.StatusUnauthorized && !time.Now().Before(g.until) {
		// Answered after the grace could have ended: no verdict.
		s.undecided.Add(1)
		return
	}
	s.judgeGood(ctx, kGrace, "old key of "+g.intent, st, h, b, err, g.user)
}

// checkRefused presents a key that must be refused, from an address of
// the pool.
func (s *soakRun) checkRefused(ctx context.Context) {
	var d deadKey
	if s.randN(5) == 0 {
		t := s.pickToken("app_password", nil)
		if t == nil {
			return
		}
		d = deadKey{key: t.key, user: t.user, intent: "app_password", kind: kAppOnAPI}
		s.release(t)
	} else if x, ok := s.pickDead(""); ok {
		d = x
	} else {
		return
	}
	ip, ok := s.pool.take(time.Now())
	if !ok {
		s.skipped.Add(1)
		return
	}
	hc := addrClient(ip)
	defer hc.CloseIdleConnections()
	url, authz := s.base+"/api/v1/me", "Bearer "+d.key
	if d.intent == "app_password" && d.kind != kAppOnAPI {
		url, authz = s.base+"/outpost/forward-auth/"+soakSlug, basicAuth(d.user, d.key)
	}
	st, _, b, err := soakGET(ctx, hc, url, authz)
	switch {
	case ctx.Err() != nil:
	case err != nil:
		s.fail(d.kind, "%v", err)
	case st == http.StatusUnauthorized:
		s.ok[d.kind].Add(1)
	case st == http.StatusTooManyRequests:
		// Refused all the same, by the limiter: not admitted, but not
		// what the soak paces for; counted and shown.
		s.limited.Add(1)
		s.ok[d.kind].Add(1)
	default:
		s.fail(d.kind, "key of %s (%s): status %d, want 401: %s", d.user, d.intent, st, snippet(b))
	}
}

// addrClient is a client whose one connection comes from ip and closes
// after the request: the pool's addresses would otherwise hold thousands
// of idle connections open on the server.
func addrClient(ip net.IP) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: 10 * time.Second}
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true, DialContext: d.DialContext}, Timeout: 30 * time.Second}
}

// ldapWorker binds over the in-server LDAP door on two long-lived
// connections, as a service that binds for every login would, at a
// twentieth of the check rate; one bind in ten presents a revoked app
// password on a new connection from the address pool.
func (s *soakRun) ldapWorker(ctx context.Context) {
	rate := max(s.cfg.Rate/20, 5)
	pace := newPacer(time.Second / time.Duration(rate))
	conns := make([]*goldap.Conn, 2)
	defer func() {
		for _, l := range conns {
			if l != nil {
				l.Close()
			}
		}
	}()
	dial := func(i int) (*goldap.Conn, error) {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 83, 0, byte(1+i))}, Timeout: 10 * time.Second}
		return goldap.DialURL("ldap://"+s.ldapAddr, goldap.DialWithDialer(d))
	}
	for n := 0; pace.wait(ctx); n++ {
		if n%10 == 9 {
			s.ldapRefused(ctx)
			continue
		}
		t := s.pickToken("app_password", nil)
		if t == nil {
			continue
		}
		i := n % len(conns)
		err := func() error {
			defer s.release(t)
			dn := "cn=" + t.user + ",ou=users," + soakBaseDN
			for try := 0; ; try++ {
				if conns[i] == nil || conns[i].IsClosing() {
					if conns[i] != nil {
						// The server ends a bound session when its user
						// changes (a token revoked or rotated, the
						// account deleted).
						s.reconnect.Add(1)
						conns[i].Close()
					}
					l, err := dial(i)
					if err != nil {
						return err
					}
					conns[i] = l
				}
				err := conns[i].Bind(dn, t.key)
				if err != nil && try == 0 && goldap.IsErrorWithCode(err, goldap.ErrorNetwork) {
					// Ended while we sent: bind on a new connection.
					s.reconnect.Add(1)
					conns[i].Close()
					conns[i] = nil
					continue
				}
				return err
			}
		}()
		switch {
		case ctx.Err() != nil:
		case err != nil:
			s.fail(kLDAPBind, "bind as %s: %v", t.user, err)
		default:
			s.ok[kLDAPBind].Add(1)
		}
	}
}

func (s *soakRun) ldapRefused(ctx context.Context) {
	d, ok := s.pickDead("app_password")
	if !ok {
		return
	}
	ip, ok := s.pool.take(time.Now())
	if !ok {
		s.skipped.Add(1)
		return
	}
	dl := &net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: 10 * time.Second}
	l, err := goldap.DialURL("ldap://"+s.ldapAddr, goldap.DialWithDialer(dl))
	if err != nil {
		if ctx.Err() == nil {
			s.fail(kLDAPRevoked, "dial: %v", err)
		}
		return
	}
	defer l.Close()
	err = l.Bind("cn="+d.user+",ou=users,"+soakBaseDN, d.key)
	switch {
	case ctx.Err() != nil:
	case goldap.IsErrorWithCode(err, goldap.LDAPResultInvalidCredentials):
		s.ok[kLDAPRevoked].Add(1)
	case goldap.IsErrorWithCode(err, goldap.LDAPResultBusy):
		s.limited.Add(1)
		s.ok[kLDAPRevoked].Add(1)
	case err == nil:
		s.fail(kLDAPRevoked, "bind as %s with a dead app password succeeded", d.user)
	default:
		s.fail(kLDAPRevoked, "bind as %s: %v, want invalidCredentials (49)", d.user, err)
	}
}

func snippet(b []byte) string {
	if len(b) > 200 {
		b = b[:200]
	}
	return strings.TrimSpace(string(b))
}

// pacer spaces a loop's rounds evenly; a loop that falls behind does not
// burst to catch up.
type pacer struct {
	every time.Duration
	next  time.Time
}

func newPacer(every time.Duration) *pacer { return &pacer{every: every, next: time.Now()} }

// wait waits for the next round; false once ctx is done.
func (p *pacer) wait(ctx context.Context) bool {
	if ctx.Err() != nil {
		return false
	}
	if p.every <= 0 {
		return true
	}
	now := time.Now()
	if p.next.Before(now.Add(-p.every)) {
		p.next = now
	}
	d := p.next.Sub(now)
	p.next = p.next.Add(p.every)
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// addrPool hands out loopback client addresses, each at most
// soakRefusalsPerAddr times a minute.
type addrPool struct {
	mu   sync.Mutex
	ips  []net.IP
	used [][soakRefusalsPerAddr]time.Time // ring of each address's last uses
	pos  []int
	next int
}

func newAddrPool() *addrPool {
	p := &addrPool{used: make([][soakRefusalsPerAddr]time.Time, soakAddrs), pos: make([]int, soakAddrs)}
	for i := range soakAddrs {
		p.ips = append(p.ips, net.IPv4(127, 84, byte(i/250), byte(1+i%250)))
	}
	return p
}

func (p *addrPool) take(now time.Time) (net.IP, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for range len(p.ips) {
		i := p.next
		p.next = (p.next + 1) % len(p.ips)
		// A second over the limiter's minute: its window and ours start
		// at slightly different times.
		if oldest := p.used[i][p.pos[i]]; oldest.IsZero() || now.Sub(oldest) > time.Minute+time.Second {
			p.used[i][p.pos[i]] = now
			p.pos[i] = (p.pos[i] + 1) % soakRefusalsPerAddr
			return p.ips[i], true
		}
	}
	return nil, false
}
