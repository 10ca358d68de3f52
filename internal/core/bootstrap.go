package core

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/store"
)

// BootstrapInput carries the optional first-admin secrets.
type BootstrapInput struct {
	Password string // GATEHOUSE_BOOTSTRAP_PASSWORD
	Token    string // GATEHOUSE_BOOTSTRAP_TOKEN, 32+ characters
	// RecoverCommand is the recovery command line for this database, for
	// the warning printed when the variables above are ignored
	// ("gatehouse recover --database sqlite:PATH"); it must hold no secret.
	RecoverCommand string
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
	// What is not given is generated, each on its own: a token-only
	// admin still gets a password for the web interface, and a
	// password-only one still gets a token for the CLI.
	password, token := in.Password, in.Token
	genPassword, genToken := password == "", token == ""
	if genPassword {
		var err error
		if password, err = auth.RandomString(24); err != nil {
			return err
		}
	}
	if genToken {
		pk, err := auth.NewKey(store.IntentAPI)
		if err != nil {
			return err
		}
		token = pk.Raw
	}
	var hash string
	if password != "" {
		var err error
		if hash, err = auth.HashPassword(password); err != nil {
			return err
		}
	}
	created, users := false, 0
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
			users = n
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
	if !created {
		if in.Password != "" || in.Token != "" {
			s.bootstrapIgnored(ctx, in, users, out)
		}
		return nil
	}
	if genPassword || genToken {
		show := func(generated bool, value, variable string) string {
			if generated {
				return value
			}
			return "(the one in " + variable + ")"
		}
		choose := "Set GATEHOUSE_BOOTSTRAP_PASSWORD / GATEHOUSE_BOOTSTRAP_TOKEN to choose them instead."
		switch {
		case !genPassword:
			choose = "Set GATEHOUSE_BOOTSTRAP_TOKEN too to choose the token instead."
		case !genToken:
			choose = "Set GATEHOUSE_BOOTSTRAP_PASSWORD too to choose the password instead."
		}
		fmt.Fprintf(out, "\n"+
			"  gatehouse created the first admin. These are shown once and stored only as hashes:\n\n"+
			"    username:  %s\n    password:  %s\n    API token: %s\n\n"+
			"  %s\n\n",
			AdminUsername, show(genPassword, password, "GATEHOUSE_BOOTSTRAP_PASSWORD"), show(genToken, token, "GATEHOUSE_BOOTSTRAP_TOKEN"), choose)
	}
	return nil
}

// bootstrapIgnored says, on out and in the log, that bootstrap variables
// were given to a database that already has users, where they do
// nothing. A variable that still works (the token given is a live key,
// the password given is the admin's) is no trap: a deployment that keeps
// them in its environment gets one quiet log line on each start. One that
// does not work gets a box on standard error saying what was ignored, why,
// and how to get in (gatehouse recover); without it, a newcomer who set
// the variables after the first start meets 401 with no clue why.
func (s *Service) bootstrapIgnored(ctx context.Context, in BootstrapInput, users int, out io.Writer) {
	var given, dead []string
	if in.Token != "" {
		given = append(given, "GATEHOUSE_BOOTSTRAP_TOKEN")
		// Inspect is not a use: no event, no limiter, no last use.
		if _, _, err := s.authn.Inspect(ctx, in.Token); err != nil {
			dead = append(dead, "GATEHOUSE_BOOTSTRAP_TOKEN is not a working API token of this database")
		}
	}
	if in.Password != "" {
		given = append(given, "GATEHOUSE_BOOTSTRAP_PASSWORD")
		u, err := s.store.GetUser(ctx, AdminUsername)
		if err != nil || !u.IsActive || !auth.VerifyPassword(u.PasswordHash, in.Password) {
			dead = append(dead, fmt.Sprintf("GATEHOUSE_BOOTSTRAP_PASSWORD is not the password of an active user %q", AdminUsername))
		}
	}
	cmd := in.RecoverCommand
	if cmd == "" {
		cmd = "gatehouse recover"
	}
	what := strings.Join(given, " and ")
	if len(dead) == 0 {
		s.log.Info("bootstrap variables ignored: the database already has users (they still work here)",
			"ignored", what, "users", users)
		return
	}
	s.log.Warn("bootstrap variables ignored: the database already has users, and they do not work here",
		"ignored", what, "users", users, "recover", cmd)
	fmt.Fprintf(out, "\n"+
		"  ******************************************************************************\n"+
		"  gatehouse IGNORED %s.\n\n"+
		"  These variables only create the first admin of an empty database, and\n"+
		"  this database has %s already, so nothing was created or changed:\n\n",
		what, plural(users, "user"))
	for _, d := range dead {
		fmt.Fprintf(out, "    - %s\n", d)
	}
	fmt.Fprintf(out, "\n"+
		"  To get in: use the admin password and token printed at the first start; or\n"+
		"  stop the server and mint a short-lived admin token with\n\n"+
		"      %s\n\n"+
		"  (it takes the same database settings as serve). To start afresh instead,\n"+
		"  give serve a new --database. Unset the variables to silence this warning.\n"+
		"  ******************************************************************************\n\n",
		cmd)
}

// plural writes a count of things: "1 user", "3 users".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}
