package outpost

import (
	"errors"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/client"
	"github.com/gatehouse/gatehouse/internal/core"
	"github.com/gatehouse/gatehouse/internal/ldap"
)

// api is the outpost's client of the server, with the outpost's token.
// The key is swapped when the outpost rotates it; when it came from a
// file, a key refused by the server is re-read from the file, so an
// administrator can hand a stopped-too-long outpost a new key by writing
// it there.
type api struct {
	*client.Client
	tokenFile string

	mu  sync.Mutex
	key string
}

// requestTimeout bounds every API request but the feed's long poll
// (which its heartbeats bound).
const requestTimeout = 30 * time.Second

func newAPI(server, key, tokenFile string) (*api, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64 // binds are forwarded from many LDAP connections at once
	c, err := client.New(server, client.WithToken(key), client.WithHTTPClient(&http.Client{Transport: tr}),
		client.WithUserAgent("gatehouse-ldap-outpost"), client.WithTimeout(requestTimeout))
	if err != nil {
		return nil, errors.New("--server must be an http:// or https:// URL without credentials")
	}
	return &api{Client: c, key: key, tokenFile: tokenFile}, nil
}

func (a *api) setKey(k string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.key = k
	a.SetToken(k)
}

// reloadKey re-reads the token file; it reports whether the key changed.
func (a *api) reloadKey() bool {
	if a.tokenFile == "" {
		return false
	}
	b, err := os.ReadFile(a.tokenFile)
	if err != nil {
		return false
	}
	k := strings.TrimSpace(string(b))
	a.mu.Lock()
	defer a.mu.Unlock()
	if k == "" || k == a.key {
		return false
	}
	a.key = k
	a.SetToken(k)
	return true
}

// retry makes a call, and once more when the server refused the key and
// the token file holds a new one.
func retry[T any](a *api, call func() (T, error)) (T, error) {
	out, err := call()
	if errors.Is(err, client.ErrUnauthorized) && a.reloadKey() {
		out, err = call()
	}
	return out, err
}

// The server's answers as the LDAP door takes them. Most are the same
// types in the core (it aliases the wire types); the directory's entries
// carry the core's stamp beside the wire form.

func directoryFeed(f client.DirectoryFeed) core.DirectoryFeed {
	out := core.DirectoryFeed{Cursor: f.Cursor, Provider: f.Provider, Reset: f.Reset,
		RemovedUsers: f.RemovedUsers, RemovedGroups: f.RemovedGroups,
		Users: make([]*core.DirectoryUser, len(f.Users)), Groups: make([]*core.DirectoryGroup, len(f.Groups))}
	for i, u := range f.Users {
		out.Users[i] = &core.DirectoryUser{DirectoryUser: *u}
		f.Users[i] = nil // a full copy is large: let the collector have the wire form as soon as it can
	}
	for i, g := range f.Groups {
		out.Groups[i] = &core.DirectoryGroup{DirectoryGroup: *g}
		f.Groups[i] = nil
	}
	return out
}

func searchEntries(in []client.LDAPEntry) []ldap.Entry {
	out := make([]ldap.Entry, len(in))
	for i, e := range in {
		attrs := make([]ldap.Attribute, len(e.Attributes))
		for j, a := range e.Attributes {
			attrs[j] = ldap.Attribute(a)
		}
		out[i] = ldap.Entry{DN: e.DN, Attributes: attrs}
	}
	return out
}
