// Package auth turns credentials into principals: key format and hashing,
// password hashing, and the in-memory verifier cache that lets a warm
// credential check run without a database query or a slow hash.
package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/clock"
	"github.com/gatehouse/gatehouse/internal/store"
)

// ErrBadCredential is the one answer to every failed credential check, so
// that no caller can tell an unknown user or key from a wrong secret.
var ErrBadCredential = errors.New("invalid credentials")

// ErrUnavailable: the credential could not be checked (database down).
// Callers fail closed: the request is refused with 503, never admitted.
var ErrUnavailable = errors.New("credential check unavailable")

// Free-form keys (the bootstrap token: any string of 32+ characters) have
// no lookup part; theirs is derived from a keyed hash, marked by "~".
const (
	freeformMin    = 32
	freeformMax    = 512
	freeformPrefix = "~"
)

// FailureReason says, for events and logs only, why a check failed. It is
// never sent to the client.
type FailureReason string

const (
	ReasonMalformed FailureReason = "malformed"
	ReasonUnknown   FailureReason = "unknown"
	ReasonMismatch  FailureReason = "mismatch"
	ReasonExpired   FailureReason = "expired"
	ReasonIntent    FailureReason = "wrong_intent"
	ReasonInactive  FailureReason = "inactive"
	ReasonNoPasswd  FailureReason = "no_password"
	ReasonRevoked   FailureReason = "revoked" // a key rotated out, past its grace
)

// Failure is the detailed error behind ErrBadCredential.
type Failure struct {
	Reason     FailureReason
	Username   string // when known
	Identifier string // token identifier, when known
}

func (f *Failure) Error() string        { return "invalid credentials: " + string(f.Reason) }
func (f *Failure) Is(target error) bool { return target == ErrBadCredential }

// Credential says how a principal authenticated.
type Credential struct {
	Method          string // "token", "password", "app_password"
	TokenUID        string
	TokenIdentifier string
	// Restrictions narrow the key below its owner (nil: none); the doors'
	// one check applies them. Shared and read-only.
	Restrictions *Restrictions
	// GraceUntil is set when the key presented is a replaced one, still
	// accepted in its rotation grace period: the time it stops working.
	// Zero for a token's current key and for passwords.
	GraceUntil time.Time
}

// InGrace reports whether the credential is a key in its rotation grace
// period.
func (c Credential) InGrace() bool { return !c.GraceUntil.IsZero() }

// keyEntry is the cached verifier of one key plus what is needed to
// decide, without a query, whether it is still valid.
type keyEntry struct {
	lookup     string
	hash       []byte
	tokenUID   string
	identifier string
	userUID    string
	intent     string
	expiring   bool
	extended   bool
	maxAge     time.Duration
	notAfter   int64 // unix nanos; 0 = none (rotation grace end)
	expiresAt  atomic.Int64
	lastUsed   atomic.Int64 // unix nanos, 0 = never
	persisted  atomic.Int64 // last_used_at as last written to the store
	dirty      atomic.Bool
	// verified is the SHA-256 of the key, set once the key has been
	// verified against the stored HMAC: later checks of the same key cost
	// one SHA-256 block instead of an HMAC. It lives only in memory and
	// reveals no more than the HMAC key held beside it.
	verified atomic.Pointer[[sha256.Size]byte]
	uncached bool // loaded while the cache was bypassed
	// restrictions narrow the key below its owner; nil: none.
	restrictions *Restrictions
}

// unixNano is t in unix nanoseconds, saturated: the API refuses expiries
// more than 100 years ahead, but a time stored earlier (or by hand) past
// 2262 reads as the latest instant rather than wrapping into the past,
// which would refuse a good key at once; one before 1678 as the earliest.
func unixNano(t time.Time) int64 {
	switch {
	case t.After(maxNanoTime):
		return math.MaxInt64
	case t.Before(minNanoTime):
		return math.MinInt64
	}
	return t.UnixNano()
}

var (
	maxNanoTime = time.Unix(0, math.MaxInt64)
	minNanoTime = time.Unix(0, math.MinInt64)
)

// addNanos is t + d without wrapping past the latest instant.
func addNanos(t int64, d time.Duration) int64 {
	if d > 0 && t > math.MaxInt64-int64(d) {
		return math.MaxInt64
	}
	return t + int64(d)
}

// graceUntil is when a replaced key stops working; zero for a current key.
func (e *keyEntry) graceUntil() time.Time {
	if e.notAfter == 0 {
		return time.Time{}
	}
	return time.Unix(0, e.notAfter).UTC()
}

// Authenticator verifies API keys, app passwords and human passwords.
type Authenticator struct {
	store  store.Store
	hasher *Hasher
	clock  clock.Clock
	log    *slog.Logger
	// lookupErrors throttles the log of failed key lookups: a database
	// outage fails thousands of them a second.
	lookupErrors logThrottle

	mu      sync.RWMutex
	gen     uint64 // bumped by every invalidation; cold loads insert only if unchanged
	keys    map[string]*keyEntry
	byToken map[string][]string // token UID -> lookups
	byUID   map[string]*authz.Principal
	byName  map[string]*authz.Principal
	// passwordOK remembers the keyed hash of the last password verified
	// for a user, together with the stored argon2 hash it was checked
	// against: a cache that can never admit a stale password, because a
	// changed stored hash no longer matches.
	passwordOK map[string]verifiedPassword

	// LastUsedEvery: how stale a non-extended token's persisted
	// last_used_at may get.
	LastUsedEvery time.Duration

	instanceID string
	// bypass is set while this instance may have missed a change made by
	// another (its notification connection is down): every check then
	// goes to the database and nothing is cached.
	bypass atomic.Bool
	hooks  []func()
	// hashRuns counts argon2id runs (PasswordHashRuns).
	hashRuns atomic.Uint64
	// resets counts the emptyings of the verified passwords (CacheResets).
	resets atomic.Uint64
	// pending holds dropped entries whose use was not yet written, so an
	// invalidation never loses a last-used time or an extension.
	pending []*keyEntry
}

type verifiedPassword struct {
	storedHash string
	mac        [sha256.Size]byte
}

// NewAuthenticator builds an authenticator over st with a keyed hasher.
func NewAuthenticator(st store.Store, h *Hasher, c clock.Clock, log *slog.Logger) *Authenticator {
	return &Authenticator{
		store: st, hasher: h, clock: c, log: log,
		keys: map[string]*keyEntry{}, byToken: map[string][]string{},
		byUID: map[string]*authz.Principal{}, byName: map[string]*authz.Principal{},
		passwordOK:    map[string]verifiedPassword{},
		LastUsedEvery: 5 * time.Minute,
		instanceID:    randomID(),
	}
}

func randomID() string {
	id, err := RandomString(12)
	if err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return id
}

// InstanceID names this process among the instances sharing a database.
func (a *Authenticator) InstanceID() string { return a.instanceID }

// SetBypass turns the cache off (true) while changes made elsewhere may
// be missed, and back on (false) once caught up; both empty it.
func (a *Authenticator) SetBypass(on bool) {
	a.bypass.Store(on)
	a.InvalidateAll()
}

// Bypassed reports whether checks currently skip the cache.
func (a *Authenticator) Bypassed() bool { return a.bypass.Load() }

// OnInvalidate registers f to run whenever principals or everything are
// invalidated, locally or on word from another instance: other in-memory
// views (such as application admission) follow the same changes.
// Register before serving.
func (a *Authenticator) OnInvalidate(f func()) { a.hooks = append(a.hooks, f) }

func (a *Authenticator) runHooks() {
	for _, f := range a.hooks {
		f()
	}
}

// Hasher returns the key hasher.
func (a *Authenticator) Hasher() *Hasher { return a.hasher }

// LookupFor returns the lookup part under which a key's verifier is stored:
// the key's own public part, or a keyed derivation for free-form keys.
func (a *Authenticator) LookupFor(raw string) (string, error) {
	if pk, err := ParseKey(raw); err == nil {
		return pk.Lookup, nil
	}
	if LooksLikeKey(raw) || len(raw) < freeformMin || len(raw) > freeformMax {
		return "", ErrMalformedKey
	}
	sum := a.hasher.Sum("lookup\x00" + raw)
	return freeformPrefix + hex.EncodeToString(sum[:8]), nil
}

// VerifyAPIKey checks a Bearer key: well-formed, known, matching, API
// intent, unexpired, its owner active. It records the use.
func (a *Authenticator) VerifyAPIKey(ctx context.Context, raw string) (*authz.Principal, Credential, error) {
	e, p, now, err := a.verifyKey(ctx, raw, store.IntentAPI)
	if err != nil {
		return nil, Credential{}, err
	}
	if p, err = a.owner(ctx, e, p); err != nil {
		return nil, Credential{}, err
	}
	if !p.Active {
		return nil, Credential{}, &Failure{Reason: ReasonInactive, Username: p.Username, Identifier: e.identifier}
	}
	a.recordUse(e, now)
	return e.restrictions.Principal(p), Credential{Method: "token", TokenUID: e.tokenUID, TokenIdentifier: e.identifier,
		GraceUntil: e.graceUntil(), Restrictions: e.restrictions}, nil
}

// VerifyAppPassword checks username + app password (LDAP bind,
// forward-auth Basic). The key must belong to that user.
func (a *Authenticator) VerifyAppPassword(ctx context.Context, username, raw string) (*authz.Principal, Credential, error) {
	e, p, now, err := a.verifyKey(ctx, raw, store.IntentAppPassword)
	if err != nil {
		var f *Failure
		if errors.As(err, &f) {
			f.Username = username
		}
		return nil, Credential{}, err
	}
	if p, err = a.owner(ctx, e, p); err != nil {
		return nil, Credential{}, err
	}
	if p.Username != username {
		return nil, Credential{}, &Failure{Reason: ReasonMismatch, Username: username}
	}
	if !p.Active {
		return nil, Credential{}, &Failure{Reason: ReasonInactive, Username: username, Identifier: e.identifier}
	}
	a.recordUse(e, now)
	return e.restrictions.Principal(p), Credential{Method: "app_password", TokenUID: e.tokenUID, TokenIdentifier: e.identifier,
		GraceUntil: e.graceUntil(), Restrictions: e.restrictions}, nil
}

// owner is the principal of a key's owner: loaded, the one loaded with
// the key (a first use); otherwise the cached one, or from the store.
func (a *Authenticator) owner(ctx context.Context, e *keyEntry, loaded *authz.Principal) (*authz.Principal, error) {
	if loaded != nil {
		return loaded, nil
	}
	p, err := a.principalByUID(ctx, e.userUID)
	if err != nil {
		return nil, a.principalErr(err, e)
	}
	return p, nil
}

func (a *Authenticator) principalErr(err error, e *keyEntry) error {
	if errors.Is(err, store.ErrNotFound) {
		return &Failure{Reason: ReasonUnknown, Identifier: e.identifier}
	}
	return unavailable(err)
}

// unavailable marks a store failure: the check could not be made, which
// is not a failed login (fail closed with 503, no event, no count).
func unavailable(err error) error {
	if errors.Is(err, ErrUnavailable) {
		return err
	}
	return fmt.Errorf("%w: %v", ErrUnavailable, err)
}

// presentedIntent is the intent a key's prefix claims ("" for a free-form
// key, which only the API takes).
func presentedIntent(raw string) string {
	if len(raw) >= prefixLen {
		switch raw[:prefixLen] {
		case PrefixAPI:
			return store.IntentAPI
		case PrefixAppPassword:
			return store.IntentAppPassword
		}
	}
	return ""
}

// verifyKey checks a key; the principal is its owner's when the key was
// loaded from the store with it (nil when the key was cached).
func (a *Authenticator) verifyKey(ctx context.Context, raw, intent string) (*keyEntry, *authz.Principal, int64, error) {
	// A key's prefix says its intent: a key of the other intent is
	// refused before anything else, whatever the cache holds, so that the
	// same key at the same door always fails for the same reason.
	if presented := presentedIntent(raw); presented != "" && presented != intent {
		return nil, nil, 0, &Failure{Reason: ReasonIntent}
	}
	// Warm path: a key already verified once is recognised by its
	// in-memory fingerprint below, which also proves its checksum; the
	// checksum is verified before anything goes to the database.
	e := a.cachedKey(raw)
	var p *authz.Principal
	if e == nil {
		var lookup string
		if pk, err := ParseKey(raw); err == nil {
			if pk.Intent != intent {
				return nil, nil, 0, &Failure{Reason: ReasonIntent}
			}
			lookup = pk.Lookup
		} else if intent == store.IntentAPI {
			l, err := a.LookupFor(raw)
			if err != nil {
				return nil, nil, 0, &Failure{Reason: ReasonMalformed}
			}
			lookup = l
		} else {
			return nil, nil, 0, &Failure{Reason: ReasonMalformed}
		}
		var err error
		if e, p, err = a.keyEntry(ctx, lookup); err != nil {
			return nil, nil, 0, err
		}
	}
	if fp := e.verified.Load(); fp != nil {
		sum := sha256.Sum256(unsafeBytes(raw))
		if subtle.ConstantTimeCompare(sum[:], fp[:]) != 1 {
			return nil, nil, 0, &Failure{Reason: ReasonMismatch, Identifier: e.identifier}
		}
	} else {
		if !a.hasher.Equal(raw, e.hash) {
			return nil, nil, 0, &Failure{Reason: ReasonMismatch, Identifier: e.identifier}
		}
		sum := sha256.Sum256([]byte(raw))
		e.verified.Store(&sum)
	}
	if e.intent != intent {
		return nil, nil, 0, &Failure{Reason: ReasonIntent, Identifier: e.identifier}
	}
	now := a.clock.Now().UnixNano()
	if e.notAfter != 0 && now >= e.notAfter {
		// Replaced by a rotation and past its grace: revoked, not expired
		// (the token itself may live on with its new key).
		return nil, nil, 0, &Failure{Reason: ReasonRevoked, Identifier: e.identifier}
	}
	if e.expiring && now >= e.expiresAt.Load() && !(e.extended && a.refreshExpiry(ctx, e, now)) {
		return nil, nil, 0, &Failure{Reason: ReasonExpired, Identifier: e.identifier}
	}
	return e, p, now, nil
}

// refreshExpiry re-reads an extended token's stored expiry before it is
// refused as expired: another instance may have extended it by using it
// there. It reports whether the token is alive after all.
func (a *Authenticator) refreshExpiry(ctx context.Context, e *keyEntry, now int64) bool {
	_, t, err := a.store.LookupKey(ctx, e.lookup)
	if err != nil || t.ExpiresAt == nil {
		return false
	}
	exp := unixNano(*t.ExpiresAt)
	for {
		cur := e.expiresAt.Load()
		if exp <= cur || e.expiresAt.CompareAndSwap(cur, exp) {
			break
		}
	}
	return now < e.expiresAt.Load()
}

// cachedKey returns the cached entry of a formatted key whose lookup part
// is in memory, or nil. It parses nothing but fixed offsets.
func (a *Authenticator) cachedKey(raw string) *keyEntry {
	if len(raw) != KeyLen || !LooksLikeKey(raw) || a.bypass.Load() {
		return nil
	}
	a.mu.RLock()
	e := a.keys[raw[prefixLen:prefixLen+lookupLen]]
	a.mu.RUnlock()
	if e == nil || e.verified.Load() == nil {
		return nil
	}
	return e
}

// keyEntry finds a verifier in memory, or loads it from the store with
// its owner's principal (returned, and cached unless it already is), all
// in one query: a first use costs one round trip to the database.
func (a *Authenticator) keyEntry(ctx context.Context, lookup string) (*keyEntry, *authz.Principal, error) {
	a.mu.RLock()
	e, ok := a.keys[lookup]
	gen := a.gen
	a.mu.RUnlock()
	if ok && !a.bypass.Load() {
		return e, nil, nil
	}
	l, err := a.store.LoadKey(ctx, lookup)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, &Failure{Reason: ReasonUnknown}
	}
	if err != nil {
		if ok, skipped := a.lookupErrors.allow(a.clock.Now()); ok {
			a.log.Error("key lookup failed", "err", err, "not_logged_since_last", skipped)
		}
		return nil, nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	k, t := l.Key, l.Token
	p := BuildPrincipal(l.Owner, l.Grants)
	e = &keyEntry{
		lookup: k.Lookup, hash: k.Hash, tokenUID: t.UID, identifier: t.Identifier, userUID: t.UserUID,
		intent: t.Intent, expiring: t.Expiring, extended: t.Extended, maxAge: t.MaxAge,
		restrictions: NewRestrictions(t.Restrictions),
	}
	if k.NotAfter != nil {
		e.notAfter = unixNano(*k.NotAfter)
		if e.notAfter == 0 { // 0 means "none": the epoch itself is long past
			e.notAfter = -1
		}
	}
	if t.ExpiresAt != nil {
		e.expiresAt.Store(unixNano(*t.ExpiresAt))
	}
	if t.LastUsedAt != nil {
		e.lastUsed.Store(unixNano(*t.LastUsedAt))
		e.persisted.Store(unixNano(*t.LastUsedAt))
	}
	a.mu.Lock()
	e.uncached = true
	if a.gen == gen && !a.bypass.Load() {
		e.uncached = false
		if cur, ok := a.keys[lookup]; ok {
			e = cur
		} else {
			a.keys[lookup] = e
			a.byToken[e.tokenUID] = append(a.byToken[e.tokenUID], lookup)
		}
		if cur, ok := a.byUID[p.UID]; ok {
			p = cur
		} else {
			a.byUID[p.UID] = p
			a.byName[p.Username] = p
		}
	}
	a.mu.Unlock()
	return e, p, nil
}

// recordUse moves last-used (and an extended token's expiry) forward in
// memory; the flusher persists it.
func (a *Authenticator) recordUse(e *keyEntry, now int64) {
	if prev := e.lastUsed.Load(); now > prev {
		e.lastUsed.CompareAndSwap(prev, now)
	}
	if e.extended {
		exp := addNanos(now, e.maxAge)
		if prev := e.expiresAt.Load(); exp > prev {
			e.expiresAt.CompareAndSwap(prev, exp)
		}
	}
	if !e.dirty.Load() && now-e.persisted.Load() >= int64(a.flushEvery(e)) && e.dirty.CompareAndSwap(false, true) && e.uncached {
		// Not in the cache (bypass mode): hand it to the flusher directly.
		a.mu.Lock()
		a.pending = append(a.pending, e)
		a.mu.Unlock()
	}
}

// flushEvery is how stale the stored use of a key may get. For extended
// tokens it is a tenth of max_age (at most LastUsedEvery), so that after a
// restart a token that was in use lives at least 90% of max_age more.
func (a *Authenticator) flushEvery(e *keyEntry) time.Duration {
	if e.extended {
		return min(e.maxAge/10, a.LastUsedEvery)
	}
	return a.LastUsedEvery
}

// Flush persists pending last-used and extended-expiry updates in one
// batch. The server calls it every second and on shutdown.
func (a *Authenticator) Flush(ctx context.Context) error {
	a.mu.Lock()
	entries := a.pending
	a.pending = nil
	for _, e := range a.keys {
		entries = append(entries, e)
	}
	a.mu.Unlock()
	var uses []store.TokenUse
	var flushed []*keyEntry
	for _, e := range entries {
		if !e.dirty.Load() {
			continue
		}
		u := store.TokenUse{TokenUID: e.tokenUID, LastUsedAt: time.Unix(0, e.lastUsed.Load()).UTC()}
		if e.extended {
			t := time.Unix(0, e.expiresAt.Load()).UTC()
			u.ExpiresAt = &t
		}
		uses = append(uses, u)
		flushed = append(flushed, e)
	}
	if len(uses) == 0 {
		return nil
	}
	if err := a.store.TouchTokens(ctx, uses); err != nil {
		a.mu.Lock()
		for _, e := range flushed {
			if a.keys[e.lookup] != e { // cached ones are found again anyway
				a.pending = append(a.pending, e)
			}
		}
		a.mu.Unlock()
		return fmt.Errorf("flush token uses: %w", err)
	}
	for i, e := range flushed {
		e.persisted.Store(unixNano(uses[i].LastUsedAt))
		e.dirty.Store(false)
	}
	return nil
}

// TokenUsage returns the in-memory last use and expiry of a token's keys,
// fresher than the store's between flushes (zero times when not cached).
func (a *Authenticator) TokenUsage(tokenUID string) (lastUsed, expiresAt time.Time, ok bool) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	for _, l := range a.byToken[tokenUID] {
		e := a.keys[l]
		if e == nil {
			continue
		}
		if lu := e.lastUsed.Load(); lu != 0 && time.Unix(0, lu).After(lastUsed) {
			lastUsed = time.Unix(0, lu).UTC()
		}
		if ex := e.expiresAt.Load(); ex != 0 {
			expiresAt = time.Unix(0, ex).UTC()
		}
		ok = true
	}
	return lastUsed, expiresAt, ok
}

// Refusal is a reason a door refuses an account whatever its password
// (a provider's search group, a second factor the door cannot ask for):
// a *Failure refuses, any other error means the check could not be made.
type Refusal func(*authz.Principal) error

// VerifyPassword checks a human's username and password. Unknown users,
// users without a password, wrong passwords and refused accounts
// (disabled, or refused by one of refuse) cost the same argon2id run and
// give the same error: the reasons for refusal are decided before the
// password, and a refused account's password is checked against its
// stored hash, never against the cache of verified passwords, so that the
// time of a refusal does not tell a right password from a wrong one.
func (a *Authenticator) VerifyPassword(ctx context.Context, username, password string, refuse ...Refusal) (*authz.Principal, error) {
	if len(password) == 0 || len(password) > MaxPasswordLength || len(username) > 256 {
		a.hashPassword("", password)
		return nil, &Failure{Reason: ReasonMalformed, Username: username}
	}
	p, err := a.PrincipalByName(ctx, username)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			a.hashPassword("", password)
			return nil, &Failure{Reason: ReasonUnknown, Username: username}
		}
		return nil, unavailable(err)
	}
	if p.PasswordHash == "" {
		a.hashPassword("", password)
		return nil, &Failure{Reason: ReasonNoPasswd, Username: username}
	}
	var refused *Failure
	if !p.Active {
		refused = &Failure{Reason: ReasonInactive, Username: username}
	}
	for _, r := range refuse {
		if refused != nil {
			break
		}
		if err := r(p); err != nil {
			if !errors.As(err, &refused) {
				return nil, unavailable(err)
			}
			if refused.Username == "" {
				refused.Username = username
			}
		}
	}
	if refused != nil {
		// The cost of a wrong password; the event still tells a wrong
		// password (mismatch) from a right one that is refused.
		if !a.hashPassword(p.PasswordHash, password) {
			return nil, &Failure{Reason: ReasonMismatch, Username: username}
		}
		return nil, refused
	}
	mac := a.passwordMAC(p.UID, password)
	a.mu.RLock()
	v, cached := a.passwordOK[p.UID]
	a.mu.RUnlock()
	ok := cached && v.storedHash == p.PasswordHash && hmac.Equal(v.mac[:], mac[:])
	if !ok {
		ok = a.hashPassword(p.PasswordHash, password)
		if ok {
			a.mu.Lock()
			a.passwordOK[p.UID] = verifiedPassword{storedHash: p.PasswordHash, mac: mac}
			a.mu.Unlock()
		}
	}
	if !ok {
		return nil, &Failure{Reason: ReasonMismatch, Username: username}
	}
	return p, nil
}

// hashPassword is VerifyPassword (the argon2id run), counted.
func (a *Authenticator) hashPassword(encoded, password string) bool {
	a.hashRuns.Add(1)
	return VerifyPassword(encoded, password)
}

// PasswordHashRuns counts the argon2id runs of password checks since
// start: tests assert with it that a refusal costs what a wrong password
// costs, which a timing would only show on a quiet machine.
func (a *Authenticator) PasswordHashRuns() uint64 { return a.hashRuns.Load() }

// CacheResets counts the times the verified passwords were forgotten all
// at once: a test that counts argon2id runs knows that a reset meanwhile
// voided its count. (Dropping one account's cached profile after its
// login does not forget its password, and does not count.)
func (a *Authenticator) CacheResets() uint64 { return a.resets.Load() }

func (a *Authenticator) passwordMAC(uid, password string) (out [sha256.Size]byte) {
	copy(out[:], a.hasher.Sum("password\x00"+uid+"\x00"+password))
	return out
}

// PrincipalByName returns the current principal for a username.
func (a *Authenticator) PrincipalByName(ctx context.Context, username string) (*authz.Principal, error) {
	a.mu.RLock()
	p, ok := a.byName[username]
	gen := a.gen
	a.mu.RUnlock()
	if ok && !a.bypass.Load() {
		return p, nil
	}
	u, err := a.store.GetUser(ctx, username)
	if err != nil {
		return nil, err
	}
	return a.loadPrincipal(ctx, u, gen)
}

// PrincipalByUID returns the current principal for a user UID.
func (a *Authenticator) PrincipalByUID(ctx context.Context, uid string) (*authz.Principal, error) {
	return a.principalByUID(ctx, uid)
}

func (a *Authenticator) principalByUID(ctx context.Context, uid string) (*authz.Principal, error) {
	a.mu.RLock()
	p, ok := a.byUID[uid]
	gen := a.gen
	a.mu.RUnlock()
	if ok && !a.bypass.Load() {
		return p, nil
	}
	u, err := a.store.GetUserByUID(ctx, uid)
	if err != nil {
		return nil, err
	}
	return a.loadPrincipal(ctx, u, gen)
}

func (a *Authenticator) loadPrincipal(ctx context.Context, u store.User, gen uint64) (*authz.Principal, error) {
	g, err := a.store.UserGrants(ctx, u.UID)
	if err != nil {
		return nil, err
	}
	p := BuildPrincipal(u, g)
	a.mu.Lock()
	if a.gen == gen && !a.bypass.Load() {
		a.byUID[u.UID] = p
		a.byName[u.Username] = p
	}
	a.mu.Unlock()
	return p, nil
}

// BuildPrincipal makes a principal of a user and its grants.
func BuildPrincipal(u store.User, g store.Grants) *authz.Principal {
	return authz.NewPrincipal(authz.Identity{UID: u.UID, Username: u.Username, Type: u.Type, Active: u.IsActive, Managed: u.Managed, PasswordHash: u.PasswordHash,
		Profile: &authz.Profile{Name: u.Name, Email: u.Email, Description: u.Description, CreatedAt: u.CreatedAt, LastLoginAt: u.LastLoginAt}},
		authz.Grants{Groups: g.Groups, DirectRoles: g.DirectRoles, Roles: g.Roles, Permissions: g.Permissions})
}

// InvalidateToken forgets the cached verifiers of a token (revoked,
// rotated, changed). Call after the change is committed.
func (a *Authenticator) InvalidateToken(tokenUID string) {
	a.mu.Lock()
	a.gen++
	for _, l := range a.byToken[tokenUID] {
		a.keepPending(a.keys[l])
		delete(a.keys, l)
	}
	delete(a.byToken, tokenUID)
	a.mu.Unlock()
}

// keepPending keeps a dropped entry for the next Flush if its use was not
// written yet. Called with a.mu held.
func (a *Authenticator) keepPending(e *keyEntry) {
	if e != nil && e.dirty.Load() {
		a.pending = append(a.pending, e)
	}
}

// InvalidateProfile forgets the cached principal of one account whose
// row changed in a way that changes no one's access (a login stamping
// last_login_at): the next read of it, /me included, loads it again.
// Call after the change is committed.
func (a *Authenticator) InvalidateProfile(uid string) {
	a.mu.Lock()
	a.gen++
	if p := a.byUID[uid]; p != nil {
		delete(a.byName, p.Username)
	}
	delete(a.byUID, uid)
	a.mu.Unlock()
}

// InvalidatePrincipals forgets every cached principal (role, group,
// membership, permission or account change). Verifiers stay: they point
// at principals by UID and are re-joined on the next check.
func (a *Authenticator) InvalidatePrincipals() {
	a.mu.Lock()
	a.gen++
	clear(a.byUID)
	clear(a.byName)
	a.mu.Unlock()
	a.runHooks()
}

// InvalidateAll forgets everything cached (user deletion, resync after a
// lost notification connection).
func (a *Authenticator) InvalidateAll() {
	a.mu.Lock()
	a.gen++
	for _, e := range a.keys {
		a.keepPending(e)
	}
	clear(a.keys)
	clear(a.byToken)
	clear(a.byUID)
	clear(a.byName)
	clear(a.passwordOK)
	a.resets.Add(1)
	a.mu.Unlock()
	a.runHooks()
}

// logThrottle lets one log line a second through and counts the rest.
type logThrottle struct {
	mu      sync.Mutex
	last    time.Time
	skipped int
}

// allow reports whether to log now, and how many lines were held back
// since the last one logged.
func (t *logThrottle) allow(now time.Time) (bool, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.last.IsZero() && now.Sub(t.last) < time.Second {
		t.skipped++
		return false, 0
	}
	skipped := t.skipped
	t.last, t.skipped = now, 0
	return true, skipped
}
