package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// OIDC issuer kinds (presets).
const (
	IssuerGeneric    = "generic"
	IssuerGitHub     = "github"
	IssuerGitLab     = "gitlab"
	IssuerKubernetes = "kubernetes"
)

// OIDCIssuer is an OpenID Connect issuer whose ID tokens trust policies
// accept. Addressed by name, which never changes. It holds public keys at
// most (JWKS, an inline JWK Set), never a secret.
type OIDCIssuer struct {
	UID          string
	Name         string // unique
	Kind         string // IssuerGeneric, IssuerGitHub, IssuerGitLab, IssuerKubernetes
	IssuerURL    string // unique; equals the ID tokens' iss
	JWKSURL      string // "" : discovered from IssuerURL
	JWKS         string // "" : fetched; otherwise the inline JWK Set (JSON)
	AllowedAlgs  []string
	Leeway       time.Duration
	Shared       bool
	TenantClaims []string
	CreatedAt    time.Time
}

// TrustPolicy maps ID tokens of an issuer that match its conditions to a
// service account's short-lived token. Addressed by name, which never
// changes.
type TrustPolicy struct {
	UID          string
	Name         string // unique
	Description  string
	IssuerUID    string
	IssuerName   string // filled on reads (join), ignored on writes
	UserUID      string
	Username     string // filled on reads (join), ignored on writes
	Audience     string
	Conditions   map[string][]string
	Permissions  *[]string // nil: the account's
	AllowedCIDRs []string
	TTL          time.Duration
	CreatedAt    time.Time
}

// FederationFilter selects issuers or policies; ordered by name.
type FederationFilter struct {
	IssuerUID string // policies only: "" any
	After     string
	Limit     int
}

// FederationQueries stores OIDC issuers, trust policies and the ID
// tokens already exchanged.
type FederationQueries interface {
	CreateOIDCIssuer(ctx context.Context, i OIDCIssuer) error                     // ErrConflict (name or issuer_url taken)
	GetOIDCIssuer(ctx context.Context, name string) (OIDCIssuer, error)           // ErrNotFound
	GetOIDCIssuerByURL(ctx context.Context, issuerURL string) (OIDCIssuer, error) // ErrNotFound
	ListOIDCIssuers(ctx context.Context, f FederationFilter) ([]OIDCIssuer, error)
	// UpdateOIDCIssuer writes every field but UID, Name, Kind and
	// CreatedAt, by UID; ErrNotFound, ErrConflict (issuer_url taken).
	UpdateOIDCIssuer(ctx context.Context, i OIDCIssuer) error
	// DeleteOIDCIssuer deletes it, its policies and every token they
	// minted. ErrNotFound.
	DeleteOIDCIssuer(ctx context.Context, uid string) error

	CreateTrustPolicy(ctx context.Context, p TrustPolicy) error // ErrConflict (name); ErrNotFound (issuer or user gone)
	GetTrustPolicy(ctx context.Context, name string) (TrustPolicy, error)
	ListTrustPolicies(ctx context.Context, f FederationFilter) ([]TrustPolicy, error)
	// UpdateTrustPolicy writes every field but UID, Name, IssuerUID and
	// CreatedAt, by UID; ErrNotFound.
	UpdateTrustPolicy(ctx context.Context, p TrustPolicy) error
	// DeleteTrustPolicy deletes it and every token it minted. ErrNotFound.
	DeleteTrustPolicy(ctx context.Context, uid string) error
	// FederatedTokens lists the UIDs of the tokens minted by the policy,
	// or by any policy of the issuer when policyUID is "".
	FederatedTokens(ctx context.Context, issuerUID, policyUID string) ([]string, error)

	// UseJTI records that the issuer's ID token jti was exchanged, kept
	// until expiresAt; ErrConflict when it already was.
	UseJTI(ctx context.Context, issuerURL, jti string, expiresAt time.Time) error
	// PruneJTIs forgets jtis whose ID tokens expired before t.
	PruneJTIs(ctx context.Context, t time.Time) (int, error)
}

// EncodeJSON is how both backends store the small lists and maps of
// issuers and policies.
func EncodeJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("encode: %v", err)) // plain strings cannot fail
	}
	return string(b)
}

// DecodeJSON reads what EncodeJSON wrote.
func DecodeJSON(s string, v any) error {
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return fmt.Errorf("decode stored JSON: %w", err)
	}
	return nil
}

// EncodeList is EncodeJSON of a list, nil as [].
func EncodeList(l []string) string {
	if l == nil {
		l = []string{}
	}
	return EncodeJSON(l)
}

// PolicyColumns are a trust policy's JSON-encoded columns, as both
// backends store them: Permissions is NULL (nil) for "the account's".
type PolicyColumns struct {
	Conditions   string
	Permissions  *string
	AllowedCIDRs string
}

// EncodePolicyColumns encodes p's lists and maps for storage.
func EncodePolicyColumns(p TrustPolicy) PolicyColumns {
	c := PolicyColumns{Conditions: EncodeJSON(p.Conditions), AllowedCIDRs: EncodeList(p.AllowedCIDRs)}
	if p.Permissions != nil {
		s := EncodeList(*p.Permissions)
		c.Permissions = &s
	}
	return c
}

// DecodeInto sets p's lists and maps from what EncodePolicyColumns wrote.
func (c PolicyColumns) DecodeInto(p *TrustPolicy) error {
	if c.Permissions != nil {
		var l []string
		if err := DecodeJSON(*c.Permissions, &l); err != nil {
			return err
		}
		if l == nil {
			l = []string{}
		}
		p.Permissions = &l
	}
	if err := DecodeJSON(c.Conditions, &p.Conditions); err != nil {
		return err
	}
	return DecodeJSON(c.AllowedCIDRs, &p.AllowedCIDRs)
}
