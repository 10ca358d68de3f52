package core

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/store"
)

// changeFeed counts the writes this process committed, so that what is
// cached outside the credential cache (the LDAP directory view, outposts'
// copies of it and their bound sessions) knows when to look again, and
// long polls can be answered the moment something changes. Every write
// goes through Service.write with its audit events, so the feed sees
// every change; the events also tell which changes touch the directory.
//
// Versions count from 1 in each process; the epoch tells processes (and
// restarts) apart, so that a cursor from before a restart is never taken
// for a current one.
type changeFeed struct {
	once  sync.Once
	epoch string

	mu         sync.Mutex
	version    uint64
	dirVersion uint64        // the last version that changed users, groups or memberships
	wake       chan struct{} // closed (and replaced) on every change
}

func (f *changeFeed) init() {
	f.once.Do(func() {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			panic("crypto/rand failed: " + err.Error())
		}
		f.epoch = hex.EncodeToString(b[:])
		f.mu.Lock()
		f.version, f.dirVersion = 1, 1
		f.wake = make(chan struct{})
		f.mu.Unlock()
	})
}

// touchesDirectory reports whether a change recorded by e can change
// what the LDAP directory shows: users, groups and memberships.
func touchesDirectory(e store.Event) bool {
	if e.TargetKind != audit.KindUser && e.TargetKind != audit.KindGroup {
		return false
	}
	switch e.Action {
	case audit.ActionModelCreated, audit.ActionModelUpdated, audit.ActionModelDeleted,
		audit.ActionMemberAdded, audit.ActionMemberRemoved:
		return true
	}
	return false
}

// informational reports whether an event records something that
// changes no one's access: a login (last_login_at), a failure, a warning.
func informational(e store.Event) bool {
	switch e.Action {
	case audit.ActionLogin, audit.ActionLoginFailed, audit.ActionAuthzDenied, audit.ActionTokenExpiring:
		return true
	}
	return false
}

// publish records one committed write and wakes everyone waiting. A
// write whose events are all informational is not a change: LDAP binds
// record logins, and each would otherwise make every outpost re-check
// its sessions.
func (f *changeFeed) publish(events []store.Event) {
	f.init()
	if len(events) > 0 && !slices.ContainsFunc(events, func(e store.Event) bool { return !informational(e) }) {
		return
	}
	f.mu.Lock()
	f.version++
	for _, e := range events {
		if touchesDirectory(e) {
			f.dirVersion = f.version
			break
		}
	}
	if events == nil { // a change this process did not make: it may be anything
		f.dirVersion = f.version
	}
	close(f.wake)
	f.wake = make(chan struct{})
	f.mu.Unlock()
}

// NoteExternalChange records a change this process did not see being
// made: another instance's, heard through the cluster listener (the
// server registers it with the authenticator's invalidation hook).
// Everything is taken to have changed.
func (s *Service) NoteExternalChange() { s.changes.publish(nil) }

// state returns the current version, the directory's version and a
// channel closed at the next change.
func (f *changeFeed) state() (version, dirVersion uint64, wake <-chan struct{}) {
	f.init()
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.version, f.dirVersion, f.wake
}

// ChangeVersion is the number of writes committed by this process (plus
// one). It only grows; caches compare it to decide whether to reload.
func (s *Service) ChangeVersion() uint64 {
	v, _, _ := s.changes.state()
	return v
}

// WaitForChange blocks until the version is past since, ctx ends or wait
// passes, and returns the version then.
func (s *Service) WaitForChange(ctx context.Context, since uint64, wait time.Duration) uint64 {
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		v, _, wake := s.changes.state()
		if v > since {
			return v
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return v
		case <-t.C:
			return v
		}
	}
}
