package ui

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/core"
	"github.com/gatehouse/gatehouse/internal/store"
)

type tokenListData struct {
	Filter    url.Values
	Items     []core.TokenView
	Next      string
	AllTokens bool
	Form      *form // filter errors
}

func (s *Server) tokens(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	q := r.URL.Query()
	tq := core.TokenQuery{User: strings.TrimSpace(q.Get("user")), Intent: q.Get("intent"), ExpiringWithin: q.Get("expiring_within"),
		UnusedFor: q.Get("unused_for"), Search: q.Get("search"), After: q.Get("after"), Limit: pageSize + 1}
	d := tokenListData{Filter: q, AllTokens: c.can(authz.TokensRead) || c.can(authz.TokensWrite), Form: newForm(q)}
	items, err := s.core.Credentials.ListTokens(r.Context(), c.actor, tq)
	if err != nil {
		if status, ok := d.Form.formError(err, nil); ok && status != http.StatusConflict {
			s.render(w, r, c, status, "tokens", "Tokens", "tokens", d)
			return
		}
		s.fail(w, r, c, err)
		return
	}
	d.Items, d.Next = listPage(items, func(t core.TokenView) string { return t.Identifier }, q)
	s.render(w, r, c, http.StatusOK, "tokens", "Tokens", "tokens", d)
}

type tokenFormData struct {
	Form *form
	// Least privilege: the choices the form offers.
	Owner      string   // the account whose permissions are offered
	OwnerPerms []string // what Owner holds now; nil when not known
	OwnerNote  string   // why OwnerPerms is not known
	Apps       []string // applications the actor may read (nil: none or not allowed)
	CanApps    bool
	LDAP       []string // LDAP providers the actor may read
	CanLDAP    bool
}

// renderTokenForm renders the token form with its least-privilege
// choices for the owner named in the form.
func (s *Server) renderTokenForm(w http.ResponseWriter, r *http.Request, c *reqCtx, status int, f *form) {
	ctx := r.Context()
	d := tokenFormData{Form: f, Owner: strings.TrimSpace(f.Get("user"))}
	if d.Owner == "" {
		d.Owner = c.actor.P.Username
	}
	// The core refuses (and records) a read it does not allow; ask only
	// when it would answer, and otherwise say why the list is missing.
	switch {
	case d.Owner != c.actor.P.Username && !c.can(authz.UsersRead):
		d.OwnerNote = fmt.Sprintf("Listing what %s holds needs the users.read permission: type the permissions below instead.", d.Owner)
	default:
		perms, err := s.core.Accounts.EffectivePermissions(ctx, c.actor, d.Owner)
		var nf *core.NotFoundError
		switch {
		case errors.As(err, &nf):
			d.OwnerNote = fmt.Sprintf("There is no account named %s.", d.Owner)
		case errors.Is(err, core.ErrForbidden):
			d.OwnerNote = fmt.Sprintf("You may not list what %s holds: type the permissions below instead.", d.Owner)
		case err != nil:
			s.fail(w, r, c, err)
			return
		default:
			d.OwnerPerms = perms
		}
	}
	if c.canSomewhere(authz.ApplicationsRead, authz.KindApplication) {
		d.CanApps = true
		if apps, err := s.core.Applications.ListApplications(ctx, c.actor, core.ApplicationQuery{Limit: 500}); err == nil {
			for _, a := range apps {
				d.Apps = append(d.Apps, a.Slug)
			}
		}
	}
	if c.canSomewhere(authz.LDAPRead, authz.KindLDAP) {
		d.CanLDAP = true
		if ps, err := s.core.LDAP.ListLDAPProviders(ctx, c.actor, "", 500); err == nil {
			for _, p := range ps {
				d.LDAP = append(d.LDAP, p.Name)
			}
		}
	}
	s.render(w, r, c, status, "token_new", "New token", "tokens", d)
}

// restrictionFields reads the form's least-privilege section. The
// permissions are the ticked ones and those typed one per line, and only
// when "only these" is chosen: nil keeps all of the owner's, an empty
// list makes a key that proves identity and nothing else.
func restrictionFields(v url.Values) (perms *[]string, cidrs, apps, ldap []string) {
	if v.Get("perm_mode") == "only" {
		list := append([]string{}, v["permissions"]...)
		list = append(list, lines(v.Get("permissions_text"))...)
		perms = &list
	}
	return perms, lines(v.Get("allowed_cidrs")), nonEmpty(v["applications"]), nonEmpty(v["ldap_providers"])
}

// lines splits a textarea into its non-empty entries; commas and spaces
// separate entries too, since none of these values contains either.
func lines(text string) []string {
	return nonEmpty(strings.FieldsFunc(text, func(r rune) bool {
		return r == '\n' || r == '\r' || r == ',' || r == ' ' || r == '\t'
	}))
}

// nonEmpty drops blank entries; none left is nil (no restriction).
func nonEmpty(in []string) []string {
	var out []string
	for _, x := range in {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// nameBadNetworks puts the typed entry into each network error: the core
// counts entries, while the form shows them as lines of text.
func nameBadNetworks(err error, cidrs []string) {
	var ve *core.ValidationError
	if !errors.As(err, &ve) {
		return
	}
	for i, fe := range ve.Errors {
		m := indexed.FindStringSubmatch(fe.Field)
		if m == nil || m[1] != "allowed_cidrs" {
			continue
		}
		if n, err := strconv.Atoi(m[2]); err == nil && n < len(cidrs) {
			ve.Errors[i].Message = fmt.Sprintf("%q %s", cidrs[n], fe.Message)
		}
	}
}

// tokenLimits says in a few words how a token is narrowed, for lists.
func tokenLimits(t core.TokenView) []string {
	var out []string
	plural := func(n int, one string) string {
		if n == 1 {
			return "1 " + one
		}
		return fmt.Sprintf("%d %ss", n, one)
	}
	if t.Permissions != nil {
		if len(*t.Permissions) == 0 {
			out = append(out, "identity only")
		} else {
			out = append(out, plural(len(*t.Permissions), "permission"))
		}
	}
	if n := len(t.AllowedCIDRs); n > 0 {
		out = append(out, plural(n, "network"))
	}
	if n := len(t.Applications); n > 0 {
		out = append(out, plural(n, "application"))
	}
	if n := len(t.LDAPProviders); n > 0 {
		out = append(out, plural(n, "LDAP provider"))
	}
	return out
}

var nonceRule = regexp.MustCompile(`^[a-z0-9]{8}$`)

// newNonce is the suffix of a token identifier chosen when the form is
// shown: submitting the same form twice names the same identifier, so
// the second submission is refused (409) instead of making a second token.
func newNonce() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)] // a slight bias is harmless: this is a name, not a secret
	}
	return string(b)
}

func (s *Server) newTokenPage(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	q := r.URL.Query()
	user := strings.TrimSpace(q.Get("user"))
	if user == "" {
		user = c.actor.P.Username
	}
	// The form refreshes its permission picker with a GET of this page
	// when the owner changes (htmx), sending the choices made so far and
	// its nonce, so that the identifier it suggests stays the one used.
	nonce := q.Get("nonce")
	if !nonceRule.MatchString(nonce) {
		nonce = newNonce()
	}
	mode := "all"
	if q.Get("perm_mode") == "only" {
		mode = "only"
	}
	f := newForm(url.Values{"user": {user}, "intent": {store.IntentAPI}, "expiry": {"720h"}, "nonce": {nonce}, "sliding_ok": {"1"},
		"perm_mode": {mode}, "permissions": q["permissions"], "permissions_text": {q.Get("permissions_text")}})
	s.renderTokenForm(w, r, c, http.StatusOK, f)
}

type tokenCreatedData struct {
	Token       core.TokenView
	Rotated     bool
	Grace       string
	OldKeyUntil time.Time
	BaseURL     string
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request, c *reqCtx, v url.Values) {
	v.Set("sliding_ok", "1")
	in := core.CreateTokenInput{
		Identifier:  strings.TrimSpace(v.Get("identifier")),
		User:        strings.TrimSpace(v.Get("user")),
		Intent:      v.Get("intent"),
		Description: v.Get("description"),
	}
	if in.User == "" {
		in.User = c.actor.P.Username
	}
	in.Permissions, in.AllowedCIDRs, in.Applications, in.LDAPProviders = restrictionFields(v)
	f := newForm(v)
	if in.Identifier == "" {
		nonce := v.Get("nonce")
		if !nonceRule.MatchString(nonce) {
			f.Message = "This form is out of date. Please fill it in again."
			f.Values.Set("nonce", newNonce())
			s.renderTokenForm(w, r, c, http.StatusBadRequest, f)
			return
		}
		in.Identifier = in.User + "-" + nonce
	}
	if v.Get("expiry") == "sliding" {
		in.Extended = true
		ma := strings.TrimSpace(v.Get("max_age"))
		in.MaxAge = &ma
	} else {
		in.Expiring, in.ExpiresAt, in.TTL = lifeFields(v)
	}
	tv, err := s.core.Credentials.CreateToken(r.Context(), c.actor, in)
	if err != nil {
		nameBadNetworks(err, in.AllowedCIDRs)
		s.formRefused(w, r, c, err, f, lifeRename, func(status int, f *form) {
			if status == http.StatusConflict && v.Get("identifier") == "" && !errors.Is(err, core.ErrTokenLimit) {
				f.Message = fmt.Sprintf("This form was already submitted: token %s exists. Its key was shown once, after the first submission; if it is lost, rotate the token.", in.Identifier)
				f.Values.Set("nonce", newNonce())
			}
			s.renderTokenForm(w, r, c, status, f)
		})
		return
	}
	s.render(w, r, c, http.StatusCreated, "token_created", "Token created", "tokens", tokenCreatedData{Token: tv, BaseURL: baseURL(r)})
}

type tokenDetailData struct {
	Token     core.TokenView
	KeyMarker string // fingerprint of the token's current keys: a rotation precondition
	Keys      int
	Form      *form
}

func (s *Server) loadToken(r *http.Request, c *reqCtx, id string) (tokenDetailData, error) {
	tv, err := s.core.Credentials.GetToken(r.Context(), c.actor, id)
	if err != nil {
		return tokenDetailData{}, err
	}
	d := tokenDetailData{Token: tv, Form: newForm(url.Values{"grace": {"1h"}})}
	// How many keys verify the token now (two during a rotation's
	// grace), and their fingerprint for the rotate form.
	ks, err := s.core.Credentials.KeyState(r.Context(), c.actor, id)
	if err != nil {
		return d, err
	}
	d.Keys = ks.Current
	d.KeyMarker = KeyMarker(ks.Lookups)
	return d, nil
}

func (s *Server) token(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	d, err := s.loadToken(r, c, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, c, err)
		return
	}
	s.render(w, r, c, http.StatusOK, "token", d.Token.Identifier, "tokens", d)
}

func (s *Server) rotateToken(w http.ResponseWriter, r *http.Request, c *reqCtx, v url.Values) {
	id := r.PathValue("id")
	d, err := s.loadToken(r, c, id)
	if err != nil {
		s.fail(w, r, c, err)
		return
	}
	if v.Get("key_marker") != d.KeyMarker {
		// The form was made before the last rotation: sent twice, or from
		// an old tab. Rotating again would silently cut the grace of the
		// key the first submission issued.
		d.Form = newForm(v)
		d.Form.Message = "This token was rotated after this page was loaded (was the form sent twice?). Nothing was changed. The new key was shown once, after that rotation; rotate again below if it is lost."
		s.render(w, r, c, http.StatusConflict, "token", id, "tokens", d)
		return
	}
	grace := v.Get("grace")
	tv, err := s.core.Credentials.RotateToken(r.Context(), c.actor, id, core.RotateInput{Grace: &grace})
	if err != nil {
		d.Form = newForm(v)
		if status, ok := d.Form.formError(err, nil); ok {
			s.render(w, r, c, status, "token", id, "tokens", d)
			return
		}
		s.fail(w, r, c, err)
		return
	}
	g, _ := time.ParseDuration(grace)
	s.render(w, r, c, http.StatusOK, "token_created", "Token rotated", "tokens",
		tokenCreatedData{Token: tv, Rotated: true, Grace: g.String(), OldKeyUntil: s.clock.Now().Add(g), BaseURL: baseURL(r)})
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	id := r.PathValue("id")
	if _, ok := s.values(w, r, c); !ok {
		return
	}
	err := s.core.Credentials.RevokeToken(r.Context(), c.actor, id)
	var nf *core.NotFoundError
	if errors.As(err, &nf) {
		s.setFlash(w, r, "info", fmt.Sprintf("Token %s does not exist (any more): it was already revoked or never existed.", id))
		s.redirect(w, r, "/tokens")
		return
	}
	if err != nil {
		s.fail(w, r, c, err)
		return
	}
	s.setFlash(w, r, "ok", fmt.Sprintf("Token %s revoked: its keys are refused from now on.", id))
	s.redirect(w, r, "/tokens")
}

// KeyMarker fingerprints a token's set of keys (by their public lookup
// parts, hashed, so the page shows nothing of a key): every rotation
// changes it, whatever the clock says. The rotate form carries it; tests
// that post that form compute it here.
func KeyMarker(lookups []string) string {
	lookups = slices.Clone(lookups)
	slices.Sort(lookups)
	sum := sha256.Sum256([]byte(strings.Join(lookups, "\x00")))
	return hex.EncodeToString(sum[:12])
}
