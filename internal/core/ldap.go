package core

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/gatehouse/gatehouse/client"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/ldap/dn"
	"github.com/gatehouse/gatehouse/internal/store"
)

// LDAPProviderView is an LDAP provider as the API shows it.
type LDAPProviderView = client.LDAPProvider

func ldapProviderTarget(name string) audit.Target {
	return audit.Target{Kind: audit.KindLDAPProvider, Name: name}
}

func ldapObj(name string) authz.Object { return authz.Object{Kind: authz.KindLDAP, Name: name} }

func (s *LDAP) ldapProviderView(ctx context.Context, q store.Queries, p store.LDAPProvider) (LDAPProviderView, error) {
	os, err := q.ListOutposts(ctx, store.OutpostFilter{ProviderUID: p.UID})
	if err != nil {
		return LDAPProviderView{}, err
	}
	names := make([]string, len(os))
	for i, o := range os {
		names[i] = o.Name
	}
	return LDAPProviderView{UID: p.UID, Name: p.Name, BaseDN: p.BaseDN, SearchGroup: p.SearchGroup, BindMode: p.BindMode,
		SearchMode: p.SearchMode, UPNDomain: p.UPNDomain, Outposts: names, CreatedAt: p.CreatedAt}, nil
}

// LDAPProviderInput is POST /ldap-providers.
type LDAPProviderInput struct {
	Name        string  `json:"name"`
	BaseDN      string  `json:"base_dn"`
	SearchGroup *string `json:"search_group"`
	BindMode    *string `json:"bind_mode"`
	SearchMode  *string `json:"search_mode"`
	UPNDomain   *string `json:"upn_domain"`
}

// LDAPProviderPatch is PATCH /ldap-providers/{name}: nil fields stay.
type LDAPProviderPatch struct {
	BaseDN      *string `json:"base_dn"`
	SearchGroup *string `json:"search_group"`
	BindMode    *string `json:"bind_mode"`
	SearchMode  *string `json:"search_mode"`
	UPNDomain   *string `json:"upn_domain"`
}

// domainRule: a DNS name of letters, digits and hyphens (UPN suffixes).
var domainRule = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// NormalizeBaseDN validates a base DN and returns its stored form: lower
// case attribute types (long names and OIDs made short) and values
// escaped as RFC 4514 says.
func NormalizeBaseDN(s string) (string, error) {
	if strings.TrimSpace(s) == "" {
		return "", errors.New("is required, for example dc=example,dc=com")
	}
	if len(s) > 1024 {
		return "", errors.New("must be at most 1024 characters")
	}
	d, err := dn.Parse(s)
	if err != nil {
		return "", fmt.Errorf("is not a distinguished name: %v", err)
	}
	for _, rdn := range d {
		for _, a := range rdn {
			if a.Value == "" {
				return "", fmt.Errorf("has an empty value for %s", a.Type)
			}
		}
	}
	return d.String(), nil
}

func validLDAPMode(f *fields, field string, v *string) {
	if v != nil && *v != store.LDAPModeDirect && *v != store.LDAPModeCached {
		f.add(field, "must be direct or cached")
	}
}

// applyLDAPProvider validates the settable fields and writes them into p.
func applyLDAPProvider(f *fields, p *store.LDAPProvider, baseDN, searchGroup, bindMode, searchMode, upnDomain *string) {
	if baseDN != nil {
		norm, err := NormalizeBaseDN(*baseDN)
		if err != nil {
			f.add("base_dn", err.Error())
		}
		p.BaseDN = norm
	}
	if searchGroup != nil {
		if *searchGroup != "" && !NameRule.MatchString(*searchGroup) {
			f.add("search_group", "must be a group name ("+nameRuleText+") or empty")
		}
		p.SearchGroup = *searchGroup
	}
	validLDAPMode(f, "bind_mode", bindMode)
	if bindMode != nil {
		p.BindMode = *bindMode
	}
	validLDAPMode(f, "search_mode", searchMode)
	if searchMode != nil {
		p.SearchMode = *searchMode
	}
	if upnDomain != nil {
		d := strings.ToLower(*upnDomain)
		if d != "" && (len(d) > 253 || !domainRule.MatchString(d)) {
			f.add("upn_domain", "must be a domain name such as example.com, or empty")
		}
		p.UPNDomain = d
	}
}

// checkSearchGroup verifies, inside the change's transaction, that the
// search group exists.
func checkSearchGroup(ctx context.Context, q store.Queries, group string) error {
	if group == "" {
		return nil
	}
	if _, err := q.GetGroup(ctx, group); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return &ValidationError{[]FieldError{{"search_group", fmt.Sprintf("group %q does not exist", group)}}}
		}
		return err
	}
	return nil
}

// CreateLDAPProvider creates a provider (ldap.write, unscoped).
func (s *LDAP) CreateLDAPProvider(ctx context.Context, a Actor, in LDAPProviderInput) (LDAPProviderView, error) {
	if err := s.authorize(ctx, a, authz.LDAPWrite, ldapProviderTarget(in.Name)); err != nil {
		return LDAPProviderView{}, err
	}
	var f fields
	f.name("name", in.Name)
	p := store.LDAPProvider{UID: newUID(), Name: in.Name, BindMode: store.LDAPModeDirect, SearchMode: store.LDAPModeCached, CreatedAt: s.now()}
	baseDN := in.BaseDN
	applyLDAPProvider(&f, &p, &baseDN, in.SearchGroup, in.BindMode, in.SearchMode, in.UPNDomain)
	if err := f.err(); err != nil {
		return LDAPProviderView{}, err
	}
	var out LDAPProviderView
	err := s.write(ctx, func(q store.Queries, rec func(store.Event)) error {
		if err := checkSearchGroup(ctx, q, p.SearchGroup); err != nil {
			return err
		}
		if err := q.CreateLDAPProvider(ctx, p); err != nil {
			return taken(err, "LDAP provider", p.Name)
		}
		rec(s.event(a, audit.ActionModelCreated, audit.Success, ldapProviderTarget(p.Name), providerEventContext(p)))
		var err error
		out, err = s.ldapProviderView(ctx, q, p)
		return err
	})
	return out, err
}

func providerEventContext(p store.LDAPProvider) map[string]any {
	return map[string]any{"base_dn": p.BaseDN, "search_group": p.SearchGroup, "bind_mode": p.BindMode,
		"search_mode": p.SearchMode, "upn_domain": p.UPNDomain}
}

// ListLDAPProviders lists providers (ldap.read; a scoped grant sees its providers).
func (s *LDAP) ListLDAPProviders(ctx context.Context, a Actor, after string, limit int) ([]LDAPProviderView, error) {
	name := func(p store.LDAPProvider) string { return p.Name }
	return scopedList(ctx, s.Service, a, authz.LDAPRead, ldapObj, ldapProviderTarget(""), "", after, limit,
		func(after string, limit int) ([]store.LDAPProvider, error) {
			return s.store.ListLDAPProviders(ctx, store.LDAPProviderFilter{After: after, Limit: limit})
		}, name, name, func(p store.LDAPProvider) (LDAPProviderView, error) { return s.ldapProviderView(ctx, s.store, p) })
}

// GetLDAPProvider reads one provider (ldap.read on it).
func (s *LDAP) GetLDAPProvider(ctx context.Context, a Actor, name string) (LDAPProviderView, error) {
	return readOne(ctx, s.authorize(ctx, a, authz.LDAPRead, ldapProviderTarget(name), ldapObj(name)),
		s.store.GetLDAPProvider, "LDAP provider", name,
		func(p store.LDAPProvider) (LDAPProviderView, error) { return s.ldapProviderView(ctx, s.store, p) })
}

// UpdateLDAPProvider changes a provider's settings (ldap.write on it).
// Names cannot change: scoped permissions name providers.
func (s *LDAP) UpdateLDAPProvider(ctx context.Context, a Actor, name string, in LDAPProviderPatch) (LDAPProviderView, error) {
	if err := s.authorize(ctx, a, authz.LDAPWrite, ldapProviderTarget(name), ldapObj(name)); err != nil {
		return LDAPProviderView{}, err
	}
	var f fields
	var probe store.LDAPProvider
	applyLDAPProvider(&f, &probe, in.BaseDN, in.SearchGroup, in.BindMode, in.SearchMode, in.UPNDomain)
	if err := f.err(); err != nil {
		return LDAPProviderView{}, err
	}
	var out LDAPProviderView
	err := s.write(ctx, func(q store.Queries, rec func(store.Event)) error {
		p, err := q.GetLDAPProvider(ctx, name)
		if err != nil {
			return notFound(err, "LDAP provider", name)
		}
		before := p
		var f fields
		applyLDAPProvider(&f, &p, in.BaseDN, in.SearchGroup, in.BindMode, in.SearchMode, in.UPNDomain)
		if err := f.err(); err != nil {
			return err
		}
		if in.SearchGroup != nil && p.SearchGroup != before.SearchGroup {
			if err := checkSearchGroup(ctx, q, p.SearchGroup); err != nil {
				return err
			}
		}
		if p != before {
			if err := q.UpdateLDAPProvider(ctx, p); err != nil {
				return notFound(err, "LDAP provider", name)
			}
			rec(s.event(a, audit.ActionModelUpdated, audit.Success, ldapProviderTarget(name), providerEventContext(p)))
		}
		out, err = s.ldapProviderView(ctx, q, p)
		return err
	})
	return out, err
}

// DeleteLDAPProvider deletes a provider no outpost serves (ldap.write on it).
func (s *LDAP) DeleteLDAPProvider(ctx context.Context, a Actor, name string) error {
	if err := s.authorize(ctx, a, authz.LDAPWrite, ldapProviderTarget(name), ldapObj(name)); err != nil {
		return err
	}
	return s.write(ctx, func(q store.Queries, rec func(store.Event)) error {
		p, err := q.GetLDAPProvider(ctx, name)
		if err != nil {
			return notFound(err, "LDAP provider", name)
		}
		if err := q.DeleteLDAPProvider(ctx, p.UID); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return &ConflictError{Msg: fmt.Sprintf("LDAP provider %q is served by outposts; delete them first", name)}
			}
			return notFound(err, "LDAP provider", name)
		}
		rec(s.event(a, audit.ActionModelDeleted, audit.Success, ldapProviderTarget(name), nil))
		return nil
	})
}
