package ui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/gatehouse/gatehouse/internal/core"
)

// deletion is how one kind of object is deleted from its page: a
// confirmation page asking for the name, then the form's handler.
type deletion struct {
	kind    string // "group", in sentences
	section string // of the menu
	path    string // the object's address, less its name: "/groups/"
	perm    string // the permission to delete (unscoped); "" when read checks a scoped one
	details []string
	list    string // where to go afterwards
	// read loads the object, for its 404 and 403 as its own page answers;
	// a *notDeletable error says the object exists but cannot go.
	read func(s *Server, ctx context.Context, c *reqCtx, name string) error
	del  func(s *Server, ctx context.Context, c *reqCtx, name string) error
}

// notDeletable is a deletion's read saying the object cannot be deleted
// (a built-in role), and why.
type notDeletable struct{ why string }

func (e *notDeletable) Error() string { return e.why }

func (d deletion) confirm(name string, f *form) confirmData {
	return confirmData{Kind: d.kind, Name: name, Action: d.path + url.PathEscape(name) + "/delete", Back: d.path + url.PathEscape(name),
		Details: d.details, Form: f}
}

// page is the GET handler of the confirmation page.
func (d deletion) page(s *Server) handler {
	return func(w http.ResponseWriter, r *http.Request, c *reqCtx) {
		name := r.PathValue("name")
		err := d.read(s, r.Context(), c, name)
		var nd *notDeletable
		if err != nil && !errors.As(err, &nd) {
			s.fail(w, r, c, err)
			return
		}
		if d.perm != "" && !c.can(d.perm) {
			s.forbiddenNeeds(w, r, c, d.perm)
			return
		}
		if nd != nil {
			s.renderError(w, r, c, http.StatusConflict, "Not possible", nd.why)
			return
		}
		s.renderConfirm(w, r, c, http.StatusOK, d.section, d.confirm(name, newForm(nil)))
	}
}

// post is the handler of the confirmation form.
func (d deletion) post(s *Server) handler {
	return func(w http.ResponseWriter, r *http.Request, c *reqCtx) {
		s.deleteConfirmed(w, r, c, d.section, func(f *form) confirmData { return d.confirm(r.PathValue("name"), f) },
			func(name string) error { return d.del(s, r.Context(), c, name) },
			capitalize(d.kind)+" %s deleted.", d.list)
	}
}

func (s *Server) renderConfirm(w http.ResponseWriter, r *http.Request, c *reqCtx, status int, section string, d confirmData) {
	s.render(w, r, c, status, "confirm_delete", "Delete "+d.Kind+" "+d.Name, section, d)
}

// confirmed checks the typed name of a deletion: a guard against the
// wrong row, and against a form replayed by accident.
func confirmed(v url.Values, name string) bool { return v.Get("confirm") == name }

// deleteConfirmed is every delete form's handler: the name typed again
// (confirmed), else the confirmation page again with the error; then the
// deletion, a flash naming what went, and back to the list.
func (s *Server) deleteConfirmed(w http.ResponseWriter, r *http.Request, c *reqCtx, section string,
	confirm func(*form) confirmData, del func(name string) error, done, list string) {
	name := r.PathValue("name")
	v, ok := s.values(w, r, c)
	if !ok {
		return
	}
	if !confirmed(v, name) {
		f := newForm(v)
		f.Errors["confirm"] = "Type the name exactly to confirm."
		s.renderConfirm(w, r, c, http.StatusBadRequest, section, confirm(f))
		return
	}
	if err := del(name); err != nil {
		s.fail(w, r, c, err)
		return
	}
	s.setFlash(w, r, "ok", fmt.Sprintf(done, name))
	s.redirect(w, r, list)
}

// removeFrom is a remove button of an object's page (a member of a group,
// a holder of a role): remove calls the core; a NotFoundError of kind gone
// says it was already gone, an info flash (already), not an error; done
// is the flash otherwise, and back the object's page.
func (s *Server) removeFrom(w http.ResponseWriter, r *http.Request, c *reqCtx, remove func(ctx context.Context) error,
	gone, already, done, back string) {
	if _, ok := s.values(w, r, c); !ok {
		return
	}
	err := remove(r.Context())
	var nf *core.NotFoundError
	switch {
	case errors.As(err, &nf) && nf.Kind == gone:
		s.setFlash(w, r, "info", already)
	case err != nil:
		s.fail(w, r, c, err)
		return
	default:
		s.setFlash(w, r, "ok", done)
	}
	s.redirect(w, r, back)
}
