package ldap

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/gatehouse/gatehouse/internal/core"
	"github.com/gatehouse/gatehouse/internal/ldap/dn"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Backend is what the LDAP door asks. The door speaks the protocol; the
// backend decides: in the server it is the core itself (CoreBackend), in
// an outpost the REST API of the server (package outpost). Both end in
// the same core functions, so a rule (disabled accounts cannot bind, API
// tokens are refused, failures are limited and recorded) holds on every door.
type Backend interface {
	// Bind decides a simple bind (empty names and passwords included:
	// the backend records those refusals too).
	Bind(ctx context.Context, name, password, clientIP string) (core.LDAPBindResult, error)
	// CheckSession re-checks a bound session. The door calls it whenever
	// Generation moved since the last check, or the session's credential
	// reached its expiry.
	CheckSession(ctx context.Context, ref core.LDAPSessionRef) (core.LDAPSessionState, error)
	// Generation moves whenever anything changed that could end or
	// narrow a bound session.
	Generation() uint64
	// Snapshot returns the provider's base DN and the directory to search;
	// Dir is nil when the backend searches remotely (Search).
	Snapshot(ctx context.Context) (Snapshot, error)
	// Search runs a search remotely, for a backend without a directory copy.
	Search(ctx context.Context, ref core.LDAPSessionRef, req *SearchRequest) ([]Entry, Result, error)
}

// Snapshot is a provider's base and its directory view.
type Snapshot struct {
	Base dn.DN
	Dir  *core.Directory // nil: search remotely
}

// ErrUnavailable is returned by backends that cannot answer now (the
// provider does not exist, the server cannot be reached): the door
// answers unavailable (52).
var ErrUnavailable = errors.New("the directory is unavailable")

// Result is an LDAP result as backends return it.
type Result struct {
	Code      int    `json:"code"`
	MatchedDN string `json:"matched_dn"`
	Message   string `json:"message"`
}

// Entry is a search result entry as backends return it.
type Entry struct {
	DN         string      `json:"dn"`
	Attributes []Attribute `json:"attributes"`
}

// Core is what the LDAP doors ask of gatehouse's core, and nothing more:
// the LDAP part's decisions on binds and sessions, a provider's settings,
// the directory, and the version of the model (core.LDAP has them).
type Core interface {
	LDAPBind(ctx context.Context, provider string, in core.LDAPBindInput) (core.LDAPBindResult, error)
	LDAPCheckSession(ctx context.Context, provider string, ref core.LDAPSessionRef) (core.LDAPSessionState, error)
	LDAPProviderConfig(ctx context.Context, name string) (store.LDAPProvider, dn.DN, error)
	LDAPDirectory(ctx context.Context) (*core.Directory, error)
	ChangeVersion() uint64
}

var _ Core = (*core.LDAP)(nil)

// CoreBackend is the in-server door's backend: the core, directly.
type CoreBackend struct {
	Core     Core
	Provider string
}

func (b *CoreBackend) Bind(ctx context.Context, name, password, clientIP string) (core.LDAPBindResult, error) {
	return b.Core.LDAPBind(ctx, b.Provider, core.LDAPBindInput{Name: name, Password: password, ClientIP: clientIP})
}

func (b *CoreBackend) CheckSession(ctx context.Context, ref core.LDAPSessionRef) (core.LDAPSessionState, error) {
	return b.Core.LDAPCheckSession(ctx, b.Provider, ref)
}

func (b *CoreBackend) Generation() uint64 { return b.Core.ChangeVersion() }

func (b *CoreBackend) baseDN(ctx context.Context) (dn.DN, error) {
	_, base, err := b.Core.LDAPProviderConfig(ctx, b.Provider)
	var nf *core.NotFoundError
	if errors.As(err, &nf) {
		return nil, fmt.Errorf("%w: LDAP provider %q does not exist", ErrUnavailable, b.Provider)
	}
	return base, err
}

func (b *CoreBackend) Snapshot(ctx context.Context) (Snapshot, error) {
	base, err := b.baseDN(ctx)
	if err != nil {
		return Snapshot{}, err
	}
	dir, err := b.Core.LDAPDirectory(ctx)
	if err != nil {
		return Snapshot{}, err
	}
	return Snapshot{Base: base, Dir: dir}, nil
}

func (b *CoreBackend) Search(context.Context, core.LDAPSessionRef, *SearchRequest) ([]Entry, Result, error) {
	return nil, Result{}, errors.New("the in-server door searches its own directory")
}

// DirectSearchInput is POST /ldap-providers/{name}/search: a search an
// outpost that does not keep a directory copy (search_mode direct)
// forwards for one of its bound sessions.
type DirectSearchInput struct {
	UserUID   string `json:"user_uid"` // the session (core.LDAPSessionRef)
	Binding   string `json:"binding"`
	Base      string `json:"base"`
	Scope     int    `json:"scope"`
	Filter    string `json:"filter"` // the filter's BER, base64
	SizeLimit int64  `json:"size_limit"`
}

// DirectSearchResult answers it: every matching entry with all its
// attributes (the outpost selects attributes and pages), or the result
// that ended the search.
type DirectSearchResult struct {
	Result  Result  `json:"result"`
	Entries []Entry `json:"entries"`
}

// MaxDirectResults bounds the entries of one direct search.
const MaxDirectResults = 50_000

// SearchDirect runs a search for an outpost's bound session, with the
// session's visibility as the server sees it now. The caller has
// authorized the outpost (core.AuthorizeOutpost).
func SearchDirect(ctx context.Context, c Core, provider string, in DirectSearchInput) (DirectSearchResult, error) {
	var f []core.FieldError
	raw, err := base64.StdEncoding.DecodeString(in.Filter)
	var filter *Filter
	if err == nil {
		filter, err = ParseFilterBER(raw)
	}
	if err != nil {
		f = append(f, core.FieldError{Field: "filter", Message: "must be a search filter's BER, base64: " + err.Error()})
	}
	if in.Scope < ScopeBase || in.Scope > ScopeSubordinate {
		f = append(f, core.FieldError{Field: "scope", Message: "must be 0 (base), 1 (one), 2 (sub) or 3 (subordinate)"})
	}
	if len(in.Base) > dn.MaxLength {
		f = append(f, core.FieldError{Field: "base", Message: "is too long"})
	}
	if in.SizeLimit < 0 {
		f = append(f, core.FieldError{Field: "size_limit", Message: "must not be negative"})
	}
	if len(f) > 0 {
		return DirectSearchResult{}, &core.ValidationError{Errors: f}
	}
	ref := core.LDAPSessionRef{UserUID: in.UserUID, Binding: in.Binding}
	st, err := c.LDAPCheckSession(ctx, provider, ref)
	if err != nil {
		return DirectSearchResult{}, err
	}
	if !st.Valid {
		return DirectSearchResult{Result: Result{Code: ResultStrongerAuthRequired, Message: "the session's credential is no longer valid; bind again"}, Entries: []Entry{}}, nil
	}
	b := &CoreBackend{Core: c, Provider: provider}
	snap, err := b.Snapshot(ctx)
	if err != nil {
		return DirectSearchResult{}, err
	}
	v := NewView(snap.Dir, snap.Base, false)
	vis := visibility{bound: true, full: st.SearchFullDirectory}
	if u := snap.Dir.UserByUID(in.UserUID); u != nil {
		vis.self = u.Username
	}
	matches, res := v.search(&SearchRequest{Base: in.Base, Scope: in.Scope, SizeLimit: in.SizeLimit, Filter: filter}, vis)
	out := DirectSearchResult{Result: Result{Code: res.code, MatchedDN: res.matchedDN, Message: res.message}, Entries: []Entry{}}
	limit := MaxDirectResults
	if in.SizeLimit > 0 && in.SizeLimit < int64(limit) {
		limit = int(in.SizeLimit)
	}
	for i, e := range matches {
		if i == limit {
			out.Result = Result{Code: ResultSizeLimitExceeded, Message: "size limit exceeded"}
			break
		}
		out.Entries = append(out.Entries, Entry{DN: e.DN(), Attributes: e.allAttributes()})
	}
	return out, nil
}
