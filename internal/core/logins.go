package core

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/ratelimit"
)

// RateLimitedError: too many failed attempts of this account from this
// address (or from this address): the attempt is refused unchecked.
type RateLimitedError struct{ RetryAfter time.Duration }

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("too many failed attempts; try again in %s", e.RetryAfter.Round(time.Second))
}

// Limiter is the failed-login limiter every door shares (UseLimiter).
func (s *Credentials) Limiter() *ratelimit.Limiter { return s.LDAP.limiter() }

// admitLogin asks the limiter whether an attempt for account from client
// may be checked: a RateLimitedError when not; an account failing from
// everywhere is slowed here, never refused.
func (s *Credentials) admitLogin(ctx context.Context, account, client string) error {
	d := s.LDAP.limiter().Check(account, client)
	if !d.Allowed {
		return &RateLimitedError{RetryAfter: d.RetryAfter}
	}
	if d.Delay > 0 {
		t := time.NewTimer(d.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// recheckPassword asks a signed-in actor for their password again
// (changing it, turning the second factor off, new recovery codes). It is
// a password check like a sign-in, so it is limited with the same limiter
// per account and address, and a wrong password is a login_failed event
// (method names the form). A right one clears nothing: only a complete
// sign-in does.
func (s *Credentials) recheckPassword(ctx context.Context, a Actor, password, method, field string) error {
	if err := s.admitLogin(ctx, a.P.Username, a.ClientIP); err != nil {
		return err
	}
	_, err := s.authn.VerifyPassword(ctx, a.P.Username, password)
	if errors.Is(err, auth.ErrBadCredential) {
		s.LDAP.limiter().Failure(a.P.Username, a.ClientIP)
		s.Credentials.RecordLoginFailed(ctx, a.ClientIP, method, err)
		return &ValidationError{Errors: []FieldError{{field, "is not your current password"}}}
	}
	return err
}

// MaxUntrustedLength bounds what an event keeps of a string from an
// unauthenticated client (a username that failed to sign in).
const MaxUntrustedLength = 128

// Untrusted returns what an event may keep of a string an unauthenticated
// client sent: at most MaxUntrustedLength runes, marked with "…" when
// cut, with control and format characters (Unicode Cc and Cf: newlines,
// ESC, the bidirectional overrides such as U+202E) and invalid UTF-8
// replaced by U+FFFD, so that it can neither flood the audit log nor
// forge lines or reorder text where events are shown.
func Untrusted(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || unicode.In(r, unicode.Cc, unicode.Cf) {
			clean = false
			break
		}
	}
	if clean && len(s) <= MaxUntrustedLength {
		return s // the usual case: a plain name
	}
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == MaxUntrustedLength {
			b.WriteString("…")
			break
		}
		if r == utf8.RuneError || unicode.In(r, unicode.Cc, unicode.Cf) {
			r = utf8.RuneError
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}
