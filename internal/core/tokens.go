package core

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/client"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Defaults of token lifetimes.
const (
	DefaultTokenTTL          = 30 * 24 * time.Hour  // POST /tokens
	DefaultServiceAccountTTL = 360 * 24 * time.Hour // POST /service-accounts
	MaxGrace                 = 30 * 24 * time.Hour
	// MaxLifetime bounds every expiry gatehouse accepts (expires_at, ttl,
	// max_age; grace is shorter still): at most 100 years from now, far
	// beyond any real use and well inside what the authenticator's
	// nanosecond clock holds (until 2262).
	MaxLifetime = 100 * 365 * 24 * time.Hour
)

// maxLifetimeText names MaxLifetime in refusals and documents.
const maxLifetimeText = "must be at most 100 years (876000h) from now"

// identifierRule: token identifiers appear in URLs and events.
var identifierRule = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]{0,126}[A-Za-z0-9])?$`)

// TokenView is a token as the API shows it. Key is set only in the answer
// that creates or rotates it.
type TokenView = client.Token

func tokenTarget(id string) audit.Target { return audit.Target{Kind: audit.KindToken, Name: id} }

// tokenView renders t, preferring the authenticator's in-memory use and
// extended expiry, which are fresher than the store's between flushes.
func (s *Credentials) tokenView(t store.Token) TokenView {
	v := TokenView{Identifier: t.Identifier, User: t.Username, UserType: t.UserType, Intent: t.Intent,
		Description: t.Description, Expiring: t.Expiring, ExpiresAt: t.ExpiresAt, Extended: t.Extended,
		CreatedAt: t.CreatedAt, CreatedBy: t.CreatedBy, LastUsedAt: t.LastUsedAt, Managed: t.Managed}
	restrictionsView(&v, t.Restrictions)
	if lu, exp, ok := s.authn.TokenUsage(t.UID); ok {
		if !lu.IsZero() && (v.LastUsedAt == nil || lu.After(*v.LastUsedAt)) {
			lu = lu.Truncate(time.Microsecond)
			v.LastUsedAt = &lu
		}
		if t.Extended && !exp.IsZero() && v.ExpiresAt != nil && exp.After(*v.ExpiresAt) {
			exp = exp.Truncate(time.Microsecond)
			v.ExpiresAt = &exp
		}
	}
	if t.Extended {
		m := t.MaxAge.String()
		v.MaxAge = &m
	}
	v.Expired = v.Expiring && v.ExpiresAt != nil && !s.clock.Now().Before(*v.ExpiresAt)
	return v
}

// tokenAccess says what an actor may do with tokens of one owner.
type tokenAccess int

const (
	accessRead   tokenAccess = iota // list, get
	accessRevoke                    // delete
	accessIssue                     // create, rotate, change
)

// authorizeTokens decides whether a may act on the tokens of owner. It
// looks the owner up only as far as a scoped grant needs, so that a
// missing owner is a 404 only for those allowed to know.
func (s *Credentials) authorizeTokens(ctx context.Context, a Actor, access tokenAccess, owner string, target audit.Target) (store.User, error) {
	if err := authenticated(a); err != nil {
		return store.User{}, err
	}
	if access != accessRead {
		if err := s.refuseGraceKey(ctx, a, target); err != nil {
			return store.User{}, err
		}
	}
	if access == accessIssue {
		if err := s.refuseMintedKey(ctx, a, target); err != nil {
			return store.User{}, err
		}
	}
	self := a.P.Username == owner
	perm := authz.TokensWrite
	if access == accessRead {
		perm = authz.TokensRead
	}
	lookup := func() (store.User, error) {
		u, err := s.store.GetUser(ctx, owner)
		return u, notFound(err, "user", owner)
	}
	switch {
	case access == accessRead && (a.P.Can(authz.TokensRead) || a.P.Can(authz.TokensWrite)):
		// Unscoped readers see anyone's tokens (never a key).
		return lookup()
	case self && (access != accessIssue || a.P.Can(authz.TokensSelf) || a.P.Can(perm)):
		return lookup()
	}
	// Everything else acts on another account's keys: issuing, rotating
	// or changing one hands the actor that account, revoking one takes it
	// away from its owner, and a scoped grant reaches a group's members
	// only. Each is allowed, scoped or not, only for owners who hold no
	// more than the actor (bound.go), so that tokens.write is never a way
	// to an administrator's keys, nor a group grant to an administrator
	// added to the group.
	u, err := s.store.GetUser(ctx, owner)
	if errors.Is(err, store.ErrNotFound) && a.P.Can(perm) {
		return store.User{}, notFound(err, "user", owner)
	}
	if err == nil {
		g, gerr := s.store.UserGrants(ctx, u.UID)
		if gerr != nil {
			return store.User{}, gerr
		}
		objs := authz.GroupObjects(g.Groups)
		allowed := a.P.CanOn(perm, objs...) || (access == accessRead && a.P.CanOn(authz.TokensWrite, objs...)) ||
			(self && a.P.CanOn(authz.TokensWrite, objs...))
		if allowed && a.P.Covers(auth.BuildPrincipal(u, g)) {
			return u, nil
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return store.User{}, err
	}
	// The detail is the same whether the owner is missing, outside the
	// actor's groups or more powerful: it says what is needed, never
	// which of these it was.
	need := perm + ", or " + perm + " on a group the owner is in (" + perm + "@group/NAME); either way, every permission the owner holds"
	switch {
	case self && access == accessIssue:
		perm, need = authz.TokensSelf, authz.TokensSelf
	case access == accessRead:
		need = perm + ", or " + perm + " on a group the owner is in (" + perm + "@group/NAME) and every permission the owner holds"
	}
	return store.User{}, s.forbid(ctx, a, perm, target, need)
}

// tokenBound checks, inside the write, that a key of the token being
// issued, rotated, changed or revoked holds no more than the actor: the
// token's power is its owner's (as the transaction sees it, whatever
// changed since authorizeTokens looked), narrowed by the token's own
// permissions. So tokens.write never reaches an administrator's keys,
// and a narrowed key never makes, rotates or revokes a broader key, its
// owner's included.
func tokenBound(ctx context.Context, q store.Queries, a Actor, perm, ownerUID string, r *store.TokenRestrictions, identifier string) error {
	if a.P.UID == ownerUID && !a.P.Narrowed && (r == nil || r.Permissions == nil) && withinBindings(a.Cred.Restrictions, r) {
		return nil // one's own full key: the actor itself
	}
	u, err := q.GetUserByUID(ctx, ownerUID)
	if err != nil {
		return notFound(err, "user", ownerUID)
	}
	if !withinBindings(a.Cred.Restrictions, r) {
		return refuse(a, perm, tokenTarget(identifier), "the token is bound less tightly than your key (networks, applications or LDAP providers)")
	}
	p, err := tokenPower(ctx, q, u, r)
	if err != nil {
		return err
	}
	if a.P.Covers(p) {
		return nil
	}
	return refuse(a, perm, tokenTarget(identifier), fmt.Sprintf("the token can do more than you: %s", strings.Join(missingFrom(a.P, p), ", ")))
}

// refuseGraceKey refuses to manage tokens with a key in its rotation
// grace period. Such a key was replaced, perhaps because it leaked: it
// may finish the work in flight until the grace ends, but it cannot
// issue, rotate, change or revoke keys, or its holder could outlive the
// rotation (rotate it again to a long life, or revoke the new key).
func (s *Credentials) refuseGraceKey(ctx context.Context, a Actor, target audit.Target) error {
	if !a.Cred.InGrace() {
		return nil
	}
	until := a.Cred.GraceUntil.Format(time.RFC3339)
	ev := s.event(a, audit.ActionAuthzDenied, audit.Failure, target,
		map[string]any{"permission": authz.TokensWrite, "reason": "key_in_rotation_grace", "grace_until": until})
	if err := s.record(ctx, ev); err != nil {
		s.log.Error("write authz_denied event", "err", err)
	}
	return &ForbiddenError{Permission: authz.TokensWrite, recorded: true,
		Detail: fmt.Sprintf("this key was rotated; it may be used until %s but cannot create, rotate, change or revoke tokens: use the new key", until)}
}

// minted reports whether the actor's key was minted by a token exchange.
func minted(a Actor) bool { return a.Cred.Restrictions != nil && a.Cred.Restrictions.Federated }

const mintedKeyDetail = "this key was minted by a token exchange (workload identity federation): it cannot create, rotate or change tokens, whatever its permissions"

// refuseMintedKey refuses to issue, rotate or change keys with a key
// minted by a token exchange: such a key is minutes-long by design, and a
// key it made would outlive it (and its trust policy's deletion).
func (s *Credentials) refuseMintedKey(ctx context.Context, a Actor, target audit.Target) error {
	if !minted(a) {
		return nil
	}
	ev := s.event(a, audit.ActionAuthzDenied, audit.Failure, target,
		map[string]any{"permission": authz.TokensWrite, "reason": "key_minted_by_token_exchange"})
	if err := s.record(ctx, ev); err != nil {
		s.log.Error("write authz_denied event", "err", err)
	}
	return &ForbiddenError{Permission: authz.TokensWrite, recorded: true, Detail: mintedKeyDetail}
}

// mintedConflict refuses to rotate or change a minted token: it lives
// as long as its trust policy said, and is made anew by another exchange.
func mintedConflict(t store.Token) error {
	if t.Restrictions != nil && t.Restrictions.Federated != nil {
		return &ConflictError{Msg: fmt.Sprintf("token %q was minted by a token exchange: it cannot be rotated or changed; exchange a new ID token instead", t.Identifier)}
	}
	return nil
}

// CreateTokenInput is POST /tokens.
type CreateTokenInput struct {
	Identifier  string  `json:"identifier"`
	User        string  `json:"user"`
	Intent      string  `json:"intent"`
	Description string  `json:"description"`
	Expiring    *bool   `json:"expiring"`
	ExpiresAt   *string `json:"expires_at"`
	TTL         *string `json:"ttl"`
	Extended    bool    `json:"extended"`
	MaxAge      *string `json:"max_age"`
	// Least privilege (restrictions.go); absent: none.
	Permissions   *[]string `json:"permissions"`
	AllowedCIDRs  []string  `json:"allowed_cidrs"`
	Applications  []string  `json:"applications"`
	LDAPProviders []string  `json:"ldap_providers"`
}

func (in CreateTokenInput) restrictions() RestrictionsInput {
	return RestrictionsInput{Permissions: in.Permissions, AllowedCIDRs: in.AllowedCIDRs, Applications: in.Applications, LDAPProviders: in.LDAPProviders}
}

// tokenLife is a validated expiry choice.
type tokenLife struct {
	expiring  bool
	expiresAt *time.Time
	extended  bool
	maxAge    time.Duration
}

// lifeInput is the common shape of expiry fields across requests.
type lifeInput struct {
	Expiring   *bool
	ExpiresAt  *string
	TTL        *string
	Extended   bool
	MaxAge     *string
	DefaultTTL time.Duration
}

// parseLife validates expiry fields against each other, the clock and the
// server's limit, adding one error per bad field.
func (s *Credentials) parseLife(f *fields, in lifeInput) tokenLife {
	now := s.now()
	limit := s.cfg.TokenMaxTTL
	life := tokenLife{expiring: in.Expiring == nil || *in.Expiring, extended: in.Extended}
	if !life.expiring {
		if in.ExpiresAt != nil || in.TTL != nil || in.Extended {
			f.add("expiring", "false cannot be combined with expires_at, ttl or extended")
		}
		if limit > 0 {
			f.add("expiring", fmt.Sprintf("this server allows no token to live longer than %s (GATEHOUSE_TOKEN_MAX_TTL)", limit))
		}
		if in.MaxAge != nil {
			f.add("max_age", "is only allowed with extended: true")
		}
		return life
	}
	if in.ExpiresAt != nil && in.TTL != nil {
		f.add("ttl", "give expires_at or ttl, not both")
	}
	if in.Extended {
		if in.ExpiresAt != nil || in.TTL != nil {
			f.add("extended", "an extended token's expiry follows its use: give max_age, not expires_at or ttl")
		}
		if in.MaxAge == nil {
			f.add("max_age", "is required when extended is true")
			return life
		}
		d, err := config.ParseDuration(*in.MaxAge)
		switch {
		case err != nil:
			f.add("max_age", "must be a duration such as 90s, 30m, 720h or 30d")
		case d < time.Second:
			f.add("max_age", "must be at least 1s")
		case d > MaxLifetime:
			f.add("max_age", maxLifetimeText)
		case limit > 0 && d > limit:
			f.add("max_age", fmt.Sprintf("must be at most %s (GATEHOUSE_TOKEN_MAX_TTL)", limit))
		}
		life.maxAge = d
		exp := now.Add(d)
		life.expiresAt = &exp
		return life
	}
	if in.MaxAge != nil {
		f.add("max_age", "is only allowed with extended: true")
	}
	var exp time.Time
	field := ""
	switch {
	case in.ExpiresAt != nil:
		field = "expires_at"
		t, err := time.Parse(time.RFC3339Nano, *in.ExpiresAt)
		if err != nil {
			f.add(field, "must be an RFC 3339 time such as 2030-01-02T15:04:05Z")
			return life
		}
		if !t.After(now) {
			f.add(field, "is in the past")
			return life
		}
		if t.Sub(now) > MaxLifetime {
			f.add(field, maxLifetimeText)
			return life
		}
		exp = t.UTC().Truncate(time.Microsecond)
	case in.TTL != nil:
		field = "ttl"
		d, err := config.ParseDuration(*in.TTL)
		if err != nil {
			f.add(field, "must be a duration such as 90s, 30m, 720h or 30d")
			return life
		}
		if d <= 0 {
			f.add(field, "must be positive")
			return life
		}
		if d > MaxLifetime {
			f.add(field, maxLifetimeText)
			return life
		}
		exp = now.Add(d)
	default:
		// The caller asked for nothing: take the most allowed (a rotation's
		// default, the old key's lifetime, may be beyond it).
		d := min(in.DefaultTTL, MaxLifetime)
		if limit > 0 && d > limit {
			d = limit
		}
		exp = now.Add(d)
	}
	if field != "" && limit > 0 && exp.Sub(now) > limit {
		f.add(field, fmt.Sprintf("this server allows no token to live longer than %s (GATEHOUSE_TOKEN_MAX_TTL)", limit))
	}
	life.expiresAt = &exp
	return life
}

// newKey makes a key of the intent and its stored verifier.
func (s *Credentials) newKey(intent, tokenUID string, now time.Time) (string, store.TokenKey, error) {
	pk, err := auth.NewKey(intent)
	if err != nil {
		return "", store.TokenKey{}, fmt.Errorf("generate key: %w", err)
	}
	return pk.Raw, store.TokenKey{Lookup: pk.Lookup, TokenUID: tokenUID, Hash: s.authn.Hasher().Sum(pk.Raw), CreatedAt: now}, nil
}

// ErrTokenLimit marks the refusal of a token beyond the per-account
// limit; the error is also a ConflictError (409) saying so.
var ErrTokenLimit = errors.New("token limit reached")

// checkTokenCount refuses a new token to an owner who already holds
// GATEHOUSE_MAX_TOKENS_PER_ACCOUNT of them. It counts inside the write
// transaction that inserts, and write transactions take turns (SQLite's
// one writer, PostgreSQL's gate), so concurrent requests cannot all slip
// under the limit. Managed tokens (an outpost's, which gatehouse issues
// itself) neither count nor are refused.
func (s *Credentials) checkTokenCount(ctx context.Context, q store.Queries, owner store.User) error {
	limit := s.cfg.MaxTokensPerAccount
	if limit <= 0 {
		return nil
	}
	n, err := q.CountTokens(ctx, owner.UID)
	if err != nil {
		return err
	}
	if n < limit {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrTokenLimit, &ConflictError{Msg: fmt.Sprintf(
		"%q holds %d tokens and app passwords, and this server allows at most %d per account (GATEHOUSE_MAX_TOKENS_PER_ACCOUNT, --max-tokens-per-account); revoke unused ones first",
		owner.Username, n, limit)})
}

// issueToken creates a token and its first key inside q; the returned view
// carries the key.
// newToken is what issueToken makes.
type newToken struct {
	identifier, intent, description string
	life                            tokenLife
	// managed: gatehouse's own (an outpost's), neither counted nor
	// changed by anyone else.
	managed      bool
	restrictions *store.TokenRestrictions
	// federatedPolicyUID: minted by a token exchange under this policy;
	// neither counted nor recorded as token_created (the exchange
	// records token_exchanged).
	federatedPolicyUID string
}

func (s *Credentials) issueToken(ctx context.Context, q store.Queries, rec func(store.Event), a Actor, owner store.User, nt newToken) (TokenView, error) {
	identifier, intent, description, life, managed := nt.identifier, nt.intent, nt.description, nt.life, nt.managed
	now := s.now()
	if identifier == "" {
		suffix, err := auth.RandomString(8)
		if err != nil {
			return TokenView{}, err
		}
		identifier = owner.Username + "-" + strings.ToLower(suffix)
	}
	t := store.Token{UID: newUID(), Identifier: identifier, UserUID: owner.UID, Username: owner.Username, UserType: owner.Type,
		Intent: intent, Description: description, Expiring: life.expiring, ExpiresAt: life.expiresAt,
		Extended: life.extended, MaxAge: life.maxAge, CreatedAt: now, Managed: managed, Restrictions: nt.restrictions,
		FederatedPolicyUID: nt.federatedPolicyUID}
	if a.P != nil {
		t.CreatedBy = a.P.Username
	}
	if minted(a) {
		// Every path that issues a key comes here (tokens, service
		// accounts' first tokens, outposts).
		return TokenView{}, refuse(a, authz.TokensWrite, tokenTarget(identifier), mintedKeyDetail)
	}
	if !managed && nt.federatedPolicyUID == "" {
		if err := s.checkTokenCount(ctx, q, owner); err != nil {
			return TokenView{}, err
		}
	}
	raw, key, err := s.newKey(intent, t.UID, now)
	if err != nil {
		return TokenView{}, err
	}
	if err := q.CreateToken(ctx, t, key); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return TokenView{}, &NotFoundError{Kind: "user", Name: owner.Username}
		}
		return TokenView{}, taken(err, "token", identifier)
	}
	c := map[string]any{"user": owner.Username, "intent": intent, "expiring": life.expiring, "extended": life.extended}
	if life.expiresAt != nil {
		c["expires_at"] = life.expiresAt.Format(time.RFC3339)
	}
	if r := nt.restrictions; r != nil {
		if r.Permissions != nil {
			c["permissions"] = nonNil(*r.Permissions)
		}
		for k, v := range map[string][]string{"allowed_cidrs": r.AllowedCIDRs, "applications": r.Applications, "ldap_providers": r.LDAPProviders} {
			if len(v) > 0 {
				c[k] = v
			}
		}
	}
	if nt.federatedPolicyUID == "" {
		rec(s.event(a, audit.ActionTokenCreated, audit.Success, tokenTarget(identifier), c))
	}
	v := s.tokenView(t)
	v.Key = raw
	return v, nil
}

func validIntent(f *fields, field, intent string) {
	if intent != store.IntentAPI && intent != store.IntentAppPassword {
		f.add(field, "must be api or app_password")
	}
}

// CreateToken issues a token (tokens.write on the owner; tokens.self for
// one's own).
func (s *Credentials) CreateToken(ctx context.Context, a Actor, in CreateTokenInput) (TokenView, error) {
	if in.User == "" && a.P != nil {
		in.User = a.P.Username
	}
	owner, err := s.authorizeTokens(ctx, a, accessIssue, in.User, tokenTarget(in.Identifier))
	if err != nil {
		return TokenView{}, err
	}
	if in.Intent == "" {
		in.Intent = store.IntentAPI
	}
	var f fields
	if in.Identifier != "" && !identifierRule.MatchString(in.Identifier) {
		f.add("identifier", "must be 1-128 characters of A-Z, a-z, 0-9, '.', '_' and '-', starting and ending with a letter or digit")
	}
	validIntent(&f, "intent", in.Intent)
	f.maxLen("description", in.Description, 1024)
	life := s.parseLife(&f, lifeInput{Expiring: in.Expiring, ExpiresAt: in.ExpiresAt, TTL: in.TTL, Extended: in.Extended, MaxAge: in.MaxAge, DefaultTTL: DefaultTokenTTL})
	if err := f.err(); err != nil {
		return TokenView{}, err
	}
	if owner.Managed {
		return TokenView{}, &ConflictError{Msg: fmt.Sprintf("%q is managed by gatehouse; its tokens are issued by gatehouse", owner.Username)}
	}
	if !owner.IsActive {
		return TokenView{}, &ConflictError{Msg: fmt.Sprintf("%q is disabled", owner.Username)}
	}
	var out TokenView
	err = s.write(ctx, func(q store.Queries, rec func(store.Event)) error {
		var f fields
		r, err := restrictionsFor(ctx, q, &f, a, owner, in.restrictions())
		if err != nil {
			return err
		}
		if err := f.err(); err != nil {
			return err
		}
		if err := tokenBound(ctx, q, a, authz.TokensWrite, owner.UID, r, in.Identifier); err != nil {
			return err
		}
		out, err = s.issueToken(ctx, q, rec, a, owner, newToken{identifier: in.Identifier, intent: in.Intent,
			description: in.Description, life: life, restrictions: r})
		return err
	})
	return out, err
}

// TokenQuery selects tokens.
type TokenQuery struct {
	User           string
	Intent         string
	ExpiringWithin string
	UnusedFor      string
	Search         string
	After          string
	Limit          int
}

// ListTokens lists tokens: all with tokens.read, a group member's with a
// scoped grant and user=, and always one's own.
func (s *Credentials) ListTokens(ctx context.Context, a Actor, tq TokenQuery) ([]TokenView, error) {
	if err := authenticated(a); err != nil {
		return nil, err
	}
	var f fields
	filter := store.TokenFilter{Intent: tq.Intent, Search: tq.Search, After: tq.After, Limit: tq.Limit}
	if tq.Intent != "" {
		validIntent(&f, "intent", tq.Intent)
	}
	now := s.now()
	if tq.ExpiringWithin != "" {
		d, err := config.ParseDuration(tq.ExpiringWithin)
		if err != nil || d < 0 {
			f.add("expiring_within", "must be a duration such as 168h or 7d")
		}
		t := now.Add(d)
		filter.ExpiringBefore = &t
	}
	if tq.UnusedFor != "" {
		d, err := config.ParseDuration(tq.UnusedFor)
		if err != nil || d < 0 {
			f.add("unused_for", "must be a duration such as 2160h or 90d")
		}
		t := now.Add(-d)
		filter.UnusedSince = &t
	}
	f.maxLen("search", tq.Search, 256)
	if err := f.err(); err != nil {
		return nil, err
	}
	switch {
	case tq.User != "":
		owner, err := s.authorizeTokens(ctx, a, accessRead, tq.User, tokenTarget(""))
		if err != nil {
			return nil, err
		}
		filter.UserUID = owner.UID
	case a.P.Can(authz.TokensRead) || a.P.Can(authz.TokensWrite):
	default:
		filter.UserUID = a.P.UID // one's own
	}
	return listOf(ctx, nil, s.store.ListTokens, filter, s.tokenView)
}

// loadToken loads one token and authorizes access to it.
func (s *Credentials) loadToken(ctx context.Context, a Actor, access tokenAccess, identifier string) (store.Token, error) {
	if err := authenticated(a); err != nil {
		return store.Token{}, err
	}
	// Identifiers are names, not secrets (they appear in events), so a
	// miss is a plain 404.
	t, err := s.store.GetToken(ctx, identifier)
	if errors.Is(err, store.ErrNotFound) {
		return t, &NotFoundError{Kind: "token", Name: identifier}
	}
	if err != nil {
		return t, err
	}
	if _, err := s.authorizeTokens(ctx, a, access, t.Username, tokenTarget(identifier)); err != nil {
		return t, err
	}
	return t, nil
}

// GetToken reads one token.
func (s *Credentials) GetToken(ctx context.Context, a Actor, identifier string) (TokenView, error) {
	t, err := s.loadToken(ctx, a, accessRead, identifier)
	if err != nil {
		return TokenView{}, err
	}
	return s.tokenView(t), nil
}

// UpdateTokenInput is PATCH /tokens/{id}.
type UpdateTokenInput struct {
	Description *string `json:"description"`
	Expiring    *bool   `json:"expiring"`
	ExpiresAt   *string `json:"expires_at"`
	TTL         *string `json:"ttl"`
	Extended    *bool   `json:"extended"`
	MaxAge      *string `json:"max_age"`
	// Fixed for the token's life: given here, they are refused (400).
	Permissions   *[]string `json:"permissions"`
	AllowedCIDRs  []string  `json:"allowed_cidrs"`
	Applications  []string  `json:"applications"`
	LDAPProviders []string  `json:"ldap_providers"`
}

// UpdateToken changes a token's description or expiry.
func (s *Credentials) UpdateToken(ctx context.Context, a Actor, identifier string, in UpdateTokenInput) (TokenView, error) {
	t, err := s.loadToken(ctx, a, accessIssue, identifier)
	if err != nil {
		return TokenView{}, err
	}
	if t.Managed {
		return TokenView{}, &ConflictError{Msg: fmt.Sprintf("token %q is managed by gatehouse", identifier)}
	}
	if err := mintedConflict(t); err != nil {
		return TokenView{}, err
	}
	var f fields
	for field, given := range map[string]bool{"permissions": in.Permissions != nil, "allowed_cidrs": in.AllowedCIDRs != nil,
		"applications": in.Applications != nil, "ldap_providers": in.LDAPProviders != nil} {
		if given {
			f.add(field, "is fixed for the token's life: make a new token with what it should hold, then revoke this one")
		}
	}
	if in.Description != nil {
		f.maxLen("description", *in.Description, 1024)
	}
	lifeChanged := in.Expiring != nil || in.ExpiresAt != nil || in.TTL != nil || in.Extended != nil || in.MaxAge != nil
	var life tokenLife
	if lifeChanged {
		ext := in.Extended != nil && *in.Extended
		if in.Extended == nil && t.Extended && in.ExpiresAt == nil && in.TTL == nil && (in.Expiring == nil || *in.Expiring) {
			ext = true // keep extended; a new max_age may be given
			if in.MaxAge == nil {
				m := t.MaxAge.String()
				in.MaxAge = &m
			}
		}
		life = s.parseLife(&f, lifeInput{Expiring: in.Expiring, ExpiresAt: in.ExpiresAt, TTL: in.TTL, Extended: ext, MaxAge: in.MaxAge, DefaultTTL: DefaultTokenTTL})
	}
	if err := f.err(); err != nil {
		return TokenView{}, err
	}
	s.flushToken(ctx, t.UID)
	err = s.write(ctx, func(q store.Queries, rec func(store.Event)) error {
		// Re-read: the flush above may have moved an extended token's
		// expiry, which a change of the description alone must keep.
		cur, err := q.GetToken(ctx, identifier)
		if err != nil {
			return notFound(err, "token", identifier)
		}
		if err := tokenBound(ctx, q, a, authz.TokensWrite, cur.UserUID, cur.Restrictions, identifier); err != nil {
			return err
		}
		t = cur
		if in.Description != nil {
			t.Description = *in.Description
		}
		if lifeChanged {
			t.Expiring, t.ExpiresAt, t.Extended, t.MaxAge = life.expiring, life.expiresAt, life.extended, life.maxAge
		}
		if err := q.UpdateToken(ctx, t); err != nil {
			return notFound(err, "token", identifier)
		}
		c := map[string]any{"expiring": t.Expiring, "extended": t.Extended}
		if t.ExpiresAt != nil {
			c["expires_at"] = t.ExpiresAt.Format(time.RFC3339)
		}
		rec(s.event(a, audit.ActionTokenUpdated, audit.Success, tokenTarget(identifier), c))
		return nil
	})
	if err != nil {
		return TokenView{}, err
	}
	s.authn.InvalidateToken(t.UID)
	return s.tokenView(t), nil
}

// flushToken persists pending use of a token before a change reloads it.
func (s *Credentials) flushToken(ctx context.Context, tokenUID string) {
	if err := s.authn.Flush(ctx); err != nil {
		s.log.Warn("flush token use before change", "err", err)
	}
}

// RevokeToken deletes a token: its keys stop working on the next request.
func (s *Credentials) RevokeToken(ctx context.Context, a Actor, identifier string) error {
	t, err := s.loadToken(ctx, a, accessRevoke, identifier)
	if err != nil {
		return err
	}
	err = s.write(ctx, func(q store.Queries, rec func(store.Event)) error {
		if err := tokenBound(ctx, q, a, authz.TokensWrite, t.UserUID, t.Restrictions, identifier); err != nil {
			return err
		}
		if err := q.DeleteToken(ctx, t.UID); err != nil {
			return notFound(err, "token", identifier)
		}
		rec(s.event(a, audit.ActionTokenRevoked, audit.Success, tokenTarget(identifier),
			map[string]any{"user": t.Username, "intent": t.Intent}))
		return nil
	})
	if err != nil {
		return err
	}
	s.authn.InvalidateToken(t.UID)
	return nil
}

// RotateInput is POST /tokens/{id}/rotate.
type RotateInput struct {
	Grace     *string `json:"grace"`
	TTL       *string `json:"ttl"`
	ExpiresAt *string `json:"expires_at"`
}

// RotateToken issues a new key for a token. The old key keeps working for
// grace, then never again. Without ttl or expires_at, a fixed-expiry token
// gets the lifetime its current key had, counted from now.
func (s *Credentials) RotateToken(ctx context.Context, a Actor, identifier string, in RotateInput) (TokenView, error) {
	t, err := s.loadToken(ctx, a, accessIssue, identifier)
	if err != nil {
		return TokenView{}, err
	}
	if t.Managed && a.P.Type != store.TypeInternalServiceAccount {
		return TokenView{}, &ConflictError{Msg: fmt.Sprintf("token %q is managed by gatehouse", identifier)}
	}
	if err := mintedConflict(t); err != nil {
		return TokenView{}, err
	}
	if owner, err := s.store.GetUserByUID(ctx, t.UserUID); err == nil && !owner.IsActive {
		return TokenView{}, &ConflictError{Msg: fmt.Sprintf("%q is disabled", t.Username)}
	}
	return s.rotate(ctx, a, authz.TokensWrite, t, in)
}

// managedLifetime is the lifetime gatehouse gives a managed token at
// each rotation: its outpost's token_ttl (the default for a managed token
// that belongs to no outpost). parseLife cuts it to the server's limits.
func (s *Credentials) managedLifetime(ctx context.Context, t store.Token) (time.Duration, error) {
	name, ok := strings.CutPrefix(t.Username, OutpostAccountPrefix)
	if !ok {
		return DefaultOutpostTokenTTL, nil
	}
	o, err := s.store.GetOutpost(ctx, name)
	switch {
	case errors.Is(err, store.ErrNotFound) || (err == nil && o.UserUID != t.UserUID):
		return DefaultOutpostTokenTTL, nil
	case err != nil:
		return 0, err
	case o.TokenTTL < MinOutpostTokenTTL:
		return MinOutpostTokenTTL, nil
	}
	return o.TokenTTL, nil
}

// rotate issues t a new key for a, who was authorized under perm.
func (s *Credentials) rotate(ctx context.Context, a Actor, perm string, t store.Token, in RotateInput) (TokenView, error) {
	// The one path every rotation takes (an outpost's by an ldap.write
	// holder too): a replaced key rotates nothing.
	if err := s.refuseGraceKey(ctx, a, tokenTarget(t.Identifier)); err != nil {
		return TokenView{}, err
	}
	if err := s.refuseMintedKey(ctx, a, tokenTarget(t.Identifier)); err != nil {
		return TokenView{}, err
	}
	var f fields
	grace := time.Duration(0)
	if in.Grace != nil {
		d, err := config.ParseDuration(*in.Grace)
		switch {
		case err != nil:
			f.add("grace", "must be a duration such as 0s, 15m, 24h or 1d")
		case d < 0:
			f.add("grace", "must not be negative")
		case d > MaxGrace:
			f.add("grace", fmt.Sprintf("must be at most %s", MaxGrace))
		}
		grace = d
	}
	now := s.now()
	// The old key keeps working for grace, but never past the expiry it
	// had: a rotation does not lengthen the life of the key it replaces.
	graceEnd := now.Add(grace)
	if old := s.tokenView(t); old.Expiring && old.ExpiresAt != nil && old.ExpiresAt.Before(graceEnd) {
		graceEnd = *old.ExpiresAt
	}
	keys, err := s.store.ListTokenKeys(ctx, t.UID)
	if err != nil {
		return TokenView{}, err
	}
	// The new key gets no more than creating the token would allow now.
	limit := s.cfg.TokenMaxTTL
	switch {
	case t.Managed:
		// A managed token lives as long as gatehouse says (its outpost's
		// token_ttl, within the server's limits), whoever rotates it.
		const set = "a managed token's lifetime is set by gatehouse (its outpost's token_ttl); leave it out"
		if in.TTL != nil {
			f.add("ttl", set)
		}
		if in.ExpiresAt != nil {
			f.add("expires_at", set)
		}
		lifetime, err := s.managedLifetime(ctx, t)
		if err != nil {
			return TokenView{}, err
		}
		life := s.parseLife(&f, lifeInput{DefaultTTL: lifetime})
		t.Expiring, t.ExpiresAt, t.Extended, t.MaxAge = true, life.expiresAt, false, 0
	case !t.Expiring:
		if in.TTL != nil || in.ExpiresAt != nil {
			f.add("ttl", "the token does not expire; change that with PATCH first")
		}
		if limit > 0 {
			// Made before the server had a limit: the new key gets the
			// longest life allowed, as creating it would.
			exp := now.Add(limit)
			t.Expiring, t.ExpiresAt = true, &exp
		}
	case t.Extended:
		if in.TTL != nil || in.ExpiresAt != nil {
			f.add("ttl", "an extended token's expiry follows its use")
		}
		t.MaxAge = min(t.MaxAge, MaxLifetime)
		if limit > 0 && t.MaxAge > limit {
			t.MaxAge = limit
		}
		exp := now.Add(t.MaxAge)
		t.ExpiresAt = &exp
	default:
		lifetime := DefaultTokenTTL
		if len(keys) > 0 && t.ExpiresAt != nil && t.ExpiresAt.After(keys[0].CreatedAt) {
			lifetime = t.ExpiresAt.Sub(keys[0].CreatedAt)
		}
		life := s.parseLife(&f, lifeInput{ExpiresAt: in.ExpiresAt, TTL: in.TTL, DefaultTTL: lifetime})
		t.ExpiresAt = life.expiresAt
	}
	if err := f.err(); err != nil {
		return TokenView{}, err
	}
	raw, key, err := s.newKey(t.Intent, t.UID, now)
	if err != nil {
		return TokenView{}, err
	}
	s.flushToken(ctx, t.UID)
	err = s.write(ctx, func(q store.Queries, rec func(store.Event)) error {
		if err := tokenBound(ctx, q, a, perm, t.UserUID, t.Restrictions, t.Identifier); err != nil {
			return err
		}
		if err := q.LimitTokenKeys(ctx, t.UID, graceEnd); err != nil {
			return notFound(err, "token", t.Identifier)
		}
		if err := q.AddTokenKey(ctx, key); err != nil {
			return notFound(err, "token", t.Identifier)
		}
		if err := q.UpdateToken(ctx, t); err != nil {
			return notFound(err, "token", t.Identifier)
		}
		c := map[string]any{"user": t.Username, "grace": grace.String(), "old_key_valid_until": graceEnd.Format(time.RFC3339)}
		if t.ExpiresAt != nil {
			c["expires_at"] = t.ExpiresAt.Format(time.RFC3339)
		}
		rec(s.event(a, audit.ActionTokenRotated, audit.Success, tokenTarget(t.Identifier), c))
		return nil
	})
	if err != nil {
		return TokenView{}, err
	}
	s.authn.InvalidateToken(t.UID)
	v := s.tokenView(t)
	v.Key = raw
	return v, nil
}

// KeyState is what a token's page shows of its keys: how many verify now
// (two during a rotation's grace) and their public lookup parts (never a
// secret), which fingerprint the set for the rotate form.
type KeyState struct {
	Current int
	Lookups []string
}

// KeyState reads a token's keys (the access of reading the token).
func (s *Credentials) KeyState(ctx context.Context, a Actor, identifier string) (KeyState, error) {
	t, err := s.loadToken(ctx, a, accessRead, identifier)
	if err != nil {
		return KeyState{}, err
	}
	keys, err := s.store.ListTokenKeys(ctx, t.UID)
	if err != nil {
		return KeyState{}, err
	}
	now := s.clock.Now()
	var ks KeyState
	for _, k := range keys {
		if k.NotAfter == nil || now.Before(*k.NotAfter) {
			ks.Current++
		}
		ks.Lookups = append(ks.Lookups, k.Lookup)
	}
	return ks, nil
}
