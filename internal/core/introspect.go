package core

import (
	"context"
	"errors"
	"strings"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Introspection is a token introspection answer (RFC 7662). An inactive
// answer holds only "active": false, whatever the reason (unknown,
// malformed, expired, revoked, owner disabled, or not visible to the
// caller), so that it tells nothing about the token.
type Introspection struct {
	Active   bool   `json:"active"`
	Username string `json:"username,omitempty"`
	// Sub is the owner's UID: stable across the owner's life, unlike a
	// token identifier.
	Sub string `json:"sub,omitempty"`
	// Exp and Iat are unix seconds: when the key stops working (absent:
	// never) and when it was issued (created or rotated).
	Exp *int64 `json:"exp,omitempty"`
	Iat int64  `json:"iat,omitempty"`
	// TokenType is the key's intent: "api" or "app_password".
	TokenType string `json:"token_type,omitempty"`
	// Scope is what the key may do, space-separated (RFC 6749 §3.3): its
	// owner's permissions, narrowed by the token's own list.
	Scope *string `json:"scope,omitempty"`
	// AllowedCIDRs are the networks the key may be used from, when bound.
	AllowedCIDRs []string `json:"allowed_cidrs,omitempty"`
}

// MaxIntrospectedToken bounds the token parameter (no key is nearly
// this long; the bootstrap token is at most 512 characters).
const MaxIntrospectedToken = 4096

// Introspect tells a caller holding tokens.read (or tokens.write) whether a
// token is active and whose it is. A grant scoped to a group sees the
// tokens of that group's members only; others are inactive to it.
// Introspection is not a use: the key's last use and an extended token's
// expiry do not move.
func (s *Credentials) Introspect(ctx context.Context, a Actor, token string) (Introspection, error) {
	target := audit.Target{Kind: audit.KindToken}
	if a.P == nil || !(a.P.CanSomewhere(authz.TokensRead, authz.KindGroup) || a.P.CanSomewhere(authz.TokensWrite, authz.KindGroup)) {
		if err := s.authorize(ctx, a, authz.TokensRead, target); err != nil {
			return Introspection{}, err
		}
	}
	var f fields
	switch {
	case token == "":
		f.add("token", "is required")
	case len(token) > MaxIntrospectedToken:
		f.add("token", "is longer than any token")
	}
	if err := f.err(); err != nil {
		return Introspection{}, err
	}
	inactive := Introspection{}
	checked, err := s.Credentials.CheckCredential(ctx, DoorIntrospection, Presented{Kind: KindAPIToken, Secret: token}, a.ClientIP, CheckOptions{})
	if errors.Is(err, auth.ErrBadCredential) {
		return inactive, nil
	}
	if err != nil {
		return Introspection{}, err
	}
	p, info := checked.P, checked.Key
	var cidrs []string
	if r := info.Restrictions; r != nil {
		for _, c := range r.CIDRs {
			cidrs = append(cidrs, c.String())
		}
	}
	if !a.P.Can(authz.TokensRead) && !a.P.Can(authz.TokensWrite) {
		objs := authz.GroupObjects(p.Groups)
		if !a.P.CanOn(authz.TokensRead, objs...) && !a.P.CanOn(authz.TokensWrite, objs...) {
			return inactive, nil
		}
	}
	// When the key was issued is only in the store (the verifier cache
	// does not need it). A key revoked since the check above is gone.
	k, _, err := s.store.LookupKey(ctx, info.Lookup)
	if errors.Is(err, store.ErrNotFound) {
		return inactive, nil
	}
	if err != nil {
		return Introspection{}, err
	}
	scope := strings.Join(p.Permissions, " ")
	out := Introspection{Active: true, Username: p.Username, Sub: p.UID, Iat: k.CreatedAt.Unix(),
		TokenType: info.Intent, Scope: &scope, AllowedCIDRs: cidrs}
	if !info.ExpiresAt.IsZero() {
		exp := info.ExpiresAt.Unix()
		out.Exp = &exp
	}
	return out, nil
}
