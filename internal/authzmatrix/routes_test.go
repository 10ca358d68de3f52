package authzmatrix_test

import (
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// call is one request of the matrix in the making: a route, a principal,
// and the path and body the route's spec chose.
type call struct {
	w    *world
	p    *principal
	door string
	path string // with the wildcards filled in
	vars map[string]string
}

// spec says how to call one route so that an allowed request succeeds:
// which objects its path names, a valid body, what to set up before and
// to restore after (a successful DELETE must not take a fixture away from
// the principals that come next).
type spec struct {
	vars   map[string]string                 // wildcard values; defaults in defaultVar
	body   func(c *call) any                 // JSON (map), or url.Values for a form
	before func(c *call)                     // may set c.vars
	after  func(c *call, r *resp, done bool) // done: the request was allowed and did its work
	// reveal: a 2xx answer that does not contain this text showed the
	// principal nothing of the target (a filtered list, an inactive
	// introspection): class "hidden", not "allow".
	reveal string
	// home: a web route where a redirect to "/" sends the principal back
	// to the dashboard without doing anything (class "bounced").
	home bool
	// serial: the principals must take turns (the body moves the clock).
	// Routes with before or after hooks do too, as they change objects
	// that every principal's request names, unless own says that they
	// change only the calling principal's own state.
	serial, own bool
}

func (sp spec) concurrent() bool {
	return !sp.serial && (sp.own || sp.before == nil && sp.after == nil)
}

// defaultVar is the object a wildcard names unless the spec says
// otherwise: always the "-a" object, the right one for scoped grants.
func defaultVar(path, name string) string {
	switch name {
	case "username":
		return saA
	case "slug":
		return appA
	case "identifier", "id":
		return tokA
	case "group":
		return groupA
	case "kind":
		return "users"
	case "holder":
		return joiner
	case "name":
		switch {
		case strings.Contains(path, "/roles/"):
			return roleX
		case strings.Contains(path, "/ldap-providers/"):
			return ldapA
		case strings.Contains(path, "/oidc-issuers/"):
			return issA
		case strings.Contains(path, "/trust-policies/"):
			return polA
		case strings.Contains(path, "/outposts/"):
			return outA
		case strings.Contains(path, "/service-accounts/"):
			return saA
		case strings.Contains(path, "/applications/"):
			return appA
		case strings.Contains(path, "/people/"):
			return human
		}
		return groupA
	}
	return "unknown-" + name
}

func form(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

func obj(kv ...any) func(*call) any {
	return func(*call) any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
}

func jsonText(t testing.TB, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// victim makes a fresh object for a route that deletes what it names.
func victim(wildcard string, make func(w *world) string) func(*call) {
	return func(c *call) { c.vars[wildcard] = make(c.w) }
}

// restore runs fn when the request did its work.
func restore(fn func(c *call)) func(*call, *resp, bool) {
	return func(c *call, _ *resp, done bool) {
		if done {
			fn(c)
		}
	}
}

func unique(prefix, field string, extra ...any) func(*call) any {
	return func(c *call) any {
		m := map[string]any{field: c.w.next(prefix)}
		for i := 0; i+1 < len(extra); i += 2 {
			m[extra[i].(string)] = extra[i+1]
		}
		return m
	}
}

// specs are keyed "door METHOD /path" as in expected.txt. A route without
// one is still called, with defaultVar and no body.
var specs = map[string]spec{
	// --- REST API ---
	"api GET /api/v1/users":               {},
	"api POST /api/v1/users":              {body: unique("mx-new-user", "username")},
	"api PATCH /api/v1/users/{username}":  {body: obj("description", "patched")},
	"api DELETE /api/v1/users/{username}": {before: victim("username", (*world).victimSA)},
	"api PUT /api/v1/users/{username}/password": {vars: map[string]string{"username": human},
		body: obj("password", "a-new-password-for-mx-human")},
	"api GET /api/v1/users/{username}/permissions": {vars: map[string]string{"username": human}},
	"api PUT /api/v1/users/{username}/permissions": {vars: map[string]string{"username": human},
		body: obj("permissions", []string{})},
	"api DELETE /api/v1/users/{username}/totp": {vars: map[string]string{"username": human},
		before: func(c *call) {
			if uid := c.w.uidOf(human); !c.w.hasTOTP(uid) {
				c.w.resetTOTP(human)
				c.w.enrolTOTP(human, uid)
			}
		}},

	"api POST /api/v1/service-accounts":              {body: unique("mx-new-sa", "username", "token_intent", "none")},
	"api PATCH /api/v1/service-accounts/{username}":  {body: obj("description", "patched")},
	"api DELETE /api/v1/service-accounts/{username}": {before: victim("username", (*world).victimSA)},

	"api GET /api/v1/groups":           {reveal: groupA},
	"api POST /api/v1/groups":          {body: unique("mx-new-group", "name")},
	"api PATCH /api/v1/groups/{name}":  {body: obj("description", "patched")},
	"api DELETE /api/v1/groups/{name}": {after: restore(func(c *call) { c.w.ensureGroupA() })},
	"api PUT /api/v1/groups/{name}/members/{username}": {vars: map[string]string{"username": joiner},
		after: func(c *call, _ *resp, _ bool) { c.w.leave(groupA, joiner) }},
	"api DELETE /api/v1/groups/{name}/members/{username}": {after: restore(func(c *call) { c.w.ensureGroupA() })},

	"api POST /api/v1/roles":          {body: unique("mx-new-role", "name")},
	"api PATCH /api/v1/roles/{name}":  {body: obj("description", "patched")},
	"api DELETE /api/v1/roles/{name}": {before: victim("name", (*world).victimRole)},
	"api PUT /api/v1/roles/{name}/assignments/users/{username}": {vars: map[string]string{"username": joiner},
		after: func(c *call, _ *resp, _ bool) { c.w.unassign("users", joiner) }},
	"api DELETE /api/v1/roles/{name}/assignments/users/{username}": {vars: map[string]string{"username": joiner},
		before: func(c *call) { c.w.assign("users", joiner) },
		after:  func(c *call, _ *resp, _ bool) { c.w.unassign("users", joiner) }},
	"api PUT /api/v1/roles/{name}/assignments/groups/{group}": {
		after: func(c *call, _ *resp, _ bool) { c.w.unassign("groups", groupA) }},
	"api DELETE /api/v1/roles/{name}/assignments/groups/{group}": {
		before: func(c *call) { c.w.assign("groups", groupA) },
		after:  func(c *call, _ *resp, _ bool) { c.w.unassign("groups", groupA) }},

	"api GET /api/v1/tokens": {reveal: `"` + tokA + `"`},
	"api POST /api/v1/tokens": {body: func(c *call) any {
		return map[string]any{"identifier": c.w.next("mx-new-token"), "user": saA, "intent": "api"}
	}},
	"api PATCH /api/v1/tokens/{identifier}":       {body: obj("description", "patched")},
	"api DELETE /api/v1/tokens/{identifier}":      {after: restore(func(c *call) { c.w.ensureToken(tokA, saA) })},
	"api POST /api/v1/tokens/{identifier}/rotate": {body: obj("grace", "0s")},

	"api PATCH /api/v1/brand": {body: obj("title", "gatehouse")},

	"api GET /api/v1/applications":           {reveal: appA},
	"api POST /api/v1/applications":          {body: unique("mx-new-app", "slug", "name", "New")},
	"api PATCH /api/v1/applications/{slug}":  {body: obj("description", "patched")},
	"api DELETE /api/v1/applications/{slug}": {after: restore(func(c *call) { c.w.ensureApp(appA) })},
	"api PUT /api/v1/applications/{slug}/bindings/users/{username}": {vars: map[string]string{"username": joiner},
		body: obj("order", 5), after: func(c *call, _ *resp, _ bool) { c.w.unbindJoiner() }},
	"api DELETE /api/v1/applications/{slug}/bindings/users/{username}": {vars: map[string]string{"username": joiner},
		before: func(c *call) {
			c.w.admin(200, "PUT", "/api/v1/applications/"+appA+"/bindings/users/"+joiner, map[string]any{"order": 5})
		},
		after: func(c *call, _ *resp, _ bool) { c.w.unbindJoiner() }},
	"api PUT /api/v1/applications/{slug}/bindings/groups/{group}":    {body: obj("order", 0)},
	"api DELETE /api/v1/applications/{slug}/bindings/groups/{group}": {after: restore(func(c *call) { c.w.ensureApp(appA) })},
	"api POST /api/v1/introspect": {reveal: `"username":"` + saA + `"`,
		body: func(c *call) any { return form("token", c.w.introKey) }},

	"api GET /api/v1/ldap-providers": {reveal: ldapA},
	"api POST /api/v1/ldap-providers": {body: func(c *call) any {
		return map[string]any{"name": c.w.next("mx-new-ldap"), "base_dn": "dc=new,dc=example"}
	}},
	"api PATCH /api/v1/ldap-providers/{name}": {body: obj("upn_domain", "a.example")},
	// A provider that an outpost serves cannot be deleted (409): take
	// out-a away first, and bring both back.
	"api DELETE /api/v1/ldap-providers/{name}": {
		before: func(c *call) { c.w.admin(204, "DELETE", "/api/v1/outposts/"+outA, nil) },
		after:  func(c *call, _ *resp, _ bool) { c.w.ensureProvider(ldapA); c.w.ensureOutpost(outA) }},
	"api POST /api/v1/ldap-providers/{name}/bind": {body: func(c *call) any { return c.w.bindBody() }},
	"api POST /api/v1/ldap-providers/{name}/sessions": {body: func(c *call) any {
		return map[string]any{"sessions": []any{map[string]any{"user_uid": c.w.ldapSess["user_uid"], "binding": c.w.ldapSess["binding"]}}}
	}},
	// (objectClass=*) is 87 0b "objectClass".
	"api POST /api/v1/ldap-providers/{name}/search": {body: func(c *call) any {
		return map[string]any{"user_uid": c.w.ldapSess["user_uid"], "binding": c.w.ldapSess["binding"],
			"base": "dc=a,dc=example", "scope": 2, "filter": "hwtvYmplY3RDbGFzcw=="}
	}},
	"api GET /api/v1/oidc-issuers": {reveal: issA},
	"api POST /api/v1/oidc-issuers": {body: func(c *call) any {
		name := c.w.next("mx-new-iss")
		return map[string]any{"name": name, "issuer_url": "https://" + name + ".example"}
	}},
	"api PATCH /api/v1/oidc-issuers/{name}": {body: obj("leeway", "30s")},
	"api DELETE /api/v1/oidc-issuers/{name}": {before: victim("name", func(w *world) string {
		name := w.next("mx-victim-iss")
		w.ensureIssuer(name)
		return name
	})},
	"api GET /api/v1/trust-policies": {reveal: polA},
	"api POST /api/v1/trust-policies": {body: func(c *call) any {
		return map[string]any{"name": c.w.next("mx-new-policy"), "issuer": issA, "service_account": fedSA,
			"audience": "https://gatehouse.example", "conditions": map[string]any{"sub": "job:x"}}
	}},
	"api PATCH /api/v1/trust-policies/{name}": {body: obj("ttl", "5m")},
	"api DELETE /api/v1/trust-policies/{name}": {before: victim("name", func(w *world) string {
		name := w.next("mx-victim-policy")
		w.ensurePolicy(name)
		return name
	})},
	"api POST /api/v1/trust-policies/test": {body: obj("id_token", "not.a.jwt")},
	// The exchange takes no credential but the ID token: whatever else
	// is presented, a request without a subject_token_type is 400
	// (invalid_request) for everyone, before the door's limiter counts
	// anything (refused ID tokens would, and the matrix sends all from
	// one address: internal/core and internal/api test the refusals).
	"api POST /api/v1/oauth/token": {body: func(c *call) any {
		return form("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange", "subject_token", "not.a.jwt")
	}},
	"api GET /api/v1/outposts": {reveal: outA},
	"api POST /api/v1/outposts": {body: func(c *call) any {
		return map[string]any{"name": c.w.next("mx-new-outpost"), "provider": ldapA}
	}},
	"api DELETE /api/v1/outposts/{name}": {after: restore(func(c *call) { c.w.ensureOutpost(outA) })},
	"api POST /api/v1/outposts/{name}/rotate": {body: obj("grace", "0s"), after: func(c *call, r *resp, done bool) {
		if done {
			var out struct {
				Token struct {
					Key string `json:"key"`
				} `json:"token"`
			}
			if err := json.Unmarshal([]byte(r.body), &out); err != nil || out.Token.Key == "" {
				c.w.t.Fatalf("rotate outpost: no key in %s", r.body)
			}
			c.w.byName["outpost-a"].token = out.Token.Key
		}
	}},

	// --- forward-auth: app-a admits the members of mx-a ---
	"fa GET /outpost/forward-auth/{slug}": {},

	// --- web interface ---
	"ui GET /login": {home: true},
	"ui POST /login": {body: func(c *call) any {
		// The login form's own anti-forgery cookie and field.
		r := c.w.send("ui", &principal{}, "GET", "/login", nil)
		var tok string
		for _, ck := range cookies(r) {
			if ck.Name == "gatehouse_login_csrf" {
				tok = ck.Value
			}
		}
		c.vars["login_csrf"] = tok
		user, pw := c.p.user, c.p.password
		if user == "" {
			user, pw = loginUser, password
		}
		return form("username", user, "password", pw, "csrf_token", tok)
	}},
	"ui GET /login/code": {home: true},
	"ui POST /login/code": {home: true, serial: true, body: func(c *call) any {
		if c.p.pending {
			// One step on, so that the code is not a replay of the one
			// that confirmed the enrolment.
			c.w.e.Clock.Advance(auth.TOTPPeriod)
			return form("code", c.w.code(c.p.secret))
		}
		return form("code", "000000")
	}},
	"ui POST /logout": {},

	"ui GET /service-accounts": {reveal: saA},
	"ui POST /service-accounts": {body: func(c *call) any {
		return form("username", c.w.next("mx-new-sa"), "token_intent", "none")
	}},
	"ui POST /service-accounts/{name}":        {body: func(*call) any { return form("description", "patched") }},
	"ui POST /service-accounts/{name}/active": {body: func(*call) any { return form("active", "true") }},
	"ui POST /service-accounts/{name}/delete": {before: victim("name", (*world).victimSA),
		body: func(c *call) any { return form("confirm", c.vars["name"]) }},

	"ui GET /people":                {reveal: human},
	"ui POST /people":               {body: func(c *call) any { return form("username", c.w.next("mx-new-person")) }},
	"ui POST /people/{name}":        {body: func(*call) any { return form("name", "", "email", "", "description", "patched") }},
	"ui POST /people/{name}/active": {body: func(*call) any { return form("active", "true") }},
	"ui POST /people/{name}/password": {body: func(*call) any {
		return form("new_password", "a-new-password-for-mx-human", "confirm_password", "a-new-password-for-mx-human")
	}},
	"ui POST /people/{name}/two-factor/reset": {before: func(c *call) {
		if uid := c.w.uidOf(human); !c.w.hasTOTP(uid) {
			c.w.resetTOTP(human)
			c.w.enrolTOTP(human, uid)
		}
	}},
	"ui POST /people/{name}/delete": {before: victim("name", func(w *world) string {
		name := w.next("mx-victim-person")
		w.admin(201, "POST", "/api/v1/users", map[string]any{"username": name})
		return name
	}), body: func(c *call) any { return form("confirm", c.vars["name"]) }},

	"ui GET /applications": {reveal: appA},
	"ui POST /applications": {body: func(c *call) any {
		return form("slug", c.w.next("mx-new-app"), "name", "New", "policy_engine_mode", "any")
	}},
	"ui POST /applications/{name}": {body: func(*call) any {
		return form("name", "App "+appA, "url", "", "description", "patched", "policy_engine_mode", "any")
	}},
	"ui POST /applications/{name}/bindings": {body: func(*call) any { return form("kind", "users", "subject", joiner, "order", "5") },
		after: func(c *call, _ *resp, _ bool) { c.w.unbindJoiner() }},
	"ui POST /applications/{name}/bindings/{kind}/{subject}/remove": {vars: map[string]string{"kind": "users", "subject": joiner},
		before: func(c *call) {
			c.w.admin(200, "PUT", "/api/v1/applications/"+appA+"/bindings/users/"+joiner, map[string]any{"order": 5})
		},
		after: func(c *call, _ *resp, _ bool) { c.w.unbindJoiner() }},
	"ui POST /applications/{name}/delete": {body: func(*call) any { return form("confirm", appA) },
		after: restore(func(c *call) { c.w.ensureApp(appA) })},

	"ui GET /ldap-providers": {reveal: ldapA},
	"ui POST /ldap-providers": {body: func(c *call) any {
		return form("name", c.w.next("mx-new-ldap"), "base_dn", "dc=new,dc=example", "bind_mode", "direct", "search_mode", "cached")
	}},
	"ui POST /ldap-providers/{name}": {body: func(*call) any {
		return form("base_dn", "dc=a,dc=example", "search_group", "", "bind_mode", "direct", "search_mode", "cached", "upn_domain", "a.example")
	}},
	// Every outpost serving ldap-a goes first (the API's POST /outposts
	// made some): a served provider is 409.
	"ui POST /ldap-providers/{name}/delete": {body: func(*call) any { return form("confirm", ldapA) },
		before: func(c *call) {
			for _, o := range c.w.admin(200, "GET", "/api/v1/ldap-providers/"+ldapA, nil)["outposts"].([]any) {
				c.w.admin(204, "DELETE", "/api/v1/outposts/"+o.(string), nil)
			}
		},
		after: func(c *call, _ *resp, _ bool) { c.w.ensureProvider(ldapA); c.w.ensureOutpost(outA) }},
	"ui GET /outposts": {reveal: outA},
	"ui POST /outposts": {body: func(c *call) any {
		return form("name", c.w.next("mx-new-outpost"), "provider", ldapA, "ttl", "720h")
	}},
	"ui POST /outposts/{name}/rotate": {body: func(*call) any { return form("grace", "0s") }, after: func(c *call, r *resp, done bool) {
		if done {
			m := regexp.MustCompile(`<code id="new-key">([^<]+)</code>`).FindStringSubmatch(r.body)
			if m == nil {
				c.w.t.Fatalf("rotate outpost: no key in %s", r.body)
			}
			c.w.byName["outpost-a"].token = m[1]
		}
	}},
	"ui POST /outposts/{name}/delete": {body: func(*call) any { return form("confirm", outA) },
		after: restore(func(c *call) { c.w.ensureOutpost(outA) })},

	"ui GET /tokens": {reveal: tokA},
	"ui POST /tokens": {body: func(c *call) any {
		return form("identifier", c.w.next("mx-new-token"), "user", saA, "intent", "api")
	}},
	// serial: the form carries the token's current key marker, which a
	// rotation by another principal at the same moment would change (409).
	"ui POST /tokens/{id}/rotate": {serial: true, body: func(c *call) any {
		return form("key_marker", c.w.keyMarker(tokA), "grace", "0s")
	}},
	"ui POST /tokens/{id}/revoke": {after: restore(func(c *call) { c.w.ensureToken(tokA, saA) })},

	"ui GET /groups":         {reveal: groupA},
	"ui POST /groups":        {body: func(c *call) any { return form("name", c.w.next("mx-new-group")) }},
	"ui POST /groups/{name}": {body: func(*call) any { return form("description", "patched") }},
	"ui POST /groups/{name}/members": {body: func(*call) any { return form("username", joiner) },
		after: func(c *call, _ *resp, _ bool) { c.w.leave(groupA, joiner) }},
	"ui POST /groups/{name}/members/{username}/remove": {after: restore(func(c *call) { c.w.ensureGroupA() })},
	"ui POST /groups/{name}/delete": {body: func(*call) any { return form("confirm", groupA) },
		after: restore(func(c *call) { c.w.ensureGroupA() })},

	"ui POST /roles":        {body: func(c *call) any { return form("name", c.w.next("mx-new-role")) }},
	"ui POST /roles/{name}": {body: func(*call) any { return form("description", "patched") }},
	"ui POST /roles/{name}/assignments": {body: func(*call) any { return form("kind", "users", "holder", joiner) },
		after: func(c *call, _ *resp, _ bool) { c.w.unassign("users", joiner) }},
	"ui POST /roles/{name}/assignments/{kind}/{holder}/remove": {
		before: func(c *call) { c.w.assign("users", joiner) },
		after:  func(c *call, _ *resp, _ bool) { c.w.unassign("users", joiner) }},
	"ui POST /roles/{name}/delete": {before: victim("name", (*world).victimRole),
		body: func(c *call) any { return form("confirm", c.vars["name"]) }},

	"ui GET /oidc-issuers": {reveal: issA},
	"ui POST /oidc-issuers": {body: func(c *call) any {
		name := c.w.next("mx-new-iss")
		return form("name", name, "kind", "generic", "issuer_url", "https://"+name+".example", "allowed_algs", "RS256", "leeway", "60s")
	}},
	"ui POST /oidc-issuers/{name}": {body: func(*call) any {
		return form("issuer_url", "https://"+issA+".example", "allowed_algs", "RS256", "allowed_algs", "ES256", "leeway", "30s")
	}},
	"ui POST /oidc-issuers/{name}/delete": {before: victim("name", func(w *world) string {
		name := w.next("mx-victim-iss")
		w.ensureIssuer(name)
		return name
	}), body: func(c *call) any { return form("confirm", c.vars["name"]) }},
	"ui GET /trust-policies": {reveal: polA},
	"ui POST /trust-policies": {body: func(c *call) any {
		return form("name", c.w.next("mx-new-policy"), "issuer", issA, "service_account", fedSA,
			"audience", "https://gatehouse.example", "conditions", "sub = job:x", "perm_mode", "all")
	}},
	"ui POST /trust-policies/{name}": {body: func(*call) any {
		return form("service_account", fedSA, "audience", "https://gatehouse.example", "conditions", "sub = job:"+polA,
			"perm_mode", "all", "ttl", "5m")
	}},
	"ui POST /trust-policies/{name}/delete": {before: victim("name", func(w *world) string {
		name := w.next("mx-victim-policy")
		w.ensurePolicy(name)
		return name
	}), body: func(c *call) any { return form("confirm", c.vars["name"]) }},
	"ui POST /policy-tester": {body: func(*call) any { return form("id_token", "not.a.jwt") }},

	// The new password is the same, hashed at full cost: make it cheap
	// again for the routes that check it next (the session then ends and
	// is opened again).
	"ui POST /profile/password": {own: true,
		body: func(c *call) any {
			return form("current_password", c.p.password, "new_password", c.p.password, "confirm_password", c.p.password)
		},
		after: restore(func(c *call) { c.w.cheapPassword(c.p.user, c.p.password) })},
	"ui POST /profile/two-factor": {own: true, after: func(c *call, _ *resp, _ bool) { c.w.ownTOTPOff(c.p) }},
	"ui POST /profile/two-factor/confirm": {own: true,
		body: func(c *call) any {
			if c.p.user == "" || c.p.pending {
				return form("code", "000000")
			}
			c.w.ownTOTPOff(c.p)
			return form("code", c.w.code(c.w.beginTOTP(c.p.uid)))
		},
		after: func(c *call, _ *resp, _ bool) { c.w.ownTOTPOff(c.p) }},
	"ui POST /profile/two-factor/disable": {own: true,
		before: func(c *call) { c.w.ownTOTPOn(c.p) },
		body:   func(c *call) any { return form("password", c.p.password) },
		after:  func(c *call, _ *resp, _ bool) { c.w.ownTOTPOff(c.p) }},
	"ui POST /profile/two-factor/recovery-codes": {own: true,
		before: func(c *call) { c.w.ownTOTPOn(c.p) },
		body:   func(c *call) any { return form("password", c.p.password) },
		after:  func(c *call, _ *resp, _ bool) { c.w.ownTOTPOff(c.p) }},

	"ui POST /settings": {body: func(*call) any { return form("title", "gatehouse", "default_application", "") }},
}

// --- small restorations ---

func (w *world) uidOf(user string) string {
	w.t.Helper()
	u, err := w.e.App.Store.GetUser(w.ctx, user)
	if err != nil {
		w.t.Fatal(err)
	}
	return u.UID
}

func (w *world) leave(group, user string) {
	r := w.e.Admin("DELETE", "/api/v1/groups/"+group+"/members/"+user, nil)
	if r.Status != 204 && r.Status != 404 {
		w.t.Fatalf("remove %s from %s: %d %s", user, group, r.Status, r.Body)
	}
}

func (w *world) assign(kind, holder string) {
	w.admin(204, "PUT", "/api/v1/roles/"+roleX+"/assignments/"+kind+"/"+holder, nil)
}

func (w *world) unassign(kind, holder string) {
	r := w.e.Admin("DELETE", "/api/v1/roles/"+roleX+"/assignments/"+kind+"/"+holder, nil)
	if r.Status != 204 && r.Status != 404 {
		w.t.Fatalf("unassign %s %s: %d %s", kind, holder, r.Status, r.Body)
	}
}

func (w *world) unbindJoiner() {
	r := w.e.Admin("DELETE", "/api/v1/applications/"+appA+"/bindings/users/"+joiner, nil)
	if r.Status != 204 && r.Status != 404 {
		w.t.Fatalf("unbind %s: %d %s", joiner, r.Status, r.Body)
	}
}

// ownTOTPOn and ownTOTPOff set a signed-in human's own second factor
// (never the pending principal's, whose sign-in needs it).
func (w *world) ownTOTPOn(p *principal) {
	if p.user == "" || p.pending || !p.calls("ui") || w.hasTOTP(p.uid) {
		return
	}
	w.resetTOTP(p.user) // an enrolment left half-way
	w.enrolTOTP(p.user, p.uid)
}

func (w *world) ownTOTPOff(p *principal) {
	if p.user == "" || p.pending || !p.calls("ui") {
		return
	}
	w.resetTOTP(p.user)
}
