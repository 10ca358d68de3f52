package core

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"slices"

	"github.com/gatehouse/gatehouse/client"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/store"
)

// UserView is a user as the API shows it.
type UserView = client.User

func userView(u store.User, g store.Grants) UserView {
	return UserView{
		UID: u.UID, Username: u.Username, Type: u.Type, Name: u.Name, Email: u.Email,
		Description: u.Description, IsActive: u.IsActive, Managed: u.Managed, HasPassword: u.PasswordHash != "",
		Groups: nonNil(g.Groups), Roles: nonNil(g.DirectRoles), CreatedAt: u.CreatedAt, LastLoginAt: u.LastLoginAt,
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func isServiceAccount(typ string) bool {
	return typ == store.TypeServiceAccount || typ == store.TypeInternalServiceAccount
}

// Me is the caller, with effective permissions.
type Me struct {
	UserView
	Permissions []string `json:"permissions"`
}

// Me describes the calling principal.
func (s *Accounts) Me(ctx context.Context, a Actor) (Me, error) {
	if err := authenticated(a); err != nil {
		return Me{}, err
	}
	// The principal the credential check found answers: it carries the
	// account's profile, and whatever changes the account (a rename, a
	// disable, a role, a login) drops it from the cache first.
	var u store.User
	if pr := a.P.Profile; pr != nil {
		u = store.User{UID: a.P.UID, Username: a.P.Username, Type: a.P.Type, IsActive: a.P.Active, Managed: a.P.Managed,
			PasswordHash: a.P.PasswordHash, Name: pr.Name, Email: pr.Email, Description: pr.Description,
			CreatedAt: pr.CreatedAt, LastLoginAt: pr.LastLoginAt}
	} else {
		var err error
		if u, err = s.store.GetUserByUID(ctx, a.P.UID); err != nil {
			return Me{}, notFound(err, "user", a.P.Username)
		}
	}
	v := userView(u, store.Grants{Groups: a.P.Groups, DirectRoles: a.P.DirectRoles})
	return Me{UserView: v, Permissions: nonNil(a.P.Permissions)}, nil
}

// UserQuery selects users for listing.
type UserQuery struct {
	Type   string
	Search string
	After  string
	Limit  int
}

// ListUsers lists users (users.read).
func (s *Accounts) ListUsers(ctx context.Context, a Actor, q UserQuery) ([]UserView, error) {
	if err := s.authorize(ctx, a, authz.UsersRead, audit.Target{Kind: audit.KindUser}); err != nil {
		return nil, err
	}
	var f fields
	switch q.Type {
	case "", store.TypeHuman, store.TypeServiceAccount, store.TypeInternalServiceAccount:
	default:
		f.add("type", "must be human, service_account or internal_service_account")
	}
	f.maxLen("search", q.Search, 256)
	if err := f.err(); err != nil {
		return nil, err
	}
	users, err := s.store.ListUsers(ctx, store.UserFilter{Type: q.Type, Search: q.Search, After: q.After, Limit: q.Limit})
	if err != nil {
		return nil, err
	}
	return s.userViews(ctx, users)
}

// ListServiceAccounts lists both kinds of service account.
func (s *Accounts) ListServiceAccounts(ctx context.Context, a Actor, q UserQuery) ([]UserView, error) {
	if err := s.authorize(ctx, a, authz.UsersRead, audit.Target{Kind: audit.KindUser}); err != nil {
		return nil, err
	}
	var f fields
	if q.Type != "" && !isServiceAccount(q.Type) {
		f.add("type", "must be service_account or internal_service_account")
	}
	f.maxLen("search", q.Search, 256)
	if err := f.err(); err != nil {
		return nil, err
	}
	types := []string{store.TypeServiceAccount, store.TypeInternalServiceAccount}
	if q.Type != "" {
		types = []string{q.Type}
	}
	// Merge two ordered keyset listings into one ordered page.
	var all []store.User
	for _, t := range types {
		us, err := s.store.ListUsers(ctx, store.UserFilter{Type: t, Search: q.Search, After: q.After, Limit: q.Limit})
		if err != nil {
			return nil, err
		}
		all = append(all, us...)
	}
	sortUsers(all)
	if len(all) > q.Limit {
		all = all[:q.Limit]
	}
	return s.userViews(ctx, all)
}

func (s *Accounts) userViews(ctx context.Context, users []store.User) ([]UserView, error) {
	out := make([]UserView, 0, len(users))
	for _, u := range users {
		g, err := s.store.UserGrants(ctx, u.UID)
		if err != nil {
			return nil, err
		}
		out = append(out, userView(u, g))
	}
	return out, nil
}

// GetUser reads one user (users.read, or oneself).
func (s *Accounts) GetUser(ctx context.Context, a Actor, username string) (UserView, error) {
	if a.P == nil || a.P.Username != username {
		if err := s.authorize(ctx, a, authz.UsersRead, audit.Target{Kind: audit.KindUser, Name: username}); err != nil {
			return UserView{}, err
		}
	}
	u, err := s.store.GetUser(ctx, username)
	if err != nil {
		return UserView{}, notFound(err, "user", username)
	}
	g, err := s.store.UserGrants(ctx, u.UID)
	if err != nil {
		return UserView{}, err
	}
	return userView(u, g), nil
}

// GetServiceAccount reads one service account; humans are not found here.
func (s *Accounts) GetServiceAccount(ctx context.Context, a Actor, username string) (UserView, error) {
	v, err := s.Accounts.GetUser(ctx, a, username)
	if err == nil && !isServiceAccount(v.Type) {
		return UserView{}, &NotFoundError{Kind: "service account", Name: username}
	}
	return v, err
}

// CreateUserInput creates a human (or a plain service account).
type CreateUserInput = client.UserCreate

func validateProfile(f *fields, typ, name, email, description string) {
	f.maxLen("description", description, 1024)
	if isServiceAccount(typ) {
		if name != "" {
			f.add("name", "service accounts carry no personal information")
		}
		if email != "" {
			f.add("email", "service accounts carry no personal information")
		}
		return
	}
	f.maxLen("name", name, 256)
	if email != "" {
		if len(email) > 254 {
			f.add("email", "must be at most 254 characters")
		} else if addr, err := mail.ParseAddress(email); err != nil || addr.Address != email {
			f.add("email", "must be a plain e-mail address such as ops@example.com")
		}
	}
}

func validatePassword(f *fields, field, pw string) {
	switch {
	case len(pw) < auth.MinPasswordLength:
		f.add(field, fmt.Sprintf("must be at least %d characters", auth.MinPasswordLength))
	case len(pw) > auth.MaxPasswordLength:
		f.add(field, fmt.Sprintf("must be at most %d characters", auth.MaxPasswordLength))
	case auth.LooksLikeKey(pw):
		f.add(field, "must not look like a gatehouse key")
	}
}

// CreateUser creates a user (users.write).
func (s *Accounts) CreateUser(ctx context.Context, a Actor, in CreateUserInput) (UserView, error) {
	if err := s.authorize(ctx, a, authz.UsersWrite, audit.Target{Kind: audit.KindUser, Name: in.Username}); err != nil {
		return UserView{}, err
	}
	if in.Type == "" {
		in.Type = store.TypeHuman
	}
	var f fields
	f.name("username", in.Username)
	switch in.Type {
	case store.TypeHuman, store.TypeServiceAccount:
	case store.TypeInternalServiceAccount:
		f.add("type", "internal service accounts are made by gatehouse itself")
	default:
		f.add("type", "must be human or service_account")
	}
	validateProfile(&f, in.Type, in.Name, in.Email, in.Description)
	if in.Password != nil {
		if in.Type != store.TypeHuman {
			f.add("password", "service accounts never have a password")
		} else {
			validatePassword(&f, "password", *in.Password)
		}
	}
	if err := f.err(); err != nil {
		return UserView{}, err
	}
	u := store.User{UID: newUID(), Username: in.Username, Type: in.Type, Name: in.Name, Email: in.Email,
		Description: in.Description, IsActive: in.IsActive == nil || *in.IsActive, CreatedAt: s.now()}
	if in.Password != nil {
		h, err := auth.HashPassword(*in.Password)
		if err != nil {
			return UserView{}, err
		}
		u.PasswordHash, u.PasswordChangedAt = h, &u.CreatedAt
	}
	err := s.write(ctx, func(q store.Queries, rec func(store.Event)) error {
		if err := q.CreateUser(ctx, u); err != nil {
			return taken(err, "user", u.Username)
		}
		rec(s.event(a, audit.ActionModelCreated, audit.Success, audit.Target{Kind: audit.KindUser, Name: u.Username},
			map[string]any{"type": u.Type}))
		return nil
	})
	if err != nil {
		return UserView{}, err
	}
	return userView(u, store.Grants{}), nil
}

// UpdateUserInput is a PATCH: nil fields stay as they are.
type UpdateUserInput = client.UserUpdate

// accountScope says which accounts a request may name: any, or only
// service accounts (the /service-accounts paths, where a person is 404).
type accountScope uint8

const (
	anyAccount accountScope = iota
	serviceAccountsOnly
	peopleOnly // the web interface's People pages: a service account is 404
)

// UpdateUser changes a user or service account (users.write). Managed
// accounts refuse with 409.
func (s *Accounts) UpdateUser(ctx context.Context, a Actor, username string, in UpdateUserInput) (UserView, error) {
	return s.update(ctx, a, username, in, anyAccount)
}

// UpdateServiceAccount is UpdateUser for service accounts only.
func (s *Accounts) UpdateServiceAccount(ctx context.Context, a Actor, username string, in UpdateUserInput) (UserView, error) {
	return s.update(ctx, a, username, in, serviceAccountsOnly)
}

func (s *Accounts) update(ctx context.Context, a Actor, username string, in UpdateUserInput, scope accountScope) (UserView, error) {
	target := audit.Target{Kind: audit.KindUser, Name: username}
	if err := s.authorize(ctx, a, authz.UsersWrite, target); err != nil {
		return UserView{}, err
	}
	var out UserView
	var changed []string
	err := s.write(ctx, func(q store.Queries, rec func(store.Event)) error {
		u, err := s.getUserFor(ctx, q, username, scope)
		if err != nil {
			return err
		}
		if u.Managed {
			return &ConflictError{Msg: fmt.Sprintf("%q is managed by gatehouse and cannot be changed", username)}
		}
		if err := mayActOn(ctx, q, a, u, authz.UsersWrite, target); err != nil {
			return err
		}
		changed = changed[:0]
		set := func(name string, dst *string, v *string) {
			if v != nil && *v != *dst {
				*dst = *v
				changed = append(changed, name)
			}
		}
		set("name", &u.Name, in.Name)
		set("email", &u.Email, in.Email)
		set("description", &u.Description, in.Description)
		if in.IsActive != nil && *in.IsActive != u.IsActive {
			u.IsActive = *in.IsActive
			changed = append(changed, "is_active")
		}
		var f fields
		if in.Name != nil || in.Email != nil || in.Description != nil {
			validateProfile(&f, u.Type, u.Name, u.Email, u.Description)
		}
		if err := f.err(); err != nil {
			return err
		}
		if a.P.UID == u.UID && !u.IsActive {
			return &ConflictError{Msg: "you cannot disable your own account"}
		}
		if err := q.UpdateUser(ctx, u); err != nil {
			return notFound(err, "user", username)
		}
		if !u.IsActive { // a disabled user's web sessions end for good, even if re-enabled
			if _, err := q.DeleteUserSessions(ctx, u.UID, nil); err != nil {
				return err
			}
		}
		g, err := q.UserGrants(ctx, u.UID)
		if err != nil {
			return err
		}
		out = userView(u, g)
		if len(changed) > 0 {
			rec(s.event(a, audit.ActionModelUpdated, audit.Success, target, map[string]any{"fields": changed}))
		}
		return nil
	})
	if err != nil {
		return UserView{}, err
	}
	s.authn.InvalidatePrincipals()
	return out, nil
}

// getUserFor loads a user for a change, hiding humans from the service
// account door.
func (s *Accounts) getUserFor(ctx context.Context, q store.Queries, username string, scope accountScope) (store.User, error) {
	kind, fits := "user", func(store.User) bool { return true }
	switch scope {
	case serviceAccountsOnly:
		kind, fits = "service account", func(u store.User) bool { return isServiceAccount(u.Type) }
	case peopleOnly:
		kind, fits = "person", func(u store.User) bool { return u.Type == store.TypeHuman }
	}
	u, err := q.GetUser(ctx, username)
	if err != nil {
		return u, notFound(err, kind, username)
	}
	if !fits(u) {
		return u, &NotFoundError{Kind: kind, Name: username}
	}
	return u, nil
}

// DeleteUser deletes a user or service account and everything it owns
// (users.write).
func (s *Accounts) DeleteUser(ctx context.Context, a Actor, username string) error {
	return s.delete(ctx, a, username, anyAccount)
}

// UpdatePerson is UpdateUser for people (humans) only.
func (s *Accounts) UpdatePerson(ctx context.Context, a Actor, username string, in UpdateUserInput) (UserView, error) {
	return s.update(ctx, a, username, in, peopleOnly)
}

// DeletePerson is DeleteUser for people (humans) only.
func (s *Accounts) DeletePerson(ctx context.Context, a Actor, username string) error {
	return s.delete(ctx, a, username, peopleOnly)
}

// DeleteServiceAccount is DeleteUser for service accounts only.
func (s *Accounts) DeleteServiceAccount(ctx context.Context, a Actor, username string) error {
	return s.delete(ctx, a, username, serviceAccountsOnly)
}

func (s *Accounts) delete(ctx context.Context, a Actor, username string, scope accountScope) error {
	target := audit.Target{Kind: audit.KindUser, Name: username}
	if err := s.authorize(ctx, a, authz.UsersWrite, target); err != nil {
		return err
	}
	err := s.write(ctx, func(q store.Queries, rec func(store.Event)) error {
		u, err := s.getUserFor(ctx, q, username, scope)
		if err != nil {
			return err
		}
		if u.Managed {
			return &ConflictError{Msg: fmt.Sprintf("%q is managed by gatehouse and cannot be deleted", username)}
		}
		if u.UID == a.P.UID {
			return &ConflictError{Msg: "you cannot delete your own account"}
		}
		if err := mayActOn(ctx, q, a, u, authz.UsersWrite, target); err != nil {
			return err
		}
		if err := s.mayUnbind(ctx, q, rec, a, store.BindingUser, username, u.UID); err != nil {
			return err
		}
		return s.deleted(rec, a, q.DeleteUser(ctx, u.UID), "user", username, target, map[string]any{"type": u.Type})
	})
	return then(err, s.authn.InvalidateAll)
}

// ChangePassword is PUT /users/{username}/password: users.write sets
// anyone's; a human changing their own without it must give the current
// password, so that a stolen API token cannot be turned into a password.
func (s *Accounts) ChangePassword(ctx context.Context, a Actor, username, current, next string) error {
	if a.P != nil && a.P.Username == username && !a.P.Can(authz.UsersWrite) {
		if current == "" {
			return &ValidationError{Errors: []FieldError{{"current_password", "is required to change your own password"}}}
		}
		if err := s.Credentials.recheckPassword(ctx, a, current, "password_change", "current_password"); err != nil {
			return err
		}
	}
	return s.Accounts.SetPassword(ctx, a, username, next)
}

// SetPassword sets a human's password (users.write, or oneself).
func (s *Accounts) SetPassword(ctx context.Context, a Actor, username, password string) error {
	target := audit.Target{Kind: audit.KindUser, Name: username}
	if a.P == nil || a.P.Username != username {
		if err := s.authorize(ctx, a, authz.UsersWrite, target); err != nil {
			return err
		}
	}
	var f fields
	validatePassword(&f, "password", password)
	if err := f.err(); err != nil {
		return err
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return err
	}
	err = s.write(ctx, func(q store.Queries, rec func(store.Event)) error {
		u, err := q.GetUser(ctx, username)
		if err != nil {
			return notFound(err, "user", username)
		}
		// Setting someone's password hands the actor that account.
		if err := mayActOn(ctx, q, a, u, authz.UsersWrite, target); err != nil {
			return err
		}
		if u.Type != store.TypeHuman {
			return &ValidationError{[]FieldError{{"password", "service accounts never have a password"}}}
		}
		now := s.now()
		u.PasswordHash, u.PasswordChangedAt = hash, &now
		if err := q.UpdateUser(ctx, u); err != nil {
			return notFound(err, "user", username)
		}
		if _, err := q.DeleteUserSessions(ctx, u.UID, nil); err != nil { // a new password ends every web session
			return err
		}
		rec(s.event(a, audit.ActionPasswordSet, audit.Success, target, nil))
		return nil
	})
	return then(err, s.authn.InvalidatePrincipals)
}

// GetUserPermissions reads the permissions granted directly to a user.
func (s *Accounts) GetUserPermissions(ctx context.Context, a Actor, username string) ([]string, error) {
	if err := s.authorize(ctx, a, authz.UsersRead, audit.Target{Kind: audit.KindUser, Name: username}); err != nil {
		return nil, err
	}
	u, err := s.store.GetUser(ctx, username)
	if err != nil {
		return nil, notFound(err, "user", username)
	}
	p, err := s.store.GetUserPermissions(ctx, u.UID)
	return nonNil(p), err
}

// EffectivePermissions lists what an account holds now, through its
// roles, its groups' roles and direct grants (the whole catalogue for
// admin): what a token of it may be narrowed to, so that a form can offer
// just those. It needs users.read, or being the account with a key that
// is not narrowed: a narrowed key reads its own intersection through Me,
// never the broader set of its owner.
func (s *Accounts) EffectivePermissions(ctx context.Context, a Actor, username string) ([]string, error) {
	if a.P == nil || a.P.Username != username || a.P.Narrowed {
		if err := s.authorize(ctx, a, authz.UsersRead, audit.Target{Kind: audit.KindUser, Name: username}); err != nil {
			return nil, err
		}
	}
	u, err := s.store.GetUser(ctx, username)
	if err != nil {
		return nil, notFound(err, "user", username)
	}
	p, err := accountPower(ctx, s.store, u)
	if err != nil {
		return nil, err
	}
	return nonNil(slices.Clone(p.Permissions)), nil
}

// SetUserPermissions replaces a user's direct permissions. It needs
// users.write and roles.write: it grants permissions, as a role would.
func (s *Accounts) SetUserPermissions(ctx context.Context, a Actor, username string, perms []string) ([]string, error) {
	target := audit.Target{Kind: audit.KindUser, Name: username}
	if err := s.authorize(ctx, a, authz.UsersWrite, target); err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, a, authz.RolesWrite, target); err != nil {
		return nil, err
	}
	norm, err := normalizePermissions(perms)
	if err != nil {
		return nil, err
	}
	err = s.write(ctx, func(q store.Queries, rec func(store.Event)) error {
		u, err := q.GetUser(ctx, username)
		if err != nil {
			return notFound(err, "user", username)
		}
		if u.Managed {
			return &ConflictError{Msg: fmt.Sprintf("%q is managed by gatehouse and cannot be changed", username)}
		}
		if err := mayActOn(ctx, q, a, u, authz.UsersWrite, target); err != nil {
			return err
		}
		if err := q.SetUserPermissions(ctx, u.UID, norm); err != nil {
			return notFound(err, "user", username)
		}
		rec(s.event(a, audit.ActionModelUpdated, audit.Success, target, map[string]any{"permissions": norm}))
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.authn.InvalidatePrincipals()
	return norm, nil
}

func normalizePermissions(perms []string) ([]string, error) {
	norm, bad := authz.NormalizePermissions(perms)
	if len(bad) > 0 {
		var f fields
		for i := range perms {
			if msg, ok := bad[i]; ok {
				f.add(fmt.Sprintf("permissions[%d]", i), msg)
			}
		}
		return nil, f.err()
	}
	return norm, nil
}

// RecordLogin stamps last_login_at and writes a login event.
func (s *Accounts) RecordLogin(ctx context.Context, a Actor, method string) error {
	now := s.now()
	defer s.authn.InvalidateProfile(a.P.UID) // its cached profile shows the last login
	return s.write(ctx, func(q store.Queries, rec func(store.Event)) error {
		u, err := q.GetUserByUID(ctx, a.P.UID)
		if err != nil {
			return err
		}
		u.LastLoginAt = &now
		if err := q.UpdateUser(ctx, u); err != nil {
			return err
		}
		rec(s.event(a, audit.ActionLogin, audit.Success, audit.Target{Kind: audit.KindUser, Name: u.Username},
			map[string]any{"method": method}))
		return nil
	})
}

// RecordLoginFailed writes a login_failed event. The credential itself is
// never passed here; only what the check learnt (reason, names).
func (s *Credentials) RecordLoginFailed(ctx context.Context, clientIP, method string, err error) {
	c := map[string]any{"method": method}
	var name string
	var f *auth.Failure
	if errors.As(err, &f) {
		c["reason"] = string(f.Reason)
		name = Untrusted(f.Username)
		if f.Identifier != "" {
			c["token"] = f.Identifier
		}
	}
	ev := s.event(Actor{ClientIP: clientIP}, audit.ActionLoginFailed, audit.Failure, audit.Target{Kind: audit.KindUser, Name: name}, c)
	if name != "" {
		ev.ActorUsername = name
	}
	if werr := s.record(ctx, ev); werr != nil {
		s.log.Error("write login_failed event", "err", werr)
	}
}
