// Package ldap is gatehouse's LDAP front door (RFC 4511, LDAPv3): simple
// binds with app passwords or people's passwords, searches of the
// directory view, compare, WhoAmI, StartTLS and LDAPS. It is read-only.
// The same door runs inside the server (CoreBackend) and in outposts.
//
// The protocol is implemented here rather than with an LDAP server
// library: the ones available do not bound what a client can make them
// hold (message sizes, connections, idle clients, requests in flight per
// connection), which a door facing the network must.
package ldap

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/clock"
	"github.com/gatehouse/gatehouse/internal/core"
	"github.com/gatehouse/gatehouse/internal/ldap/dn"
)

// Options are the door's limits and TLS settings; zero values take the defaults.
type Options struct {
	// TLS, when set, enables StartTLS and is used by ServeTLS (LDAPS).
	TLS *tls.Config
	// MaxConnections bounds open connections; more are told busy and closed.
	MaxConnections int // default 4096
	// MaxMessageSize bounds one request; a larger one ends the connection.
	MaxMessageSize int // default 128 KiB
	// FirstMessageTimeout: a client must send its first request, and each
	// request once begun, within this.
	FirstMessageTimeout time.Duration // default 10s
	// IdleTimeout closes connections idle between requests for this long.
	IdleTimeout time.Duration // default 15m
	// WriteTimeout bounds writing one answer.
	WriteTimeout time.Duration // default 30s
	// MaxResults bounds the entries of a search without paging; more end
	// with sizeLimitExceeded (paged searches are not bounded).
	MaxResults int // default 10000
	// MaxPagedSearches bounds paged searches held open per connection.
	MaxPagedSearches int // default 8
	Clock            clock.Clock
	Log              *slog.Logger
	// BindOutcome, when set, is told the outcome of every bind the
	// backend decided (core.LDAPBind* values), for metrics.
	BindOutcome func(outcome string)
}

func (o *Options) defaults() {
	if o.MaxConnections <= 0 {
		o.MaxConnections = 4096
	}
	if o.MaxMessageSize <= 0 {
		o.MaxMessageSize = 128 << 10
	}
	if o.FirstMessageTimeout <= 0 {
		o.FirstMessageTimeout = 10 * time.Second
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 15 * time.Minute
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 30 * time.Second
	}
	if o.MaxResults <= 0 {
		o.MaxResults = 10_000
	}
	if o.MaxPagedSearches <= 0 {
		o.MaxPagedSearches = 8
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

// Server is an LDAP door over a Backend.
type Server struct {
	b     Backend
	o     Options
	slots chan struct{}
	ctx   context.Context
	stop  context.CancelFunc

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	closing   bool
	wg        sync.WaitGroup

	viewMu   sync.Mutex
	view     *View
	viewDir  *core.Directory
	viewBase string
}

// NewServer makes a door.
func NewServer(b Backend, o Options) *Server {
	o.defaults()
	ctx, stop := context.WithCancel(context.Background())
	return &Server{b: b, o: o, slots: make(chan struct{}, o.MaxConnections), ctx: ctx, stop: stop,
		listeners: map[net.Listener]struct{}{}, conns: map[*conn]struct{}{}}
}

// Serve accepts plain LDAP connections (with StartTLS when TLS is set)
// until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.serve(ln, false) }

// ServeTLS accepts LDAPS connections (TLS from the first byte).
func (s *Server) ServeTLS(ln net.Listener) error {
	if s.o.TLS == nil {
		return errors.New("ldap: LDAPS needs a TLS certificate")
	}
	return s.serve(ln, true)
}

func (s *Server) serve(ln net.Listener, implicitTLS bool) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.isClosing() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			// Out of file descriptors and the like: wait and go on, as
			// net/http does, rather than stop serving everyone.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.o.Log.Warn("ldap: accept", "err", err, "retry_in", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		select {
		case s.slots <- struct{}{}:
		default:
			s.refuse(nc)
			continue
		}
		s.wg.Add(1)
		go s.serveConn(nc, implicitTLS)
	}
}

// refuse tells a connection over the limit that the server is busy.
func (s *Server) refuse(nc net.Conn) {
	var rw responseWriter
	rw.noticeOfDisconnection(ResultBusy, "too many connections; try again later")
	_ = nc.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	_, _ = nc.Write(rw.w.b)
	nc.Close()
	s.o.Log.Warn("ldap: connection refused: too many connections", "client", nc.RemoteAddr().String(), "max", s.o.MaxConnections)
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// Shutdown stops accepting, lets requests in progress finish, tells idle
// clients the server is going away, and waits for connections to close
// (until ctx ends, then closes them).
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	for ln := range s.listeners {
		ln.Close()
	}
	for c := range s.conns {
		c.interrupt()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		s.stop()
		return nil
	case <-ctx.Done():
		s.stop()
		s.mu.Lock()
		for c := range s.conns {
			c.closeNow()
		}
		s.mu.Unlock()
		<-done
		return ctx.Err()
	}
}

// viewFor returns the view of a snapshot, made once per directory build.
func (s *Server) viewFor(snap Snapshot) *View {
	base := snap.Base.String()
	s.viewMu.Lock()
	defer s.viewMu.Unlock()
	if s.view == nil || s.viewDir != snap.Dir || s.viewBase != base {
		dir := snap.Dir
		if dir == nil {
			dir = core.NewDirectory("", nil, nil) // searched remotely: the view serves the root DSE alone
		}
		s.view, s.viewDir, s.viewBase = NewView(dir, snap.Base, s.o.TLS != nil), snap.Dir, base
	}
	return s.view
}

// session is who a connection is bound as.
type session struct {
	dn         string
	username   string
	ref        core.LDAPSessionRef
	full       bool
	checkedGen uint64
	validUntil time.Time // zero: the credential does not expire
}

// pagedSearch is a paged search in progress on a connection.
type pagedSearch struct {
	entries   []resultEntry
	pos       int
	sel       attrSelection
	typesOnly bool
	exceeded  bool // the size limit cut the entries
	seq       uint64
}

// conn is one client connection; its requests are served in order.
type conn struct {
	s        *Server
	nc       net.Conn
	br       *bufio.Reader
	tls      bool
	clientIP string
	buf      []byte
	rw       responseWriter
	sess     *session
	paged    map[string]*pagedSearch
	pagedSeq uint64

	mu   sync.Mutex
	busy bool // a request is being served
	quit bool // Shutdown asked the connection to end
}

// interrupt ends an idle connection's read at once; a busy one ends
// after its request.
func (c *conn) interrupt() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.quit = true
	if !c.busy {
		_ = c.nc.SetReadDeadline(time.Now())
	}
}

func (c *conn) setBusy(b bool) (quit bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.busy = b
	return c.quit
}

func (s *Server) serveConn(nc net.Conn, implicitTLS bool) {
	defer s.wg.Done()
	defer func() { <-s.slots }()
	c := &conn{s: s, nc: nc}
	if host, _, err := net.SplitHostPort(nc.RemoteAddr().String()); err == nil {
		c.clientIP = host
	}
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.nc.Close()
	}()
	defer func() {
		if v := recover(); v != nil {
			s.o.Log.Error("ldap: panic serving a connection", "client", c.clientIP, "panic", v)
		}
	}()
	if implicitTLS {
		tc := tls.Server(nc, s.o.TLS)
		ctx, cancel := context.WithTimeout(s.ctx, s.o.FirstMessageTimeout)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			s.o.Log.Debug("ldap: TLS handshake failed", "client", c.clientIP, "err", err)
			return
		}
		c.nc, c.tls = tc, true
	}
	c.br = bufio.NewReaderSize(c.nc, 4096)
	first := true
	for {
		wait := s.o.IdleTimeout
		if first {
			wait = s.o.FirstMessageTimeout
		}
		// The deadline is set before the connection counts as idle, so
		// that an interrupt from Shutdown in between is not overwritten.
		_ = c.nc.SetReadDeadline(time.Now().Add(wait))
		if c.setBusy(false) {
			c.notice(ResultUnavailable, "the server is shutting down")
			return
		}
		if _, err := c.br.Peek(1); err != nil {
			if c.setBusy(true) {
				c.notice(ResultUnavailable, "the server is shutting down")
			}
			return // closed, or idle too long
		}
		if c.setBusy(true) {
			c.notice(ResultUnavailable, "the server is shutting down")
			return
		}
		// Once a request has begun, all of it must arrive promptly.
		_ = c.nc.SetReadDeadline(time.Now().Add(s.o.FirstMessageTimeout))
		body, buf, err := readMessage(c.br, s.o.MaxMessageSize, c.buf)
		c.buf = buf
		if err != nil {
			switch {
			case errors.Is(err, errTooLarge):
				c.notice(ResultProtocolError, fmt.Sprintf("request larger than %d bytes", s.o.MaxMessageSize))
			case errors.Is(err, errMalformed):
				c.notice(ResultProtocolError, "malformed request: "+err.Error())
			}
			s.o.Log.Debug("ldap: connection ends", "client", c.clientIP, "err", err)
			return
		}
		msg, err := parseMessage(body)
		if err != nil {
			c.notice(ResultProtocolError, "malformed request: "+err.Error())
			return
		}
		first = false
		if !c.handle(msg) {
			return
		}
	}
}

// notice sends a Notice of Disconnection; the caller closes. What the
// client sent meanwhile is read and dropped for a moment first: closing a
// socket with unread input makes TCP reset the connection, and the reset
// can destroy the notice before the client reads it.
func (c *conn) notice(code int, msg string) {
	c.rw.reset()
	c.rw.noticeOfDisconnection(code, msg)
	if c.flush() != nil {
		return
	}
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	_, _ = io.CopyN(io.Discard, c.nc, 1<<20)
}

// flush writes what is buffered.
func (c *conn) flush() error {
	if len(c.rw.w.b) == 0 {
		return nil
	}
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.s.o.WriteTimeout))
	_, err := c.nc.Write(c.rw.w.b)
	c.rw.reset()
	return err
}

// handle serves one request; false ends the connection.
func (c *conn) handle(m message) bool {
	switch m.op.id {
	case opUnbindRequest:
		return false
	case opAbandonRequest:
		return true // requests are served in order: nothing is in flight to abandon
	}
	if c.s.o.Log.Enabled(c.s.ctx, slog.LevelDebug) {
		c.s.o.Log.Debug("ldap: request", "client", c.clientIP, "op", opName(m.op.id), "id", m.id, "bound", c.sess != nil)
	}
	respOp, known := responseOp(m.op.id)
	if !known {
		c.notice(ResultProtocolError, fmt.Sprintf("unknown operation 0x%02x", m.op.id))
		return false
	}
	c.rw.reset()
	for _, ctl := range m.controls {
		if ctl.critical && !(ctl.oid == oidPagedResults && m.op.id == opSearchRequest) {
			c.answer(m.id, respOp, result{code: ResultUnavailableCriticalExtension, message: "unsupported critical control " + ctl.oid})
			return c.flush() == nil
		}
	}
	// No deadline of its own: the in-server backend works in memory and
	// the database bounds its queries; the outpost's API client bounds
	// its requests.
	ctx := c.s.ctx
	keep := true
	switch m.op.id {
	case opBindRequest:
		c.bind(ctx, m)
	case opSearchRequest:
		keep = c.search(ctx, m)
	case opCompareRequest:
		keep = c.compare(ctx, m)
	case opExtendedRequest:
		return c.extended(ctx, m)
	default: // add, delete, modify, modify DN
		c.answer(m.id, respOp, result{code: ResultUnwillingToPerform,
			message: "the gatehouse directory is read-only: change users and groups through the gatehouse API"})
	}
	if err := c.flush(); err != nil {
		return false
	}
	return keep
}

// answer writes a response holding only a result.
func (c *conn) answer(id int64, respOp byte, r result) {
	switch respOp {
	case opSearchDone:
		c.rw.searchDone(id, r, nil)
	case opExtendedResponse:
		c.rw.extended(id, r, "", nil)
	default:
		c.rw.simple(id, respOp, r)
	}
}

// bindCodes maps the core's outcomes to LDAP result codes.
var bindCodes = map[string]int{
	core.LDAPBindSuccess:         ResultSuccess,
	core.LDAPBindInvalid:         ResultInvalidCredentials,
	core.LDAPBindAnonymous:       ResultInappropriateAuthentication,
	core.LDAPBindUnauthenticated: ResultUnwillingToPerform,
	core.LDAPBindBusy:            ResultBusy,
	core.LDAPBindUnavailable:     ResultUnavailable,
}

func (c *conn) bind(ctx context.Context, m message) {
	req, err := parseBind(m.op.body)
	if err != nil {
		c.rw.simple(m.id, opBindResponse, result{code: ResultProtocolError, message: "malformed bind request"})
		return
	}
	// Whatever its outcome, a bind first makes the connection anonymous.
	c.sess, c.paged = nil, nil
	switch {
	case req.version != 3:
		c.rw.simple(m.id, opBindResponse, result{code: ResultProtocolError, message: "only LDAP version 3 is supported"})
		return
	case !req.simple:
		c.rw.simple(m.id, opBindResponse, result{code: ResultAuthMethodNotSupported, message: "only simple binds are supported, with an app password"})
		return
	}
	gen := c.s.b.Generation()
	res, err := c.s.b.Bind(ctx, req.name, req.password, c.clientIP)
	if err != nil {
		c.s.o.Log.Warn("ldap: bind could not be checked", "client", c.clientIP, "err", err)
		c.rw.simple(m.id, opBindResponse, result{code: ResultUnavailable, message: "the bind cannot be checked right now"})
		return
	}
	code, ok := bindCodes[res.Outcome]
	if !ok {
		code = ResultOther
	}
	if c.s.o.BindOutcome != nil {
		c.s.o.BindOutcome(res.Outcome)
	}
	if code == ResultSuccess {
		sess := res.Session
		if sess == nil {
			c.rw.simple(m.id, opBindResponse, result{code: ResultUnavailable, message: "the directory is unavailable"})
			return
		}
		c.sess = &session{dn: sess.DN, username: sess.Username,
			ref: core.LDAPSessionRef{UserUID: sess.UserUID, Binding: sess.Binding}, full: sess.SearchFullDirectory, checkedGen: gen}
		if sess.ValidUntil != nil {
			c.sess.validUntil = *sess.ValidUntil
		}
	}
	c.rw.simple(m.id, opBindResponse, result{code: code, message: res.Message})
}

// checkSession re-checks the bound session when anything changed or its
// credential expired. A session whose credential was revoked, whose
// account was disabled or deleted, or whose password changed ends: the
// client is told (strongerAuthRequired) and disconnected, and must bind
// again. ok false with keep true: the answer is written, the connection stays.
func (c *conn) checkSession(ctx context.Context, m message, respOp byte) (ok, keep bool) {
	s := c.sess
	if s == nil {
		return true, true
	}
	gen := c.s.b.Generation()
	if gen == s.checkedGen && (s.validUntil.IsZero() || c.s.o.Clock.Now().Before(s.validUntil)) {
		return true, true
	}
	st, err := c.s.b.CheckSession(ctx, s.ref)
	if err != nil {
		c.s.o.Log.Warn("ldap: session could not be checked", "client", c.clientIP, "user", s.username, "err", err)
		c.answer(m.id, respOp, result{code: ResultUnavailable, message: "the session cannot be checked right now"})
		return false, true
	}
	if !st.Valid {
		c.s.o.Log.Info("ldap: ending a session whose credential is no longer valid", "client", c.clientIP, "user", s.username)
		c.sess = nil
		c.notice(ResultStrongerAuthRequired, "the credential of this session was revoked, expired or changed, or the account was disabled: bind again")
		return false, false
	}
	s.full, s.checkedGen, s.validUntil = st.SearchFullDirectory, gen, time.Time{}
	if st.ValidUntil != nil {
		s.validUntil = *st.ValidUntil
	}
	return true, true
}

func (c *conn) visibility() visibility {
	if c.sess == nil {
		return visibility{}
	}
	return visibility{bound: true, full: c.sess.full, self: c.sess.username}
}

var errBindFirst = result{code: ResultInsufficientAccessRights, message: "bind first: without a bind only the root DSE can be read"}

func (c *conn) search(ctx context.Context, m message) bool {
	req, err := parseSearch(m.op.body)
	if err != nil {
		code := ResultProtocolError
		if errors.Is(err, errFilterTooDeep) {
			code = ResultUnwillingToPerform
		}
		c.rw.searchDone(m.id, result{code: code, message: "bad search request: " + err.Error()}, nil)
		return true
	}
	var paging *pagingControl
	for _, ctl := range m.controls {
		if ctl.oid == oidPagedResults {
			p, err := parsePaging(ctl.value)
			if err != nil {
				c.rw.searchDone(m.id, result{code: ResultProtocolError, message: err.Error()}, nil)
				return true
			}
			paging = &p
		}
	}
	if ok, keep := c.checkSession(ctx, m, opSearchDone); !ok {
		return keep
	}
	rootDSE := req.Base == "" && req.Scope == ScopeBase
	if c.sess == nil && !rootDSE {
		c.rw.searchDone(m.id, errBindFirst, nil)
		return true
	}
	if paging != nil && paging.cookie != "" {
		c.nextPage(m.id, paging)
		return true
	}
	entries, res, err := c.run(ctx, req, rootDSE)
	if err != nil {
		c.s.o.Log.Warn("ldap: search failed", "client", c.clientIP, "err", err)
		c.rw.searchDone(m.id, result{code: ResultUnavailable, message: "the directory is unavailable"}, nil)
		return true
	}
	if res.code != ResultSuccess {
		c.rw.searchDone(m.id, res, nil)
		return true
	}
	sel := selectAttributes(req.Attributes)
	exceeded := false
	if req.SizeLimit > 0 && int64(len(entries)) > req.SizeLimit {
		entries, exceeded = entries[:req.SizeLimit], true
	}
	if paging == nil || paging.size == 0 {
		if len(entries) > c.s.o.MaxResults {
			entries, exceeded = entries[:c.s.o.MaxResults], true
		}
		if err := c.sendEntries(m.id, entries, sel, req.TypesOnly); err != nil {
			return false
		}
		c.rw.searchDone(m.id, doneResult(exceeded), nil)
		return true
	}
	ps := &pagedSearch{entries: entries, sel: sel, typesOnly: req.TypesOnly, exceeded: exceeded}
	return c.sendPage(m.id, "", ps, paging.size)
}

func doneResult(exceeded bool) result {
	if exceeded {
		return result{code: ResultSizeLimitExceeded, message: "size limit exceeded"}
	}
	return result{}
}

// run finds a search's entries: in the view, or through the backend.
func (c *conn) run(ctx context.Context, req *SearchRequest, rootDSE bool) ([]resultEntry, result, error) {
	snap, err := c.s.b.Snapshot(ctx)
	if err != nil {
		return nil, result{}, err
	}
	v := c.s.viewFor(snap)
	if snap.Dir != nil || rootDSE {
		entries, res := v.search(req, c.visibility())
		return entries, res, nil
	}
	remote, res, err := c.s.b.Search(ctx, c.sess.ref, req)
	if err != nil {
		return nil, result{}, err
	}
	out := make([]resultEntry, len(remote))
	for i, e := range remote {
		out[i] = remoteEntry{dn: e.DN, attrs: e.Attributes}
	}
	return out, result{code: res.Code, matchedDN: res.MatchedDN, message: res.Message}, nil
}

// sendEntries writes entries, flushing as the buffer grows.
func (c *conn) sendEntries(id int64, entries []resultEntry, sel attrSelection, typesOnly bool) error {
	for _, e := range entries {
		c.rw.entry(id, e.DN(), sel.pick(e.allAttributes()), typesOnly)
		if len(c.rw.w.b) > 64<<10 {
			if err := c.flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

// sendPage writes the next page of a paged search and keeps it under a
// new cookie when entries remain (RFC 2696).
func (c *conn) sendPage(id int64, oldCookie string, ps *pagedSearch, size int64) bool {
	if oldCookie != "" {
		delete(c.paged, oldCookie)
	}
	end := len(ps.entries)
	if size > 0 && int64(end-ps.pos) > size {
		end = ps.pos + int(size)
	}
	if err := c.sendEntries(id, ps.entries[ps.pos:end], ps.sel, ps.typesOnly); err != nil {
		return false
	}
	ps.pos = end
	cookie := ""
	res := result{}
	if ps.pos < len(ps.entries) {
		cookie = newCookie()
		if c.paged == nil {
			c.paged = map[string]*pagedSearch{}
		}
		if len(c.paged) >= c.s.o.MaxPagedSearches {
			c.dropOldestPage()
		}
		c.pagedSeq++
		ps.seq = c.pagedSeq
		c.paged[cookie] = ps
	} else {
		res = doneResult(ps.exceeded)
	}
	c.rw.searchDone(id, res, &cookie)
	return true
}

func (c *conn) nextPage(id int64, p *pagingControl) {
	ps, ok := c.paged[p.cookie]
	if !ok {
		c.rw.searchDone(id, result{code: ResultProtocolError, message: "the paged results cookie is invalid or expired"}, nil)
		return
	}
	if p.size == 0 { // the client abandons the paged search
		delete(c.paged, p.cookie)
		empty := ""
		c.rw.searchDone(id, result{}, &empty)
		return
	}
	c.sendPage(id, p.cookie, ps, p.size)
}

func (c *conn) dropOldestPage() {
	oldest, seq := "", uint64(0)
	for k, ps := range c.paged {
		if oldest == "" || ps.seq < seq {
			oldest, seq = k, ps.seq
		}
	}
	delete(c.paged, oldest)
}

func newCookie() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

// presentObjectClass is the filter (objectClass=*), for compare on an
// outpost that searches directly.
var presentObjectClass = []byte{classContext | 7, 11, 'o', 'b', 'j', 'e', 'c', 't', 'C', 'l', 'a', 's', 's'}

func (c *conn) compare(ctx context.Context, m message) bool {
	req, err := parseCompare(m.op.body)
	if err != nil {
		c.rw.simple(m.id, opCompareResponse, result{code: ResultProtocolError, message: "malformed compare request"})
		return true
	}
	if ok, keep := c.checkSession(ctx, m, opCompareResponse); !ok {
		return keep
	}
	if c.sess == nil {
		c.rw.simple(m.id, opCompareResponse, errBindFirst)
		return true
	}
	if _, err := dn.Parse(req.entry); err != nil {
		c.rw.simple(m.id, opCompareResponse, result{code: ResultInvalidDNSyntax, message: "the entry is not a DN"})
		return true
	}
	f, _ := ParseFilterBER(presentObjectClass)
	entries, res, err := c.run(ctx, &SearchRequest{Base: req.entry, Scope: ScopeBase, Filter: f, FilterBER: presentObjectClass}, false)
	if err != nil {
		c.rw.simple(m.id, opCompareResponse, result{code: ResultUnavailable, message: "the directory is unavailable"})
		return true
	}
	if res.code != ResultSuccess || len(entries) == 0 {
		c.rw.simple(m.id, opCompareResponse, result{code: ResultNoSuchObject, matchedDN: res.matchedDN, message: "no such entry"})
		return true
	}
	attr := canonicalAttr(req.attr)
	vals, known := attributesTarget(entries[0].allAttributes()).values(attr)
	switch {
	case !known:
		c.rw.simple(m.id, opCompareResponse, result{code: ResultUndefinedAttributeType, message: "unknown attribute " + req.attr})
	case len(vals) == 0:
		c.rw.simple(m.id, opCompareResponse, result{code: ResultNoSuchAttribute, message: "the entry has no " + req.attr})
	case matchEqual(attr, vals, req.value) == triTrue:
		c.rw.simple(m.id, opCompareResponse, result{code: ResultCompareTrue})
	default:
		c.rw.simple(m.id, opCompareResponse, result{code: ResultCompareFalse})
	}
	return true
}

// attributesTarget evaluates assertions on an entry's attribute list.
type attributesTarget []Attribute

func (t attributesTarget) values(attr string) ([]string, bool) {
	for _, a := range t {
		if canonicalAttr(a.Name) == attr {
			return a.Values, true
		}
	}
	return nil, knownAttrs[attr]
}

func (c *conn) extended(ctx context.Context, m message) bool {
	req, err := parseExtended(m.op.body)
	if err != nil {
		c.rw.extended(m.id, result{code: ResultProtocolError, message: "malformed extended request"}, "", nil)
		return c.flush() == nil
	}
	switch req.name {
	case oidWhoAmI: // RFC 4532
		if ok, keep := c.checkSession(ctx, m, opExtendedResponse); !ok {
			return keep && c.flush() == nil
		}
		authzID := ""
		if c.sess != nil {
			authzID = "dn:" + c.sess.dn
		}
		c.rw.extended(m.id, result{}, "", &authzID)
	case oidStartTLS: // RFC 4511 4.14
		return c.startTLS(m)
	case oidPasswordModify:
		c.rw.extended(m.id, result{code: ResultUnwillingToPerform, message: "passwords are changed through gatehouse, not over LDAP"}, "", nil)
	default:
		c.rw.extended(m.id, result{code: ResultProtocolError, message: "unsupported extended operation " + req.name}, "", nil)
	}
	return c.flush() == nil
}

func (c *conn) startTLS(m message) bool {
	switch {
	case c.s.o.TLS == nil:
		c.rw.extended(m.id, result{code: ResultProtocolError, message: "StartTLS is not configured on this server"}, "", nil)
		return c.flush() == nil
	case c.tls:
		c.rw.extended(m.id, result{code: ResultOperationsError, message: "TLS is already established"}, "", nil)
		return c.flush() == nil
	case c.br.Buffered() > 0:
		// The client must wait for the answer before starting TLS.
		c.notice(ResultProtocolError, "data sent after a StartTLS request before its answer")
		return false
	}
	c.rw.extended(m.id, result{}, oidStartTLS, nil)
	if c.flush() != nil {
		return false
	}
	tc := tls.Server(c.nc, c.s.o.TLS)
	ctx, cancel := context.WithTimeout(c.s.ctx, c.s.o.FirstMessageTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		c.s.o.Log.Debug("ldap: StartTLS handshake failed", "client", c.clientIP, "err", err)
		return false
	}
	c.mu.Lock()
	c.nc, c.tls = tc, true
	c.mu.Unlock()
	c.br = bufio.NewReaderSize(tc, 4096)
	return true
}

// closeNow closes the connection under its lock (StartTLS swaps it).
func (c *conn) closeNow() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nc.Close()
}
