package core

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/client"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/store"
)

// An outpost is an LDAP front door in its own process. Registering one
// makes an internal service account (managed: the users API refuses to
// change or delete it) holding exactly what the outpost needs:
// ldap.read on its provider (the directory view and the outpost
// endpoints) and tokens.self (to rotate its own managed token: a managed
// account cannot create tokens, so that is all tokens.self lets it do).

// OutpostAccountPrefix begins the name of every outpost's account.
const OutpostAccountPrefix = "outpost-"

// Outpost token lifetimes: the default, and the shortest accepted (the
// outpost rotates at two thirds of it).
const (
	DefaultOutpostTokenTTL = DefaultTokenTTL
	MinOutpostTokenTTL     = 10 * time.Second
)

// OutpostView is an outpost as the API shows it.
type OutpostView = client.Outpost

// OutpostInput is POST /outposts.
type OutpostInput struct {
	Name        string  `json:"name"`
	Provider    string  `json:"provider"`
	Description string  `json:"description"`
	TTL         *string `json:"ttl"`
}

// CreatedOutpost is the answer of POST /outposts and of a rotation: the
// outpost and its token with the key, shown this once.
type CreatedOutpost = client.CreatedOutpost

// OutpostRotateInput is POST /outposts/{name}/rotate.
type OutpostRotateInput struct {
	Grace *string `json:"grace"`
}

func outpostTarget(name string) audit.Target {
	return audit.Target{Kind: audit.KindOutpost, Name: name}
}

// outpostPermissions is everything an outpost's account holds.
func outpostPermissions(provider string) []string {
	return []string{authz.LDAPRead + "@" + authz.KindLDAP + "/" + provider, authz.TokensSelf}
}

// outpostToken finds the managed token of an outpost's account.
func outpostToken(ctx context.Context, q store.Queries, userUID string) (store.Token, error) {
	ts, err := q.ListTokens(ctx, store.TokenFilter{UserUID: userUID, Limit: 10})
	if err != nil {
		return store.Token{}, err
	}
	for _, t := range ts {
		if t.Managed && t.Intent == store.IntentAPI {
			return t, nil
		}
	}
	return store.Token{}, store.ErrNotFound
}

func (s *LDAP) outpostView(ctx context.Context, q store.Queries, o store.Outpost) (OutpostView, error) {
	v := OutpostView{UID: o.UID, Name: o.Name, Description: o.Description, Provider: o.ProviderName, User: o.Username,
		TokenTTL: o.TokenTTL.String(), CreatedAt: o.CreatedAt}
	t, err := outpostToken(ctx, q, o.UserUID)
	switch {
	case err == nil:
		tv := s.Credentials.tokenView(t)
		v.Token = &tv
	case !errors.Is(err, store.ErrNotFound):
		return OutpostView{}, err
	}
	return v, nil
}

// CreateOutpost registers an outpost (ldap.write on its provider): its
// account, its permissions, its expiring managed API token and the
// outpost itself, in one transaction. The key is in the answer only.
func (s *LDAP) CreateOutpost(ctx context.Context, a Actor, in OutpostInput) (CreatedOutpost, error) {
	if err := s.authorize(ctx, a, authz.LDAPWrite, outpostTarget(in.Name), ldapObj(in.Provider)); err != nil {
		return CreatedOutpost{}, err
	}
	if err := s.Credentials.refuseGraceKey(ctx, a, outpostTarget(in.Name)); err != nil {
		return CreatedOutpost{}, err
	}
	var f fields
	f.name("name", in.Name)
	if len(OutpostAccountPrefix)+len(in.Name) > 63 {
		f.add("name", fmt.Sprintf("must be at most %d characters (the outpost's account is %s<name>)", 63-len(OutpostAccountPrefix), OutpostAccountPrefix))
	}
	if in.Provider == "" {
		f.add("provider", "is required")
	} else if !NameRule.MatchString(in.Provider) {
		f.add("provider", nameRuleText)
	}
	f.maxLen("description", in.Description, 1024)
	ttl := DefaultOutpostTokenTTL
	if in.TTL != nil {
		d, err := config.ParseDuration(*in.TTL)
		switch {
		case err != nil:
			f.add("ttl", "must be a duration such as 720h or 30d")
		case d < MinOutpostTokenTTL:
			f.add("ttl", fmt.Sprintf("must be at least %s", MinOutpostTokenTTL))
		}
		ttl = d
	}
	var life tokenLife
	if len(f) == 0 {
		t := ttl.String()
		if in.TTL == nil {
			life = s.Credentials.parseLife(&f, lifeInput{DefaultTTL: ttl}) // capped by GATEHOUSE_TOKEN_MAX_TTL
		} else {
			life = s.Credentials.parseLife(&f, lifeInput{TTL: &t})
		}
	}
	if err := f.err(); err != nil {
		return CreatedOutpost{}, err
	}
	var out CreatedOutpost
	err := s.write(ctx, func(q store.Queries, rec func(store.Event)) error {
		p, err := q.GetLDAPProvider(ctx, in.Provider)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return &ValidationError{[]FieldError{{"provider", fmt.Sprintf("LDAP provider %q does not exist", in.Provider)}}}
			}
			return err
		}
		now := s.now()
		u := store.User{UID: newUID(), Username: OutpostAccountPrefix + in.Name, Type: store.TypeInternalServiceAccount,
			Description: fmt.Sprintf("LDAP outpost %q of provider %q", in.Name, p.Name), IsActive: true, Managed: true, CreatedAt: now}
		if err := q.CreateUser(ctx, u); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return &ConflictError{Msg: fmt.Sprintf("the outpost's account name %q is taken", u.Username)}
			}
			return err
		}
		rec(s.event(a, audit.ActionModelCreated, audit.Success, audit.Target{Kind: audit.KindUser, Name: u.Username},
			map[string]any{"type": u.Type, "outpost": in.Name}))
		perms := outpostPermissions(p.Name)
		// The outpost's key is handed to the actor: no way up (bound.go).
		if err := mayGrant(a, authz.LDAPWrite, outpostTarget(in.Name), fmt.Sprintf("outpost %q's account", in.Name), nil, perms); err != nil {
			return err
		}
		if err := q.SetUserPermissions(ctx, u.UID, perms); err != nil {
			return err
		}
		rec(s.event(a, audit.ActionModelUpdated, audit.Success, audit.Target{Kind: audit.KindUser, Name: u.Username},
			map[string]any{"permissions": perms}))
		o := store.Outpost{UID: newUID(), Name: in.Name, Description: in.Description, ProviderUID: p.UID, UserUID: u.UID,
			TokenTTL: life.expiresAt.Sub(now).Round(time.Second), CreatedAt: now}
		if err := q.CreateOutpost(ctx, o); err != nil {
			return taken(err, "outpost", in.Name)
		}
		rec(s.event(a, audit.ActionModelCreated, audit.Success, outpostTarget(in.Name), map[string]any{"provider": p.Name, "user": u.Username}))
		tv, err := s.Credentials.issueToken(ctx, q, rec, a, u, newToken{intent: store.IntentAPI,
			description: "Managed token of LDAP outpost " + in.Name, life: life, managed: true})
		if err != nil {
			return err
		}
		o.ProviderName, o.Username = p.Name, u.Username
		out.Outpost, err = s.outpostView(ctx, q, o)
		out.Token = tv
		return err
	})
	if err != nil {
		return CreatedOutpost{}, err
	}
	s.authn.InvalidatePrincipals()
	return out, nil
}

// loadOutpost reads an outpost and authorizes perm on its provider.
func (s *LDAP) loadOutpost(ctx context.Context, a Actor, perm, name string) (store.Outpost, error) {
	if err := authenticated(a); err != nil {
		return store.Outpost{}, err
	}
	o, err := s.store.GetOutpost(ctx, name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return store.Outpost{}, err
	}
	// Without the permission on the provider (or unscoped), a missing and
	// an existing outpost look the same: forbidden.
	if err := s.authorizeHidden(ctx, a, perm, outpostTarget(name), "the outpost's LDAP provider", ldapObj(o.ProviderName)); err != nil {
		return store.Outpost{}, err
	}
	if o.UID == "" {
		return store.Outpost{}, &NotFoundError{Kind: "outpost", Name: name}
	}
	return o, nil
}

// GetOutpost reads an outpost (ldap.read on its provider).
func (s *LDAP) GetOutpost(ctx context.Context, a Actor, name string) (OutpostView, error) {
	o, err := s.loadOutpost(ctx, a, authz.LDAPRead, name)
	if err != nil {
		return OutpostView{}, err
	}
	return s.outpostView(ctx, s.store, o)
}

// ListOutposts lists outposts (ldap.read; a scoped grant sees its providers').
func (s *LDAP) ListOutposts(ctx context.Context, a Actor, after string, limit int) ([]OutpostView, error) {
	return scopedList(ctx, s.Service, a, authz.LDAPRead, ldapObj, outpostTarget(""), "", after, limit,
		func(after string, limit int) ([]store.Outpost, error) {
			return s.store.ListOutposts(ctx, store.OutpostFilter{After: after, Limit: limit})
		}, func(o store.Outpost) string { return o.Name }, func(o store.Outpost) string { return o.ProviderName },
		func(o store.Outpost) (OutpostView, error) { return s.outpostView(ctx, s.store, o) })
}

// DeleteOutpost deletes an outpost with its account and token
// (ldap.write on its provider): its key stops working at once.
func (s *LDAP) DeleteOutpost(ctx context.Context, a Actor, name string) error {
	o, err := s.loadOutpost(ctx, a, authz.LDAPWrite, name)
	if err != nil {
		return err
	}
	err = s.write(ctx, func(q store.Queries, rec func(store.Event)) error {
		if err := q.DeleteOutpost(ctx, o.UID); err != nil {
			return notFound(err, "outpost", name)
		}
		if err := q.DeleteUser(ctx, o.UserUID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		rec(s.event(a, audit.ActionModelDeleted, audit.Success, outpostTarget(name), map[string]any{"provider": o.ProviderName}))
		rec(s.event(a, audit.ActionModelDeleted, audit.Success, audit.Target{Kind: audit.KindUser, Name: o.Username},
			map[string]any{"type": store.TypeInternalServiceAccount, "outpost": name}))
		return nil
	})
	return then(err, s.authn.InvalidateAll)
}

// RotateOutpostToken issues a new key for an outpost's managed token
// (ldap.write on its provider), for an outpost that lost its key or was
// down past its token's expiry. The old key keeps working for grace
// (default 0s: it stops at once).
func (s *LDAP) RotateOutpostToken(ctx context.Context, a Actor, name string, in OutpostRotateInput) (CreatedOutpost, error) {
	o, err := s.loadOutpost(ctx, a, authz.LDAPWrite, name)
	if err != nil {
		return CreatedOutpost{}, err
	}
	t, err := outpostToken(ctx, s.store, o.UserUID)
	if err != nil {
		return CreatedOutpost{}, notFound(err, "token of outpost", name)
	}
	tv, err := s.Credentials.rotate(ctx, a, authz.LDAPWrite, t, RotateInput{Grace: in.Grace})
	if err != nil {
		return CreatedOutpost{}, err
	}
	ov, err := s.outpostView(ctx, s.store, o)
	if err != nil {
		return CreatedOutpost{}, err
	}
	return CreatedOutpost{Outpost: ov, Token: tv}, nil
}

// warnManagedTokens records a token_expiring warning for each managed API
// token (an outpost's) with less than a quarter of its lifetime left:
// its outpost rotates at two thirds, so such a token's outpost has been
// unable to for a while. At most one warning per token a day.
func (s *LDAP) warnManagedTokens(ctx context.Context) error {
	now := s.now()
	ts, err := s.store.ManagedTokensExpiringBefore(ctx, now.Add(366*24*time.Hour), 1000)
	if err != nil {
		return err
	}
	for _, t := range ts {
		if t.ExpiresAt == nil || !t.ExpiresAt.After(now) {
			continue // expired: refused already; the outpost needs a rotation by an admin
		}
		keys, err := s.store.ListTokenKeys(ctx, t.UID)
		if err != nil || len(keys) == 0 {
			continue
		}
		lifetime := t.ExpiresAt.Sub(keys[0].CreatedAt)
		left := t.ExpiresAt.Sub(now)
		if left >= lifetime/4 || !s.ldap.warnDue(t.UID, now) {
			continue
		}
		s.log.Warn("a managed token is close to expiry and was not rotated; is its outpost running?",
			"token", t.Identifier, "user", t.Username, "expires_at", t.ExpiresAt.Format(time.RFC3339))
		ev := s.event(systemActor, audit.ActionTokenExpiring, audit.Failure, tokenTarget(t.Identifier),
			map[string]any{"user": t.Username, "expires_at": t.ExpiresAt.Format(time.RFC3339), "managed": true})
		if err := s.record(ctx, ev); err != nil {
			return err
		}
	}
	return nil
}
