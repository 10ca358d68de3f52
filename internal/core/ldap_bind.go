package core

import (
	"context"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/client"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/ldap/dn"
	"github.com/gatehouse/gatehouse/internal/ratelimit"
	"github.com/gatehouse/gatehouse/internal/store"
)

// LDAP binds: the one place that decides them, for the in-server LDAP
// door and for outposts (through the API). A bind is checked against the
// credential cache (app passwords by keyed hash, people's passwords by
// argon2id with the cache of verified hashes), never against anything an
// outpost remembers; failures are rate limited and recorded; successes
// are recorded at most once per user every LoginEventEvery.

// LoginEventEvery is how often a user's LDAP binds write last_login_at
// and a login event: services that bind for every request would
// otherwise flood the audit log.
const LoginEventEvery = 5 * time.Minute

// Outcomes of an LDAP bind.
const (
	LDAPBindSuccess         = "success"
	LDAPBindInvalid         = "invalid_credentials" // wrong or unknown (LDAP 49)
	LDAPBindAnonymous       = "anonymous"           // empty name and password (LDAP 48)
	LDAPBindUnauthenticated = "unauthenticated"     // a name with an empty password (LDAP 53)
	LDAPBindBusy            = "busy"                // rate limited (LDAP 51)
	LDAPBindUnavailable     = "unavailable"         // cannot be checked now (LDAP 52)
)

// LDAPBindInput is a simple bind to check.
type LDAPBindInput struct {
	Name     string `json:"name"`
	Password string `json:"password"`
	// ClientIP is the LDAP client's address: the in-server door's peer,
	// or what an outpost reports (trusted from outposts only).
	ClientIP string `json:"client_ip"`
	outpost  string // the outpost that forwarded the bind, for events
}

// LDAPBindResult is the decision.
type LDAPBindResult = client.LDAPBindResult

// LDAPSession is who a successful bind bound as, and the handle with
// which the door re-checks the session (LDAPCheckSession) whenever
// anything changed.
type LDAPSession = client.LDAPSession

// LDAPSessionRef names a bound session for LDAPCheckSession.
type LDAPSessionRef = client.LDAPSessionRef

// LDAPSessionState says whether a bound session may go on.
type LDAPSessionState = client.LDAPSessionState

// ldapState is the LDAP doors' shared state in the core.
type ldapState struct {
	mu           sync.Mutex
	limiter      *ratelimit.Limiter
	providers    map[string]cachedProvider
	outposts     map[string]cachedOutpost // by account UID
	lastLogin    map[loginSource]time.Time
	limitedEvent map[[2]string]time.Time // (account, client) -> last rate_limited event
	tokenWarned  map[string]time.Time    // token UID -> last token_expiring event

	dirMu sync.Mutex // one directory build at a time
	dir   *Directory // the latest build, under dirMu
}

// loginSource is what LDAP login events are coalesced by: a user's
// binds from one client address, through one provider and outpost.
type loginSource struct{ user, client, provider, outpost string }

type cachedProvider struct {
	version uint64
	p       store.LDAPProvider
	base    dn.DN
	err     error
}

type cachedOutpost struct {
	version uint64
	o       store.Outpost
	err     error
}

// maxTracked bounds the throttling maps; when full they start over (at
// worst an extra event).
const maxTracked = 100_000

// UseLimiter makes the LDAP binds share a failed-login limiter with the
// other doors. Without it the core makes its own on first use.
func (s *Credentials) UseLimiter(l *ratelimit.Limiter) {
	s.ldap.mu.Lock()
	s.ldap.limiter = l
	s.ldap.mu.Unlock()
}

func (s *LDAP) limiter() *ratelimit.Limiter {
	s.ldap.mu.Lock()
	defer s.ldap.mu.Unlock()
	if s.ldap.limiter == nil {
		s.ldap.limiter = ratelimit.New(s.clock, ratelimit.Defaults)
	}
	return s.ldap.limiter
}

// LDAPProviderConfig returns a provider and its parsed base DN for the
// doors, from a cache reloaded after any change.
func (s *LDAP) LDAPProviderConfig(ctx context.Context, name string) (store.LDAPProvider, dn.DN, error) {
	v := s.ChangeVersion()
	s.ldap.mu.Lock()
	c, ok := s.ldap.providers[name]
	s.ldap.mu.Unlock()
	if ok && c.version == v {
		return c.p, c.base, c.err
	}
	p, err := s.store.GetLDAPProvider(ctx, name)
	c = cachedProvider{version: v, p: p}
	switch {
	case errors.Is(err, store.ErrNotFound):
		c.err = &NotFoundError{Kind: "LDAP provider", Name: name}
	case err != nil:
		return store.LDAPProvider{}, nil, err // not cached: the next call retries
	default:
		if c.base, err = dn.Parse(p.BaseDN); err != nil {
			c.err = fmt.Errorf("LDAP provider %q has a bad base DN: %w", name, err)
		}
	}
	s.ldap.mu.Lock()
	if s.ldap.providers == nil || len(s.ldap.providers) > 1000 {
		s.ldap.providers = map[string]cachedProvider{}
	}
	s.ldap.providers[name] = c
	s.ldap.mu.Unlock()
	return c.p, c.base, c.err
}

// BindUsername returns the user a bind name names under a provider:
// cn=USER,ou=users,BASE, or USER@UPN_DOMAIN when the provider has one.
func BindUsername(p store.LDAPProvider, base dn.DN, name string) (string, bool) {
	if p.UPNDomain != "" && !strings.Contains(name, "=") {
		if i := strings.LastIndexByte(name, '@'); i > 0 && strings.EqualFold(name[i+1:], p.UPNDomain) {
			user := strings.ToLower(name[:i])
			return user, validName(user)
		}
		return "", false
	}
	// The form clients are configured with, exactly as gatehouse writes
	// it, needs no parsing (binds are the hot path).
	if rest, ok := strings.CutPrefix(name, "cn="); ok {
		if user, ok := strings.CutSuffix(rest, ",ou=users,"+p.BaseDN); ok && validName(user) {
			return user, true
		}
	}
	d, err := dn.Parse(name)
	if err != nil || len(d) != len(base)+2 || !d.Under(base) {
		return "", false
	}
	if t, v, ok := d[1].Single(); !ok || t != "ou" || dn.Fold(v) != "users" {
		return "", false
	}
	t, v, ok := d[0].Single()
	if !ok || t != "cn" {
		return "", false
	}
	user := strings.ToLower(v)
	return user, validName(user)
}

// validName is NameRule without the regular expression engine.
func validName(s string) bool {
	if len(s) == 0 || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && ((c != '.' && c != '_' && c != '-') || i == 0 || i == len(s)-1) {
			return false
		}
	}
	return true
}

// UserDN is the DN of a user's entry under a provider's base.
func UserDN(p store.LDAPProvider, username string) string {
	return "cn=" + dn.EscapeValue(username) + ",ou=users," + p.BaseDN
}

// LDAPBind decides a simple bind on a provider. It is the in-server
// door's entry; outposts come through OutpostBind. The error is only for
// failures of gatehouse itself; refused binds are outcomes.
func (s *LDAP) LDAPBind(ctx context.Context, provider string, in LDAPBindInput) (LDAPBindResult, error) {
	p, base, err := s.LDAP.LDAPProviderConfig(ctx, provider)
	var nf *NotFoundError
	if errors.As(err, &nf) {
		return LDAPBindResult{Outcome: LDAPBindUnavailable, Message: fmt.Sprintf("LDAP provider %q does not exist", provider)}, nil
	}
	if err != nil {
		return LDAPBindResult{}, err
	}
	switch {
	case in.Name == "" && in.Password == "":
		s.ldapBindFailed(ctx, p, in, &auth.Failure{Reason: "anonymous"})
		return LDAPBindResult{Outcome: LDAPBindAnonymous, Message: "anonymous binds are not allowed: bind with a name and an app password"}, nil
	case in.Password == "":
		// RFC 4513 5.1.2: a name without a password is an unauthenticated
		// bind, which servers should refuse rather than take as anonymous.
		s.ldapBindFailed(ctx, p, in, &auth.Failure{Reason: "empty_password", Username: in.Name})
		return LDAPBindResult{Outcome: LDAPBindUnauthenticated, Message: "unauthenticated binds (a name without a password) are not allowed"}, nil
	}
	username, named := BindUsername(p, base, in.Name)
	pres := Presented{Kind: KindOf(in.Password), Username: username, Secret: in.Password}
	opt := CheckOptions{EventContext: ldapEventContext(p, in), Refuse: []auth.Refusal{inSearchGroup(p, username)}, LDAPProvider: p.Name}
	if !named {
		// A name that is no user's entry of this provider: checked as an
		// unknown user (the same answer and cost), counted by the name
		// as given, and recorded as given.
		pres.Username, pres.Account = "", "name:"+truncate(strings.ToLower(in.Name), 256)
		opt.EventName, opt.EventReason = in.Name, "unknown_name"
	}
	door := DoorLDAP
	if in.outpost != "" {
		door = DoorOutpost
	}
	checked, err := s.Credentials.CheckCredential(ctx, door, pres, in.ClientIP, opt)
	var rl *RateLimitedError
	switch {
	case errors.As(err, &rl):
		secs := max(int(rl.RetryAfter.Round(time.Second)/time.Second), 1)
		return LDAPBindResult{Outcome: LDAPBindBusy, RetryAfterSeconds: secs,
			Message: fmt.Sprintf("too many failed binds from this address; try again in %ds", secs)}, nil
	case errors.Is(err, auth.ErrUnavailable):
		return LDAPBindResult{Outcome: LDAPBindUnavailable, Message: "credentials cannot be checked right now"}, nil
	case errors.Is(err, auth.ErrBadCredential):
		return LDAPBindResult{Outcome: LDAPBindInvalid, Message: "invalid credentials"}, nil
	case err != nil:
		return LDAPBindResult{}, err
	}
	pr, cred := checked.P, checked.Cred
	binding := "p:" + s.passwordFingerprint(pr.UID, pr.PasswordHash)
	if cred.Method == "app_password" {
		pk, err := auth.ParseKey(in.Password)
		if err != nil {
			return LDAPBindResult{}, err // it verified: cannot happen
		}
		binding = "k:" + pk.Lookup
	}
	s.ldapLoggedIn(ctx, p, in, pr, cred)
	sess := &LDAPSession{UserUID: pr.UID, Username: pr.Username, Type: pr.Type, DN: UserDN(p, pr.Username), Binding: binding,
		SearchFullDirectory: pr.CanOn(authz.LDAPSearchFullDirectory, ldapObj(p.Name))}
	if cred.Method == "app_password" {
		until, ok := s.authn.KeyValidUntil(strings.TrimPrefix(binding, "k:"))
		if !ok {
			until = s.now() // invalidated since: the door re-checks at once
		}
		if !until.IsZero() {
			sess.ValidUntil = &until
		}
	}
	return LDAPBindResult{Outcome: LDAPBindSuccess, Session: sess}, nil
}

// inSearchGroup is an LDAP provider's own refusal: with a search group,
// only its members bind (decided before the password, at its cost).
func inSearchGroup(prov store.LDAPProvider, username string) auth.Refusal {
	return func(p *authz.Principal) error {
		if prov.SearchGroup != "" && !slices.Contains(p.Groups, prov.SearchGroup) {
			return &auth.Failure{Reason: "not_in_search_group", Username: username}
		}
		return nil
	}
}

// passwordFingerprint names a password hash without revealing it: a
// session bound with a password ends when the password changes.
func (s *LDAP) passwordFingerprint(uid, hash string) string {
	sum := s.authn.Hasher().Sum("ldap-session\x00" + uid + "\x00" + hash)
	return hex.EncodeToString(sum[:16])
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

func ldapEventContext(p store.LDAPProvider, in LDAPBindInput) map[string]any {
	c := map[string]any{"method": "ldap", "provider": p.Name}
	if in.outpost != "" {
		c["outpost"] = in.outpost
	}
	return c
}

// ldapBindFailed writes the login_failed event of a bind refused before
// any credential was checked (anonymous, unauthenticated), as the one
// check writes the others.
func (s *LDAP) ldapBindFailed(ctx context.Context, p store.LDAPProvider, in LDAPBindInput, f *auth.Failure) {
	s.Credentials.loginFailed(ctx, in.ClientIP, "ldap", f, CheckOptions{EventContext: ldapEventContext(p, in)})
}

// ldapLoggedIn stamps last_login_at and writes a login event, at most
// once every LoginEventEvery per user and source (client address,
// provider, outpost): a bind from somewhere new is always recorded.
func (s *LDAP) ldapLoggedIn(ctx context.Context, p store.LDAPProvider, in LDAPBindInput, pr *authz.Principal, cred auth.Credential) {
	now := s.now()
	k := loginSource{user: pr.UID, client: in.ClientIP, provider: p.Name, outpost: in.outpost}
	s.ldap.mu.Lock()
	last, seen := s.ldap.lastLogin[k]
	due := !seen || now.Sub(last) >= LoginEventEvery
	if due {
		if s.ldap.lastLogin == nil || len(s.ldap.lastLogin) >= maxTracked {
			s.ldap.lastLogin = map[loginSource]time.Time{}
		}
		s.ldap.lastLogin[k] = now
	}
	s.ldap.mu.Unlock()
	if !due {
		return
	}
	a := Actor{P: pr, Cred: cred, ClientIP: in.ClientIP}
	err := s.write(ctx, func(q store.Queries, rec func(store.Event)) error {
		u, err := q.GetUserByUID(ctx, pr.UID)
		if err != nil {
			return err
		}
		u.LastLoginAt = &now
		if err := q.UpdateUser(ctx, u); err != nil {
			return err
		}
		c := ldapEventContext(p, in)
		c["credential"] = cred.Method
		rec(s.event(a, audit.ActionLogin, audit.Success, audit.Target{Kind: audit.KindUser, Name: u.Username}, c))
		return nil
	})
	s.authn.InvalidateProfile(pr.UID) // its cached profile shows the last login
	if err != nil {
		s.log.Warn("record LDAP login", "user", pr.Username, "err", err)
	}
}

// LDAPCheckSession tells whether a bound session may go on: its account
// still exists, is active and (when the provider has a search group) a
// member; its credential still exists, belongs to it and has not expired
// (app password), or the password has not changed. It reads the store,
// not the credential cache, so that a caller that saw ChangeVersion move
// sees the change itself. It also says whether the session may search
// the whole directory now.
func (s *LDAP) LDAPCheckSession(ctx context.Context, provider string, ref LDAPSessionRef) (LDAPSessionState, error) {
	p, _, err := s.LDAP.LDAPProviderConfig(ctx, provider)
	var nf *NotFoundError
	if errors.As(err, &nf) {
		return LDAPSessionState{}, nil
	}
	if err != nil {
		return LDAPSessionState{}, err
	}
	u, err := s.store.GetUserByUID(ctx, ref.UserUID)
	if errors.Is(err, store.ErrNotFound) {
		return LDAPSessionState{}, nil
	}
	if err != nil {
		return LDAPSessionState{}, err
	}
	if !u.IsActive {
		return LDAPSessionState{}, nil
	}
	g, err := s.store.UserGrants(ctx, u.UID)
	if err != nil {
		return LDAPSessionState{}, err
	}
	if p.SearchGroup != "" && !slices.Contains(g.Groups, p.SearchGroup) {
		return LDAPSessionState{}, nil
	}
	now := s.clock.Now()
	var until time.Time
	switch kind, v, _ := strings.Cut(ref.Binding, ":"); kind {
	case "k":
		k, t, err := s.store.LookupKey(ctx, v)
		if errors.Is(err, store.ErrNotFound) {
			return LDAPSessionState{}, nil
		}
		if err != nil {
			return LDAPSessionState{}, err
		}
		if t.UserUID != u.UID || t.Intent != store.IntentAppPassword {
			return LDAPSessionState{}, nil
		}
		if k.NotAfter != nil {
			until = *k.NotAfter
		}
		if t.Expiring && t.ExpiresAt != nil {
			exp := *t.ExpiresAt
			if _, mem, ok := s.authn.TokenUsage(t.UID); ok && t.Extended && mem.After(exp) {
				exp = mem
			}
			if until.IsZero() || exp.Before(until) {
				until = exp
			}
		}
		if !until.IsZero() && !now.Before(until) {
			return LDAPSessionState{}, nil
		}
	case "p":
		if u.PasswordHash == "" || subtle.ConstantTimeCompare([]byte(v), []byte(s.passwordFingerprint(u.UID, u.PasswordHash))) != 1 {
			return LDAPSessionState{}, nil
		}
		// Bound with the password before a second factor was turned on:
		// such a bind would be refused now, so the session ends too.
		if on, err := s.Sessions.HasTOTP(ctx, u.UID); err != nil || on {
			return LDAPSessionState{}, err
		}
	default:
		return LDAPSessionState{}, nil
	}
	pr := auth.BuildPrincipal(u, g)
	st := LDAPSessionState{Valid: true, SearchFullDirectory: pr.CanOn(authz.LDAPSearchFullDirectory, ldapObj(p.Name))}
	if !until.IsZero() {
		st.ValidUntil = &until
	}
	return st, nil
}

// --- the outpost endpoints -------------------------------------------------

// authorizeOutpost lets through only the registered outposts of a
// provider: their internal account, holding ldap.read on it. Binds and
// session checks are for outposts alone, because only from them is a
// reported client address believed.
func (s *LDAP) authorizeOutpost(ctx context.Context, a Actor, provider string) (store.Outpost, error) {
	if err := authenticated(a); err != nil {
		return store.Outpost{}, err
	}
	target := ldapProviderTarget(provider)
	if a.P.Type == store.TypeInternalServiceAccount && a.P.CanOn(authz.LDAPRead, ldapObj(provider)) {
		o, err := s.outpostOf(ctx, a.P.UID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return store.Outpost{}, err
		}
		if err == nil && o.ProviderName == provider {
			return o, nil
		}
	}
	s.denied(ctx, a, authz.LDAPRead+" (as an outpost of the provider)", target)
	return store.Outpost{}, &ForbiddenError{Permission: authz.LDAPRead, recorded: true,
		Detail: "you are not allowed to do this: it needs the token of an outpost of this LDAP provider"}
}

// outpostOf finds the outpost an account serves, from a cache reloaded
// after any change.
func (s *LDAP) outpostOf(ctx context.Context, userUID string) (store.Outpost, error) {
	v := s.ChangeVersion()
	s.ldap.mu.Lock()
	c, ok := s.ldap.outposts[userUID]
	s.ldap.mu.Unlock()
	if ok && c.version == v {
		return c.o, c.err
	}
	o, err := s.store.GetOutpostByUser(ctx, userUID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return o, err
	}
	s.ldap.mu.Lock()
	if s.ldap.outposts == nil || len(s.ldap.outposts) > 10_000 {
		s.ldap.outposts = map[string]cachedOutpost{}
	}
	s.ldap.outposts[userUID] = cachedOutpost{version: v, o: o, err: err}
	s.ldap.mu.Unlock()
	return o, err
}

// OutpostBind decides a bind an outpost forwarded (POST
// /ldap-providers/{name}/bind): the same checks, limits and events as the
// in-server door, with the client address the outpost reports.
func (s *LDAP) OutpostBind(ctx context.Context, a Actor, provider string, in LDAPBindInput) (LDAPBindResult, error) {
	o, err := s.authorizeOutpost(ctx, a, provider)
	if err != nil {
		return LDAPBindResult{}, err
	}
	var f fields
	if _, err := netip.ParseAddr(in.ClientIP); err != nil {
		f.add("client_ip", "must be the LDAP client's IP address")
	}
	f.maxLen("name", in.Name, dn.MaxLength)
	if len(in.Password) > auth.MaxPasswordLength {
		f.add("password", fmt.Sprintf("must be at most %d bytes", auth.MaxPasswordLength))
	}
	if err := f.err(); err != nil {
		return LDAPBindResult{}, err
	}
	in.outpost = o.Name
	return s.LDAP.LDAPBind(ctx, provider, in)
}

// LDAPSessionsInput is POST /ldap-providers/{name}/sessions.
type LDAPSessionsInput struct {
	Sessions []LDAPSessionRef `json:"sessions"`
}

// LDAPSessionsResult answers it, in the same order.
type LDAPSessionsResult struct {
	Sessions []LDAPSessionState `json:"sessions"`
}

// MaxSessionsPerCheck bounds one POST /ldap-providers/{name}/sessions.
const MaxSessionsPerCheck = 1000

// OutpostCheckSessions re-checks sessions bound on an outpost.
func (s *LDAP) OutpostCheckSessions(ctx context.Context, a Actor, provider string, in LDAPSessionsInput) (LDAPSessionsResult, error) {
	if _, err := s.authorizeOutpost(ctx, a, provider); err != nil {
		return LDAPSessionsResult{}, err
	}
	if len(in.Sessions) > MaxSessionsPerCheck {
		return LDAPSessionsResult{}, &ValidationError{[]FieldError{{"sessions", fmt.Sprintf("at most %d at once", MaxSessionsPerCheck)}}}
	}
	out := LDAPSessionsResult{Sessions: make([]LDAPSessionState, len(in.Sessions))}
	for i, ref := range in.Sessions {
		st, err := s.LDAP.LDAPCheckSession(ctx, provider, ref)
		if err != nil {
			return LDAPSessionsResult{}, err
		}
		out.Sessions[i] = st
	}
	return out, nil
}

// AuthorizeOutpost is authorizeOutpost for the front doors that answer
// outposts (the direct search of the API).
func (s *LDAP) AuthorizeOutpost(ctx context.Context, a Actor, provider string) error {
	_, err := s.authorizeOutpost(ctx, a, provider)
	return err
}

// warnDue reports whether a token_expiring warning for the token is due
// (once a day), and notes it.
func (st *ldapState) warnDue(tokenUID string, now time.Time) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if last, ok := st.tokenWarned[tokenUID]; ok && now.Sub(last) < 24*time.Hour {
		return false
	}
	if st.tokenWarned == nil || len(st.tokenWarned) >= maxTracked {
		st.tokenWarned = map[string]time.Time{}
	}
	st.tokenWarned[tokenUID] = now
	return true
}
