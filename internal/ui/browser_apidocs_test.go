package ui_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/gatehouse/gatehouse/internal/server/servertest"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
)

// TestBrowserAPIDocs opens the API reference page signed out: the
// vendored Swagger UI renders the server's own OpenAPI document (a known
// operation, its path and summary, and an expanded description) under the
// page policy, with no error, CSP violation or load from elsewhere (the
// page's checkClean fails the test on any).
func TestBrowserAPIDocs(t *testing.T) {
	e := servertest.Start(t, storetest.NewSQLite(t))
	p := newPage(t, e)
	p.open("/api/docs")
	const op = `#operations-Tokens-createToken`
	if got := p.text(op + ` .opblock-summary-path`); got != "/api/v1/tokens" {
		t.Errorf("createToken's path: %q", got)
	}
	if got := p.text(op + ` .opblock-summary-description`); got != "Create a token or app password" {
		t.Errorf("createToken's summary: %q", got)
	}
	if got := p.text(`.information-container .title`); !strings.HasPrefix(got, "gatehouse") {
		t.Errorf("title: %q", got)
	}
	// Open it: its description, from the document, is rendered.
	p.run(chromedp.Click(css(op+` .opblock-summary-control`)), chromedp.WaitVisible(css(op+` .opblock-description-wrapper`)))
	if got := p.text(op + ` .opblock-description-wrapper`); !strings.Contains(got, "The answer alone carries key") {
		t.Errorf("createToken's description: %q", got)
	}
	p.shot("40-api-docs")
	// Everything came from this server: the document and the page's own files.
	hosts := eval[[]string](p, `performance.getEntriesByType("resource").map(e => new URL(e.name).host)`)
	if len(hosts) < 4 {
		t.Errorf("the page loaded %d resources, want its files and the document", len(hosts))
	}
	base := strings.TrimPrefix(strings.TrimPrefix(e.URL, "http://"), "https://")
	for _, h := range hosts {
		if h != base {
			t.Errorf("the page loaded a resource from %s", h)
		}
	}
}
