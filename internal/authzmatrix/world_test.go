package authzmatrix_test

import (
	"context"
	"encoding/base32"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/core"
	"github.com/gatehouse/gatehouse/internal/server/servertest"
	"github.com/gatehouse/gatehouse/internal/ui"
	"golang.org/x/crypto/argon2"
)

// password is every matrix human's password (admin keeps its own).
const password = "matrix-password-0123456789"

// principal is one caller of the matrix.
type principal struct {
	name     string // the name in expected.txt
	user     string // "" for anonymous
	uid      string
	token    string // API key, "" when none
	password string
	pending  bool     // its web session still owes the second factor
	doors    []string // the doors it calls (anonymous calls all)
	session  string   // web session cookie value
	csrf     string   // that session's CSRF token
	secret   []byte   // TOTP secret (the pending principal)
}

func (p *principal) calls(door string) bool {
	for _, d := range p.doors {
		if d == door {
			return true
		}
	}
	return false
}

// world is the server and the objects every request points at. Objects
// named "-a" are the ones the requests target (the right object of a
// scoped grant); "-b" are the wrong ones.
type world struct {
	t          *testing.T
	e          *servertest.Env
	ctx        context.Context
	hc         *http.Client
	mu         sync.Mutex
	seq        int
	principals []*principal
	byName     map[string]*principal
	// introKey is the key of tok-a2 (owned by mx-sa-a), which the
	// introspection route asks about; appKey is mx-sa-a's app password.
	introKey string
	appKey   string
	ldapSess map[string]any
}

const (
	groupA, groupB = "mx-a", "mx-b"
	saA, saB       = "mx-sa-a", "mx-sa-b"
	tokA           = "tok-a"
	appA, appB     = "app-a", "app-b"
	ldapA, ldapB   = "ldap-a", "ldap-b"
	outA, outB     = "out-a", "out-b"
	roleX          = "mx-role"
	joiner         = "mx-joiner" // joins groups, gets roles and bindings, and leaves again
	human          = "mx-human"  // a human target: password, direct permissions, second factor
	loginUser      = "mx-login"  // the account anonymous signs in as
	issA           = "mx-iss"    // an OIDC issuer
	polA           = "mx-policy" // a trust policy on it, for fedSA
	fedSA          = "mx-fed"    // a service account holding nothing: any federation.write holder covers it
)

// scopeObjects are the right and wrong objects of each scope kind.
var scopeObjects = map[string][2]string{
	authz.KindGroup:       {groupA, groupB},
	authz.KindApplication: {appA, appB},
	authz.KindLDAP:        {ldapA, ldapB},
}

func newWorld(t *testing.T, e *servertest.Env) *world {
	w := &world{t: t, e: e, ctx: context.Background(), byName: map[string]*principal{},
		hc: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	w.setup()
	return w
}

// admin sends a request as the bootstrap admin and asserts its status.
func (w *world) admin(status int, method, path string, body any) map[string]any {
	w.t.Helper()
	r := w.e.Admin(method, path, body)
	if r.Status != status {
		w.t.Fatalf("setup %s %s: status %d, want %d: %s", method, path, r.Status, status, r.Body)
	}
	return r.JSON()
}

// exists reports whether a GET as admin finds path.
func (w *world) exists(path string) bool {
	w.t.Helper()
	r := w.e.Admin("GET", path, nil)
	if r.Status != 200 && r.Status != 404 {
		w.t.Fatalf("GET %s: status %d: %s", path, r.Status, r.Body)
	}
	return r.Status == 200
}

func (w *world) next(prefix string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seq++
	return fmt.Sprintf("%s-%d", prefix, w.seq)
}

func (w *world) setup() {
	t := w.t
	// Objects, right and wrong.
	for _, g := range []string{groupA, groupB} {
		w.admin(201, "POST", "/api/v1/groups", map[string]any{"name": g})
	}
	saP := func(name, user string, groups ...string) *principal {
		r := w.admin(201, "POST", "/api/v1/service-accounts", map[string]any{"username": user, "groups": groups, "token_intent": "api", "expiring": false})
		return &principal{name: name, user: user, uid: r["user"].(map[string]any)["uid"].(string),
			token: r["token"].(map[string]any)["key"].(string), doors: []string{"api", "fa"}}
	}
	// The owners of tok-a and tok-b, in mx-a and mx-b: acting on their
	// token is acting on one's own.
	memberA, memberB := saP("member-a", saA, groupA), saP("member-b", saB, groupB)
	w.ensureToken(tokA, saA)
	w.introKey = w.admin(201, "POST", "/api/v1/tokens", map[string]any{"identifier": "tok-a2", "user": saA, "intent": "api", "expiring": false})["key"].(string)
	w.appKey = w.admin(201, "POST", "/api/v1/tokens", map[string]any{"identifier": "mx-sa-a-app", "user": saA, "intent": "app_password", "expiring": false})["key"].(string)
	w.admin(201, "POST", "/api/v1/tokens", map[string]any{"identifier": "tok-b", "user": saB, "intent": "api"})
	w.admin(201, "POST", "/api/v1/service-accounts", map[string]any{"username": joiner, "token_intent": "none"})
	w.admin(201, "POST", "/api/v1/users", map[string]any{"username": human})
	w.admin(201, "POST", "/api/v1/users", map[string]any{"username": loginUser})
	w.admin(201, "POST", "/api/v1/roles", map[string]any{"name": roleX, "description": "holds nothing"})
	w.ensureApp(appA)
	w.ensureApp(appB)
	w.ensureProvider(ldapA)
	w.ensureProvider(ldapB)
	w.admin(201, "POST", "/api/v1/service-accounts", map[string]any{"username": fedSA, "token_intent": "none"})
	w.ensureIssuer(issA)
	w.ensurePolicy(polA)

	// Principals. Humans hold their permissions through a role, have an
	// API token and a web session.
	add := func(p *principal) {
		w.principals = append(w.principals, p)
		w.byName[p.name] = p
	}
	add(&principal{name: "anonymous", doors: []string{"api", "ui", "fa"}})
	me := w.admin(200, "GET", "/api/v1/me", nil)
	add(&principal{name: "admin", user: "admin", uid: me["uid"].(string), token: servertest.AdminToken,
		password: servertest.AdminPassword, doors: []string{"api", "ui", "fa"}})
	humanP := func(name, user string, perms ...string) *principal {
		u := w.admin(201, "POST", "/api/v1/users", map[string]any{"username": user})
		if len(perms) > 0 {
			w.admin(201, "POST", "/api/v1/roles", map[string]any{"name": "r-" + user, "permissions": perms})
			w.admin(204, "PUT", "/api/v1/roles/r-"+user+"/assignments/users/"+user, nil)
		}
		key := w.admin(201, "POST", "/api/v1/tokens", map[string]any{"identifier": user + "-key", "user": user, "intent": "api", "expiring": false})["key"].(string)
		return &principal{name: name, user: user, uid: u["uid"].(string), token: key, password: password, doors: []string{"api", "ui", "fa"}}
	}
	add(humanP("none", "p-none"))
	add(saP("sa-none", "p-sa-none"))
	add(memberA)
	add(memberB)
	pend := humanP("pending", "p-pending")
	pend.pending, pend.doors = true, []string{"ui"}
	add(pend)
	for _, d := range authz.Catalogue {
		user := "p-" + strings.ReplaceAll(d.Name, "_", "-")
		add(humanP(d.Name, user, d.Name))
		for _, kind := range d.Scopes {
			objs := scopeObjects[kind]
			add(humanP(d.Name+"@right", user+"-right", d.Name+"@"+kind+"/"+objs[0]))
			add(humanP(d.Name+"@wrong", user+"-wrong", d.Name+"@"+kind+"/"+objs[1]))
		}
	}
	// The outposts' own accounts: the only callers of a provider's bind,
	// sessions and search endpoints.
	add(&principal{name: "outpost-a", doors: []string{"api", "fa"}})
	add(&principal{name: "outpost-b", doors: []string{"api", "fa"}})
	w.ensureOutpost(outA)
	w.ensureOutpost(outB)

	for _, name := range append(w.humans(), loginUser) {
		w.cheapPassword(name, password)
	}
	w.cheapPassword("admin", servertest.AdminPassword)
	pend.secret = w.enrolTOTP(pend.user, pend.uid)
	for _, p := range w.principals {
		if p.calls("ui") && p.user != "" {
			w.signIn(p)
		}
	}
	// An LDAP session of mx-sa-a, bound through out-a, for the direct
	// search route.
	r := w.e.Do("POST", "/api/v1/ldap-providers/"+ldapA+"/bind", servertest.Bearer(w.byName["outpost-a"].token), w.bindBody())
	if r.Status != 200 || r.JSON()["outcome"] != "success" {
		t.Fatalf("bind through the outpost: %d %s", r.Status, r.Body)
	}
	w.ldapSess = r.JSON()["session"].(map[string]any)
}

// cheapPassword stores the user's password hashed with argon2id's
// smallest parameters. A hash carries its parameters, so the server
// verifies it as any other, in microseconds instead of tens of
// milliseconds: the web routes that ask for the password again (sign-in,
// password change, second factor) run for every person of the matrix.
func (w *world) cheapPassword(user, pw string) {
	w.t.Helper()
	salt := []byte("authzmatrix-salt")
	sum := argon2.IDKey([]byte(pw), salt, 1, 8, 1, 32)
	enc := base64.RawStdEncoding
	hash := fmt.Sprintf("$argon2id$v=%d$m=8,t=1,p=1$%s$%s", argon2.Version, enc.EncodeToString(salt), enc.EncodeToString(sum))
	st := w.e.App.Store
	u, err := st.GetUser(w.ctx, user)
	if err != nil {
		w.t.Fatal(err)
	}
	now := w.e.Clock.Now()
	u.PasswordHash, u.PasswordChangedAt = hash, &now
	if err := st.UpdateUser(w.ctx, u); err != nil {
		w.t.Fatal(err)
	}
	w.e.App.Core.Authenticator().InvalidatePrincipals()
}

func (w *world) humans() []string {
	var out []string
	for _, p := range w.principals {
		if p.calls("ui") && p.user != "" && p.user != "admin" {
			out = append(out, p.user)
		}
	}
	return out
}

func (w *world) bindBody() map[string]any {
	return map[string]any{"name": "cn=" + saA + ",ou=users,dc=a,dc=example", "password": w.appKey, "client_ip": "192.0.2.10"}
}

// signIn opens a web session for p the way the login form does once the
// password (and second factor) were checked, without argon2id.
func (w *world) signIn(p *principal) {
	w.t.Helper()
	pr, err := w.e.App.Core.Authenticator().PrincipalByUID(w.ctx, p.uid)
	if err != nil {
		w.t.Fatalf("principal %s: %v", p.name, err)
	}
	var ses core.WebSession
	if p.pending {
		ses, err = w.e.App.Core.Sessions.StartSession(w.ctx, pr, "127.0.0.1", "authzmatrix", core.SecondFactorDue)
	} else {
		ses, err = w.e.App.Core.Sessions.FinishLogin(w.ctx, pr, "127.0.0.1", "authzmatrix", "password")
	}
	if err != nil {
		w.t.Fatalf("session of %s: %v", p.name, err)
	}
	p.session, p.csrf = ses.ID, ses.CSRFToken
}

// actor is a core actor for a user, for setup done as that user.
func (w *world) actor(uid string) core.Actor {
	w.t.Helper()
	pr, err := w.e.App.Core.Authenticator().PrincipalByUID(w.ctx, uid)
	if err != nil {
		w.t.Fatal(err)
	}
	return core.Actor{P: pr, ClientIP: "127.0.0.1"}
}

// beginTOTP starts an enrolment as the user and returns its secret.
func (w *world) beginTOTP(uid string) []byte {
	w.t.Helper()
	en, err := w.e.App.Core.Sessions.BeginTOTP(w.ctx, w.actor(uid))
	if err != nil {
		w.t.Fatalf("begin TOTP: %v", err)
	}
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ReplaceAll(en.Secret, " ", ""))
	if err != nil {
		w.t.Fatal(err)
	}
	return secret
}

// code is the current TOTP code of secret.
func (w *world) code(secret []byte) string {
	return auth.TOTPCode(secret, auth.TOTPStep(w.e.Clock.Now()))
}

// enrolTOTP turns the user's second factor on (it must be off).
func (w *world) enrolTOTP(user, uid string) []byte {
	w.t.Helper()
	secret := w.beginTOTP(uid)
	if _, err := w.e.App.Core.Sessions.ConfirmTOTP(w.ctx, w.actor(uid), w.code(secret)); err != nil {
		w.t.Fatalf("confirm TOTP of %s: %v", user, err)
	}
	return secret
}

func (w *world) hasTOTP(uid string) bool {
	w.t.Helper()
	on, err := w.e.App.Core.Sessions.HasTOTP(w.ctx, uid)
	if err != nil {
		w.t.Fatal(err)
	}
	return on
}

// resetTOTP removes a user's second factor or pending enrolment, as an
// administrator would.
func (w *world) resetTOTP(user string) {
	w.t.Helper()
	r := w.e.Admin("DELETE", "/api/v1/users/"+user+"/totp", nil)
	if r.Status != 204 && r.Status != 404 {
		w.t.Fatalf("reset TOTP of %s: %d %s", user, r.Status, r.Body)
	}
}

// --- fixtures brought back after a request that may have changed them ---

func (w *world) ensureToken(id, owner string) {
	if !w.exists("/api/v1/tokens/" + id) {
		w.admin(201, "POST", "/api/v1/tokens", map[string]any{"identifier": id, "user": owner, "intent": "api"})
	}
}

// ensureGroupA brings back mx-a with its member and its binding to app-a.
func (w *world) ensureGroupA() {
	if !w.exists("/api/v1/groups/" + groupA) {
		w.admin(201, "POST", "/api/v1/groups", map[string]any{"name": groupA})
	}
	w.admin(204, "PUT", "/api/v1/groups/"+groupA+"/members/"+saA, nil)
	w.ensureApp(appA)
}

// ensureApp brings back an application; app-a admits the group mx-a only.
func (w *world) ensureApp(slug string) {
	if !w.exists("/api/v1/applications/" + slug) {
		w.admin(201, "POST", "/api/v1/applications", map[string]any{"slug": slug, "name": "App " + slug})
	}
	if slug == appA {
		w.admin(200, "PUT", "/api/v1/applications/"+appA+"/bindings/groups/"+groupA, map[string]any{})
	}
}

func (w *world) ensureIssuer(name string) {
	if !w.exists("/api/v1/oidc-issuers/" + name) {
		w.admin(201, "POST", "/api/v1/oidc-issuers", map[string]any{"name": name, "issuer_url": "https://" + name + ".example"})
	}
}

func (w *world) ensurePolicy(name string) {
	if !w.exists("/api/v1/trust-policies/" + name) {
		w.ensureIssuer(issA)
		w.admin(201, "POST", "/api/v1/trust-policies", map[string]any{"name": name, "issuer": issA, "service_account": fedSA,
			"audience": "https://gatehouse.example", "conditions": map[string]any{"sub": "job:" + name}})
	}
}

func (w *world) ensureProvider(name string) {
	if !w.exists("/api/v1/ldap-providers/" + name) {
		w.admin(201, "POST", "/api/v1/ldap-providers", map[string]any{"name": name, "base_dn": "dc=" + name[len(name)-1:] + ",dc=example"})
	}
}

// ensureOutpost brings back an outpost, and gives its principal the new key.
func (w *world) ensureOutpost(name string) {
	if w.exists("/api/v1/outposts/" + name) {
		return
	}
	provider := map[string]string{outA: ldapA, outB: ldapB}[name]
	w.ensureProvider(provider)
	r := w.admin(201, "POST", "/api/v1/outposts", map[string]any{"name": name, "provider": provider})
	w.byName["outpost-"+name[len(name)-1:]].token = r["token"].(map[string]any)["key"].(string)
}

func (w *world) victimSA() string {
	name := w.next("mx-victim")
	w.admin(201, "POST", "/api/v1/service-accounts", map[string]any{"username": name, "token_intent": "none"})
	return name
}

func (w *world) victimRole() string {
	name := w.next("mx-victim-role")
	w.admin(201, "POST", "/api/v1/roles", map[string]any{"name": name})
	return name
}

// keyMarker is what the token page puts in its rotation form: the
// fingerprint of the token's current keys (internal/ui keyMarker).
func (w *world) keyMarker(id string) string {
	w.t.Helper()
	st := w.e.App.Store
	tk, err := st.GetToken(w.ctx, id)
	if err != nil {
		w.t.Fatal(err)
	}
	keys, err := st.ListTokenKeys(w.ctx, tk.UID)
	if err != nil {
		w.t.Fatal(err)
	}
	lookups := make([]string, len(keys))
	for i, k := range keys {
		lookups[i] = k.Lookup
	}
	return ui.KeyMarker(lookups)
}

// --- requests ---

// resp is an answer.
type resp struct {
	status   int
	header   http.Header
	body     string
	location string
}

// send makes one request of door as p.
func (w *world) send(door string, p *principal, method, path string, body any, extra ...*http.Cookie) *resp {
	w.t.Helper()
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case url.Values:
		if door == "ui" && p.csrf != "" && b.Get("csrf_token") == "" {
			b.Set("csrf_token", p.csrf)
		}
		rd, ctype = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	default:
		rd, ctype = strings.NewReader(jsonText(w.t, b)), "application/json"
	}
	if door == "ui" && method == "POST" && rd == nil {
		v := url.Values{}
		if p.csrf != "" {
			v.Set("csrf_token", p.csrf)
		}
		rd, ctype = strings.NewReader(v.Encode()), "application/x-www-form-urlencoded"
	}
	req, err := http.NewRequestWithContext(w.ctx, method, w.e.URL+path, rd)
	if err != nil {
		w.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	switch door {
	case "ui":
		// What a browser sends with a form of this site.
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		if p.session != "" {
			req.AddCookie(&http.Cookie{Name: "gatehouse_session", Value: p.session})
		}
		for _, ck := range extra {
			req.AddCookie(ck)
		}
	default:
		if p.token != "" {
			req.Header.Set("Authorization", servertest.Bearer(p.token))
		}
	}
	res, err := w.hc.Do(req)
	if err != nil {
		w.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return &resp{status: res.StatusCode, header: res.Header, body: string(b), location: res.Header.Get("Location")}
}

// adoptSession follows a web answer that set or cleared the session
// cookie (sign-in, sign-out, password change, second factor), so that the
// principal has a usable session of its kind for the next request.
func (w *world) adoptSession(p *principal, r *resp) {
	if p.user == "" {
		return
	}
	for _, ck := range cookies(r) {
		if ck.Name != "gatehouse_session" {
			continue
		}
		if ck.Value == "" || p.pending {
			w.signIn(p)
			return
		}
		ses, err := w.e.App.Core.Sessions.ResolveSession(w.ctx, ck.Value)
		if err != nil || ses.MFAPending {
			w.signIn(p)
			return
		}
		p.session, p.csrf = ck.Value, ses.CSRFToken
	}
}

// stillSignedIn re-opens the session of p when a request ended it some
// other way (ending every session but none left, a password change).
func (w *world) stillSignedIn(p *principal) {
	if p.user == "" || !p.calls("ui") {
		return
	}
	if _, err := w.e.App.Core.Sessions.ResolveSession(w.ctx, p.session); err != nil {
		w.signIn(p)
	}
}

func cookies(r *resp) []*http.Cookie { return (&http.Response{Header: r.header}).Cookies() }

type httpCookie = http.Cookie
