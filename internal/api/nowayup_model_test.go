package api_test

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"maps"
	mrand "math/rand/v2"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/testenv"
)

// TestNoWayUpModel is the randomized, model-based check of the README's
// "No way up" rule (issue 14). It drives long sequences of API calls, each
// from a service account holding a random mix of the catalogue (scoped and
// unscoped, through roles, groups holding the admin role, several groups
// at once and direct grants), and after every call compares the server's
// whole state, read back as an administrator, with the state before it:
//
//   - R1, grants: no account's power (its effective permissions) may grow
//     beyond its power before the call plus the actor's; no account may
//     become an administrator unless the actor was one. Not checked when the
//     actor holds roles.write, which the README says can grant anything.
//   - R2, targets: a call may change another account's own state (profile,
//     active flag, password, direct permissions, direct role assignments,
//     group memberships, tokens, existence) only if the actor covered that
//     account before the call. No exception for roles.write.
//   - Liveness: a call the model says the rule permits (the actor holds the
//     permission the API asks for, covers every account the call targets,
//     and raises nobody beyond itself) must not be refused with 403, and
//     every kind of call must succeed at least once in the run.
//
// The model computes power and "covers" itself from roles, groups and
// direct grants; it never asks the server's authz code, so it is an
// independent check of it.
//
// GATEHOUSE_TEST_SEED=N replays a run; CI (CI set, or .ci/run's
// GATEHOUSE_TEST_REQUIRE_ALL=1) runs a fixed seed, a local run a random one
// (logged). GATEHOUSE_TEST_MODEL_STEPS sets the run's length;
// GATEHOUSE_TEST_MODEL_TRACE=1 with -v logs every call and the model's
// verdict on it.
func TestNoWayUpModel(t *testing.T) {
	seed := modelSeed(t)
	steps := 400
	if testing.Short() {
		steps = 80
	}
	if v := os.Getenv("GATEHOUSE_TEST_MODEL_STEPS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("GATEHOUSE_TEST_MODEL_STEPS=%q: want a positive number", v)
		}
		steps = n
	}
	each(t, func(t *testing.T, e *env) {
		r := newModelRun(t, e, seed)
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("seed %d; re-run with: GATEHOUSE_TEST_SEED=%d go test -count=1 -run TestNoWayUpModel ./internal/api/", seed, seed)
			}
		})
		r.setup()
		for i := 1; i <= steps; i++ {
			if i%modelEpoch == 0 {
				r.restore()
			}
			r.step(i)
		}
		r.finish()
	})
}

// modelCISeed is the seed of CI runs: fixed, so a red build replays.
const modelCISeed = 7

func modelSeed(t *testing.T) uint64 {
	if v := os.Getenv("GATEHOUSE_TEST_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("GATEHOUSE_TEST_SEED=%q: want a number", v)
		}
		t.Logf("seed %d (GATEHOUSE_TEST_SEED)", n)
		return n
	}
	if os.Getenv("CI") != "" || testenv.RequireAll() {
		t.Logf("seed %d (fixed in CI)", modelCISeed)
		return modelCISeed
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	n := binary.LittleEndian.Uint64(b[:]) % 1_000_000_000
	t.Logf("seed %d (random; replay with GATEHOUSE_TEST_SEED=%d)", n, n)
	return n
}

// ---- The model: power and covers, written independently of internal/authz.

// power is an account's effective permission set. An administrator holds
// the whole catalogue.
type power struct {
	admin bool
	perms map[string]bool // "name" or "name@kind/object"
}

// holds: an administrator holds everything; otherwise the permission
// itself, or for a scoped one, the unscoped permission of the same name.
func (p power) holds(perm string) bool {
	if p.admin || p.perms[perm] {
		return true
	}
	name, _, scoped := strings.Cut(perm, "@")
	return scoped && p.perms[name]
}

// holdsOn: the permission unscoped or scoped to one of the groups.
func (p power) holdsOn(perm string, groups ...string) bool {
	if p.holds(perm) {
		return true
	}
	for _, g := range groups {
		if p.perms[perm+"@group/"+g] {
			return true
		}
	}
	return false
}

// holdsSomewhere: the permission unscoped or scoped to any group.
func (p power) holdsSomewhere(perm string) bool {
	if p.holds(perm) {
		return true
	}
	for q := range p.perms {
		if strings.HasPrefix(q, perm+"@group/") {
			return true
		}
	}
	return false
}

// covers: a covers b when a is an administrator, or b is not and a holds
// every permission of b.
func covers(a, b power) bool {
	if a.admin {
		return true
	}
	if b.admin {
		return false
	}
	for p := range b.perms {
		if !a.holds(p) {
			return false
		}
	}
	return true
}

// beyond lists what after holds that neither before nor actor holds: the
// R1 excess. Becoming an administrator is reported as such.
func beyond(after, before, actor power) []string {
	if actor.admin || before.admin {
		return nil
	}
	if after.admin {
		return []string{"the admin role (the whole catalogue)"}
	}
	var out []string
	for p := range after.perms {
		if !before.holds(p) && !actor.holds(p) {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

func (p power) String() string {
	if p.admin {
		return "admin"
	}
	if len(p.perms) == 0 {
		return "nothing"
	}
	return strings.Join(slices.Sorted(maps.Keys(p.perms)), " ")
}

// ---- The server's state, as an administrator reads it.

type mUser struct {
	Username    string   `json:"username"`
	Type        string   `json:"type"`
	Name        string   `json:"name"`
	Email       string   `json:"email"`
	Description string   `json:"description"`
	IsActive    bool     `json:"is_active"`
	Groups      []string `json:"groups"`
	Roles       []string `json:"roles"` // assigned directly
	Direct      []string `json:"-"`     // GET /users/{u}/permissions
}

type mGroup struct {
	Name    string   `json:"name"`
	Members []string `json:"members"`
	Roles   []string `json:"roles"`
}

type mRole struct {
	Name        string   `json:"name"`
	Builtin     bool     `json:"builtin"`
	Permissions []string `json:"permissions"`
}

// mToken holds the fields of a token that are its state; use (last_used_at)
// is not a change.
type mToken struct {
	Identifier  string  `json:"identifier"`
	User        string  `json:"user"`
	Intent      string  `json:"intent"`
	Description string  `json:"description"`
	Expiring    bool    `json:"expiring"`
	ExpiresAt   *string `json:"expires_at"`
	Extended    bool    `json:"extended"`
	MaxAge      *string `json:"max_age"`
}

func (t mToken) fingerprint() string {
	s := func(p *string) string {
		if p == nil {
			return "-"
		}
		return *p
	}
	return fmt.Sprintf("%s %s %q %v %s %v %s", t.User, t.Intent, t.Description, t.Expiring, s(t.ExpiresAt), t.Extended, s(t.MaxAge))
}

type mState struct {
	users     map[string]*mUser
	groups    map[string]*mGroup
	roles     map[string]*mRole
	tokens    map[string]mToken
	catalogue []string
}

func (s *mState) power(username string) power {
	p := power{perms: map[string]bool{}}
	u := s.users[username]
	if u == nil {
		return p
	}
	roles := slices.Clone(u.Roles)
	for _, g := range u.Groups {
		if grp := s.groups[g]; grp != nil {
			roles = append(roles, grp.Roles...)
		}
	}
	p = s.grant(roles, u.Direct)
	return p
}

// grant is the power that roles and direct permissions give.
func (s *mState) grant(roles, direct []string) power {
	p := power{perms: map[string]bool{}}
	for _, r := range roles {
		if r == "admin" {
			p.admin = true
		} else if role := s.roles[r]; role != nil {
			for _, perm := range role.Permissions {
				p.perms[perm] = true
			}
		}
	}
	for _, perm := range direct {
		p.perms[perm] = true
	}
	if p.admin {
		p.perms = map[string]bool{}
		for _, perm := range s.catalogue {
			p.perms[perm] = true
		}
	}
	return p
}

func union(a, b power) power {
	p := power{admin: a.admin || b.admin, perms: maps.Clone(a.perms)}
	maps.Copy(p.perms, b.perms)
	return p
}

func (s *mState) tokensOf(user string) []string {
	var out []string
	for id, t := range s.tokens {
		if t.User == user {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

func (s *mState) groupNames() []string { return slices.Sorted(maps.Keys(s.groups)) }
func (s *mState) roleNames() []string  { return slices.Sorted(maps.Keys(s.roles)) }

// ---- One run.

// modelRoot is the harness's own administrator (a service account with
// the admin role): it reads the state and repairs actors' keys. No
// generated call targets it, so that the harness keeps working whatever
// the server lets actors do; the bootstrap admin is an ordinary target.
const modelRoot = "model-root"

type modelRun struct {
	t          *testing.T
	e          *env
	seed       uint64
	rng        *mrand.Rand
	rootKey    string
	pool       []string // permissions the generator draws from
	cast       []castAccount
	castGroups []castGroup
	castRoles  []castRole
	catalogue  []string
	st         *mState
	lastEv     int64
	keys       map[string]actorKey // actor -> its key
	issued     int
	stats      map[string]*kindStats
	reported   map[string]int // rule and kind -> violations so far
	failures   int
}

type actorKey struct{ identifier, key string }

type kindStats struct{ calls, permitted, succeeded, refused int }

// mCall is one generated API call with what the model predicts of it.
type mCall struct {
	kind         string
	method, path string
	body         any
	need         bool     // the actor holds what the API asks for this call
	missing      bool     // it names something missing (an account, or the membership it removes): not judged
	targets      []string // accounts whose own state it changes (R2)
	raises       map[string]power
	deletedRole  string // DELETE /roles/R: the assignments it removes are the role's business
}

func newModelRun(t *testing.T, e *env, seed uint64) *modelRun {
	return &modelRun{t: t, e: e, seed: seed, rng: mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		keys: map[string]actorKey{}, stats: map[string]*kindStats{}, reported: map[string]int{}}
}

func (r *modelRun) root(method, path string, body any) *mResp {
	r.t.Helper()
	resp := r.e.Do(method, path, bearer(r.rootKey), body)
	return &mResp{resp.Status, resp.Body, resp.JSON}
}

type mResp struct {
	status int
	body   []byte
	json   func() map[string]any
}

func (r *modelRun) mustRoot(status int, method, path string, body any) *mResp {
	r.t.Helper()
	resp := r.root(method, path, body)
	if resp.status != status {
		r.t.Fatalf("harness: %s %s: status %d, want %d: %s", method, path, resp.status, status, resp.body)
	}
	return resp
}

// listAll reads every page of a list as the harness admin.
func listAll[T any](r *modelRun, path string) []T {
	r.t.Helper()
	var all []T
	token := ""
	for {
		p := path + "?page_size=500"
		if token != "" {
			p += "&page_token=" + url.QueryEscape(token)
		}
		var page struct {
			Items []T    `json:"items"`
			Next  string `json:"next_page_token"`
		}
		resp := r.e.Must(200, r.e.Do("GET", p, bearer(r.rootKey), nil))
		resp.Decode(r.t, &page)
		all = append(all, page.Items...)
		if page.Next == "" {
			return all
		}
		token = page.Next
	}
}

// snapshot reads the whole state the rule is about.
func (r *modelRun) snapshot() *mState {
	s := &mState{users: map[string]*mUser{}, groups: map[string]*mGroup{}, roles: map[string]*mRole{}, tokens: map[string]mToken{},
		catalogue: r.catalogue}
	for _, u := range listAll[mUser](r, "/api/v1/users") {
		var direct struct {
			Permissions []string `json:"permissions"`
		}
		r.e.Must(200, r.e.Do("GET", "/api/v1/users/"+u.Username+"/permissions", bearer(r.rootKey), nil)).Decode(r.t, &direct)
		u.Direct = direct.Permissions
		s.users[u.Username] = &u
	}
	for _, g := range listAll[mGroup](r, "/api/v1/groups") {
		s.groups[g.Name] = &g
	}
	for _, ro := range listAll[mRole](r, "/api/v1/roles") {
		s.roles[ro.Name] = &ro
	}
	for _, tk := range listAll[mToken](r, "/api/v1/tokens") {
		s.tokens[tk.Identifier] = tk
	}
	return s
}

// stepEvents is what the state cannot show: keys rotated and passwords
// set, read from the audit log.
type stepEvents struct {
	rotated  map[string]bool // token identifiers
	password map[string]bool // usernames
}

// events reads the audit events written since the last call.
func (r *modelRun) events() stepEvents {
	out := stepEvents{rotated: map[string]bool{}, password: map[string]bool{}}
	path := "/api/v1/events?page_size=200"
	newest := r.lastEv
	for {
		var page struct {
			Items []struct {
				ID     int64  `json:"id"`
				Action string `json:"action"`
				Target struct {
					Name string `json:"name"`
				} `json:"target"`
			} `json:"items"`
			Next string `json:"next_page_token"`
		}
		r.e.Must(200, r.e.Do("GET", path, bearer(r.rootKey), nil)).Decode(r.t, &page)
		done := page.Next == ""
		for _, ev := range page.Items {
			if ev.ID <= r.lastEv {
				done = true
				break
			}
			newest = max(newest, ev.ID)
			switch ev.Action {
			case "token_rotated":
				out.rotated[ev.Target.Name] = true
			case "password_set":
				out.password[ev.Target.Name] = true
			}
		}
		if done {
			break
		}
		path = "/api/v1/events?page_size=200&page_token=" + url.QueryEscape(page.Next)
	}
	r.lastEv = newest
	for id := range out.rotated { // a rotated key of an actor is dropped
		for u, k := range r.keys {
			if k.identifier == id {
				delete(r.keys, u)
			}
		}
	}
	return out
}

// ---- Setup.

// The cast: what the run starts from, and what the harness restores every
// epoch (modelEpoch calls), so that escalations early in a run do not
// leave it a world of administrators where nothing more can be found.
type castAccount struct {
	name          string
	human         bool
	groups, roles []string
	direct        []string
}

type castGroup struct {
	name  string
	roles []string
}

type castRole struct {
	name  string
	perms []string
}

const modelEpoch = 100

// setup makes the harness's administrator and draws the cast: fixed
// groups (two holding the admin role, others harmless or empty), roles
// with random permissions, accounts that start as the security review's
// cases and accounts with random roles, memberships and direct grants.
func (r *modelRun) setup() {
	created := r.e.Must(201, r.e.Admin("POST", "/api/v1/service-accounts", map[string]any{
		"username": modelRoot, "roles": []string{"admin"}, "token_intent": "api", "expiring": false,
	})).JSON()
	r.rootKey = created["token"].(map[string]any)["key"].(string)

	var cat []string
	for _, d := range listAll[struct {
		Name string `json:"name"`
	}](r, "/api/v1/permissions") {
		cat = append(cat, d.Name)
	}
	slices.Sort(cat)
	r.catalogue = cat

	// The pool: the permissions that act on accounts, scoped to the cast's
	// groups too, and a few others so that powers differ in more ways.
	r.pool = []string{"users.read", "users.write", "groups.read", "groups.write", "roles.read", "roles.write",
		"tokens.read", "tokens.write", "tokens.self", "events.read", "brand.write", "ldap.read"}
	for _, g := range []string{"team-a", "team-b", "team-c", "lobby"} {
		r.pool = append(r.pool, "groups.write@group/"+g, "tokens.write@group/"+g, "tokens.read@group/"+g, "groups.read@group/"+g)
	}
	r.pool = append(r.pool, "groups.write@group/admins", "tokens.write@group/admins")

	r.castRoles = []castRole{{"reader", []string{"events.read", "groups.read", "roles.read", "tokens.read", "users.read"}}}
	for i := 1; i <= 6; i++ {
		r.castRoles = append(r.castRoles, castRole{fmt.Sprintf("r%d", i), r.somePerms(1, 4)})
	}
	roleNames := []string{"reader", "r1", "r2", "r3", "r4", "r5", "r6"}
	r.castGroups = []castGroup{
		{"admins", []string{"admin"}},
		{"ops-admins", []string{"admin", "reader"}},
		{"team-a", slices.Compact(slices.Sorted(slices.Values([]string{r.pick(roleNames[1:]), r.pick(roleNames[1:])})))},
		{"team-b", []string{"reader"}},
		{"team-c", nil}, // no role: a grant scoped to it looks harmless
		{"lobby", nil},
	}

	// Gatehouse groups do not nest: "nested" membership is an account in
	// several groups whose roles overlap (sa-nested, sa-admin-nested, and
	// any random account).
	r.cast = []castAccount{
		{name: "sa-admin-group", groups: []string{"admins"}},
		{name: "sa-admin-nested", groups: []string{"ops-admins", "team-b", "team-c"}},
		{name: "sa-admin-direct", roles: []string{"admin"}, groups: []string{"lobby"}},
		{name: "sa-groups", direct: []string{"groups.read", "groups.write"}},                                                        // issue 14, item 1
		{name: "sa-creator", direct: []string{"groups.write", "users.write"}},                                                       // item 1, creating
		{name: "sa-helpdesk", direct: []string{"users.read", "users.write"}},                                                        // item 8
		{name: "sa-team-c", direct: []string{"groups.write@group/team-c", "tokens.read@group/team-c", "tokens.write@group/team-c"}}, // item 4
		{name: "sa-tokens", direct: []string{"tokens.read", "tokens.write"}},
		{name: "sa-nested", groups: []string{"lobby", "team-a", "team-b"}, roles: []string{"reader"}},
		{name: "bob", human: true, groups: []string{"team-c"}},
	}
	random := []castAccount{{name: "alice", human: true}}
	for i := 0; i < 6; i++ {
		random = append(random, castAccount{name: fmt.Sprintf("sa-%d", i)})
	}
	for _, a := range random {
		for _, g := range r.castGroups {
			p := 0.25
			if slices.Contains(g.roles, "admin") {
				p = 0.08
			}
			if r.chance(p) {
				a.groups = append(a.groups, g.name)
			}
		}
		if r.chance(0.5) {
			a.roles = []string{r.pick(append(roleNames, "admin"))}
		}
		if r.chance(0.5) {
			a.direct = r.somePerms(1, 3)
		}
		slices.Sort(a.groups)
		r.cast = append(r.cast, a)
	}
	r.restore()
	for _, u := range slices.Sorted(maps.Keys(r.st.users)) {
		r.t.Logf("start: %-16s %s", u, r.st.power(u))
	}
}

// restore brings the cast back as setup drew it: its roles' permissions,
// its groups' roles and exact membership, its accounts active with their
// roles, memberships and direct grants. Other accounts keep what they
// have, except places in the cast's groups.
func (r *modelRun) restore() {
	s := r.snapshot()
	for _, ro := range r.castRoles {
		if s.roles[ro.name] == nil {
			r.mustRoot(201, "POST", "/api/v1/roles", map[string]any{"name": ro.name, "permissions": ro.perms})
		} else if !slices.Equal(s.roles[ro.name].Permissions, ro.perms) {
			r.mustRoot(200, "PATCH", "/api/v1/roles/"+ro.name, map[string]any{"permissions": ro.perms})
		}
	}
	members := map[string][]string{}
	for _, a := range r.cast {
		u := s.users[a.name]
		switch {
		case u == nil && a.human:
			r.mustRoot(201, "POST", "/api/v1/users", map[string]any{"username": a.name, "type": "human", "password": a.name + "-password-0123"})
			u = &mUser{}
		case u == nil:
			r.mustRoot(201, "POST", "/api/v1/service-accounts", map[string]any{"username": a.name, "token_intent": "none"})
			u = &mUser{}
		case !u.IsActive:
			r.mustRoot(200, "PATCH", "/api/v1/users/"+a.name, map[string]any{"is_active": true})
		}
		r.sync(u.Roles, a.roles, "/api/v1/roles/%s/assignments/users/"+a.name)
		if !slices.Equal(u.Direct, a.direct) && (len(u.Direct) > 0 || len(a.direct) > 0) {
			r.mustRoot(200, "PUT", "/api/v1/users/"+a.name+"/permissions", map[string]any{"permissions": append([]string{}, a.direct...)})
		}
		for _, g := range a.groups {
			members[g] = append(members[g], a.name)
		}
	}
	for _, g := range r.castGroups {
		cur := s.groups[g.name]
		if cur == nil {
			r.mustRoot(201, "POST", "/api/v1/groups", map[string]any{"name": g.name})
			cur = &mGroup{}
		}
		r.sync(cur.Roles, g.roles, "/api/v1/roles/%s/assignments/groups/"+g.name)
		r.sync(cur.Members, members[g.name], "/api/v1/groups/"+g.name+"/members/%s")
	}
	r.st = r.snapshot()
	r.events()
}

// sync adds and removes the names in path (a format with one %s) that make
// have into want.
func (r *modelRun) sync(have, want []string, path string) {
	for _, n := range want {
		if !slices.Contains(have, n) {
			r.mustRoot(204, "PUT", fmt.Sprintf(path, n), nil)
		}
	}
	for _, n := range have {
		if !slices.Contains(want, n) {
			r.mustRoot(204, "DELETE", fmt.Sprintf(path, n), nil)
		}
	}
}

func (r *modelRun) pick(xs []string) string { return xs[r.rng.IntN(len(xs))] }

func (r *modelRun) chance(p float64) bool { return r.rng.Float64() < p }

// somePerms draws n in [lo, hi] permissions from the pool; roles.write is
// drawn less often, since it lifts R1 for whoever holds it.
func (r *modelRun) somePerms(lo, hi int) []string {
	n := lo + r.rng.IntN(hi-lo+1)
	set := map[string]bool{}
	for len(set) < n {
		p := r.pick(r.pool)
		if p == "roles.write" && !r.chance(0.3) {
			continue
		}
		set[p] = true
	}
	return slices.Sorted(maps.Keys(set))
}

// ---- Steps.

type kind struct {
	name   string
	weight int
	perms  []string // what an actor for this kind is picked for holding, often
}

var modelKinds = []kind{
	{"add member", 14, []string{"groups.write"}},
	{"remove member", 7, []string{"groups.write"}},
	{"create service account", 6, []string{"users.write"}},
	{"assign role to user", 5, []string{"roles.write"}},
	{"unassign role from user", 4, []string{"roles.write"}},
	{"assign role to group", 3, []string{"roles.write"}},
	{"unassign role from group", 3, []string{"roles.write"}},
	{"set direct permissions", 5, []string{"users.write", "roles.write"}},
	{"create role", 2, []string{"roles.write"}},
	{"delete role", 2, []string{"roles.write"}},
	{"create group", 2, []string{"groups.write"}},
	{"delete group", 2, []string{"groups.write"}},
	{"update user", 8, []string{"users.write"}},
	{"delete user", 3, []string{"users.write"}},
	{"set password", 3, []string{"users.write"}},
	{"create token", 8, []string{"tokens.write"}},
	{"rotate token", 6, []string{"tokens.write"}},
	{"update token", 4, []string{"tokens.write"}},
	{"revoke token", 7, []string{"tokens.write"}},
}

func (r *modelRun) pickKind() kind {
	total := 0
	for _, k := range modelKinds {
		total += k.weight
	}
	n := r.rng.IntN(total)
	for _, k := range modelKinds {
		if n < k.weight {
			return k
		}
		n -= k.weight
	}
	panic("unreachable")
}

// actors are the active service accounts other than the harness's root.
func (r *modelRun) actors() []string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(r.st.users)) {
		u := r.st.users[name]
		if name != modelRoot && u.IsActive && u.Type == "service_account" {
			out = append(out, name)
		}
	}
	return out
}

func (r *modelRun) pickActor(k kind) string {
	all := r.actors()
	if len(all) == 0 { // everyone is gone: the harness makes a new one
		r.issued++
		name := fmt.Sprintf("spare-%d", r.issued)
		r.mustRoot(201, "POST", "/api/v1/service-accounts", map[string]any{"username": name, "token_intent": "none"})
		r.mustRoot(200, "PUT", "/api/v1/users/"+name+"/permissions", map[string]any{"permissions": r.somePerms(1, 4)})
		r.st = r.snapshot()
		all = []string{name}
	}
	// Mostly an account that holds what the kind of call asks for, short
	// of being an administrator (whom the rule never stops).
	var holders []string
	for _, a := range all {
		p := r.st.power(a)
		holds := !p.admin
		for _, perm := range k.perms {
			holds = holds && p.holdsSomewhere(perm)
		}
		if holds {
			holders = append(holders, a)
		}
	}
	if len(holders) > 0 && r.chance(0.7) {
		return r.pick(holders)
	}
	return r.pick(all)
}

// ensureKey gives the actor a working key, issuing one as the harness's
// admin when it has none (never had one, revoked, rotated, deleted).
func (r *modelRun) ensureKey(actor string) (string, bool) {
	if k, ok := r.keys[actor]; ok {
		if tk, ok := r.st.tokens[k.identifier]; ok && tk.User == actor {
			return k.key, false
		}
	}
	r.issued++
	id := fmt.Sprintf("key-%s-%d", actor, r.issued)
	resp := r.mustRoot(201, "POST", "/api/v1/tokens", map[string]any{"user": actor, "identifier": id, "expiring": false})
	key := resp.json()["key"].(string)
	r.keys[actor] = actorKey{id, key}
	return key, true
}

// pickTarget chooses an account to act on: often the actor itself, often
// one it covers, otherwise any; never the harness's root.
func (r *modelRun) pickTarget(actor string, among []string) string {
	var cands, covered, admins []string
	a := r.st.power(actor)
	self := false
	for _, u := range among {
		switch {
		case u == modelRoot:
		case u == actor:
			self = true
		default:
			cands = append(cands, u)
			p := r.st.power(u)
			if covers(a, p) {
				covered = append(covered, u)
			}
			if p.admin {
				admins = append(admins, u)
			}
		}
	}
	switch {
	case self && (len(cands) == 0 || r.chance(0.2)):
		return actor
	case len(admins) > 0 && r.chance(0.15):
		return r.pick(admins)
	case len(covered) > 0 && r.chance(0.45):
		return r.pick(covered)
	case len(cands) > 0:
		return r.pick(cands)
	}
	return ""
}

func (r *modelRun) usernames() []string { return slices.Sorted(maps.Keys(r.st.users)) }

func esc(s string) string { return url.PathEscape(s) }

// generate makes a call of kind k for actor, with the model's judgement
// inputs: whether the actor holds what the API asks, and whom it targets.
func (r *modelRun) generate(k kind, actor string, step int) *mCall {
	s := r.st
	a := s.power(actor)
	c := &mCall{kind: k.name}
	groups := s.groupNames()
	roles := s.roleNames()
	anyGroup := func() string {
		if len(groups) == 0 {
			return "no-such-group"
		}
		return r.pick(groups)
	}
	pickGroup := func(perm string) string {
		var mine []string
		for _, g := range groups {
			if a.perms[perm+"@group/"+g] {
				mine = append(mine, g)
			}
		}
		if len(mine) > 0 && r.chance(0.6) {
			return r.pick(mine)
		}
		var strong []string // groups holding the admin role
		for _, g := range groups {
			if slices.Contains(s.groups[g].Roles, "admin") {
				strong = append(strong, g)
			}
		}
		if len(strong) > 0 && r.chance(0.3) {
			return r.pick(strong)
		}
		return anyGroup()
	}
	exists := func(u string) bool { return u != "" && s.users[u] != nil }
	target := func(u string) {
		if u != actor {
			c.targets = append(c.targets, u)
		}
		if !exists(u) {
			c.missing = true
		}
	}
	tokenIssue := func(owner string) bool {
		if owner == actor {
			return a.holds("tokens.self") || a.holdsOn("tokens.write", s.users[actor].Groups...)
		}
		return exists(owner) && a.holdsOn("tokens.write", s.users[owner].Groups...)
	}
	pickTokenOwner := func() (string, string) {
		var owners []string
		for _, u := range r.usernames() {
			if len(s.tokensOf(u)) > 0 {
				owners = append(owners, u)
			}
		}
		owner := r.pickTarget(actor, owners)
		if owner == "" {
			return "", "no-such-token"
		}
		return owner, r.pick(s.tokensOf(owner))
	}

	switch k.name {
	case "add member", "remove member":
		g := pickGroup("groups.write")
		var u string
		if k.name == "add member" {
			u = r.pickTarget(actor, r.usernames())
		} else {
			var members []string
			if grp := s.groups[g]; grp != nil {
				members = grp.Members
			}
			if len(members) == 0 {
				members = r.usernames()
			}
			u = r.pickTarget(actor, members)
		}
		method := "PUT"
		if k.name == "remove member" {
			method = "DELETE"
		}
		c.method, c.path = method, "/api/v1/groups/"+esc(g)+"/members/"+esc(u)
		c.need = a.holdsOn("groups.write", g)
		target(u)
		if s.groups[g] == nil || method == "DELETE" && !slices.Contains(s.groups[g].Members, u) {
			c.missing = true
		} else if method == "PUT" && exists(u) {
			c.raises = map[string]power{u: union(s.power(u), s.grant(s.groups[g].Roles, nil))}
		}
	case "create service account":
		name := fmt.Sprintf("sa-new-%d", step)
		body := map[string]any{"username": name, "token_intent": "none"}
		var gs []string
		for n := r.rng.IntN(3); n > 0; n-- {
			if g := pickGroup("groups.write"); !slices.Contains(gs, g) {
				gs = append(gs, g)
			}
		}
		var rs []string
		if r.chance(0.25) {
			rs = []string{r.pick(roles)}
		}
		body["groups"], body["roles"] = gs, rs
		if r.chance(0.3) {
			body["token_intent"] = "api"
		}
		createGroup := r.chance(0.15)
		if createGroup {
			body["create_group"] = true
		}
		c.method, c.path, c.body = "POST", "/api/v1/service-accounts", body
		c.need = a.holds("users.write") && (len(rs) == 0 || a.holds("roles.write")) && (!createGroup || a.holds("groups.write"))
		var granted []string
		for _, g := range gs {
			c.need = c.need && a.holdsOn("groups.write", g)
			if grp := s.groups[g]; grp != nil {
				granted = append(granted, grp.Roles...)
			} else {
				c.missing = true
			}
		}
		c.raises = map[string]power{name: s.grant(append(granted, rs...), nil)}
	case "assign role to user", "unassign role from user":
		method, role, u := "PUT", "", ""
		if k.name == "assign role to user" {
			role, u = r.pick(roles), r.pickTarget(actor, r.usernames())
		} else {
			method = "DELETE"
			var holders []string
			for _, name := range r.usernames() {
				if len(s.users[name].Roles) > 0 {
					holders = append(holders, name)
				}
			}
			if u = r.pickTarget(actor, holders); u == "" {
				u = r.pickTarget(actor, r.usernames())
			}
			if exists(u) && len(s.users[u].Roles) > 0 {
				role = r.pick(s.users[u].Roles)
			} else {
				role = r.pick(roles)
			}
		}
		c.method, c.path = method, "/api/v1/roles/"+esc(role)+"/assignments/users/"+esc(u)
		c.need = a.holds("roles.write")
		target(u)
		if s.roles[role] == nil || method == "DELETE" && exists(u) && !slices.Contains(s.users[u].Roles, role) {
			c.missing = true
		}
		if exists(u) && method == "PUT" {
			c.raises = map[string]power{u: union(s.power(u), s.grant([]string{role}, nil))}
		}
	case "assign role to group", "unassign role from group":
		method, g, role := "PUT", anyGroup(), r.pick(roles)
		if k.name == "unassign role from group" {
			method = "DELETE"
			var with []string
			for _, name := range groups {
				if len(s.groups[name].Roles) > 0 {
					with = append(with, name)
				}
			}
			if len(with) > 0 {
				g = r.pick(with)
				role = r.pick(s.groups[g].Roles)
			}
		}
		c.method, c.path = method, "/api/v1/roles/"+esc(role)+"/assignments/groups/"+esc(g)
		c.need = a.holds("roles.write")
		c.missing = s.roles[role] == nil || s.groups[g] == nil || method == "DELETE" && !slices.Contains(s.groups[g].Roles, role)
		// Not an account's own state: roles.write's business (R1 only).
	case "set direct permissions":
		u := r.pickTarget(actor, r.usernames())
		perms := r.somePerms(0, 3)
		c.method, c.path, c.body = "PUT", "/api/v1/users/"+esc(u)+"/permissions", map[string]any{"permissions": perms}
		c.need = a.holds("users.write") && a.holds("roles.write")
		target(u)
	case "create role":
		c.method, c.path = "POST", "/api/v1/roles"
		c.body = map[string]any{"name": fmt.Sprintf("role-%d", step), "permissions": r.somePerms(1, 3)}
		c.need = a.holds("roles.write")
	case "delete role":
		role := r.pick(roles)
		c.method, c.path = "DELETE", "/api/v1/roles/"+esc(role)
		c.need = a.holds("roles.write")
		c.deletedRole = role
	case "create group":
		c.method, c.path, c.body = "POST", "/api/v1/groups", map[string]any{"name": fmt.Sprintf("g-%d", step)}
		c.need = a.holds("groups.write")
	case "delete group":
		g := anyGroup()
		c.method, c.path = "DELETE", "/api/v1/groups/"+esc(g)
		c.need = a.holds("groups.write")
		if grp := s.groups[g]; grp != nil {
			for _, m := range grp.Members { // their memberships change
				target(m)
			}
		} else {
			c.missing = true
		}
	case "update user":
		u := r.pickTarget(actor, r.usernames())
		body := map[string]any{"description": fmt.Sprintf("changed at step %d", step)}
		if exists(u) && r.chance(0.5) {
			body = map[string]any{"is_active": !s.users[u].IsActive}
		}
		c.method, c.path, c.body = "PATCH", "/api/v1/users/"+esc(u), body
		c.need = a.holds("users.write")
		target(u)
	case "delete user":
		u := r.pickTarget(actor, r.usernames())
		c.method, c.path = "DELETE", "/api/v1/users/"+esc(u)
		c.need = a.holds("users.write")
		target(u)
	case "set password":
		var humans []string
		for _, name := range r.usernames() {
			if s.users[name].Type == "human" {
				humans = append(humans, name)
			}
		}
		u := r.pickTarget(actor, humans)
		if u == "" {
			u = "no-such-human"
		}
		c.method, c.path = "PUT", "/api/v1/users/"+esc(u)+"/password"
		c.body = map[string]any{"password": fmt.Sprintf("model-password-%d", step)}
		c.need = a.holds("users.write")
		target(u)
	case "create token":
		u := r.pickTarget(actor, r.usernames())
		body := map[string]any{"user": u, "identifier": fmt.Sprintf("t-%d", step), "ttl": "720h"}
		if r.chance(0.2) {
			body["intent"] = "app_password"
		}
		c.method, c.path, c.body = "POST", "/api/v1/tokens", body
		c.need = tokenIssue(u)
		target(u)
	case "rotate token", "update token", "revoke token":
		owner, id := pickTokenOwner()
		switch k.name {
		case "rotate token":
			body := map[string]any{}
			if r.chance(0.3) {
				body["grace"] = "1h"
			}
			c.method, c.path, c.body = "POST", "/api/v1/tokens/"+esc(id)+"/rotate", body
			c.need = tokenIssue(owner)
		case "update token":
			c.method, c.path, c.body = "PATCH", "/api/v1/tokens/"+esc(id), map[string]any{"description": fmt.Sprintf("changed at step %d", step)}
			c.need = tokenIssue(owner)
		default:
			c.method, c.path = "DELETE", "/api/v1/tokens/"+esc(id)
			c.need = owner == actor || (exists(owner) && a.holdsOn("tokens.write", s.users[owner].Groups...))
		}
		target(owner)
	}
	return c
}

// permitted is the model's verdict on a call before it is made: the actor
// holds what the API asks, covers every account whose own state the call
// changes (R2), and, unless it holds roles.write, raises nobody beyond
// itself (R1). It explains a refusal.
func (r *modelRun) permitted(actor string, c *mCall) (bool, string) {
	s := r.st
	a := s.power(actor)
	if c.missing {
		return false, "names something missing"
	}
	if !c.need {
		return false, "actor lacks the permission the API asks for"
	}
	for _, u := range c.targets {
		if !covers(a, s.power(u)) {
			return false, fmt.Sprintf("actor does not cover %s (%s)", u, s.power(u))
		}
	}
	if !a.holds("roles.write") {
		for _, u := range slices.Sorted(maps.Keys(c.raises)) {
			if x := beyond(c.raises[u], s.power(u), a); len(x) > 0 {
				return false, fmt.Sprintf("would give %s %s", u, strings.Join(x, " "))
			}
		}
	}
	return true, "permitted"
}

// starvingKind is a kind of call with the fewest successes so far.
func (r *modelRun) starvingKind() kind {
	succeeded := func(k kind) int {
		if st := r.stats[k.name]; st != nil {
			return st.succeeded
		}
		return 0
	}
	least, kinds := -1, []kind(nil)
	for _, k := range modelKinds {
		switch n := succeeded(k); {
		case least < 0 || n < least:
			least, kinds = n, []kind{k}
		case n == least:
			kinds = append(kinds, k)
		}
	}
	return kinds[r.rng.IntN(len(kinds))]
}

// choose picks the kind of call, its actor and the call. Most steps are
// free draws, where violations come from; the others are guided towards a
// call the model permits, of a kind that has succeeded least so far, so
// that every kind gets exercised where the rule says yes.
func (r *modelRun) choose(step int) (string, *mCall) {
	k, tries := r.pickKind(), 1
	if r.chance(0.4) {
		tries = 30
		if r.chance(0.5) {
			k = r.starvingKind()
		}
	}
	for n := 1; ; n++ {
		actor := r.pickActor(k)
		c := r.generate(k, actor, step)
		if n >= tries {
			return actor, c
		}
		if ok, _ := r.permitted(actor, c); ok {
			return actor, c
		}
	}
}

func (r *modelRun) step(i int) {
	t := r.t
	actor, c := r.choose(i)
	key, fresh := r.ensureKey(actor)
	if fresh { // the actor's new key is the only change
		r.st = r.snapshot()
	}
	before := r.st
	a := before.power(actor)

	// The model must agree with the server on the actor's power, or
	// nothing below means anything.
	var me struct {
		Permissions []string `json:"permissions"`
	}
	r.e.Must(200, r.e.Do("GET", "/api/v1/me", bearer(key), nil)).Decode(t, &me)
	if want := slices.Sorted(maps.Keys(a.perms)); !slices.Equal(me.Permissions, want) {
		t.Fatalf("seed %d, step %d: the model is out of step with the server: %s holds %v, the model says %v",
			r.seed, i, actor, me.Permissions, want)
	}
	r.events() // what the harness did is not the call's

	ok, why := r.permitted(actor, c)
	resp := r.e.Do(c.method, c.path, bearer(key), c.body)
	after := r.snapshot()
	evs := r.events()
	r.st = after

	st := r.stats[c.kind]
	if st == nil {
		st = &kindStats{}
		r.stats[c.kind] = st
	}
	st.calls++
	success := resp.Status >= 200 && resp.Status < 300
	if ok {
		st.permitted++
		if success {
			st.succeeded++
		}
	}
	if resp.Status == 403 {
		st.refused++
	}
	call := fmt.Sprintf("%s %s", c.method, c.path)
	if c.body != nil {
		call += fmt.Sprintf(" %v", c.body)
	}
	desc := fmt.Sprintf("step %d: %s (power: %s) called %s -> %d", i, actor, a, call, resp.Status)
	if testing.Verbose() && os.Getenv("GATEHOUSE_TEST_MODEL_TRACE") != "" {
		t.Logf("%s [model: %s]", desc, why)
	}

	// Violations are grouped by rule, kind of call, and whether the actor
	// acted through a scoped grant.
	kindName := c.kind
	for _, k := range modelKinds {
		if k.name == c.kind && !a.holds(k.perms[0]) && a.holdsSomewhere(k.perms[0]) {
			kindName += " (scoped " + k.perms[0] + ")"
		}
	}

	// Liveness: what the rule permits is not refused.
	if ok && resp.Status == 403 {
		r.violation("liveness", kindName, "", fmt.Sprintf("%s\n\trefused with 403, but the rule permits it (the actor holds what the API asks for and covers every account it touches): %s", desc, resp.Body))
	}

	// R1: no account's power grows beyond its own and the actor's.
	if !a.holds("roles.write") {
		for _, u := range slices.Sorted(maps.Keys(after.users)) {
			if x := beyond(after.power(u), before.power(u), a); len(x) > 0 {
				r.violation("R1", kindName, escalationClass(after.power(u), u == actor), fmt.Sprintf("%s\n\tR1 (grants) violated: %s gained %s, which neither it (before: %s) nor the actor held",
					desc, u, strings.Join(x, " "), before.power(u)))
			}
		}
	}
	// R2: another account's own state changes only when the actor covered it.
	for _, u := range slices.Sorted(maps.Keys(before.users)) {
		if u == actor {
			continue
		}
		changes := ownStateChanges(before, after, u, evs, c)
		if len(changes) > 0 && !covers(a, before.power(u)) {
			r.violation("R2", kindName, victimClass(before.power(u)), fmt.Sprintf("%s\n\tR2 (targets) violated: changed %s (power: %s), which the actor does not cover: %s",
				desc, u, before.power(u), strings.Join(changes, "; ")))
		}
	}
}

// ownStateChanges lists how the call changed account u's own state.
func ownStateChanges(before, after *mState, u string, evs stepEvents, c *mCall) []string {
	b, a := before.users[u], after.users[u]
	if a == nil {
		return []string{"deleted"}
	}
	var out []string
	diff := func(what string, x, y any) {
		if fmt.Sprint(x) != fmt.Sprint(y) {
			out = append(out, fmt.Sprintf("%s %v -> %v", what, x, y))
		}
	}
	diff("name", b.Name, a.Name)
	diff("email", b.Email, a.Email)
	diff("description", b.Description, a.Description)
	diff("is_active", b.IsActive, a.IsActive)
	diff("groups", b.Groups, a.Groups)
	// Deleting a role takes it from its holders: the role's business, not
	// theirs.
	notDeleted := func(roles []string) []string {
		return slices.DeleteFunc(slices.Clone(roles), func(r string) bool { return r == c.deletedRole })
	}
	diff("direct roles", notDeleted(b.Roles), notDeleted(a.Roles))
	diff("direct permissions", b.Direct, a.Direct)
	if evs.password[u] {
		out = append(out, "password set")
	}
	for _, id := range before.tokensOf(u) {
		t, ok := after.tokens[id]
		switch {
		case !ok:
			out = append(out, "token "+id+" revoked")
		case t.fingerprint() != before.tokens[id].fingerprint():
			out = append(out, fmt.Sprintf("token %s changed: %s -> %s", id, before.tokens[id].fingerprint(), t.fingerprint()))
		case evs.rotated[id]:
			out = append(out, "token "+id+" rotated")
		}
	}
	for _, id := range after.tokensOf(u) {
		if _, ok := before.tokens[id]; !ok {
			out = append(out, "token "+id+" created")
		}
	}
	return out
}

func escalationClass(after power, self bool) string {
	c := " / to more permissions"
	if after.admin {
		c = " / to admin"
	}
	if self {
		c += " (itself)"
	}
	return c
}

func victimClass(victim power) string {
	if victim.admin {
		return " / of an administrator"
	}
	return " / of a stronger account"
}

// violation reports one broken rule: the first few of each rule and kind
// in full, then only counted, so that one hole does not bury the others.
func (r *modelRun) violation(rule, callKind, class, msg string) {
	r.t.Helper()
	key := rule + " / " + callKind + class
	r.reported[key]++
	r.failures++
	if r.reported[key] <= 3 {
		r.t.Errorf("seed %d, %s", r.seed, msg)
	}
}

func (r *modelRun) finish() {
	t := r.t
	var lines []string
	for _, k := range modelKinds {
		st := r.stats[k.name]
		if st == nil {
			st = &kindStats{}
		}
		lines = append(lines, fmt.Sprintf("%-26s calls %3d  permitted %3d  succeeded %3d  refused(403) %3d", k.name, st.calls, st.permitted, st.succeeded, st.refused))
		if st.succeeded == 0 {
			t.Errorf("seed %d: liveness: no %q call the rule permits succeeded (%d calls, %d permitted by the model): a server refusing everything passes nothing",
				r.seed, k.name, st.calls, st.permitted)
		}
	}
	t.Logf("seed %d, per kind of call:\n\t%s", r.seed, strings.Join(lines, "\n\t"))
	if r.failures > 0 {
		var keys []string
		for _, k := range slices.Sorted(maps.Keys(r.reported)) {
			keys = append(keys, fmt.Sprintf("%s: %d", k, r.reported[k]))
		}
		t.Errorf("seed %d: %d violations of the no-way-up rule (first 3 of each shown above):\n\t%s",
			r.seed, r.failures, strings.Join(keys, "\n\t"))
	}
}
