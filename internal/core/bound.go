package core

// No way up: the one rule, in one file.
//
// Nothing anyone does hands anyone, the actor included, a permission the
// actor does not hold, and nobody changes an account that holds more than
// they do. Two checks carry it, each run inside the write transaction
// against the state that transaction commits on (PostgreSQL write
// transactions take turns on the gate, so no concurrent change slips in
// between the check and the commit):
//
//   - mayGrant: what a change hands out (a group's roles to a new member,
//     an outpost's permissions to its new key) must be within the actor's
//     own rights, unless the actor holds roles.write, the permission that
//     can grant anything and says so.
//   - mayActOn: changing an account (its profile, active flag, password,
//     second factor, direct permissions and roles, group memberships, its
//     tokens) or deleting it needs an actor who holds at least everything
//     that account holds. roles.write is no exception here: changing an
//     administrator takes an administrator.
//
// A refusal is a *ForbiddenError; s.write records its authz_denied event
// once the transaction has rolled back.

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/store"
)

// ForbiddenError is a 403 that says why. It is ErrForbidden for errors.Is.
type ForbiddenError struct {
	// Permission is the permission the refused action was asked under.
	Permission string
	// Detail says why, for the problem document; it never names more
	// than the actor could already read.
	Detail string

	actor    Actor
	target   audit.Target
	recorded bool
}

func (e *ForbiddenError) Error() string {
	if e.Detail == "" {
		return "forbidden"
	}
	return "forbidden: " + e.Detail
}

// Is makes a ForbiddenError match ErrForbidden.
func (e *ForbiddenError) Is(target error) bool { return target == ErrForbidden }

// refuse builds the refusal of a check run inside a transaction: its
// authz_denied event is written by s.write after the rollback.
func refuse(a Actor, perm string, target audit.Target, detail string) *ForbiddenError {
	return &ForbiddenError{Permission: perm, Detail: detail, actor: a, target: target}
}

// accountPower is what account u holds, as the transaction q sees it.
func accountPower(ctx context.Context, q store.Queries, u store.User) (*authz.Principal, error) {
	g, err := q.UserGrants(ctx, u.UID)
	if err != nil {
		return nil, err
	}
	return auth.BuildPrincipal(u, g), nil
}

// mayActOn refuses when u holds something a does not: a change to u, or
// to what u holds, needs an actor at least as powerful as u.
func mayActOn(ctx context.Context, q store.Queries, a Actor, u store.User, perm string, target audit.Target) error {
	if a.P != nil && a.P.UID == u.UID && !a.P.Narrowed {
		return nil // the account itself, with its full power
	}
	p, err := accountPower(ctx, q, u)
	if err != nil {
		return err
	}
	if a.P.Covers(p) {
		return nil
	}
	return refuse(a, perm, target, fmt.Sprintf("%q holds permissions you do not hold", u.Username))
}

// mayGrant refuses when roles and perms, handed to an account by the
// change, hold something a does not, unless a holds roles.write.
func mayGrant(a Actor, perm string, target audit.Target, what string, roles, perms []string) error {
	if a.P.Can(authz.RolesWrite) {
		return nil
	}
	grants := authz.NewPrincipal(authz.Identity{Active: true}, authz.Grants{Roles: roles, Permissions: perms})
	if a.P.Covers(grants) {
		return nil
	}
	missing := missingFrom(a.P, grants)
	return refuse(a, perm, target, fmt.Sprintf("%s would grant permissions you do not hold: %s", what, strings.Join(missing, ", ")))
}

// missingFrom lists what q holds that p does not, for a refusal's detail.
func missingFrom(p, q *authz.Principal) []string {
	if q.IsAdmin() && !p.IsAdmin() {
		return []string{"the role " + authz.AdminRole}
	}
	var out []string
	for _, s := range q.Permissions {
		perm, err := authz.ParsePermission(s)
		if err == nil && !p.CanOn(perm.Name, authz.Object{Kind: perm.Kind, Name: perm.Object}) {
			out = append(out, s)
		}
	}
	return out
}

// groupGrants is what membership of group g hands its members: the roles
// assigned to it and their permissions, as the transaction q sees them.
func groupGrants(ctx context.Context, q store.Queries, g store.Group) (roles, perms []string, err error) {
	roles, err = q.GroupRoles(ctx, g.UID)
	if err != nil {
		return nil, nil, err
	}
	for _, name := range roles {
		r, err := q.GetRole(ctx, name)
		if err != nil {
			return nil, nil, err
		}
		perms = append(perms, r.Permissions...)
	}
	return roles, perms, nil
}

// mayJoin is the bound on putting account u into group g: the group's
// roles must be within the actor's rights (mayGrant) and u must be an
// account the actor may change (mayActOn).
func mayJoin(ctx context.Context, q store.Queries, a Actor, g store.Group, u *store.User) error {
	roles, perms, err := groupGrants(ctx, q, g)
	if err != nil {
		return err
	}
	if err := mayGrant(a, authz.GroupsWrite, groupTarget(g.Name), fmt.Sprintf("membership of group %q", g.Name), roles, perms); err != nil {
		return err
	}
	if u == nil {
		return nil
	}
	return mayActOn(ctx, q, a, *u, authz.GroupsWrite, groupTarget(g.Name))
}

// bindingsOf lists the applications (by slug, sorted) whose bindings name
// the user or group with this UID: deleting it would change who they
// admit.
func bindingsOf(ctx context.Context, q store.Queries, subjectUID string) ([]string, error) {
	bs, err := q.AllBindings(ctx)
	if err != nil {
		return nil, err
	}
	uids := map[string]bool{}
	for _, b := range bs {
		if b.SubjectUID == subjectUID {
			uids[b.ApplicationUID] = true
		}
	}
	if len(uids) == 0 {
		return nil, nil
	}
	apps, err := q.ListApplications(ctx, store.ApplicationFilter{})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, app := range apps {
		if uids[app.UID] {
			out = append(out, app.Slug)
		}
	}
	sort.Strings(out)
	return out, nil
}

// mayUnbind guards the deletion of a user or group that applications are
// bound to: a change outside applications.* must never widen who an
// application admits (a binding gone may open it, or lift an exclusion).
// An actor who may change every such application goes ahead, and each
// application gets an event saying its binding went with the subject;
// anyone else gets 409 naming them.
func (s *Service) mayUnbind(ctx context.Context, q store.Queries, rec func(store.Event), a Actor, kind, name, subjectUID string) error {
	slugs, err := bindingsOf(ctx, q, subjectUID)
	if err != nil || len(slugs) == 0 {
		return err
	}
	for _, slug := range slugs {
		if !a.P.CanOn(authz.ApplicationsWrite, applicationObj(slug)) {
			return &ConflictError{Msg: fmt.Sprintf("%s %q is bound to the applications %s: deleting it would change who they admit; "+
				"remove those bindings first (applications.write)", kind, name, strings.Join(slugs, ", "))}
		}
	}
	for _, slug := range slugs {
		rec(s.event(a, audit.ActionModelUpdated, audit.Success, applicationTarget(slug), map[string]any{
			"binding": kind + "/" + name, "change": "deleted", "reason": kind + " deleted"}))
	}
	return nil
}
