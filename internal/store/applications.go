package store

import (
	"context"
	"time"
)

// Policy engine modes of an application (as in authentik): with bindings,
// the application admits when any of them passes, or only when all do.
const (
	PolicyModeAny = "any"
	PolicyModeAll = "all"
)

// Binding kinds: what a binding points at.
const (
	BindingUser  = "user"  // a user or service account, by UID
	BindingGroup = "group" // a group, by UID
)

// Application is something users and service accounts are admitted to
// (through forward-auth today): its bindings are its access policy.
type Application struct {
	UID              string
	Slug             string // unique; in URLs and scoped permissions; never changes
	Name             string
	URL              string // "" when none
	Description      string
	PolicyEngineMode string // PolicyModeAny or PolicyModeAll
	CreatedAt        time.Time
}

// ApplicationFilter selects applications; ordered by slug. Limit <= 0
// means all of them.
type ApplicationFilter struct {
	Search string // case-insensitive substring of slug, name or description
	After  string // slug > After
	Limit  int
}

// Binding ties a user or a group to an application. With Negate, the
// binding passes for everyone it does NOT match.
type Binding struct {
	ApplicationUID string
	Kind           string // BindingUser or BindingGroup
	SubjectUID     string // the user's or the group's UID
	SubjectName    string // username or group name: filled on reads, ignored on writes
	Order          int
	Negate         bool
}

// ApplicationQueries stores applications and their bindings.
type ApplicationQueries interface {
	CreateApplication(ctx context.Context, a Application) error                       // ErrConflict (slug or UID taken)
	GetApplication(ctx context.Context, slug string) (Application, error)             // ErrNotFound
	ListApplications(ctx context.Context, f ApplicationFilter) ([]Application, error) // ordered by slug
	// UpdateApplication writes name, url, description and mode, by UID
	// (slug and created_at stay). ErrNotFound.
	UpdateApplication(ctx context.Context, a Application) error
	// DeleteApplication deletes it and its bindings. ErrNotFound.
	DeleteApplication(ctx context.Context, uid string) error
	// PutBinding creates the binding, or replaces the order and negate
	// flag of the one already there for that (application, kind,
	// subject). ErrNotFound when the application or subject is gone.
	PutBinding(ctx context.Context, b Binding) error
	// DeleteBinding removes one binding. ErrNotFound when it is not there.
	DeleteBinding(ctx context.Context, applicationUID, kind, subjectUID string) error
	// ListBindings lists an application's bindings ordered by Order, then
	// Kind, then SubjectName. Bindings of deleted users and groups are gone
	// with them (cascade).
	ListBindings(ctx context.Context, applicationUID string) ([]Binding, error)
	// AllBindings lists every binding of every application, ordered by
	// application UID, then as ListBindings.
	AllBindings(ctx context.Context) ([]Binding, error)
}
