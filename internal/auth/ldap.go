package auth

import "time"

// KeyValidUntil returns when a cached key stops working: its token's
// expiry (for an extended token, as moved by its latest use) or the end
// of its rotation grace, whichever comes first; zero means never. ok is
// false when the key is not cached (it was invalidated since it was
// verified), so the caller must treat it as needing a fresh check.
func (a *Authenticator) KeyValidUntil(lookup string) (until time.Time, ok bool) {
	a.mu.RLock()
	e, ok := a.keys[lookup]
	a.mu.RUnlock()
	if !ok {
		return time.Time{}, false
	}
	var exp int64
	if e.expiring {
		exp = e.expiresAt.Load()
	}
	if e.notAfter != 0 && (exp == 0 || e.notAfter < exp) {
		exp = e.notAfter
	}
	if exp == 0 {
		return time.Time{}, true
	}
	return time.Unix(0, exp).UTC(), true
}
