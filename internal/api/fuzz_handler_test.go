package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/api"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/internal/server/servertest"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
)

// writeRoute is a route that takes a body, its path filled in with an
// object that exists, and the credential that reaches its handler.
type writeRoute struct {
	method, pattern, path, authz string
	fields                       []string // the body's documented fields
}

// objects names, by the path segment before a wildcard, the object the
// fuzzer's requests address. The admin and the outpost whose keys the
// requests carry are not among them, so no input locks the fuzzer out.
var objects = map[string]string{
	"users": "alice", "service-accounts": "bot", "members": "alice",
	"groups": "staff", "roles": "reader", "applications": "wiki",
	"ldap-providers": "corp", "outposts": "spare", "tokens": "alice-key",
	"oidc-issuers": "gh", "trust-policies": "deploy",
}

// exampleBodies are seeds: one good body per route pattern; the others
// start from "{}".
var exampleBodies = map[string]string{
	"POST /api/v1/users":                                        `{"username":"carol","type":"human","name":"Carol","email":"carol@example.com","password":"a long password for carol"}`,
	"PATCH /api/v1/users/{username}":                            `{"name":"Alice","email":"alice@example.com","description":"d","is_active":true}`,
	"PUT /api/v1/users/{username}/password":                     `{"password":"another long password"}`,
	"PUT /api/v1/users/{username}/permissions":                  `{"permissions":["users.read","tokens.read@group/staff"]}`,
	"POST /api/v1/service-accounts":                             `{"username":"ci","description":"ci","groups":["staff"],"roles":["reader"],"create_group":true,"token_intent":"api","ttl":"720h"}`,
	"PATCH /api/v1/service-accounts/{username}":                 `{"description":"the bot"}`,
	"POST /api/v1/groups":                                       `{"name":"ops","description":"operators"}`,
	"PATCH /api/v1/groups/{name}":                               `{"description":"staff"}`,
	"POST /api/v1/roles":                                        `{"name":"writer","description":"w","permissions":["users.write"]}`,
	"PATCH /api/v1/roles/{name}":                                `{"permissions":["users.read","groups.read@group/staff"]}`,
	"POST /api/v1/tokens":                                       `{"user":"alice","intent":"app_password","identifier":"alice-2","expiring":false}`,
	"PATCH /api/v1/tokens/{identifier}":                         `{"description":"x","extended":true,"max_age":"24h"}`,
	"POST /api/v1/tokens/{identifier}/rotate":                   `{"grace":"1h"}`,
	"POST /api/v1/applications":                                 `{"slug":"grafana","name":"Grafana","url":"https://grafana.example.org/","policy_engine_mode":"all"}`,
	"PATCH /api/v1/applications/{slug}":                         `{"name":"Wiki","description":"w","policy_engine_mode":"any"}`,
	"PUT /api/v1/applications/{slug}/bindings/users/{username}": `{"order":-1,"negate":true}`,
	"PUT /api/v1/applications/{slug}/bindings/groups/{group}":   `{"order":2}`,
	"POST /api/v1/introspect":                                   `{"token":"gat_0123456789ABcdefghijklmnopqrstuvwx2HtnWe","token_type_hint":"access_token"}`,
	"PATCH /api/v1/brand":                                       `{"title":"Example","default_application":"wiki"}`,
	"POST /api/v1/ldap-providers":                               `{"name":"lab","base_dn":"dc=lab,dc=example","search_group":"staff","bind_mode":"direct","search_mode":"direct"}`,
	"PATCH /api/v1/ldap-providers/{name}":                       `{"upn_domain":"example.com"}`,
	"POST /api/v1/ldap-providers/{name}/bind":                   `{"name":"cn=alice,ou=users,dc=example,dc=com","password":"wrong","client_ip":"192.0.2.7"}`,
	"POST /api/v1/ldap-providers/{name}/sessions":               `{"sessions":[{"user_uid":"u1","binding":"k:x"}]}`,
	"POST /api/v1/ldap-providers/{name}/search":                 `{"user_uid":"u1","binding":"k:x","base":"dc=example,dc=com","scope":2,"filter":"hwtvYmplY3RDbGFzcw==","size_limit":10}`,
	"POST /api/v1/outposts":                                     `{"name":"rack2","provider":"corp","description":"d","ttl":"720h"}`,
	"POST /api/v1/outposts/{name}/rotate":                       `{"grace":"1m"}`,
	"PUT /api/v1/roles/{name}/assignments/users/{username}":     ``,
	"PUT /api/v1/roles/{name}/assignments/groups/{group}":       ``,
	"PUT /api/v1/groups/{name}/members/{username}":              ``,
	"POST /api/v1/oidc-issuers":                                 `{"name":"lab","issuer_url":"https://issuer.example","jwks_url":"https://issuer.example/keys","allowed_algs":["ES256"],"leeway":"30s","shared":true,"tenant_claims":["org_id"]}`,
	"PATCH /api/v1/oidc-issuers/{name}":                         `{"leeway":"10s","allowed_algs":["RS256"]}`,
	"POST /api/v1/trust-policies":                               `{"name":"ci","issuer":"gh","service_account":"deployer","audience":"a","conditions":{"repository_owner_id":"1","ref":["refs/heads/main"]},"permissions":[],"allowed_cidrs":["10.0.0.0/8"],"ttl":"5m"}`,
	"PATCH /api/v1/trust-policies/{name}":                       `{"description":"d","permissions":null,"ttl":"30m","conditions":{"repository_id":"2"}}`,
	"POST /api/v1/trust-policies/test":                          `{"id_token":"eyJhbGciOiJub25lIn0.eyJpc3MiOiJodHRwczovL3Rva2VuLmFjdGlvbnMuZ2l0aHVidXNlcmNvbnRlbnQuY29tIn0.","service_account":"deployer"}`,
}

// FuzzAPIWrites sends bodies to every route of the route table that
// takes one (POST, PUT, PATCH), chosen by route, through the whole HTTP
// handler of a real gatehouse on SQLite, as the admin (or, on the
// outpost-only LDAP routes, as an outpost). When field is not 0, value
// (as JSON, or else as a string) replaces the documented field it picks
// in the body. Whatever the body, the answer is never a 5xx, and every
// 4xx is a problem document (application/problem+json) whose status is
// the answer's. State carries over between inputs (objects are created
// and changed), which is intended: later inputs meet a directory the
// earlier ones shaped. Before fuzzing, a body one byte too large must be
// answered 413 on each route.
func FuzzAPIWrites(f *testing.F) {
	e := servertest.Start(f, storetest.NewSQLite(f))
	admin := servertest.Bearer(servertest.AdminToken)
	must := func(status int, method, path string, body any) map[string]any {
		return e.Must(status, e.Admin(method, path, body)).JSON()
	}
	must(201, "POST", "/api/v1/users", map[string]any{"username": "alice", "password": "a long password for alice"})
	must(201, "POST", "/api/v1/service-accounts", map[string]any{"username": "bot", "token_intent": "api"})
	must(201, "POST", "/api/v1/tokens", map[string]any{"user": "alice", "identifier": "alice-key"})
	must(201, "POST", "/api/v1/groups", map[string]any{"name": "staff"})
	must(204, "PUT", "/api/v1/groups/staff/members/alice", nil)
	must(201, "POST", "/api/v1/roles", map[string]any{"name": "reader", "permissions": []string{"users.read"}})
	must(201, "POST", "/api/v1/applications", map[string]any{"slug": "wiki", "name": "Wiki"})
	must(201, "POST", "/api/v1/ldap-providers", map[string]any{"name": "corp", "base_dn": "dc=example,dc=com"})
	outpost := must(201, "POST", "/api/v1/outposts", map[string]any{"name": "rack1", "provider": "corp"})
	outpostKey := servertest.Bearer(outpost["token"].(map[string]any)["key"].(string))
	must(201, "POST", "/api/v1/outposts", map[string]any{"name": "spare", "provider": "corp"})
	must(201, "POST", "/api/v1/oidc-issuers", map[string]any{"name": "gh", "kind": "github"})
	must(201, "POST", "/api/v1/service-accounts", map[string]any{"username": "deployer", "token_intent": "none"})
	must(201, "POST", "/api/v1/trust-policies", map[string]any{"name": "deploy", "issuer": "gh", "service_account": "deployer",
		"audience": "https://gatehouse.example", "conditions": map[string]any{"repository_owner_id": "1"}})

	var routes []writeRoute
	for _, rt := range e.App.API.Routes() {
		if rt.Method != "POST" && rt.Method != "PUT" && rt.Method != "PATCH" {
			continue
		}
		if rt.Path == "/api/v1/oauth/token" {
			continue // answers RFC 6749's JSON, not problems: FuzzTokenExchange
		}
		segs := strings.Split(rt.Path, "/")
		for i, s := range segs {
			if strings.HasPrefix(s, "{") {
				obj, ok := objects[segs[i-1]]
				if !ok {
					f.Fatalf("%s %s: no object for %s after %q; add one to objects", rt.Method, rt.Path, s, segs[i-1])
				}
				segs[i] = obj
			}
		}
		wr := writeRoute{rt.Method, rt.Method + " " + rt.Path, strings.Join(segs, "/"), admin, bodyFields(f, rt.Method, rt.Path)}
		// Routes only an outpost may call refuse the admin after reading
		// the body; with the outpost's key the body goes further.
		if e.Do(wr.method, wr.path, admin, "{}").Status == http.StatusForbidden &&
			e.Do(wr.method, wr.path, outpostKey, "{}").Status != http.StatusForbidden {
			wr.authz = outpostKey
		}
		routes = append(routes, wr)
	}
	slices.SortFunc(routes, func(a, b writeRoute) int { return strings.Compare(a.pattern, b.pattern) })
	for i, rt := range routes {
		body, ok := exampleBodies[rt.pattern]
		if !ok {
			f.Fatalf("%s: no example body; add one to exampleBodies", rt.pattern)
		}
		f.Add(uint8(i), uint8(0), "", []byte(body))
		f.Add(uint8(i), uint8(0), "", []byte("{}"))
		var example map[string]json.RawMessage
		_ = json.Unmarshal([]byte(body), &example)
		for k, name := range rt.fields {
			value := "null"
			if v, ok := example[name]; ok {
				value = string(v)
			}
			f.Add(uint8(i), uint8(k+1), value, []byte(body))
		}
		// A body one byte over the limit is refused whole, before any
		// change, by every route that reads one.
		if body != "" {
			huge := `{"description":"` + strings.Repeat("a", httpx.MaxBody-17) + `"}`
			r := e.Do(rt.method, rt.path, rt.authz, huge)
			if r.Status != http.StatusRequestEntityTooLarge || r.Header.Get("Content-Type") != "application/problem+json" {
				f.Fatalf("%s: a body of %d bytes answered %d %s", rt.pattern, len(huge), r.Status, r.Body)
			}
		}
	}

	f.Fuzz(func(t *testing.T, route, field uint8, value string, body []byte) {
		rt := routes[int(route&0x7f)%len(routes)]
		if field != 0 && len(rt.fields) > 0 {
			// value replaces one documented field of the body: its
			// length and content are then one mutation away.
			var m map[string]any
			if json.Unmarshal(body, &m) == nil && m != nil {
				var v any
				if json.Unmarshal([]byte(value), &v) != nil {
					v = value
				}
				m[rt.fields[int(field-1)%len(rt.fields)]] = v
				body, _ = json.Marshal(m)
			}
		}
		req := httptest.NewRequest(rt.method, rt.path, bytes.NewReader(body))
		req.Header.Set("Authorization", rt.authz)
		req.Header.Set("Content-Type", "application/json")
		if route&0x80 != 0 {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		w := httptest.NewRecorder()
		e.App.Handler.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%s %q: %d %s", rt.pattern, body, w.Code, w.Body)
		}
		if w.Code >= 400 {
			var p httpx.Problem
			if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("%s %q: %d with Content-Type %q: %s", rt.pattern, body, w.Code, ct, w.Body)
			}
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Status != w.Code || p.Title == "" {
				t.Fatalf("%s %q: %d with the problem %s (%v)", rt.pattern, body, w.Code, w.Body, err)
			}
		}
	})
}

// bodyFields lists the properties of a route's request body in the
// OpenAPI document, which TestOpenAPIRequestSchemasMatchInputs keeps
// equal to the fields its handler decodes.
func bodyFields(f *testing.F, method, path string) []string {
	var doc struct {
		Paths      map[string]map[string]json.RawMessage
		Components struct {
			Schemas map[string]struct{ Properties map[string]any }
		}
	}
	if err := json.Unmarshal(api.OpenAPIDocument, &doc); err != nil {
		f.Fatal(err)
	}
	var op struct {
		RequestBody struct {
			Content map[string]struct {
				Schema struct {
					Ref   string `json:"$ref"`
					AllOf []struct {
						Ref string `json:"$ref"`
					}
				}
			}
		}
	}
	_ = json.Unmarshal(doc.Paths[path][strings.ToLower(method)], &op)
	schema := op.RequestBody.Content["application/json"].Schema
	refs := []string{schema.Ref}
	for _, a := range schema.AllOf {
		refs = append(refs, a.Ref)
	}
	var fields []string
	for _, ref := range refs {
		if name, ok := strings.CutPrefix(ref, "#/components/schemas/"); ok {
			for p := range doc.Components.Schemas[name].Properties {
				fields = append(fields, p)
			}
		}
	}
	slices.Sort(fields)
	return fields
}
