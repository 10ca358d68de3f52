package core

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/client"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/federation"
	"github.com/gatehouse/gatehouse/internal/store"
)

// The exchange's own refusal reasons (the verifier's are in federation).
const (
	reasonUnknownIssuer    auth.FailureReason = "unknown_issuer"
	reasonMissingJTI       auth.FailureReason = "missing_jti"
	reasonNoPolicyMatched  auth.FailureReason = "no_policy_matched"
	reasonAmbiguousAccount auth.FailureReason = "ambiguous_service_account"
	reasonReplayedJTI      auth.FailureReason = "replayed_jti"
	reasonScopeNotAllowed  auth.FailureReason = "scope_not_allowed"
)

// exchangeMatch is what an accepted ID token matched.
type exchangeMatch struct {
	issuer store.OIDCIssuer
	policy store.TrustPolicy
	owner  store.User
	token  *federation.Token
}

// exchangeDenial is an ID token refused by the credential check: the
// *auth.Failure the door acts on, and what the token_exchange_denied
// event says (never the token itself).
type exchangeDenial struct {
	failure  *auth.Failure
	issuer   string
	detail   string
	account  string
	claims   map[string]any
	policies map[string]string
}

func (e *exchangeDenial) Error() string { return e.failure.Error() }
func (e *exchangeDenial) Unwrap() error { return e.failure }

func deny(reason auth.FailureReason, issuer, account, detail string) *exchangeDenial {
	return &exchangeDenial{failure: &auth.Failure{Reason: reason, Username: account}, issuer: issuer, account: account, detail: detail}
}

// eventClaims is what an event keeps of a verified token's claims:
// scalars only, bounded.
func eventClaims(claims map[string]any) map[string]any {
	out := map[string]any{}
	for _, k := range slices.Sorted(mapKeys(claims)) {
		if len(out) == maxEventClaims {
			break
		}
		if v, ok := federation.ClaimValue(claims[k]); ok {
			out[Untrusted(truncate(k, 64))] = Untrusted(truncate(v, maxEventClaimSize))
		}
	}
	return out
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// unavailableErr marks a failure to check (the database), which the
// doors answer 503.
func unavailableErr(err error) error { return fmt.Errorf("%w: %v", auth.ErrUnavailable, err) }

// policyFailure says why p does not take tok for the account asked
// ("" when it does).
func policyFailure(p store.TrustPolicy, tok *federation.Token, account string) string {
	if account != "" && p.Username != account {
		return "service_account"
	}
	if !slices.Contains(tok.Audience, p.Audience) {
		return "audience"
	}
	if failed, ok := federation.Match(p.Conditions, tok.Claims); !ok {
		return "condition " + failed
	}
	return ""
}

// verifyIDToken is the credential check's KindIDToken case: the issuer
// named by iss, the signature and times (the verifier), the jti, the
// trust policies, the account, the network.
func (s *Federation) verifyIDToken(ctx context.Context, in Presented, clientIP string) (Checked, error) {
	account := in.Username
	iss, err := federation.Peek(in.Secret)
	if err != nil {
		return Checked{}, deny(auth.ReasonMalformed, "", account, err.Error())
	}
	i, err := s.store.GetOIDCIssuerByURL(ctx, iss)
	if errors.Is(err, store.ErrNotFound) {
		return Checked{}, deny(reasonUnknownIssuer, "", account, "no issuer has issuer_url "+Untrusted(truncate(iss, 200)))
	} else if err != nil {
		return Checked{}, unavailableErr(err)
	}
	tok, err := s.verifier.Verify(ctx, verifierIssuer(i), in.Secret)
	if err != nil {
		return Checked{}, deny(auth.FailureReason(federation.ReasonOf(err)), i.Name, account, err.Error())
	}
	claims := eventClaims(tok.Claims)
	denied := func(reason auth.FailureReason, detail string) (Checked, error) {
		d := deny(reason, i.Name, account, detail)
		d.claims = claims
		return Checked{}, d
	}
	// Each ID token is good for one exchange: without a jti there is
	// nothing to remember it by (PyPI's trusted publishing refuses such
	// tokens too).
	if tok.JTI == "" || len(tok.JTI) > maxJTI {
		return denied(reasonMissingJTI, "the ID token has no jti (or one longer than 256 bytes)")
	}
	ps, err := s.store.ListTrustPolicies(ctx, store.FederationFilter{IssuerUID: i.UID})
	if err != nil {
		return Checked{}, unavailableErr(err)
	}
	var matches []store.TrustPolicy
	failures := map[string]string{}
	for _, p := range ps {
		if why := policyFailure(p, tok, account); why != "" {
			failures[p.Name] = why
			continue
		}
		matches = append(matches, p)
	}
	if len(matches) == 0 {
		d := deny(reasonNoPolicyMatched, i.Name, account, "no trust policy of the issuer matches")
		d.claims, d.policies = claims, failures
		return Checked{}, d
	}
	if account == "" {
		accounts := map[string]bool{}
		for _, p := range matches {
			accounts[p.Username] = true
		}
		if len(accounts) > 1 {
			return denied(reasonAmbiguousAccount, "policies for several service accounts match: name one (service_account)")
		}
	}
	// Several policies of one account match: the first by name decides
	// (its permissions, networks and TTL).
	p := matches[0]
	owner, err := s.store.GetUserByUID(ctx, p.UserUID)
	if err != nil {
		return Checked{}, unavailableErr(err)
	}
	if !owner.IsActive {
		d := deny(auth.ReasonInactive, i.Name, owner.Username, "the service account is disabled")
		d.claims = claims
		return Checked{}, d
	}
	if len(p.AllowedCIDRs) > 0 && !auth.NewRestrictions(&store.TokenRestrictions{AllowedCIDRs: p.AllowedCIDRs}).AllowsAddress(clientIP) {
		return denied(ReasonSourceNotAllowed, "the policy's allowed_cidrs do not hold the client's address")
	}
	pr, err := s.authn.PrincipalByUID(ctx, owner.UID)
	if err != nil {
		if errors.Is(err, auth.ErrBadCredential) {
			return denied(auth.ReasonInactive, "the service account cannot sign in")
		}
		return Checked{}, unavailableErr(err)
	}
	return Checked{P: pr, Exchange: &exchangeMatch{issuer: i, policy: p, owner: owner, token: tok}}, nil
}

// exchangeDenied writes the token_exchange_denied event of a refused ID
// token.
func (s *Federation) exchangeDenied(ctx context.Context, clientIP string, err error) {
	c := map[string]any{}
	var d *exchangeDenial
	issuer := ""
	if errors.As(err, &d) {
		issuer = d.issuer
		c["reason"] = string(d.failure.Reason)
		c["issuer"] = d.issuer
		if d.detail != "" {
			c["detail"] = Untrusted(truncate(d.detail, 300))
		}
		if d.account != "" {
			c["service_account"] = Untrusted(truncate(d.account, 64))
		}
		if d.claims != nil {
			c["claims"] = d.claims
		}
		if d.policies != nil {
			c["policies"] = d.policies
		}
	} else {
		var f *auth.Failure
		if errors.As(err, &f) {
			c["reason"] = string(f.Reason)
		}
	}
	s.recordDenied(ctx, clientIP, issuerTarget(issuer), c)
}

func (s *Federation) recordDenied(ctx context.Context, clientIP string, target audit.Target, c map[string]any) {
	c["method"] = "token_exchange"
	ev := s.event(Actor{ClientIP: clientIP}, audit.ActionTokenExchangeDenied, audit.Failure, target, c)
	if err := s.record(ctx, ev); err != nil {
		s.log.Error("write token_exchange_denied event", "err", err)
	}
}

var errReplayed = errors.New("jti exchanged before")

// OAuthError is a refusal in RFC 6749 section 5.2's shape.
type OAuthError struct {
	Code        string // invalid_request, invalid_grant, unsupported_grant_type, invalid_scope
	Description string
}

func (e *OAuthError) Error() string { return e.Code + ": " + e.Description }

// ExchangeInput is the form of POST /oauth/token.
type ExchangeInput struct {
	GrantType          string
	SubjectToken       string
	SubjectTokenType   string
	RequestedTokenType string
	ServiceAccount     string
	Scope              string
}

// ExchangeResult is the answer of a successful exchange.
type ExchangeResult = client.ExchangeResult

// invalidGrant is the one answer to every refused ID token: which check
// failed is in the token_exchange_denied event, not in the answer.
var invalidGrant = &OAuthError{Code: "invalid_grant", Description: "the ID token was not accepted (the token_exchange_denied event says why; POST /api/v1/trust-policies/test explains it)"}

// Exchange trades an ID token for a minted token of the service account
// its trust policy names (RFC 8693). It needs no other credential.
// Refusals are *OAuthError, or the check's *Refusal when the limiter
// refused (429) or the check could not be made (503).
func (s *Federation) Exchange(ctx context.Context, clientIP string, in ExchangeInput) (ExchangeResult, error) {
	switch {
	case in.GrantType != GrantTokenExchange:
		return ExchangeResult{}, &OAuthError{Code: "unsupported_grant_type", Description: "grant_type must be " + GrantTokenExchange}
	case in.SubjectToken == "":
		return ExchangeResult{}, &OAuthError{Code: "invalid_request", Description: "subject_token is required"}
	case in.SubjectTokenType != TokenTypeIDToken && in.SubjectTokenType != TokenTypeJWT:
		return ExchangeResult{}, &OAuthError{Code: "invalid_request", Description: "subject_token_type must be " + TokenTypeIDToken + " or " + TokenTypeJWT}
	case in.RequestedTokenType != "" && in.RequestedTokenType != TokenTypeAccessToken:
		return ExchangeResult{}, &OAuthError{Code: "invalid_request", Description: "requested_token_type must be " + TokenTypeAccessToken}
	case in.ServiceAccount != "" && !NameRule.MatchString(in.ServiceAccount):
		return ExchangeResult{}, &OAuthError{Code: "invalid_request", Description: "service_account is not a valid name"}
	case len(in.Scope) > 4096:
		return ExchangeResult{}, &OAuthError{Code: "invalid_scope", Description: "scope is too long"}
	}
	checked, err := s.Credentials.CheckCredential(ctx, DoorTokenExchange,
		Presented{Kind: KindIDToken, Username: in.ServiceAccount, Secret: in.SubjectToken}, clientIP, CheckOptions{})
	if err != nil {
		var r *Refusal
		if errors.As(err, &r) && (r.Reason == RefusedRateLimited || r.Reason == RefusedUnavailable) {
			return ExchangeResult{}, err
		}
		if errors.As(err, &r) {
			return ExchangeResult{}, invalidGrant
		}
		return ExchangeResult{}, err
	}
	m := checked.Exchange
	refused := func(reason auth.FailureReason, detail string, answer *OAuthError) (ExchangeResult, error) {
		s.LDAP.limiter().Failure("", clientIP)
		d := deny(reason, m.issuer.Name, m.owner.Username, detail)
		d.claims = eventClaims(m.token.Claims)
		s.exchangeDenied(ctx, clientIP, d)
		return ExchangeResult{}, answer
	}
	// The minted token's permissions: the scope asked, within the
	// policy's (or the account's).
	perms := m.policy.Permissions
	scope := strings.Fields(in.Scope)
	if len(scope) > 0 {
		norm, bad := authz.NormalizePermissions(scope)
		allowed := true
		for _, p := range norm {
			pp, _ := authz.ParsePermission(p)
			allowed = allowed && checked.P.CanOn(pp.Name, authz.Object{Kind: pp.Kind, Name: pp.Object})
		}
		if len(bad) > 0 || !allowed || len(norm) > MaxRestrictionEntries {
			return refused(reasonScopeNotAllowed, "scope asks for "+Untrusted(truncate(in.Scope, 200)),
				&OAuthError{Code: "invalid_scope", Description: "scope must be permissions the trust policy allows"})
		}
		perms = &norm
	}
	ttl := m.policy.TTL
	if limit := s.cfg.TokenMaxTTL; limit > 0 && ttl > limit {
		ttl = limit
	}
	now := s.now()
	exp := now.Add(ttl)
	r := &store.TokenRestrictions{Permissions: perms, AllowedCIDRs: m.policy.AllowedCIDRs, Federated: &store.TokenFederation{
		Issuer: m.issuer.Name, Policy: m.policy.Name, Subject: truncate(m.token.Subject, 256), JTI: m.token.JTI}}
	actor := Actor{P: checked.P, ClientIP: clientIP}
	var v TokenView
	err = s.write(ctx, func(q store.Queries, rec func(store.Event)) error {
		// Kept until the ID token expires (and its leeway): after that
		// the token is refused as expired anyway.
		if err := q.UseJTI(ctx, m.issuer.IssuerURL, m.token.JTI, m.token.Expiry.Add(m.issuer.Leeway)); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return errReplayed
			}
			return err
		}
		var err error
		v, err = s.Credentials.issueToken(ctx, q, rec, actor, m.owner, newToken{intent: store.IntentAPI,
			description: "minted by trust policy " + m.policy.Name, life: tokenLife{expiring: true, expiresAt: &exp},
			restrictions: r, federatedPolicyUID: m.policy.UID})
		if err != nil {
			return err
		}
		c := map[string]any{"issuer": m.issuer.Name, "policy": m.policy.Name, "subject": Untrusted(truncate(m.token.Subject, 256)),
			"jti": Untrusted(m.token.JTI), "service_account": m.owner.Username, "token": v.Identifier,
			"expires_at": exp.Format(time.RFC3339), "claims": checkedClaims(m.policy, m.token)}
		if perms != nil {
			c["permissions"] = nonNil(*perms)
		}
		rec(s.event(actor, audit.ActionTokenExchanged, audit.Success, tokenTarget(v.Identifier), c))
		return nil
	})
	if errors.Is(err, errReplayed) {
		return refused(reasonReplayedJTI, "the ID token's jti was exchanged before", invalidGrant)
	}
	if err != nil {
		return ExchangeResult{}, err
	}
	out := ExchangeResult{AccessToken: v.Key, IssuedTokenType: TokenTypeAccessToken, TokenType: "Bearer", ExpiresIn: int(ttl / time.Second)}
	if len(scope) > 0 {
		out.Scope = strings.Join(*perms, " ")
	}
	return out, nil
}

// checkedClaims are the claims the policy checked, with their values.
func checkedClaims(p store.TrustPolicy, tok *federation.Token) map[string]string {
	out := map[string]string{"aud": p.Audience}
	for k := range p.Conditions {
		v, _ := federation.ClaimValue(tok.Claims[k])
		out[k] = Untrusted(truncate(v, maxEventClaimSize))
	}
	return out
}

// ---- The policy tester ----

// PolicyTestInput is POST /trust-policies/test.
type PolicyTestInput = client.PolicyTest

// PolicyTestOutcome is one policy's verdict.
type PolicyTestOutcome = client.PolicyTestOutcome

// PolicyTestResult says what the exchange would make of an ID token.
type PolicyTestResult = client.PolicyTestResult

// TestTrustPolicies says which policies would take an ID token, and for
// each that would not, which check fails (federation.read). The token is
// neither stored nor logged, and its jti is not used up.
func (s *Federation) TestTrustPolicies(ctx context.Context, a Actor, in PolicyTestInput) (PolicyTestResult, error) {
	if err := s.authorize(ctx, a, authz.FederationRead, policyTarget("")); err != nil {
		return PolicyTestResult{}, err
	}
	var f fields
	if in.IDToken == "" {
		f.add("id_token", "is required")
	} else if len(in.IDToken) > federation.MaxTokenSize {
		f.add("id_token", fmt.Sprintf("must be at most %d bytes", federation.MaxTokenSize))
	}
	if err := f.err(); err != nil {
		return PolicyTestResult{}, err
	}
	out := PolicyTestResult{Claims: map[string]any{}, Policies: []PolicyTestOutcome{}}
	iss, err := federation.Peek(in.IDToken)
	if err != nil {
		out.Refused, out.Detail = string(federation.ReasonOf(err)), err.Error()
		return out, nil
	}
	i, err := s.store.GetOIDCIssuerByURL(ctx, iss)
	if errors.Is(err, store.ErrNotFound) {
		out.Refused, out.Detail = string(reasonUnknownIssuer), "no issuer has issuer_url "+truncate(iss, 200)
		return out, nil
	} else if err != nil {
		return out, err
	}
	out.Issuer = i.Name
	tok, err := s.verifier.Verify(ctx, verifierIssuer(i), in.IDToken)
	if err != nil {
		out.Refused, out.Detail = string(federation.ReasonOf(err)), err.Error()
		return out, nil
	}
	out.Verified, out.Claims = true, eventClaims(tok.Claims)
	switch {
	case tok.JTI == "" || len(tok.JTI) > maxJTI:
		out.Refused, out.Detail = string(reasonMissingJTI), "the ID token has no jti"
	default:
		used, err := s.jtiUsed(ctx, i.IssuerURL, tok.JTI)
		if err != nil {
			return out, err
		}
		if used {
			out.Refused, out.Detail = string(reasonReplayedJTI), "the ID token's jti was exchanged before"
		}
	}
	ps, err := s.store.ListTrustPolicies(ctx, store.FederationFilter{IssuerUID: i.UID})
	if err != nil {
		return out, err
	}
	for _, p := range ps {
		o := PolicyTestOutcome{Name: p.Name, ServiceAccount: p.Username, Failed: policyFailure(p, tok, in.ServiceAccount)}
		if o.Failed == "" {
			if u, err := s.store.GetUserByUID(ctx, p.UserUID); err == nil && !u.IsActive {
				o.Failed = "service_account_disabled"
			}
		}
		o.Matches = o.Failed == ""
		out.Policies = append(out.Policies, o)
	}
	return out, nil
}

// jtiUsed reads, without using it up, whether a jti was exchanged: a
// write that is rolled back (UseJTI in a transaction that fails on
// purpose), so no store query is added for the tester.
func (s *Federation) jtiUsed(ctx context.Context, issuerURL, jti string) (bool, error) {
	errProbe := errors.New("probe")
	err := s.store.InTx(ctx, func(q store.Queries) error {
		if err := q.UseJTI(ctx, issuerURL, jti, s.now().Add(time.Minute)); err != nil {
			return err
		}
		return errProbe
	})
	switch {
	case errors.Is(err, errProbe):
		return false, nil
	case errors.Is(err, store.ErrConflict):
		return true, nil
	}
	return false, err
}
