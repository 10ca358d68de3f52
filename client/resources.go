package client

import (
	"context"
	"iter"
	"net/http"
	"net/url"
)

// collection holds the calls every collection of the API answers the
// same way: list, get, create, patch and delete by name.
type collection[T any] struct {
	c    *Client
	path string // "/users"
}

func (r collection[T]) list(ctx context.Context, q url.Values, o ListOptions) (Page[T], error) {
	return List[T](ctx, r.c, r.path, q, o)
}

func (r collection[T]) all(ctx context.Context, q url.Values, o ListOptions) iter.Seq2[T, error] {
	return All[T](ctx, r.c, r.path, q, o)
}

func (r collection[T]) listAll(ctx context.Context, q url.Values, o ListOptions) ([]T, error) {
	return ListAll[T](ctx, r.c, r.path, q, o)
}

func (r collection[T]) get(ctx context.Context, name string) (T, error) {
	return call[T](ctx, r.c, http.MethodGet, r.path+Path(name), nil)
}

func (r collection[T]) create(ctx context.Context, in any) (T, error) {
	return call[T](ctx, r.c, http.MethodPost, r.path, in)
}

func (r collection[T]) update(ctx context.Context, name string, in any) (T, error) {
	return call[T](ctx, r.c, http.MethodPatch, r.path+Path(name), in)
}

func (r collection[T]) delete(ctx context.Context, name string) error {
	return r.c.Do(ctx, http.MethodDelete, r.path+Path(name), nil, nil, nil)
}

// call sends one request and decodes its answer as T.
func call[T any](ctx context.Context, c *Client, method, path string, body any) (T, error) {
	var out T
	err := c.Do(ctx, method, path, nil, body, &out)
	return out, err
}

// query builds a list's filters, leaving out the empty ones.
func query(pairs ...string) url.Values {
	q := url.Values{}
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			q.Set(pairs[i], pairs[i+1])
		}
	}
	return q
}

// Me returns the caller: who the credentials belong to and what they may do.
func (c *Client) Me(ctx context.Context) (Me, error) {
	return call[Me](ctx, c, http.MethodGet, "/me", nil)
}

// --- users ---------------------------------------------------------------

// Users are humans and service accounts, at /users.
type Users struct{ c *Client }

// UserFilter selects users of a list.
type UserFilter struct {
	Type   string // UserHuman, UserServiceAccount, UserInternalServiceAccount; "": all
	Search string // text in the username, name, email or description
}

func (f UserFilter) query() url.Values { return query("type", f.Type, "search", f.Search) }

func (s *Users) col() collection[User] { return collection[User]{s.c, "/users"} }

// List reads one page of users.
func (s *Users) List(ctx context.Context, f UserFilter, o ListOptions) (Page[User], error) {
	return s.col().list(ctx, f.query(), o)
}

// All iterates over every user, page after page.
func (s *Users) All(ctx context.Context, f UserFilter, o ListOptions) iter.Seq2[User, error] {
	return s.col().all(ctx, f.query(), o)
}

// ListAll reads every user (up to o.Limit).
func (s *Users) ListAll(ctx context.Context, f UserFilter, o ListOptions) ([]User, error) {
	return s.col().listAll(ctx, f.query(), o)
}

// Get reads one user; a missing one is ErrNotFound.
func (s *Users) Get(ctx context.Context, username string) (User, error) {
	return s.col().get(ctx, username)
}

// Create makes a human user, or a service account without a credential
// (ServiceAccounts.Create makes one with its credential).
func (s *Users) Create(ctx context.Context, in UserCreate) (User, error) {
	return s.col().create(ctx, in)
}

// Update changes the fields set in in.
func (s *Users) Update(ctx context.Context, username string, in UserUpdate) (User, error) {
	return s.col().update(ctx, username, in)
}

// Delete deletes a user, its tokens and memberships.
func (s *Users) Delete(ctx context.Context, username string) error {
	return s.col().delete(ctx, username)
}

// SetPassword sets a human user's password.
func (s *Users) SetPassword(ctx context.Context, username, password string) error {
	return s.c.Do(ctx, http.MethodPut, Path("users", username, "password"), nil, map[string]string{"password": password}, nil)
}

// Permissions reads the permissions granted directly to one account.
func (s *Users) Permissions(ctx context.Context, username string) ([]string, error) {
	p, err := call[UserPermissions](ctx, s.c, http.MethodGet, Path("users", username, "permissions"), nil)
	return p.Permissions, err
}

// SetPermissions replaces the permissions granted directly to one account.
func (s *Users) SetPermissions(ctx context.Context, username string, permissions []string) ([]string, error) {
	if permissions == nil {
		permissions = []string{}
	}
	p, err := call[UserPermissions](ctx, s.c, http.MethodPut, Path("users", username, "permissions"), UserPermissions{permissions})
	return p.Permissions, err
}

// --- service accounts ----------------------------------------------------

// ServiceAccounts are the accounts of machines, at /service-accounts.
type ServiceAccounts struct{ c *Client }

func (s *ServiceAccounts) col() collection[User] { return collection[User]{s.c, "/service-accounts"} }

// List reads one page of service accounts whose name or description
// holds search ("": all).
func (s *ServiceAccounts) List(ctx context.Context, search string, o ListOptions) (Page[User], error) {
	return s.col().list(ctx, query("search", search), o)
}

// All iterates over every service account, page after page.
func (s *ServiceAccounts) All(ctx context.Context, search string, o ListOptions) iter.Seq2[User, error] {
	return s.col().all(ctx, query("search", search), o)
}

// ListAll reads every service account (up to o.Limit).
func (s *ServiceAccounts) ListAll(ctx context.Context, search string, o ListOptions) ([]User, error) {
	return s.col().listAll(ctx, query("search", search), o)
}

// Get reads one service account; a missing one is ErrNotFound.
func (s *ServiceAccounts) Get(ctx context.Context, username string) (User, error) {
	return s.col().get(ctx, username)
}

// Create makes a service account with its groups, roles and first
// credential, in one transaction. The answer's Token.Key is shown this
// once.
func (s *ServiceAccounts) Create(ctx context.Context, in ServiceAccountCreate) (CreatedServiceAccount, error) {
	return call[CreatedServiceAccount](ctx, s.c, http.MethodPost, "/service-accounts", in)
}

// Update changes the fields set in in (a service account has no name or
// email).
func (s *ServiceAccounts) Update(ctx context.Context, username string, in UserUpdate) (User, error) {
	return s.col().update(ctx, username, in)
}

// Delete deletes a service account and its tokens. Managed accounts
// (outposts') are ErrConflict.
func (s *ServiceAccounts) Delete(ctx context.Context, username string) error {
	return s.col().delete(ctx, username)
}

// --- groups --------------------------------------------------------------

// Groups are named sets of users, at /groups.
type Groups struct{ c *Client }

func (s *Groups) col() collection[Group] { return collection[Group]{s.c, "/groups"} }

// List reads one page of groups.
func (s *Groups) List(ctx context.Context, o ListOptions) (Page[Group], error) {
	return s.col().list(ctx, nil, o)
}

// All iterates over every group, page after page.
func (s *Groups) All(ctx context.Context, o ListOptions) iter.Seq2[Group, error] {
	return s.col().all(ctx, nil, o)
}

// ListAll reads every group (up to o.Limit).
func (s *Groups) ListAll(ctx context.Context, o ListOptions) ([]Group, error) {
	return s.col().listAll(ctx, nil, o)
}

// Get reads one group; a missing one is ErrNotFound.
func (s *Groups) Get(ctx context.Context, name string) (Group, error) { return s.col().get(ctx, name) }

// Create makes a group.
func (s *Groups) Create(ctx context.Context, in GroupCreate) (Group, error) {
	return s.col().create(ctx, in)
}

// Update changes the fields set in in.
func (s *Groups) Update(ctx context.Context, name string, in GroupUpdate) (Group, error) {
	return s.col().update(ctx, name, in)
}

// Delete deletes a group (its members stay).
func (s *Groups) Delete(ctx context.Context, name string) error { return s.col().delete(ctx, name) }

// AddMember adds a user to a group; adding a member twice is no error.
func (s *Groups) AddMember(ctx context.Context, group, username string) error {
	return s.c.Do(ctx, http.MethodPut, Path("groups", group, "members", username), nil, nil, nil)
}

// RemoveMember takes a user out of a group; one not in it is ErrNotFound.
func (s *Groups) RemoveMember(ctx context.Context, group, username string) error {
	return s.c.Do(ctx, http.MethodDelete, Path("groups", group, "members", username), nil, nil, nil)
}

// --- roles and permissions -----------------------------------------------

// Roles are named sets of permissions, at /roles.
type Roles struct{ c *Client }

func (s *Roles) col() collection[Role] { return collection[Role]{s.c, "/roles"} }

// List reads one page of roles.
func (s *Roles) List(ctx context.Context, o ListOptions) (Page[Role], error) {
	return s.col().list(ctx, nil, o)
}

// All iterates over every role, page after page.
func (s *Roles) All(ctx context.Context, o ListOptions) iter.Seq2[Role, error] {
	return s.col().all(ctx, nil, o)
}

// ListAll reads every role (up to o.Limit).
func (s *Roles) ListAll(ctx context.Context, o ListOptions) ([]Role, error) {
	return s.col().listAll(ctx, nil, o)
}

// Get reads one role; a missing one is ErrNotFound.
func (s *Roles) Get(ctx context.Context, name string) (Role, error) { return s.col().get(ctx, name) }

// Create makes a role.
func (s *Roles) Create(ctx context.Context, in RoleCreate) (Role, error) {
	return s.col().create(ctx, in)
}

// Update changes the fields set in in.
func (s *Roles) Update(ctx context.Context, name string, in RoleUpdate) (Role, error) {
	return s.col().update(ctx, name, in)
}

// Delete deletes a role and its assignments.
func (s *Roles) Delete(ctx context.Context, name string) error { return s.col().delete(ctx, name) }

// Subject kinds of role assignments and application bindings, as the
// paths name them.
const (
	SubjectUsers  = "users"
	SubjectGroups = "groups"
)

// Assign gives a role to a user or service account (kind SubjectUsers)
// or a group (SubjectGroups); assigning twice is no error.
func (s *Roles) Assign(ctx context.Context, role, kind, name string) error {
	return s.c.Do(ctx, http.MethodPut, Path("roles", role, "assignments", kind, name), nil, nil, nil)
}

// Unassign takes a role from a user or group; one not assigned is ErrNotFound.
func (s *Roles) Unassign(ctx context.Context, role, kind, name string) error {
	return s.c.Do(ctx, http.MethodDelete, Path("roles", role, "assignments", kind, name), nil, nil, nil)
}

// Permissions is the permission catalogue, at /permissions.
type Permissions struct{ c *Client }

// ListAll reads the whole catalogue.
func (s *Permissions) ListAll(ctx context.Context) ([]Permission, error) {
	return ListAll[Permission](ctx, s.c, "/permissions", nil, ListOptions{})
}

// --- tokens --------------------------------------------------------------

// Tokens are API tokens and app passwords, at /tokens.
type Tokens struct{ c *Client }

// TokenFilter selects tokens of a list. Without tokens.read a list holds
// the caller's own tokens only.
type TokenFilter struct {
	User           string // the owner's username
	Intent         string // IntentAPI or IntentAppPassword
	ExpiringWithin string // a duration: only tokens expiring within it
	UnusedFor      string // a duration: only tokens not used for it
	Search         string
}

func (f TokenFilter) query() url.Values {
	return query("user", f.User, "intent", f.Intent, "expiring_within", f.ExpiringWithin,
		"unused_for", f.UnusedFor, "search", f.Search)
}

func (s *Tokens) col() collection[Token] { return collection[Token]{s.c, "/tokens"} }

// List reads one page of tokens.
func (s *Tokens) List(ctx context.Context, f TokenFilter, o ListOptions) (Page[Token], error) {
	return s.col().list(ctx, f.query(), o)
}

// All iterates over every token, page after page.
func (s *Tokens) All(ctx context.Context, f TokenFilter, o ListOptions) iter.Seq2[Token, error] {
	return s.col().all(ctx, f.query(), o)
}

// ListAll reads every token (up to o.Limit).
func (s *Tokens) ListAll(ctx context.Context, f TokenFilter, o ListOptions) ([]Token, error) {
	return s.col().listAll(ctx, f.query(), o)
}

// Get reads one token, without its key; a missing one is ErrNotFound.
func (s *Tokens) Get(ctx context.Context, identifier string) (Token, error) {
	return s.col().get(ctx, identifier)
}

// Create issues a token; the answer's Key is shown this once.
func (s *Tokens) Create(ctx context.Context, in TokenCreate) (Token, error) {
	return s.col().create(ctx, in)
}

// Update changes the fields set in in.
func (s *Tokens) Update(ctx context.Context, identifier string, in TokenUpdate) (Token, error) {
	return s.col().update(ctx, identifier, in)
}

// Revoke revokes a token at once: its next use is refused.
func (s *Tokens) Revoke(ctx context.Context, identifier string) error {
	return s.col().delete(ctx, identifier)
}

// Rotate issues a new key for a token; the old key works for in.Grace
// more. The answer's Key is shown this once.
func (s *Tokens) Rotate(ctx context.Context, identifier string, in TokenRotate) (Token, error) {
	return call[Token](ctx, s.c, http.MethodPost, Path("tokens", identifier, "rotate"), in)
}

// --- events --------------------------------------------------------------

// Events are the audit log, newest first, at /events.
type Events struct{ c *Client }

// EventFilter selects events of a list.
type EventFilter struct {
	Action string // such as login_failed or token_created
	Actor  string // username
	Target string // name of what the event is about
	Since  string // RFC 3339
	Until  string // RFC 3339
}

func (f EventFilter) query() url.Values {
	return query("action", f.Action, "actor", f.Actor, "target", f.Target, "since", f.Since, "until", f.Until)
}

// List reads one page of events.
func (s *Events) List(ctx context.Context, f EventFilter, o ListOptions) (Page[Event], error) {
	return List[Event](ctx, s.c, "/events", f.query(), o)
}

// All iterates over events, newest first, page after page.
func (s *Events) All(ctx context.Context, f EventFilter, o ListOptions) iter.Seq2[Event, error] {
	return All[Event](ctx, s.c, "/events", f.query(), o)
}

// ListAll reads events (up to o.Limit: the log only grows).
func (s *Events) ListAll(ctx context.Context, f EventFilter, o ListOptions) ([]Event, error) {
	return ListAll[Event](ctx, s.c, "/events", f.query(), o)
}

// Verify asks the server to check one part of the audit chain, from the
// beginning (afterSeq 0) or after afterSeq; a long chain answers
// NextAfterSeq, where the next part begins.
func (s *Events) Verify(ctx context.Context, afterSeq int64) (ChainVerification, error) {
	var q url.Values
	if afterSeq > 0 {
		q = url.Values{"after_seq": {itoa(afterSeq)}}
	}
	var v ChainVerification
	err := s.c.Do(ctx, http.MethodGet, "/events/verify", q, nil, &v)
	return v, err
}

// --- applications --------------------------------------------------------

// Applications are what forward-auth admits people and machines to, with
// their bindings, at /applications.
type Applications struct{ c *Client }

func (s *Applications) col() collection[Application] {
	return collection[Application]{s.c, "/applications"}
}

// List reads one page of applications whose slug, name or description
// holds search ("": all).
func (s *Applications) List(ctx context.Context, search string, o ListOptions) (Page[Application], error) {
	return s.col().list(ctx, query("search", search), o)
}

// All iterates over every application, page after page.
func (s *Applications) All(ctx context.Context, search string, o ListOptions) iter.Seq2[Application, error] {
	return s.col().all(ctx, query("search", search), o)
}

// ListAll reads every application (up to o.Limit).
func (s *Applications) ListAll(ctx context.Context, search string, o ListOptions) ([]Application, error) {
	return s.col().listAll(ctx, query("search", search), o)
}

// Get reads one application; a missing one is ErrNotFound.
func (s *Applications) Get(ctx context.Context, slug string) (Application, error) {
	return s.col().get(ctx, slug)
}

// Create makes an application (in.Slug and in.Name required).
func (s *Applications) Create(ctx context.Context, in ApplicationInput) (Application, error) {
	return s.col().create(ctx, in)
}

// Update changes the fields set in in (its Slug is not sent).
func (s *Applications) Update(ctx context.Context, slug string, in ApplicationInput) (Application, error) {
	in.Slug = ""
	return s.col().update(ctx, slug, in)
}

// Delete deletes an application and its bindings.
func (s *Applications) Delete(ctx context.Context, slug string) error {
	return s.col().delete(ctx, slug)
}

// Bind creates or replaces the binding of a user (kind SubjectUsers) or
// group (SubjectGroups) to an application.
func (s *Applications) Bind(ctx context.Context, slug, kind, name string, in BindingInput) (Binding, error) {
	return call[Binding](ctx, s.c, http.MethodPut, Path("applications", slug, "bindings", kind, name), in)
}

// Unbind removes a binding; one not there is ErrNotFound.
func (s *Applications) Unbind(ctx context.Context, slug, kind, name string) error {
	return s.c.Do(ctx, http.MethodDelete, Path("applications", slug, "bindings", kind, name), nil, nil, nil)
}

// Brand is the instance's brand settings, at /brand.
type Brand struct{ c *Client }

// Get reads the brand settings.
func (s *Brand) Get(ctx context.Context) (BrandSettings, error) {
	return call[BrandSettings](ctx, s.c, http.MethodGet, "/brand", nil)
}

// Update changes the fields set in in.
func (s *Brand) Update(ctx context.Context, in BrandUpdate) (BrandSettings, error) {
	return call[BrandSettings](ctx, s.c, http.MethodPatch, "/brand", in)
}

// --- LDAP providers and outposts -----------------------------------------

// LDAPProviders are LDAP views of the directory, at /ldap-providers.
type LDAPProviders struct{ c *Client }

func (s *LDAPProviders) col() collection[LDAPProvider] {
	return collection[LDAPProvider]{s.c, "/ldap-providers"}
}

// ListAll reads every LDAP provider (up to o.Limit).
func (s *LDAPProviders) ListAll(ctx context.Context, o ListOptions) ([]LDAPProvider, error) {
	return s.col().listAll(ctx, nil, o)
}

// Get reads one provider; a missing one is ErrNotFound.
func (s *LDAPProviders) Get(ctx context.Context, name string) (LDAPProvider, error) {
	return s.col().get(ctx, name)
}

// Create makes a provider (in.Name and in.BaseDN required).
func (s *LDAPProviders) Create(ctx context.Context, in LDAPProviderInput) (LDAPProvider, error) {
	return s.col().create(ctx, in)
}

// Update changes the fields set in in (its Name is not sent).
func (s *LDAPProviders) Update(ctx context.Context, name string, in LDAPProviderInput) (LDAPProvider, error) {
	in.Name = ""
	return s.col().update(ctx, name, in)
}

// Delete deletes a provider; one that outposts serve is ErrConflict.
func (s *LDAPProviders) Delete(ctx context.Context, name string) error {
	return s.col().delete(ctx, name)
}

// Outposts are registered LDAP outposts, at /outposts.
type Outposts struct{ c *Client }

func (s *Outposts) col() collection[Outpost] { return collection[Outpost]{s.c, "/outposts"} }

// ListAll reads every outpost (up to o.Limit).
func (s *Outposts) ListAll(ctx context.Context, o ListOptions) ([]Outpost, error) {
	return s.col().listAll(ctx, nil, o)
}

// Get reads one outpost; a missing one is ErrNotFound.
func (s *Outposts) Get(ctx context.Context, name string) (Outpost, error) {
	return s.col().get(ctx, name)
}

// Create registers an outpost: its managed account and token, whose key
// the answer shows this once.
func (s *Outposts) Create(ctx context.Context, in OutpostCreate) (CreatedOutpost, error) {
	return call[CreatedOutpost](ctx, s.c, http.MethodPost, "/outposts", in)
}

// Rotate issues a new key for an outpost that lost its own; the old key
// works for grace more ("": not at all).
func (s *Outposts) Rotate(ctx context.Context, name, grace string) (CreatedOutpost, error) {
	var body any
	if grace != "" {
		body = map[string]string{"grace": grace}
	}
	return call[CreatedOutpost](ctx, s.c, http.MethodPost, Path("outposts", name, "rotate"), body)
}

// Delete deletes an outpost, its account and token.
func (s *Outposts) Delete(ctx context.Context, name string) error { return s.col().delete(ctx, name) }
