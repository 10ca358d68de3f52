// Package store defines gatehouse's storage: plain value types, one
// interface of small methods, and the sentinel errors every backend returns.
// Each backend (sqlite, postgres) keeps its own plain SQL; the conformance
// suite in storetest holds them to the same behaviour.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

var (
	// ErrNotFound: the addressed row does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique name is taken, or a referenced row vanished
	// concurrently (foreign key), so the write cannot happen as asked.
	ErrConflict = errors.New("conflict")
)

// User types.
const (
	TypeHuman                  = "human"
	TypeServiceAccount         = "service_account"
	TypeInternalServiceAccount = "internal_service_account"
)

// Token intents.
const (
	IntentAPI         = "api"
	IntentAppPassword = "app_password"
)

// ExpiredFederated asks ExpiredTokens for tokens minted by a token
// exchange, whatever their intent.
const ExpiredFederated = "federated"

// User is a human or a service account.
type User struct {
	UID          string // UUID, primary key
	Username     string // unique
	Type         string // TypeHuman, TypeServiceAccount, TypeInternalServiceAccount
	Name         string
	Email        string
	Description  string
	IsActive     bool
	Managed      bool
	PasswordHash string // argon2id PHC string; "" when the user has no password
	// PasswordChangedAt is when the password last changed (nil: never set).
	PasswordChangedAt *time.Time
	CreatedAt         time.Time
	LastLoginAt       *time.Time
}

// UserFilter selects users for ListUsers. Results are ordered by username.
type UserFilter struct {
	Type   string // "" any
	Search string // "" any; otherwise case-insensitive substring of username, name, email or description
	After  string // keyset pagination: only usernames > After
	Limit  int    // > 0
}

// Group is a named set of users.
type Group struct {
	UID         string
	Name        string
	Description string
	CreatedAt   time.Time
}

// GroupFilter selects groups; ordered by name.
type GroupFilter struct {
	Search string
	After  string
	Limit  int
}

// Role holds permissions. Builtin roles (admin) cannot be edited or deleted;
// that rule is enforced above the store.
type Role struct {
	UID         string
	Name        string
	Description string
	Builtin     bool
	Permissions []string // sorted, unique
	CreatedAt   time.Time
}

// RoleFilter selects roles; ordered by name.
type RoleFilter struct {
	After string
	Limit int
}

// RoleAssignments lists who holds a role directly.
type RoleAssignments struct {
	Users  []string // usernames, sorted
	Groups []string // group names, sorted
}

// KeyLoad is a key with its token, the token's owner and its grants.
type KeyLoad struct {
	Key    TokenKey
	Token  Token
	Owner  User
	Grants Grants
}

// Grants is everything that decides what a user may do.
type Grants struct {
	Groups      []string // groups the user is a member of, sorted
	DirectRoles []string // roles assigned to the user directly, sorted
	Roles       []string // effective roles: direct plus through groups, sorted, unique
	// Permissions: the effective permissions, sorted and unique: those of
	// every effective role plus those granted directly to the user.
	Permissions []string
}

// Token is an API token or app password. Its secret is never here: keys
// live in TokenKey as hashes.
type Token struct {
	UID         string
	Identifier  string // unique, human-chosen or generated
	UserUID     string
	Username    string // filled on reads (join), ignored on writes
	UserType    string // filled on reads (join), ignored on writes
	Intent      string // IntentAPI or IntentAppPassword
	Description string
	Expiring    bool
	ExpiresAt   *time.Time // nil when !Expiring
	Extended    bool
	MaxAge      time.Duration // > 0 when Extended
	CreatedAt   time.Time
	CreatedBy   string // username of the creator
	LastUsedAt  *time.Time
	Managed     bool
	// Restrictions narrow the token below its owner; nil: none. Fixed
	// for the token's life (rotation keeps them).
	Restrictions *TokenRestrictions
	// FederatedPolicyUID is the trust policy that minted the token
	// (written by CreateToken, not read back: the provenance is in
	// Restrictions.Federated); deleting the policy deletes the token.
	FederatedPolicyUID string
}

// TokenRestrictions narrow what a token may do and where from (least
// privilege). Each nil or empty field restricts nothing, but
// Permissions, which is nil for "all of the owner's" and may be an empty
// list ("nothing but proving who it is").
type TokenRestrictions struct {
	Permissions   *[]string `json:"permissions,omitempty"`
	AllowedCIDRs  []string  `json:"allowed_cidrs,omitempty"`
	Applications  []string  `json:"applications,omitempty"`
	LDAPProviders []string  `json:"ldap_providers,omitempty"`
	// Federated: minted by a token exchange (workload identity
	// federation); such a token makes, rotates and changes no token.
	Federated *TokenFederation `json:"federated,omitempty"`
}

// TokenFederation is where a minted token came from.
type TokenFederation struct {
	Issuer  string `json:"issuer"`
	Policy  string `json:"policy"`
	Subject string `json:"subject"`
	JTI     string `json:"jti"`
}

// EncodeRestrictions is how both backends store restrictions: JSON, or
// NULL for none.
func EncodeRestrictions(r *TokenRestrictions) *string {
	if r == nil {
		return nil
	}
	b, err := json.Marshal(r)
	if err != nil {
		panic(fmt.Sprintf("encode token restrictions: %v", err)) // plain strings cannot fail
	}
	s := string(b)
	return &s
}

// DecodeRestrictions reads what EncodeRestrictions wrote.
func DecodeRestrictions(s *string) (*TokenRestrictions, error) {
	if s == nil || *s == "" {
		return nil, nil
	}
	var r TokenRestrictions
	if err := json.Unmarshal([]byte(*s), &r); err != nil {
		return nil, fmt.Errorf("token restrictions: %w", err)
	}
	return &r, nil
}

// TokenFilter selects tokens; ordered by identifier.
type TokenFilter struct {
	UserUID        string     // "" any
	Intent         string     // "" any
	ExpiringBefore *time.Time // only expiring tokens with expires_at < this
	// UnusedSince: only tokens never used, or last used before this.
	UnusedSince *time.Time
	Search      string // substring of identifier or description
	After       string // identifier > After
	Limit       int
}

// TokenKey is one verifier of a token: the public lookup part of a key and
// the keyed hash of the whole key. A token has one key, or two during a
// rotation grace period (the old one with NotAfter set).
type TokenKey struct {
	Lookup    string // public lookup part, unique
	TokenUID  string
	Hash      []byte
	NotAfter  *time.Time // nil: lives as long as the token
	CreatedAt time.Time
}

// TokenUse records a token's use for the batched last-used writer.
type TokenUse struct {
	TokenUID   string
	LastUsedAt time.Time
	// ExpiresAt, when not nil, asks to extend an extended token: its
	// stored expiry becomes the later of itself and LastUsedAt plus the
	// token's current max_age (the value itself is only the flag).
	ExpiresAt *time.Time
}

// Event is one audit record.
type Event struct {
	ID            int64 // assigned by the store, increasing
	Time          time.Time
	Action        string
	Outcome       string // "success" or "failure"
	ActorUsername string
	ActorType     string
	ClientIP      string
	TargetKind    string
	TargetName    string
	Context       map[string]any // JSON object; never a secret
	// Seq is the event's place in the audit chain (1, 2, 3, ... with no
	// gap) and Hash its chain hash (hex), both set by the audit log before
	// AppendEvent. Events written before the chain existed have Seq 0.
	Seq  int64
	Hash string
}

// EventChain is the head and base of the audit chain. The base is where
// the remaining chain starts: the seq and hash of the last event removed
// by retention (0 and the genesis hash when none was).
type EventChain struct {
	Seq      int64
	Hash     string
	BaseSeq  int64
	BaseHash string
}

// GenesisHash is what the first event of the audit chain chains to.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// EventPrune reports what PruneEvents removed.
type EventPrune struct {
	Removed    int    // events removed
	ThroughSeq int64  // the new base: the last event removed
	Anchor     string // its hash, which the first remaining event chains to
}

// EventFilter selects events, newest first (descending ID).
type EventFilter struct {
	Action string
	Actor  string // actor username
	Target string // target name
	Since  *time.Time
	Until  *time.Time
	Before int64 // keyset pagination: only IDs < Before (0: no bound)
	Limit  int
}

// Queries is every read and write. The same methods run outside a
// transaction (on Store) and inside one (the Queries given to InTx).
type Queries interface {
	ChangeQueries

	SessionQueries // web interface sessions, second factors, dashboard counts (sessions.go)

	ApplicationQueries // applications.go

	LDAPQueries // LDAP providers and outposts (ldap.go)

	FederationQueries // OIDC issuers, trust policies, used jtis (federation.go)
	// Users
	CreateUser(ctx context.Context, u User) error                                 // ErrConflict on taken username
	GetUser(ctx context.Context, username string) (User, error)                   // ErrNotFound
	GetUserByUID(ctx context.Context, uid string) (User, error)                   // ErrNotFound
	ListUsers(ctx context.Context, f UserFilter) ([]User, error)                  // ordered by username
	UpdateUser(ctx context.Context, u User) error                                 // by UID: all fields but UID, CreatedAt; ErrNotFound, ErrConflict (username)
	DeleteUser(ctx context.Context, uid string) error                             // cascades memberships, assignments, tokens, keys; ErrNotFound
	CountUsers(ctx context.Context) (int, error)                                  // all users
	CountUsersByType(ctx context.Context) (map[string]int, error)                 // type -> count
	SetUserPermissions(ctx context.Context, userUID string, perms []string) error // replaces the set; ErrNotFound
	GetUserPermissions(ctx context.Context, userUID string) ([]string, error)     // sorted

	// Groups and membership
	CreateGroup(ctx context.Context, g Group) error                 // ErrConflict
	GetGroup(ctx context.Context, name string) (Group, error)       // ErrNotFound
	ListGroups(ctx context.Context, f GroupFilter) ([]Group, error) // ordered by name
	UpdateGroup(ctx context.Context, g Group) error                 // by UID; ErrNotFound, ErrConflict
	DeleteGroup(ctx context.Context, uid string) error              // ErrNotFound
	// AddMember is idempotent; ErrNotFound when the group or user is gone.
	AddMember(ctx context.Context, groupUID, userUID string) error
	// RemoveMember: ErrNotFound when the user was not a member.
	RemoveMember(ctx context.Context, groupUID, userUID string) error
	ListMembers(ctx context.Context, groupUID string) ([]string, error) // usernames, sorted
	UserGroups(ctx context.Context, userUID string) ([]string, error)   // group names, sorted

	// Roles and assignments
	CreateRole(ctx context.Context, r Role) error                            // with its permissions; ErrConflict
	GetRole(ctx context.Context, name string) (Role, error)                  // with permissions; ErrNotFound
	ListRoles(ctx context.Context, f RoleFilter) ([]Role, error)             // with permissions, ordered by name
	UpdateRole(ctx context.Context, r Role) error                            // by UID: name, description, permissions; ErrNotFound, ErrConflict
	DeleteRole(ctx context.Context, uid string) error                        // cascades assignments; ErrNotFound
	AssignRoleToUser(ctx context.Context, roleUID, userUID string) error     // idempotent; ErrNotFound when either is gone
	UnassignRoleFromUser(ctx context.Context, roleUID, userUID string) error // ErrNotFound when not assigned
	AssignRoleToGroup(ctx context.Context, roleUID, groupUID string) error
	UnassignRoleFromGroup(ctx context.Context, roleUID, groupUID string) error
	RoleAssignments(ctx context.Context, roleUID string) (RoleAssignments, error)
	GroupRoles(ctx context.Context, groupUID string) ([]string, error) // role names assigned to the group, sorted
	// UserGrants computes a user's groups, roles and effective permissions.
	UserGrants(ctx context.Context, userUID string) (Grants, error)

	// Tokens and keys
	CreateToken(ctx context.Context, t Token, k TokenKey) error     // ErrConflict (identifier or lookup), ErrNotFound (user)
	GetToken(ctx context.Context, identifier string) (Token, error) // ErrNotFound
	ListTokens(ctx context.Context, f TokenFilter) ([]Token, error) // ordered by identifier
	UpdateToken(ctx context.Context, t Token) error                 // by UID: description, expiring, expires_at, extended, max_age, managed; ErrNotFound
	DeleteToken(ctx context.Context, uid string) error              // and its keys; ErrNotFound
	// CountTokens counts a user's tokens and app passwords that are not
	// managed nor minted by a token exchange, expired ones included (0
	// for an unknown user).
	CountTokens(ctx context.Context, userUID string) (int, error)
	// ListTokenKeys lists a token's keys, newest first (by CreatedAt).
	ListTokenKeys(ctx context.Context, tokenUID string) ([]TokenKey, error)
	// AddTokenKey adds a key to an existing token (rotation).
	AddTokenKey(ctx context.Context, k TokenKey) error
	// LimitTokenKeys sets NotAfter = notAfter on every key of the token
	// whose NotAfter is nil or later than notAfter.
	LimitTokenKeys(ctx context.Context, tokenUID string, notAfter time.Time) error
	// DeleteTokenKeysBefore removes keys whose NotAfter <= t; returns how many.
	DeleteTokenKeysBefore(ctx context.Context, t time.Time) (int, error)
	// LookupKey returns the key with that lookup part and its token
	// (Username and UserType filled). ErrNotFound.
	LookupKey(ctx context.Context, lookup string) (TokenKey, Token, error)
	// LoadKey is LookupKey with the token's owner and the owner's grants:
	// everything the first use of a key needs, in one query (one round
	// trip). ErrNotFound.
	LoadKey(ctx context.Context, lookup string) (KeyLoad, error)
	// TouchTokens writes last-used (and, where set, expires_at) for many
	// tokens at once; tokens that vanished are ignored. A stored
	// last_used_at is never moved backwards.
	TouchTokens(ctx context.Context, uses []TokenUse) error
	// ExpiredTokens lists tokens of an intent with expires_at <= t, oldest
	// first; intent "federated": tokens minted by a token exchange.
	ExpiredTokens(ctx context.Context, intent string, t time.Time, limit int) ([]Token, error)
	// ManagedTokensExpiringBefore lists managed API tokens expiring before t.
	ManagedTokensExpiringBefore(ctx context.Context, t time.Time, limit int) ([]Token, error)

	// Events
	// EventChain reads the chain's head and base. Inside a transaction it
	// also claims the head until commit: a concurrent transaction that
	// appends events waits, or fails and is retried, so the chain never
	// forks.
	EventChain(ctx context.Context) (EventChain, error)
	// AppendEvent inserts e, whose Seq must be the head's Seq+1, and moves
	// the chain head to it; sets e.ID. Use it after EventChain in the same
	// transaction (audit.Log does).
	AppendEvent(ctx context.Context, e *Event) error
	ListEvents(ctx context.Context, f EventFilter) ([]Event, error)
	// ListChainedEvents lists chained events with Seq > after, by Seq.
	ListChainedEvents(ctx context.Context, after int64, limit int) ([]Event, error)
	// PruneEvents removes the chain's prefix written before t: up to the
	// event before the first one at or after t (an event with a wrong,
	// early time further on does not pull newer ones along), at most limit
	// events, and moves the chain's base to the last one removed.
	PruneEvents(ctx context.Context, t time.Time, limit int) (EventPrune, error)
	// UnchainedEvents lists events without a seq, by ID: events written
	// before the chain existed, until they are chained (ChainEvent).
	UnchainedEvents(ctx context.Context, limit int) ([]Event, error)
	// ChainEvent gives the stored event e.ID, still unchained, the chain
	// place and hash set in e (Seq must follow the head) and moves the
	// head to it: ErrConflict otherwise.
	ChainEvent(ctx context.Context, e Event) error

	// Settings: small key/value documents (brand settings, instance key id).
	GetSetting(ctx context.Context, key string) (string, error) // ErrNotFound
	PutSetting(ctx context.Context, key, value string) error
}

// Store is a backend: the queries plus transactions and lifecycle.
type Store interface {
	Queries
	// InTx runs fn in one transaction: committed when fn returns nil,
	// rolled back otherwise (and on panic). Writes that must happen
	// together, such as a change and its audit event, go through here.
	InTx(ctx context.Context, fn func(q Queries) error) error
	// Migrate applies pending migrations; safe when several processes
	// call it at once.
	Migrate(ctx context.Context) error
	Ping(ctx context.Context) error
	Close() error
	// Dialect is "sqlite" or "postgres".
	Dialect() string
}
