package core

import (
	"context"

	"github.com/gatehouse/gatehouse/internal/authz"
)

// Entrant is an active account that an application's bindings admit,
// with the bindings that let it in.
type Entrant struct {
	Username string   `json:"username"`
	Type     string   `json:"type"`
	Name     string   `json:"name"`
	Via      []string `json:"via"` // "user alice", "group ops", "not group contractors"
}

// Entrants is the answer of "who can enter" an application.
type Entrants struct {
	Application string    `json:"application"`
	Open        bool      `json:"open"` // no bindings: every active account
	Mode        string    `json:"mode"`
	Accounts    []Entrant `json:"accounts"`
}

// Entrants lists the active accounts (people and service accounts) that
// the application with that slug admits: the decision Admit takes for
// each of them, from the same compiled bindings, over the directory view
// (active accounts and their groups). It names accounts, so it needs
// users.read as well as applications.read on the application. A key
// restricted to other applications is a property of the key, not of the
// account: it is not considered here.
func (s *Applications) Entrants(ctx context.Context, a Actor, slug string) (Entrants, error) {
	target := applicationTarget(slug)
	if err := s.authorize(ctx, a, authz.ApplicationsRead, target, applicationObj(slug)); err != nil {
		return Entrants{}, err
	}
	if err := s.authorize(ctx, a, authz.UsersRead, target); err != nil {
		return Entrants{}, err
	}
	app, err := s.admissionApp(ctx, slug)
	if err != nil {
		return Entrants{}, err
	}
	dir, err := s.LDAP.LDAPDirectory(ctx)
	if err != nil {
		return Entrants{}, err
	}
	out := Entrants{Application: slug, Open: len(app.bindings) == 0, Mode: app.mode, Accounts: []Entrant{}}
	for _, u := range dir.Users { // sorted by username
		p := &authz.Principal{UID: u.UID, Username: u.Username, Groups: u.Groups, Active: true}
		if admitted, _ := app.admits(p); !admitted {
			continue
		}
		e := Entrant{Username: u.Username, Type: u.Type, Name: u.Name, Via: []string{}}
		for i := range app.bindings {
			b := &app.bindings[i]
			if b.matches(p) == b.negate {
				continue // did not pass
			}
			e.Via = append(e.Via, b.describe())
		}
		out.Accounts = append(out.Accounts, e)
	}
	return out, nil
}

// describe says what a binding that passed matched.
func (b *admissionBinding) describe() string {
	what := "user " + b.name
	if b.group {
		what = "group " + b.name
	}
	if b.negate {
		return "not " + what
	}
	return what
}
