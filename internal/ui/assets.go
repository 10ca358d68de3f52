package ui

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

// staticFiles are served under /static/ with a content hash in their
// names. Only what the pages load is embedded (not the vendor notes).
//
//go:embed static/*.css static/*.js static/*.svg static/vendor/*.js
var staticFiles embed.FS

// asset is one static file, named by its content.
type asset struct {
	url   string // /static/app.3f2a1b9c0d1e2f3a.css
	ctype string
	body  []byte
	etag  string
}

// assets maps logical names (app.css, vendor/htmx.min.js) to their hashed
// URLs, and hashed URLs back to the files. The hashes are computed once at
// start from the embedded bytes, so a changed file gets a new URL and may
// be cached forever by browsers and proxies.
type assets struct {
	byName map[string]*asset
	byURL  map[string]*asset
}

func loadAssets() (*assets, error) {
	a := &assets{byName: map[string]*asset{}, byURL: map[string]*asset{}}
	err := fs.WalkDir(staticFiles, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := staticFiles.ReadFile(p)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p, "static/")
		sum := sha256.Sum256(body)
		h := hex.EncodeToString(sum[:8])
		ext := path.Ext(name)
		url := "/static/" + strings.TrimSuffix(name, ext) + "." + h + ext
		ctype := mime.TypeByExtension(ext)
		if ctype == "" {
			return fmt.Errorf("static file %s: unknown type", name)
		}
		if strings.HasPrefix(ctype, "text/") && !strings.Contains(ctype, "charset") {
			ctype += "; charset=utf-8"
		}
		f := &asset{url: url, ctype: ctype, body: body, etag: `"` + h + `"`}
		a.byName[name], a.byURL[url] = f, f
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load static files: %w", err)
	}
	return a, nil
}

// URL returns the hashed URL of a logical name; templates call it through
// the "asset" function. An unknown name is a programming error, caught
// when the templates are first executed in tests.
func (a *assets) URL(name string) (string, error) {
	f, ok := a.byName[name]
	if !ok {
		return "", fmt.Errorf("no static file %q", name)
	}
	return f.url, nil
}

// serve answers GET /static/...: only hashed names exist, each cached for
// a year as immutable (a new version has a new name).
func (a *assets) serve(w http.ResponseWriter, r *http.Request) {
	f, ok := a.byURL[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.ctype)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("ETag", f.etag)
	if match := r.Header.Get("If-None-Match"); match == f.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", fmt.Sprint(len(f.body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(f.body)
	}
}
