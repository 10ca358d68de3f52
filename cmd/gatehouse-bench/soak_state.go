package main

// The soak's bookkeeping: what it does (its kinds of change and check),
// the accounts and tokens alive, and the keys that must be refused.

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/client"
)

// What the soak does, each counted on its own.
type soakKind int

const (
	kCreateSA soakKind = iota
	kCreateAPI
	kCreateApp
	kCreateExtended
	kCreateShort
	kRotate
	kRevoke
	kDeleteSA
	kDeleteExpired
	kWarm
	kCold
	kFABasic
	kFABearer
	kGrace
	kRevoked
	kRevokedApp
	kAfterGrace
	kExpired
	kAppOnAPI
	kLDAPBind
	kLDAPRevoked
	nSoakKinds
)

var soakKindNames = [nSoakKinds]string{
	kCreateSA:       "change: create service account (with a first key)",
	kCreateAPI:      "change: create API token",
	kCreateApp:      "change: create app password",
	kCreateExtended: "change: create extended (sliding) token",
	kCreateShort:    "change: create token living 3s",
	kRotate:         "change: rotate, grace 4s",
	kRevoke:         "change: revoke (DELETE token)",
	kDeleteSA:       "change: delete service account",
	kDeleteExpired:  "change: delete expired token",
	kWarm:           "check: GET /me, key used before -> 200",
	kCold:           "check: GET /me, key never used -> 200",
	kFABasic:        "check: forward-auth Basic app password -> 200",
	kFABearer:       "check: forward-auth Bearer -> 200",
	kGrace:          "check: old key within grace -> 200",
	kRevoked:        "check: revoked/deleted API key -> 401",
	kRevokedApp:     "check: revoked/deleted app password, forward-auth -> 401",
	kAfterGrace:     "check: old key after grace -> 401",
	kExpired:        "check: expired key -> 401",
	kAppOnAPI:       "check: app password on the API -> 401",
	kLDAPBind:       "LDAP: bind with app password -> success",
	kLDAPRevoked:    "LDAP: bind with revoked app password -> 49",
}

func (k soakKind) change() bool { return k <= kDeleteExpired }

type soakToken struct {
	id, user, intent, key string
	used                  bool // checked at least once
	busy                  bool // a change is in flight: not checked meanwhile
	inflight              int  // checks in flight: not changed meanwhile
}

type soakAccount struct {
	name   string
	tokens []*soakToken
	busy   bool // a change is in flight
}

// deadKey is a key that must be refused from a time on.
type deadKey struct {
	key, user, intent string
	kind              soakKind
	from              time.Time
}

// graceKey is an old key that must still work until a time. Checking it
// reserves its token, as checking the new key does: a revocation or a
// deletion ends the grace too.
type graceKey struct {
	tok               *soakToken
	key, user, intent string
	until             time.Time
}

type expiredToken struct {
	id   string
	from time.Time
}

type soakRun struct {
	cfg       soakConfig
	base      string // http://addr
	ldapAddr  string
	admin     *client.Client // acting with a gat_ key of admin
	adminC    *benchClient
	mu        sync.Mutex
	rng       *rand.Rand
	accounts  []*soakAccount
	dead      []deadKey // a bounded ring of keys to refuse
	deadNext  int
	grace     []graceKey
	expired   []expiredToken // still in the database
	seq       int
	pool      *addrPool
	ok, bad   [nSoakKinds]atomic.Int64
	limited   atomic.Int64 // refusals answered 429
	undecided atomic.Int64 // grace checks answered too close to the end to judge
	skipped   atomic.Int64 // refusals skipped: no address with budget
	reconnect atomic.Int64 // LDAP sessions the server ended (a change to the bound user)
	failMu    sync.Mutex
	failures  []string
}

// fail records an unexpected answer. Messages name identifiers and
// statuses, never a key.
func (s *soakRun) fail(k soakKind, format string, args ...any) {
	s.bad[k].Add(1)
	s.failMu.Lock()
	defer s.failMu.Unlock()
	if len(s.failures) < 20 {
		s.failures = append(s.failures, soakKindNames[k]+": "+fmt.Sprintf(format, args...))
	}
}

func (s *soakRun) counts() (n [nSoakKinds]int64, bad int64) {
	for k := range nSoakKinds {
		n[k] = s.ok[k].Load() + s.bad[k].Load()
		bad += s.bad[k].Load()
	}
	return n, bad
}

// pickToken reserves a random token of that intent that no change is
// touching (used: nil any, else that state); release ends the
// reservation.
func (s *soakRun) pickToken(intent string, used *bool) *soakToken {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int
	var pick *soakToken
	for _, a := range s.accounts {
		for _, t := range a.tokens {
			if t.busy || t.intent != intent || (used != nil && t.used != *used) {
				continue
			}
			n++
			if s.rng.IntN(n) == 0 { // reservoir sampling: uniform, one pass
				pick = t
			}
		}
	}
	if pick != nil {
		pick.inflight++
	}
	return pick
}

func (s *soakRun) release(t *soakToken) {
	s.mu.Lock()
	t.inflight--
	t.used = true
	s.mu.Unlock()
}

func (s *soakRun) addDead(d deadKey) {
	if len(s.dead) < cap(s.dead) {
		s.dead = append(s.dead, d)
		return
	}
	s.dead[s.deadNext] = d
	s.deadNext = (s.deadNext + 1) % len(s.dead)
}

// pickDead returns a key that must be refused now.
func (s *soakRun) pickDead(intent string) (deadKey, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for range 8 {
		if len(s.dead) == 0 {
			break
		}
		d := s.dead[s.rng.IntN(len(s.dead))]
		if !d.from.After(now) && (intent == "" || d.intent == intent) {
			return d, true
		}
	}
	return deadKey{}, false
}

func (s *soakRun) pickGrace() (graceKey, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	live := s.grace[:0]
	for _, g := range s.grace {
		if g.until.After(now.Add(soakMargin)) {
			live = append(live, g)
		}
	}
	s.grace = live
	var n int
	var pick graceKey
	for _, g := range live {
		if g.tok.busy {
			continue
		}
		n++
		if s.rng.IntN(n) == 0 {
			pick = g
		}
	}
	if n == 0 {
		return graceKey{}, false
	}
	pick.tok.inflight++
	return pick, true
}

// dropGrace forgets the old keys of tokens a change ended (or rotated
// again): they are no longer sure to work.
func (s *soakRun) dropGrace(ts ...*soakToken) {
	live := s.grace[:0]
	for _, g := range s.grace {
		if !slices.Contains(ts, g.tok) {
			live = append(live, g)
		}
	}
	s.grace = live
}

// lockAccount reserves an account for a change: one with room for a
// token (room), or whose tokens no check holds (idle).
func (s *soakRun) lockAccount(room, idle bool) *soakAccount {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int
	var pick *soakAccount
next:
	for _, a := range s.accounts {
		if a.busy || (room && len(a.tokens) >= soakMaxToks) {
			continue
		}
		if idle {
			for _, t := range a.tokens {
				if t.inflight > 0 {
					continue next
				}
			}
		}
		n++
		if s.rng.IntN(n) == 0 {
			pick = a
		}
	}
	if pick != nil {
		pick.busy = true
		if idle {
			for _, t := range pick.tokens {
				t.busy = true
			}
		}
	}
	return pick
}

// lockToken reserves a token for a change: its account, and the token
// itself, which no check holds.
func (s *soakRun) lockToken(minTokens int) (*soakAccount, *soakToken) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int
	var pa *soakAccount
	var pt *soakToken
	for _, a := range s.accounts {
		if a.busy || len(a.tokens) < minTokens {
			continue
		}
		for _, t := range a.tokens {
			if t.busy || t.inflight > 0 {
				continue
			}
			n++
			if s.rng.IntN(n) == 0 {
				pa, pt = a, t
			}
		}
	}
	if pt != nil {
		pa.busy, pt.busy = true, true
	}
	return pa, pt
}

func (s *soakRun) nextName(prefix string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	return fmt.Sprintf("%s-%07d", prefix, s.seq)
}

func refusalKind(intent string) soakKind {
	if intent == "app_password" {
		return kRevokedApp
	}
	return kRevoked
}
