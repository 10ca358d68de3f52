package ldap_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/gatehouse/gatehouse/internal/ldap"
	"github.com/gatehouse/gatehouse/internal/server/servertest"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
)

const (
	baseDN        = "dc=example,dc=com"
	alicePassword = "alice-password-123"
)

// fixture is a test server with an LDAP provider "corp", its in-server
// door, and: bot (a service account in group staff, with an app password
// and an API token), searcher (may search the whole directory), alice (a
// human in staff, with a password), and a disabled account.
type fixture struct {
	e           *servertest.Env
	addr        string
	door        *ldap.Server
	botKey      string // app password
	botAPIToken string
	botTokenID  string
	searcherKey string
}

func newFixture(t testing.TB, st store.Store, opts ldap.Options) *fixture {
	t.Helper()
	e := servertest.Start(t, st)
	f := &fixture{e: e}
	e.Must(201, e.Admin("POST", "/api/v1/ldap-providers", map[string]any{"name": "corp", "base_dn": "DC=example, DC=com", "upn_domain": "example.com"}))
	e.Must(201, e.Admin("POST", "/api/v1/groups", map[string]any{"name": "staff", "description": "Everyone"}))
	bot := e.Must(201, e.Admin("POST", "/api/v1/service-accounts", map[string]any{"username": "bot", "groups": []string{"staff"}})).JSON()
	f.botKey = bot["token"].(map[string]any)["key"].(string)
	f.botTokenID = bot["token"].(map[string]any)["identifier"].(string)
	api := e.Must(201, e.Admin("POST", "/api/v1/tokens", map[string]any{"user": "bot", "intent": "api"})).JSON()
	f.botAPIToken = api["key"].(string)
	e.Must(201, e.Admin("POST", "/api/v1/roles", map[string]any{"name": "ldap-searcher", "permissions": []string{"ldap.search_full_directory@ldap/corp"}}))
	s := e.Must(201, e.Admin("POST", "/api/v1/service-accounts", map[string]any{"username": "searcher", "roles": []string{"ldap-searcher"}})).JSON()
	f.searcherKey = s["token"].(map[string]any)["key"].(string)
	e.Must(201, e.Admin("POST", "/api/v1/users", map[string]any{"username": "alice", "name": "Alice Liddell", "email": "alice@example.com", "password": alicePassword}))
	e.Must(204, e.Admin("PUT", "/api/v1/groups/staff/members/alice", nil))
	e.Must(201, e.Admin("POST", "/api/v1/users", map[string]any{"username": "ghost", "password": "ghost-password-1", "is_active": false}))

	opts.Clock = e.Clock
	f.door = ldap.NewServer(&ldap.CoreBackend{Core: e.App.Core.LDAP, Provider: "corp"}, opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.addr = ln.Addr().String()
	go f.door.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		f.door.Shutdown(ctx)
	})
	return f
}

func eachBackend(t *testing.T, fn func(t *testing.T, f *fixture)) {
	storetest.ForEachBackend(t, func(t *testing.T, st store.Store) {
		fn(t, newFixture(t, st, ldap.Options{}))
	})
}

func dial(t *testing.T, addr string) *goldap.Conn {
	t.Helper()
	c, err := goldap.DialURL("ldap://" + addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c.SetTimeout(10 * time.Second)
	t.Cleanup(func() { c.Close() })
	return c
}

func userDN(name string) string { return "cn=" + name + ",ou=users," + baseDN }

// code is the LDAP result code of err (0 for nil).
func code(err error) uint16 {
	if err == nil {
		return 0
	}
	var le *goldap.Error
	if errors.As(err, &le) {
		return le.ResultCode
	}
	return 65535
}

func mustBind(t *testing.T, c *goldap.Conn, dn, pw string) {
	t.Helper()
	if err := c.Bind(dn, pw); err != nil {
		t.Fatalf("bind %s: %v", dn, err)
	}
}

func search(t *testing.T, c *goldap.Conn, base string, scope int, filter string, attrs ...string) ([]*goldap.Entry, error) {
	t.Helper()
	res, err := c.Search(goldap.NewSearchRequest(base, scope, goldap.NeverDerefAliases, 0, 0, false, filter, attrs, nil))
	if res == nil {
		return nil, err
	}
	return res.Entries, err
}

func dns(es []*goldap.Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.DN
	}
	return out
}

func TestBind(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		c := dial(t, f.addr)
		mustBind(t, c, userDN("bot"), f.botKey)
		who, err := c.WhoAmI(nil)
		if err != nil || who.AuthzID != "dn:"+userDN("bot") {
			t.Fatalf("whoami = %+v, %v", who, err)
		}
		// The DN compares without regard to case or spaces; the UPN works too.
		mustBind(t, c, "CN=Bot, OU=Users, DC=EXAMPLE, DC=COM", f.botKey)
		mustBind(t, c, "bot@EXAMPLE.com", f.botKey)
		who, _ = c.WhoAmI(nil)
		if who.AuthzID != "dn:"+userDN("bot") {
			t.Fatalf("whoami after UPN bind = %q", who.AuthzID)
		}
		// A person's password.
		mustBind(t, c, userDN("alice"), alicePassword)

		for name, tc := range map[string]struct {
			dn, pw string
			want   uint16
		}{
			"API token":             {userDN("bot"), f.botAPIToken, goldap.LDAPResultInvalidCredentials},
			"wrong app password":    {userDN("bot"), f.searcherKey, goldap.LDAPResultInvalidCredentials},
			"wrong password":        {userDN("alice"), "not-her-password", goldap.LDAPResultInvalidCredentials},
			"unknown user":          {userDN("nobody"), "not-her-password", goldap.LDAPResultInvalidCredentials},
			"unknown user, key":     {userDN("nobody"), f.botKey, goldap.LDAPResultInvalidCredentials},
			"disabled user":         {userDN("ghost"), "ghost-password-1", goldap.LDAPResultInvalidCredentials},
			"outside the base":      {"cn=bot,ou=users,dc=other", f.botKey, goldap.LDAPResultInvalidCredentials},
			"groups branch":         {"cn=bot,ou=groups," + baseDN, f.botKey, goldap.LDAPResultInvalidCredentials},
			"uid instead of cn":     {"uid=bot,ou=users," + baseDN, f.botKey, goldap.LDAPResultInvalidCredentials},
			"wrong UPN domain":      {"bot@example.org", f.botKey, goldap.LDAPResultInvalidCredentials},
			"not a DN":              {"garbage,,=", f.botKey, goldap.LDAPResultInvalidCredentials},
			"app password as alice": {userDN("alice"), f.botKey, goldap.LDAPResultInvalidCredentials},
			"password of a bot":     {userDN("bot"), alicePassword, goldap.LDAPResultInvalidCredentials},
		} {
			err := c.Bind(tc.dn, tc.pw)
			if got := code(err); got != tc.want {
				t.Errorf("%s: code %d (%v), want %d", name, got, err, tc.want)
			}
			// A failed bind leaves the connection anonymous.
			if who, _ := c.WhoAmI(nil); who == nil || who.AuthzID != "" {
				t.Errorf("%s: still bound as %+v", name, who)
			}
		}
		if got := code(c.UnauthenticatedBind("")); got != goldap.LDAPResultInappropriateAuthentication {
			t.Errorf("anonymous bind: code %d, want 48", got)
		}
		if got := code(c.UnauthenticatedBind(userDN("bot"))); got != goldap.LDAPResultUnwillingToPerform {
			t.Errorf("bind with an empty password: code %d, want 53", got)
		}
		// Every failure is an event, without the secret; the answer never
		// tells an unknown user from a wrong password.
		evs := f.e.Must(200, f.e.Admin("GET", "/api/v1/events?action=login_failed&page_size=500", nil))
		body := string(evs.Body)
		for _, secret := range []string{f.botKey, f.botAPIToken, alicePassword, "not-her-password"} {
			if strings.Contains(body, secret) {
				t.Fatalf("an event holds a secret")
			}
		}
		if n := strings.Count(body, `"method":"ldap"`); n < 15 {
			t.Fatalf("%d LDAP login_failed events, want every failure: %s", n, body)
		}
		for _, reason := range []string{"wrong_intent", "mismatch", "unknown", "inactive", "unknown_name", "anonymous", "empty_password"} {
			if !strings.Contains(body, `"reason":"`+reason+`"`) {
				t.Errorf("no login_failed event with reason %s", reason)
			}
		}
		// Successes: one login event per user, not one per bind.
		logins := f.e.Must(200, f.e.Admin("GET", "/api/v1/events?action=login&actor=bot", nil)).JSON()["items"].([]any)
		if len(logins) != 1 {
			t.Fatalf("%d login events for bot's 3 binds, want 1", len(logins))
		}
		f.e.Clock.Advance(6 * time.Minute)
		mustBind(t, c, userDN("bot"), f.botKey)
		logins = f.e.Must(200, f.e.Admin("GET", "/api/v1/events?action=login&actor=bot", nil)).JSON()["items"].([]any)
		if len(logins) != 2 {
			t.Fatalf("%d login events after %s, want 2", len(logins), 6*time.Minute)
		}
		u := f.e.Must(200, f.e.Admin("GET", "/api/v1/users/bot", nil)).JSON()
		if u["last_login_at"] == nil {
			t.Fatal("last_login_at not set by LDAP binds")
		}
	})
}

func TestSearchVisibility(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		bot := dial(t, f.addr)
		mustBind(t, bot, userDN("bot"), f.botKey)
		es, err := search(t, bot, baseDN, goldap.ScopeWholeSubtree, "(objectClass=*)")
		if err != nil || fmt.Sprint(dns(es)) != "["+userDN("bot")+"]" {
			t.Fatalf("bot sees %v, %v; want only itself", dns(es), err)
		}
		for _, base := range []string{"ou=groups," + baseDN, userDN("alice"), "cn=nothing,ou=users," + baseDN, "dc=elsewhere"} {
			es, err := search(t, bot, base, goldap.ScopeWholeSubtree, "(objectClass=*)")
			if err != nil || len(es) != 0 {
				t.Errorf("bot under %s: %v, %v; want nothing and no error", base, dns(es), err)
			}
		}

		s := dial(t, f.addr)
		mustBind(t, s, userDN("searcher"), f.searcherKey)
		es, err = search(t, s, baseDN, goldap.ScopeWholeSubtree, "(objectClass=*)")
		if err != nil {
			t.Fatal(err)
		}
		want := []string{baseDN, "ou=users," + baseDN, userDN("admin"), userDN("alice"), userDN("bot"), userDN("searcher"),
			"ou=groups," + baseDN, "cn=staff,ou=groups," + baseDN}
		if !slices.Equal(dns(es), want) {
			t.Fatalf("searcher sees %v, want %v", dns(es), want)
		}
		es, _ = search(t, s, baseDN, goldap.ScopeWholeSubtree, "(&(objectClass=inetOrgPerson)(memberOf=cn=staff,ou=groups,"+baseDN+"))", "uid", "mail", "displayName", "memberOf", "gatehouseUserType")
		if fmt.Sprint(dns(es)) != fmt.Sprint([]string{userDN("alice"), userDN("bot")}) {
			t.Fatalf("staff members: %v", dns(es))
		}
		alice := es[0]
		if alice.GetAttributeValue("mail") != "alice@example.com" || alice.GetAttributeValue("displayName") != "Alice Liddell" ||
			alice.GetAttributeValue("gatehouseUserType") != "human" || alice.GetAttributeValue("memberOf") != "cn=staff,ou=groups,"+baseDN {
			t.Fatalf("alice = %+v", alice.Attributes)
		}
		if es[1].GetAttributeValue("gatehouseUserType") != "service_account" {
			t.Fatal("bot's type")
		}
		g, _ := search(t, s, "ou=groups,"+baseDN, goldap.ScopeSingleLevel, "(cn=STAFF)", "member")
		if len(g) != 1 || fmt.Sprint(g[0].GetAttributeValues("member")) != fmt.Sprint([]string{userDN("alice"), userDN("bot")}) {
			t.Fatalf("group staff: %v", g)
		}
		// Removing the permission narrows the next search at once.
		f.e.Must(204, f.e.Admin("DELETE", "/api/v1/roles/ldap-searcher/assignments/users/searcher", nil))
		es, err = search(t, s, baseDN, goldap.ScopeWholeSubtree, "(objectClass=*)")
		if err != nil || fmt.Sprint(dns(es)) != "["+userDN("searcher")+"]" {
			t.Fatalf("after the permission went: %v, %v", dns(es), err)
		}
		// Granted unscoped, directly: everything again.
		f.e.Must(200, f.e.Admin("PUT", "/api/v1/users/searcher/permissions", map[string]any{"permissions": []string{"ldap.search_full_directory"}}))
		es, _ = search(t, s, baseDN, goldap.ScopeWholeSubtree, "(objectClass=*)")
		if len(es) != len(want) {
			t.Fatalf("with the unscoped permission: %v", dns(es))
		}
		// Scoped to another provider: only itself.
		f.e.Must(200, f.e.Admin("PUT", "/api/v1/users/searcher/permissions", map[string]any{"permissions": []string{"ldap.search_full_directory@ldap/other"}}))
		es, _ = search(t, s, baseDN, goldap.ScopeWholeSubtree, "(objectClass=*)")
		if len(es) != 1 {
			t.Fatalf("with a permission on another provider: %v", dns(es))
		}
	})
}

func TestSearchSemantics(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, st store.Store) {
		f := newFixture(t, st, ldap.Options{MaxResults: 5})
		f.e.Must(200, f.e.Admin("PUT", "/api/v1/users/searcher/permissions", map[string]any{"permissions": []string{"ldap.search_full_directory"}}))
		c := dial(t, f.addr)
		mustBind(t, c, userDN("searcher"), f.searcherKey)
		for _, tc := range []struct {
			base   string
			scope  int
			filter string
			want   []string
		}{
			{baseDN, goldap.ScopeBaseObject, "(objectClass=*)", []string{baseDN}},
			{baseDN, goldap.ScopeSingleLevel, "(objectClass=*)", []string{"ou=users," + baseDN, "ou=groups," + baseDN}},
			{"ou=users," + baseDN, goldap.ScopeSingleLevel, "(uid=a*)", []string{userDN("admin"), userDN("alice")}},
			{baseDN, goldap.ScopeWholeSubtree, "(uid=*ic*)", []string{userDN("alice")}},
			{baseDN, goldap.ScopeWholeSubtree, "(mail=ALICE@example.COM)", []string{userDN("alice")}},
			{baseDN, goldap.ScopeWholeSubtree, "(cn~=bot)", []string{userDN("bot")}},
			{baseDN, goldap.ScopeWholeSubtree, "(|(uid=bot)(uid=alice)(uid=nobody))", []string{userDN("alice"), userDN("bot")}},
			{baseDN, goldap.ScopeWholeSubtree, "(&(objectClass=person)(!(gatehouseUserType=human)))", []string{userDN("bot"), userDN("searcher")}},
			{baseDN, goldap.ScopeWholeSubtree, "(&(uid=alice)(unknownAttr=x))", nil},
			{baseDN, goldap.ScopeWholeSubtree, "(!(unknownAttr=x))", nil}, // NOT Undefined is Undefined
			{baseDN, goldap.ScopeWholeSubtree, "(|(uid=alice)(unknownAttr=x))", []string{userDN("alice")}},
			{baseDN, goldap.ScopeWholeSubtree, "(entryUUID=*)", []string{userDN("admin"), userDN("alice"), userDN("bot"), userDN("searcher"), "cn=staff,ou=groups," + baseDN}},
			{baseDN, goldap.ScopeWholeSubtree, "(member=CN=Alice,OU=Users,DC=example,DC=com)", []string{"cn=staff,ou=groups," + baseDN}},
			{baseDN, goldap.ScopeWholeSubtree, "(displayName=alice   liddell)", []string{userDN("alice")}},
			{userDN("alice"), goldap.ScopeBaseObject, "(objectClass=gatehouseUser)", []string{userDN("alice")}},
			{userDN("alice"), goldap.ScopeSingleLevel, "(objectClass=*)", nil},
			{"", goldap.ScopeSingleLevel, "(objectClass=*)", []string{baseDN}},
			{baseDN, 3, "(objectClass=organizationalUnit)", []string{"ou=users," + baseDN, "ou=groups," + baseDN}},
			{baseDN, goldap.ScopeWholeSubtree, "(createTimestamp>=20000101000000Z)", []string{userDN("admin"), userDN("alice"), userDN("bot"), userDN("searcher"), "cn=staff,ou=groups," + baseDN}},
		} {
			es, err := search(t, c, tc.base, tc.scope, tc.filter)
			if err != nil {
				t.Errorf("%s %d %s: %v", tc.base, tc.scope, tc.filter, err)
				continue
			}
			got := dns(es)
			sort.Strings(got)
			want := slices.Clone(tc.want)
			sort.Strings(want)
			if !slices.Equal(got, want) {
				t.Errorf("%s %d %s: %v, want %v", tc.base, tc.scope, tc.filter, got, want)
			}
		}
		// Missing entries: noSuchObject with the closest existing ancestor.
		_, err := search(t, c, "cn=nobody,ou=users,"+baseDN, goldap.ScopeBaseObject, "(objectClass=*)")
		var le *goldap.Error
		if !errors.As(err, &le) || le.ResultCode != goldap.LDAPResultNoSuchObject || le.MatchedDN != "ou=users,"+baseDN {
			t.Fatalf("missing entry: %v", err)
		}
		if _, err := search(t, c, "dc=elsewhere", goldap.ScopeWholeSubtree, "(objectClass=*)"); code(err) != goldap.LDAPResultNoSuchObject {
			t.Fatalf("outside the base: %v", err)
		}
		if _, err := search(t, c, "not a dn", goldap.ScopeWholeSubtree, "(objectClass=*)"); code(err) != goldap.LDAPResultInvalidDNSyntax {
			t.Fatalf("bad base: %v", err)
		}

		// Attribute selection.
		es, _ := search(t, c, userDN("alice"), goldap.ScopeBaseObject, "(objectClass=*)")
		if names := attrNames(es[0]); !slices.Equal(names, []string{"objectClass", "cn", "uid", "sn", "displayName", "mail", "memberOf", "gatehouseUserType"}) {
			t.Fatalf("default attributes: %v", names)
		}
		es, _ = search(t, c, userDN("alice"), goldap.ScopeBaseObject, "(objectClass=*)", "+")
		if names := attrNames(es[0]); !slices.Equal(names, []string{"entryUUID", "entryDN", "createTimestamp", "structuralObjectClass", "hasSubordinates"}) {
			t.Fatalf("operational attributes: %v", names)
		}
		es, _ = search(t, c, userDN("alice"), goldap.ScopeBaseObject, "(objectClass=*)", "1.1")
		if len(es[0].Attributes) != 0 {
			t.Fatalf("1.1: %v", attrNames(es[0]))
		}
		es, _ = search(t, c, userDN("alice"), goldap.ScopeBaseObject, "(objectClass=*)", "MAIL", "entryuuid")
		if names := attrNames(es[0]); !slices.Equal(names, []string{"mail", "entryUUID"}) {
			t.Fatalf("chosen attributes: %v", names)
		}
		u := f.e.Must(200, f.e.Admin("GET", "/api/v1/users/alice", nil)).JSON()
		if es[0].GetAttributeValue("entryUUID") != u["uid"] {
			t.Fatalf("entryUUID %q, uid %v", es[0].GetAttributeValue("entryUUID"), u["uid"])
		}

		// Size limits: the client's, and the server's for searches without paging.
		res, err := c.Search(goldap.NewSearchRequest(baseDN, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 2, 0, false, "(objectClass=*)", nil, nil))
		if code(err) != goldap.LDAPResultSizeLimitExceeded || res == nil || len(res.Entries) != 2 {
			t.Fatalf("size limit 2: %v, %v", res, err)
		}
		res, err = c.Search(goldap.NewSearchRequest(baseDN, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", nil, nil))
		if code(err) != goldap.LDAPResultSizeLimitExceeded || res == nil || len(res.Entries) != 5 {
			t.Fatalf("server limit 5: %v entries, %v", res, err)
		}
		// Paging (RFC 2696) goes past the server's limit.
		res, err = c.SearchWithPaging(goldap.NewSearchRequest(baseDN, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", []string{"1.1"}, nil), 3)
		if err != nil || len(res.Entries) != 8 {
			t.Fatalf("paged search: %v entries, %v", res, err)
		}
		// Root DSE, readable before a bind.
		anon := dial(t, f.addr)
		es, err = search(t, anon, "", goldap.ScopeBaseObject, "(objectClass=*)", "namingContexts", "supportedControl", "supportedExtension", "supportedLDAPVersion")
		if err != nil || len(es) != 1 || es[0].GetAttributeValue("namingContexts") != baseDN ||
			es[0].GetAttributeValue("supportedControl") != "1.2.840.113556.1.4.319" || es[0].GetAttributeValue("supportedLDAPVersion") != "3" {
			t.Fatalf("root DSE: %v %v", es, err)
		}
		if _, err := search(t, anon, baseDN, goldap.ScopeWholeSubtree, "(objectClass=*)"); code(err) != goldap.LDAPResultInsufficientAccessRights {
			t.Fatalf("anonymous search: %v", err)
		}
	})
}

func attrNames(e *goldap.Entry) []string {
	out := make([]string, len(e.Attributes))
	for i, a := range e.Attributes {
		out[i] = a.Name
	}
	return out
}
