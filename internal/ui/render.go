package ui

import (
	"bytes"
	"context"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/core"
	"github.com/gatehouse/gatehouse/internal/httpx"
)

//go:embed templates/*.html
var templateFiles embed.FS

// view is what every page template gets: the layout's needs plus the
// page's own Data.
type view struct {
	Title     string
	Section   string // the nav entry to mark current
	Brand     core.Brand
	User      *authz.Principal
	CSRF      string
	Nav       []navItem
	Flash     *flash
	LoginPage bool
	Data      any
}

type navItem struct{ Key, Label, URL string }

// Can is for templates: whether to show a control. The core decides.
func (v view) Can(perm string) bool { return v.User.Can(perm) }

// nav lists the sections the principal may use; the others are not shown.
func nav(p *authz.Principal) []navItem {
	items := []navItem{{"dashboard", "Dashboard", "/"}}
	if p.Can(authz.UsersRead) {
		items = append(items, navItem{"people", "People", "/people"}, navItem{"service-accounts", "Service accounts", "/service-accounts"})
	}
	// Everyone has tokens of their own to see.
	items = append(items, navItem{"tokens", "Tokens", "/tokens"})
	if p.CanSomewhere(authz.GroupsRead, authz.KindGroup) {
		items = append(items, navItem{"groups", "Groups", "/groups"})
	}
	if p.Can(authz.RolesRead) {
		items = append(items, navItem{"roles", "Roles", "/roles"})
	}
	if p.CanSomewhere(authz.ApplicationsRead, authz.KindApplication) {
		items = append(items, navItem{"applications", "Applications", "/applications"})
	}
	if p.CanSomewhere(authz.LDAPRead, authz.KindLDAP) {
		items = append(items, navItem{"ldap", "LDAP", "/ldap-providers"})
	}
	if p.Can(authz.FederationRead) {
		items = append(items, navItem{"federation", "Federation", "/oidc-issuers"})
	}
	if p.Can(authz.EventsRead) {
		items = append(items, navItem{"events", "Events", "/events"})
	}
	if p.Can(authz.BrandWrite) {
		items = append(items, navItem{"settings", "Settings", "/settings"})
	}
	return items
}

func (s *Server) funcs() template.FuncMap {
	return template.FuncMap{
		"asset": s.assets.URL,
		"when":  formatTime,
		"iso": func(v any) string {
			if t, ok := timeOf(v); ok {
				return t.Format(time.RFC3339)
			}
			return ""
		},
		"rel": func(v any) string {
			t, ok := timeOf(v)
			if !ok {
				return "never"
			}
			return relative(t, s.clock.Now())
		},
		"join": strings.Join,
		"has": func(list []string, v string) bool {
			for _, x := range list {
				if x == v {
					return true
				}
			}
			return false
		},
		"dict": func(kv ...any) (map[string]any, error) {
			if len(kv)%2 != 0 {
				return nil, errors.New("dict needs key/value pairs")
			}
			m := make(map[string]any, len(kv)/2)
			for i := 0; i < len(kv); i += 2 {
				k, ok := kv[i].(string)
				if !ok {
					return nil, errors.New("dict keys are strings")
				}
				m[k] = kv[i+1]
			}
			return m, nil
		},
		"lifetime":      lifetime,
		"qr":            qrDataURI,
		"failed":        failedCheck,
		"limits":        tokenLimits,
		"outpostStatus": statusOf,
		"list":          func(v ...string) []string { return v },
		"tabs":          func(section string) []tab { return sectionTabs[section] },
		"isSA": func(typ string) bool {
			return typ == "service_account" || typ == "internal_service_account"
		},
	}
}

// parseTemplates parses the layout and partials once, then each page on
// a copy, so that every page defines its own "content".
func (s *Server) parseTemplates() (map[string]*template.Template, error) {
	base, err := template.New("").Funcs(s.funcs()).ParseFS(templateFiles, "templates/layout.html", "templates/partials.html")
	if err != nil {
		return nil, fmt.Errorf("parse layout: %w", err)
	}
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		name := strings.TrimSuffix(path.Base(n), ".html")
		if name == "layout" || name == "partials" {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(templateFiles, n)
		if err != nil {
			return nil, fmt.Errorf("parse page %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// render writes a page. It executes into a buffer first, so that a
// template error yields a clean 500, never half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, c *reqCtx, status int, page, title, section string, data any) {
	t, ok := s.pages[page]
	if !ok {
		s.log.Error("no such page template", "page", page)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	v := view{Title: title, Section: section, Data: data, Flash: c.flash}
	v.Brand, _ = s.core.Applications.Brand(r.Context())
	if v.Brand.Title == "" {
		v.Brand = core.DefaultBrand
	}
	v.CSRF = c.session.CSRFToken
	if p := c.actor.P; p != nil && !c.session.MFAPending {
		v.User, v.Nav = p, nav(p)
	}
	if c.actor.P == nil || c.session.MFAPending {
		v.LoginPage = true
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		s.log.Error("render page", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// errorData is the error page's content.
type errorData struct {
	Status  int
	Heading string
	Message string
}

func (s *Server) renderError(w http.ResponseWriter, r *http.Request, c *reqCtx, status int, heading, msg string) {
	s.render(w, r, c, status, "error", heading, "", errorData{Status: status, Heading: heading, Message: msg})
}

// forbiddenNeeds is the 403 page of a page that needs perm, naming it as
// the API's refusals do.
func (s *Server) forbiddenNeeds(w http.ResponseWriter, r *http.Request, c *reqCtx, perm string) {
	s.forbidden(w, r, c, "Your account does not have the permission this page needs: "+perm+". An administrator can grant it with a role.")
}

func (s *Server) forbidden(w http.ResponseWriter, r *http.Request, c *reqCtx, msg string) {
	if msg == "" {
		msg = "Your account does not have the permission this page needs. An administrator can grant it with a role."
	}
	s.renderError(w, r, c, http.StatusForbidden, "Access denied", msg)
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	if c.actor.P == nil {
		// The 404 page of a signed-in user shows the navigation.
		if ses, err := s.session(r); err == nil && !ses.MFAPending {
			c.session, c.actor = ses, ses.Actor(c.actor.ClientIP)
		}
	}
	s.renderError(w, r, c, http.StatusNotFound, "Not found", "There is nothing at this address. It may have been deleted, or the link is wrong.")
}

// fail renders the page an error from the core calls for: 403, 404, 409,
// 503 while the database does not answer, or 500 (logged; the page says
// nothing of the cause).
func (s *Server) fail(w http.ResponseWriter, r *http.Request, c *reqCtx, err error) {
	var (
		nf *core.NotFoundError
		cf *core.ConflictError
		ve *core.ValidationError
	)
	switch {
	case errors.Is(err, core.ErrForbidden):
		msg := ""
		var fe *core.ForbiddenError
		if errors.As(err, &fe) && fe.Detail != "" {
			msg = capitalize(fe.Detail) + "."
		}
		s.forbidden(w, r, c, msg)
	case errors.Is(err, core.ErrUnauthenticated):
		s.sessionRequired(w, r, err)
	case errors.As(err, &nf):
		s.renderError(w, r, c, http.StatusNotFound, "Not found", capitalize(nf.Error())+".")
	case errors.As(err, &cf):
		s.renderError(w, r, c, http.StatusConflict, "Not possible", capitalize(cf.Msg)+".")
	case errors.As(err, &ve):
		s.renderError(w, r, c, http.StatusBadRequest, "Invalid request", capitalize(ve.Error())+".")
	case errors.Is(err, auth.ErrUnavailable) || s.core.DatabaseDown(r.Context()):
		s.log.Warn("web interface request failed: the database is not reachable", "method", r.Method, "path", r.URL.Path,
			"request_id", httpx.RequestIDOf(w), "err", err)
		w.Header().Set("Retry-After", "1")
		s.renderError(w, r, c, http.StatusServiceUnavailable, "Unavailable", "The database did not answer. Try again in a moment.")
	default:
		s.log.Error("web interface request failed", "method", r.Method, "path", r.URL.Path, "request_id", httpx.RequestIDOf(w), "err", err)
		s.renderError(w, r, c, http.StatusInternalServerError, "Something went wrong", "The request failed; the server log has the details. Nothing was changed.")
	}
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// --- Forms ------------------------------------------------------------------

// form is a submitted form for re-rendering: its values, and the errors
// the core found, per field and as one summary.
type form struct {
	Values  url.Values
	Errors  map[string]string
	Summary []string
	Message string
}

func newForm(v url.Values) *form {
	if v == nil {
		v = url.Values{}
	}
	return &form{Values: v, Errors: map[string]string{}}
}

// Get is a field's submitted value.
func (f *form) Get(k string) string { return f.Values.Get(k) }

// Has reports whether a checkbox or select had value v.
func (f *form) Has(k, v string) bool {
	for _, x := range f.Values[k] {
		if x == v {
			return true
		}
	}
	return false
}

// Err is a field's error message, "" when none.
func (f *form) Err(k string) string { return f.Errors[k] }

var indexed = regexp.MustCompile(`^([a-z_]+)\[(\d+)\]$`)

// fieldOf maps a core field name to the form's field: groups[2] is the
// groups field. rename maps core names to this form's names.
func fieldOf(field string, rename map[string]string) string {
	if m := indexed.FindStringSubmatch(field); m != nil {
		field = m[1]
	}
	if r, ok := rename[field]; ok {
		return r
	}
	return field
}

// fieldLabels names core fields whose API names read badly in a sentence.
var fieldLabels = map[string]string{"allowed_cidrs": "Networks", "ldap_providers": "LDAP providers",
	"issuer_url": "Issuer URL", "jwks_url": "JWKS URL", "jwks": "JWK Set", "allowed_algs": "Allowed algorithms", "ttl": "Token lifetime",
	"id_token": "ID token"}

func label(field string) string {
	name := func(f string) string {
		if l, ok := fieldLabels[f]; ok {
			return l
		}
		return capitalize(strings.ReplaceAll(f, "_", " "))
	}
	if m := indexed.FindStringSubmatch(field); m != nil {
		n, _ := strconv.Atoi(m[2])
		return name(m[1]) + fmt.Sprintf(" (entry %d)", n+1)
	}
	return name(field)
}

// formError puts a core error into the form. It reports false (and
// leaves the form alone) for errors that are not about the input; the
// caller then shows the error page.
func (f *form) formError(err error, rename map[string]string) (int, bool) {
	var (
		ve *core.ValidationError
		cf *core.ConflictError
		nf *core.NotFoundError
	)
	switch {
	case errors.As(err, &ve):
		for _, fe := range ve.Errors {
			k := fieldOf(fe.Field, rename)
			if _, dup := f.Errors[k]; !dup {
				f.Errors[k] = capitalize(fe.Message)
			}
			f.Summary = append(f.Summary, label(fe.Field)+": "+fe.Message)
		}
		return http.StatusBadRequest, true
	case errors.As(err, &cf):
		f.Message = capitalize(cf.Msg) + "."
		return http.StatusConflict, true
	case errors.As(err, &nf):
		f.Message = capitalize(nf.Error()) + "."
		return http.StatusNotFound, true
	}
	return 0, false
}

// formHandler is a handler of a posted form, given its values.
type formHandler func(w http.ResponseWriter, r *http.Request, c *reqCtx, v url.Values)

// posted reads the form before h runs.
func (s *Server) posted(h formHandler) handler {
	return func(w http.ResponseWriter, r *http.Request, c *reqCtx) {
		if v, ok := s.values(w, r, c); ok {
			h(w, r, c, v)
		}
	}
}

// values reads the posted form; a form that cannot be read is answered
// with the error page (false).
func (s *Server) values(w http.ResponseWriter, r *http.Request, c *reqCtx) (url.Values, bool) {
	v, err := parseForm(w, r)
	if err != nil {
		s.fail(w, r, c, err)
		return nil, false
	}
	return v, true
}

// parseForm reads the posted form (already size-bounded by wrap).
func parseForm(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	if err := r.ParseForm(); err != nil {
		return nil, &core.ValidationError{Errors: []core.FieldError{{Field: "form", Message: "could not be read (too large or malformed)"}}}
	}
	return r.PostForm, nil
}

// --- Flash messages ---------------------------------------------------------

// flash is a one-time message shown on the page after a redirect ("Token
// revoked."). It travels in a short-lived cookie signed with the server
// key, so no other site can plant text in our pages. It never holds a
// secret: keys are shown in the answer that creates them, not after a
// redirect.
type flash struct {
	Kind string `json:"k"` // ok, error, info, warn
	Text string `json:"t"`
}

func (s *Server) setFlash(w http.ResponseWriter, r *http.Request, kind, text string) {
	raw, _ := json.Marshal(flash{Kind: kind, Text: text})
	payload := base64.RawURLEncoding.EncodeToString(raw)
	mac := s.authn.Hasher().Sum("flash\x00" + payload)
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: payload + "." + base64.RawURLEncoding.EncodeToString(mac[:16]),
		Path: "/", MaxAge: 60, HttpOnly: true, Secure: s.secure(r), SameSite: http.SameSiteLaxMode})
}

// takeFlash reads and clears the flash cookie on a page view.
func (s *Server) takeFlash(w http.ResponseWriter, r *http.Request) *flash {
	if r.Method != http.MethodGet || r.Header.Get("HX-Request") == "true" {
		return nil
	}
	ck, err := r.Cookie(flashCookie)
	if err != nil {
		return nil
	}
	s.clearCookie(w, r, flashCookie)
	payload, sig, ok := strings.Cut(ck.Value, ".")
	if !ok {
		return nil
	}
	want := s.authn.Hasher().Sum("flash\x00" + payload)
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || len(got) != 16 || !bytes.Equal(got, want[:16]) {
		return nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return nil
	}
	var f flash
	if json.Unmarshal(raw, &f) != nil {
		return nil
	}
	switch f.Kind {
	case "ok", "error", "info", "warn":
	default:
		return nil
	}
	return &f
}

// --- Formatting -------------------------------------------------------------

func timeOf(v any) (time.Time, bool) {
	switch t := v.(type) {
	case time.Time:
		return t, !t.IsZero()
	case *time.Time:
		if t == nil || t.IsZero() {
			return time.Time{}, false
		}
		return *t, true
	}
	return time.Time{}, false
}

func formatTime(v any) string {
	t, ok := timeOf(v)
	if !ok {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// relative says "in 3 days" or "5 minutes ago", rounded down to the
// largest whole unit.
func relative(t, now time.Time) string {
	d := t.Sub(now)
	future := d > 0
	if !future {
		d = -d
	}
	var n int64
	var unit string
	switch {
	case d < time.Minute:
		if future {
			return "in less than a minute"
		}
		return "just now"
	case d < time.Hour:
		n, unit = int64(d/time.Minute), "minute"
	case d < 48*time.Hour:
		n, unit = int64(d/time.Hour), "hour"
	case d < 60*24*time.Hour:
		n, unit = int64(d/(24*time.Hour)), "day"
	case d < 2*365*24*time.Hour:
		n, unit = int64(d/(30*24*time.Hour)), "month"
	default:
		n, unit = int64(d/(365*24*time.Hour)), "year"
	}
	if n != 1 {
		unit += "s"
	}
	if future {
		return fmt.Sprintf("in %d %s", n, unit)
	}
	return fmt.Sprintf("%d %s ago", n, unit)
}

// qrDataURI renders text (an otpauth:// URI) as a QR code PNG in a data:
// URI (the policy allows data: images; nothing leaves the page).
func qrDataURI(text string) (template.URL, error) {
	png, err := qrcode.Encode(text, qrcode.Medium, 256)
	if err != nil {
		return "", err
	}
	// template.URL: html/template would otherwise replace a data: URL.
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png)), nil
}

// objectPage is the page of one named object with forms on it (a group,
// a role): its template, its section of the menu, and how its data is
// loaded.
type objectPage[D any] struct {
	tmpl, section string
	path          string // its address, less the name: "/groups/"
	load          func(s *Server, ctx context.Context, c *reqCtx, name string) (D, error)
}

// save handles one form of the object's page: change calls the core
// with the submitted values; then a flash (done) and the page again. An
// error about the input re-renders the page with the form put back in
// place by put, as typed.
func (p objectPage[D]) save(s *Server, w http.ResponseWriter, r *http.Request, c *reqCtx, rename map[string]string,
	put func(d *D, f *form), change func(ctx context.Context, name string, v url.Values) error, done string) {
	name := r.PathValue("name")
	v, ok := s.values(w, r, c)
	if !ok {
		return
	}
	if err := change(r.Context(), name, v); err != nil {
		p.formError(s, w, r, c, name, err, v, rename, put)
		return
	}
	s.setFlash(w, r, "ok", done)
	s.redirect(w, r, p.path+url.PathEscape(name))
}

// get is the handler of the object's page.
func (p objectPage[D]) get(s *Server) handler {
	return func(w http.ResponseWriter, r *http.Request, c *reqCtx) { p.show(s, w, r, c, r.PathValue("name")) }
}

// show renders the object's page.
func (p objectPage[D]) show(s *Server, w http.ResponseWriter, r *http.Request, c *reqCtx, name string) {
	d, err := p.load(s, r.Context(), c, name)
	if err != nil {
		s.fail(w, r, c, err)
		return
	}
	s.render(w, r, c, http.StatusOK, p.tmpl, name, p.section, d)
}

// formError re-renders the object's page with a form's error, put in
// place by put, or the error page when the error is not about the input.
func (p objectPage[D]) formError(s *Server, w http.ResponseWriter, r *http.Request, c *reqCtx, name string,
	err error, v url.Values, rename map[string]string, put func(d *D, f *form)) {
	s.formRefused(w, r, c, err, newForm(v), rename, func(status int, f *form) {
		d, lerr := p.load(s, r.Context(), c, name)
		if lerr != nil {
			s.fail(w, r, c, lerr)
			return
		}
		put(&d, f)
		s.render(w, r, c, status, p.tmpl, name, p.section, d)
	})
}

// formRefused answers a form's refused submission: an error about the input
// shows the form again, as typed in f, by again with the error's status;
// any other error is the error page.
func (s *Server) formRefused(w http.ResponseWriter, r *http.Request, c *reqCtx, err error, f *form, rename map[string]string,
	again func(status int, f *form)) {
	if status, ok := f.formError(err, rename); ok {
		again(status, f)
		return
	}
	s.fail(w, r, c, err)
}

// submit handles a form that makes something: do calls the core and
// answers where to go and what to say; an error about the input shows the
// form again by again, as typed (never a password).
func (s *Server) submit(w http.ResponseWriter, r *http.Request, c *reqCtx, rename map[string]string,
	do func(ctx context.Context, v url.Values) (target, done string, err error), again func(status int, f *form)) {
	v, ok := s.values(w, r, c)
	if !ok {
		return
	}
	target, done, err := do(r.Context(), v)
	if err != nil {
		s.formRefused(w, r, c, err, newForm(withoutPasswords(v)), rename, again)
		return
	}
	s.setFlash(w, r, "ok", done)
	s.redirect(w, r, target)
}

// creationPage is the page of a form that makes one object (/roles/new):
// shown to those holding perm, and again, as typed, when its handler's
// input is refused. data is the page's data around the form.
type creationPage[D any] struct {
	tmpl, title, section, perm string
	data                       func(s *Server, r *http.Request, c *reqCtx, f *form) (D, error)
}

// page is the GET handler, with the form's first values.
func (p creationPage[D]) page(s *Server, initial func(r *http.Request, c *reqCtx) url.Values) handler {
	return func(w http.ResponseWriter, r *http.Request, c *reqCtx) {
		if !c.can(p.perm) {
			s.forbiddenNeeds(w, r, c, p.perm)
			return
		}
		p.render(s, w, r, c, http.StatusOK, newForm(initial(r, c)))
	}
}

// render shows the page with the form f, with status.
func (p creationPage[D]) render(s *Server, w http.ResponseWriter, r *http.Request, c *reqCtx, status int, f *form) {
	d, err := p.data(s, r, c, f)
	if err != nil {
		s.fail(w, r, c, err)
		return
	}
	s.render(w, r, c, status, p.tmpl, p.title, p.section, d)
}

// again shows the page after a refused submission.
func (p creationPage[D]) again(s *Server, w http.ResponseWriter, r *http.Request, c *reqCtx) func(status int, f *form) {
	return func(status int, f *form) { p.render(s, w, r, c, status, f) }
}

// create is the form's handler (see submit).
func (p creationPage[D]) create(s *Server, rename map[string]string,
	do func(s *Server, ctx context.Context, c *reqCtx, v url.Values) (target, done string, err error)) handler {
	return func(w http.ResponseWriter, r *http.Request, c *reqCtx) {
		s.submit(w, r, c, rename, func(ctx context.Context, v url.Values) (string, string, error) { return do(s, ctx, c, v) },
			p.again(s, w, r, c))
	}
}

// errOnly is the error of a core call whose result is not needed (a
// deletion's check that the object exists, a form saved).
func errOnly[T any](_ T, err error) error { return err }

// tab is one page of a section's tabs (the subnav partial).
type tab struct{ Href, Key, Label string }

// sectionTabs are the tabs of the sections that have some.
var sectionTabs = map[string][]tab{
	"federation": {{"/oidc-issuers", "issuers", "OIDC issuers"}, {"/trust-policies", "policies", "Trust policies"}, {"/policy-tester", "tester", "Policy tester"}},
	"ldap":       {{"/ldap-providers", "providers", "Providers"}, {"/outposts", "outposts", "Outposts"}},
}

// lifetime writes a lifetime from the API (a Go duration, "720h0m0s") as
// the forms take it: whole days as days ("30d"), the rest shortly ("15m",
// "1h30m"). Anything else is shown as it came.
func lifetime(v string) string {
	d, err := time.ParseDuration(v)
	if err != nil {
		return v
	}
	if d > 0 && d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	return config.FormatDuration(d)
}
