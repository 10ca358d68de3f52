package client

import "time"

// The API's resources as a client reads and writes them: the wire
// contract of the REST API (/api/v1). The answers are defined once, here:
// the server's core answers with these same types (internal/core names
// them by aliases such as core.UserView), so the two cannot drift apart;
// contract_test.go holds the rest (requests, and answers the server
// builds from types of its own) to the server's. A client must keep working against an older or newer server, so unknown
// fields of an answer are ignored. Request types hold only fields the
// server knows (it refuses unknown ones); their pointer fields are sent
// only when set, so that "absent" (keep, or the server's default) and
// "empty" differ.

// User types (User.Type).
const (
	UserHuman                  = "human"
	UserServiceAccount         = "service_account"
	UserInternalServiceAccount = "internal_service_account" // made by gatehouse for its outposts; managed
)

// Token intents (Token.Intent).
const (
	IntentAPI         = "api"          // Bearer, for the API
	IntentAppPassword = "app_password" // LDAP binds and forward-auth Basic only
	IntentNone        = "none"         // ServiceAccountCreate: no first credential
)

// Me is the caller, as GET /me shows it.
type Me struct {
	UID         string   `json:"uid"`
	Username    string   `json:"username"`
	Type        string   `json:"type"`
	IsActive    bool     `json:"is_active"`
	Groups      []string `json:"groups"`
	Roles       []string `json:"roles"`
	Permissions []string `json:"permissions"`
}

// User is a human user or a service account.
type User struct {
	UID         string     `json:"uid"`
	Username    string     `json:"username"`
	Type        string     `json:"type"`
	Name        string     `json:"name"`
	Email       string     `json:"email"`
	Description string     `json:"description"`
	IsActive    bool       `json:"is_active"`
	Managed     bool       `json:"managed"`
	HasPassword bool       `json:"has_password"`
	Groups      []string   `json:"groups"`
	Roles       []string   `json:"roles"`
	CreatedAt   time.Time  `json:"created_at"`
	LastLoginAt *time.Time `json:"last_login_at"`
}

// UserCreate is the body of POST /users: a human (Type "human", the
// default) or a plain service account without a credential.
type UserCreate struct {
	Username    string  `json:"username"`
	Type        string  `json:"type,omitempty"`
	Name        string  `json:"name,omitempty"`
	Email       string  `json:"email,omitempty"`
	Description string  `json:"description,omitempty"`
	Password    *string `json:"password,omitempty"`
	IsActive    *bool   `json:"is_active,omitempty"`
}

// UserUpdate is the body of PATCH /users/{username} and
// /service-accounts/{username}: only the fields set change.
type UserUpdate struct {
	Name        *string `json:"name,omitempty"`
	Email       *string `json:"email,omitempty"`
	Description *string `json:"description,omitempty"`
	IsActive    *bool   `json:"is_active,omitempty"`
}

// UserPermissions is the set granted directly to one account.
type UserPermissions struct {
	Permissions []string `json:"permissions"`
}

// ServiceAccountCreate is the body of POST /service-accounts: the
// account, its memberships and roles, and a first credential, made in
// one transaction.
type ServiceAccountCreate struct {
	Username    string   `json:"username"`
	Description string   `json:"description"`
	Groups      []string `json:"groups"`
	Roles       []string `json:"roles"`
	CreateGroup bool     `json:"create_group"`
	// TokenIntent is the first credential: IntentAppPassword (the
	// server's default when empty), IntentAPI or IntentNone.
	TokenIntent string `json:"token_intent"`
	// Expiring false makes a credential that never expires; nil: it expires.
	Expiring *bool `json:"expiring,omitempty"`
	// ExpiresAt (RFC 3339) or TTL (a duration): when it expires; neither:
	// the server's default (360 days).
	ExpiresAt string `json:"expires_at,omitempty"`
	TTL       string `json:"ttl,omitempty"`
	// The first credential's least privilege, as for TokenCreate.
	Permissions   *[]string `json:"permissions,omitempty"`
	AllowedCIDRs  []string  `json:"allowed_cidrs,omitempty"`
	Applications  []string  `json:"applications,omitempty"`
	LDAPProviders []string  `json:"ldap_providers,omitempty"`
}

// CreatedServiceAccount is the answer of POST /service-accounts. Token
// holds the key, shown this once.
type CreatedServiceAccount struct {
	User  User   `json:"user"`
	Group *Group `json:"group"`
	Token *Token `json:"token"`
}

// Group is a named set of users.
type Group struct {
	UID         string    `json:"uid"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Members     []string  `json:"members"`
	Roles       []string  `json:"roles"`
	CreatedAt   time.Time `json:"created_at"`
}

// GroupCreate is the body of POST /groups.
type GroupCreate struct {
	Name        string  `json:"name"`
	Description *string `json:"description,omitempty"`
}

// GroupUpdate is the body of PATCH /groups/{name}.
type GroupUpdate struct {
	Description *string `json:"description,omitempty"`
}

// Role is a named set of permissions.
type Role struct {
	UID         string    `json:"uid"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Builtin     bool      `json:"builtin"`
	Permissions []string  `json:"permissions"`
	CreatedAt   time.Time `json:"created_at"`
}

// RoleCreate is the body of POST /roles.
type RoleCreate struct {
	Name        string    `json:"name"`
	Description *string   `json:"description,omitempty"`
	Permissions *[]string `json:"permissions,omitempty"`
}

// RoleUpdate is the body of PATCH /roles/{name}; Permissions, when set,
// replaces the whole list.
type RoleUpdate struct {
	Description *string   `json:"description,omitempty"`
	Permissions *[]string `json:"permissions,omitempty"`
}

// Permission is an entry of the permission catalogue (GET /permissions).
type Permission struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Scopes      []string `json:"scopes"`
}

// Token is an API token or app password. Key is set only in the answer
// that creates or rotates it.
type Token struct {
	Identifier  string     `json:"identifier"`
	User        string     `json:"user"`
	UserType    string     `json:"user_type"`
	Intent      string     `json:"intent"`
	Description string     `json:"description"`
	Expiring    bool       `json:"expiring"`
	ExpiresAt   *time.Time `json:"expires_at"`
	Expired     bool       `json:"expired"`
	Extended    bool       `json:"extended"`
	MaxAge      *string    `json:"max_age"`
	CreatedAt   time.Time  `json:"created_at"`
	CreatedBy   string     `json:"created_by"`
	LastUsedAt  *time.Time `json:"last_used_at"`
	Managed     bool       `json:"managed"`
	// Least privilege: the token's own permissions (nil: all of its
	// owner's; empty: none), and the networks, applications and LDAP
	// providers it is bound to (empty: any). Fixed for the token's life.
	Permissions   *[]string `json:"permissions"`
	AllowedCIDRs  []string  `json:"allowed_cidrs"`
	Applications  []string  `json:"applications"`
	LDAPProviders []string  `json:"ldap_providers"`
	// Federated: minted by a token exchange (nil otherwise).
	Federated *TokenFederation `json:"federated"`
	Key       string           `json:"key,omitempty"`
}

// TokenCreate is the body of POST /tokens; what is not given is left to
// the server's defaults (an API token of the caller, expiring in 30 days).
type TokenCreate struct {
	Identifier  string `json:"identifier,omitempty"`
	User        string `json:"user,omitempty"`
	Intent      string `json:"intent,omitempty"`
	Description string `json:"description,omitempty"`
	Expiring    *bool  `json:"expiring,omitempty"`
	ExpiresAt   string `json:"expires_at,omitempty"`
	TTL         string `json:"ttl,omitempty"`
	Extended    bool   `json:"extended,omitempty"`
	MaxAge      string `json:"max_age,omitempty"`
	// Least privilege (nil or empty: not restricted). Permissions is a
	// pointer so that an empty list (a key that only proves identity) can
	// be asked for.
	Permissions   *[]string `json:"permissions,omitempty"`
	AllowedCIDRs  []string  `json:"allowed_cidrs,omitempty"`
	Applications  []string  `json:"applications,omitempty"`
	LDAPProviders []string  `json:"ldap_providers,omitempty"`
}

// TokenUpdate is the body of PATCH /tokens/{identifier}.
type TokenUpdate struct {
	Description *string `json:"description,omitempty"`
	Expiring    *bool   `json:"expiring,omitempty"`
	ExpiresAt   *string `json:"expires_at,omitempty"`
	TTL         *string `json:"ttl,omitempty"`
	Extended    *bool   `json:"extended,omitempty"`
	MaxAge      *string `json:"max_age,omitempty"`
}

// TokenRotate is the body of POST /tokens/{identifier}/rotate. Grace is
// how long the old key keeps working (default 0s); without TTL or
// ExpiresAt the new key gets the lifetime the old one had.
type TokenRotate struct {
	Grace     string `json:"grace,omitempty"`
	TTL       string `json:"ttl,omitempty"`
	ExpiresAt string `json:"expires_at,omitempty"`
}

// Event is one audit record.
type Event struct {
	ID       int64          `json:"id"`
	Seq      int64          `json:"seq,omitempty"`
	Hash     string         `json:"hash,omitempty"`
	Time     time.Time      `json:"time"`
	Action   string         `json:"action"`
	Outcome  string         `json:"outcome"`
	Actor    EventActor     `json:"actor"`
	ClientIP string         `json:"client_ip"`
	Target   EventTarget    `json:"target"`
	Context  map[string]any `json:"context"`
}

// EventActor is who acted.
type EventActor struct {
	Username string `json:"username"`
	Type     string `json:"type"`
}

// EventTarget is what an event is about.
type EventTarget struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
}

// ChainVerification is the answer of GET /events/verify: whether the
// audit log's hash chain is intact, over the part checked.
type ChainVerification struct {
	// Intact is true when every event checked has a hash that agrees with
	// its content and its predecessor and no seq is missing; on the first
	// part of a chain, removals by retention are accounted for; on the
	// last, the newest event is the chain head.
	Intact bool `json:"intact"`
	// Checked is how many events were checked.
	Checked int64 `json:"checked"`
	// FirstSeq and LastSeq bound the remaining chain (0 when empty).
	FirstSeq int64 `json:"first_seq"`
	LastSeq  int64 `json:"last_seq"`
	// BaseSeq: events up to it were removed by retention.
	BaseSeq int64 `json:"base_seq"`
	// NextAfterSeq, when not 0, is where the next part of a long chain
	// begins (Events.Verify's afterSeq).
	NextAfterSeq int64       `json:"next_after_seq,omitempty"`
	Broken       *ChainBreak `json:"broken,omitempty"`
}

// ChainBreak names where the chain breaks.
type ChainBreak struct {
	Seq    int64  `json:"seq"`
	ID     int64  `json:"id,omitempty"`
	Reason string `json:"reason"`
}

// Application is something used behind a reverse proxy, and its access
// policy: without bindings it admits every active user.
type Application struct {
	UID              string    `json:"uid"`
	Slug             string    `json:"slug"`
	Name             string    `json:"name"`
	URL              string    `json:"url"`
	Description      string    `json:"description"`
	PolicyEngineMode string    `json:"policy_engine_mode"`
	Bindings         []Binding `json:"bindings"`
	CreatedAt        time.Time `json:"created_at"`
}

// ApplicationInput is the body of POST /applications (Slug and Name
// required) and of PATCH /applications/{slug} (Slug ignored; only the
// fields set change).
type ApplicationInput struct {
	Slug             string  `json:"slug,omitempty"`
	Name             *string `json:"name,omitempty"`
	URL              *string `json:"url,omitempty"`
	Description      *string `json:"description,omitempty"`
	PolicyEngineMode *string `json:"policy_engine_mode,omitempty"` // "any" or "all"
}

// Binding kinds (Binding.Kind).
const (
	BindingUser  = "user"
	BindingGroup = "group"
)

// Binding ties a user (or service account) or a group to an application.
type Binding struct {
	Application string `json:"application"`
	Kind        string `json:"kind"`
	Name        string `json:"name"`
	Order       int    `json:"order"`
	Negate      bool   `json:"negate"`
}

// BindingInput is the body of PUT /applications/{slug}/bindings/...
type BindingInput struct {
	Order  *int  `json:"order,omitempty"`
	Negate *bool `json:"negate,omitempty"`
}

// BrandSettings is how the instance presents itself.
type BrandSettings struct {
	Title              string `json:"title"`
	DefaultApplication string `json:"default_application"`
}

// BrandUpdate is the body of PATCH /brand.
type BrandUpdate struct {
	Title              *string `json:"title,omitempty"`
	DefaultApplication *string `json:"default_application,omitempty"`
}

// LDAP provider modes (LDAPProvider.BindMode, SearchMode).
const (
	LDAPModeDirect = "direct"
	LDAPModeCached = "cached"
)

// LDAPProvider is an LDAP view of the directory.
type LDAPProvider struct {
	UID         string    `json:"uid"`
	Name        string    `json:"name"`
	BaseDN      string    `json:"base_dn"`
	SearchGroup string    `json:"search_group"`
	BindMode    string    `json:"bind_mode"`
	SearchMode  string    `json:"search_mode"`
	UPNDomain   string    `json:"upn_domain"`
	Outposts    []string  `json:"outposts"`
	CreatedAt   time.Time `json:"created_at"`
}

// LDAPProviderInput is the body of POST /ldap-providers (Name and BaseDN
// required) and of PATCH /ldap-providers/{name} (Name ignored; only the
// fields set change).
type LDAPProviderInput struct {
	Name        string  `json:"name,omitempty"`
	BaseDN      *string `json:"base_dn,omitempty"`
	SearchGroup *string `json:"search_group,omitempty"`
	BindMode    *string `json:"bind_mode,omitempty"`
	SearchMode  *string `json:"search_mode,omitempty"`
	UPNDomain   *string `json:"upn_domain,omitempty"`
}

// Outpost is an LDAP front door running as its own process, with a
// managed internal service account and token.
type Outpost struct {
	UID         string `json:"uid"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Provider    string `json:"provider"`
	User        string `json:"user"`
	Token       *Token `json:"token"` // without key
	// TokenTTL is the lifetime the outpost gives its token at each
	// rotation; it rotates when a third of it is left.
	TokenTTL  string    `json:"token_ttl"`
	CreatedAt time.Time `json:"created_at"`
}

// OutpostCreate is the body of POST /outposts.
type OutpostCreate struct {
	Name        string `json:"name"`
	Provider    string `json:"provider"`
	Description string `json:"description,omitempty"`
	TTL         string `json:"ttl,omitempty"`
}

// CreatedOutpost is the answer of POST /outposts and of an outpost's
// rotation: Token holds the key, shown this once.
type CreatedOutpost struct {
	Outpost Outpost `json:"outpost"`
	Token   Token   `json:"token"`
}
