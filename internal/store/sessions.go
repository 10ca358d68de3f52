package store

import (
	"context"
	"fmt"
	"time"
)

// OwnerFound is err, or, when err is nil but the statement found no owning
// user to write under (missing), ErrNotFound naming the user.
func OwnerFound(err error, missing bool, userUID string) error {
	if err == nil && missing {
		err = fmt.Errorf("user %q: %w", userUID, ErrNotFound)
	}
	return err
}

// Session is a signed-in browser of the web interface. The session ID
// itself (the cookie value) is never stored: IDHash is its SHA-256, so a
// copy of the database cannot be replayed as a cookie.
type Session struct {
	IDHash  []byte // SHA-256 of the random session ID; primary key
	UserUID string
	// PasswordStamp is a keyed fingerprint of the user's password hash when
	// the session began: a password change (new salt, new hash) no longer
	// matches, which ends every session made before it.
	PasswordStamp []byte
	// MFAPending: the password was right but the second factor is still
	// owed; such a session opens nothing but the code prompt.
	MFAPending  bool
	MFAFailures int // wrong codes given on this pending session
	ClientIP    string
	UserAgent   string
	CreatedAt   time.Time
	LastSeenAt  time.Time
	ExpiresAt   time.Time // absolute end, whatever the activity
}

// TOTP is a user's time-based one-time password factor (RFC 6238).
type TOTP struct {
	UserUID string
	// Secret is the shared secret sealed with AES-GCM under a key derived
	// from the server's secret key; never the plain secret.
	Secret    []byte
	Confirmed bool // false while enrolment awaits its first code
	// LastStep is the last 30-second step whose code was accepted: a code
	// of that step or an earlier one is a replay.
	LastStep    int64
	CreatedAt   time.Time
	ConfirmedAt *time.Time
}

// ObjectCounts is what the dashboard counts.
type ObjectCounts struct {
	UsersByType    map[string]int
	Groups         int
	Roles          int
	TokensByIntent map[string]int
	Sessions       int // sessions not yet past their absolute end
}

// Add keeps one row of the backends' count query: n objects of kind
// ("user", "token", "group", "role" or "session") and, for users and
// tokens, of sub (the user's type, the token's intent).
func (c *ObjectCounts) Add(kind, sub string, n int) {
	switch kind {
	case "user":
		c.UsersByType[sub] = n
	case "token":
		c.TokensByIntent[sub] = n
	case "group":
		c.Groups = n
	case "role":
		c.Roles = n
	case "session":
		c.Sessions = n
	}
}

// SessionQueries stores web sessions, second factors and the dashboard's
// counts.
type SessionQueries interface {
	// CreateSession inserts s. ErrNotFound when the user is gone,
	// ErrConflict when the ID hash exists.
	CreateSession(ctx context.Context, s Session) error
	// GetSession reads a session by ID hash. ErrNotFound.
	GetSession(ctx context.Context, idHash []byte) (Session, error)
	// TouchSession moves LastSeenAt forward (never back). ErrNotFound.
	TouchSession(ctx context.Context, idHash []byte, lastSeen time.Time) error
	// AddSessionMFAFailure counts a wrong second-factor code on a session
	// and returns the new count. ErrNotFound.
	AddSessionMFAFailure(ctx context.Context, idHash []byte) (int, error)
	// DeleteSession removes one session. ErrNotFound.
	DeleteSession(ctx context.Context, idHash []byte) error
	// DeleteUserSessions removes every session of a user except the one
	// whose hash is keep (nil: none kept); returns how many went.
	DeleteUserSessions(ctx context.Context, userUID string, keep []byte) (int, error)
	// ListUserSessions lists a user's sessions, newest first (CreatedAt).
	ListUserSessions(ctx context.Context, userUID string) ([]Session, error)
	// DeleteStaleSessions removes sessions whose ExpiresAt <= now or whose
	// LastSeenAt < idleBefore; returns how many.
	DeleteStaleSessions(ctx context.Context, now, idleBefore time.Time) (int, error)

	// PutTOTP inserts or replaces the user's factor. ErrNotFound when the
	// user is gone. Replacing keeps the recovery codes; callers replace
	// them (ReplaceRecoveryCodes) in the same transaction.
	PutTOTP(ctx context.Context, t TOTP) error
	// GetTOTP reads the user's factor. ErrNotFound.
	GetTOTP(ctx context.Context, userUID string) (TOTP, error)
	// UseTOTPStep records that the code of step was accepted, only if the
	// factor is confirmed and step is later than LastStep; otherwise
	// ErrConflict (a replayed or older code). Atomic: of two requests with
	// the same code, at most one wins, even across instances.
	UseTOTPStep(ctx context.Context, userUID string, step int64) error
	// DeleteTOTP removes the factor and its recovery codes. ErrNotFound.
	DeleteTOTP(ctx context.Context, userUID string) error
	// ReplaceRecoveryCodes sets the user's recovery codes (keyed hashes).
	ReplaceRecoveryCodes(ctx context.Context, userUID string, hashes [][]byte) error
	// UseRecoveryCode deletes the code with that hash: ErrNotFound when the
	// user has no such code (never had it, or used it already).
	UseRecoveryCode(ctx context.Context, userUID string, hash []byte) error
	// CountRecoveryCodes counts the user's unused recovery codes.
	CountRecoveryCodes(ctx context.Context, userUID string) (int, error)

	// CountObjects counts users by type, groups, roles, tokens by intent
	// and live sessions (ExpiresAt > now).
	CountObjects(ctx context.Context, now time.Time) (ObjectCounts, error)
}
