package ldap_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/gatehouse/gatehouse/internal/core"
	"github.com/gatehouse/gatehouse/internal/ldap"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
)

// TestRevocationEndsBindsAndSessions: a revoked app password fails the
// next bind, and a connection already bound with it is ended on its next
// request; so are sessions of a disabled account, of a changed password
// and of an expired app password.
func TestRevocationEndsBindsAndSessions(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		bound := dial(t, f.addr)
		mustBind(t, bound, userDN("bot"), f.botKey)
		if _, err := search(t, bound, baseDN, goldap.ScopeWholeSubtree, "(uid=bot)"); err != nil {
			t.Fatal(err)
		}
		f.e.Must(204, f.e.Admin("DELETE", "/api/v1/tokens/"+f.botTokenID, nil))
		fresh := dial(t, f.addr)
		if err := fresh.Bind(userDN("bot"), f.botKey); code(err) != goldap.LDAPResultInvalidCredentials {
			t.Fatalf("bind with a revoked app password: %v", err)
		}
		if _, err := search(t, bound, baseDN, goldap.ScopeWholeSubtree, "(uid=bot)"); err == nil {
			t.Fatal("a session bound with a revoked app password still searches")
		}
		if _, err := bound.WhoAmI(nil); err == nil {
			t.Fatal("the connection of a revoked session is still open")
		}

		// Disabling the account ends its sessions; enabling does not revive them.
		alice := dial(t, f.addr)
		mustBind(t, alice, userDN("alice"), alicePassword)
		f.e.Must(200, f.e.Admin("PATCH", "/api/v1/users/alice", map[string]any{"is_active": false}))
		if _, err := alice.WhoAmI(nil); err == nil {
			t.Fatal("a disabled account's session goes on")
		}
		if err := dial(t, f.addr).Bind(userDN("alice"), alicePassword); code(err) != goldap.LDAPResultInvalidCredentials {
			t.Fatalf("a disabled account binds: %v", err)
		}
		f.e.Must(200, f.e.Admin("PATCH", "/api/v1/users/alice", map[string]any{"is_active": true}))

		// A new password ends sessions bound with the old one.
		alice = dial(t, f.addr)
		mustBind(t, alice, userDN("alice"), alicePassword)
		other := dial(t, f.addr)
		mustBind(t, other, userDN("searcher"), f.searcherKey)
		f.e.Must(204, f.e.Admin("PUT", "/api/v1/users/alice/password", map[string]any{"password": "a-brand-new-password"}))
		if _, err := alice.WhoAmI(nil); err == nil {
			t.Fatal("a session bound with an old password goes on")
		}
		if _, err := other.WhoAmI(nil); err != nil {
			t.Fatalf("an unrelated session ended: %v", err)
		}

		// An app password that expires ends its sessions when it does.
		tok := f.e.Must(201, f.e.Admin("POST", "/api/v1/tokens", map[string]any{"user": "searcher", "intent": "app_password", "ttl": "1h"})).JSON()
		short := dial(t, f.addr)
		mustBind(t, short, userDN("searcher"), tok["key"].(string))
		f.e.Clock.Advance(59 * time.Minute)
		if _, err := short.WhoAmI(nil); err != nil {
			t.Fatalf("before expiry: %v", err)
		}
		f.e.Clock.Advance(2 * time.Minute)
		if _, err := short.WhoAmI(nil); err == nil {
			t.Fatal("a session goes on after its app password expired")
		}
	})
}

// TestSearchGroup: with a search group, only its members bind; leaving
// the group ends the session.
func TestSearchGroup(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		f.e.Must(400, f.e.Admin("PATCH", "/api/v1/ldap-providers/corp", map[string]any{"search_group": "no-such-group"}))
		f.e.Must(200, f.e.Admin("PATCH", "/api/v1/ldap-providers/corp", map[string]any{"search_group": "staff"}))
		if err := dial(t, f.addr).Bind(userDN("searcher"), f.searcherKey); code(err) != goldap.LDAPResultInvalidCredentials {
			t.Fatalf("a non-member binds: %v", err)
		}
		c := dial(t, f.addr)
		mustBind(t, c, userDN("bot"), f.botKey)
		f.e.Must(204, f.e.Admin("DELETE", "/api/v1/groups/staff/members/bot", nil))
		if _, err := c.WhoAmI(nil); err == nil {
			t.Fatal("the session of a member who left goes on")
		}
		evs := string(f.e.Must(200, f.e.Admin("GET", "/api/v1/events?action=login_failed", nil)).Body)
		if !strings.Contains(evs, "not_in_search_group") {
			t.Fatalf("no event for the refused non-member: %s", evs)
		}
	})
}

// TestRateLimit: ten failures of one account from one address in a
// minute make that pair wait (busy), even with the right password, while
// the account still binds from elsewhere; the refusals are recorded once
// per window.
func TestRateLimit(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, st store.Store) {
		f := newFixture(t, st, ldap.Options{})
		c := dial(t, f.addr)
		for i := 0; i < 10; i++ {
			if err := c.Bind(userDN("bot"), "gap_wrongwrongwrongwrongwrongwrongwrongwron"); code(err) != goldap.LDAPResultInvalidCredentials {
				t.Fatalf("attempt %d: %v", i, err)
			}
		}
		for i := 0; i < 3; i++ {
			err := c.Bind(userDN("bot"), f.botKey)
			if code(err) != goldap.LDAPResultBusy || !strings.Contains(err.Error(), "try again in") {
				t.Fatalf("limited attempt: %v", err)
			}
		}
		// The owner elsewhere is not locked out: the limiter counts per
		// address, and the in-server door sees each client's own.
		out, err := f.e.App.Core.LDAP.LDAPBind(context.Background(), "corp", coreBind(userDN("bot"), f.botKey, "192.0.2.7"))
		if err != nil || out.Outcome != "success" {
			t.Fatalf("bind from another address: %+v %v", out, err)
		}
		evs := string(f.e.Must(200, f.e.Admin("GET", "/api/v1/events?action=login_failed&page_size=100", nil)).Body)
		if n := strings.Count(evs, `"reason":"rate_limited"`); n != 1 {
			t.Fatalf("%d rate_limited events for 3 refusals, want 1", n)
		}
		f.e.Clock.Advance(61 * time.Second)
		mustBind(t, c, userDN("bot"), f.botKey)
	})
}

func TestReadOnlyAndCompare(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		c := dial(t, f.addr)
		mustBind(t, c, userDN("searcher"), f.searcherKey)
		add := goldap.NewAddRequest(userDN("mallory"), nil)
		add.Attribute("objectClass", []string{"inetOrgPerson"})
		mod := goldap.NewModifyRequest(userDN("alice"), nil)
		mod.Replace("mail", []string{"x@example.com"})
		for name, err := range map[string]error{
			"add":    c.Add(add),
			"modify": c.Modify(mod),
			"delete": c.Del(goldap.NewDelRequest(userDN("alice"), nil)),
			"modrdn": c.ModifyDN(goldap.NewModifyDNRequest(userDN("alice"), "cn=eve", true, "")),
		} {
			if code(err) != goldap.LDAPResultUnwillingToPerform {
				t.Errorf("%s: %v, want unwillingToPerform", name, err)
			}
		}
		if _, err := c.PasswordModify(goldap.NewPasswordModifyRequest("", "a", "b")); code(err) != goldap.LDAPResultUnwillingToPerform {
			t.Errorf("password modify: %v", err)
		}
		if _, err := c.Extended(goldap.NewExtendedRequest("1.2.3.4", nil)); code(err) != goldap.LDAPResultProtocolError {
			t.Errorf("unknown extended operation: %v", err)
		}
		for _, tc := range []struct {
			dn, attr, value string
			want            bool
			code            uint16
		}{
			{userDN("alice"), "mail", "ALICE@example.com", true, 0},
			{userDN("alice"), "mail", "bob@example.com", false, 0},
			{userDN("alice"), "memberOf", "cn=staff,ou=groups," + baseDN, true, 0},
			{"cn=staff,ou=groups," + baseDN, "member", "CN=bot, ou=users," + baseDN, true, 0},
			{userDN("alice"), "description", "x", false, goldap.LDAPResultNoSuchAttribute},
			{userDN("alice"), "shoeSize", "x", false, goldap.LDAPResultUndefinedAttributeType},
			{userDN("nobody"), "mail", "x", false, goldap.LDAPResultNoSuchObject},
		} {
			got, err := c.Compare(tc.dn, tc.attr, tc.value)
			if code(err) != tc.code || (err == nil && got != tc.want) {
				t.Errorf("compare %s %s=%s: %v, %v", tc.dn, tc.attr, tc.value, got, err)
			}
		}
		// Without the permission only one's own entry can be compared.
		b := dial(t, f.addr)
		mustBind(t, b, userDN("bot"), f.botKey)
		if _, err := b.Compare(userDN("alice"), "mail", "alice@example.com"); code(err) != goldap.LDAPResultNoSuchObject {
			t.Errorf("bot compares alice: %v", err)
		}
		if ok, err := b.Compare(userDN("bot"), "memberOf", "cn=staff,ou=groups,"+baseDN); !ok || err != nil {
			t.Errorf("bot compares itself: %v %v", ok, err)
		}
		// An unsupported critical control is refused; a non-critical one ignored.
		crit := goldap.NewControlString("1.2.3.4.5", true, "")
		res, err := c.Search(goldap.NewSearchRequest(baseDN, goldap.ScopeBaseObject, 0, 0, 0, false, "(objectClass=*)", nil, []goldap.Control{crit}))
		if code(err) != goldap.LDAPResultUnavailableCriticalExtension {
			t.Errorf("critical control: %v %v", res, err)
		}
		soft := goldap.NewControlString("1.2.3.4.5", false, "")
		if _, err := c.Search(goldap.NewSearchRequest(baseDN, goldap.ScopeBaseObject, 0, 0, 0, false, "(objectClass=*)", nil, []goldap.Control{soft})); err != nil {
			t.Errorf("non-critical control: %v", err)
		}
	})
}

// selfSigned makes a certificate for 127.0.0.1.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

func TestStartTLSAndLDAPS(t *testing.T) {
	cert, pool := selfSigned(t)
	f := newFixture(t, storetest.NewSQLite(t), ldap.Options{TLS: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}})
	c := dial(t, f.addr)
	es, _ := search(t, c, "", goldap.ScopeBaseObject, "(objectClass=*)", "supportedExtension")
	if !strings.Contains(strings.Join(es[0].GetAttributeValues("supportedExtension"), " "), "1.3.6.1.4.1.1466.20037") {
		t.Fatal("the root DSE does not offer StartTLS")
	}
	if err := c.StartTLS(&tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}); err != nil {
		t.Fatalf("StartTLS: %v", err)
	}
	mustBind(t, c, userDN("bot"), f.botKey)
	if st, ok := c.TLSConnectionState(); !ok || !st.HandshakeComplete {
		t.Fatal("not on TLS")
	}
	if _, err := c.Extended(goldap.NewExtendedRequest("1.3.6.1.4.1.1466.20037", nil)); code(err) != goldap.LDAPResultOperationsError {
		t.Fatalf("StartTLS twice: %v", err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go f.door.ServeTLS(ln)
	s, err := goldap.DialURL("ldaps://"+ln.Addr().String(), goldap.DialWithTLSConfig(&tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mustBind(t, s, userDN("bot"), f.botKey)
	who, err := s.WhoAmI(nil)
	if err != nil || who.AuthzID != "dn:"+userDN("bot") {
		t.Fatalf("whoami over LDAPS: %v %v", who, err)
	}

	// Without a certificate, StartTLS is an unsupported operation.
	plain := newFixture(t, storetest.NewSQLite(t), ldap.Options{})
	if err := dial(t, plain.addr).StartTLS(&tls.Config{InsecureSkipVerify: true}); code(err) != goldap.LDAPResultProtocolError {
		t.Fatalf("StartTLS without a certificate: %v", err)
	}
}

func coreBind(name, password, ip string) core.LDAPBindInput {
	return core.LDAPBindInput{Name: name, Password: password, ClientIP: ip}
}
