package core

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Web session policy. The idle timeout ends a session nobody used for a
// working day; the absolute lifetime ends every session within a week,
// however busy, as Grafana and authentik do by default.
const (
	SessionIdleTimeout = 12 * time.Hour
	SessionLifetime    = 7 * 24 * time.Hour
	// MFAPendingLifetime: how long a correct password waits for its code.
	MFAPendingLifetime = 5 * time.Minute
	// MaxMFAFailures wrong codes end a pending session: the password must
	// be given again (and counts against the rate limit again).
	MaxMFAFailures = 5
	// sessionTouchEvery bounds how often a request writes last_seen_at:
	// the idle timeout is hours, a minute of slack costs nothing.
	sessionTouchEvery = time.Minute
	sessionIDBytes    = 32 // 256 random bits
	userAgentMax      = 256
)

// Why a session ended, for the message on the login page.
const (
	SessionExpired         = "expired"          // absolute lifetime or idle timeout reached
	SessionPasswordChanged = "password_changed" // the user's password changed since sign-in
	SessionDisabled        = "disabled"         // the user is disabled or gone
	SessionMFAFailed       = "mfa_failed"       // too many wrong codes
)

// SessionEndedError: the cookie named a session that existed but is over.
type SessionEndedError struct{ Reason string }

func (e *SessionEndedError) Error() string { return "session ended: " + e.Reason }

// Is makes an ended session an authentication failure for callers that
// do not care why.
func (e *SessionEndedError) Is(target error) bool { return target == ErrUnauthenticated }

// WebSession is a live session of the web interface.
type WebSession struct {
	// ID is the cookie value: set only by the call that creates the
	// session, never stored.
	ID         string
	IDHash     []byte
	Principal  *authz.Principal
	MFAPending bool
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
	// CSRFToken is derived from the session ID (see csrfToken).
	CSRFToken string
}

// Actor is the session's principal as the actor of core operations.
func (w WebSession) Actor(clientIP string) Actor {
	return Actor{P: w.Principal, Cred: auth.Credential{Method: "session"}, ClientIP: clientIP}
}

// hashSessionID is what the store keeps of a session ID. A plain SHA-256
// suffices: the ID is 256 random bits, nothing to brute-force.
func hashSessionID(id []byte) []byte {
	h := sha256.Sum256(id)
	return h[:]
}

// csrfToken derives the session's anti-forgery token: HMAC-SHA256 keyed
// with the session ID. It is as unguessable as the ID, differs from it (a
// page holding the token does not hold the cookie's value), needs no
// storage, and changes with every new session.
func csrfToken(id []byte) string {
	m := hmac.New(sha256.New, id)
	m.Write([]byte("gatehouse csrf token v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// passwordStamp is a keyed fingerprint of a password hash: every password
// change (a new salt) gives a new one. Keyed, so that the sessions table
// says nothing about the hash.
func (s *Sessions) passwordStamp(passwordHash string) []byte {
	return s.authn.Hasher().Sum("session-stamp\x00" + passwordHash)
}

// SessionStage is how far a sign-in got when its session opens.
type SessionStage uint8

// The stages of a sign-in.
const (
	// SecondFactorDue: the password was right, the code is still owed;
	// the session opens nothing but the code page, for a few minutes.
	SecondFactorDue SessionStage = iota
	// SignedIn: every factor was verified (FinishLogin).
	SignedIn
)

// StartSession opens a session for a principal whose password (and, at
// SignedIn, second factor) the caller has verified. Service accounts
// never get one: they do not use the interface.
func (s *Sessions) StartSession(ctx context.Context, p *authz.Principal, clientIP, userAgent string, stage SessionStage) (WebSession, error) {
	mfaPending := stage == SecondFactorDue
	if p == nil || !p.Active {
		return WebSession{}, ErrUnauthenticated
	}
	if p.IsServiceAccount() {
		return WebSession{}, ErrForbidden
	}
	raw := make([]byte, sessionIDBytes)
	if _, err := rand.Read(raw); err != nil {
		return WebSession{}, fmt.Errorf("generate session id: %w", err)
	}
	now := s.now()
	life := SessionLifetime
	if mfaPending {
		life = MFAPendingLifetime
	}
	if len(userAgent) > userAgentMax {
		userAgent = userAgent[:userAgentMax]
	}
	row := store.Session{IDHash: hashSessionID(raw), UserUID: p.UID, PasswordStamp: s.passwordStamp(p.PasswordHash),
		MFAPending: mfaPending, ClientIP: clientIP, UserAgent: userAgent,
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(life)}
	if err := s.store.CreateSession(ctx, row); err != nil {
		return WebSession{}, notFound(err, "user", p.Username)
	}
	return WebSession{ID: base64.RawURLEncoding.EncodeToString(raw), IDHash: row.IDHash, Principal: p,
		MFAPending: mfaPending, CreatedAt: now, LastSeenAt: now, ExpiresAt: row.ExpiresAt, CSRFToken: csrfToken(raw)}, nil
}

// FinishLogin opens a full session once every factor was verified and
// records the login (last_login_at and a login event). If the record
// cannot be written the session is removed again: no sign-in without its
// event.
func (s *Sessions) FinishLogin(ctx context.Context, p *authz.Principal, clientIP, userAgent, method string) (WebSession, error) {
	w, err := s.Sessions.StartSession(ctx, p, clientIP, userAgent, SignedIn)
	if err != nil {
		return WebSession{}, err
	}
	if err := s.Accounts.RecordLogin(ctx, w.Actor(clientIP), method); err != nil {
		if derr := s.store.DeleteSession(ctx, w.IDHash); derr != nil {
			s.log.Error("remove session whose login event failed", "err", derr)
		}
		return WebSession{}, err
	}
	return w, nil
}

// ResolveSession turns a cookie value into its session and current
// principal. It checks, on every request and against the core's clock:
// the absolute lifetime, the idle timeout, that the user is still active
// and not a service account, and that the password has not changed since
// the session began. An ended session is deleted and reported as a
// *SessionEndedError; an unknown or malformed ID is ErrUnauthenticated.
func (s *Sessions) ResolveSession(ctx context.Context, id string) (WebSession, error) {
	raw, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil || len(raw) != sessionIDBytes {
		return WebSession{}, ErrUnauthenticated
	}
	h := hashSessionID(raw)
	row, err := s.store.GetSession(ctx, h)
	if errors.Is(err, store.ErrNotFound) {
		return WebSession{}, ErrUnauthenticated
	}
	if err != nil {
		return WebSession{}, err
	}
	now := s.now()
	end := func(reason string) (WebSession, error) {
		if err := s.store.DeleteSession(ctx, h); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.log.Warn("delete ended session", "err", err)
		}
		return WebSession{}, &SessionEndedError{Reason: reason}
	}
	if !now.Before(row.ExpiresAt) || !now.Before(row.LastSeenAt.Add(SessionIdleTimeout)) {
		return end(SessionExpired)
	}
	p, err := s.authn.PrincipalByUID(ctx, row.UserUID)
	if errors.Is(err, store.ErrNotFound) {
		return end(SessionDisabled)
	}
	if err != nil {
		return WebSession{}, err
	}
	if !p.Active || p.IsServiceAccount() {
		return end(SessionDisabled)
	}
	if !hmac.Equal(row.PasswordStamp, s.passwordStamp(p.PasswordHash)) {
		return end(SessionPasswordChanged)
	}
	if now.Sub(row.LastSeenAt) >= sessionTouchEvery {
		if err := s.store.TouchSession(ctx, h, now); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.log.Warn("touch session", "err", err)
		} else {
			row.LastSeenAt = now
		}
	}
	return WebSession{IDHash: h, Principal: p, MFAPending: row.MFAPending, CreatedAt: row.CreatedAt,
		LastSeenAt: row.LastSeenAt, ExpiresAt: row.ExpiresAt, CSRFToken: csrfToken(raw)}, nil
}

// EndSession signs a session out (logout), with a logout event.
func (s *Sessions) EndSession(ctx context.Context, a Actor, w WebSession) error {
	err := s.write(ctx, func(q store.Queries, rec func(store.Event)) error {
		if err := q.DeleteSession(ctx, w.IDHash); err != nil {
			return err
		}
		rec(s.event(a, audit.ActionLogout, audit.Success, audit.Target{Kind: audit.KindUser, Name: w.Principal.Username}, nil))
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil // already gone: signed out either way
	}
	return err
}

// SessionView is one of a user's sessions as the profile lists it.
type SessionView struct {
	Current    bool
	ClientIP   string
	UserAgent  string
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
}

// ListOwnSessions lists the actor's own signed-in sessions; current is
// the hash of the one asking.
func (s *Sessions) ListOwnSessions(ctx context.Context, a Actor, current []byte) ([]SessionView, error) {
	if err := authenticated(a); err != nil {
		return nil, err
	}
	return s.liveSessions(ctx, a.P.UID, current)
}

// liveSessions lists a user's signed-in sessions that are still alive;
// current is the hash of the one asking (nil: none).
func (s *Sessions) liveSessions(ctx context.Context, uid string, current []byte) ([]SessionView, error) {
	rows, err := s.store.ListUserSessions(ctx, uid)
	if err != nil {
		return nil, err
	}
	now := s.now()
	out := make([]SessionView, 0, len(rows))
	for _, r := range rows {
		if r.MFAPending || !now.Before(r.ExpiresAt) || !now.Before(r.LastSeenAt.Add(SessionIdleTimeout)) {
			continue
		}
		out = append(out, SessionView{Current: hmac.Equal(r.IDHash, current), ClientIP: r.ClientIP, UserAgent: r.UserAgent,
			CreatedAt: r.CreatedAt, LastSeenAt: r.LastSeenAt, ExpiresAt: r.ExpiresAt})
	}
	return out, nil
}

// EndOtherSessions signs the actor out everywhere but the session keep.
func (s *Sessions) EndOtherSessions(ctx context.Context, a Actor, keep []byte) (int, error) {
	if err := authenticated(a); err != nil {
		return 0, err
	}
	var n int
	err := s.write(ctx, func(q store.Queries, rec func(store.Event)) error {
		var err error
		if n, err = q.DeleteUserSessions(ctx, a.P.UID, keep); err != nil {
			return err
		}
		if n > 0 {
			rec(s.event(a, audit.ActionSessionsRevoked, audit.Success, audit.Target{Kind: audit.KindUser, Name: a.P.Username},
				map[string]any{"sessions": n}))
		}
		return nil
	})
	return n, err
}

// ChangeOwnPassword changes the actor's password after checking the
// current one, which ends all of the user's sessions (SetPassword), then
// opens a fresh session for the browser that asked, so that it stays
// signed in while every other one is out.
func (s *Sessions) ChangeOwnPassword(ctx context.Context, a Actor, current, next, clientIP, userAgent string) (WebSession, error) {
	if err := authenticated(a); err != nil {
		return WebSession{}, err
	}
	var f fields
	if current == "" {
		f.add("current_password", "is required")
	}
	if next != "" {
		validatePassword(&f, "new_password", next)
	} else {
		f.add("new_password", "is required")
	}
	if err := f.err(); err != nil {
		return WebSession{}, err
	}
	if err := s.Credentials.recheckPassword(ctx, a, current, "password_change", "current_password"); err != nil {
		return WebSession{}, err
	}
	if err := s.Accounts.SetPassword(ctx, a, a.P.Username, next); err != nil {
		return WebSession{}, err
	}
	p, err := s.authn.PrincipalByUID(ctx, a.P.UID)
	if err != nil {
		return WebSession{}, err
	}
	return s.Sessions.FinishLogin(ctx, p, clientIP, userAgent, "password_change")
}

// cleanupSessions deletes sessions past their lifetime or idle timeout.
// They are already refused when presented; this only reclaims the rows.
func (s *Sessions) cleanupSessions(ctx context.Context) error {
	now := s.now()
	_, err := s.store.DeleteStaleSessions(ctx, now, now.Add(-SessionIdleTimeout))
	return err
}
