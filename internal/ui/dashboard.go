package ui

import (
	"net/http"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/core"
)

// Dashboard windows.
const (
	expiringWindow = 7 * 24 * time.Hour
	unusedWindow   = 90 * 24 * time.Hour
	dashboardRows  = 10
)

type stat struct {
	Label string
	Value int
	URL   string
}

type dashboardData struct {
	Stats        []stat
	Expiring     []core.TokenView
	MoreExpiring bool
	Unused       []core.TokenView
	MoreUnused   bool
	AllTokens    bool // the lists cover everyone's tokens, not only one's own
	FailedLogins []core.EventView
	ShowFailed   bool
}

func (s *Server) dashboard(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	ctx := r.Context()
	var d dashboardData
	// Counts only of what the principal may read (the core leaves out
	// the rest).
	counts, err := s.core.CountObjects(ctx, c.actor)
	if err != nil {
		s.fail(w, r, c, err)
		return
	}
	add := func(label string, n *int, link string) {
		if n != nil {
			d.Stats = append(d.Stats, stat{label, *n, link})
		}
	}
	add("Service accounts", counts.ServiceAccounts, "/service-accounts")
	add("People", counts.People, "/people")
	add("API tokens", counts.APITokens, "/tokens?intent=api")
	add("App passwords", counts.AppPasswords, "/tokens?intent=app_password")
	d.AllTokens = counts.APITokens != nil
	add("Groups", counts.Groups, "/groups")
	add("Roles", counts.Roles, "/roles")
	add("Signed-in sessions", counts.Sessions, "")

	// Without tokens.read these lists hold the user's own tokens (the
	// core's rule for token lists).
	exp, err := s.core.Credentials.ListTokens(ctx, c.actor, core.TokenQuery{ExpiringWithin: expiringWindow.String(), Limit: 200})
	if err != nil {
		s.fail(w, r, c, err)
		return
	}
	for _, t := range exp {
		if !t.Expired {
			d.Expiring = append(d.Expiring, t)
		}
	}
	sortByExpiry(d.Expiring)
	d.Expiring, d.MoreExpiring = cut(d.Expiring, dashboardRows)

	unused, err := s.core.Credentials.ListTokens(ctx, c.actor, core.TokenQuery{UnusedFor: unusedWindow.String(), Limit: 500})
	if err != nil {
		s.fail(w, r, c, err)
		return
	}
	cutoff := s.clock.Now().Add(-unusedWindow)
	for _, t := range unused {
		// "Unused for 90 days" means old enough to have been used: a token
		// made last week and not used yet is not stale.
		// The store's last use trails the in-memory one (batched writes);
		// the view has the fresher of the two.
		if t.LastUsedAt != nil && t.LastUsedAt.After(cutoff) {
			continue
		}
		if t.CreatedAt.Before(cutoff) && !t.Expired {
			d.Unused = append(d.Unused, t)
		}
	}
	d.Unused, d.MoreUnused = cut(d.Unused, dashboardRows)

	if c.can(authz.EventsRead) {
		d.ShowFailed = true
		d.FailedLogins, err = s.core.Events.ListEvents(ctx, c.actor, core.EventQuery{Action: audit.ActionLoginFailed, Limit: dashboardRows})
		if err != nil {
			s.fail(w, r, c, err)
			return
		}
	}
	s.render(w, r, c, http.StatusOK, "dashboard", "Dashboard", "dashboard", d)
}

func cut[T any](s []T, n int) ([]T, bool) {
	if len(s) > n {
		return s[:n], true
	}
	return s, false
}

func sortByExpiry(ts []core.TokenView) {
	slices.SortStableFunc(ts, func(a, b core.TokenView) int {
		if a.ExpiresAt == nil || b.ExpiresAt == nil {
			return 0
		}
		return a.ExpiresAt.Compare(*b.ExpiresAt)
	})
}
