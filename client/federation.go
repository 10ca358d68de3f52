package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// --- Workload identity federation ----------------------------------------

// OIDCIssuer is an OpenID Connect issuer whose ID tokens trust policies
// accept.
type OIDCIssuer struct {
	Name         string          `json:"name"`
	Kind         string          `json:"kind"`
	IssuerURL    string          `json:"issuer_url"`
	JWKSURL      string          `json:"jwks_url"`
	JWKS         json.RawMessage `json:"jwks"`
	AllowedAlgs  []string        `json:"allowed_algs"`
	Leeway       string          `json:"leeway"`
	Shared       bool            `json:"shared"`
	TenantClaims []string        `json:"tenant_claims"`
	CreatedAt    time.Time       `json:"created_at"`
}

// OIDCIssuerCreate is the body of POST /oidc-issuers.
type OIDCIssuerCreate struct {
	Name         string          `json:"name"`
	Kind         string          `json:"kind,omitempty"`
	IssuerURL    string          `json:"issuer_url,omitempty"`
	JWKSURL      string          `json:"jwks_url,omitempty"`
	JWKS         json.RawMessage `json:"jwks,omitempty"`
	AllowedAlgs  []string        `json:"allowed_algs,omitempty"`
	Leeway       *string         `json:"leeway,omitempty"`
	Shared       *bool           `json:"shared,omitempty"`
	TenantClaims []string        `json:"tenant_claims,omitempty"`
}

// OIDCIssuerUpdate is the body of PATCH /oidc-issuers/{name}: nil fields
// stay; JWKS "null" removes the inline key set.
type OIDCIssuerUpdate struct {
	IssuerURL    *string         `json:"issuer_url,omitempty"`
	JWKSURL      *string         `json:"jwks_url,omitempty"`
	JWKS         json.RawMessage `json:"jwks,omitempty"`
	AllowedAlgs  *[]string       `json:"allowed_algs,omitempty"`
	Leeway       *string         `json:"leeway,omitempty"`
	Shared       *bool           `json:"shared,omitempty"`
	TenantClaims *[]string       `json:"tenant_claims,omitempty"`
}

// TrustPolicy maps matching ID tokens of an issuer to minted tokens of a
// service account.
type TrustPolicy struct {
	Name           string              `json:"name"`
	Description    string              `json:"description"`
	Issuer         string              `json:"issuer"`
	ServiceAccount string              `json:"service_account"`
	Audience       string              `json:"audience"`
	Conditions     map[string][]string `json:"conditions"`
	Permissions    *[]string           `json:"permissions"`
	AllowedCIDRs   []string            `json:"allowed_cidrs"`
	TTL            string              `json:"ttl"`
	CreatedAt      time.Time           `json:"created_at"`
}

// TrustPolicyCreate is the body of POST /trust-policies. A condition's
// values may be one or several strings.
type TrustPolicyCreate struct {
	Name           string              `json:"name"`
	Description    string              `json:"description,omitempty"`
	Issuer         string              `json:"issuer"`
	ServiceAccount string              `json:"service_account"`
	Audience       string              `json:"audience"`
	Conditions     map[string][]string `json:"conditions"`
	Permissions    *[]string           `json:"permissions,omitempty"`
	AllowedCIDRs   []string            `json:"allowed_cidrs,omitempty"`
	TTL            string              `json:"ttl,omitempty"`
}

// TrustPolicyUpdate is the body of PATCH /trust-policies/{name}: nil
// fields stay.
type TrustPolicyUpdate struct {
	Description    *string             `json:"description,omitempty"`
	ServiceAccount *string             `json:"service_account,omitempty"`
	Audience       *string             `json:"audience,omitempty"`
	Conditions     map[string][]string `json:"conditions,omitempty"`
	Permissions    *PermissionsPatch   `json:"permissions,omitempty"`
	AllowedCIDRs   *[]string           `json:"allowed_cidrs,omitempty"`
	TTL            *string             `json:"ttl,omitempty"`
}

// PermissionsPatch sets a policy's permissions: List, or with List nil,
// all of the account's (sent as null).
type PermissionsPatch struct {
	List []string `json:"-"`
}

// MarshalJSON sends the list, or null.
func (p PermissionsPatch) MarshalJSON() ([]byte, error) {
	if p.List == nil {
		return []byte("null"), nil
	}
	return json.Marshal(p.List)
}

// PolicyTest is the body of POST /trust-policies/test.
type PolicyTest struct {
	IDToken        string `json:"id_token"`
	ServiceAccount string `json:"service_account,omitempty"`
}

// PolicyTestResult says what the exchange would make of an ID token.
type PolicyTestResult struct {
	// Issuer is the issuer whose issuer_url is the token's iss ("": none).
	Issuer string `json:"issuer"`
	// Verified: signature, algorithm, iss and times are good now.
	Verified bool `json:"verified"`
	// Refused is why the token itself is refused (then no policy is
	// tried): malformed, unknown_issuer, alg_not_allowed, unknown_key,
	// bad_signature, keys_unavailable, expired, not_yet_valid,
	// issued_in_future, missing_jti, replayed_jti.
	Refused  string              `json:"refused,omitempty"`
	Detail   string              `json:"detail,omitempty"`
	Claims   map[string]any      `json:"claims"`
	Policies []PolicyTestOutcome `json:"policies"`
}

// PolicyTestOutcome is one policy's verdict.
type PolicyTestOutcome struct {
	Name           string `json:"name"`
	ServiceAccount string `json:"service_account"`
	Matches        bool   `json:"matches"`
	// Failed names the first check that fails: service_account,
	// audience, condition CLAIM, service_account_disabled.
	Failed string `json:"failed,omitempty"`
}

// TokenFederation is where a minted token came from (Token.Federated).
type TokenFederation struct {
	Issuer  string `json:"issuer"`
	Policy  string `json:"policy"`
	Subject string `json:"subject"`
	JTI     string `json:"jti"`
}

// OIDCIssuers are the OIDC issuers, at /oidc-issuers.
type OIDCIssuers struct{ c *Client }

func (s *OIDCIssuers) col() collection[OIDCIssuer] {
	return collection[OIDCIssuer]{s.c, "/oidc-issuers"}
}

// ListAll reads every issuer (up to o.Limit).
func (s *OIDCIssuers) ListAll(ctx context.Context, o ListOptions) ([]OIDCIssuer, error) {
	return s.col().listAll(ctx, nil, o)
}

// Get reads one issuer; a missing one is ErrNotFound.
func (s *OIDCIssuers) Get(ctx context.Context, name string) (OIDCIssuer, error) {
	return s.col().get(ctx, name)
}

// Create adds an issuer.
func (s *OIDCIssuers) Create(ctx context.Context, in OIDCIssuerCreate) (OIDCIssuer, error) {
	return s.col().create(ctx, in)
}

// Update changes the fields set in in.
func (s *OIDCIssuers) Update(ctx context.Context, name string, in OIDCIssuerUpdate) (OIDCIssuer, error) {
	return s.col().update(ctx, name, in)
}

// Delete deletes an issuer, its policies and every token they minted.
func (s *OIDCIssuers) Delete(ctx context.Context, name string) error {
	return s.col().delete(ctx, name)
}

// TrustPolicies are the trust policies, at /trust-policies.
type TrustPolicies struct{ c *Client }

func (s *TrustPolicies) col() collection[TrustPolicy] {
	return collection[TrustPolicy]{s.c, "/trust-policies"}
}

// ListAll reads every policy, of one issuer when issuer is not "".
func (s *TrustPolicies) ListAll(ctx context.Context, issuer string, o ListOptions) ([]TrustPolicy, error) {
	return s.col().listAll(ctx, query("issuer", issuer), o)
}

// Get reads one policy; a missing one is ErrNotFound.
func (s *TrustPolicies) Get(ctx context.Context, name string) (TrustPolicy, error) {
	return s.col().get(ctx, name)
}

// Create adds a policy.
func (s *TrustPolicies) Create(ctx context.Context, in TrustPolicyCreate) (TrustPolicy, error) {
	return s.col().create(ctx, in)
}

// Update changes the fields set in in.
func (s *TrustPolicies) Update(ctx context.Context, name string, in TrustPolicyUpdate) (TrustPolicy, error) {
	return s.col().update(ctx, name, in)
}

// Delete deletes a policy and every token it minted.
func (s *TrustPolicies) Delete(ctx context.Context, name string) error {
	return s.col().delete(ctx, name)
}

// Test says which policies would take an ID token; the token is neither
// stored nor logged by the server.
func (s *TrustPolicies) Test(ctx context.Context, in PolicyTest) (PolicyTestResult, error) {
	return call[PolicyTestResult](ctx, s.c, http.MethodPost, "/trust-policies/test", in)
}

// The token exchange's constants (RFC 8693).
const (
	GrantTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	TokenTypeIDToken   = "urn:ietf:params:oauth:token-type:id_token"
)

// ExchangeRequest asks for a minted token.
type ExchangeRequest struct {
	IDToken        string
	ServiceAccount string // "": the one the matching policies name
	Scope          []string
}

// ExchangeResult is the exchange's answer.
type ExchangeResult struct {
	AccessToken     string `json:"access_token"`
	IssuedTokenType string `json:"issued_token_type"`
	TokenType       string `json:"token_type"`
	ExpiresIn       int    `json:"expires_in"`
	Scope           string `json:"scope,omitempty"`
}

// ExchangeError is a refused exchange, as RFC 6749 section 5.2 says it.
type ExchangeError struct {
	Status      int
	Code        string `json:"error"`
	Description string `json:"error_description"`
}

func (e *ExchangeError) Error() string {
	return fmt.Sprintf("token exchange refused (%d %s): %s", e.Status, e.Code, e.Description)
}

// Exchange trades an OIDC ID token for a minted token (POST
// /oauth/token). It sends no credential of the client's: the ID token is
// the credential.
func (c *Client) Exchange(ctx context.Context, in ExchangeRequest) (ExchangeResult, error) {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	form := url.Values{"grant_type": {GrantTokenExchange}, "subject_token": {in.IDToken}, "subject_token_type": {TokenTypeIDToken}}
	if in.ServiceAccount != "" {
		form.Set("service_account", in.ServiceAccount)
	}
	if len(in.Scope) > 0 {
		form.Set("scope", strings.Join(in.Scope, " "))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+APIPrefix+"/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		return ExchangeResult{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	resp, err := c.hc.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return ExchangeResult{}, fmt.Errorf("cannot reach gatehouse at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return ExchangeResult{}, err
	}
	if resp.StatusCode != http.StatusOK {
		e := &ExchangeError{Status: resp.StatusCode}
		if json.Unmarshal(body, e) != nil || e.Code == "" {
			e.Code, e.Description = "unexpected_answer", http.StatusText(resp.StatusCode)
		}
		return ExchangeResult{}, e
	}
	var out ExchangeResult
	if err := json.Unmarshal(body, &out); err != nil || out.AccessToken == "" {
		return ExchangeResult{}, fmt.Errorf("token exchange: the answer holds no token")
	}
	return out, nil
}
