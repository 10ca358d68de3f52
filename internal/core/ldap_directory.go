package core

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/client"
	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/store"
)

// The directory view: the active users and the groups, with
// memberships, as LDAP shows them. The server keeps the latest build in
// memory and rebuilds it from the store after a change of users, groups
// or memberships; unchanged entries are shared between builds and keep
// the version at which they last changed (their stamp), so that an
// outpost holding a copy gets only what changed since its cursor.

// DirectoryUser is an active user of the directory.
type DirectoryUser struct {
	client.DirectoryUser
	stamp uint64
}

// DirectoryGroup is a group of the directory.
type DirectoryGroup struct {
	client.DirectoryGroup
	stamp uint64
}

func sameUser(a, b *DirectoryUser) bool {
	return a.UID == b.UID && a.Username == b.Username && a.Type == b.Type && a.Name == b.Name && a.Email == b.Email &&
		a.Description == b.Description && a.CreatedAt.Equal(b.CreatedAt) && slices.Equal(a.Groups, b.Groups)
}

func sameGroup(a, b *DirectoryGroup) bool {
	return a.UID == b.UID && a.Name == b.Name && a.Description == b.Description && a.CreatedAt.Equal(b.CreatedAt) &&
		slices.Equal(a.Members, b.Members)
}

// Directory is an immutable directory view with its indexes.
type Directory struct {
	Cursor string            // where a copy of this view stands, for the next feed request
	Users  []*DirectoryUser  // sorted by username
	Groups []*DirectoryGroup // sorted by name

	byName      map[string]*DirectoryUser
	byUID       map[string]*DirectoryUser
	groupByName map[string]*DirectoryGroup
	groupByUID  map[string]*DirectoryGroup

	// Server side only: the change version it stands at, the directory
	// version it was built at, and what was removed, by stamp.
	version    uint64
	dirVersion uint64
	tombs      []tomb
	floor      uint64 // deltas since a version below this are incomplete
}

type tomb struct {
	uid   string
	group bool
	stamp uint64
}

// maxTombs bounds the removals remembered for deltas; an outpost further
// behind gets the whole directory again.
const maxTombs = 10_000

// NewDirectory indexes users and groups (outposts build their copy with it).
func NewDirectory(cursor string, users []*DirectoryUser, groups []*DirectoryGroup) *Directory {
	d := &Directory{Cursor: cursor, Users: users, Groups: groups}
	slices.SortFunc(d.Users, func(a, b *DirectoryUser) int { return strings.Compare(a.Username, b.Username) })
	slices.SortFunc(d.Groups, func(a, b *DirectoryGroup) int { return strings.Compare(a.Name, b.Name) })
	d.index()
	return d
}

func (d *Directory) index() {
	d.byName = make(map[string]*DirectoryUser, len(d.Users))
	d.byUID = make(map[string]*DirectoryUser, len(d.Users))
	for _, u := range d.Users {
		d.byName[u.Username] = u
		d.byUID[u.UID] = u
	}
	d.groupByName = make(map[string]*DirectoryGroup, len(d.Groups))
	d.groupByUID = make(map[string]*DirectoryGroup, len(d.Groups))
	for _, g := range d.Groups {
		d.groupByName[g.Name] = g
		d.groupByUID[g.UID] = g
	}
}

// User returns the active user of that name, or nil.
func (d *Directory) User(name string) *DirectoryUser { return d.byName[name] }

// UserByUID returns the active user with that UID, or nil.
func (d *Directory) UserByUID(uid string) *DirectoryUser { return d.byUID[uid] }

// Group returns the group of that name, or nil.
func (d *Directory) Group(name string) *DirectoryGroup { return d.groupByName[name] }

// DirectoryFeed is GET /ldap-providers/{name}/directory: the provider's
// settings and what changed in the directory since the cursor given
// (everything, with reset, when the cursor is too old, from another
// process, or absent).
type DirectoryFeed struct {
	Cursor        string            `json:"cursor"`
	Provider      LDAPProviderView  `json:"provider"`
	Reset         bool              `json:"reset"`
	Users         []*DirectoryUser  `json:"users"`
	Groups        []*DirectoryGroup `json:"groups"`
	RemovedUsers  []string          `json:"removed_users"`
	RemovedGroups []string          `json:"removed_groups"`
}

// Apply returns the directory after a feed answer (outposts).
func (d *Directory) Apply(f DirectoryFeed) *Directory {
	if f.Reset || d == nil {
		return NewDirectory(f.Cursor, slices.Clone(f.Users), slices.Clone(f.Groups))
	}
	return NewDirectory(f.Cursor,
		patched(d.byUID, f.RemovedUsers, f.Users, func(u *DirectoryUser) string { return u.UID }),
		patched(d.groupByUID, f.RemovedGroups, f.Groups, func(g *DirectoryGroup) string { return g.UID }))
}

// patched is the entries of current (by UID) without the removed ones and
// with the changed ones, in no order (NewDirectory sorts them).
func patched[E any](current map[string]*E, removed []string, changed []*E, uid func(*E) string) []*E {
	byUID := maps.Clone(current)
	if byUID == nil {
		byUID = map[string]*E{}
	}
	for _, id := range removed {
		delete(byUID, id)
	}
	for _, e := range changed {
		byUID[uid(e)] = e
	}
	out := make([]*E, 0, len(byUID))
	for _, e := range byUID {
		out = append(out, e)
	}
	return out
}

// cursor is "epoch.version".
func (s *LDAP) cursor(version uint64) string {
	s.changes.init()
	return s.changes.epoch + "." + strconv.FormatUint(version, 10)
}

// parseCursor returns the version of a cursor of this process.
func (s *LDAP) parseCursor(c string) (uint64, bool) {
	s.changes.init()
	epoch, v, ok := strings.Cut(c, ".")
	if !ok || epoch != s.changes.epoch {
		return 0, false
	}
	n, err := strconv.ParseUint(v, 10, 64)
	return n, err == nil
}

// LDAPDirectory returns the current directory view, rebuilding it when
// users, groups or memberships changed since the last build.
func (s *LDAP) LDAPDirectory(ctx context.Context) (*Directory, error) {
	v, dv, _ := s.changes.state()
	st := &s.ldap
	st.dirMu.Lock()
	defer st.dirMu.Unlock()
	prev := st.dir
	switch {
	case prev != nil && prev.version == v:
		return prev, nil
	case prev != nil && prev.dirVersion == dv:
		// Something else changed (a token, a role): same entries.
		cp := *prev
		cp.version, cp.Cursor = v, s.cursor(v)
		st.dir = &cp
		return st.dir, nil
	}
	d, err := s.buildDirectory(ctx, v, dv, prev)
	if err != nil {
		return nil, err
	}
	st.dir = d
	return d, nil
}

// buildDirectory reads users, groups and memberships. The versions are
// read before the store, so a change committed during the reads leaves
// the build already stale and the next call builds again.
func (s *LDAP) buildDirectory(ctx context.Context, v, dv uint64, prev *Directory) (*Directory, error) {
	users, err := readAll(func(after string, limit int) ([]store.User, error) {
		return s.store.ListUsers(ctx, store.UserFilter{After: after, Limit: limit})
	}, func(u store.User) string { return u.Username })
	if err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	groups, err := readAll(func(after string, limit int) ([]store.Group, error) {
		return s.store.ListGroups(ctx, store.GroupFilter{After: after, Limit: limit})
	}, func(g store.Group) string { return g.Name })
	if err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	ms, err := s.store.ListMemberships(ctx)
	if err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}

	active := make(map[string]*store.User, len(users))
	for i := range users {
		if users[i].IsActive {
			active[users[i].UID] = &users[i]
		}
	}
	groupName := make(map[string]string, len(groups))
	for _, g := range groups {
		groupName[g.UID] = g.Name
	}
	userGroups := map[string][]string{}
	groupMembers := map[string][]string{}
	for _, m := range ms {
		u, ok := active[m.UserUID]
		g, gok := groupName[m.GroupUID]
		if !ok || !gok {
			continue
		}
		userGroups[m.UserUID] = append(userGroups[m.UserUID], g)
		groupMembers[m.GroupUID] = append(groupMembers[m.GroupUID], u.Username)
	}

	d := &Directory{Cursor: s.cursor(v), version: v, dirVersion: dv}
	d.Users = make([]*DirectoryUser, 0, len(active))
	for i := range users { // ListUsers orders by username
		u := &users[i]
		if !u.IsActive {
			continue
		}
		gs := userGroups[u.UID]
		slices.Sort(gs)
		du := &DirectoryUser{DirectoryUser: client.DirectoryUser{UID: u.UID, Username: u.Username, Type: u.Type, Name: u.Name,
			Email: u.Email, Description: u.Description, CreatedAt: u.CreatedAt, Groups: nonNil(gs)}, stamp: v}
		if prev != nil {
			if old := prev.byUID[u.UID]; old != nil && sameUser(old, du) {
				du = old
			}
		}
		d.Users = append(d.Users, du)
	}
	d.Groups = make([]*DirectoryGroup, 0, len(groups))
	for _, g := range groups {
		members := groupMembers[g.UID]
		slices.Sort(members)
		dg := &DirectoryGroup{DirectoryGroup: client.DirectoryGroup{UID: g.UID, Name: g.Name, Description: g.Description,
			CreatedAt: g.CreatedAt, Members: nonNil(members)}, stamp: v}
		if prev != nil {
			if old := prev.groupByUID[g.UID]; old != nil && sameGroup(old, dg) {
				dg = old
			}
		}
		d.Groups = append(d.Groups, dg)
	}
	d.index()
	if prev != nil {
		d.tombs, d.floor = prev.tombs, prev.floor
		for uid := range prev.byUID {
			if d.byUID[uid] == nil {
				d.tombs = append(d.tombs, tomb{uid: uid, stamp: v})
			}
		}
		for uid := range prev.groupByUID {
			if d.groupByUID[uid] == nil {
				d.tombs = append(d.tombs, tomb{uid: uid, group: true, stamp: v})
			}
		}
		if n := len(d.tombs) - maxTombs; n > 0 {
			d.floor = d.tombs[n-1].stamp
			d.tombs = slices.Clone(d.tombs[n:])
		}
	} else {
		d.floor = v // nothing is known about removals before the first build
	}
	return d, nil
}

// delta is the feed of d for a copy standing at since (a version of
// this process), or everything when that copy cannot be brought up to
// date from what d remembers.
func (d *Directory) delta(since uint64, ok bool) DirectoryFeed {
	f := DirectoryFeed{Cursor: d.Cursor, Users: []*DirectoryUser{}, Groups: []*DirectoryGroup{}, RemovedUsers: []string{}, RemovedGroups: []string{}}
	if !ok || since < d.floor || since > d.version {
		f.Reset = true
		f.Users = d.Users
		f.Groups = d.Groups
		return f
	}
	for _, u := range d.Users {
		if u.stamp > since {
			f.Users = append(f.Users, u)
		}
	}
	for _, g := range d.Groups {
		if g.stamp > since {
			f.Groups = append(f.Groups, g)
		}
	}
	for _, t := range d.tombs {
		if t.stamp <= since {
			continue
		}
		if t.group {
			f.RemovedGroups = append(f.RemovedGroups, t.uid)
		} else {
			f.RemovedUsers = append(f.RemovedUsers, t.uid)
		}
	}
	return f
}

// directoryWithHeartbeat is LDAPDirectory, beating while a large
// directory is being built so that the feed never falls silent.
func (s *LDAP) directoryWithHeartbeat(ctx context.Context, heartbeat func()) (*Directory, error) {
	if heartbeat == nil {
		return s.LDAP.LDAPDirectory(ctx)
	}
	type built struct {
		d   *Directory
		err error
	}
	done := make(chan built, 1)
	go func() {
		d, err := s.LDAP.LDAPDirectory(ctx)
		done <- built{d, err}
	}()
	t := time.NewTicker(HeartbeatEvery)
	defer t.Stop()
	for {
		select {
		case b := <-done:
			return b.d, b.err
		case <-t.C:
			heartbeat()
		}
	}
}

// MaxFeedWait bounds a long poll of the directory feed (below the HTTP
// server's write timeout).
const MaxFeedWait = 50 * time.Second

// DirectoryFeedQuery is the query of GET /ldap-providers/{name}/directory.
type DirectoryFeedQuery struct {
	Since   string        // a cursor from a previous answer; "" for everything
	Wait    time.Duration // long poll: answer when something changes, at most this long
	Entries bool          // false: only the cursor and the provider (outposts that search directly)
	// Heartbeat, when set, is called every HeartbeatEvery while the long
	// poll waits, so that the client can tell a quiet feed from a dead
	// connection within seconds.
	Heartbeat func()
}

// HeartbeatEvery is how often a waiting long poll calls its heartbeat.
const HeartbeatEvery = time.Second

// LDAPDirectoryFeed answers the directory feed of a provider (ldap.read
// on it). With Wait, an answer for a cursor that is current waits until
// anything changes (a token revoked, a role changed: not only entries),
// so that outposts re-check their sessions and cached binds at once.
func (s *LDAP) LDAPDirectoryFeed(ctx context.Context, a Actor, provider string, q DirectoryFeedQuery) (DirectoryFeed, error) {
	if err := s.authorize(ctx, a, authz.LDAPRead, ldapProviderTarget(provider), ldapObj(provider)); err != nil {
		return DirectoryFeed{}, err
	}
	var f fields
	if q.Wait < 0 || q.Wait > MaxFeedWait {
		f.add("wait", fmt.Sprintf("must be a duration from 0s to %s", MaxFeedWait))
	}
	since, sinceOK := s.parseCursor(q.Since)
	if q.Since != "" && !sinceOK && !strings.Contains(q.Since, ".") {
		f.add("since", "must be a cursor from a previous answer")
	}
	if err := f.err(); err != nil {
		return DirectoryFeed{}, err
	}
	if _, err := s.store.GetLDAPProvider(ctx, provider); err != nil {
		return DirectoryFeed{}, notFound(err, "LDAP provider", provider)
	}
	if sinceOK && q.Wait > 0 {
		deadline := time.Now().Add(q.Wait)
		for {
			step := min(time.Until(deadline), HeartbeatEvery)
			if step <= 0 || s.WaitForChange(ctx, since, step) > since {
				break
			}
			if err := ctx.Err(); err != nil {
				return DirectoryFeed{}, err
			}
			if q.Heartbeat != nil {
				q.Heartbeat()
			}
		}
		if err := ctx.Err(); err != nil {
			return DirectoryFeed{}, err
		}
	}
	d, err := s.directoryWithHeartbeat(ctx, q.Heartbeat)
	if err != nil {
		return DirectoryFeed{}, err
	}
	p, err := s.store.GetLDAPProvider(ctx, provider)
	if err != nil {
		return DirectoryFeed{}, notFound(err, "LDAP provider", provider)
	}
	pv, err := s.ldapProviderView(ctx, s.store, p)
	if err != nil {
		return DirectoryFeed{}, err
	}
	var out DirectoryFeed
	if q.Entries {
		out = d.delta(since, sinceOK)
	} else {
		out = DirectoryFeed{Cursor: d.Cursor, Users: []*DirectoryUser{}, Groups: []*DirectoryGroup{}, RemovedUsers: []string{}, RemovedGroups: []string{}}
	}
	out.Provider = pv
	return out, nil
}
