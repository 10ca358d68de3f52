// Package core is what every front door (REST API, CLI through the API,
// web interface, LDAP, forward-auth) calls: each operation authorizes the
// actor first, validates, then changes the store together with its audit
// event in one transaction, and finally drops whatever the credential
// cache held about what changed.
package core

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/clock"
	"github.com/gatehouse/gatehouse/internal/federation"
	"github.com/gatehouse/gatehouse/internal/store"
)

var (
	// ErrUnauthenticated: no valid credential (401).
	ErrUnauthenticated = errors.New("authentication required")
	// ErrForbidden: authenticated but not allowed (403).
	ErrForbidden = errors.New("forbidden")
)

// FieldError names one bad field of a request.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ValidationError lists every bad field of a request (400).
type ValidationError struct{ Errors []FieldError }

func (e *ValidationError) Error() string {
	if len(e.Errors) == 1 {
		return fmt.Sprintf("%s: %s", e.Errors[0].Field, e.Errors[0].Message)
	}
	return fmt.Sprintf("%d fields are invalid", len(e.Errors))
}

// ConflictError is a 409 with an explanation (name taken, managed object).
type ConflictError struct{ Msg string }

func (e *ConflictError) Error() string        { return e.Msg }
func (e *ConflictError) Is(target error) bool { return target == store.ErrConflict }

// NotFoundError is a 404 naming what is missing.
type NotFoundError struct{ Kind, Name string }

func (e *NotFoundError) Error() string        { return fmt.Sprintf("%s %q not found", e.Kind, e.Name) }
func (e *NotFoundError) Is(target error) bool { return target == store.ErrNotFound }

// Actor is who asks, as established by a front door.
type Actor struct {
	P        *authz.Principal // nil: anonymous
	Cred     auth.Credential
	ClientIP string
}

// Config holds the policy knobs of the core.
type Config struct {
	// TokenMaxTTL bounds every token's lifetime; 0 means no limit.
	TokenMaxTTL time.Duration
	// MaxTokensPerAccount bounds the unmanaged tokens and app passwords
	// one account holds; 0 means no limit.
	MaxTokensPerAccount int
	// EventRetention is how long audit events are kept; 0 keeps them.
	EventRetention time.Duration
	// OIDCAllowInsecureIssuers lets OIDC issuers' keys be fetched over
	// plain HTTP and from any address (tests only).
	OIDCAllowInsecureIssuers bool
}

// Service is the core.
type Service struct {
	store store.Store
	authn *auth.Authenticator
	clock clock.Clock
	log   *slog.Logger
	cfg   Config
	audit *audit.Log
	// admission caches applications and bindings for Admit (admission.go).
	admission admissionCache
	// changes counts committed writes, for the caches and long polls
	// outside the credential cache (changes.go).
	changes changeFeed
	// verifying admits one audit-chain check at a time.
	verifying chan struct{}
	// ldap holds the LDAP doors' shared state: limiter, caches (ldap_bind.go).
	ldap ldapState
	// totpOn caches who has a second factor (totp.go).
	totpOn totpCache
	// verifier checks OIDC ID tokens and caches issuers' keys
	// (federation.go).
	verifier keyedVerifier

	// The parts (below): what the doors call.
	Accounts     *Accounts
	Credentials  *Credentials
	Access       *Access
	Applications *Applications
	LDAP         *LDAP
	Sessions     *Sessions
	Events       *Events
	Federation   *Federation
}

// keyedVerifier is the ID token verifier and its per-issuer key cache.
type keyedVerifier interface {
	federation.Verifier
	Forget(issuerName string)
}

// New builds the core.
func New(st store.Store, authn *auth.Authenticator, c clock.Clock, log *slog.Logger, al *audit.Log, cfg Config) *Service {
	s := &Service{store: st, authn: authn, clock: c, log: log, cfg: cfg, audit: al, verifying: make(chan struct{}, 1)}
	s.Accounts, s.Credentials, s.Access = &Accounts{s}, &Credentials{s}, &Access{s}
	s.Applications, s.LDAP, s.Sessions, s.Events = &Applications{s}, &LDAP{s}, &Sessions{s}, &Events{s}
	s.Federation = &Federation{s}
	s.verifier = federation.New(federation.Options{Clock: c, Log: log, AllowInsecure: cfg.OIDCAllowInsecureIssuers})
	// Deleted users and groups take their bindings along (and changes
	// heard from other instances arrive this way): drop the admission
	// cache whenever principals are dropped (admission.go).
	authn.OnInvalidate(s.Applications.applicationsChanged)
	return s
}

// Authenticator exposes the credential checker.
func (s *Service) Authenticator() *auth.Authenticator { return s.authn }

// DatabaseDown reports, on an error path, whether the database fails to
// answer within a second: an unexpected error is then its absence (503,
// worth a retry), not a bug (500). Every door asks the same question.
func (s *Service) DatabaseDown(ctx context.Context) bool {
	// Not the request's own context: a client that went away must not
	// make a bug look like an outage.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	return s.store.Ping(ctx) != nil
}

// Clock is the service's clock.
func (s *Service) Clock() clock.Clock { return s.clock }

func (s *Service) now() time.Time { return s.clock.Now().Truncate(time.Microsecond) }

// authorize is the one gate: anonymous gets ErrUnauthenticated; a
// principal lacking perm (unscoped or on any of objs) gets a
// *ForbiddenError naming the permission it needs, and an authz_denied
// event.
func (s *Service) authorize(ctx context.Context, a Actor, perm string, target audit.Target, objs ...authz.Object) error {
	if a.P == nil || !a.P.Active {
		return ErrUnauthenticated
	}
	if a.P.CanOn(perm, objs...) {
		return nil
	}
	return s.forbid(ctx, a, perm, target, needs(perm, objs, ""))
}

// authorizeHidden is authorize for an object found in the database rather
// than named by the caller (an outpost's provider): the refusal says what
// the scope is (scope, such as "the outpost's LDAP provider") rather than
// the kind's plain noun.
func (s *Service) authorizeHidden(ctx context.Context, a Actor, perm string, target audit.Target, scope string, obj authz.Object) error {
	if a.P == nil || !a.P.Active {
		return ErrUnauthenticated
	}
	if a.P.CanOn(perm, obj) {
		return nil
	}
	return s.forbid(ctx, a, perm, target, needs(perm, []authz.Object{obj}, scope))
}

// forbid records the denial and returns its refusal, marked recorded so
// that s.write, should the refusal pass through it, does not record it
// again.
func (s *Service) forbid(ctx context.Context, a Actor, perm string, target audit.Target, need string) error {
	s.denied(ctx, a, perm, target)
	return &ForbiddenError{Permission: perm, Detail: "you are not allowed to do this: it needs " + need,
		actor: a, target: target, recorded: true}
}

// scopeNouns name the objects of each scope kind in refusals.
var scopeNouns = map[string]string{
	authz.KindGroup:       "the group",
	authz.KindLDAP:        "the LDAP provider",
	authz.KindApplication: "the application",
}

// needs says what would have been allowed: the permission, or the same
// scoped to the object, written as a role grants it. The object is not
// named: the answer is then the same for every object asked about, one
// that exists or not, so it cannot tell them apart.
func needs(perm string, objs []authz.Object, noun string) string {
	out := perm
	seen := map[string]bool{}
	for _, o := range objs {
		if seen[o.Kind] {
			continue
		}
		seen[o.Kind] = true
		n := noun
		if n == "" {
			n = scopeNouns[o.Kind]
		}
		out += ", or " + perm + " on " + n + " (" + perm + "@" + o.Kind + "/NAME)"
	}
	return out
}

// denied records an authorization denial in its own transaction.
func (s *Service) denied(ctx context.Context, a Actor, perm string, target audit.Target) {
	ev := s.event(a, audit.ActionAuthzDenied, audit.Failure, target, map[string]any{"permission": perm})
	if err := s.record(ctx, ev); err != nil {
		s.log.Error("write authz_denied event", "err", err)
	}
}

// record writes an event that goes with no change (a failure, a denial,
// a warning) in its own transaction.
func (s *Service) record(ctx context.Context, ev store.Event) error {
	err := s.store.InTx(ctx, func(q store.Queries) error {
		e := ev // InTx may run fn again
		if err := s.audit.Append(ctx, q, &e); err != nil {
			return err
		}
		ev = e
		return nil
	})
	if err == nil {
		s.audit.Committed(ev)
	}
	return err
}

// authenticated requires any active principal.
func authenticated(a Actor) error {
	if a.P == nil || !a.P.Active {
		return ErrUnauthenticated
	}
	return nil
}

func (s *Service) event(a Actor, action, outcome string, target audit.Target, ctx map[string]any) store.Event {
	ev := store.Event{Time: s.now(), Action: action, Outcome: outcome, ClientIP: a.ClientIP,
		TargetKind: target.Kind, TargetName: target.Name, Context: ctx}
	if a.P != nil {
		ev.ActorUsername, ev.ActorType = a.P.Username, a.P.Type
	}
	if a.Cred.TokenIdentifier != "" {
		if ev.Context == nil {
			ev.Context = map[string]any{}
		}
		ev.Context["via_token"] = a.Cred.TokenIdentifier
	}
	return ev
}

// write runs fn and the given events in one transaction: the change and
// its audit record commit together or not at all.
func (s *Service) write(ctx context.Context, fn func(q store.Queries, rec func(store.Event)) error) error {
	var events []store.Event
	err := s.store.InTx(ctx, func(q store.Queries) error {
		events = events[:0] // InTx may run fn again
		if err := fn(q, func(e store.Event) { events = append(events, e) }); err != nil {
			return err
		}
		for i := range events {
			if err := s.audit.Append(ctx, q, &events[i]); err != nil {
				return err
			}
		}
		// Other instances on the same database hear of the change when,
		// and only when, it commits.
		return q.PublishChange(ctx, s.authn.InstanceID())
	})
	if err == nil {
		s.audit.Committed(events...)
		s.changes.publish(events)
	}
	var fe *ForbiddenError
	if errors.As(err, &fe) && !fe.recorded {
		// A check inside the transaction refused: its denial is recorded
		// now that the transaction has rolled back (bound.go).
		fe.recorded = true
		s.denied(ctx, fe.actor, fe.Permission, fe.target)
	}
	return err
}

// NameRule is the naming rule of users, service accounts, groups, roles,
// LDAP providers and applications; scoped permissions name their objects
// by it (authz owns it for that reason).
var NameRule = authz.NameRule

const nameRuleText = "must be " + authz.NameRuleText

// newUID returns a random (version 4) UUID.
func newUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// fields accumulates validation errors.
type fields []FieldError

func (f *fields) add(field, msg string) { *f = append(*f, FieldError{field, msg}) }

func (f fields) err() error {
	if len(f) == 0 {
		return nil
	}
	return &ValidationError{Errors: f}
}

func (f *fields) name(field, v string) {
	if v == "" {
		f.add(field, "is required")
	} else if !NameRule.MatchString(v) {
		f.add(field, nameRuleText)
	}
}

func (f *fields) maxLen(field, v string, n int) {
	if len([]rune(v)) > n {
		f.add(field, fmt.Sprintf("must be at most %d characters", n))
	}
}

// notFound turns a store miss into a named 404.
func notFound(err error, kind, name string) error {
	if errors.Is(err, store.ErrNotFound) {
		return &NotFoundError{Kind: kind, Name: name}
	}
	return err
}

// taken turns a store conflict into a named 409.
func taken(err error, kind, name string) error {
	if errors.Is(err, store.ErrConflict) {
		return &ConflictError{Msg: fmt.Sprintf("%s %q already exists", kind, name)}
	}
	return err
}

// The parts of the core, one per part of the model. Each is a view of the
// Service it belongs to: it shares the store, the authenticator, the
// clock, the audit log and the one authorize-validate-write shape
// (authorize, then the fields, then write with its event), and reaches
// the other parts through it (a service account's first credential is
// the Credentials part's to issue).
type (
	// Accounts: users and service accounts, passwords, direct permissions.
	Accounts struct{ *Service }
	// Credentials: tokens and app passwords, the one credential check of
	// every door, introspection, the failed-login limiter.
	Credentials struct{ *Service }
	// Access: groups, memberships, roles and their assignments.
	Access struct{ *Service }
	// Applications: applications, their bindings, admission, the brand.
	Applications struct{ *Service }
	// LDAP: LDAP providers, their outposts, binds and directory views.
	LDAP struct{ *Service }
	// Sessions: web sessions and second factors.
	Sessions struct{ *Service }
	// Events: reading, verifying and pruning the audit log.
	Events struct{ *Service }
	// Federation: OIDC issuers, trust policies, the token exchange
	// (federation.go, exchange.go).
	Federation struct{ *Service }
)

// SetVerifier replaces the ID token verifier (tests: one with its own
// clock or HTTP client).
func (s *Service) SetVerifier(v interface {
	federation.Verifier
	Forget(string)
}) {
	s.verifier = v
}
