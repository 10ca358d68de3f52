package core

// One credential check for every door.
//
// Each front door (the REST API, the web sign-in, forward-auth, the
// in-server LDAP door, binds forwarded by outposts, and introspection)
// turns what it received into a Presented credential and asks
// CheckCredential, which answers a principal or a typed Refusal. The
// check decides everything a credential's fate depends on, the same way
// at every door: which kinds the door accepts, the second factor, the
// limiter, the login_failed event. The doors only turn the answer into
// their protocol (an HTTP status, an LDAP result code, a form message).
//
// The table below is the policy; README's "What each door accepts" is
// written from it (TestDoorPolicyTableInREADME keeps the two equal).
// Adding a door is one row; adding a credential kind is one column.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/ratelimit"
)

// Door is a front door that takes credentials.
type Door uint8

// The doors.
const (
	DoorAPI           Door = iota // the REST API: Bearer and Basic
	DoorWeb                       // the web interface's sign-in form
	DoorForwardAuth               // forward-auth for reverse proxies: Bearer and Basic
	DoorLDAP                      // the in-server LDAP door: simple binds
	DoorOutpost                   // simple binds forwarded by an outpost
	DoorIntrospection             // RFC 7662: a third party asks about a key
	DoorTokenExchange             // RFC 8693: an OIDC ID token traded for a service account's token
	numDoors
)

// CredentialKind is what was presented.
type CredentialKind uint8

// The kinds of credential.
const (
	KindAPIToken    CredentialKind = iota // a gat_ key alone (Bearer)
	KindAppPassword                       // a gap_ key with its owner's name (any key given as a password)
	KindPassword                          // a person's password with their name
	KindIDToken                           // an OIDC ID token (workload identity federation)
	numKinds
)

var kindNames = [numKinds]string{"API token", "app password", "person's password", "OIDC ID token"}

func (k CredentialKind) String() string { return kindNames[k] }

// SecondFactor is what a door does with a person's right password when
// that person turned two-factor authentication on.
type SecondFactor uint8

const (
	// SecondFactorRefused: the password alone is refused
	// (second_factor_required); such a person uses an API token or an app
	// password at this door.
	SecondFactorRefused SecondFactor = iota
	// SecondFactorAsked: the door asks for the code next (the web sign-in).
	SecondFactorAsked
)

// DoorPolicy is one row of the table.
type DoorPolicy struct {
	Name string
	// Accepts says which kinds open this door; any other kind is refused
	// (wrong_intent).
	Accepts [numKinds]bool
	// SecondFactor applies to KindPassword.
	SecondFactor SecondFactor
	// Method names the door and kind in login_failed events and metrics.
	Method [numKinds]string
	// Inspects: the check is not a use (no last use, no extension, no
	// limiter, no event); a third party asks about a key it was given.
	Inspects bool
}

// doorPolicies is the table. Limiter buckets are the kind's, the same at
// every door (limitBucket).
var doorPolicies = [numDoors]DoorPolicy{
	DoorAPI: {Name: "api", SecondFactor: SecondFactorRefused,
		Accepts: [numKinds]bool{KindAPIToken: true, KindPassword: true},
		Method:  [numKinds]string{"bearer", "basic", "basic", ""}},
	DoorWeb: {Name: "web", SecondFactor: SecondFactorAsked,
		Accepts: [numKinds]bool{KindPassword: true},
		Method:  [numKinds]string{"web", "web", "web", ""}},
	DoorForwardAuth: {Name: "forward_auth", SecondFactor: SecondFactorRefused,
		Accepts: [numKinds]bool{KindAPIToken: true, KindAppPassword: true},
		Method:  [numKinds]string{"forward_auth_bearer", "forward_auth_basic", "forward_auth_basic", ""}},
	DoorLDAP: {Name: "ldap", SecondFactor: SecondFactorRefused,
		Accepts: [numKinds]bool{KindAppPassword: true, KindPassword: true},
		Method:  [numKinds]string{"ldap", "ldap", "ldap", ""}},
	DoorOutpost: {Name: "outpost", SecondFactor: SecondFactorRefused,
		Accepts: [numKinds]bool{KindAppPassword: true, KindPassword: true},
		Method:  [numKinds]string{"ldap", "ldap", "ldap", ""}},
	DoorIntrospection: {Name: "introspection", Inspects: true,
		Accepts: [numKinds]bool{KindAPIToken: true, KindAppPassword: true},
		Method:  [numKinds]string{"introspection", "introspection", "introspection", ""}},
	// The exchange takes nothing but an ID token: a key or a password
	// there is refused like any kind a door does not accept.
	DoorTokenExchange: {Name: "token_exchange",
		Accepts: [numKinds]bool{KindIDToken: true},
		Method:  [numKinds]string{"", "", "", "token_exchange"}},
}

// Policy is a door's row of the table.
func Policy(d Door) DoorPolicy { return doorPolicies[d] }

// Doors lists every door, in the table's order.
func Doors() []Door {
	out := make([]Door, numDoors)
	for i := range out {
		out[i] = Door(i)
	}
	return out
}

// Kinds lists every credential kind, in the table's order.
func Kinds() []CredentialKind {
	return []CredentialKind{KindAPIToken, KindAppPassword, KindPassword, KindIDToken}
}

func (d Door) String() string { return doorPolicies[d].Name }

// LimitBucket says which limiter bucket failures of a kind count in: a key
// alone names no account, so bad keys count against the address only
// (and a key that verifies is never refused); a name with a secret counts
// against the account and address, and is refused unchecked past the
// limit.
func LimitBucket(k CredentialKind) string {
	if k == KindAPIToken || k == KindIDToken {
		return "address"
	}
	return "account and address"
}

// KindOf tells a secret given with a name: any gatehouse key (gat_ or
// gap_) is an app password presentation, which the key's own intent then
// confirms or refuses; anything else is a person's password.
func KindOf(secret string) CredentialKind {
	if auth.LooksLikeKey(secret) {
		return KindAppPassword
	}
	return KindPassword
}

// RefusalReason says why a credential did not open a door.
type RefusalReason string

// The reasons of a refusal.
const (
	RefusedBadCredential        RefusalReason = "bad_credential"
	RefusedExpired              RefusalReason = "expired"
	RefusedRevoked              RefusalReason = "revoked"
	RefusedDisabled             RefusalReason = "disabled"
	RefusedSecondFactorRequired RefusalReason = "second_factor_required"
	RefusedWrongIntent          RefusalReason = "wrong_intent"
	RefusedRateLimited          RefusalReason = "rate_limited"
	RefusedUnavailable          RefusalReason = "unavailable"
	// RefusedSourceNotAllowed: a key bound to networks (allowed_cidrs)
	// used from elsewhere, or to LDAP providers used at another.
	RefusedSourceNotAllowed RefusalReason = "source_not_allowed"
)

// The detailed reasons of a restricted key refused where it may not be
// used (least privilege); both are source_not_allowed to the doors.
const (
	ReasonSourceNotAllowed   auth.FailureReason = "source_not_allowed"
	ReasonProviderNotAllowed auth.FailureReason = "provider_not_allowed"
)

// Refusal is a credential check's "no". It is auth.ErrBadCredential for
// errors.Is unless the limiter refused (a *RateLimitedError) or the check
// could not be made (auth.ErrUnavailable).
type Refusal struct {
	Reason RefusalReason
	// Err is the detail behind the reason: an *auth.Failure, a
	// *RateLimitedError or the unavailable store's error.
	Err error
}

func (r *Refusal) Error() string { return "credential refused: " + string(r.Reason) }

// Unwrap exposes the detail to errors.Is and errors.As.
func (r *Refusal) Unwrap() error { return r.Err }

// Presented is a credential as a door received it.
type Presented struct {
	Kind CredentialKind
	// Username is the name given with a password or an app password.
	Username string
	// Account is the limiter's account when it differs from Username (an
	// LDAP bind name that names no user of the provider).
	Account string
	Secret  string
}

// CheckOptions is what a door adds to the check.
type CheckOptions struct {
	// Refuse adds the door's own reasons to refuse an account (an LDAP
	// provider's search group), decided as the built-in ones are: before
	// the password, at its cost.
	Refuse []auth.Refusal
	// EventContext is merged into the door's login_failed events (the
	// LDAP provider, the outpost).
	EventContext map[string]any
	// EventName and EventReason replace the presented name and the
	// failure's reason in events (an LDAP bind name that names no user of
	// the provider is recorded as given, reason unknown_name).
	EventName   string
	EventReason auth.FailureReason
	// LDAPProvider is the provider a bind is for: a key bound to other
	// providers does not bind here.
	LDAPProvider string
}

// Checked is a credential that opened the door.
type Checked struct {
	P    *authz.Principal
	Cred auth.Credential
	// SecondFactorDue: the password was right and the door asks for the
	// code next (SecondFactorAsked); the failures counted against the
	// account are cleared only once the code is right.
	SecondFactorDue bool
	// Key describes the key, for doors that inspect (introspection).
	Key auth.KeyInfo
	// Exchange is the trust policy an ID token matched (the exchange
	// door), with what the token said.
	Exchange *exchangeMatch
}

// CheckCredential is the one credential check of every door.
func (s *Credentials) CheckCredential(ctx context.Context, door Door, in Presented, clientIP string, opt CheckOptions) (Checked, error) {
	pol := &doorPolicies[door]
	method := pol.Method[in.Kind]
	if pol.Inspects {
		return s.inspect(ctx, pol, in)
	}
	account := in.Account
	addressOnly := LimitBucket(in.Kind) == "address"
	if account == "" && !addressOnly {
		account = in.Username
	}
	if in.Kind == KindIDToken {
		// Verifying an ID token may fetch its issuer's keys: past the
		// limit, an address is refused before anything is checked.
		if d := s.LDAP.limiter().Check("", clientIP); !d.Allowed {
			return Checked{}, s.limited(ctx, door, method, "", clientIP, &RateLimitedError{RetryAfter: d.RetryAfter}, opt)
		}
	}
	if !addressOnly {
		// A name with a secret: refused unchecked past the limit (no
		// argon2id run, no lookup), slowed when the account is under
		// attack from everywhere.
		if err := s.admitLogin(ctx, account, clientIP); err != nil {
			return Checked{}, s.limited(ctx, door, method, account, clientIP, err, opt)
		}
	}
	out, err := s.verify(ctx, pol, in, clientIP, opt)
	if err == nil {
		// A complete sign-in clears the account's failures; a key alone
		// names no account, and clears nothing (one good key must not
		// reset an address's count of bad ones).
		if !addressOnly && !out.SecondFactorDue {
			s.LDAP.limiter().Success(account, clientIP)
		}
		return out, nil
	}
	if errors.Is(err, auth.ErrUnavailable) {
		return Checked{}, &Refusal{Reason: RefusedUnavailable, Err: err}
	}
	var f *auth.Failure
	if !errors.As(err, &f) {
		return Checked{}, err
	}
	lim := s.LDAP.limiter()
	if in.Kind == KindAPIToken {
		// Guessing 131 random bits is pointless, but each failure is an
		// event, and events are writes: past the limit, bad keys are
		// answered without one. A key that verifies is never refused.
		if d := lim.Check("", clientIP); !d.Allowed {
			return Checked{}, s.limited(ctx, door, method, "", clientIP, &RateLimitedError{RetryAfter: d.RetryAfter}, opt)
		}
	}
	lim.Failure(account, clientIP)
	if in.Kind == KindIDToken {
		s.Federation.exchangeDenied(ctx, clientIP, err)
		return Checked{}, &Refusal{Reason: refusalOf(f.Reason), Err: err}
	}
	s.loginFailed(ctx, clientIP, method, f, opt)
	return Checked{}, &Refusal{Reason: refusalOf(f.Reason), Err: f}
}

// verify checks the credential itself against the door's row.
func (s *Credentials) verify(ctx context.Context, pol *DoorPolicy, in Presented, clientIP string, opt CheckOptions) (Checked, error) {
	if !pol.Accepts[in.Kind] {
		return Checked{}, &auth.Failure{Reason: auth.ReasonIntent, Username: in.Username}
	}
	switch in.Kind {
	case KindAPIToken:
		p, c, err := s.authn.VerifyAPIKey(ctx, in.Secret)
		if err != nil {
			return Checked{}, err
		}
		return Checked{P: p, Cred: c}, s.refuseKey(p, c, clientIP, opt)
	case KindAppPassword:
		p, c, err := s.authn.VerifyAppPassword(ctx, in.Username, in.Secret)
		if err != nil {
			return Checked{}, err
		}
		return Checked{P: p, Cred: c}, s.refuseKey(p, c, clientIP, opt)
	case KindIDToken:
		return s.Federation.verifyIDToken(ctx, in, clientIP)
	}
	if pol.SecondFactor == SecondFactorRefused {
		p, err := s.Sessions.VerifyPasswordAlone(ctx, in.Username, in.Secret, opt.Refuse...)
		if err != nil {
			return Checked{}, err
		}
		return Checked{P: p, Cred: auth.Credential{Method: "password"}}, nil
	}
	p, err := s.authn.VerifyPassword(ctx, in.Username, in.Secret, opt.Refuse...)
	if err != nil {
		return Checked{}, err
	}
	due, err := s.Sessions.secondFactorOn(ctx, p.UID)
	if err != nil {
		return Checked{}, err
	}
	return Checked{P: p, Cred: auth.Credential{Method: "password"}, SecondFactorDue: due}, nil
}

// refuseKey applies a key's restrictions where it is used (the client's
// network, the LDAP provider) and the door's own refusals to its owner (a
// key costs no argon2id run, so there is no cost to equalise). A key used
// from where it may not be is refused like a bad one.
func (s *Credentials) refuseKey(p *authz.Principal, c auth.Credential, clientIP string, opt CheckOptions) error {
	if r := c.Restrictions; r != nil {
		if !r.AllowsAddress(clientIP) {
			return &auth.Failure{Reason: ReasonSourceNotAllowed, Username: p.Username, Identifier: c.TokenIdentifier}
		}
		if opt.LDAPProvider != "" && !r.AllowsLDAPProvider(opt.LDAPProvider) {
			return &auth.Failure{Reason: ReasonProviderNotAllowed, Username: p.Username, Identifier: c.TokenIdentifier}
		}
	}
	for _, r := range opt.Refuse {
		if err := r(p); err != nil {
			return err
		}
	}
	return nil
}

// inspect is the check of a door that asks about a key without using it.
func (s *Credentials) inspect(ctx context.Context, pol *DoorPolicy, in Presented) (Checked, error) {
	p, info, err := s.authn.Inspect(ctx, in.Secret)
	if err == nil && !pol.Accepts[kindOfIntent(info.Intent)] {
		err = &auth.Failure{Reason: auth.ReasonIntent}
	}
	if err == nil {
		return Checked{P: p, Key: info}, nil
	}
	if errors.Is(err, auth.ErrUnavailable) {
		return Checked{}, &Refusal{Reason: RefusedUnavailable, Err: err}
	}
	var f *auth.Failure
	if errors.As(err, &f) {
		return Checked{}, &Refusal{Reason: refusalOf(f.Reason), Err: f}
	}
	return Checked{}, err
}

func kindOfIntent(intent string) CredentialKind {
	if intent == "app_password" {
		return KindAppPassword
	}
	return KindAPIToken
}

// refusalOf maps the authenticator's detailed reason (kept in events) to
// the typed reason doors act on.
func refusalOf(r auth.FailureReason) RefusalReason {
	switch r {
	case auth.ReasonExpired:
		return RefusedExpired
	case auth.ReasonRevoked:
		return RefusedRevoked
	case auth.ReasonInactive:
		return RefusedDisabled
	case auth.ReasonIntent:
		return RefusedWrongIntent
	case ReasonSecondFactorRequired:
		return RefusedSecondFactorRequired
	case ReasonSourceNotAllowed, ReasonProviderNotAllowed:
		return RefusedSourceNotAllowed
	}
	return RefusedBadCredential
}

// loginFailed writes the login_failed event of a refused credential, the
// same for every door: the method, the detailed reason, the token's
// identifier when known, and the name given, bounded (Untrusted).
func (s *Credentials) loginFailed(ctx context.Context, clientIP, method string, f *auth.Failure, opt CheckOptions) {
	reason := f.Reason
	if opt.EventReason != "" {
		reason = opt.EventReason
	}
	c := map[string]any{"method": method, "reason": string(reason)}
	for k, v := range opt.EventContext {
		c[k] = v
	}
	if f.Identifier != "" {
		c["token"] = f.Identifier
	}
	name := f.Username
	if opt.EventName != "" {
		name = opt.EventName
	}
	s.recordLoginFailed(ctx, clientIP, Untrusted(name), c)
}

func (s *Credentials) recordLoginFailed(ctx context.Context, clientIP, name string, c map[string]any) {
	ev := s.event(Actor{ClientIP: clientIP}, audit.ActionLoginFailed, audit.Failure, audit.Target{Kind: audit.KindUser, Name: name}, c)
	if name != "" {
		ev.ActorUsername = name
	}
	if err := s.record(ctx, ev); err != nil {
		s.log.Error("write login_failed event", "err", err)
	}
}

// limited answers an attempt the limiter refused: a Refusal carrying the
// *RateLimitedError, and at most one login_failed event (reason
// rate_limited) per account, address and door a window, so that a flood
// is seen without being written a thousand times.
func (s *Credentials) limited(ctx context.Context, door Door, method, account, clientIP string, err error, opt CheckOptions) error {
	var rl *RateLimitedError
	if !errors.As(err, &rl) {
		return err // the request was cancelled while slowed
	}
	if s.limitedEventDue(door, account, clientIP) {
		name := account
		if opt.EventName != "" {
			name = opt.EventName
		}
		s.log.Info("credential refused by the rate limit", "door", door.String(), "account", Untrusted(name), "client", clientIP,
			"retry_after", rl.RetryAfter.Round(time.Second).String())
		c := map[string]any{"method": method, "reason": string(RefusedRateLimited), "retry_after": rl.RetryAfter.Round(time.Second).String()}
		for k, v := range opt.EventContext {
			c[k] = v
		}
		if door == DoorTokenExchange {
			s.Federation.recordDenied(ctx, clientIP, audit.Target{Kind: audit.KindOIDCIssuer}, c)
		} else {
			s.recordLoginFailed(ctx, clientIP, Untrusted(strings.TrimPrefix(name, "name:")), c)
		}
	}
	return &Refusal{Reason: RefusedRateLimited, Err: rl}
}

// limitedEventDue reports whether a rate_limited event is due for this
// door, account and address (one a limiter window).
func (s *Credentials) limitedEventDue(door Door, account, clientIP string) bool {
	now := s.clock.Now()
	k := [2]string{door.String() + "\x00" + account, clientIP}
	s.ldap.mu.Lock()
	defer s.ldap.mu.Unlock()
	last, seen := s.ldap.limitedEvent[k]
	if seen && now.Sub(last) < ratelimit.Defaults.Window {
		return false
	}
	if s.ldap.limitedEvent == nil || len(s.ldap.limitedEvent) >= maxTracked {
		s.ldap.limitedEvent = map[[2]string]time.Time{}
	}
	s.ldap.limitedEvent[k] = now
	return true
}

// DoorTable renders the policy table as the README shows it.
func DoorTable() string {
	var b strings.Builder
	b.WriteString("| door | API token | app password | person's password | OIDC ID token | with two-factor on | event `method` |\n")
	b.WriteString("|---|---|---|---|---|---|---|\n")
	yes := func(ok bool) string {
		if ok {
			return "yes"
		}
		return "no (`wrong_intent`)"
	}
	for _, d := range Doors() {
		p := doorPolicies[d]
		second := "—"
		if p.Accepts[KindPassword] {
			second = "refused (`second_factor_required`)"
			if p.SecondFactor == SecondFactorAsked {
				second = "the code is asked next"
			}
		}
		var methods []string
		for _, k := range Kinds() {
			if p.Accepts[k] && (len(methods) == 0 || methods[len(methods)-1] != "`"+p.Method[k]+"`") {
				methods = append(methods, "`"+p.Method[k]+"`")
			}
		}
		if p.Inspects {
			second = "—"
			methods = []string{"none: not a use"}
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", p.Name, yes(p.Accepts[KindAPIToken]), yes(p.Accepts[KindAppPassword]),
			yes(p.Accepts[KindPassword]), yes(p.Accepts[KindIDToken]), second, strings.Join(methods, ", "))
	}
	return b.String()
}
