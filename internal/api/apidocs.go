package api

import (
	"embed"
	"net/http"
	"path"

	"github.com/gatehouse/gatehouse/internal/httpx"
)

// The API reference page renders the OpenAPI document with a vendored
// Swagger UI (swaggerui/README.md says which release, its licence and
// checksums). Like the document it shows, it is public; it loads nothing
// from elsewhere, and runs under the web interface's page policy
// (httpx.PageCSP: no inline script or style, no eval, this origin only).
//
//go:embed swaggerui/index.html swaggerui/init.js swaggerui/swagger-ui-bundle.js swaggerui/swagger-ui.css
var swaggerUI embed.FS

// DocsPage is the path of the API reference page.
const DocsPage = "/api/docs"

// docsAssets are the files the page loads, under DocsPage.
var docsAssets = []struct{ name, contentType string }{
	{"swagger-ui-bundle.js", "text/javascript; charset=utf-8"},
	{"swagger-ui.css", "text/css; charset=utf-8"},
	{"init.js", "text/javascript; charset=utf-8"},
}

// DocsPaths lists the paths the reference page is served at: the page,
// then its files.
func DocsPaths() []string {
	out := []string{DocsPage}
	for _, a := range docsAssets {
		out = append(out, DocsPage+"/"+a.name)
	}
	return out
}

// mountDocs serves the reference page and its files.
func mountDocs(mux *http.ServeMux) {
	page, err := swaggerUI.ReadFile("swaggerui/index.html")
	if err != nil {
		panic(err) // embedded above: cannot happen
	}
	mux.HandleFunc("GET "+DocsPage, func(w http.ResponseWriter, r *http.Request) {
		httpx.PageHeaders(w.Header())
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(page)
	})
	for _, a := range docsAssets {
		body, err := swaggerUI.ReadFile(path.Join("swaggerui", a.name))
		if err != nil {
			panic(err)
		}
		mux.HandleFunc("GET "+DocsPage+"/"+a.name, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", a.contentType)
			// Public and the same for everyone, like the document.
			w.Header().Set("Cache-Control", "public, max-age=300")
			_, _ = w.Write(body)
		})
	}
}
