package api

import (
	"errors"
	"mime"
	"net/http"
	"slices"

	"github.com/gatehouse/gatehouse/internal/core"
	"github.com/gatehouse/gatehouse/internal/httpx"
)

// federationRoutes: OIDC issuers, trust policies, their tester, and the
// token exchange (RFC 8693), a door of its own that takes no credential
// but the ID token in its body.
func (s *Server) federationRoutes() []Route {
	return slices.Concat(
		collection(s, "/api/v1/oidc-issuers", "name", s.listOIDCIssuers,
			(*core.Federation).CreateOIDCIssuer, (*core.Federation).GetOIDCIssuer, (*core.Federation).UpdateOIDCIssuer, (*core.Federation).DeleteOIDCIssuer),
		collection(s, "/api/v1/trust-policies", "name", s.listTrustPolicies,
			(*core.Federation).CreateTrustPolicy, (*core.Federation).GetTrustPolicy, (*core.Federation).UpdateTrustPolicy, (*core.Federation).DeleteTrustPolicy),
		[]Route{
			{Method: "POST", Path: "/api/v1/trust-policies/test", handler: answerBody(s, (*core.Federation).TestTrustPolicies)},
			{Method: "POST", Path: "/api/v1/oauth/token", Public: true, handler: s.tokenExchange},
		})
}

func (s *Server) listOIDCIssuers(w http.ResponseWriter, r *http.Request, a core.Actor) {
	listPage(s, w, r, func(after string, limit int) ([]core.OIDCIssuerView, error) {
		return s.core.Federation.ListOIDCIssuers(r.Context(), a, after, limit)
	}, func(v core.OIDCIssuerView) string { return v.Name })
}

func (s *Server) listTrustPolicies(w http.ResponseWriter, r *http.Request, a core.Actor) {
	listPage(s, w, r, func(after string, limit int) ([]core.TrustPolicyView, error) {
		return s.core.Federation.ListTrustPolicies(r.Context(), a, r.URL.Query().Get("issuer"), after, limit)
	}, func(v core.TrustPolicyView) string { return v.Name })
}

// TokenExchangeRequest is the form of POST /oauth/token (RFC 8693).
type TokenExchangeRequest struct {
	GrantType          string `json:"grant_type"`
	SubjectToken       string `json:"subject_token"`
	SubjectTokenType   string `json:"subject_token_type"`
	RequestedTokenType string `json:"requested_token_type"`
	ServiceAccount     string `json:"service_account"`
	Scope              string `json:"scope"`
	Audience           string `json:"audience"`
	Resource           string `json:"resource"`
}

var exchangeFields = []string{"grant_type", "subject_token", "subject_token_type", "requested_token_type", "service_account", "scope", "audience", "resource"}

// oauthError answers RFC 6749 section 5.2's JSON.
func oauthError(w http.ResponseWriter, status int, code, description string) {
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}

// tokenExchange is the exchange's door: it turns the form into the
// core's call and the answer into RFC 8693/6749's JSON. Any credential
// in Authorization is ignored: the ID token is the credential.
func (s *Server) tokenExchange(w http.ResponseWriter, r *http.Request, a core.Actor) {
	release, wait := s.limits.Acquire(a.ClientIP)
	if release == nil {
		httpx.RetryAfter(w.Header(), wait)
		oauthError(w, http.StatusTooManyRequests, "invalid_request", "too many requests; retry after the time in Retry-After")
		return
	}
	defer release()
	// Only the body counts: a token in the query string would end up in
	// access logs.
	if _, ok := r.URL.Query()["subject_token"]; ok {
		oauthError(w, http.StatusBadRequest, "invalid_request", "subject_token must be sent in the body, not the query string")
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "the body must be application/x-www-form-urlencoded")
		return
	}
	form, err := httpx.ReadForm(w, r, exchangeFields...)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			oauthError(w, http.StatusRequestEntityTooLarge, "invalid_request", "the body is too large")
			return
		}
		msg := "the form is not well-formed"
		var ve *core.ValidationError
		if errors.As(err, &ve) {
			msg = ve.Error()
		}
		oauthError(w, http.StatusBadRequest, "invalid_request", msg)
		return
	}
	if form.Get("audience") != "" || form.Get("resource") != "" {
		oauthError(w, http.StatusBadRequest, "invalid_target", "audience and resource are not supported: the token is for this gatehouse")
		return
	}
	out, err := s.core.Federation.Exchange(r.Context(), a.ClientIP, core.ExchangeInput{
		GrantType: form.Get("grant_type"), SubjectToken: form.Get("subject_token"), SubjectTokenType: form.Get("subject_token_type"),
		RequestedTokenType: form.Get("requested_token_type"), ServiceAccount: form.Get("service_account"), Scope: form.Get("scope")})
	if err != nil {
		var oe *core.OAuthError
		var rl *core.RateLimitedError
		switch {
		case errors.As(err, &oe):
			oauthError(w, http.StatusBadRequest, oe.Code, oe.Description)
		case errors.As(err, &rl):
			httpx.RetryAfter(w.Header(), rl.RetryAfter)
			oauthError(w, http.StatusTooManyRequests, "invalid_request", "too many refused exchanges from this address; retry after the time in Retry-After")
		default:
			s.log.Error("token exchange", "err", err)
			oauthError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "the exchange cannot be made now; retry later")
		}
		return
	}
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, out)
}
