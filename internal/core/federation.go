package core

// Workload identity federation: OIDC issuers, trust policies and the
// exchange (RFC 8693) of an ID token for a minutes-long token of a
// service account. The exchange is a door (DoorTokenExchange, doors.go):
// the ID token is checked by the one credential check, with the door's
// limiter; this file holds the issuers' and policies' CRUD, the check's
// KindIDToken case (verifyIDToken), the mint, and the policy tester.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/client"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/federation"
	"github.com/gatehouse/gatehouse/internal/store"
)

// The presets' issuers and the tenant claims that pin a policy on them.
var (
	presetIssuerURL = map[string]string{
		store.IssuerGitHub: "https://token.actions.githubusercontent.com",
		store.IssuerGitLab: "https://gitlab.com",
	}
	presetTenantClaims = map[string][]string{
		store.IssuerGitHub: {"repository_owner_id", "repository_id"},
		store.IssuerGitLab: {"namespace_id", "project_id"},
	}
)

// Limits of issuers and policies.
const (
	DefaultLeeway     = 60 * time.Second
	MaxLeeway         = 300 * time.Second
	DefaultMintTTL    = 15 * time.Minute
	MaxMintTTL        = time.Hour
	MinMintTTL        = time.Minute
	maxConditions     = 32
	maxConditionVals  = 64
	maxJWKS           = 64 << 10
	maxURL            = 1024
	maxClaimName      = 128
	maxClaimValue     = 1024
	maxJTI            = 256
	maxEventClaims    = 40
	maxEventClaimSize = 256
)

// Token types and grant of RFC 8693.
const (
	GrantTokenExchange   = "urn:ietf:params:oauth:grant-type:token-exchange"
	TokenTypeIDToken     = "urn:ietf:params:oauth:token-type:id_token"
	TokenTypeJWT         = "urn:ietf:params:oauth:token-type:jwt"
	TokenTypeAccessToken = "urn:ietf:params:oauth:token-type:access_token"
)

// KindOIDCIssuer re-exports the event target kind for the doors.
const KindOIDCIssuer = audit.KindOIDCIssuer

func issuerTarget(name string) audit.Target {
	return audit.Target{Kind: audit.KindOIDCIssuer, Name: name}
}
func policyTarget(name string) audit.Target {
	return audit.Target{Kind: audit.KindTrustPolicy, Name: name}
}

// tenantClaims are the claims that pin a tenant on the issuer.
func tenantClaims(i store.OIDCIssuer) []string {
	if c, ok := presetTenantClaims[i.Kind]; ok {
		return c
	}
	return i.TenantClaims
}

func verifierIssuer(i store.OIDCIssuer) federation.Issuer {
	return federation.Issuer{Name: i.Name, URL: i.IssuerURL, JWKSURL: i.JWKSURL, JWKS: i.JWKS, AllowedAlgs: i.AllowedAlgs, Leeway: i.Leeway}
}

// ---- Issuers ----

// OIDCIssuerView is an issuer as the API shows it.
type OIDCIssuerView = client.OIDCIssuer

func issuerView(i store.OIDCIssuer) OIDCIssuerView {
	v := OIDCIssuerView{Name: i.Name, Kind: i.Kind, IssuerURL: i.IssuerURL, JWKSURL: i.JWKSURL, AllowedAlgs: nonNil(i.AllowedAlgs),
		Leeway: i.Leeway.String(), Shared: i.Shared, TenantClaims: nonNil(tenantClaims(i)), CreatedAt: i.CreatedAt}
	if i.JWKS != "" {
		v.JWKS = json.RawMessage(i.JWKS)
	}
	return v
}

// InlineJWKS is an inline JWK Set as a request gives it: a JSON object
// with "keys", or null (in a PATCH: remove it).
type InlineJWKS []byte

// UnmarshalJSON accepts a JWK Set object or null.
func (j *InlineJWKS) UnmarshalJSON(b []byte) error {
	if string(bytes.TrimSpace(b)) == "null" {
		*j = InlineJWKS("null")
		return nil
	}
	var probe struct {
		Keys []json.RawMessage `json:"keys"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&probe); err != nil || probe.Keys == nil {
		return errors.New("must be a JWK Set: an object with keys")
	}
	*j = append(InlineJWKS(nil), b...)
	return nil
}

// MarshalJSON writes the set as given (null when none).
func (j InlineJWKS) MarshalJSON() ([]byte, error) {
	if len(j) == 0 {
		return []byte("null"), nil
	}
	return []byte(j), nil
}

// ClaimValues is a condition's values: a string or a list of strings.
type ClaimValues []string

// UnmarshalJSON accepts a string or a list of strings.
func (c *ClaimValues) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*c = ClaimValues{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil || many == nil {
		return errors.New("must be a string or a list of strings")
	}
	*c = many
	return nil
}

// OptionalPermissions is a PATCH's permissions: absent (Set false), null
// (all of the account's) or a list.
type OptionalPermissions struct {
	Set  bool
	List *[]string
}

// IsZero: absent (left out when encoded, with omitzero).
func (o OptionalPermissions) IsZero() bool { return !o.Set }

// MarshalJSON writes the list, or null.
func (o OptionalPermissions) MarshalJSON() ([]byte, error) {
	if o.List == nil {
		return []byte("null"), nil
	}
	return json.Marshal(*o.List)
}

// UnmarshalJSON accepts null or a list of strings.
func (o *OptionalPermissions) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(bytes.TrimSpace(b)) == "null" {
		o.List = nil
		return nil
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return errors.New("must be a list of permissions, or null")
	}
	if l == nil {
		l = []string{}
	}
	o.List = &l
	return nil
}

// OIDCIssuerInput is POST /oidc-issuers.
type OIDCIssuerInput struct {
	Name         string     `json:"name"`
	Kind         string     `json:"kind"`
	IssuerURL    string     `json:"issuer_url"`
	JWKSURL      string     `json:"jwks_url"`
	JWKS         InlineJWKS `json:"jwks,omitempty"` // omitted when absent: null means "remove" in a PATCH
	AllowedAlgs  []string   `json:"allowed_algs"`
	Leeway       *string    `json:"leeway"`
	Shared       *bool      `json:"shared"`
	TenantClaims []string   `json:"tenant_claims"`
}

// OIDCIssuerPatch is PATCH /oidc-issuers/{name}: absent fields stay; a
// jwks of null removes the inline key set.
type OIDCIssuerPatch struct {
	IssuerURL    *string    `json:"issuer_url"`
	JWKSURL      *string    `json:"jwks_url"`
	JWKS         InlineJWKS `json:"jwks,omitempty"` // omitted when absent: null means "remove" in a PATCH
	AllowedAlgs  *[]string  `json:"allowed_algs"`
	Leeway       *string    `json:"leeway"`
	Shared       *bool      `json:"shared"`
	TenantClaims *[]string  `json:"tenant_claims"`
}

// checkIssuer validates a whole issuer (after defaults or a patch).
func (s *Federation) checkIssuer(f *fields, i *store.OIDCIssuer, leeway *string) {
	insecure := s.cfg.OIDCAllowInsecureIssuers
	switch {
	case i.IssuerURL == "":
		f.add("issuer_url", "is required (the ID tokens' iss)")
	case len(i.IssuerURL) > maxURL:
		f.add("issuer_url", fmt.Sprintf("must be at most %d characters", maxURL))
	default:
		if err := federation.CheckURL(i.IssuerURL, insecure); err != nil {
			f.add("issuer_url", err.Error())
		}
	}
	if i.JWKSURL != "" {
		if err := federation.CheckURL(i.JWKSURL, insecure); err != nil || len(i.JWKSURL) > maxURL {
			msg := fmt.Sprintf("must be at most %d characters", maxURL)
			if err != nil {
				msg = err.Error()
			}
			f.add("jwks_url", msg)
		}
	}
	if i.JWKS != "" {
		if i.JWKSURL != "" {
			f.add("jwks", "give jwks_url or jwks, not both")
		}
		if len(i.JWKS) > maxJWKS {
			f.add("jwks", fmt.Sprintf("must be at most %d bytes", maxJWKS))
		} else if _, err := federation.ParseJWKS(i.JWKS); err != nil {
			f.add("jwks", err.Error())
		}
	}
	if len(i.AllowedAlgs) == 0 {
		f.add("allowed_algs", "must name at least one algorithm")
	}
	for n, a := range i.AllowedAlgs {
		if msg := federation.CheckAlg(a); msg != "" {
			f.add(fmt.Sprintf("allowed_algs[%d]", n), truncate(msg, 200))
		}
	}
	i.AllowedAlgs = sortedSet(i.AllowedAlgs)
	if leeway != nil {
		d, err := config.ParseDuration(*leeway)
		switch {
		case err != nil:
			f.add("leeway", "must be a duration such as 60s")
		case d < 0:
			f.add("leeway", "must not be negative")
		case d > MaxLeeway:
			f.add("leeway", "must be at most 300s")
		}
		i.Leeway = d
	}
	_, preset := presetTenantClaims[i.Kind]
	if preset && len(i.TenantClaims) > 0 {
		f.add("tenant_claims", fmt.Sprintf("are set by the %s preset: %s", i.Kind, strings.Join(presetTenantClaims[i.Kind], ", ")))
	}
	for n, c := range i.TenantClaims {
		validClaimName(f, fmt.Sprintf("tenant_claims[%d]", n), c)
	}
	if i.Shared && !preset && len(i.TenantClaims) == 0 {
		f.add("tenant_claims", "a shared issuer needs the claims that name its tenant by an immutable ID")
	}
}

func validClaimName(f *fields, field, c string) {
	switch {
	case c == "" || len(c) > maxClaimName:
		f.add(field, fmt.Sprintf("must be a claim name of 1-%d characters", maxClaimName))
	case slices.Contains(federation.ReservedClaims, c):
		f.add(field, c+" is checked by the exchange itself and cannot be a condition")
	}
}

// rawJWKS compacts an inline JWK Set ("" for none or null).
func rawJWKS(f *fields, raw InlineJWKS) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		f.add("jwks", "must be a JWK Set object")
		return ""
	}
	return b.String()
}

// CreateOIDCIssuer adds an issuer (federation.write).
func (s *Federation) CreateOIDCIssuer(ctx context.Context, a Actor, in OIDCIssuerInput) (OIDCIssuerView, error) {
	if err := s.authorize(ctx, a, authz.FederationWrite, issuerTarget(in.Name)); err != nil {
		return OIDCIssuerView{}, err
	}
	var f fields
	f.name("name", in.Name)
	if in.Kind == "" {
		in.Kind = store.IssuerGeneric
	}
	i := store.OIDCIssuer{UID: newUID(), Name: in.Name, Kind: in.Kind, IssuerURL: in.IssuerURL, JWKSURL: in.JWKSURL,
		AllowedAlgs: in.AllowedAlgs, Leeway: DefaultLeeway, TenantClaims: in.TenantClaims, CreatedAt: s.now()}
	switch in.Kind {
	case store.IssuerGeneric, store.IssuerKubernetes:
	case store.IssuerGitHub, store.IssuerGitLab:
		if i.IssuerURL == "" {
			i.IssuerURL = presetIssuerURL[in.Kind]
		}
		i.Shared = true
	default:
		f.add("kind", "must be generic, github, gitlab or kubernetes")
	}
	if in.Shared != nil {
		i.Shared = *in.Shared
	}
	if i.AllowedAlgs == nil {
		i.AllowedAlgs = slices.Clone(federation.DefaultAlgs)
	}
	i.JWKS = rawJWKS(&f, in.JWKS)
	s.checkIssuer(&f, &i, in.Leeway)
	if err := f.err(); err != nil {
		return OIDCIssuerView{}, err
	}
	err := s.write(ctx, func(q store.Queries, rec func(store.Event)) error {
		if err := q.CreateOIDCIssuer(ctx, i); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return &ConflictError{Msg: fmt.Sprintf("an OIDC issuer named %q or with issuer_url %q already exists", i.Name, i.IssuerURL)}
			}
			return err
		}
		rec(s.event(a, audit.ActionModelCreated, audit.Success, issuerTarget(i.Name), issuerEventContext(i)))
		return nil
	})
	return issuerView(i), err
}

func issuerEventContext(i store.OIDCIssuer) map[string]any {
	return map[string]any{"kind": i.Kind, "issuer_url": i.IssuerURL, "jwks_url": i.JWKSURL, "inline_jwks": i.JWKS != "",
		"allowed_algs": nonNil(i.AllowedAlgs), "leeway": i.Leeway.String(), "shared": i.Shared, "tenant_claims": nonNil(tenantClaims(i))}
}

// ListOIDCIssuers lists issuers (federation.read).
func (s *Federation) ListOIDCIssuers(ctx context.Context, a Actor, after string, limit int) ([]OIDCIssuerView, error) {
	return listOf(ctx, s.authorize(ctx, a, authz.FederationRead, issuerTarget("")),
		s.store.ListOIDCIssuers, store.FederationFilter{After: after, Limit: limit}, issuerView)
}

// GetOIDCIssuer reads one issuer (federation.read).
func (s *Federation) GetOIDCIssuer(ctx context.Context, a Actor, name string) (OIDCIssuerView, error) {
	return readOne(ctx, s.authorize(ctx, a, authz.FederationRead, issuerTarget(name)),
		s.store.GetOIDCIssuer, "OIDC issuer", name, infallible(issuerView))
}

// UpdateOIDCIssuer changes an issuer (federation.write). Its name and
// kind stay. Making it shared is refused while a policy on it does not
// pin the tenant.
func (s *Federation) UpdateOIDCIssuer(ctx context.Context, a Actor, name string, in OIDCIssuerPatch) (OIDCIssuerView, error) {
	if err := s.authorize(ctx, a, authz.FederationWrite, issuerTarget(name)); err != nil {
		return OIDCIssuerView{}, err
	}
	var out store.OIDCIssuer
	err := writeOne(ctx, s.Service, store.Queries.GetOIDCIssuer, "OIDC issuer", name, func(q store.Queries, rec func(store.Event), i store.OIDCIssuer) error {
		ps, err := q.ListTrustPolicies(ctx, store.FederationFilter{IssuerUID: i.UID})
		if err != nil {
			return err
		}
		if err := mayControl(ctx, q, a, issuerTarget(name), ps); err != nil {
			return err
		}
		var f fields
		if in.IssuerURL != nil {
			i.IssuerURL = *in.IssuerURL
		}
		if in.JWKSURL != nil {
			i.JWKSURL = *in.JWKSURL
		}
		if len(in.JWKS) > 0 {
			i.JWKS = rawJWKS(&f, in.JWKS)
		}
		if in.AllowedAlgs != nil {
			i.AllowedAlgs = *in.AllowedAlgs
		}
		if in.Shared != nil {
			i.Shared = *in.Shared
		}
		if in.TenantClaims != nil {
			i.TenantClaims = *in.TenantClaims
		}
		s.checkIssuer(&f, &i, in.Leeway)
		if err := f.err(); err != nil {
			return err
		}
		if i.Shared {
			ps, err := q.ListTrustPolicies(ctx, store.FederationFilter{IssuerUID: i.UID})
			if err != nil {
				return err
			}
			for _, p := range ps {
				if !pinned(i, p.Conditions) {
					return &ValidationError{[]FieldError{{"shared", fmt.Sprintf("trust policy %q does not pin the tenant (%s): change it first", p.Name, strings.Join(tenantClaims(i), " or "))}}}
				}
			}
		}
		if err := q.UpdateOIDCIssuer(ctx, i); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return &ConflictError{Msg: fmt.Sprintf("an OIDC issuer with issuer_url %q already exists", i.IssuerURL)}
			}
			return notFound(err, "OIDC issuer", name)
		}
		rec(s.event(a, audit.ActionModelUpdated, audit.Success, issuerTarget(name), issuerEventContext(i)))
		out = i
		return nil
	})
	if err != nil {
		return OIDCIssuerView{}, err
	}
	s.verifier.Forget(name)
	return issuerView(out), nil
}

// DeleteOIDCIssuer deletes an issuer, its trust policies and every token
// they minted, at once (federation.write).
func (s *Federation) DeleteOIDCIssuer(ctx context.Context, a Actor, name string) error {
	if err := s.authorize(ctx, a, authz.FederationWrite, issuerTarget(name)); err != nil {
		return err
	}
	var revoked []string
	err := writeOne(ctx, s.Service, store.Queries.GetOIDCIssuer, "OIDC issuer", name, func(q store.Queries, rec func(store.Event), i store.OIDCIssuer) error {
		ps, err := q.ListTrustPolicies(ctx, store.FederationFilter{IssuerUID: i.UID})
		if err != nil {
			return err
		}
		if err := mayControl(ctx, q, a, issuerTarget(name), ps); err != nil {
			return err
		}
		if revoked, err = q.FederatedTokens(ctx, i.UID, ""); err != nil {
			return err
		}
		return s.deleted(rec, a, q.DeleteOIDCIssuer(ctx, i.UID), "OIDC issuer", name, issuerTarget(name), map[string]any{"tokens_revoked": len(revoked)})
	})
	s.dropTokens(revoked)
	if err == nil {
		s.verifier.Forget(name)
	}
	return err
}

// dropTokens makes revoked tokens' keys fail on the next request here;
// other instances hear of the change from the database.
func (s *Service) dropTokens(uids []string) {
	for _, uid := range uids {
		s.authn.InvalidateToken(uid)
	}
}

// ---- Trust policies ----

// TrustPolicyView is a trust policy as the API shows it.
type TrustPolicyView = client.TrustPolicy

func policyView(p store.TrustPolicy) TrustPolicyView {
	v := TrustPolicyView{Name: p.Name, Description: p.Description, Issuer: p.IssuerName, ServiceAccount: p.Username, Audience: p.Audience,
		Conditions: p.Conditions, AllowedCIDRs: nonNil(p.AllowedCIDRs), TTL: p.TTL.String(), CreatedAt: p.CreatedAt}
	if p.Permissions != nil {
		l := nonNil(*p.Permissions)
		v.Permissions = &l
	}
	return v
}

// TrustPolicyInput is POST /trust-policies. A condition is a claim name
// and a string or a list of strings.
type TrustPolicyInput struct {
	Name           string                 `json:"name"`
	Description    string                 `json:"description"`
	Issuer         string                 `json:"issuer"`
	ServiceAccount string                 `json:"service_account"`
	Audience       string                 `json:"audience"`
	Conditions     map[string]ClaimValues `json:"conditions"`
	Permissions    *[]string              `json:"permissions"`
	AllowedCIDRs   []string               `json:"allowed_cidrs"`
	TTL            *string                `json:"ttl"`
}

// TrustPolicyPatch is PATCH /trust-policies/{name}: absent fields stay;
// permissions of null gives the minted tokens all of the account's.
type TrustPolicyPatch struct {
	Description    *string                `json:"description"`
	ServiceAccount *string                `json:"service_account"`
	Audience       *string                `json:"audience"`
	Conditions     map[string]ClaimValues `json:"conditions"`
	Permissions    OptionalPermissions    `json:"permissions,omitzero"`
	AllowedCIDRs   *[]string              `json:"allowed_cidrs"`
	TTL            *string                `json:"ttl"`
}

// parseConditions reads claim -> string or list of strings.
func parseConditions(f *fields, in map[string]ClaimValues) map[string][]string {
	if len(in) == 0 {
		f.add("conditions", "name at least one claim: a policy without conditions would trust every ID token of the issuer")
		return nil
	}
	if len(in) > maxConditions {
		f.add("conditions", fmt.Sprintf("must have at most %d claims", maxConditions))
		return nil
	}
	out := make(map[string][]string, len(in))
	for _, name := range slices.Sorted(maps.Keys(in)) {
		field := "conditions." + truncate(name, maxClaimName)
		validClaimName(f, field, name)
		many := []string(in[name])
		if len(many) == 0 {
			f.add(field, "must be a string or a non-empty list of strings")
			continue
		}
		if len(many) > maxConditionVals {
			f.add(field, fmt.Sprintf("must have at most %d values", maxConditionVals))
			continue
		}
		for _, v := range many {
			if v == "" || len(v) > maxClaimValue {
				f.add(field, fmt.Sprintf("values must be 1-%d characters", maxClaimValue))
				break
			}
		}
		out[name] = sortedSet(many)
	}
	return out
}

// pinned reports whether conditions pin the tenant on a shared issuer.
func pinned(i store.OIDCIssuer, conds map[string][]string) bool {
	if !i.Shared {
		return true
	}
	for _, c := range tenantClaims(i) {
		if _, ok := conds[c]; ok {
			return true
		}
	}
	return false
}

func parseMintTTL(f *fields, ttl *string) time.Duration {
	if ttl == nil {
		return DefaultMintTTL
	}
	d, err := config.ParseDuration(*ttl)
	switch {
	case err != nil:
		f.add("ttl", "must be a duration such as 15m")
	case d < MinMintTTL:
		f.add("ttl", "must be at least 1m")
	case d > MaxMintTTL:
		f.add("ttl", "must be at most 1h")
	}
	return d
}

// checkPolicy validates, inside the write, what depends on other rows:
// the issuer's tenant pin, the account (a service account, no more
// powerful than the actor), and the minted tokens' restrictions, which
// are validated against the account as a token's are. It sets p's
// account and restrictions.
func (s *Federation) checkPolicy(ctx context.Context, q store.Queries, a Actor, f *fields, p *store.TrustPolicy, i store.OIDCIssuer, account string, perms *[]string, cidrs []string) error {
	if !pinned(i, p.Conditions) && p.Conditions != nil {
		f.add("conditions", fmt.Sprintf("issuer %q is shared by many tenants: pin yours by its immutable ID (a condition on %s), or a renamed or re-registered owner could inherit this policy",
			i.Name, strings.Join(tenantClaims(i), " or ")))
	}
	u, err := q.GetUser(ctx, account)
	switch {
	case errors.Is(err, store.ErrNotFound):
		f.add("service_account", fmt.Sprintf("service account %q does not exist", truncate(account, 64)))
		return nil
	case err != nil:
		return err
	case u.Type != store.TypeServiceAccount:
		f.add("service_account", fmt.Sprintf("%q is not a service account: only service accounts are minted tokens", u.Username))
		return nil
	}
	p.UserUID, p.Username = u.UID, u.Username
	if r := a.Cred.Restrictions; r != nil && (len(r.Applications) > 0 || len(r.LDAPProviders) > 0) {
		return refuse(a, authz.FederationWrite, policyTarget(p.Name), "your key is bound to applications or LDAP providers, which a trust policy cannot hand on")
	}
	// As for a token made for another: the actor's own narrowing and
	// networks are handed on (restrictionsFor), and the account's power,
	// narrowed, must be within the actor's (bound.go).
	r, err := restrictionsFor(ctx, q, f, Actor{P: a.P, Cred: a.Cred}, u, RestrictionsInput{Permissions: perms, AllowedCIDRs: cidrs})
	if err != nil || len(*f) > 0 {
		return err
	}
	p.Permissions, p.AllowedCIDRs = nil, nil
	if r != nil {
		p.Permissions, p.AllowedCIDRs = r.Permissions, r.AllowedCIDRs
	}
	power, err := tokenPower(ctx, q, u, r)
	if err != nil {
		return err
	}
	if !a.P.Covers(power) {
		return refuse(a, authz.FederationWrite, policyTarget(p.Name), fmt.Sprintf("the minted tokens could do more than you: %s", strings.Join(missingFrom(a.P, power), ", ")))
	}
	return nil
}

// mayControl is the no-way-up bound on what decides whose ID tokens open
// the given policies: changing or deleting their issuer (its keys, URL,
// algorithms, leeway) or deleting a policy, which revokes every token it
// minted. The actor must hold at least what each policy's minted tokens
// may do, or a federation.write holder could put in its own keys and mint
// an administrator's token, or revoke it.
func mayControl(ctx context.Context, q store.Queries, a Actor, target audit.Target, ps []store.TrustPolicy) error {
	for _, p := range ps {
		u, err := q.GetUserByUID(ctx, p.UserUID)
		if err != nil {
			return notFound(err, "user", p.Username)
		}
		power, err := tokenPower(ctx, q, u, &store.TokenRestrictions{Permissions: p.Permissions})
		if err != nil {
			return err
		}
		if !a.P.Covers(power) {
			return refuse(a, authz.FederationWrite, target, fmt.Sprintf("trust policy %q mints tokens that could do more than you: %s",
				p.Name, strings.Join(missingFrom(a.P, power), ", ")))
		}
	}
	return nil
}

func policyEventContext(p store.TrustPolicy) map[string]any {
	c := map[string]any{"issuer": p.IssuerName, "service_account": p.Username, "audience": p.Audience, "conditions": p.Conditions,
		"allowed_cidrs": nonNil(p.AllowedCIDRs), "ttl": p.TTL.String()}
	if p.Permissions != nil {
		c["permissions"] = nonNil(*p.Permissions)
	}
	return c
}

// CreateTrustPolicy adds a policy (federation.write).
func (s *Federation) CreateTrustPolicy(ctx context.Context, a Actor, in TrustPolicyInput) (TrustPolicyView, error) {
	if err := s.authorize(ctx, a, authz.FederationWrite, policyTarget(in.Name)); err != nil {
		return TrustPolicyView{}, err
	}
	var f fields
	f.name("name", in.Name)
	f.maxLen("description", in.Description, 1024)
	if in.Issuer == "" {
		f.add("issuer", "is required")
	}
	if in.ServiceAccount == "" {
		f.add("service_account", "is required")
	}
	validAudience(&f, in.Audience)
	p := store.TrustPolicy{UID: newUID(), Name: in.Name, Description: in.Description, Audience: in.Audience, CreatedAt: s.now()}
	p.Conditions = parseConditions(&f, in.Conditions)
	p.TTL = parseMintTTL(&f, in.TTL)
	if err := f.err(); err != nil {
		return TrustPolicyView{}, err
	}
	err := s.write(ctx, func(q store.Queries, rec func(store.Event)) error {
		var f fields
		i, err := q.GetOIDCIssuer(ctx, in.Issuer)
		if errors.Is(err, store.ErrNotFound) {
			return &ValidationError{[]FieldError{{"issuer", fmt.Sprintf("OIDC issuer %q does not exist", truncate(in.Issuer, 64))}}}
		} else if err != nil {
			return err
		}
		p.IssuerUID, p.IssuerName = i.UID, i.Name
		if err := s.checkPolicy(ctx, q, a, &f, &p, i, in.ServiceAccount, in.Permissions, in.AllowedCIDRs); err != nil {
			return err
		}
		if err := f.err(); err != nil {
			return err
		}
		if err := q.CreateTrustPolicy(ctx, p); err != nil {
			return taken(err, "trust policy", p.Name)
		}
		rec(s.event(a, audit.ActionModelCreated, audit.Success, policyTarget(p.Name), policyEventContext(p)))
		return nil
	})
	return policyView(p), err
}

func validAudience(f *fields, aud string) {
	switch {
	case aud == "":
		f.add("audience", "is required: the value the ID token's aud must contain")
	case len(aud) > maxURL:
		f.add("audience", fmt.Sprintf("must be at most %d characters", maxURL))
	}
}

// ListTrustPolicies lists policies (federation.read), of one issuer when
// issuer is given.
func (s *Federation) ListTrustPolicies(ctx context.Context, a Actor, issuer, after string, limit int) ([]TrustPolicyView, error) {
	if err := s.authorize(ctx, a, authz.FederationRead, policyTarget("")); err != nil {
		return nil, err
	}
	filter := store.FederationFilter{After: after, Limit: limit}
	if issuer != "" {
		i, err := s.store.GetOIDCIssuer(ctx, issuer)
		if err != nil {
			return nil, notFound(err, "OIDC issuer", issuer)
		}
		filter.IssuerUID = i.UID
	}
	return listOf(ctx, nil, s.store.ListTrustPolicies, filter, policyView)
}

// GetTrustPolicy reads one policy (federation.read).
func (s *Federation) GetTrustPolicy(ctx context.Context, a Actor, name string) (TrustPolicyView, error) {
	return readOne(ctx, s.authorize(ctx, a, authz.FederationRead, policyTarget(name)),
		s.store.GetTrustPolicy, "trust policy", name, infallible(policyView))
}

// UpdateTrustPolicy changes a policy (federation.write); its name and
// issuer stay. Tokens it minted keep what they were minted with.
func (s *Federation) UpdateTrustPolicy(ctx context.Context, a Actor, name string, in TrustPolicyPatch) (TrustPolicyView, error) {
	if err := s.authorize(ctx, a, authz.FederationWrite, policyTarget(name)); err != nil {
		return TrustPolicyView{}, err
	}
	var f fields
	if in.Description != nil {
		f.maxLen("description", *in.Description, 1024)
	}
	if in.Audience != nil {
		validAudience(&f, *in.Audience)
	}
	var conds map[string][]string
	if in.Conditions != nil {
		conds = parseConditions(&f, in.Conditions)
	}
	var ttl time.Duration
	if in.TTL != nil {
		ttl = parseMintTTL(&f, in.TTL)
	}
	perms, permsGiven := in.Permissions.List, in.Permissions.Set
	if err := f.err(); err != nil {
		return TrustPolicyView{}, err
	}
	var out store.TrustPolicy
	err := writeOne(ctx, s.Service, store.Queries.GetTrustPolicy, "trust policy", name, func(q store.Queries, rec func(store.Event), p store.TrustPolicy) error {
		i, err := q.GetOIDCIssuer(ctx, p.IssuerName)
		if err != nil {
			return err
		}
		if in.Description != nil {
			p.Description = *in.Description
		}
		if in.Audience != nil {
			p.Audience = *in.Audience
		}
		if conds != nil {
			p.Conditions = conds
		}
		if in.TTL != nil {
			p.TTL = ttl
		}
		account := p.Username
		if in.ServiceAccount != nil {
			account = *in.ServiceAccount
		}
		if !permsGiven {
			perms = p.Permissions
		}
		cidrs := p.AllowedCIDRs
		if in.AllowedCIDRs != nil {
			cidrs = *in.AllowedCIDRs
		}
		var f fields
		if err := s.checkPolicy(ctx, q, a, &f, &p, i, account, perms, cidrs); err != nil {
			return err
		}
		if err := f.err(); err != nil {
			return err
		}
		if err := q.UpdateTrustPolicy(ctx, p); err != nil {
			return notFound(err, "trust policy", name)
		}
		rec(s.event(a, audit.ActionModelUpdated, audit.Success, policyTarget(name), policyEventContext(p)))
		out = p
		return nil
	})
	return policyView(out), err
}

// DeleteTrustPolicy deletes a policy and every token it minted, at once
// (federation.write).
func (s *Federation) DeleteTrustPolicy(ctx context.Context, a Actor, name string) error {
	if err := s.authorize(ctx, a, authz.FederationWrite, policyTarget(name)); err != nil {
		return err
	}
	var revoked []string
	err := writeOne(ctx, s.Service, store.Queries.GetTrustPolicy, "trust policy", name, func(q store.Queries, rec func(store.Event), p store.TrustPolicy) error {
		if err := mayControl(ctx, q, a, policyTarget(name), []store.TrustPolicy{p}); err != nil {
			return err
		}
		var err error
		if revoked, err = q.FederatedTokens(ctx, "", p.UID); err != nil {
			return err
		}
		return s.deleted(rec, a, q.DeleteTrustPolicy(ctx, p.UID), "trust policy", name, policyTarget(name), map[string]any{"issuer": p.IssuerName, "tokens_revoked": len(revoked)})
	})
	s.dropTokens(revoked)
	return err
}
