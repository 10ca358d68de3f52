package ldap_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	goldap "github.com/go-ldap/ldap/v3"

	"github.com/gatehouse/gatehouse/internal/ldap"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
)

// raw is a connection that speaks bytes, for what no client library sends.
type raw struct {
	t *testing.T
	c net.Conn
}

func rawDial(t *testing.T, addr string) *raw {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &raw{t, c}
}

func (r *raw) send(b []byte) {
	r.t.Helper()
	if _, err := r.c.Write(b); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// read reads one answer: its message ID, operation tag and result code.
func (r *raw) read() (id int64, op ber.Tag, code int64, err error) {
	_ = r.c.SetReadDeadline(time.Now().Add(15 * time.Second))
	p, err := ber.ReadPacket(r.c)
	if err != nil {
		return 0, 0, 0, err
	}
	if len(p.Children) < 2 || len(p.Children[1].Children) < 1 {
		return 0, 0, 0, errors.New("short answer")
	}
	id, _ = p.Children[0].Value.(int64)
	code, _ = p.Children[1].Children[0].Value.(int64)
	return id, p.Children[1].Tag, code, nil
}

// closed reports whether the server closed the connection within d.
func (r *raw) closed(d time.Duration) bool {
	_ = r.c.SetReadDeadline(time.Now().Add(d))
	var b [1]byte
	for {
		_, err := r.c.Read(b[:])
		if err == nil {
			continue
		}
		return errors.Is(err, io.EOF) || strings.Contains(err.Error(), "reset")
	}
}

// envelope wraps an operation in an LDAPMessage.
func envelope(id int64, op *ber.Packet) []byte {
	m := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
	m.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, id, ""))
	m.AppendChild(op)
	return m.Bytes()
}

// expectNotice reads a Notice of Disconnection with code want, then EOF.
func (r *raw) expectNotice(want int64) {
	r.t.Helper()
	id, op, code, err := r.read()
	if err != nil || id != 0 || op != 24 || code != want {
		r.t.Fatalf("want a notice of disconnection %d: id %d op %d code %d err %v", want, id, op, code, err)
	}
	if !r.closed(2 * time.Second) {
		r.t.Fatal("the connection stays open after the notice")
	}
}

// nestedNot is a search filter of n NOTs around (objectClass=*).
func nestedNot(n int) *ber.Packet {
	f := ber.NewString(ber.ClassContext, ber.TypePrimitive, 7, "objectClass", "")
	for i := 0; i < n; i++ {
		not := ber.Encode(ber.ClassContext, ber.TypeConstructed, 2, nil, "")
		not.AppendChild(f)
		f = not
	}
	return f
}

func searchOp(filter *ber.Packet) *ber.Packet {
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, 3, nil, "")
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", ""))
	op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, 0, ""))
	op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, 0, ""))
	op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, 0, ""))
	op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, 0, ""))
	op.AppendChild(ber.NewBoolean(ber.ClassUniversal, ber.TypePrimitive, ber.TagBoolean, false, ""))
	op.AppendChild(filter)
	op.AppendChild(ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, ""))
	return op
}

// TestBadInput: every kind of bad input gets its answer or a closed
// connection, and the server goes on serving a client that was there
// all along and new ones.
func TestBadInput(t *testing.T) {
	f := newFixture(t, storetest.NewSQLite(t), ldap.Options{FirstMessageTimeout: 2 * time.Second, MaxMessageSize: 64 << 10})
	bystander := dial(t, f.addr)
	mustBind(t, bystander, userDN("bot"), f.botKey)

	t.Run("not BER", func(t *testing.T) {
		r := rawDial(t, f.addr)
		r.send([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
		r.expectNotice(ldap.ResultProtocolError)
	})
	t.Run("truncated message", func(t *testing.T) {
		r := rawDial(t, f.addr)
		r.send([]byte{0x30, 0x03, 0x02, 0x01, 0x01}) // a message ID and no operation
		r.expectNotice(ldap.ResultProtocolError)
	})
	t.Run("length past the end", func(t *testing.T) {
		r := rawDial(t, f.addr)
		r.send([]byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x60, 0x7f, 0x02}) // bind request claiming 127 bytes
		r.expectNotice(ldap.ResultProtocolError)
	})
	t.Run("indefinite length", func(t *testing.T) {
		r := rawDial(t, f.addr)
		r.send([]byte{0x30, 0x80, 0x02, 0x01, 0x01, 0x00, 0x00})
		r.expectNotice(ldap.ResultProtocolError)
	})
	t.Run("oversized message", func(t *testing.T) {
		r := rawDial(t, f.addr)
		r.send([]byte{0x30, 0x84, 0x7f, 0xff, 0xff, 0xff}) // 2 GiB announced, never sent
		r.expectNotice(ldap.ResultProtocolError)
	})
	t.Run("message just over the limit", func(t *testing.T) {
		r := rawDial(t, f.addr)
		r.send(envelope(1, searchOp(ber.NewString(ber.ClassContext, ber.TypePrimitive, 7, strings.Repeat("a", 65<<10), ""))))
		r.expectNotice(ldap.ResultProtocolError)
	})
	t.Run("unknown operation", func(t *testing.T) {
		r := rawDial(t, f.addr)
		r.send(envelope(1, ber.Encode(ber.ClassApplication, ber.TypeConstructed, 30, nil, "")))
		r.expectNotice(ldap.ResultProtocolError)
	})
	t.Run("filter nested thousands deep", func(t *testing.T) {
		msg := envelope(7, searchOp(nestedNot(5000))) // slow to build: before the clock of the first message starts
		r := rawDial(t, f.addr)
		r.send(msg)
		id, op, code, err := r.read()
		if err != nil || id != 7 || op != 5 || code != ldap.ResultUnwillingToPerform {
			t.Fatalf("deep filter: id %d op %d code %d err %v", id, op, code, err)
		}
		// The connection goes on: a root DSE search still works.
		r.send(envelope(8, searchOp(nestedNot(3))))
		if id, op, _, err := r.read(); err != nil || id != 8 || op != 5 {
			t.Fatalf("after a deep filter: id %d op %d err %v", id, op, err)
		}
	})
	t.Run("filter at the depth limit", func(t *testing.T) {
		r := rawDial(t, f.addr)
		r.send(envelope(9, searchOp(nestedNot(ldap.MaxFilterDepth-1))))
		id, op, code, err := r.read()
		if err != nil || id != 9 || op != 5 || code != 0 {
			t.Fatalf("filter %d deep: id %d op %d code %d err %v", ldap.MaxFilterDepth, id, op, code, err)
		}
	})
	t.Run("malformed bind", func(t *testing.T) {
		r := rawDial(t, f.addr)
		bind := ber.Encode(ber.ClassApplication, ber.TypeConstructed, 0, nil, "")
		bind.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, 3, ""))
		r.send(envelope(2, bind)) // no name, no authentication
		if id, op, code, err := r.read(); err != nil || id != 2 || op != 1 || code != ldap.ResultProtocolError {
			t.Fatalf("malformed bind: id %d op %d code %d err %v", id, op, code, err)
		}
	})
	t.Run("LDAPv2 and SASL binds", func(t *testing.T) {
		r := rawDial(t, f.addr)
		for _, tc := range []struct {
			version int64
			auth    *ber.Packet
			want    int64
		}{
			{2, ber.NewString(ber.ClassContext, ber.TypePrimitive, 0, "secret", ""), ldap.ResultProtocolError},
			{3, ber.Encode(ber.ClassContext, ber.TypeConstructed, 3, nil, ""), ldap.ResultAuthMethodNotSupported},
		} {
			bind := ber.Encode(ber.ClassApplication, ber.TypeConstructed, 0, nil, "")
			bind.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, tc.version, ""))
			bind.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, userDN("bot"), ""))
			tc.auth.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "PLAIN", ""))
			bind.AppendChild(tc.auth)
			r.send(envelope(3, bind))
			if _, _, code, err := r.read(); err != nil || code != tc.want {
				t.Fatalf("version %d: code %d err %v, want %d", tc.version, code, err, tc.want)
			}
		}
	})
	t.Run("client that never speaks", func(t *testing.T) {
		r := rawDial(t, f.addr)
		start := time.Now()
		if !r.closed(15 * time.Second) {
			t.Fatal("an idle client is never disconnected")
		}
		if d := time.Since(start); d > 6*time.Second { // 2 s set; the default is 10 s
			t.Fatalf("disconnected after %s", d)
		}
	})
	t.Run("request that never ends", func(t *testing.T) {
		r := rawDial(t, f.addr)
		r.send([]byte{0x30, 0x20, 0x02, 0x01}) // 32 bytes announced, 2 sent
		if !r.closed(15 * time.Second) {
			t.Fatal("a half-sent request holds the connection")
		}
	})
	t.Run("unbind and abandon", func(t *testing.T) {
		r := rawDial(t, f.addr)
		r.send(envelope(4, ber.NewInteger(ber.ClassApplication, ber.TypePrimitive, 16, 1, ""))) // abandon: no answer
		r.send(envelope(5, searchOp(nestedNot(0))))
		if id, _, _, err := r.read(); err != nil || id != 5 {
			t.Fatalf("after abandon: id %d err %v", id, err)
		}
		r.send(envelope(6, ber.Encode(ber.ClassApplication, ber.TypePrimitive, 2, nil, "")))
		if !r.closed(2 * time.Second) {
			t.Fatal("unbind does not close the connection")
		}
	})

	// Everyone else is still served: the bystander's session and new clients.
	if who, err := bystander.WhoAmI(nil); err != nil || who.AuthzID != "dn:"+userDN("bot") {
		t.Fatalf("the bystander: %v %v", who, err)
	}
	mustBind(t, dial(t, f.addr), userDN("alice"), alicePassword)
}

func TestMaxConnections(t *testing.T) {
	f := newFixture(t, storetest.NewSQLite(t), ldap.Options{MaxConnections: 2})
	a, b := dial(t, f.addr), dial(t, f.addr)
	mustBind(t, a, userDN("bot"), f.botKey)
	mustBind(t, b, userDN("bot"), f.botKey)
	r := rawDial(t, f.addr)
	r.expectNotice(ldap.ResultBusy)
	a.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := goldap.DialURL("ldap://" + f.addr)
		if err == nil {
			err = c.Bind(userDN("bot"), f.botKey)
			c.Close()
		}
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a slot never freed: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestConcurrentClients: many clients binding and searching at once, as
// different users, each see only what they may (run with -race).
func TestConcurrentClients(t *testing.T) {
	f := newFixture(t, storetest.NewSQLite(t), ldap.Options{})
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := goldap.DialURL("ldap://" + f.addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			user, key, want := "bot", f.botKey, 1
			if i%2 == 1 {
				user, key, want = "searcher", f.searcherKey, 8
			}
			for j := 0; j < 20; j++ {
				if err := c.Bind(userDN(user), key); err != nil {
					errs <- err
					return
				}
				res, err := c.Search(goldap.NewSearchRequest(baseDN, goldap.ScopeWholeSubtree, 0, 0, 0, false, "(objectClass=*)", []string{"1.1"}, nil))
				if err != nil || len(res.Entries) != want {
					errs <- errors.New("wrong view")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestShutdown: idle clients are told the server is going away.
func TestShutdown(t *testing.T) {
	f := newFixture(t, storetest.NewSQLite(t), ldap.Options{})
	r := rawDial(t, f.addr)
	r.send(envelope(1, searchOp(nestedNot(0))))
	for _, want := range []ber.Tag{4, 5} { // the root DSE, then done
		if _, op, _, err := r.read(); err != nil || op != want {
			t.Fatalf("op %d, %v", op, err)
		}
	}
	done := make(chan error, 1)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	go func() { done <- f.door.Shutdown(ctx) }()
	r.expectNotice(ldap.ResultUnavailable)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := net.DialTimeout("tcp", f.addr, time.Second); err == nil {
		t.Fatal("still accepting after Shutdown")
	}
}
