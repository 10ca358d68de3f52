package store

import (
	"context"
	"time"
)

// LDAP bind and search modes of a provider (see LDAPProvider).
const (
	LDAPModeDirect = "direct"
	LDAPModeCached = "cached"
)

// LDAPProvider is one LDAP view of the directory: where it is rooted and
// who may bind through it. Providers are addressed by name and cannot be
// renamed (scoped permissions such as ldap.read@ldap/NAME name them).
type LDAPProvider struct {
	UID         string
	Name        string // unique
	BaseDN      string // normalized: lower-case attribute types, RFC 4514 escaped values
	SearchGroup string // "" anyone may bind; otherwise only members of this group (by name)
	BindMode    string // LDAPModeDirect or LDAPModeCached (what an outpost may cache)
	SearchMode  string // LDAPModeDirect or LDAPModeCached
	UPNDomain   string // "" none; otherwise USER@UPNDomain binds as USER
	CreatedAt   time.Time
}

// LDAPProviderFilter selects providers; ordered by name.
type LDAPProviderFilter struct {
	After string
	Limit int
}

// Outpost is an LDAP front door running as its own process for one
// provider. It acts as its own internal service account (UserUID).
type Outpost struct {
	UID          string
	Name         string // unique
	Description  string
	ProviderUID  string
	ProviderName string // filled on reads (join), ignored on writes
	UserUID      string // the internal service account it authenticates as; unique
	Username     string // filled on reads (join), ignored on writes
	// TokenTTL is the lifetime the outpost gives its token at each
	// rotation (it rotates when a third of it is left).
	TokenTTL  time.Duration
	CreatedAt time.Time
}

// OutpostFilter selects outposts; ordered by name.
type OutpostFilter struct {
	ProviderUID string // "" any
	After       string
	Limit       int
}

// Membership is one (group, user) pair.
type Membership struct {
	GroupUID string
	UserUID  string
}

// LDAPQueries stores LDAP providers and outposts, and reads the
// memberships the directory view is built from.
type LDAPQueries interface {
	CreateLDAPProvider(ctx context.Context, p LDAPProvider) error                        // ErrConflict on taken name
	GetLDAPProvider(ctx context.Context, name string) (LDAPProvider, error)              // ErrNotFound
	ListLDAPProviders(ctx context.Context, f LDAPProviderFilter) ([]LDAPProvider, error) // ordered by name
	// UpdateLDAPProvider writes every field but UID, Name and CreatedAt, by UID; ErrNotFound.
	UpdateLDAPProvider(ctx context.Context, p LDAPProvider) error
	// DeleteLDAPProvider: ErrNotFound; ErrConflict while an outpost serves it.
	DeleteLDAPProvider(ctx context.Context, uid string) error

	// CreateOutpost: ErrConflict on a taken name (or an account already
	// serving another outpost); ErrNotFound when the provider or the user is gone.
	CreateOutpost(ctx context.Context, o Outpost) error
	GetOutpost(ctx context.Context, name string) (Outpost, error)          // ErrNotFound
	GetOutpostByUser(ctx context.Context, userUID string) (Outpost, error) // ErrNotFound
	ListOutposts(ctx context.Context, f OutpostFilter) ([]Outpost, error)  // ordered by name
	DeleteOutpost(ctx context.Context, uid string) error                   // ErrNotFound

	// ListMemberships returns every membership, ordered by group then user UID.
	ListMemberships(ctx context.Context) ([]Membership, error)
}
