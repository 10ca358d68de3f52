package core

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/store"
)

// RecoverActor names gatehouse recover in events and as the token's
// creator.
const RecoverActor = "gatehouse recover"

// MaxRecoveryTTL bounds a recovery token's life: it is for getting back
// in and making a proper credential, not for daily use.
const MaxRecoveryTTL = 24 * time.Hour

// RecoverInput is what gatehouse recover asks for.
type RecoverInput struct {
	Username string        // default AdminUsername; must hold the admin role
	TTL      time.Duration // the token's life, at most MaxRecoveryTTL
	Forced   bool          // --force: run beside a server (recorded in the event)
}

// Recovered is the minted token; Key is shown once.
type Recovered struct {
	Username   string
	Identifier string
	Key        string
	ExpiresAt  time.Time
	TTL        string // as people write it: 1h, not 1h0m0s
}

var recoverActor = Actor{P: authz.NewPrincipal(authz.Identity{Username: RecoverActor, Type: "system", Active: true, Managed: true}, authz.Grants{})}

// Recover mints a short-lived API token for an administrator, with its
// recovery_token_created event, in one transaction. It is gatehouse
// recover's, which runs beside the database, never behind a door: whoever
// holds the database and its secret key can do this anyway, so it checks
// no permission, only that the account is an active administrator (a
// recovery never hands out more than an administrator already holds).
func (s *Service) Recover(ctx context.Context, in RecoverInput) (Recovered, error) {
	if in.Username == "" {
		in.Username = AdminUsername
	}
	if in.TTL <= 0 || in.TTL > MaxRecoveryTTL {
		return Recovered{}, fmt.Errorf("--ttl must be more than 0 and at most %s", config.FormatDuration(MaxRecoveryTTL))
	}
	if max := s.cfg.TokenMaxTTL; max > 0 && in.TTL > max {
		return Recovered{}, fmt.Errorf("--ttl %s is longer than the longest token life this server allows (GATEHOUSE_TOKEN_MAX_TTL %s)", config.FormatDuration(in.TTL), config.FormatDuration(max))
	}
	var out Recovered
	err := s.write(ctx, func(q store.Queries, rec func(store.Event)) error {
		n, err := q.CountUsers(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return errors.New("the database has no users yet: start gatehouse serve, which creates the first admin")
		}
		u, err := q.GetUser(ctx, in.Username)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no user %q in this database (--user names the administrator to recover)", in.Username)
		}
		if err != nil {
			return err
		}
		p, err := accountPower(ctx, q, u)
		if err != nil {
			return err
		}
		if !p.IsAdmin() {
			return fmt.Errorf("%q does not hold the role %s: recover mints tokens for administrators only", u.Username, authz.AdminRole)
		}
		if !u.IsActive {
			return fmt.Errorf("%q is disabled: a token of a disabled account does not work; recover another administrator with --user", u.Username)
		}
		now := s.now()
		exp := now.Add(in.TTL)
		suffix, err := auth.RandomString(8)
		if err != nil {
			return err
		}
		t := store.Token{UID: newUID(), Identifier: "recovery-" + strings.ToLower(suffix), UserUID: u.UID, Username: u.Username,
			UserType: u.Type, Intent: store.IntentAPI, Description: "Recovery token (gatehouse recover)",
			Expiring: true, ExpiresAt: &exp, CreatedAt: now, CreatedBy: RecoverActor}
		// Not counted against GATEHOUSE_MAX_TOKENS_PER_ACCOUNT: a recovery
		// must not fail because the account is full.
		raw, key, err := s.Credentials.newKey(store.IntentAPI, t.UID, now)
		if err != nil {
			return err
		}
		if err := q.CreateToken(ctx, t, key); err != nil {
			return fmt.Errorf("create the recovery token: %w", err)
		}
		rec(s.event(recoverActor, audit.ActionRecoveryTokenCreated, audit.Success, tokenTarget(t.Identifier), map[string]any{
			"user": u.Username, "intent": t.Intent, "expires_at": exp.Format(time.RFC3339), "ttl": in.TTL.String(), "forced": in.Forced}))
		out = Recovered{Username: u.Username, Identifier: t.Identifier, Key: raw, ExpiresAt: exp, TTL: config.FormatDuration(in.TTL)}
		return nil
	})
	if err != nil {
		return Recovered{}, err
	}
	return out, nil
}
