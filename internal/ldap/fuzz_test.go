package ldap

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/client"
	"github.com/gatehouse/gatehouse/internal/core"
	"github.com/gatehouse/gatehouse/internal/ldap/dn"
)

// The fuzz targets (go test -fuzz=FuzzX ./internal/ldap/) start from the
// seed corpora in testdata/fuzz: valid requests of every kind, filters of
// every choice, and the bad inputs of TestBadInput.

// fuzzView is a small directory to evaluate filters against.
func fuzzView() *View {
	created := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	dir := core.NewDirectory("e.1", []*core.DirectoryUser{
		{DirectoryUser: client.DirectoryUser{UID: "u1", Username: "alice", Type: "human", Name: "Alice Liddell", Email: "alice@example.com", CreatedAt: created, Groups: []string{"staff"}}},
		{DirectoryUser: client.DirectoryUser{UID: "u2", Username: "bot", Type: "service_account", CreatedAt: created, Groups: []string{}}},
	}, []*core.DirectoryGroup{{DirectoryGroup: client.DirectoryGroup{UID: "g1", Name: "staff", CreatedAt: created, Members: []string{"alice"}}}})
	base, _ := dn.Parse("dc=example,dc=com")
	return NewView(dir, base, true)
}

func FuzzFilter(f *testing.F) {
	v := fuzzView()
	entries := []entryRef{{v: v, kind: kindRoot}, {v: v, kind: kindBase}, {v: v, kind: kindUsersOU},
		{v: v, kind: kindUser, u: v.Dir.User("alice")}, {v: v, kind: kindUser, u: v.Dir.User("bot")}, {v: v, kind: kindGroup, g: v.Dir.Group("staff")}}
	f.Fuzz(func(t *testing.T, data []byte) {
		flt, err := ParseFilterBER(data)
		if err != nil {
			return
		}
		if depth(flt) > MaxFilterDepth {
			t.Fatalf("a filter %d deep was accepted", depth(flt))
		}
		_ = flt.String()
		for _, e := range entries {
			if r := flt.eval(e); r != triTrue && r != triFalse && r != triUndefined {
				t.Fatalf("eval = %d", r)
			}
		}
		req := &SearchRequest{Base: "dc=example,dc=com", Scope: ScopeSub, Filter: flt}
		for _, vis := range []visibility{{bound: true, full: true}, {bound: true, self: "bot"}} {
			out, _ := v.search(req, vis)
			for _, e := range out {
				if flt.eval(e.(entryRef)) != triTrue {
					t.Fatalf("search returned %s, which the filter does not match", e.DN())
				}
				if !vis.full && e.DN() != v.UserDN("bot") {
					t.Fatalf("a restricted search returned %s", e.DN())
				}
			}
		}
	})
}

func depth(f *Filter) int {
	d := 0
	for _, c := range f.children {
		d = max(d, depth(c))
	}
	return d + 1
}

// fuzzBackend answers without a database: bot binds with "secret".
type fuzzBackend struct{ v *View }

func (b fuzzBackend) Bind(_ context.Context, name, password, _ string) (core.LDAPBindResult, error) {
	if name == "cn=bot,ou=users,dc=example,dc=com" && password == "secret" {
		return core.LDAPBindResult{Outcome: core.LDAPBindSuccess, Session: &core.LDAPSession{UserUID: "u2", Username: "bot", Binding: "k:x", SearchFullDirectory: true}}, nil
	}
	return core.LDAPBindResult{Outcome: core.LDAPBindInvalid, Message: "invalid credentials"}, nil
}
func (b fuzzBackend) CheckSession(context.Context, core.LDAPSessionRef) (core.LDAPSessionState, error) {
	return core.LDAPSessionState{Valid: true, SearchFullDirectory: true}, nil
}
func (b fuzzBackend) Generation() uint64 { return 1 }
func (b fuzzBackend) Snapshot(context.Context) (Snapshot, error) {
	return Snapshot{Base: b.v.base, Dir: b.v.Dir}, nil
}
func (b fuzzBackend) Search(context.Context, core.LDAPSessionRef, *SearchRequest) ([]Entry, Result, error) {
	return nil, Result{}, nil
}

// FuzzMessages sends arbitrary bytes to a connection of a real door: it
// must answer or close, never panic or hang, whatever arrives.
func FuzzMessages(f *testing.F) {
	s := NewServer(fuzzBackend{fuzzView()}, Options{FirstMessageTimeout: time.Second, IdleTimeout: time.Second, MaxMessageSize: 64 << 10})
	f.Fuzz(func(t *testing.T, data []byte) {
		client, server := net.Pipe()
		s.slots <- struct{}{}
		s.wg.Add(1)
		done := make(chan struct{})
		go func() {
			s.serveConn(server, false)
			close(done)
		}()
		go func() { _, _ = io.Copy(io.Discard, client) }()
		go func() {
			_, _ = client.Write(data)
			_ = client.Close()
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("the connection is still served 5s after the client closed")
		}
	})
}

// FuzzDN: whatever parses prints as text that parses to the same DN.
func FuzzDN(f *testing.F) {
	for _, s := range []string{"dc=example,dc=com", `cn=a\,b+uid=x, ou = users ;dc=x`, "CN=#0c03616263", `o=\41cme\ `, "", "cn="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := dn.Parse(s)
		if err != nil {
			return
		}
		again, err := dn.Parse(d.String())
		if err != nil {
			t.Fatalf("%q printed as %q, which does not parse: %v", s, d.String(), err)
		}
		if again.Key() != d.Key() || !again.Equal(d) {
			t.Fatalf("%q: key %q, after printing %q", s, d.Key(), again.Key())
		}
	})
}
