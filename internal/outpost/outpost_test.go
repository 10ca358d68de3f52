package outpost_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/gatehouse/gatehouse/internal/outpost"
	"github.com/gatehouse/gatehouse/internal/server/servertest"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
)

const baseDN = "dc=example,dc=com"

func userDN(n string) string { return "cn=" + n + ",ou=users," + baseDN }

// settle bounds the wait for a change to reach a running outpost. The
// feed's latency is milliseconds; a test on a busy machine waits up to
// this, and logs how long it took.
const settle = 10 * time.Second

type fixture struct {
	e           *servertest.Env
	srv         *httptest.Server // what the outpost talks to
	addr        string
	botKey      string
	botTokenID  string
	searcherKey string
	outpostKey  string
	tokenFile   string
	stop        context.CancelFunc
	done        chan error
}

func start(t *testing.T, st store.Store) *fixture {
	t.Helper()
	e := servertest.Start(t, st)
	f := &fixture{e: e}
	e.Must(201, e.Admin("POST", "/api/v1/ldap-providers", map[string]any{"name": "corp", "base_dn": baseDN}))
	e.Must(201, e.Admin("POST", "/api/v1/groups", map[string]any{"name": "staff"}))
	bot := e.Must(201, e.Admin("POST", "/api/v1/service-accounts", map[string]any{"username": "bot", "groups": []string{"staff"}})).JSON()
	f.botKey = bot["token"].(map[string]any)["key"].(string)
	f.botTokenID = bot["token"].(map[string]any)["identifier"].(string)
	e.Must(201, e.Admin("POST", "/api/v1/roles", map[string]any{"name": "ldap-searcher", "permissions": []string{"ldap.search_full_directory@ldap/corp"}}))
	s := e.Must(201, e.Admin("POST", "/api/v1/service-accounts", map[string]any{"username": "searcher", "roles": []string{"ldap-searcher"}})).JSON()
	f.searcherKey = s["token"].(map[string]any)["key"].(string)
	op := e.Must(201, e.Admin("POST", "/api/v1/outposts", map[string]any{"name": "rack1", "provider": "corp"})).JSON()
	f.outpostKey = op["token"].(map[string]any)["key"].(string)
	f.tokenFile = filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(f.tokenFile, []byte(f.outpostKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	f.srv = httptest.NewServer(e.App.Handler)
	t.Cleanup(f.killServer)
	ctx, stop := context.WithCancel(context.Background())
	f.stop, f.done = stop, make(chan error, 1)
	ready := make(chan string, 1)
	go func() {
		f.done <- outpost.Run(ctx, outpost.Config{Server: f.srv.URL, Token: f.outpostKey, TokenFile: f.tokenFile, Provider: "corp",
			Listen: "127.0.0.1:0", Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Ready: func(addr, _ string) { ready <- addr }})
	}()
	select {
	case f.addr = <-ready:
	case err := <-f.done:
		t.Fatalf("outpost: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the outpost did not start")
	}
	t.Cleanup(func() {
		stop()
		select {
		case err := <-f.done:
			if err != nil {
				t.Errorf("outpost stopped with %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("the outpost has not stopped 30 s after its context ended")
		}
	})
	return f
}

// killServer stops the server the outpost talks to at once: no new
// connections, and the open ones (the feed's long poll) cut.
func (f *fixture) killServer() {
	f.srv.Listener.Close()
	f.srv.CloseClientConnections()
	f.srv.Close()
}

func dial(t *testing.T, addr string) *goldap.Conn {
	t.Helper()
	c, err := goldap.DialURL("ldap://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetTimeout(10 * time.Second)
	t.Cleanup(func() { c.Close() })
	return c
}

func code(err error) uint16 {
	var le *goldap.Error
	if errors.As(err, &le) {
		return le.ResultCode
	}
	if err == nil {
		return 0
	}
	return 65535
}

func search(c *goldap.Conn, filter string) ([]string, error) {
	res, err := c.Search(goldap.NewSearchRequest(baseDN, goldap.ScopeWholeSubtree, 0, 0, 0, false, filter, []string{"1.1"}, nil))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range res.Entries {
		out = append(out, e.DN)
	}
	return out, nil
}

// eventually polls fn until it returns nil, failing after settle: the
// outpost learns of changes from another process's feed, so it polls.
func eventually(t *testing.T, what string, fn func() error) {
	t.Helper()
	start := time.Now()
	for {
		err := fn()
		if err == nil {
			t.Logf("%s: after %s", what, time.Since(start).Round(time.Microsecond))
			return
		}
		if time.Since(start) > settle {
			t.Fatalf("%s: not within %s: %v", what, settle, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func each(t *testing.T, fn func(t *testing.T, f *fixture)) {
	storetest.ForEachBackend(t, func(t *testing.T, st store.Store) { fn(t, start(t, st)) })
}

func TestOutpostBindsAndSearches(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		c := dial(t, f.addr)
		if err := c.Bind(userDN("bot"), f.botKey); err != nil {
			t.Fatal(err)
		}
		who, err := c.WhoAmI(nil)
		if err != nil || who.AuthzID != "dn:"+userDN("bot") {
			t.Fatalf("whoami: %v %v", who, err)
		}
		if got, _ := search(c, "(objectClass=*)"); fmt.Sprint(got) != "["+userDN("bot")+"]" {
			t.Fatalf("bot sees %v", got)
		}
		s := dial(t, f.addr)
		if err := s.Bind(userDN("searcher"), f.searcherKey); err != nil {
			t.Fatal(err)
		}
		got, _ := search(s, "(objectClass=inetOrgPerson)")
		if len(got) != 4 { // admin, bot, outpost-rack1, searcher
			t.Fatalf("searcher sees %v", got)
		}
		// API tokens, wrong and unknown: 49, and recorded by the server
		// with the LDAP client's address, through the outpost.
		if err := c.Bind(userDN("bot"), f.outpostKey); code(err) != goldap.LDAPResultInvalidCredentials {
			t.Fatalf("API token: %v", err)
		}
		if err := c.Bind(userDN("nobody"), f.botKey); code(err) != goldap.LDAPResultInvalidCredentials {
			t.Fatalf("unknown user: %v", err)
		}
		evs := string(f.e.Must(200, f.e.Admin("GET", "/api/v1/events?action=login_failed", nil)).Body)
		if !strings.Contains(evs, `"outpost":"rack1"`) || !strings.Contains(evs, `"client_ip":"127.0.0.1"`) || strings.Contains(evs, f.outpostKey) {
			t.Fatalf("events: %s", evs)
		}

		// A change on the server reaches the copy: a new user appears.
		f.e.Must(201, f.e.Admin("POST", "/api/v1/users", map[string]any{"username": "zoe"}))
		eventually(t, "a new user listed", func() error {
			got, err := search(s, "(uid=zoe)")
			if err != nil || len(got) != 1 {
				return fmt.Errorf("%v %v", got, err)
			}
			return nil
		})
		f.e.Must(200, f.e.Admin("PATCH", "/api/v1/users/zoe", map[string]any{"is_active": false}))
		eventually(t, "a disabled user unlisted", func() error {
			got, err := search(s, "(uid=zoe)")
			if err != nil || len(got) != 0 {
				return fmt.Errorf("%v %v", got, err)
			}
			return nil
		})
	})
}

// TestOutpostNeverStale is the promise of the issue: a revoked app
// password, a disabled account and a removed permission stop working on a
// running outpost within a second, in every bind and search mode.
func TestOutpostNeverStale(t *testing.T) {
	for _, modes := range [][2]string{{"direct", "cached"}, {"cached", "cached"}, {"cached", "direct"}} {
		t.Run("bind_"+modes[0]+"_search_"+modes[1], func(t *testing.T) {
			f := start(t, storetest.NewSQLite(t))
			f.e.Must(200, f.e.Admin("PATCH", "/api/v1/ldap-providers/corp", map[string]any{"bind_mode": modes[0], "search_mode": modes[1]}))
			bound := dial(t, f.addr)
			eventually(t, "the modes reach the outpost", func() error {
				if err := bound.Bind(userDN("bot"), f.botKey); err != nil {
					return err
				}
				_, err := search(bound, "(uid=bot)")
				return err
			})
			// Twice more: with bind_mode cached the outpost answers from memory.
			for i := 0; i < 2; i++ {
				if err := dial(t, f.addr).Bind(userDN("bot"), f.botKey); err != nil {
					t.Fatal(err)
				}
			}
			f.e.Must(204, f.e.Admin("DELETE", "/api/v1/tokens/"+f.botTokenID, nil))
			eventually(t, "a revoked app password refused", func() error {
				if err := dial(t, f.addr).Bind(userDN("bot"), f.botKey); code(err) != goldap.LDAPResultInvalidCredentials {
					return fmt.Errorf("bind: %v", err)
				}
				return nil
			})
			eventually(t, "the revoked session ended", func() error {
				if _, err := bound.WhoAmI(nil); err == nil {
					return errors.New("still bound")
				}
				return nil
			})

			s := dial(t, f.addr)
			if err := s.Bind(userDN("searcher"), f.searcherKey); err != nil {
				t.Fatal(err)
			}
			if got, err := search(s, "(objectClass=*)"); len(got) < 5 {
				t.Fatalf("searcher sees %v %v", got, err)
			}
			f.e.Must(204, f.e.Admin("DELETE", "/api/v1/roles/ldap-searcher/assignments/users/searcher", nil))
			eventually(t, "a removed permission narrows the search", func() error {
				got, err := search(s, "(objectClass=*)")
				if err != nil || fmt.Sprint(got) != "["+userDN("searcher")+"]" {
					return fmt.Errorf("%v %v", got, err)
				}
				return nil
			})
			f.e.Must(200, f.e.Admin("PATCH", "/api/v1/service-accounts/searcher", map[string]any{"is_active": false}))
			eventually(t, "a disabled account's session ended", func() error {
				if _, err := s.WhoAmI(nil); err == nil {
					return errors.New("still bound")
				}
				return nil
			})
			if err := dial(t, f.addr).Bind(userDN("searcher"), f.searcherKey); code(err) != goldap.LDAPResultInvalidCredentials {
				t.Fatalf("a disabled account binds: %v", err)
			}
		})
	}
}

// TestOutpostFailsClosed: when the server goes away the outpost answers
// unavailable, from memory nothing.
func TestOutpostFailsClosed(t *testing.T) {
	f := start(t, storetest.NewSQLite(t))
	f.e.Must(200, f.e.Admin("PATCH", "/api/v1/ldap-providers/corp", map[string]any{"bind_mode": "cached"}))
	s := dial(t, f.addr)
	eventually(t, "bound", func() error { return s.Bind(userDN("searcher"), f.searcherKey) })
	if _, err := search(s, "(objectClass=*)"); err != nil {
		t.Fatal(err)
	}
	f.killServer()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, serr := search(s, "(objectClass=*)")
		berr := dial(t, f.addr).Bind(userDN("searcher"), f.searcherKey)
		if code(berr) == goldap.LDAPResultUnavailable && serr != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still answering without the server: search %v, bind %v", serr, berr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestCachedBinds: with bind_mode cached a repeated bind is answered by
// the outpost itself (the server does not see it: the app password's
// last use does not move), until anything changes; with direct, every
// bind reaches the server.
func TestCachedBinds(t *testing.T) {
	f := start(t, storetest.NewSQLite(t))
	lastUsed := func() string {
		tok := f.e.Must(200, f.e.Admin("GET", "/api/v1/tokens/"+f.botTokenID, nil)).JSON()
		return fmt.Sprint(tok["last_used_at"])
	}
	c := dial(t, f.addr)
	bindTwice := func() (before, after string) {
		if err := c.Bind(userDN("bot"), f.botKey); err != nil {
			t.Fatal(err)
		}
		before = lastUsed()
		f.e.Clock.Advance(time.Minute)
		if err := c.Bind(userDN("bot"), f.botKey); err != nil {
			t.Fatal(err)
		}
		return before, lastUsed()
	}
	if before, after := bindTwice(); before == after {
		t.Fatalf("bind_mode direct: the second bind did not reach the server (%s)", after)
	}
	f.e.Must(200, f.e.Admin("PATCH", "/api/v1/ldap-providers/corp", map[string]any{"bind_mode": "cached"}))
	eventually(t, "a cached bind", func() error {
		if before, after := bindTwice(); before != after {
			return fmt.Errorf("last use moved from %s to %s", before, after)
		}
		return nil
	})
	// Anything that changes on the server drops the cached binds.
	f.e.Must(201, f.e.Admin("POST", "/api/v1/groups", map[string]any{"name": "unrelated"}))
	eventually(t, "the cache dropped after a change", func() error {
		before := lastUsed()
		f.e.Clock.Advance(time.Minute)
		if err := c.Bind(userDN("bot"), f.botKey); err != nil {
			return err
		}
		if lastUsed() == before {
			return errors.New("answered from the cache")
		}
		return nil
	})
}

// TestOutpostSecondFactor: through an outpost too, a person with
// two-factor on binds with an app password, never the password alone,
// and the outpost's cache of recent binds does not let a password bound
// before the factor was turned on through afterwards.
func TestOutpostSecondFactor(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		const pw = "alice-password-123"
		f.e.Must(201, f.e.Admin("POST", "/api/v1/users", map[string]any{"username": "alice", "password": pw}))
		app := f.e.Must(201, f.e.Admin("POST", "/api/v1/tokens", map[string]any{"user": "alice", "intent": "app_password"})).JSON()["key"].(string)
		f.e.Must(200, f.e.Admin("PATCH", "/api/v1/ldap-providers/corp", map[string]any{"bind_mode": "cached"}))
		held := dial(t, f.addr)
		// Bound with the password until the cached mode reaches the
		// outpost, then once more: that bind is answered from its cache.
		eventually(t, "a cached password bind", func() error {
			if err := held.Bind(userDN("alice"), pw); err != nil {
				return err
			}
			u := f.e.Must(200, f.e.Admin("GET", "/api/v1/users/alice", nil)).JSON()
			before := fmt.Sprint(u["last_login_at"])
			f.e.Clock.Advance(6 * time.Minute) // past the login-event throttle
			if err := held.Bind(userDN("alice"), pw); err != nil {
				return err
			}
			if after := fmt.Sprint(f.e.Must(200, f.e.Admin("GET", "/api/v1/users/alice", nil)).JSON()["last_login_at"]); after != before {
				return fmt.Errorf("the bind reached the server (%s, %s)", before, after)
			}
			return nil
		})
		f.e.EnrolTOTP("alice")
		eventually(t, "the password alone refused", func() error {
			if err := dial(t, f.addr).Bind(userDN("alice"), pw); code(err) != goldap.LDAPResultInvalidCredentials {
				return fmt.Errorf("bind: %v", err)
			}
			return nil
		})
		eventually(t, "the session bound with the password ended", func() error {
			if _, err := held.WhoAmI(nil); err == nil {
				return errors.New("still bound")
			}
			return nil
		})
		// Refused again, on the server, not from a cache: and recorded.
		if err := dial(t, f.addr).Bind(userDN("alice"), pw); code(err) != goldap.LDAPResultInvalidCredentials {
			t.Fatalf("bind: %v", err)
		}
		evs := string(f.e.Must(200, f.e.Admin("GET", "/api/v1/events?action=login_failed&actor=alice", nil)).Body)
		if !strings.Contains(evs, `"reason":"second_factor_required"`) || !strings.Contains(evs, `"outpost":"rack1"`) || strings.Contains(evs, pw) {
			t.Fatalf("events: %s", evs)
		}
		c := dial(t, f.addr)
		if err := c.Bind(userDN("alice"), app); err != nil {
			t.Fatalf("app password: %v", err)
		}
	})
}
