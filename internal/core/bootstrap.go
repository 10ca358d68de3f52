package core

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/store"
)

// BootstrapInput carries the optional first-admin secrets.
type BootstrapInput struct {
	Password string // GATEHOUSE_BOOTSTRAP_PASSWORD
	Token    string // GATEHOUSE_BOOTSTRAP_TOKEN, 32+ characters
}

// systemActor is gatehouse itself, in events it writes on its own.
var systemActor = Actor{P: authz.NewPrincipal(authz.Identity{Username: "gatehouse", Type: "system", Active: true, Managed: true}, authz.Grants{})}

// AdminUsername is the first admin's name.
const AdminUsername = "admin"

// Bootstrap makes sure the built-in admin role exists and, on a database
// with no users, creates the human user admin holding it, with the given
// password and API token, or generated ones printed once on out. Safe when
// several instances start at once: it runs in one transaction that
// re-checks for users.
func (s *Service) Bootstrap(ctx context.Context, in BootstrapInput, out io.Writer) error {
	var f fields
	if in.Token != "" && len(in.Token) < 32 {
		f.add("GATEHOUSE_BOOTSTRAP_TOKEN", "must be at least 32 characters")
	}
	if in.Token != "" && len(in.Token) > 512 {
		f.add("GATEHOUSE_BOOTSTRAP_TOKEN", "must be at most 512 characters")
	}
	if in.Token != "" && auth.LooksLikeKey(in.Token) {
		if pk, err := auth.ParseKey(in.Token); err != nil || pk.Intent != store.IntentAPI {
			f.add("GATEHOUSE_BOOTSTRAP_TOKEN", "looks like a gatehouse key but is not a valid API token")
		}
	}
	if in.Password != "" {
		validatePassword(&f, "GATEHOUSE_BOOTSTRAP_PASSWORD", in.Password)
	}
	if err := f.err(); err != nil {
		return err
	}
	password, token := in.Password, in.Token
	generated := false
	if password == "" && token == "" {
		var err error
		if password, err = auth.RandomString(24); err != nil {
			return err
		}
		pk, err := auth.NewKey(store.IntentAPI)
		if err != nil {
			return err
		}
		token, generated = pk.Raw, true
	}
	var hash string
	if password != "" {
		var err error
		if hash, err = auth.HashPassword(password); err != nil {
			return err
		}
	}
	created := false
	err := s.write(ctx, func(q store.Queries, rec func(store.Event)) error {
		created = false
		now := s.now()
		role, err := q.GetRole(ctx, authz.AdminRole)
		if errors.Is(err, store.ErrNotFound) {
			role = store.Role{UID: newUID(), Name: authz.AdminRole, Description: "Built-in: holds every permission.", Builtin: true, Permissions: []string{}, CreatedAt: now}
			if err := q.CreateRole(ctx, role); err != nil {
				return fmt.Errorf("create admin role: %w", err)
			}
			rec(s.event(systemActor, audit.ActionModelCreated, audit.Success, roleTarget(role.Name), nil))
		} else if err != nil {
			return err
		}
		n, err := q.CountUsers(ctx)
		if err != nil || n > 0 {
			return err
		}
		u := store.User{UID: newUID(), Username: AdminUsername, Type: store.TypeHuman, Name: "Administrator",
			IsActive: true, CreatedAt: now}
		if hash != "" {
			u.PasswordHash, u.PasswordChangedAt = hash, &now
		}
		if err := q.CreateUser(ctx, u); err != nil {
			return fmt.Errorf("create admin: %w", err)
		}
		rec(s.event(systemActor, audit.ActionModelCreated, audit.Success, audit.Target{Kind: audit.KindUser, Name: u.Username}, map[string]any{"type": u.Type, "bootstrap": true}))
		if err := q.AssignRoleToUser(ctx, role.UID, u.UID); err != nil {
			return err
		}
		rec(s.event(systemActor, audit.ActionRoleAssigned, audit.Success, roleTarget(role.Name), map[string]any{"user": u.Username}))
		if hash != "" {
			rec(s.event(systemActor, audit.ActionPasswordSet, audit.Success, audit.Target{Kind: audit.KindUser, Name: u.Username}, nil))
		}
		if token != "" {
			lookup, err := s.authn.LookupFor(token)
			if err != nil {
				return err
			}
			t := store.Token{UID: newUID(), Identifier: "bootstrap", UserUID: u.UID, Username: u.Username, Intent: store.IntentAPI,
				Description: "Bootstrap token of the first admin", Expiring: false, CreatedAt: now, CreatedBy: systemActor.P.Username}
			k := store.TokenKey{Lookup: lookup, TokenUID: t.UID, Hash: s.authn.Hasher().Sum(token), CreatedAt: now}
			if err := q.CreateToken(ctx, t, k); err != nil {
				return fmt.Errorf("create bootstrap token: %w", err)
			}
			rec(s.event(systemActor, audit.ActionTokenCreated, audit.Success, tokenTarget(t.Identifier), map[string]any{"user": u.Username, "intent": t.Intent, "expiring": false}))
		}
		created = true
		return nil
	})
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	if created && generated {
		fmt.Fprintf(out, "\n"+
			"  gatehouse created the first admin. These are shown once and stored only as hashes:\n\n"+
			"    username:  %s\n    password:  %s\n    API token: %s\n\n"+
			"  Set GATEHOUSE_BOOTSTRAP_PASSWORD / GATEHOUSE_BOOTSTRAP_TOKEN to choose them instead.\n\n",
			AdminUsername, password, token)
	}
	return nil
}
