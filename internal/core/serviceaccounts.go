package core

import (
	"context"
	"fmt"

	"github.com/gatehouse/gatehouse/client"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/store"
)

// CreateServiceAccountInput is POST /service-accounts.
type CreateServiceAccountInput struct {
	Username    string   `json:"username"`
	Description string   `json:"description"`
	Groups      []string `json:"groups"`
	Roles       []string `json:"roles"`
	CreateGroup bool     `json:"create_group"`
	TokenIntent string   `json:"token_intent"`
	Expiring    *bool    `json:"expiring"`
	ExpiresAt   *string  `json:"expires_at"`
	TTL         *string  `json:"ttl"`
	// The first credential's least privilege (restrictions.go).
	Permissions   *[]string `json:"permissions"`
	AllowedCIDRs  []string  `json:"allowed_cidrs"`
	Applications  []string  `json:"applications"`
	LDAPProviders []string  `json:"ldap_providers"`
}

// CreatedServiceAccount is the answer: the account, its group when one
// was made, and its first credential with the key (shown this once).
type CreatedServiceAccount = client.CreatedServiceAccount

// CreateServiceAccount makes a service account, optionally its own group,
// its group memberships and roles, and a first credential, all in one
// transaction. It needs users.write; roles need roles.write; groups need
// groups.write on each group (or unscoped to create one).
func (s *Accounts) CreateServiceAccount(ctx context.Context, a Actor, in CreateServiceAccountInput) (CreatedServiceAccount, error) {
	target := audit.Target{Kind: audit.KindUser, Name: in.Username}
	if err := s.authorize(ctx, a, authz.UsersWrite, target); err != nil {
		return CreatedServiceAccount{}, err
	}
	if len(in.Roles) > 0 {
		if err := s.authorize(ctx, a, authz.RolesWrite, target); err != nil {
			return CreatedServiceAccount{}, err
		}
	}
	for _, g := range in.Groups {
		if err := s.authorize(ctx, a, authz.GroupsWrite, groupTarget(g), groupObj(g)); err != nil {
			return CreatedServiceAccount{}, err
		}
	}
	if in.CreateGroup {
		if err := s.authorize(ctx, a, authz.GroupsWrite, groupTarget(in.Username)); err != nil {
			return CreatedServiceAccount{}, err
		}
	}
	if in.TokenIntent != "none" {
		// The first credential is a new key for the actor: not from a key
		// that was rotated out.
		if err := s.Credentials.refuseGraceKey(ctx, a, target); err != nil {
			return CreatedServiceAccount{}, err
		}
	}
	if in.TokenIntent == "" {
		in.TokenIntent = store.IntentAppPassword
	}
	var f fields
	f.name("username", in.Username)
	f.maxLen("description", in.Description, 1024)
	for i, g := range in.Groups {
		if !NameRule.MatchString(g) {
			f.add(fmt.Sprintf("groups[%d]", i), nameRuleText)
		}
	}
	for i, r := range in.Roles {
		if !NameRule.MatchString(r) {
			f.add(fmt.Sprintf("roles[%d]", i), nameRuleText)
		}
	}
	var life tokenLife
	switch in.TokenIntent {
	case store.IntentAPI, store.IntentAppPassword:
		life = s.Credentials.parseLife(&f, lifeInput{Expiring: in.Expiring, ExpiresAt: in.ExpiresAt, TTL: in.TTL, DefaultTTL: DefaultServiceAccountTTL})
	case "none":
		if in.Expiring != nil || in.ExpiresAt != nil || in.TTL != nil {
			f.add("token_intent", "none makes no credential: expiring, expires_at and ttl do not apply")
		}
		if in.Permissions != nil || in.AllowedCIDRs != nil || in.Applications != nil || in.LDAPProviders != nil {
			f.add("token_intent", "none makes no credential: permissions, allowed_cidrs, applications and ldap_providers do not apply")
		}
	default:
		f.add("token_intent", "must be app_password, api or none")
	}
	if err := f.err(); err != nil {
		return CreatedServiceAccount{}, err
	}

	var out CreatedServiceAccount
	err := s.write(ctx, func(q store.Queries, rec func(store.Event)) error {
		now := s.now()
		u := store.User{UID: newUID(), Username: in.Username, Type: store.TypeServiceAccount,
			Description: in.Description, IsActive: true, CreatedAt: now}
		if err := q.CreateUser(ctx, u); err != nil {
			return taken(err, "user", u.Username)
		}
		rec(s.event(a, audit.ActionModelCreated, audit.Success, target, map[string]any{"type": u.Type}))
		groups := append([]string(nil), in.Groups...)
		if in.CreateGroup {
			g := store.Group{UID: newUID(), Name: in.Username, Description: "Group of service account " + in.Username, CreatedAt: now}
			if err := s.Access.createGroup(ctx, q, rec, a, g); err != nil {
				return err
			}
			gv := GroupView{UID: g.UID, Name: g.Name, Description: g.Description, Members: []string{u.Username}, Roles: []string{}, CreatedAt: g.CreatedAt}
			out.Group = &gv
			groups = append(groups, g.Name)
		}
		var bad fields
		for i, name := range groups {
			g, err := q.GetGroup(ctx, name)
			if err != nil {
				if i < len(in.Groups) {
					bad.add(fmt.Sprintf("groups[%d]", i), fmt.Sprintf("group %q does not exist", name))
					continue
				}
				return err
			}
			// The new account and its first key are the actor's to use: no
			// way up through the groups it joins (bound.go).
			if err := mayJoin(ctx, q, a, g, nil); err != nil {
				return err
			}
			if err := q.AddMember(ctx, g.UID, u.UID); err != nil {
				return err
			}
			rec(s.event(a, audit.ActionMemberAdded, audit.Success, groupTarget(name), map[string]any{"user": u.Username}))
		}
		for i, name := range in.Roles {
			r, err := q.GetRole(ctx, name)
			if err != nil {
				bad.add(fmt.Sprintf("roles[%d]", i), fmt.Sprintf("role %q does not exist", name))
				continue
			}
			if err := q.AssignRoleToUser(ctx, r.UID, u.UID); err != nil {
				return err
			}
			rec(s.event(a, audit.ActionRoleAssigned, audit.Success, roleTarget(name), map[string]any{"user": u.Username}))
		}
		if err := bad.err(); err != nil {
			return err // rolls back the account and everything above
		}
		if in.TokenIntent != "none" {
			var f fields
			r, err := restrictionsFor(ctx, q, &f, a, u, RestrictionsInput{Permissions: in.Permissions,
				AllowedCIDRs: in.AllowedCIDRs, Applications: in.Applications, LDAPProviders: in.LDAPProviders})
			if err != nil {
				return err
			}
			if err := f.err(); err != nil {
				return err // rolls back the account and everything above
			}
			tv, err := s.Credentials.issueToken(ctx, q, rec, a, u, newToken{intent: in.TokenIntent, life: life, restrictions: r})
			if err != nil {
				return err
			}
			out.Token = &tv
		}
		g, err := q.UserGrants(ctx, u.UID)
		if err != nil {
			return err
		}
		out.User = userView(u, g)
		return nil
	})
	if err != nil {
		return CreatedServiceAccount{}, err
	}
	s.authn.InvalidatePrincipals()
	return out, nil
}
