package core

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Cleanup runs the periodic housekeeping once: persist pending token use,
// delete expired app passwords and minted tokens (each with a
// token_expired event), forget exchanged jtis of expired ID tokens, drop
// key verifiers whose rotation grace has ended, warn of managed tokens
// nearing expiry, remove audit events past their retention, and end
// expired web sessions. Expiry itself never waits
// for this: expired keys are refused at the moment they expire. Safe with
// several instances on one database: every deletion is its own
// transaction and a row already gone is skipped.
func (s *Service) Cleanup(ctx context.Context) error {
	if err := s.authn.Flush(ctx); err != nil {
		return err
	}
	now := s.now()
	// Expired app passwords, and expired tokens minted by token
	// exchanges (one per CI job: they would pile up).
	for _, kind := range []string{store.IntentAppPassword, store.ExpiredFederated} {
		if err := s.deleteExpired(ctx, kind, now); err != nil {
			return err
		}
	}
	if _, err := s.store.PruneJTIs(ctx, now); err != nil {
		return err
	}
	if _, err := s.store.DeleteTokenKeysBefore(ctx, now); err != nil {
		return err
	}
	if err := s.LDAP.warnManagedTokens(ctx); err != nil {
		return err
	}
	if err := s.Events.PruneEvents(ctx); err != nil {
		return err
	}
	return s.Sessions.cleanupSessions(ctx)
}

// deleteExpired deletes expired tokens of a kind (ExpiredTokens), each
// with its token_expired event.
func (s *Service) deleteExpired(ctx context.Context, kind string, now time.Time) error {
	for {
		ts, err := s.store.ExpiredTokens(ctx, kind, now, 100)
		if err != nil {
			return err
		}
		deleted := 0
		for _, t := range ts {
			if t.Extended && now.Before(t.ExpiresAt.Add(t.MaxAge/10)) {
				// The stored expiry of an extended token may trail its last
				// use by up to a tenth of max_age (batched writes); another
				// instance may have seen a use since. Wait that out.
				continue
			}
			if _, exp, ok := s.authn.TokenUsage(t.UID); ok && t.Extended && exp.After(now) {
				continue
			}
			err := s.write(ctx, func(q store.Queries, rec func(store.Event)) error {
				if err := q.DeleteToken(ctx, t.UID); err != nil {
					return err
				}
				rec(s.event(systemActor, audit.ActionTokenExpired, audit.Success, tokenTarget(t.Identifier),
					map[string]any{"user": t.Username, "intent": t.Intent, "expires_at": t.ExpiresAt.Format(time.RFC3339)}))
				return nil
			})
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			s.authn.InvalidateToken(t.UID)
			deleted++
		}
		if len(ts) < 100 || deleted == 0 {
			return nil
		}
	}
}

// RunJobs runs Flush every second and Cleanup every interval until ctx ends.
func (s *Service) RunJobs(ctx context.Context, interval time.Duration) {
	flush := time.NewTicker(time.Second)
	clean := time.NewTicker(interval)
	defer flush.Stop()
	defer clean.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-flush.C:
			if err := s.authn.Flush(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("flush token use", "err", err)
			}
		case <-clean.C:
			if err := s.Cleanup(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("cleanup", "err", err)
			}
		}
	}
}
