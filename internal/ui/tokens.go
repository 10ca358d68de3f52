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
	if len(items) > pageSize {
		items = items[:pageSize]
		next := url.Values{}
		for k, v := range q {
			next[k] = v
		}
		next.Set("after", items[pageSize-1].Identifier)
		d.Next = next.Encode()
	}
	d.Items = items
	s.render(w, r, c, http.StatusOK, "tokens", "Tokens", "tokens", d)
}

type tokenFormData struct {
	Form *form
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
	user := r.URL.Query().Get("user")
	if user == "" {
		user = c.actor.P.Username
	}
	f := newForm(url.Values{"user": {user}, "intent": {store.IntentAPI}, "expiry": {"720h"}, "nonce": {newNonce()}, "sliding_ok": {"1"}})
	s.render(w, r, c, http.StatusOK, "token_new", "New token", "tokens", tokenFormData{Form: f})
}

type tokenCreatedData struct {
	Token       core.TokenView
	Rotated     bool
	Grace       string
	OldKeyUntil time.Time
	BaseURL     string
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	v, err := parseForm(w, r)
	if err != nil {
		s.fail(w, r, c, err)
		return
	}
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
	f := newForm(v)
	if in.Identifier == "" {
		nonce := v.Get("nonce")
		if !nonceRule.MatchString(nonce) {
			f.Message = "This form is out of date. Please fill it in again."
			f.Values.Set("nonce", newNonce())
			s.render(w, r, c, http.StatusBadRequest, "token_new", "New token", "tokens", tokenFormData{Form: f})
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
		if status, ok := f.formError(err, lifeRename); ok {
			if status == http.StatusConflict && v.Get("identifier") == "" && !errors.Is(err, core.ErrTokenLimit) {
				f.Message = fmt.Sprintf("This form was already submitted: token %s exists. Its key was shown once, after the first submission; if it is lost, rotate the token.", in.Identifier)
				f.Values.Set("nonce", newNonce())
			}
			s.render(w, r, c, status, "token_new", "New token", "tokens", tokenFormData{Form: f})
			return
		}
		s.fail(w, r, c, err)
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

func (s *Server) rotateToken(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	id := r.PathValue("id")
	v, err := parseForm(w, r)
	if err != nil {
		s.fail(w, r, c, err)
		return
	}
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
	if _, err := parseForm(w, r); err != nil {
		s.fail(w, r, c, err)
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
