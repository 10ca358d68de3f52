package auth

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/store"
)

// KeyInfo describes a key that Inspect found valid.
type KeyInfo struct {
	Lookup          string // the key's public lookup part
	TokenUID        string
	TokenIdentifier string
	Intent          string // store.IntentAPI or store.IntentAppPassword
	// ExpiresAt is when the key stops working: the token's expiry (for
	// an extended token, as moved by its latest use) or the end of a
	// rotation grace, whichever comes first. Zero: never.
	ExpiresAt time.Time
	// Restrictions narrow the key (nil: none).
	Restrictions *Restrictions
}

// Inspect checks a key of either intent (an API token, the bootstrap
// token, or an app password) exactly as VerifyAPIKey and VerifyAppPassword
// do — well-formed, known, matching, unexpired, its owner active — but
// without recording a use: last-used does not move and an extended token
// is not extended. It is for token introspection, where a third party
// asks about a key it was given, which is not the key's owner using it.
func (a *Authenticator) Inspect(ctx context.Context, raw string) (*authz.Principal, KeyInfo, error) {
	intent := store.IntentAPI // free-form keys (the bootstrap token) are API tokens
	if pk, err := ParseKey(raw); err == nil {
		intent = pk.Intent
	}
	e, p, _, err := a.verifyKey(ctx, raw, intent)
	if err != nil {
		return nil, KeyInfo{}, err
	}
	if p, err = a.owner(ctx, e, p); err != nil {
		return nil, KeyInfo{}, err
	}
	if !p.Active {
		return nil, KeyInfo{}, &Failure{Reason: ReasonInactive, Username: p.Username, Identifier: e.identifier}
	}
	p = e.restrictions.Principal(p)
	info := KeyInfo{Lookup: e.lookup, TokenUID: e.tokenUID, TokenIdentifier: e.identifier, Intent: e.intent, Restrictions: e.restrictions}
	var exp int64
	if e.expiring {
		exp = e.expiresAt.Load()
	}
	if e.notAfter != 0 && (exp == 0 || e.notAfter < exp) {
		exp = e.notAfter
	}
	if exp != 0 {
		info.ExpiresAt = time.Unix(0, exp).UTC()
	}
	return p, info, nil
}
