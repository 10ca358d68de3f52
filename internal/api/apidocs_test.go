package api

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestVendoredSwaggerUIIsTheNotedRelease: the vendored files are the ones
// swaggerui/README.md names, byte for byte.
func TestVendoredSwaggerUIIsTheNotedRelease(t *testing.T) {
	note, err := os.ReadFile("swaggerui/README.md")
	if err != nil {
		t.Fatal(err)
	}
	sums := regexp.MustCompile(`(?m)^\s+([0-9a-f]{64})  (\S+)$`).FindAllStringSubmatch(string(note), -1)
	if len(sums) < 2 {
		t.Fatalf("swaggerui/README.md lists %d checksums, want the bundle's and the stylesheet's", len(sums))
	}
	for _, m := range sums {
		b, err := swaggerUI.ReadFile("swaggerui/" + m[2])
		if err != nil {
			t.Errorf("%s: %v (not embedded?)", m[2], err)
			continue
		}
		got := sha256.Sum256(b)
		if hex.EncodeToString(got[:]) != m[1] {
			t.Errorf("%s: sha256 %x, the note says %s", m[2], got, m[1])
		}
	}
}

// TestDocsPaths: the page and each file it names are served, with their
// types; the page asks for nothing else.
func TestDocsPaths(t *testing.T) {
	mux := http.NewServeMux()
	mountDocs(mux)
	want := map[string]string{
		DocsPage:                           "text/html",
		DocsPage + "/swagger-ui.css":       "text/css",
		DocsPage + "/init.js":              "text/javascript",
		DocsPage + "/swagger-ui-bundle.js": "text/javascript",
	}
	var page string
	for _, p := range DocsPaths() {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", p, nil))
		if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), want[p]) || want[p] == "" {
			t.Errorf("GET %s: %d %q", p, rec.Code, rec.Header().Get("Content-Type"))
		}
		if p == DocsPage {
			page = rec.Body.String()
		}
	}
	for _, m := range regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(page, -1) {
		if _, ok := want["/api/"+m[1]]; !ok && m[1] != "v1/openapi.json" {
			t.Errorf("the page loads %q, which is not served", m[1])
		}
	}
}
