package main

// The soak's changes: the fixed setup, then accounts and tokens created,
// rotated, revoked and deleted at -soak-changes a second.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/gatehouse/gatehouse/client"
)

// setup makes the fixed part: a group every soak account joins, an
// application admitting that group (forward-auth), an LDAP provider (the
// in-server door), and the first population.
func (s *soakRun) setup(ctx context.Context) error {
	admin := s.admin
	steps := []func() error{
		func() error { _, err := admin.Groups.Create(ctx, client.GroupCreate{Name: "soak"}); return err },
		func() error {
			_, err := admin.Applications.Create(ctx, client.ApplicationInput{Slug: soakSlug, Name: new("Soak")})
			return err
		},
		func() error {
			_, err := admin.Applications.Bind(ctx, soakSlug, client.SubjectGroups, "soak", client.BindingInput{})
			return err
		},
		func() error {
			_, err := admin.LDAPProviders.Create(ctx, client.LDAPProviderInput{Name: "soak", BaseDN: new(soakBaseDN)})
			return err
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	for i := range s.cfg.Accounts {
		if err := s.createSA(ctx); err != nil {
			return err
		}
		// Half the accounts get a second key of the other intent, so
		// that every kind of check has keys from the start.
		if i%2 == 0 {
			if err := s.createToken(ctx, kCreateApp); err != nil {
				return err
			}
		}
	}
	// The door serves the provider once it sees it: wait for the first
	// good bind rather than count its "unavailable" as unexpected.
	for deadline := time.Now().Add(10 * time.Second); ; {
		err := s.ldapBindOnce(ctx)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the LDAP door does not take binds: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *soakRun) ldapBindOnce(ctx context.Context) error {
	t := s.pickToken("app_password", nil)
	if t == nil {
		return errors.New("no app password")
	}
	defer s.release(t)
	l, err := goldap.DialURL("ldap://" + s.ldapAddr)
	if err != nil {
		return err
	}
	defer l.Close()
	return l.Bind("cn="+t.user+",ou=users,"+soakBaseDN, t.key)
}

func (s *soakRun) createSA(ctx context.Context) error {
	name := s.nextName("soak")
	intent := "api"
	if s.randN(3) == 0 {
		intent = "app_password"
	}
	out, err := s.admin.ServiceAccounts.Create(ctx, client.ServiceAccountCreate{Username: name, Groups: []string{"soak"}, TokenIntent: intent})
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.accounts = append(s.accounts, &soakAccount{name: name, tokens: []*soakToken{{id: out.Token.Identifier, user: name, intent: intent, key: out.Token.Key}}})
	s.mu.Unlock()
	return nil
}

func (s *soakRun) createToken(ctx context.Context, k soakKind) error {
	a := s.lockAccount(k != kCreateShort, false)
	if a == nil {
		return nil
	}
	id := s.nextName("soak-t")
	in := client.TokenCreate{Identifier: id, User: a.name, Intent: client.IntentAPI, TTL: "24h"}
	switch k {
	case kCreateApp:
		in.Intent = client.IntentAppPassword
	case kCreateExtended:
		in.TTL, in.Extended, in.MaxAge = "", true, "1h"
	case kCreateShort:
		in.TTL = s.cfg.ShortTTL.String()
	}
	out, err := s.admin.Tokens.Create(ctx, in)
	done := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	a.busy = false
	if err != nil {
		return err
	}
	intent := in.Intent
	if k == kCreateShort {
		// Never checked as good (it may be gone by then); refused once
		// its life is surely over, then deleted.
		s.addDead(deadKey{key: out.Key, user: a.name, intent: intent, kind: kExpired, from: done.Add(s.cfg.ShortTTL + soakMargin)})
		s.expired = append(s.expired, expiredToken{id: id, from: done.Add(s.cfg.ShortTTL + soakMargin)})
		return nil
	}
	a.tokens = append(a.tokens, &soakToken{id: id, user: a.name, intent: intent, key: out.Key})
	return nil
}

func (s *soakRun) rotate(ctx context.Context) error {
	a, t := s.lockToken(1)
	if t == nil {
		return nil
	}
	sent := time.Now()
	var out client.Token
	return s.settleToken(a, t, func() (err error) {
		out, err = s.admin.Tokens.Rotate(ctx, t.id, client.TokenRotate{Grace: s.cfg.Grace.String()})
		return err
	}, func(done time.Time) {
		s.dropGrace(t)
		s.grace = append(s.grace, graceKey{tok: t, key: t.key, user: t.user, intent: t.intent, until: sent.Add(s.cfg.Grace)})
		s.addDead(deadKey{key: t.key, user: t.user, intent: t.intent, kind: kAfterGrace, from: done.Add(s.cfg.Grace + soakMargin)})
		t.key, t.used = out.Key, false
	})
}

// settleToken makes the call on a token locked for it, then, under the
// lock, frees the token and its account and, if the call worked, applies
// its effect as of the moment it returned.
func (s *soakRun) settleToken(a *soakAccount, t *soakToken, call func() error, apply func(done time.Time)) error {
	err := call()
	done := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	a.busy, t.busy = false, false
	if err != nil {
		return err
	}
	apply(done)
	return nil
}

func (s *soakRun) revoke(ctx context.Context) error {
	a, t := s.lockToken(2) // every account keeps a key
	if t == nil {
		return nil
	}
	return s.settleToken(a, t, func() error { return s.admin.Tokens.Revoke(ctx, t.id) }, func(done time.Time) {
		a.tokens = slices.DeleteFunc(a.tokens, func(x *soakToken) bool { return x == t })
		s.dropGrace(t)
		s.addDead(deadKey{key: t.key, user: t.user, intent: t.intent, kind: refusalKind(t.intent), from: done})
	})
}

func (s *soakRun) deleteSA(ctx context.Context) error {
	a := s.lockAccount(false, true)
	if a == nil {
		return nil
	}
	err := s.admin.ServiceAccounts.Delete(ctx, a.name)
	done := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		a.busy = false
		for _, t := range a.tokens {
			t.busy = false
		}
		return err
	}
	s.accounts = slices.DeleteFunc(s.accounts, func(x *soakAccount) bool { return x == a })
	s.dropGrace(a.tokens...)
	for _, t := range a.tokens {
		s.addDead(deadKey{key: t.key, user: t.user, intent: t.intent, kind: refusalKind(t.intent), from: done})
	}
	return nil
}

func (s *soakRun) deleteExpired(ctx context.Context) (bool, error) {
	s.mu.Lock()
	var e expiredToken
	found := false
	for i, x := range s.expired {
		if !x.from.After(time.Now()) {
			e, found = x, true
			s.expired = append(s.expired[:i], s.expired[i+1:]...)
			break
		}
	}
	s.mu.Unlock()
	if !found {
		return false, nil
	}
	// An expired API token stays until deleted; its owner may have been
	// deleted meanwhile, and its tokens with it.
	if err := s.admin.Tokens.Revoke(ctx, e.id); err != nil && !errors.Is(err, client.ErrNotFound) {
		return true, err
	}
	return true, nil
}

func (s *soakRun) randN(n int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rng.IntN(n)
}

// changeMix is the share of each change once the population is near its
// target: a change is the first whose below is more than a draw from 0
// to 99.
var changeMix = []struct {
	below int
	kind  soakKind
}{
	{8, kCreateSA}, {16, kDeleteSA}, {30, kCreateAPI}, {38, kCreateApp}, {42, kCreateExtended},
	{48, kCreateShort}, {70, kRotate}, {90, kRevoke}, {100, kDeleteExpired},
}

// changer makes changes at its share of -soak-changes: the population
// stays near -soak-accounts (creations and deletions balance around it),
// and every account holds one to four tokens.
func (s *soakRun) changer(ctx context.Context) {
	pace := newPacer(time.Duration(float64(time.Second) * 2 / float64(s.cfg.Changes)))
	// The first change once the accounts are there makes a short-lived
	// token, so that its expiry is checked early in any run, however
	// slowly a busy machine lets the run go (a short run could end before
	// chance made one in time to expire).
	shortMade, rotated := false, false
	for pace.wait(ctx) {
		s.mu.Lock()
		n := len(s.accounts)
		s.mu.Unlock()
		target := s.cfg.Accounts
		var k soakKind
		switch r := s.randN(100); {
		case n < target*3/4:
			k = kCreateSA
		case n > target*5/4:
			k = kDeleteSA
		case !shortMade:
			k, shortMade = kCreateShort, true
		case !rotated:
			k, rotated = kRotate, true
		default:
			for _, c := range changeMix {
				if r < c.below {
					k = c.kind
					break
				}
			}
		}
		var err error
		did := true
		switch k {
		case kCreateSA:
			err = s.createSA(ctx)
		case kDeleteSA:
			err = s.deleteSA(ctx)
		case kCreateAPI, kCreateApp, kCreateExtended, kCreateShort:
			err = s.createToken(ctx, k)
		case kRotate:
			err = s.rotate(ctx)
		case kRevoke:
			err = s.revoke(ctx)
		case kDeleteExpired:
			did, err = s.deleteExpired(ctx)
		}
		switch {
		case ctx.Err() != nil:
			return // cut short by the end of the run: no verdict
		case err != nil:
			s.fail(k, "%v", err)
		case did:
			s.ok[k].Add(1)
		}
	}
}
