package cluster_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/cluster"
	"github.com/gatehouse/gatehouse/internal/server/servertest"
)

// TestMembershipBoundHoldsAgainstARace: issue 14, item 16. The "no way
// up" bound on joining a group is checked inside the write transaction,
// against the state it commits on. Two instances race: an administrator
// assigns the admin role to a group through A while a groups.write
// holder adds itself to the same group through B. The add may win (it
// joined a harmless group, which the administrator then made powerful)
// or be refused; it must never commit after the assignment.
func TestMembershipBoundHoldsAgainstARace(t *testing.T) {
	a, b := pair(t, cluster.Options{CheckEvery: 100 * time.Millisecond, ReconnectDelay: 50 * time.Millisecond})
	a.Must(201, a.Admin("POST", "/api/v1/roles", map[string]any{"name": "gm", "permissions": []string{"groups.read", "groups.write"}}))
	sa := a.Must(201, a.Admin("POST", "/api/v1/service-accounts", map[string]any{"username": "gm", "token_intent": "api", "roles": []string{"gm"}})).JSON()
	key := sa["token"].(map[string]any)["key"].(string)

	// seqOf finds the one event of action about group g: member_added
	// names the group as its target, role_assigned names the role and
	// the group in its context.
	seqOf := func(g, action string) int64 {
		target := g
		if action == "role_assigned" {
			target = "admin"
		}
		items := a.Must(200, a.Admin("GET", "/api/v1/events?target="+target+"&action="+action, nil)).JSON()["items"].([]any)
		for _, it := range items {
			ev := it.(map[string]any)
			if c, _ := ev["context"].(map[string]any); action == "member_added" || c["group"] == g {
				return int64(ev["seq"].(float64))
			}
		}
		t.Fatalf("no %s event about %s", action, g)
		return 0
	}
	const rounds = 25
	added := 0
	for i := range rounds {
		g := fmt.Sprintf("race-%d", i)
		a.Must(201, a.Admin("POST", "/api/v1/groups", map[string]any{"name": g}))
		var wg sync.WaitGroup
		var join *servertest.Resp
		wg.Add(2)
		go func() { defer wg.Done(); a.Must(204, a.Admin("PUT", "/api/v1/roles/admin/assignments/groups/"+g, nil)) }()
		go func() {
			defer wg.Done()
			join = b.Do("PUT", "/api/v1/groups/"+g+"/members/gm", servertest.Bearer(key), nil)
		}()
		wg.Wait()
		switch join.Status {
		case 204:
			added++
			if joined, assigned := seqOf(g, "member_added"), seqOf(g, "role_assigned"); joined > assigned {
				t.Fatalf("round %d: gm joined %s (event %d) after it was given the admin role (event %d)", i, g, joined, assigned)
			}
		case 403:
		default:
			t.Fatalf("round %d: join answered %d %s", i, join.Status, join.Body)
		}
		// Back to a holder of groups.write alone for the next round.
		a.Must(204, a.Admin("DELETE", "/api/v1/groups/"+g, nil))
	}
	t.Logf("%d of %d adds won the race; none committed after the assignment", added, rounds)
}

// TestNarrowedKeyFollowsItsOwnerOnTheOtherInstance (issue 17): a token's
// power is the intersection of its own list and its owner's permissions
// at the moment of use, on every instance: a role taken from the owner
// through A narrows the key at B as soon as B hears of it.
func TestNarrowedKeyFollowsItsOwnerOnTheOtherInstance(t *testing.T) {
	a, b := pair(t, notified)
	a.Must(201, a.Admin("POST", "/api/v1/roles", map[string]any{"name": "reader", "permissions": []string{"users.read", "groups.read"}}))
	a.Must(201, a.Admin("POST", "/api/v1/service-accounts", map[string]any{"username": "ci", "token_intent": "none", "roles": []string{"reader"}}))
	key := a.Must(201, a.Admin("POST", "/api/v1/tokens", map[string]any{"user": "ci", "permissions": []string{"users.read"}})).JSON()["key"].(string)
	users := func() int { return b.Do("GET", "/api/v1/users", servertest.Bearer(key), nil).Status }
	groups := func() int { return b.Do("GET", "/api/v1/groups", servertest.Bearer(key), nil).Status }
	b.Must(200, b.Do("GET", "/api/v1/users", servertest.Bearer(key), nil)) // warm on B
	if got := groups(); got != 403 {
		t.Fatalf("the key reaches beyond its list on B: %d", got)
	}
	a.Must(204, a.Admin("DELETE", "/api/v1/roles/reader/assignments/users/ci", nil))
	t.Logf("the owner's lost role narrowed the key on B in %s", within(t, "narrowing", 403, users))
}
