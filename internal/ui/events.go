package ui

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/core"
)

// knownActions are offered as suggestions in the action filter; any
// action name may be typed.
var knownActions = []string{
	audit.ActionLogin, audit.ActionLoginFailed, audit.ActionLogout, audit.ActionAuthzDenied,
	audit.ActionModelCreated, audit.ActionModelUpdated, audit.ActionModelDeleted,
	audit.ActionTokenCreated, audit.ActionTokenRotated, audit.ActionTokenRevoked, audit.ActionTokenExpired, audit.ActionTokenUpdated,
	audit.ActionPasswordSet, audit.ActionMemberAdded, audit.ActionMemberRemoved, audit.ActionRoleAssigned, audit.ActionRoleRemoved,
	audit.ActionSessionsRevoked, audit.ActionTOTPEnabled, audit.ActionTOTPDisabled,
	audit.ActionRecoveryCodesGenerated, audit.ActionRecoveryCodeUsed,
}

type eventsData struct {
	Form    *form
	Items   []core.EventView
	Next    string
	Actions []string
}

// localTime turns a datetime-local value (read as UTC, the page says so)
// into RFC 3339 for the core; anything else is passed on for the core to
// refuse with its own message.
func localTime(v string) string {
	v = strings.TrimSpace(v)
	if v == "" {
		return ""
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC().Format(time.RFC3339)
		}
	}
	return v
}

func (s *Server) events(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	q := r.URL.Query()
	d := eventsData{Form: newForm(q), Actions: knownActions}
	eq := core.EventQuery{Action: strings.TrimSpace(q.Get("action")), Actor: strings.TrimSpace(q.Get("actor")),
		Target: strings.TrimSpace(q.Get("target")), Since: localTime(q.Get("since")), Until: localTime(q.Get("until")), Limit: pageSize + 1}
	if b := q.Get("before"); b != "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 {
			d.Form.Errors["before"] = "Not a page of this list."
			d.Form.Summary = append(d.Form.Summary, "Page: not a page of this list")
			s.render(w, r, c, http.StatusBadRequest, "events", "Events", "events", d)
			return
		}
		eq.Before = n
	}
	items, err := s.core.Events.ListEvents(r.Context(), c.actor, eq)
	if err != nil {
		if status, ok := d.Form.formError(err, nil); ok && status == http.StatusBadRequest {
			s.render(w, r, c, status, "events", "Events", "events", d)
			return
		}
		s.fail(w, r, c, err)
		return
	}
	if len(items) > pageSize {
		items = items[:pageSize]
		next := url.Values{}
		for k, v := range q {
			next[k] = v
		}
		next.Set("before", strconv.FormatInt(items[pageSize-1].ID, 10))
		d.Next = next.Encode()
	}
	d.Items = items
	s.render(w, r, c, http.StatusOK, "events", "Events", "events", d)
}
