package ui

// Workload identity federation: OIDC issuers, trust policies and the
// policy tester. The same calls as /api/v1/oidc-issuers and
// /api/v1/trust-policies, with the same permissions (federation.read,
// federation.write). The tester's ID token is a credential: it is never
// written back into a page, stored or logged.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/core"
	"github.com/gatehouse/gatehouse/internal/federation"
)

// issuerKinds are the kind presets, in the select's order.
var issuerKinds = []struct{ Value, Label string }{
	{"generic", "Generic OpenID Connect issuer"},
	{"github", "GitHub Actions (token.actions.githubusercontent.com)"},
	{"gitlab", "GitLab CI (gitlab.com)"},
	{"kubernetes", "Kubernetes service-account tokens"},
}

// ---- Issuers ----

// issuerList is the list of OIDC issuers (no search: they are few).
var issuerList = listing[core.OIDCIssuerView]{tmpl: "oidc_issuers", title: "OIDC issuers", section: "federation", write: authz.FederationWrite,
	key: func(i core.OIDCIssuerView) string { return i.Name },
	list: func(s *Server, ctx context.Context, c *reqCtx, _, after string) ([]core.OIDCIssuerView, error) {
		return s.core.Federation.ListOIDCIssuers(ctx, c.actor, after, pageSize+1)
	}}

// issuerFormData is the issuer form (new, or the edit form of one).
type issuerFormData struct {
	Form  *form
	New   bool
	Kinds []struct{ Value, Label string }
	Algs  []string
	Name  string // editing: the issuer's name
	Kind  string // editing: its kind (fixed)
}

func newIssuerForm(f *form, isNew bool) issuerFormData {
	return issuerFormData{Form: f, New: isNew, Kinds: issuerKinds, Algs: federation.SupportedAlgs}
}

var issuerNew = creationPage[issuerFormData]{tmpl: "oidc_issuer_new", title: "New OIDC issuer", section: "federation", perm: authz.FederationWrite,
	data: func(_ *Server, _ *http.Request, _ *reqCtx, f *form) (issuerFormData, error) {
		return newIssuerForm(f, true), nil
	}}

func issuerDefaults(*http.Request, *reqCtx) url.Values {
	return url.Values{"kind": {"generic"}, "leeway": {"60s"}, "allowed_algs": federation.DefaultAlgs}
}

// inlineJWKS reads the JWK Set text area: nil when empty.
func inlineJWKS(raw string) (core.InlineJWKS, *core.FieldError) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, nil
	}
	var j core.InlineJWKS
	if err := json.Unmarshal([]byte(raw), &j); err != nil {
		msg := "must be a JWK Set: a JSON object with keys"
		if _, ok := err.(*json.SyntaxError); !ok {
			msg = err.Error()
		}
		return nil, &core.FieldError{Field: "jwks", Message: msg}
	}
	return j, nil
}

// unusableJWKS stands in for a JWK Set text area that is not JSON: the
// core refuses it for sure, and checks every other field meanwhile.
var unusableJWKS = core.InlineJWKS(`{"keys":[]}`)

// withJWKSError puts the text area's own error in place of the core's
// about the stand-in.
func withJWKSError(err error, fe *core.FieldError) error {
	if fe == nil {
		return err
	}
	var ve *core.ValidationError
	switch {
	case err == nil: // cannot happen: the stand-in holds no key
		return &core.ValidationError{Errors: []core.FieldError{*fe}}
	case !errors.As(err, &ve):
		return err
	}
	out := []core.FieldError{*fe}
	for _, e := range ve.Errors {
		if e.Field != "jwks" {
			out = append(out, e)
		}
	}
	return &core.ValidationError{Errors: out}
}

func createOIDCIssuer(s *Server, ctx context.Context, c *reqCtx, v url.Values) (string, string, error) {
	leeway, shared := strings.TrimSpace(v.Get("leeway")), v.Get("shared") == "on"
	in := core.OIDCIssuerInput{Name: strings.TrimSpace(v.Get("name")), Kind: v.Get("kind"), IssuerURL: strings.TrimSpace(v.Get("issuer_url")),
		JWKSURL: strings.TrimSpace(v.Get("jwks_url")), AllowedAlgs: v["allowed_algs"], TenantClaims: lines(v.Get("tenant_claims"))}
	if in.AllowedAlgs == nil {
		in.AllowedAlgs = []string{}
	}
	if leeway != "" {
		in.Leeway = &leeway
	}
	// Presets are shared whatever the box says; a generic or Kubernetes
	// issuer is what the box says.
	if in.Kind != "github" && in.Kind != "gitlab" {
		in.Shared = &shared
	}
	j, fe := inlineJWKS(v.Get("jwks"))
	in.JWKS = j
	if fe != nil {
		in.JWKS = unusableJWKS
	}
	_, err := s.core.Federation.CreateOIDCIssuer(ctx, c.actor, in)
	return "/oidc-issuers/" + url.PathEscape(in.Name),
		fmt.Sprintf("OIDC issuer %s created. Add a trust policy to let its ID tokens be exchanged.", in.Name), withJWKSError(err, fe)
}

type issuerData struct {
	Issuer   core.OIDCIssuerView
	JWKS     string // the inline set, indented
	Policies []core.TrustPolicyView
	CanWrite bool
	Edit     issuerFormData
}

// issuerValues fills the edit form from an issuer.
func issuerValues(i core.OIDCIssuerView, jwks string) url.Values {
	v := url.Values{"issuer_url": {i.IssuerURL}, "jwks_url": {i.JWKSURL}, "jwks": {jwks}, "allowed_algs": i.AllowedAlgs,
		"leeway": {i.Leeway}}
	if i.Kind != "github" && i.Kind != "gitlab" {
		v.Set("tenant_claims", strings.Join(i.TenantClaims, ", "))
	}
	if i.Shared {
		v.Set("shared", "on")
	}
	return v
}

func indentJSON(raw []byte) string {
	if len(raw) == 0 {
		return ""
	}
	out, err := json.MarshalIndent(json.RawMessage(raw), "", "  ")
	if err != nil {
		return string(raw)
	}
	return string(out)
}

func (s *Server) loadIssuer(ctx context.Context, c *reqCtx, name string) (issuerData, error) {
	i, err := s.core.Federation.GetOIDCIssuer(ctx, c.actor, name)
	if err != nil {
		return issuerData{}, err
	}
	ps, err := s.core.Federation.ListTrustPolicies(ctx, c.actor, name, "", 0)
	if err != nil {
		return issuerData{}, err
	}
	jwks := indentJSON(i.JWKS)
	d := issuerData{Issuer: i, JWKS: jwks, Policies: ps, CanWrite: c.can(authz.FederationWrite),
		Edit: newIssuerForm(newForm(issuerValues(i, jwks)), false)}
	d.Edit.Name, d.Edit.Kind = i.Name, i.Kind
	return d, nil
}

var issuerPage = objectPage[issuerData]{tmpl: "oidc_issuer", section: "federation", path: "/oidc-issuers/", load: (*Server).loadIssuer}

func (s *Server) updateOIDCIssuer(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	issuerPage.save(s, w, r, c, nil, func(d *issuerData, f *form) { d.Edit.Form = f },
		func(ctx context.Context, name string, v url.Values) error {
			issuerURL, jwksURL, leeway := strings.TrimSpace(v.Get("issuer_url")), strings.TrimSpace(v.Get("jwks_url")), strings.TrimSpace(v.Get("leeway"))
			shared, algs, tenant := v.Get("shared") == "on", v["allowed_algs"], lines(v.Get("tenant_claims"))
			if algs == nil {
				algs = []string{}
			}
			in := core.OIDCIssuerPatch{IssuerURL: &issuerURL, JWKSURL: &jwksURL, AllowedAlgs: &algs, TenantClaims: &tenant}
			if leeway != "" {
				in.Leeway = &leeway
			}
			j, fe := inlineJWKS(v.Get("jwks"))
			switch {
			case fe != nil:
				j = unusableJWKS
			case j == nil:
				j = core.InlineJWKS("null") // an emptied text area removes the set
			}
			in.JWKS = j
			// The box is on the form of generic and Kubernetes issuers only:
			// GitHub and GitLab are shared by their preset.
			if v.Get("shared_shown") == "1" {
				in.Shared = &shared
			}
			_, err := s.core.Federation.UpdateOIDCIssuer(ctx, c.actor, name, in)
			return withJWKSError(err, fe)
		}, fmt.Sprintf("OIDC issuer %s saved.", r.PathValue("name")))
}

func issuerConfirm(name string, policies int, f *form) confirmData {
	return confirmData{Kind: "OIDC issuer", Name: name, Action: "/oidc-issuers/" + url.PathEscape(name) + "/delete",
		Back: "/oidc-issuers/" + url.PathEscape(name), Form: f,
		Details: []string{fmt.Sprintf("Its trust policies (%d) are deleted with it.", policies),
			"Every token they minted stops working at once.", "Its ID tokens can no longer be exchanged."}}
}

func (s *Server) deleteOIDCIssuerPage(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	name := r.PathValue("name")
	d, err := s.loadIssuer(r.Context(), c, name)
	if err != nil {
		s.fail(w, r, c, err)
		return
	}
	if !c.can(authz.FederationWrite) {
		s.forbiddenNeeds(w, r, c, authz.FederationWrite)
		return
	}
	s.renderConfirm(w, r, c, http.StatusOK, "federation", issuerConfirm(name, len(d.Policies), newForm(nil)))
}

func (s *Server) deleteOIDCIssuer(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	name := r.PathValue("name")
	s.deleteConfirmed(w, r, c, "federation",
		func(f *form) confirmData {
			n := 0
			if d, err := s.loadIssuer(r.Context(), c, name); err == nil {
				n = len(d.Policies)
			}
			return issuerConfirm(name, n, f)
		},
		func(name string) error { return s.core.Federation.DeleteOIDCIssuer(r.Context(), c.actor, name) },
		"OIDC issuer %s deleted, with its trust policies.", "/oidc-issuers")
}

// ---- Trust policies ----

type policyListData struct {
	Items    []core.TrustPolicyView
	Next     string
	Issuer   string
	CanWrite bool
}

func (s *Server) trustPolicies(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	q := r.URL.Query()
	issuer := q.Get("issuer")
	items, err := s.core.Federation.ListTrustPolicies(r.Context(), c.actor, issuer, q.Get("after"), pageSize+1)
	if err != nil {
		s.fail(w, r, c, err)
		return
	}
	d := policyListData{Issuer: issuer, CanWrite: c.can(authz.FederationWrite)}
	d.Items, d.Next = listPage(items, func(p core.TrustPolicyView) string { return p.Name }, url.Values{"issuer": {issuer}})
	s.render(w, r, c, http.StatusOK, "trust_policies", "Trust policies", "federation", d)
}

// policyFormData is the policy form (new, or the edit form of one).
type policyFormData struct {
	Form    *form
	New     bool
	Issuers []string
	Listed  bool // Issuers is the list (else the form asks for the name)
	Name    string
}

// conditionsOf reads "claim = value" lines; a claim on several lines
// takes any of the values.
func conditionsOf(text string) (map[string]core.ClaimValues, *core.FieldError) {
	out := map[string]core.ClaimValues{}
	for n, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		k, val, ok := strings.Cut(l, "=")
		k, val = strings.TrimSpace(k), strings.TrimSpace(val)
		if !ok || k == "" || val == "" {
			return nil, &core.FieldError{Field: "conditions", Message: fmt.Sprintf("line %d must read claim = value", n+1)}
		}
		out[k] = append(out[k], val)
	}
	return out, nil
}

// conditionsText writes conditions as the form's lines.
func conditionsText(c map[string][]string) string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		for _, v := range c[k] {
			fmt.Fprintf(&b, "%s = %s\n", k, v)
		}
	}
	return b.String()
}

// withConditions reads the conditions text area and saves the policy
// with them; a text that does not read is the form's error.
func withConditions(v url.Values, save func(conds map[string]core.ClaimValues) error) error {
	conds, fe := conditionsOf(v.Get("conditions"))
	if fe != nil {
		return &core.ValidationError{Errors: []core.FieldError{*fe}}
	}
	return save(conds)
}

// conditionErrors moves the errors of single conditions
// (conditions.CLAIM) of a policy form to its conditions field.
func conditionErrors(f *form) {
	for k, msg := range f.Errors {
		if claim, found := strings.CutPrefix(k, "conditions."); found {
			delete(f.Errors, k)
			if _, dup := f.Errors["conditions"]; !dup {
				f.Errors["conditions"] = fmt.Sprintf("%s: %s", claim, msg)
			}
		}
	}
}

// issuerNames lists the issuers for the policy form's select; nil when
// the actor may write policies but not list issuers (then the form asks
// for the name).
func (s *Server) issuerNames(r *http.Request, c *reqCtx) ([]string, error) {
	if !c.can(authz.FederationRead) {
		return nil, nil
	}
	is, err := s.core.Federation.ListOIDCIssuers(r.Context(), c.actor, "", 0)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(is))
	for n, i := range is {
		names[n] = i.Name
	}
	return names, nil
}

// policyNew is the new trust policy page; an issuer named in the
// address is the one chosen.
var policyNew = creationPage[policyFormData]{tmpl: "trust_policy_new", title: "New trust policy", section: "federation", perm: authz.FederationWrite,
	data: func(s *Server, r *http.Request, c *reqCtx, f *form) (policyFormData, error) {
		conditionErrors(f)
		names, err := s.issuerNames(r, c)
		return policyFormData{Form: f, New: true, Issuers: names, Listed: c.can(authz.FederationRead)}, err
	}}

func policyDefaults(r *http.Request, _ *reqCtx) url.Values {
	return url.Values{"ttl": {"15m"}, "perm_mode": {"all"}, "issuer": {r.URL.Query().Get("issuer")}}
}

// policyRestrictions reads the optional permissions and networks.
func policyRestrictions(v url.Values) (*[]string, []string) {
	var perms *[]string
	if v.Get("perm_mode") == "only" {
		l := lines(v.Get("permissions"))
		if l == nil {
			l = []string{}
		}
		perms = &l
	}
	return perms, lines(v.Get("allowed_cidrs"))
}

func createTrustPolicy(s *Server, ctx context.Context, c *reqCtx, v url.Values) (string, string, error) {
	ttl := strings.TrimSpace(v.Get("ttl"))
	perms, cidrs := policyRestrictions(v)
	in := core.TrustPolicyInput{Name: strings.TrimSpace(v.Get("name")), Description: v.Get("description"), Issuer: v.Get("issuer"),
		ServiceAccount: strings.TrimSpace(v.Get("service_account")), Audience: strings.TrimSpace(v.Get("audience")),
		Permissions: perms, AllowedCIDRs: cidrs}
	if ttl != "" {
		in.TTL = &ttl
	}
	err := withConditions(v, func(conds map[string]core.ClaimValues) error {
		in.Conditions = conds
		return errOnly(s.core.Federation.CreateTrustPolicy(ctx, c.actor, in))
	})
	return "/trust-policies/" + url.PathEscape(in.Name),
		fmt.Sprintf("Trust policy %s created. Try it with an ID token in the policy tester.", in.Name), err
}

type policyData struct {
	Policy   core.TrustPolicyView
	CanWrite bool
	Edit     policyFormData
}

func policyValues(p core.TrustPolicyView) url.Values {
	v := url.Values{"description": {p.Description}, "service_account": {p.ServiceAccount}, "audience": {p.Audience},
		"conditions": {conditionsText(p.Conditions)}, "allowed_cidrs": {strings.Join(p.AllowedCIDRs, "\n")}, "ttl": {p.TTL}, "perm_mode": {"all"}}
	if p.Permissions != nil {
		v.Set("perm_mode", "only")
		v.Set("permissions", strings.Join(*p.Permissions, "\n"))
	}
	return v
}

func (s *Server) loadPolicy(ctx context.Context, c *reqCtx, name string) (policyData, error) {
	p, err := s.core.Federation.GetTrustPolicy(ctx, c.actor, name)
	if err != nil {
		return policyData{}, err
	}
	return policyData{Policy: p, CanWrite: c.can(authz.FederationWrite),
		Edit: policyFormData{Form: newForm(policyValues(p)), Name: p.Name}}, nil
}

var policyPage = objectPage[policyData]{tmpl: "trust_policy", section: "federation", path: "/trust-policies/", load: (*Server).loadPolicy}

func (s *Server) updateTrustPolicy(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	policyPage.save(s, w, r, c, nil, func(d *policyData, f *form) { conditionErrors(f); d.Edit.Form = f },
		func(ctx context.Context, name string, v url.Values) error {
			desc, account, aud, ttl := v.Get("description"), strings.TrimSpace(v.Get("service_account")), strings.TrimSpace(v.Get("audience")), strings.TrimSpace(v.Get("ttl"))
			perms, cidrs := policyRestrictions(v)
			if cidrs == nil {
				cidrs = []string{}
			}
			in := core.TrustPolicyPatch{Description: &desc, ServiceAccount: &account, Audience: &aud, AllowedCIDRs: &cidrs,
				Permissions: core.OptionalPermissions{Set: true, List: perms}}
			if ttl != "" {
				in.TTL = &ttl
			}
			return withConditions(v, func(conds map[string]core.ClaimValues) error {
				in.Conditions = conds
				return errOnly(s.core.Federation.UpdateTrustPolicy(ctx, c.actor, name, in))
			})
		}, fmt.Sprintf("Trust policy %s saved. Tokens it minted before keep what they were minted with.", r.PathValue("name")))
}

// ---- The policy tester ----

type testerData struct {
	Form   *form
	Result *core.PolicyTestResult
	Claims []claimRow
}

type claimRow struct{ Name, Value string }

// failedCheck says in words which check of a policy failed.
func failedCheck(code string) string {
	switch {
	case code == "service_account":
		return "it is for another service account"
	case code == "audience":
		return "the token's aud does not contain the policy's audience"
	case code == "service_account_disabled":
		return "its service account is disabled"
	case strings.HasPrefix(code, "condition "):
		return "claim " + strings.TrimPrefix(code, "condition ") + " is missing or has another value"
	}
	return code
}

func (s *Server) policyTesterPage(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	if !c.can(authz.FederationRead) {
		s.forbiddenNeeds(w, r, c, authz.FederationRead)
		return
	}
	s.render(w, r, c, http.StatusOK, "policy_tester", "Policy tester", "federation", testerData{Form: newForm(nil)})
}

func (s *Server) testPolicies(w http.ResponseWriter, r *http.Request, c *reqCtx, v url.Values) {
	in := core.PolicyTestInput{IDToken: strings.TrimSpace(v.Get("id_token")), ServiceAccount: strings.TrimSpace(v.Get("service_account"))}
	// The token never goes back into the page: the form keeps the rest.
	kept := url.Values{"service_account": {in.ServiceAccount}}
	res, err := s.core.Federation.TestTrustPolicies(r.Context(), c.actor, in)
	if err != nil {
		f := newForm(kept)
		if status, ok := f.formError(err, nil); ok {
			s.render(w, r, c, status, "policy_tester", "Policy tester", "federation", testerData{Form: f})
			return
		}
		s.fail(w, r, c, err)
		return
	}
	d := testerData{Form: newForm(kept), Result: &res}
	for k, val := range res.Claims {
		text, ok := val.(string)
		if !ok {
			b, _ := json.Marshal(val)
			text = string(b)
		}
		d.Claims = append(d.Claims, claimRow{k, text})
	}
	slices.SortFunc(d.Claims, func(a, b claimRow) int { return strings.Compare(a.Name, b.Name) })
	s.render(w, r, c, http.StatusOK, "policy_tester", "Policy tester", "federation", d)
}

var policyDeletion = deletion{kind: "trust policy", section: "federation", path: "/trust-policies/", perm: authz.FederationWrite, list: "/trust-policies",
	details: []string{"Every token it minted stops working at once.", "ID tokens it matched can no longer be exchanged."},
	read: func(s *Server, ctx context.Context, c *reqCtx, name string) error {
		return errOnly(s.core.Federation.GetTrustPolicy(ctx, c.actor, name))
	},
	del: func(s *Server, ctx context.Context, c *reqCtx, name string) error {
		return s.core.Federation.DeleteTrustPolicy(ctx, c.actor, name)
	}}
