package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/core"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/internal/ldap"
)

// The OpenAPI document is written by hand; these tests keep it honest
// against the route table and the request decoders.

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func loadOpenAPI(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(OpenAPIDocument, &doc); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	return doc
}

// operation is one method of one path of the document.
type operation struct {
	method, path string
	item, op     map[string]any
}

func (o operation) String() string { return o.method + " " + o.path }

func operations(t *testing.T, doc map[string]any) []operation {
	t.Helper()
	paths, ok := doc["paths"].(map[string]any)
	if !ok {
		t.Fatal("document has no paths object")
	}
	var out []operation
	for path, v := range paths {
		item, ok := v.(map[string]any)
		if !ok {
			t.Errorf("path %s is not an object", path)
			continue
		}
		for _, m := range httpMethods {
			if op, ok := item[m].(map[string]any); ok {
				out = append(out, operation{strings.ToUpper(m), path, item, op})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// resolve follows a local reference ("#/components/...") in doc.
func resolve(doc map[string]any, ref string) (any, bool) {
	if !strings.HasPrefix(ref, "#/") {
		return nil, false
	}
	var cur any = doc
	for _, part := range strings.Split(ref[2:], "/") {
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// deref returns v, or what v's $ref points at.
func deref(doc map[string]any, v any) map[string]any {
	m, _ := v.(map[string]any)
	if ref, ok := m["$ref"].(string); ok {
		target, _ := resolve(doc, ref)
		m, _ = target.(map[string]any)
	}
	return m
}

func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc := loadOpenAPI(t)
	documented := map[string]operation{}
	for _, o := range operations(t, doc) {
		documented[o.String()] = o
	}
	routes := map[string]Route{}
	for _, rt := range (&Server{}).Routes() {
		routes[rt.Method+" "+rt.Path] = rt
	}

	var missing, extra []string
	for k := range routes {
		if _, ok := documented[k]; !ok {
			missing = append(missing, k)
		}
	}
	for k := range documented {
		if _, ok := routes[k]; !ok {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	for _, k := range missing {
		t.Errorf("route %s is not in openapi.json", k)
	}
	for _, k := range extra {
		t.Errorf("openapi.json documents %s, which is not a route", k)
	}

	// Public routes say so with "security: []"; the others keep the
	// document's global requirement.
	for k, rt := range routes {
		o, ok := documented[k]
		if !ok {
			continue
		}
		sec, has := o.op["security"].([]any)
		switch {
		case rt.Public && (!has || len(sec) != 0):
			t.Errorf("%s is public: it must declare \"security\": []", k)
		case !rt.Public && has && len(sec) == 0:
			t.Errorf("%s needs a credential but declares \"security\": []", k)
		case !rt.Public:
			if _, ok := o.op["responses"].(map[string]any)["401"]; !ok {
				t.Errorf("%s needs a credential but documents no 401", k)
			}
		}
	}
}

var pathParamRE = regexp.MustCompile(`\{([^{}]+)\}`)

func TestOpenAPIIsWellFormed(t *testing.T) {
	doc := loadOpenAPI(t)
	if doc["openapi"] != "3.1.0" {
		t.Errorf("openapi = %v, want 3.1.0", doc["openapi"])
	}
	if info, _ := doc["info"].(map[string]any); info["title"] == nil || info["version"] == nil {
		t.Errorf("info needs title and version: %v", info)
	}

	ids := map[string]string{}
	for _, o := range operations(t, doc) {
		id, _ := o.op["operationId"].(string)
		if id == "" {
			t.Errorf("%s has no operationId", o)
		} else if prev, dup := ids[id]; dup {
			t.Errorf("operationId %q is used by %s and %s", id, prev, o)
		} else {
			ids[id] = o.String()
		}
		if rs, _ := o.op["responses"].(map[string]any); len(rs) == 0 {
			t.Errorf("%s has no responses", o)
		}

		// Every {name} of the template is a required path parameter, and
		// no path parameter is declared that the template lacks.
		declared := map[string]bool{}
		for _, src := range []any{o.item["parameters"], o.op["parameters"]} {
			ps, _ := src.([]any)
			for _, p := range ps {
				pm := deref(doc, p)
				if pm == nil {
					t.Errorf("%s: parameter %v does not resolve", o, p)
					continue
				}
				if pm["in"] != "path" {
					continue
				}
				name, _ := pm["name"].(string)
				if pm["required"] != true {
					t.Errorf("%s: path parameter %q must be required", o, name)
				}
				declared[name] = true
			}
		}
		inTemplate := map[string]bool{}
		for _, m := range pathParamRE.FindAllStringSubmatch(o.path, -1) {
			inTemplate[m[1]] = true
			if !declared[m[1]] {
				t.Errorf("%s: path parameter %q is not declared (in: path, required: true)", o, m[1])
			}
		}
		for name := range declared {
			if !inTemplate[name] {
				t.Errorf("%s: declares path parameter %q, which the path lacks", o, name)
			}
		}
	}

	// Every $ref, wherever it is, points at an existing component.
	var walk func(at string, v any)
	walk = func(at string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"]; ok {
				s, isString := ref.(string)
				if !isString || !strings.HasPrefix(s, "#/components/") {
					t.Errorf("%s: $ref %v does not point into #/components/", at, ref)
				} else if _, ok := resolve(doc, s); !ok {
					t.Errorf("%s: $ref %s does not resolve", at, s)
				}
			}
			for k, child := range v {
				walk(at+"/"+k, child)
			}
		case []any:
			for _, child := range v {
				walk(at+"[]", child)
			}
		}
	}
	walk("#", doc)
}

// inputTypes maps the request-body components to the Go types the
// handlers decode into.
var inputTypes = map[string]any{
	"CreateUserInput":           core.CreateUserInput{},
	"UpdateUserInput":           core.UpdateUserInput{},
	"CreateServiceAccountInput": core.CreateServiceAccountInput{},
	"GroupInput":                core.GroupInput{},
	"RoleInput":                 core.RoleInput{},
	"CreateTokenInput":          core.CreateTokenInput{},
	"UpdateTokenInput":          core.UpdateTokenInput{},
	"RotateInput":               core.RotateInput{},
	"PasswordInput":             PasswordInput{},
	"BrandInput":                core.BrandInput{},
	"PermissionsBody":           PermissionsBody{},
	"LDAPProviderInput":         core.LDAPProviderInput{},
	"LDAPProviderPatch":         core.LDAPProviderPatch{},
	"LDAPBindInput":             core.LDAPBindInput{},
	"LDAPSessionsInput":         core.LDAPSessionsInput{},
	"DirectSearchInput":         ldap.DirectSearchInput{},
	"OutpostInput":              core.OutpostInput{},
	"OutpostRotateInput":        core.OutpostRotateInput{},
	"ApplicationInput":          core.ApplicationInput{},
	"BindingInput":              core.BindingInput{},
	"IntrospectionRequest":      IntrospectionRequest{},
	"OIDCIssuerInput":           core.OIDCIssuerInput{},
	"OIDCIssuerPatch":           core.OIDCIssuerPatch{},
	"TrustPolicyInput":          core.TrustPolicyInput{},
	"TrustPolicyPatch":          core.TrustPolicyPatch{},
	"PolicyTestInput":           core.PolicyTestInput{},
	"TokenExchangeRequest":      TokenExchangeRequest{},
}

// jsonBody reports whether the operation takes a JSON body (the token
// exchange takes a form only, RFC 8693).
func jsonBody(doc map[string]any, op map[string]any) bool {
	rb := deref(doc, op["requestBody"])
	content, _ := rb["content"].(map[string]any)
	_, ok := content["application/json"]
	return ok
}

// bodyComponent names the component a request body's schema refers to,
// directly or as a member of an allOf.
func bodyComponent(doc map[string]any, op map[string]any) (string, bool) {
	rb := deref(doc, op["requestBody"])
	if rb == nil {
		return "", false
	}
	content, _ := rb["content"].(map[string]any)
	media, _ := content["application/json"].(map[string]any)
	if media == nil {
		// A form only (the token exchange, RFC 8693).
		media, _ = content["application/x-www-form-urlencoded"].(map[string]any)
	}
	schema, _ := media["schema"].(map[string]any)
	refs := []any{schema}
	if all, ok := schema["allOf"].([]any); ok {
		refs = all
	}
	for _, r := range refs {
		if m, ok := r.(map[string]any); ok {
			if ref, ok := m["$ref"].(string); ok && strings.HasPrefix(ref, "#/components/schemas/") {
				return strings.TrimPrefix(ref, "#/components/schemas/"), true
			}
		}
	}
	return "", true
}

func schemaProperties(t *testing.T, doc map[string]any, name string) (map[string]any, map[string]any) {
	t.Helper()
	v, _ := resolve(doc, "#/components/schemas/"+name)
	schema, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("component %s is missing", name)
	}
	props, _ := schema["properties"].(map[string]any)
	return schema, props
}

func TestOpenAPIRequestSchemasMatchInputs(t *testing.T) {
	doc := loadOpenAPI(t)
	used := map[string]bool{}
	for _, o := range operations(t, doc) {
		name, has := bodyComponent(doc, o.op)
		if !has {
			continue
		}
		if _, known := inputTypes[name]; !known {
			t.Errorf("%s: request body schema %q is not a component listed in inputTypes", o, name)
			continue
		}
		used[name] = true
	}
	for name, zero := range inputTypes {
		if !used[name] {
			t.Errorf("inputTypes lists %s, which no request body uses", name)
		}
		schema, props := schemaProperties(t, doc, name)
		if schema["additionalProperties"] != false {
			t.Errorf("%s: the server refuses unknown fields; set additionalProperties: false", name)
		}
		var want, got []string
		for k := range httpx.JSONFields(reflect.TypeOf(zero)) {
			want = append(want, k)
		}
		for k := range props {
			got = append(got, k)
		}
		sort.Strings(want)
		sort.Strings(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s: document has properties %v, %T decodes %v", name, got, zero, want)
		}
		req, _ := schema["required"].([]any)
		for _, r := range req {
			if _, ok := props[r.(string)]; !ok {
				t.Errorf("%s: required %q is not a property", name, r)
			}
		}
	}
}

// TestOpenAPIRequestBodiesMatchDecoders sends each documented body's
// properties, with values of no valid type, to the route's handler: the
// strict decoder must refuse each as a bad value, never as an unknown
// field, so each route really decodes what its document says. An unknown
// probe field is always added, so the handler never gets past decoding.
func TestOpenAPIRequestBodiesMatchDecoders(t *testing.T) {
	doc := loadOpenAPI(t)
	documented := map[string]operation{}
	for _, o := range operations(t, doc) {
		documented[o.String()] = o
	}
	for _, rt := range (&Server{}).Routes() {
		o, ok := documented[rt.Method+" "+rt.Path]
		if !ok {
			continue // reported by TestOpenAPIMatchesRoutes
		}
		name, has := bodyComponent(doc, o.op)
		if !has || name == "" || !jsonBody(doc, o.op) {
			continue
		}
		_, props := schemaProperties(t, doc, name)
		body := map[string]any{"zz_probe": true}
		for k := range props {
			body[k] = map[string]any{"probe": 1}
		}
		raw, _ := json.Marshal(body)
		t.Run(rt.Method+" "+rt.Path, func(t *testing.T) {
			w := httptest.NewRecorder()
			r := httptest.NewRequest(rt.Method, rt.Path, strings.NewReader(string(raw)))
			func() {
				defer func() {
					if v := recover(); v != nil {
						t.Fatalf("handler got past decoding: %v", v)
					}
				}()
				rt.handler(w, r, core.Actor{})
			}()
			if w.Code != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", w.Code, w.Body)
			}
			var p httpx.Problem
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
				t.Fatalf("answer is not a problem: %v", err)
			}
			msgs := map[string]string{}
			for _, fe := range p.Errors {
				msgs[fe.Field] = fe.Message
			}
			for k := range props {
				switch m, ok := msgs[k]; {
				case !ok:
					t.Errorf("documented field %q was not checked by the decoder", k)
				case m == "unknown field":
					t.Errorf("documented field %q is unknown to the decoder", k)
				}
			}
			if msgs["zz_probe"] != "unknown field" {
				t.Errorf("the decoder does not refuse unknown fields: %v", msgs)
			}
		})
	}
}
