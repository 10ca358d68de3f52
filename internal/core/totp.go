package core

import (
	"context"
	"errors"
	"sync"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/store"
)

// RecoveryCodeCount is how many single-use recovery codes a user gets.
const RecoveryCodeCount = 10

// Failure reasons of second-factor checks, for login_failed events.
const (
	ReasonTOTPMismatch    auth.FailureReason = "totp_mismatch"
	ReasonTOTPReplay      auth.FailureReason = "totp_replay"
	ReasonRecoveryUnknown auth.FailureReason = "recovery_code_unknown"
	// ReasonSecondFactorRequired: a right password on a door that cannot
	// ask for the second factor (HTTP Basic on the API, LDAP binds).
	ReasonSecondFactorRequired auth.FailureReason = "second_factor_required"
)

// sealer encrypts TOTP secrets at rest; the owner's UID is the associated
// data, so a sealed secret copied to another user's row does not open.
func (s *Sessions) totpSealer() *auth.Sealer { return auth.NewSealer(s.authn.Hasher(), "totp-secret") }

func (s *Sessions) recoveryHash(userUID, code string) []byte {
	return s.authn.Hasher().Sum("recovery-code\x00" + userUID + "\x00" + auth.NormalizeRecoveryCode(code))
}

// TOTPStatus is what the profile shows about the second factor.
type TOTPStatus struct {
	Enabled           bool // confirmed: asked at every sign-in
	Pending           bool // enrolment started, not confirmed
	RecoveryCodesLeft int
	Allowed           bool // humans only: service accounts cannot enrol
}

// GetTOTPStatus describes the actor's own second factor.
func (s *Sessions) GetTOTPStatus(ctx context.Context, a Actor) (TOTPStatus, error) {
	if err := authenticated(a); err != nil {
		return TOTPStatus{}, err
	}
	st := TOTPStatus{Allowed: !a.P.IsServiceAccount()}
	t, err := s.store.GetTOTP(ctx, a.P.UID)
	if errors.Is(err, store.ErrNotFound) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	st.Enabled, st.Pending = t.Confirmed, !t.Confirmed
	if t.Confirmed {
		if st.RecoveryCodesLeft, err = s.store.CountRecoveryCodes(ctx, a.P.UID); err != nil {
			return st, err
		}
	}
	return st, nil
}

// HasTOTP reports whether a user must give a code at sign-in.
func (s *Sessions) HasTOTP(ctx context.Context, userUID string) (bool, error) {
	t, err := s.store.GetTOTP(ctx, userUID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil && t.Confirmed, err
}

// VerifyPasswordAlone checks a person's password on a door that cannot
// ask for the second factor (HTTP Basic on the API, LDAP binds): the one
// rule for them is that a person who turned two-factor on is refused
// there (reason second_factor_required), with the same answer and cost as
// a wrong password; they use an API token or an app password instead.
// refuse adds the door's own reasons (an LDAP provider's search group).
func (s *Sessions) VerifyPasswordAlone(ctx context.Context, username, password string, refuse ...auth.Refusal) (*authz.Principal, error) {
	return s.authn.VerifyPassword(ctx, username, password, append(refuse, func(p *authz.Principal) error {
		on, err := s.secondFactorOn(ctx, p.UID)
		if err != nil {
			return err
		}
		if on {
			return &auth.Failure{Reason: ReasonSecondFactorRequired, Username: p.Username}
		}
		return nil
	})...)
}

// totpCache remembers who has a confirmed second factor, for the change
// version it was read at: LDAP password binds ask on every bind, which
// must cost no database query when nothing changed.
type totpCache struct {
	mu      sync.Mutex
	version uint64
	on      map[string]bool // by user UID
}

// secondFactorOn is HasTOTP through the cache (bypassed, as the
// credential cache is, while changes made elsewhere may be missed).
func (s *Sessions) secondFactorOn(ctx context.Context, uid string) (bool, error) {
	if s.authn.Bypassed() {
		return s.Sessions.HasTOTP(ctx, uid)
	}
	v := s.ChangeVersion()
	c := &s.totpOn
	c.mu.Lock()
	on, ok := c.on[uid]
	ok = ok && c.version == v
	c.mu.Unlock()
	if ok {
		return on, nil
	}
	on, err := s.Sessions.HasTOTP(ctx, uid)
	if err != nil {
		return false, err
	}
	c.mu.Lock()
	if c.version < v || c.on == nil || len(c.on) >= maxTracked {
		c.version, c.on = v, map[string]bool{}
	}
	if c.version == v {
		c.on[uid] = on
	}
	c.mu.Unlock()
	return on, nil
}

// TOTPEnrolment is a secret awaiting its first code: shown to its owner
// as text and as an otpauth:// URI for the authenticator app.
type TOTPEnrolment struct {
	Secret string // base32, grouped for reading
	URI    string
}

func (s *Sessions) enrolment(ctx context.Context, username string, secret []byte) TOTPEnrolment {
	issuer := DefaultBrand.Title
	if b, err := s.Applications.Brand(ctx); err == nil && b.Title != "" {
		issuer = b.Title
	}
	return TOTPEnrolment{Secret: auth.TOTPSecretText(secret), URI: auth.TOTPURI(issuer, username, secret)}
}

func refuseServiceAccount(a Actor) error {
	if a.P.IsServiceAccount() {
		return &ConflictError{Msg: "service accounts cannot enrol a second factor: they never sign in to the interface"}
	}
	return nil
}

// BeginTOTP starts (or restarts) the actor's own enrolment with a new
// secret, stored sealed and unconfirmed until ConfirmTOTP.
func (s *Sessions) BeginTOTP(ctx context.Context, a Actor) (TOTPEnrolment, error) {
	if err := authenticated(a); err != nil {
		return TOTPEnrolment{}, err
	}
	if err := refuseServiceAccount(a); err != nil {
		return TOTPEnrolment{}, err
	}
	secret, err := auth.NewTOTPSecret()
	if err != nil {
		return TOTPEnrolment{}, err
	}
	sealed, err := s.totpSealer().Seal(secret, []byte(a.P.UID))
	if err != nil {
		return TOTPEnrolment{}, err
	}
	err = s.write(ctx, func(q store.Queries, rec func(store.Event)) error {
		cur, err := q.GetTOTP(ctx, a.P.UID)
		if err == nil && cur.Confirmed {
			return &ConflictError{Msg: "two-factor authentication is already on; turn it off first to enrol a new device"}
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return q.PutTOTP(ctx, store.TOTP{UserUID: a.P.UID, Secret: sealed, CreatedAt: s.now()})
	})
	if err != nil {
		return TOTPEnrolment{}, notFound(err, "user", a.P.Username)
	}
	return s.enrolment(ctx, a.P.Username, secret), nil
}

// PendingTOTP shows the actor's unconfirmed enrolment again (the page was
// reloaded). NotFoundError when there is none.
func (s *Sessions) PendingTOTP(ctx context.Context, a Actor) (TOTPEnrolment, error) {
	if err := authenticated(a); err != nil {
		return TOTPEnrolment{}, err
	}
	t, err := s.store.GetTOTP(ctx, a.P.UID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && t.Confirmed) {
		return TOTPEnrolment{}, &NotFoundError{Kind: "two-factor enrolment", Name: a.P.Username}
	}
	if err != nil {
		return TOTPEnrolment{}, err
	}
	secret, err := s.totpSealer().Open(t.Secret, []byte(a.P.UID))
	if err != nil {
		return TOTPEnrolment{}, err
	}
	return s.enrolment(ctx, a.P.Username, secret), nil
}

// ConfirmTOTP finishes enrolment with a code from the app, and returns
// the recovery codes, shown this once and stored only as keyed hashes.
func (s *Sessions) ConfirmTOTP(ctx context.Context, a Actor, code string) ([]string, error) {
	if err := authenticated(a); err != nil {
		return nil, err
	}
	if err := refuseServiceAccount(a); err != nil {
		return nil, err
	}
	t, err := s.store.GetTOTP(ctx, a.P.UID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && t.Confirmed) {
		return nil, &ConflictError{Msg: "there is no enrolment waiting for a code; start again from your profile"}
	}
	if err != nil {
		return nil, err
	}
	secret, err := s.totpSealer().Open(t.Secret, []byte(a.P.UID))
	if err != nil {
		return nil, err
	}
	step, ok := auth.MatchTOTP(secret, code, s.clock.Now())
	if !ok {
		return nil, &ValidationError{Errors: []FieldError{{"code", "is not the current code of your authenticator app (check that the device's clock is right)"}}}
	}
	codes, hashes, err := s.newRecoveryCodes(a.P.UID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	err = s.write(ctx, func(q store.Queries, rec func(store.Event)) error {
		cur, err := q.GetTOTP(ctx, a.P.UID)
		if err != nil || cur.Confirmed || string(cur.Secret) != string(t.Secret) {
			// Confirmed or restarted meanwhile (another tab): this code
			// belongs to a secret that is no longer the pending one.
			return &ConflictError{Msg: "the enrolment changed while you were typing; start again from your profile"}
		}
		t.Confirmed, t.LastStep, t.ConfirmedAt = true, step, &now
		if err := q.PutTOTP(ctx, t); err != nil {
			return err
		}
		return s.replaceRecoveryCodes(ctx, q, rec, a, hashes, audit.ActionTOTPEnabled)
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

// replaceRecoveryCodes stores the hashes as the actor's recovery codes,
// in place of any old ones, and records action.
func (s *Sessions) replaceRecoveryCodes(ctx context.Context, q store.Queries, rec func(store.Event), a Actor, hashes [][]byte, action string) error {
	if err := q.ReplaceRecoveryCodes(ctx, a.P.UID, hashes); err != nil {
		return err
	}
	rec(s.event(a, action, audit.Success, audit.Target{Kind: audit.KindUser, Name: a.P.Username}, nil))
	return nil
}

func (s *Sessions) newRecoveryCodes(userUID string) ([]string, [][]byte, error) {
	codes := make([]string, RecoveryCodeCount)
	hashes := make([][]byte, RecoveryCodeCount)
	for i := range codes {
		c, err := auth.NewRecoveryCode()
		if err != nil {
			return nil, nil, err
		}
		codes[i], hashes[i] = c, s.recoveryHash(userUID, c)
	}
	return codes, hashes, nil
}

// reauthenticate asks for the actor's password again before a change
// that weakens or resets the second factor, as GitHub and authentik do:
// a browser left signed in must not be enough. Limited and recorded as
// a sign-in (recheckPassword).
func (s *Sessions) reauthenticate(ctx context.Context, a Actor, password string) error {
	if password == "" {
		return &ValidationError{Errors: []FieldError{{"password", "is required"}}}
	}
	return s.Credentials.recheckPassword(ctx, a, password, "reauthenticate", "password")
}

// DisableTOTP turns the actor's own second factor off (password required).
func (s *Sessions) DisableTOTP(ctx context.Context, a Actor, password string) error {
	if err := authenticated(a); err != nil {
		return err
	}
	if err := s.reauthenticate(ctx, a, password); err != nil {
		return err
	}
	return s.deleteTOTP(ctx, a, a.P.UID, a.P.Username)
}

// ResetTOTP removes another user's second factor (users.write), for a
// user who lost both the device and the recovery codes.
func (s *Sessions) ResetTOTP(ctx context.Context, a Actor, username string) error {
	if err := s.authorize(ctx, a, authz.UsersWrite, audit.Target{Kind: audit.KindUser, Name: username}); err != nil {
		return err
	}
	u, err := s.store.GetUser(ctx, username)
	if err != nil {
		return notFound(err, "user", username)
	}
	return s.deleteTOTP(ctx, a, u.UID, username)
}

func (s *Sessions) deleteTOTP(ctx context.Context, a Actor, uid, username string) error {
	err := s.write(ctx, func(q store.Queries, rec func(store.Event)) error {
		if uid != a.P.UID {
			// Removing someone's second factor hands the actor that
			// account, with its password (bound.go).
			u, err := q.GetUserByUID(ctx, uid)
			if err != nil {
				return notFound(err, "user", username)
			}
			if err := mayActOn(ctx, q, a, u, authz.UsersWrite, audit.Target{Kind: audit.KindUser, Name: username}); err != nil {
				return err
			}
		}
		if err := q.DeleteTOTP(ctx, uid); err != nil {
			return err
		}
		rec(s.event(a, audit.ActionTOTPDisabled, audit.Success, audit.Target{Kind: audit.KindUser, Name: username}, nil))
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return &NotFoundError{Kind: "two-factor authentication of user", Name: username}
	}
	return err
}

// RegenerateRecoveryCodes replaces the actor's recovery codes (password
// required); the old ones stop working.
func (s *Sessions) RegenerateRecoveryCodes(ctx context.Context, a Actor, password string) ([]string, error) {
	if err := authenticated(a); err != nil {
		return nil, err
	}
	if err := s.reauthenticate(ctx, a, password); err != nil {
		return nil, err
	}
	codes, hashes, err := s.newRecoveryCodes(a.P.UID)
	if err != nil {
		return nil, err
	}
	err = s.write(ctx, func(q store.Queries, rec func(store.Event)) error {
		t, err := q.GetTOTP(ctx, a.P.UID)
		if err != nil || !t.Confirmed {
			return &ConflictError{Msg: "two-factor authentication is off: there are no recovery codes to replace"}
		}
		return s.replaceRecoveryCodes(ctx, q, rec, a, hashes, audit.ActionRecoveryCodesGenerated)
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

// CompleteMFA finishes a sign-in whose password was right: code is a
// current TOTP code (each accepted once: a replay is refused) or an
// unused recovery code (then spent). On success the pending session is
// replaced by a full one with a new ID, and a login event is written.
// A wrong code counts against the pending session; MaxMFAFailures of them
// end it.
func (s *Sessions) CompleteMFA(ctx context.Context, pending WebSession, code, clientIP, userAgent string) (WebSession, error) {
	if !pending.MFAPending || pending.Principal == nil {
		return WebSession{}, ErrUnauthenticated
	}
	p := pending.Principal
	// The code is the second half of the web door's credential check:
	// limited with the same limiter, per account and address, and only
	// this complete sign-in clears the account's failures.
	if err := s.Credentials.admitLogin(ctx, p.Username, clientIP); err != nil {
		return WebSession{}, s.Credentials.limited(ctx, DoorWeb, Policy(DoorWeb).Method[KindPassword], p.Username, clientIP, err, CheckOptions{})
	}
	method, err := s.checkSecondFactor(ctx, p.UID, p.Username, code, clientIP)
	if err != nil {
		if errors.Is(err, auth.ErrBadCredential) {
			s.LDAP.limiter().Failure(p.Username, clientIP)
			s.Credentials.RecordLoginFailed(ctx, clientIP, "web", err)
			n, cerr := s.store.AddSessionMFAFailure(ctx, pending.IDHash)
			if cerr == nil && n >= MaxMFAFailures {
				if derr := s.store.DeleteSession(ctx, pending.IDHash); derr != nil && !errors.Is(derr, store.ErrNotFound) {
					s.log.Warn("delete pending session", "err", derr)
				}
				return WebSession{}, &SessionEndedError{Reason: SessionMFAFailed}
			}
		}
		return WebSession{}, err
	}
	if err := s.store.DeleteSession(ctx, pending.IDHash); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return WebSession{}, &SessionEndedError{Reason: SessionExpired}
		}
		return WebSession{}, err
	}
	s.LDAP.limiter().Success(p.Username, clientIP)
	return s.Sessions.FinishLogin(ctx, p, clientIP, userAgent, method)
}

// checkSecondFactor verifies a TOTP code or a recovery code. A failure is
// an *auth.Failure (ErrBadCredential).
func (s *Sessions) checkSecondFactor(ctx context.Context, uid, username, code, clientIP string) (string, error) {
	t, err := s.store.GetTOTP(ctx, uid)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return "", &auth.Failure{Reason: ReasonTOTPMismatch, Username: username}
		}
		return "", err
	}
	if !t.Confirmed {
		return "", &auth.Failure{Reason: ReasonTOTPMismatch, Username: username}
	}
	norm := auth.NormalizeCode(code)
	if len(norm) == auth.TOTPDigits {
		secret, err := s.totpSealer().Open(t.Secret, []byte(uid))
		if err != nil {
			return "", err
		}
		step, ok := auth.MatchTOTP(secret, norm, s.clock.Now())
		if !ok {
			return "", &auth.Failure{Reason: ReasonTOTPMismatch, Username: username}
		}
		if err := s.store.UseTOTPStep(ctx, uid, step); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return "", &auth.Failure{Reason: ReasonTOTPReplay, Username: username}
			}
			return "", err
		}
		return "password+totp", nil
	}
	a := Actor{ClientIP: clientIP}
	err = s.write(ctx, func(q store.Queries, rec func(store.Event)) error {
		if err := q.UseRecoveryCode(ctx, uid, s.recoveryHash(uid, code)); err != nil {
			return err
		}
		left, err := q.CountRecoveryCodes(ctx, uid)
		if err != nil {
			return err
		}
		ev := s.event(a, audit.ActionRecoveryCodeUsed, audit.Success, audit.Target{Kind: audit.KindUser, Name: username},
			map[string]any{"codes_left": left})
		ev.ActorUsername, ev.ActorType = username, store.TypeHuman
		rec(ev)
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return "", &auth.Failure{Reason: ReasonRecoveryUnknown, Username: username}
	}
	if err != nil {
		return "", err
	}
	return "password+recovery_code", nil
}
