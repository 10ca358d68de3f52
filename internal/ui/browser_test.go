package ui_test

// Browser tests: Debian's Chromium, headless, driven with chromedp, against
// a real gatehouse (servertest: real HTTP, real store, fake clock). One
// browser serves the whole test binary (its start-up is the cost); each
// test gets its own browser context, so cookies never leak between tests.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/gatehouse/gatehouse/internal/server/servertest"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

var shared struct {
	once    sync.Once
	ctx     context.Context // the browser's
	cancel  func()
	dataDir string
	err     error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.cancel != nil {
		shared.cancel()
	}
	if shared.dataDir != "" {
		os.RemoveAll(shared.dataDir)
	}
	os.Exit(code)
}

// page is one isolated browser tab of a test, with what the page logged.
type page struct {
	t    *testing.T
	ctx  context.Context
	base string

	mu       sync.Mutex
	problems []string // console errors, CSP violations, uncaught exceptions
}

// newPage opens a tab in a fresh browser context (its own cookies).
func newPage(t *testing.T, e *servertest.Env) *page {
	t.Helper()
	path := testenv.Binary(t, "chromium")
	shared.once.Do(func() {
		shared.dataDir, shared.err = os.MkdirTemp("", "gatehouse-chromium-")
		if shared.err != nil {
			return
		}
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(path),
			chromedp.Headless,
			chromedp.NoSandbox,
			chromedp.Flag("disable-gpu", true),
			chromedp.Flag("disable-quic", true),
			chromedp.Flag("no-first-run", true),
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.UserDataDir(shared.dataDir),
			chromedp.WindowSize(1280, 900),
		)
		allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		bctx, cancelBrowser := chromedp.NewContext(allocCtx)
		shared.ctx = bctx
		shared.cancel = func() { cancelBrowser(); cancelAlloc() }
		shared.err = chromedp.Do(bctx) // starts the browser
	})
	if shared.err != nil {
		t.Fatalf("start chromium: %v", shared.err)
	}
	ctx, cancel := chromedp.NewContext(shared.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancelTimeout)
	p := &page{t: t, ctx: ctx, base: e.URL}
	err := chromedp.Listen(ctx, func(ev any) {
		p.mu.Lock()
		defer p.mu.Unlock()
		switch ev := ev.(type) {
		case *log.EventEntryAdded:
			// CSP violations and failed loads are reported here.
			if ev.Entry.Level == log.EntryLevelError {
				p.problems = append(p.problems, fmt.Sprintf("log: %s (%s)", ev.Entry.Text, ev.Entry.URL))
			}
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			p.problems = append(p.problems, "exception: "+msg)
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, string(a.Value))
				}
				p.problems = append(p.problems, "console.error: "+strings.Join(parts, " "))
			}
		}
	})
	if err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	t.Cleanup(p.checkClean)
	return p
}

// checkClean fails the test if the pages logged errors: a CSP violation
// (an inline script or style, a foreign load) shows up here.
func (p *page) checkClean() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pr := range p.problems {
		// A 4xx page is an expected answer in these tests, not a fault.
		if strings.Contains(pr, "status of 4") {
			continue
		}
		p.t.Errorf("browser reported: %s", pr)
	}
}

func (p *page) run(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, actions...); err != nil {
		p.t.Fatalf("browser: %v", err)
	}
}

// get runs an action that reads a value.
func get[T any](p *page, a chromedp.Action[T]) T {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, a)
	if err != nil {
		p.t.Fatalf("browser: %v", err)
	}
	return v
}

// css is a CSS selector.
type css = chromedp.CSS

func (p *page) open(path string) {
	p.t.Helper()
	p.run(chromedp.Navigate(p.base + path))
}

func (p *page) text(sel string) string {
	p.t.Helper()
	p.run(chromedp.WaitVisible(css(sel)))
	return strings.TrimSpace(get(p, chromedp.Text(css(sel))))
}

func eval[T any](p *page, js string, opts ...chromedp.EvaluateOption) T {
	p.t.Helper()
	return get(p, chromedp.Evaluate[T](js, opts...))
}

func (p *page) location() string {
	p.t.Helper()
	return strings.TrimPrefix(get(p, chromedp.Location()), p.base)
}

// submit clicks a form's submit button and waits for the next page.
func (p *page) submit(button string, waitFor string) {
	p.t.Helper()
	p.run(chromedp.Click(css(button)), chromedp.WaitVisible(css(waitFor)))
}

// shot saves a screenshot under the repository's testdata/screenshots
// when GATEHOUSE_SCREENSHOTS=1.
// view opens path, waits until wait shows, and takes the shot name.
func (p *page) view(path, wait, name string) {
	p.t.Helper()
	p.open(path)
	p.run(chromedp.WaitVisible(css(wait)))
	p.shot(name)
}

func (p *page) shot(name string) {
	p.t.Helper()
	if os.Getenv("GATEHOUSE_SCREENSHOTS") != "1" {
		return
	}
	png := get(p, chromedp.FullScreenshot(100))
	dir := filepath.Join("..", "..", "testdata", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		p.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		p.t.Fatal(err)
	}
}

func (p *page) login(user, pass, waitFor string) {
	p.t.Helper()
	p.open("/login")
	p.run(
		chromedp.WaitVisible(css("#f-username")),
		chromedp.SendKeys(css("#f-username"), user),
		chromedp.SendKeys(css("#f-password"), pass),
	)
	p.submit(".login-card button[type=submit]", waitFor)
}

// apiStatus calls the REST API with a Bearer key, as a pipeline would.
func apiStatus(t *testing.T, e *servertest.Env, key string) (int, map[string]any) {
	t.Helper()
	r := e.Do("GET", "/api/v1/me", servertest.Bearer(key), nil)
	return r.Status, r.JSON()
}

const evilDescription = `<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2"><b>bold</b>`

// TestBrowserAdminFlow is the walk-through in a real browser:
// sign in, create a service account, copy its key, see it listed, use the
// key against the API, rotate, revoke, read the events, sign out; a
// service account is turned away; a post without the CSRF token fails;
// markup in a description stays text.
func TestBrowserAdminFlow(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, s store.Store) {
		e := servertest.Start(t, s)
		shots := s.Dialect() == "sqlite"
		seed(t, e)
		p := newPage(t, e)

		p.open("/")
		if loc := p.location(); loc != "/login" {
			t.Fatalf("signed out, / went to %q", loc)
		}
		if shots {
			p.run(chromedp.WaitVisible(css("#f-username")))
			p.shot("01-login")
		}
		p.login("admin", servertest.AdminPassword, `section[aria-labelledby="h-expiring"]`)
		if shots {
			p.shot("02-dashboard")
		}

		// Create a service account with an API token.
		p.open("/service-accounts/new")
		p.run(
			chromedp.WaitVisible(css("#f-username")),
			chromedp.SendKeys(css("#f-username"), "ci-deploy"),
			chromedp.SendKeys(css("#f-description"), evilDescription),
			chromedp.Click(css("#f-intent-api")),
			chromedp.SetValue(css("#f-expiry"), "2160h"),
		)
		if shots {
			p.shot("03-service-account-new")
		}
		p.submit("form.card button[type=submit]", "#new-key")
		key := p.text("#new-key")
		if !strings.HasPrefix(key, "gat_") || len(key) != 44 {
			t.Fatalf("key on the page = %q", key)
		}
		if !strings.Contains(p.text(".secret"), "you will not see this again") {
			t.Fatal("no warning that the key is shown once")
		}
		p.run(chromedp.Click(css(`button[data-copy="new-key"]`)))
		// The clipboard answers asynchronously: wait for the status line.
		if st := eval[string](p, `new Promise(done => { const start = Date.now(); (function poll() {
			const s = document.getElementById("new-key-status").textContent;
			if (s || Date.now() - start > 5000) { done(s); } else { setTimeout(poll, 20); }
		})(); })`, chromedp.EvalAwaitPromise); st == "" {
			t.Fatal("the copy button did nothing")
		}
		if shots {
			p.shot("04-service-account-created")
		}
		// The key works against the API, once copied from the page.
		if status, me := apiStatus(t, e, key); status != 200 || me["username"] != "ci-deploy" {
			t.Fatalf("GET /me with the key from the page: %d %v", status, me)
		}

		// Listed; the description is text, and its script never ran.
		p.open("/service-accounts")
		if !strings.Contains(p.text("#sa-results table"), "ci-deploy") {
			t.Fatal("the new account is not listed")
		}
		if !eval[bool](p, `window.__xss === undefined && document.querySelectorAll("main img, main b").length === 0`) {
			t.Fatal("markup from a description was rendered or ran")
		}
		if !strings.Contains(p.text("#sa-results table"), "<script>window.__xss = 1</script>") {
			t.Fatal("the description is not shown as text")
		}
		// Live search, a partial update through htmx.
		p.run(chromedp.SendKeys(css("#f-search"), "zzz"))
		p.run(chromedp.WaitVisible(chromedp.Search(`//p[contains(., "No service account matches")]`)))
		if loc := p.location(); loc != "/service-accounts?search=zzz" {
			t.Fatalf("htmx did not push the URL: %q", loc)
		}
		p.open("/service-accounts")
		if shots {
			p.shot("05-service-accounts")
		}
		p.open("/service-accounts/ci-deploy")
		desc := p.text("#sa-description")
		if !strings.Contains(desc, "<img src=x") {
			t.Fatalf("description on the detail page = %q", desc)
		}
		if !eval[bool](p, `window.__xss === undefined`) {
			t.Fatal("script ran on the detail page")
		}
		if shots {
			p.shot("06-service-account")
		}

		// Rotate its token with a grace period: both keys work.
		tokenURL := get(p, chromedp.AttributeValue(css(`section[aria-labelledby="h-tokens"] tbody a`), "href")).Value
		p.open(tokenURL)
		p.run(chromedp.WaitVisible(css("#f-grace")), chromedp.SetValue(css("#f-grace"), "1h"))
		if shots {
			p.shot("07-token")
		}
		p.submit(`form[action$="/rotate"] button[type=submit]`, "#new-key")
		newKey := p.text("#new-key")
		if newKey == key || !strings.HasPrefix(newKey, "gat_") {
			t.Fatalf("rotated key = %q", newKey)
		}
		for _, k := range []string{key, newKey} {
			if status, _ := apiStatus(t, e, k); status != 200 {
				t.Fatalf("during the grace period a key gets %d", status)
			}
		}

		// Revoke it: both keys are refused at once.
		p.open(tokenURL)
		p.submit(`form[action$="/revoke"] button[type=submit]`, ".alert-ok")
		if msg := p.text(".alert-ok"); !strings.Contains(msg, "revoked") {
			t.Fatalf("flash after revoking = %q", msg)
		}
		for _, k := range []string{key, newKey} {
			if status, _ := apiStatus(t, e, k); status != 401 {
				t.Fatalf("a revoked key gets %d", status)
			}
		}
		if shots {
			p.shot("08-tokens")
		}

		// The events tell the story.
		id := strings.TrimPrefix(tokenURL, "/tokens/")
		p.open("/events?target=" + id)
		events := p.text("#event-results table")
		for _, action := range []string{"token_created", "token_rotated", "token_revoked"} {
			if !strings.Contains(events, action) {
				t.Fatalf("events lack %s:\n%s", action, events)
			}
		}
		if shots {
			for _, pg := range []struct{ path, wait, name string }{
				{"/events", "#event-results", "09-events"},
				{"/groups", "#group-results", "10-groups"},
				{"/groups/deployers", "#h-members", "11-group"},
				{"/roles/new", "#f-scoped", "12-role-new"},
				{"/roles/user-reader", "#h-assign", "13-role"},
				{"/tokens/new", "#f-user", "14-token-new"},
				{"/profile", "#h-2fa", "15-profile"},
				{"/settings", "#f-title", "16-settings"},
				{"/no/such/page", "main h1", "17-not-found"},
			} {
				p.view(pg.path, pg.wait, pg.name)
			}
			p.run(chromedp.EmulateViewport(390, 844))
			for _, pg := range []struct{ path, wait, name string }{
				{"/", `section[aria-labelledby="h-expiring"]`, "20-phone-dashboard"},
				{"/tokens", "#token-results", "21-phone-tokens"},
				{"/service-accounts/new", "#f-username", "22-phone-service-account-new"},
			} {
				p.view(pg.path, pg.wait, pg.name)
			}
			p.run(chromedp.EmulateViewport(1280, 900))
		}

		// A state-changing request without the CSRF token: 403, nothing made.
		p.open("/groups")
		status := eval[int](p, `fetch("/groups", {method: "POST", credentials: "same-origin",
			headers: {"Content-Type": "application/x-www-form-urlencoded"}, body: "name=forged"}).then(r => r.status)`, chromedp.EvalAwaitPromise)
		if status != http.StatusForbidden {
			t.Fatalf("a post without the CSRF token got %d", status)
		}
		if _, err := e.App.Store.GetGroup(t.Context(), "forged"); err == nil {
			t.Fatal("the forged post created a group")
		}

		// Sign out.
		p.submit(`form[action="/logout"] button`, ".alert-info")
		if msg := p.text(".alert-info"); msg != "You are signed out." {
			t.Fatalf("after signing out: %q", msg)
		}
		p.open("/tokens")
		if loc := p.location(); !strings.HasPrefix(loc, "/login") {
			t.Fatalf("after signing out, /tokens is %q", loc)
		}

		// A service account with a valid key is turned away.
		saKey := e.Must(201, e.Admin("POST", "/api/v1/tokens", map[string]any{"user": "ci-deploy", "intent": "api"})).JSON()["key"].(string)
		p.login("ci-deploy", saKey, "#denied")
		if h := p.text("#denied h1"); h != "Access denied" {
			t.Fatalf("a service account at the login page sees %q", h)
		}
		if shots {
			p.shot("18-service-account-denied")
		}
	})
}

// seed gives the screenshots something to show.
func seed(t *testing.T, e *servertest.Env) {
	t.Helper()
	e.Must(201, e.Admin("POST", "/api/v1/roles", map[string]any{"name": "user-reader", "description": "Reads users and service accounts", "permissions": []string{"users.read", "groups.read"}}))
	e.Must(201, e.Admin("POST", "/api/v1/service-accounts", map[string]any{"username": "terraform", "description": "Runs Terraform plans", "create_group": true, "roles": []string{"user-reader"}, "token_intent": "api", "expires_at": e.Clock.Now().Add(72 * time.Hour).Format(time.RFC3339)}))
	e.Must(201, e.Admin("POST", "/api/v1/service-accounts", map[string]any{"username": "ldap-sync", "description": "Legacy LDAP sync", "token_intent": "app_password"}))
	e.Must(201, e.Admin("POST", "/api/v1/groups", map[string]any{"name": "deployers", "description": "Pipelines that deploy"}))
	e.Must(204, e.Admin("PUT", "/api/v1/groups/deployers/members/terraform", nil))
	e.Must(204, e.Admin("PUT", "/api/v1/roles/user-reader/assignments/groups/deployers", nil))
	// A token unused for long.
	e.Must(201, e.Admin("POST", "/api/v1/tokens", map[string]any{"user": "ldap-sync", "intent": "api", "identifier": "ldap-sync-old", "expiring": false}))
	e.Clock.Advance(100 * 24 * time.Hour)
	e.Must(201, e.Admin("POST", "/api/v1/tokens", map[string]any{"user": "terraform", "intent": "api", "identifier": "terraform-soon", "ttl": "96h"}))
	// A failed sign-in for the dashboard.
	e.Do("GET", "/api/v1/me", servertest.Basic("admin", "not-the-password"), nil)
}

// TestBrowserTwoFactor: enrol TOTP from the profile, then sign in with a
// code.
func TestBrowserTwoFactor(t *testing.T) {
	e := servertest.Start(t, storetest.NewSQLite(t))
	newHuman(t, e, "erin", "erin-password-1")
	p := newPage(t, e)
	p.login("erin", "erin-password-1", `section[aria-labelledby="h-expiring"]`)
	p.open("/profile")
	p.submit(`form[action="/profile/two-factor"] button`, "#totp-secret")
	secret := p.text("#totp-secret")
	if !eval[bool](p, `(() => { const i = document.querySelector("img.qr"); return i.complete && i.naturalWidth > 0; })()`) {
		t.Fatal("the QR code image did not load")
	}
	p.shot("19-two-factor")
	p.run(chromedp.SendKeys(css("#f-code"), codeAt(t, secret, e.Clock.Now())))
	p.submit(`form[action="/profile/two-factor/confirm"] button`, "#recovery-codes")
	codes := eval[[]string](p, `[...document.querySelectorAll("#recovery-codes li")].map(li => li.textContent)`)
	if len(codes) != 10 {
		t.Fatalf("recovery codes = %v", codes)
	}
	p.open("/profile")
	p.submit(`form[action="/logout"] button`, ".alert-info")

	// Sign in again: the password, then the code of the next step (the
	// one used to enrol is spent).
	p.login("erin", "erin-password-1", "#f-code")
	if loc := p.location(); !strings.HasPrefix(loc, "/login/code") {
		t.Fatalf("after the password: %q", loc)
	}
	e.Clock.Advance(30 * time.Second)
	p.run(chromedp.SendKeys(css("#f-code"), codeAt(t, secret, e.Clock.Now())))
	p.submit(".login-card button[type=submit]", `section[aria-labelledby="h-expiring"]`)
	user := eval[string](p, `document.querySelector(".usermenu a").textContent`)
	if user != "erin" {
		t.Fatalf("signed in as %q", user)
	}
	evs, _ := e.App.Store.ListEvents(t.Context(), store.EventFilter{Action: "login", Actor: "erin", Limit: 1})
	if raw, _ := json.Marshal(evs); len(evs) != 1 || evs[0].Context["method"] != "password+totp" {
		t.Fatalf("login event = %s", raw)
	}
}

// TestBrowserLeastPrivilegeToken: a narrowed token through the real
// form. Changing the owner fetches its permissions again (htmx); "only
// these" shows them; the key made holds only what was ticked, only from
// the networks typed, and its page says so.
func TestBrowserLeastPrivilegeToken(t *testing.T) {
	e := servertest.Start(t, storetest.NewSQLite(t))
	seedLeastPrivilege(t, e)
	p := newPage(t, e)
	p.login("admin", servertest.AdminPassword, `section[aria-labelledby="h-expiring"]`)

	p.open("/tokens/new")
	p.run(chromedp.WaitVisible(css("#f-user")))
	if n := eval[int](p, `document.querySelectorAll('#lp-permissions input[name="permissions"]').length`); n < 10 {
		t.Fatalf("the administrator's own picker offers %d permissions", n)
	}
	if !eval[bool](p, `document.querySelector(".lp-perms").hidden`) {
		t.Fatal(`the permission list shows while "all of the owner's" is chosen`)
	}
	// Another owner: the picker follows, and the suggested identifier.
	p.run(chromedp.Clear(css("#f-user")), chromedp.SendKeys(css("#f-user"), "ci"))
	offered := get(p, chromedp.Poll[[]string](`(() => {
		const l = [...document.querySelectorAll('#lp-permissions input[name="permissions"]')].map(i => i.value);
		return l.length === 3 && document.querySelector("#hint-identifier code").textContent.startsWith("ci-") ? l : null;
	})()`, chromedp.WithPollingTimeout(10*time.Second)))
	if strings.Join(offered, " ") != "groups.read tokens.self users.read" {
		t.Fatalf("offered for ci: %v", offered)
	}
	p.run(chromedp.Click(css("#f-perm-only")))
	if eval[bool](p, `document.querySelector(".lp-perms").hidden`) {
		t.Fatal(`"only these" did not show the permissions`)
	}
	p.run(
		chromedp.Click(css(`#lp-permissions input[value="users.read"]`)),
		chromedp.SendKeys(css("#f-description"), "Reads the user list from CI"),
		chromedp.SendKeys(css("#f-allowed-cidrs"), "127.0.0.1\n10.20.0.300/16"),
		chromedp.Click(css(`input[name="applications"][value="site"]`)),
	)
	// A bad network: the form comes back with the error at the field and
	// every choice as it was.
	p.submit("form.card button[type=submit]", "#err-allowed_cidrs")
	if msg := p.text("#err-allowed_cidrs"); !strings.HasPrefix(msg, `"10.20.0.300/16" must be a network`) {
		t.Fatalf("the network error reads %q", msg)
	}
	if !eval[bool](p, `document.querySelector("#f-perm-only").checked && !document.querySelector(".lp-perms").hidden &&
		document.querySelector('#lp-permissions input[value="users.read"]').checked &&
		document.querySelector('input[name="applications"][value="site"]').checked &&
		document.querySelector("#f-user").value === "ci" &&
		document.querySelector("#f-allowed-cidrs").getAttribute("aria-invalid") === "true"`) {
		t.Fatal("the refused form lost what was chosen")
	}
	p.shot("23-token-new-bad-network")
	p.run(chromedp.Clear(css("#f-allowed-cidrs")), chromedp.SendKeys(css("#f-allowed-cidrs"), "127.0.0.1\n10.20.0.0/16"))
	p.shot("24-token-new-least-privilege")
	p.submit("form.card button[type=submit]", "#new-key")
	key := p.text("#new-key")

	// The key may read users and nothing more, and only from here.
	status, me := apiStatus(t, e, key)
	if perms, _ := me["permissions"].([]any); status != 200 || len(perms) != 1 || perms[0] != "users.read" {
		t.Fatalf("GET /me with the narrowed key: %d %v", status, me)
	}
	id := strings.TrimSuffix(strings.TrimPrefix(p.text("h1"), "Token "), " created")
	p.open("/tokens/" + id)
	for sel, want := range map[string]string{
		"#token-permissions":    "users.read",
		"#token-networks":       "10.20.0.0/16, 127.0.0.1/32",
		"#token-applications":   "site",
		"#token-ldap-providers": "any",
	} {
		if got := p.text(sel); !strings.HasPrefix(got, want) {
			t.Fatalf("%s on the token page = %q, want %q", sel, got, want)
		}
	}
	p.shot("25-token-least-privilege")
	p.open("/tokens")
	if row := p.text("#token-results tbody"); !strings.Contains(row, "1 permission, 2 networks, 1 application") {
		t.Fatalf("the list does not show the limits:\n%s", row)
	}
	p.shot("26-tokens-limits")
}
