package storetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/internal/store"
)

var concurrencyTests = []testCase{
	{"concurrency/direct-writes", testConcurrentDirect},
	{"concurrency/transactions-with-events", testConcurrentTx},
	{"concurrency/no-lost-update", testConcurrentCounter},
}

const (
	workers         = 16
	opsPerWorker    = 50
	counterWorkers  = 8
	counterPerRound = 25
)

// expected reports whether err is an outcome a racing writer may get:
// success, the name was taken (ErrConflict) or the row was gone
// (ErrNotFound). Anything else (a busy database, a deadlock, a
// serialization failure leaking out of the backend) is a bug.
func expected(err error) bool {
	return err == nil || errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound)
}

// errorCollector gathers unexpected errors from worker goroutines, which
// must not call t.Fatal.
type errorCollector struct {
	mu   sync.Mutex
	errs []error
}

func (c *errorCollector) check(err error, what string) {
	if !expected(err) {
		c.mu.Lock()
		c.errs = append(c.errs, fmt.Errorf("%s: %w", what, err))
		c.mu.Unlock()
	}
}

func (c *errorCollector) report(t *testing.T) {
	t.Helper()
	for i, err := range c.errs {
		if i == 10 {
			t.Errorf("... and %d more", len(c.errs)-10)
			break
		}
		t.Errorf("unexpected error: %v", err)
	}
	if len(c.errs) > 0 {
		t.FailNow()
	}
}

// race runs op opsPerWorker times on each of workers goroutines, each
// with its own random source (seeded by the worker and stream), then fails
// the test on the unexpected errors op reported to errs.
func race(t *testing.T, stream uint64, op func(rng *rand.Rand, errs *errorCollector)) {
	t.Helper()
	var errs errorCollector
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), stream))
			for range opsPerWorker {
				op(rng, &errs)
			}
		})
	}
	wg.Wait()
	errs.report(t)
}

// toggle deletes the row get finds, or creates it when get finds none,
// and says which it did ("deleted", "created").
func toggle[T any](get func() (T, error), del func(T) error, create func() error) (string, error) {
	row, err := get()
	switch {
	case err == nil:
		return "deleted", del(row)
	case errors.Is(err, store.ErrNotFound):
		return "created", create()
	}
	return "", err
}

// testConcurrentDirect races plain (non-transactional) writes on a few
// names, then checks that what is left is consistent.
func testConcurrentDirect(t *testing.T, s store.Store) {
	userNames := []string{"u0", "u1", "u2"}
	groupNamesPool := []string{"g0", "g1"}
	role := mustRole(t, s, "shared", "p")
	race(t, 1, func(rng *rand.Rand, errs *errorCollector) {
		un := userNames[rng.IntN(len(userNames))]
		gn := groupNamesPool[rng.IntN(len(groupNamesPool))]
		// Each read may find nothing (a racing worker deleted the row);
		// what it found is acted on.
		u, uerr := s.GetUser(ctx(t), un)
		g, gerr := s.GetGroup(ctx(t), gn)
		errs.check(uerr, "GetUser")
		errs.check(gerr, "GetGroup")
		switch op := rng.IntN(6); {
		case op == 0:
			errs.check(s.CreateUser(ctx(t), human(un)), "CreateUser")
		case op == 1 && uerr == nil:
			errs.check(s.DeleteUser(ctx(t), u.UID), "DeleteUser")
		case op == 2:
			errs.check(s.CreateGroup(ctx(t), store.Group{UID: newUID(), Name: gn, CreatedAt: t0}), "CreateGroup")
		case op == 3 && gerr == nil:
			errs.check(s.DeleteGroup(ctx(t), g.UID), "DeleteGroup")
		case op == 4 && uerr == nil && gerr == nil:
			errs.check(s.AddMember(ctx(t), g.UID, u.UID), "AddMember")
			errs.check(s.AssignRoleToUser(ctx(t), role.UID, u.UID), "AssignRoleToUser")
			errs.check(s.AssignRoleToGroup(ctx(t), role.UID, g.UID), "AssignRoleToGroup")
		case op == 5 && uerr == nil && gerr == nil:
			errs.check(s.RemoveMember(ctx(t), g.UID, u.UID), "RemoveMember")
			_, err := s.UserGrants(ctx(t), u.UID)
			errs.check(err, "UserGrants")
		}
	})

	// Consistency: counts agree with lists, and no membership or
	// assignment points at a user or group that is gone.
	users, err := s.ListUsers(ctx(t), store.UserFilter{Limit: 100})
	mustNil(t, err, "ListUsers")
	n, err := s.CountUsers(ctx(t))
	mustNil(t, err, "CountUsers")
	if n != len(users) {
		t.Fatalf("CountUsers = %d, ListUsers has %d", n, len(users))
	}
	groups, err := s.ListGroups(ctx(t), store.GroupFilter{Limit: 100})
	mustNil(t, err, "ListGroups")
	existingUsers := usernames(users)
	existingGroups := groupNames(groups)
	for _, g := range groups {
		members, err := s.ListMembers(ctx(t), g.UID)
		mustNil(t, err, "ListMembers")
		for _, m := range members {
			if !slices.Contains(existingUsers, m) {
				t.Fatalf("group %s lists member %s, who does not exist", g.Name, m)
			}
		}
	}
	for _, u := range users {
		ug, err := s.UserGroups(ctx(t), u.UID)
		mustNil(t, err, "UserGroups")
		for _, gn := range ug {
			if !slices.Contains(existingGroups, gn) {
				t.Fatalf("user %s is in group %s, which does not exist", u.Username, gn)
			}
			g := groups[slices.Index(existingGroups, gn)]
			members, err := s.ListMembers(ctx(t), g.UID)
			mustNil(t, err, "ListMembers")
			if !slices.Contains(members, u.Username) {
				t.Fatalf("UserGroups(%s) has %s but ListMembers(%s) lacks the user", u.Username, gn, gn)
			}
		}
	}
	as, err := s.RoleAssignments(ctx(t), role.UID)
	mustNil(t, err, "RoleAssignments")
	for _, un := range as.Users {
		if !slices.Contains(existingUsers, un) {
			t.Fatalf("role assigned to user %s, who does not exist", un)
		}
	}
	for _, gn := range as.Groups {
		if !slices.Contains(existingGroups, gn) {
			t.Fatalf("role assigned to group %s, which does not exist", gn)
		}
	}
}

// testConcurrentTx races transactions that toggle a user or a group and
// record the change as an event in the same transaction. Afterwards the
// events of each name must alternate created, deleted, created... (in ID
// order) and end in agreement with whether it exists: a change and its
// event commit together or not at all, and two racing transactions never
// both act on the same state.
func testConcurrentTx(t *testing.T, s store.Store) {
	names := []string{"n0", "n1", "n2"}
	race(t, 2, func(rng *rand.Rand, errs *errorCollector) {
		name := names[rng.IntN(len(names))]
		asGroup := rng.IntN(2) == 0
		err := s.InTx(ctx(t), func(q store.Queries) error {
			// fn may run more than once (a backend may retry a
			// transaction), so it keeps no state outside.
			kind, action, err := "user", "", error(nil)
			if asGroup {
				kind = "group"
				action, err = toggle(func() (store.Group, error) { return q.GetGroup(ctx(t), name) },
					func(g store.Group) error { return q.DeleteGroup(ctx(t), g.UID) },
					func() error { return q.CreateGroup(ctx(t), store.Group{UID: newUID(), Name: name, CreatedAt: t0}) })
			} else {
				action, err = toggle(func() (store.User, error) { return q.GetUser(ctx(t), name) },
					func(u store.User) error { return q.DeleteUser(ctx(t), u.UID) },
					func() error { return q.CreateUser(ctx(t), human(name)) })
			}
			if err != nil {
				return err
			}
			return appendEvent(t, q, &store.Event{Time: t0, Action: action, Outcome: "success",
				TargetKind: kind, TargetName: name})
		})
		errs.check(err, "InTx")
	})

	evs, err := s.ListEvents(ctx(t), store.EventFilter{Limit: workers*opsPerWorker + 1})
	mustNil(t, err, "ListEvents")
	slices.Reverse(evs)        // oldest first
	state := map[string]bool{} // kind/name -> exists
	for _, e := range evs {
		key := e.TargetKind + "/" + e.TargetName
		switch {
		case e.Action == "created" && !state[key]:
			state[key] = true
		case e.Action == "deleted" && state[key]:
			state[key] = false
		default:
			t.Fatalf("event %d: %s %s, but it already was (events out of step with the data)", e.ID, e.Action, key)
		}
	}
	for _, name := range names {
		_, err := s.GetUser(ctx(t), name)
		if exists := err == nil; exists != state["user/"+name] {
			t.Fatalf("user %s exists: %v; the events say %v (GetUser: %v)", name, exists, state["user/"+name], err)
		}
		_, err = s.GetGroup(ctx(t), name)
		if exists := err == nil; exists != state["group/"+name] {
			t.Fatalf("group %s exists: %v; the events say %v (GetGroup: %v)", name, exists, state["group/"+name], err)
		}
	}
}

// testConcurrentCounter: read-modify-write transactions on one value must
// not lose updates. InTx promises this: every call succeeds (a backend that
// detects a conflict retries internally) and the final count is exact.
func testConcurrentCounter(t *testing.T, s store.Store) {
	mustNil(t, s.PutSetting(ctx(t), "counter", "0"), "PutSetting")
	var errs errorCollector
	var wg sync.WaitGroup
	for range counterWorkers {
		wg.Go(func() {
			for range counterPerRound {
				err := s.InTx(ctx(t), func(q store.Queries) error {
					v, err := q.GetSetting(ctx(t), "counter")
					if err != nil {
						return err
					}
					n, err := strconv.Atoi(v)
					if err != nil {
						return err
					}
					return q.PutSetting(ctx(t), "counter", strconv.Itoa(n+1))
				})
				if err != nil {
					errs.mu.Lock()
					errs.errs = append(errs.errs, fmt.Errorf("increment: %w", err))
					errs.mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	errs.report(t)
	v, err := s.GetSetting(ctx(t), "counter")
	mustNil(t, err, "GetSetting")
	if want := strconv.Itoa(counterWorkers * counterPerRound); v != want {
		t.Fatalf("counter = %s after %d increments: updates were lost", v, counterWorkers*counterPerRound)
	}
}
