package core

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Admission: may this principal use this application? One place decides,
// for every door (forward-auth today; LDAP and the web interface later),
// from an in-memory copy of every application and its bindings, so that a
// warm decision costs no query and no allocation.

// Reasons of a Decision.
const (
	ReasonNoBindings    = "no_bindings"    // admitted: an application without bindings is open to every active user
	ReasonBindingPassed = "binding_passed" // admitted by its bindings
	ReasonNotBound      = "not_bound"      // refused: no binding passed (mode any)
	ReasonBindingFailed = "binding_failed" // refused: a binding did not pass (mode all)
	ReasonInactive      = "inactive"       // refused: the principal is disabled
	// ReasonKeyNotForApplication: refused, the key is bound to other
	// applications (its applications restriction).
	ReasonKeyNotForApplication = "key_not_for_application"
)

// Decision is Admit's answer.
type Decision struct {
	Admitted    bool
	Application string // the slug
	Reason      string // one of the Reason constants, for events and logs
}

// Admit decides whether the actor's principal may use the application
// with that slug, as authentik does: an application without bindings
// admits every active user; otherwise each binding passes when the
// principal matches it (is that user, or a member of that group) XOR the
// binding is negated, and the application admits when any binding passes
// (policy engine mode "any") or when all do ("all"). A refusal writes an
// authz_denied event. An unknown slug is a *NotFoundError; the store
// failing (cold cache) is returned as is: callers fail closed.
//
// The decision uses the principal as given, whose groups and active flag
// the authenticator keeps current, and the admission cache, which every
// change of applications and bindings drops, and so does every time the
// authenticator drops its principals (deleted users and groups take their
// bindings with them; changes heard from other instances sharing the
// database arrive that way too), so that a change applies to the very
// next request.
func (s *Applications) Admit(ctx context.Context, a Actor, slug string) (Decision, error) {
	if a.P == nil {
		return Decision{}, ErrUnauthenticated
	}
	app, err := s.admissionApp(ctx, slug)
	if err != nil {
		return Decision{}, err
	}
	d := Decision{Application: app.slug}
	switch {
	case !a.P.Active:
		d.Reason = ReasonInactive
	case !a.Cred.Restrictions.AllowsApplication(slug):
		// A key bound to other applications (least privilege): the
		// bindings are not even asked.
		d.Reason = ReasonKeyNotForApplication
	default:
		d.Admitted, d.Reason = app.admits(a.P)
	}
	if !d.Admitted {
		s.refused(ctx, a, app, d.Reason)
	}
	return d, nil
}

// refused records a refused admission in its own transaction.
func (s *Applications) refused(ctx context.Context, a Actor, app *admissionApp, reason string) {
	c := map[string]any{"reason": reason, "policy_engine_mode": app.mode}
	if a.Cred.Method != "" {
		c["method"] = a.Cred.Method
	}
	ev := s.event(a, audit.ActionAuthzDenied, audit.Failure, applicationTarget(app.slug), c)
	if err := s.record(ctx, ev); err != nil {
		s.log.Error("write authz_denied event", "application", app.slug, "err", err)
	}
}

// admissionApp is an application compiled for Admit.
type admissionApp struct {
	slug     string
	mode     string
	all      bool
	bindings []admissionBinding // in evaluation order
}

type admissionBinding struct {
	group  bool
	user   string // user UID, when !group
	name   string // the group's or user's name
	negate bool
}

func (b *admissionBinding) matches(p *authz.Principal) bool {
	if b.group {
		return slices.Contains(p.Groups, b.name)
	}
	return p.UID == b.user
}

func (app *admissionApp) admits(p *authz.Principal) (bool, string) {
	if len(app.bindings) == 0 {
		return true, ReasonNoBindings
	}
	for i := range app.bindings {
		b := &app.bindings[i]
		pass := b.matches(p) != b.negate
		switch {
		case app.all && !pass:
			return false, ReasonBindingFailed
		case !app.all && pass:
			return true, ReasonBindingPassed
		}
	}
	if app.all {
		return true, ReasonBindingPassed
	}
	return false, ReasonNotBound
}

// admissionCache holds the compiled applications. The zero value is ready.
type admissionCache struct {
	gen  atomic.Uint64 // bumped after every committed change of applications or bindings
	mu   sync.Mutex    // one rebuild at a time
	snap atomic.Pointer[admissionSnapshot]
}

type admissionSnapshot struct {
	gen  uint64 // admissionCache.gen when the load began
	apps map[string]*admissionApp
}

// applicationsChanged drops the admission cache after a committed change
// of applications or bindings, and when the authenticator drops its
// principals (New registers it).
func (s *Applications) applicationsChanged() { s.admission.gen.Add(1) }

// admissionApp is the application named slug in the current snapshot
// (NotFoundError when there is none).
func (s *Applications) admissionApp(ctx context.Context, slug string) (*admissionApp, error) {
	snap, err := s.admissionSnapshot(ctx)
	if err != nil {
		return nil, err
	}
	app, ok := snap.apps[slug]
	if !ok {
		return nil, &NotFoundError{Kind: "application", Name: slug}
	}
	return app, nil
}

// admissionSnapshot returns the current compiled applications, loading
// them when anything changed since the last load. The generation is read
// before loading, so a change committed during a load leaves the new
// snapshot already stale, and the next call loads again. A warm call
// costs two atomic loads: no lock is shared between requests.
//
// While the authenticator is bypassed (this instance may have missed
// changes made by another one sharing the database), nothing is cached:
// every decision reads the bindings, as every credential check does.
func (s *Applications) admissionSnapshot(ctx context.Context) (*admissionSnapshot, error) {
	c := &s.admission
	if s.authn.Bypassed() {
		return s.loadAdmission(ctx, c.gen.Load())
	}
	fresh := func() *admissionSnapshot {
		if snap := c.snap.Load(); snap != nil && snap.gen == c.gen.Load() {
			return snap
		}
		return nil
	}
	if snap := fresh(); snap != nil {
		return snap, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if snap := fresh(); snap != nil {
		return snap, nil // loaded by another request meanwhile
	}
	snap, err := s.loadAdmission(ctx, c.gen.Load())
	if err != nil {
		return nil, err
	}
	if !s.authn.Bypassed() {
		c.snap.Store(snap)
	}
	return snap, nil
}

// loadAdmission reads every application and binding from the store.
func (s *Applications) loadAdmission(ctx context.Context, gen uint64) (*admissionSnapshot, error) {
	snap := &admissionSnapshot{gen: gen}
	apps, err := s.store.ListApplications(ctx, store.ApplicationFilter{})
	if err != nil {
		return nil, fmt.Errorf("load applications: %w", err)
	}
	bindings, err := s.store.AllBindings(ctx)
	if err != nil {
		return nil, fmt.Errorf("load bindings: %w", err)
	}
	byUID := make(map[string]*admissionApp, len(apps))
	snap.apps = make(map[string]*admissionApp, len(apps))
	for _, a := range apps {
		app := &admissionApp{slug: a.Slug, mode: a.PolicyEngineMode, all: a.PolicyEngineMode == store.PolicyModeAll}
		byUID[a.UID] = app
		snap.apps[a.Slug] = app
	}
	for _, b := range bindings { // in evaluation order (order, kind, name)
		app := byUID[b.ApplicationUID]
		if app == nil {
			continue // created after the applications were read: the next load has it
		}
		ab := admissionBinding{group: b.Kind == store.BindingGroup, name: b.SubjectName, negate: b.Negate}
		if !ab.group {
			ab.user = b.SubjectUID
		}
		app.bindings = append(app.bindings, ab)
	}
	return snap, nil
}
