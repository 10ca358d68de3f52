package api

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
)

var updateReference = flag.Bool("update", false, "rewrite docs/API.md from openapi.json")

const referenceFile = "../../docs/API.md"

// TestAPIReferenceIsGenerated: docs/API.md, the API reference the README
// cites, is what openapi.json says, generated, so the two cannot part:
// every operation, parameter, body, answer and schema of the document.
func TestAPIReferenceIsGenerated(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(OpenAPIDocument, &doc); err != nil {
		t.Fatal(err)
	}
	got := apiReference(doc)
	if *updateReference {
		if err := os.WriteFile(referenceFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(referenceFile)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/api -run TestAPIReferenceIsGenerated -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("docs/API.md is not what openapi.json says: run go test ./internal/api -run TestAPIReferenceIsGenerated -update and commit it")
	}
	// Every route is in it, under its own heading.
	for _, rt := range (&Server{}).Routes() {
		if !bytes.Contains(want, []byte("### `"+rt.Method+" "+rt.Path+"`")) {
			t.Errorf("docs/API.md has no section for %s %s", rt.Method, rt.Path)
		}
	}
}

var methodOrder = []string{"get", "post", "put", "patch", "delete"}

// apiReference renders the OpenAPI document as Markdown.
func apiReference(doc map[string]any) []byte {
	var b bytes.Buffer
	info := obj(doc["info"])
	fmt.Fprintf(&b, "# %s API reference (%s)\n\n", str(info["title"]), str(info["version"]))
	b.WriteString("Generated from the OpenAPI 3.1 document, `internal/api/openapi.json`, which the\n" +
		"server serves at `/api/v1/openapi.json` and renders at `/api/docs`. Do not\n" +
		"edit: `go test ./internal/api -run TestAPIReferenceIsGenerated -update`\n" +
		"rewrites it, and the same test fails while the two differ.\n\n")
	b.WriteString(strings.TrimSpace(str(info["description"])) + "\n\n")

	type op struct{ method, path string }
	byTag := map[string][]op{}
	paths := obj(doc["paths"])
	for _, p := range sortedKeys(paths) {
		item := obj(paths[p])
		for _, m := range methodOrder {
			if o, ok := item[m]; ok {
				tag := str(list(obj(o)["tags"])[0])
				byTag[tag] = append(byTag[tag], op{m, p})
			}
		}
	}
	b.WriteString("## Contents\n\n| operation | summary |\n|---|---|\n")
	// The document's tags in its order, then any an operation names
	// without declaring it.
	tags := list(doc["tags"])
	declared := map[string]bool{}
	for _, tg := range tags {
		declared[str(obj(tg)["name"])] = true
	}
	for _, name := range sortedKeys(anyMap(byTag)) {
		if !declared[name] {
			tags = append(tags, map[string]any{"name": name})
		}
	}
	for _, tg := range tags {
		for _, o := range byTag[str(obj(tg)["name"])] {
			title := strings.ToUpper(o.method) + " " + o.path
			fmt.Fprintf(&b, "| [`%s`](#%s) | %s |\n", title, anchor(title), cell(str(obj(obj(paths[o.path])[o.method])["summary"])))
		}
	}
	b.WriteString("\n")
	for _, tg := range tags {
		t := obj(tg)
		fmt.Fprintf(&b, "## %s\n\n", str(t["name"]))
		if d := strings.TrimSpace(str(t["description"])); d != "" {
			b.WriteString(d + "\n\n")
		}
		for _, o := range byTag[str(t["name"])] {
			writeOperation(&b, doc, strings.ToUpper(o.method), o.path, obj(obj(paths[o.path])[o.method]), obj(paths[o.path])["parameters"])
		}
	}
	b.WriteString("## Schemas\n\n")
	schemas := obj(obj(doc["components"])["schemas"])
	for _, name := range sortedKeys(schemas) {
		writeSchema(&b, name, obj(schemas[name]))
	}
	return append(bytes.TrimRight(b.Bytes(), "\n"), '\n')
}

func writeOperation(b *bytes.Buffer, doc map[string]any, method, path string, o map[string]any, shared any) {
	fmt.Fprintf(b, "### `%s %s`\n\n**%s**", method, path, str(o["summary"]))
	if sec, ok := o["security"].([]any); ok && len(sec) == 0 {
		b.WriteString(" (public: no credential)")
	}
	b.WriteString("\n\n")
	if d := strings.TrimSpace(str(o["description"])); d != "" {
		b.WriteString(d + "\n\n")
	}
	params := append(list(shared), list(o["parameters"])...)
	if len(params) > 0 {
		b.WriteString("| parameter | in | required | type | description |\n|---|---|---|---|---|\n")
		for _, p := range params {
			pm := deref(doc, p)
			req := ""
			if pm["required"] == true {
				req = "yes"
			}
			fmt.Fprintf(b, "| `%s` | %s | %s | %s | %s |\n", str(pm["name"]), str(pm["in"]), req,
				typeOf(obj(pm["schema"])), cell(str(pm["description"])))
		}
		b.WriteString("\n")
	}
	if rb := deref(doc, o["requestBody"]); rb != nil {
		for _, ct := range sortedKeys(obj(rb["content"])) {
			c := obj(obj(rb["content"])[ct])
			fmt.Fprintf(b, "Request body (`%s`): %s\n\n", ct, typeOf(obj(c["schema"])))
			if ex, ok := c["example"]; ok {
				j, _ := json.MarshalIndent(ex, "", "  ")
				fmt.Fprintf(b, "```json\n%s\n```\n\n", j)
			}
		}
	}
	b.WriteString("| answer | description | body |\n|---|---|---|\n")
	responses := obj(o["responses"])
	for _, code := range sortedKeys(responses) {
		r := deref(doc, responses[code])
		var body []string
		for _, ct := range sortedKeys(obj(r["content"])) {
			body = append(body, fmt.Sprintf("`%s` %s", ct, typeOf(obj(obj(obj(r["content"])[ct])["schema"]))))
		}
		fmt.Fprintf(b, "| %s | %s | %s |\n", code, cell(str(r["description"])), strings.Join(body, ", "))
	}
	b.WriteString("\n")
}

func writeSchema(b *bytes.Buffer, name string, s map[string]any) {
	fmt.Fprintf(b, "### %s\n\n", name)
	if d := strings.TrimSpace(str(s["description"])); d != "" {
		b.WriteString(d + "\n\n")
	}
	props := obj(s["properties"])
	if len(props) == 0 {
		fmt.Fprintf(b, "Type: %s\n\n", typeOf(s))
		return
	}
	var required []string
	for _, r := range list(s["required"]) {
		required = append(required, str(r))
	}
	b.WriteString("| field | type | required | description |\n|---|---|---|---|\n")
	for _, p := range sortedKeys(props) {
		req := ""
		if slices.Contains(required, p) {
			req = "yes"
		}
		ps := obj(props[p])
		fmt.Fprintf(b, "| `%s` | %s | %s | %s |\n", p, typeOf(ps), req, cell(str(ps["description"])))
	}
	b.WriteString("\n")
}

// typeOf renders a schema's type in a line: a link to a named schema, an
// array of one, an enumeration, a union.
func typeOf(s map[string]any) string {
	if s == nil {
		return ""
	}
	if ref := str(s["$ref"]); ref != "" {
		name := ref[strings.LastIndex(ref, "/")+1:]
		return fmt.Sprintf("[%s](#%s)", name, strings.ToLower(name))
	}
	for _, k := range []string{"oneOf", "anyOf", "allOf"} {
		if alts := list(s[k]); len(alts) > 0 {
			var parts []string
			for _, a := range alts {
				part := typeOf(obj(a))
				if req := list(obj(a)["required"]); part == "" && len(req) > 0 {
					var names []string
					for _, r := range req {
						names = append(names, "`"+str(r)+"`")
					}
					part = "with " + strings.Join(names, ", ")
				}
				if part != "" {
					parts = append(parts, part)
				}
			}
			sep := " or "
			if k == "allOf" {
				sep = " "
			}
			return strings.Join(parts, sep)
		}
	}
	var t string
	switch v := s["type"].(type) {
	case string:
		t = v
	case []any:
		var parts []string
		for _, x := range v {
			parts = append(parts, str(x))
		}
		t = strings.Join(parts, " or ")
	}
	if t == "array" || strings.HasPrefix(t, "array ") {
		t = strings.Replace(t, "array", "array of "+typeOf(obj(s["items"])), 1)
	}
	if f := str(s["format"]); f != "" {
		t += " (" + f + ")"
	}
	if enum := list(s["enum"]); len(enum) > 0 {
		var vals []string
		for _, e := range enum {
			j, _ := json.Marshal(e)
			vals = append(vals, "`"+string(j)+"`")
		}
		t += ": " + strings.Join(vals, ", ")
	}
	return t
}

// anchor is the heading anchor GitHub makes of an operation heading.
func anchor(title string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(title) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteRune('-')
		}
	}
	return b.String()
}

// cell makes text fit in a table cell.
func cell(s string) string {
	s = strings.ReplaceAll(strings.TrimSpace(s), "|", `\|`)
	return strings.Join(strings.Fields(s), " ")
}

func obj(v any) map[string]any { m, _ := v.(map[string]any); return m }
func list(v any) []any         { l, _ := v.([]any); return l }
func str(v any) string         { s, _ := v.(string); return s }

func anyMap[V any](m map[string]V) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
