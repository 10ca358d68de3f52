package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// The calls an LDAP outpost makes with its own token (an internal
// service account's, holding ldap.read on its provider): it forwards
// binds, re-checks bound sessions, forwards searches when it keeps no
// copy of the directory, and follows the directory feed. These endpoints
// are for outposts; other clients have no use for them.

// LDAPDoor holds an outpost's calls, at /ldap-providers/{name}/...
type LDAPDoor struct{ c *Client }

// LDAP bind outcomes (LDAPBindResult.Outcome).
const (
	LDAPBindSuccess = "success"
)

// LDAPBindInput is a simple bind to check. ClientIP is the LDAP client's
// address, which the server trusts from outposts only.
type LDAPBindInput struct {
	Name     string `json:"name"`
	Password string `json:"password"`
	ClientIP string `json:"client_ip"`
}

// LDAPBindResult is the server's decision on a bind.
type LDAPBindResult struct {
	Outcome           string       `json:"outcome"`
	Message           string       `json:"message"` // for the LDAP client
	RetryAfterSeconds int          `json:"retry_after_seconds,omitempty"`
	Session           *LDAPSession `json:"session,omitempty"`
}

// LDAPSession is who a successful bind bound as, and the handle with
// which the session is re-checked (LDAPDoor.CheckSessions).
type LDAPSession struct {
	UserUID  string `json:"user_uid"`
	Username string `json:"username"`
	Type     string `json:"type"`
	DN       string `json:"dn"`
	// Binding names the credential without revealing it.
	Binding             string     `json:"binding"`
	SearchFullDirectory bool       `json:"search_full_directory"`
	ValidUntil          *time.Time `json:"valid_until"` // nil: the credential never expires
}

// LDAPSessionRef names a bound session.
type LDAPSessionRef struct {
	UserUID string `json:"user_uid"`
	Binding string `json:"binding"`
}

// LDAPSessionState says whether a bound session may go on.
type LDAPSessionState struct {
	Valid               bool       `json:"valid"`
	SearchFullDirectory bool       `json:"search_full_directory"`
	ValidUntil          *time.Time `json:"valid_until"`
}

// LDAPSearchInput is a search that an outpost keeping no directory copy
// (search_mode direct) forwards for one of its bound sessions.
type LDAPSearchInput struct {
	UserUID   string `json:"user_uid"` // the session
	Binding   string `json:"binding"`
	Base      string `json:"base"`
	Scope     int    `json:"scope"`
	Filter    string `json:"filter"` // the filter's BER, base64
	SizeLimit int64  `json:"size_limit"`
}

// LDAPSearchResult holds every matching entry with all its attributes,
// or the result that ended the search.
type LDAPSearchResult struct {
	Result  LDAPResult  `json:"result"`
	Entries []LDAPEntry `json:"entries"`
}

// LDAPResult is an LDAP result code and its message.
type LDAPResult struct {
	Code      int    `json:"code"`
	MatchedDN string `json:"matched_dn"`
	Message   string `json:"message"`
}

// LDAPEntry is a search result entry.
type LDAPEntry struct {
	DN         string          `json:"dn"`
	Attributes []LDAPAttribute `json:"attributes"`
}

// LDAPAttribute is one attribute of an entry.
type LDAPAttribute struct {
	Name        string   `json:"name"`
	Values      []string `json:"values"`
	Operational bool     `json:"operational,omitempty"`
}

// DirectoryFeedQuery asks the directory feed for what changed.
type DirectoryFeedQuery struct {
	// Since is the cursor of the copy held ("": everything).
	Since string
	// Wait makes a long poll: the server answers when something changes
	// or after Wait (0: at once).
	Wait time.Duration
	// NoEntries asks for the provider's settings and cursor only, for an
	// outpost that keeps no copy.
	NoEntries bool
	// Idle, when not 0, ends the request when no byte arrives for that
	// long: the server sends a heartbeat every second while it waits, so
	// silence means a dead connection. The answer's headers may take
	// Idle + Wait/10.
	Idle time.Duration
}

// DirectoryFeed is the provider's settings and what changed in its
// directory since the cursor given (everything, with Reset, when the
// cursor is too old, from another process, or absent).
type DirectoryFeed struct {
	Cursor        string            `json:"cursor"`
	Provider      LDAPProvider      `json:"provider"`
	Reset         bool              `json:"reset"`
	Users         []*DirectoryUser  `json:"users"`
	Groups        []*DirectoryGroup `json:"groups"`
	RemovedUsers  []string          `json:"removed_users"`
	RemovedGroups []string          `json:"removed_groups"`
}

// DirectoryUser is an active user of the directory.
type DirectoryUser struct {
	UID         string    `json:"uid"`
	Username    string    `json:"username"`
	Type        string    `json:"type"`
	Name        string    `json:"name"`
	Email       string    `json:"email"`
	Description string    `json:"description"`
	CreatedAt   time.Time `json:"created_at"`
	Groups      []string  `json:"groups"` // names, sorted
}

// DirectoryGroup is a group of the directory.
type DirectoryGroup struct {
	UID         string    `json:"uid"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	CreatedAt   time.Time `json:"created_at"`
	Members     []string  `json:"members"` // usernames of active members, sorted
}

func providerPath(provider, what string) string { return Path("ldap-providers", provider, what) }

// Bind asks the server to check a simple bind.
func (s *LDAPDoor) Bind(ctx context.Context, provider string, in LDAPBindInput) (LDAPBindResult, error) {
	return call[LDAPBindResult](ctx, s.c, http.MethodPost, providerPath(provider, "bind"), in)
}

// CheckSessions asks whether bound sessions may go on; the answer is in
// the same order.
func (s *LDAPDoor) CheckSessions(ctx context.Context, provider string, refs []LDAPSessionRef) ([]LDAPSessionState, error) {
	var out struct {
		Sessions []LDAPSessionState `json:"sessions"`
	}
	in := struct {
		Sessions []LDAPSessionRef `json:"sessions"`
	}{refs}
	if err := s.c.Do(ctx, http.MethodPost, providerPath(provider, "sessions"), nil, in, &out); err != nil {
		return nil, err
	}
	if len(out.Sessions) != len(refs) {
		return nil, fmt.Errorf("POST %s: %d session states for %d sessions", providerPath(provider, "sessions"), len(out.Sessions), len(refs))
	}
	return out.Sessions, nil
}

// Search forwards a search for a bound session.
func (s *LDAPDoor) Search(ctx context.Context, provider string, in LDAPSearchInput) (LDAPSearchResult, error) {
	return call[LDAPSearchResult](ctx, s.c, http.MethodPost, providerPath(provider, "search"), in)
}

// DirectoryFeed asks the provider's directory feed once. It is not
// bounded by WithTimeout: a long poll is bounded by q.Wait and q.Idle.
func (s *LDAPDoor) DirectoryFeed(ctx context.Context, provider string, q DirectoryFeedQuery) (DirectoryFeed, error) {
	v := url.Values{}
	if q.Since != "" {
		v.Set("since", q.Since)
	}
	if q.Wait > 0 {
		v.Set("wait", q.Wait.String())
	}
	if q.NoEntries {
		v.Set("entries", "false")
	}
	path := providerPath(provider, "directory")
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var timer *time.Timer
	if q.Idle > 0 {
		timer = time.AfterFunc(q.Idle+q.Wait/10, cancel) // headers come within a heartbeat
		defer timer.Stop()
	}
	resp, err := s.c.send(ctx, http.MethodGet, path, v, nil)
	if err != nil {
		return DirectoryFeed{}, err
	}
	defer resp.Body.Close()
	var body io.Reader = resp.Body
	if timer != nil {
		timer.Reset(q.Idle)
		body = &idleReader{r: resp.Body, timer: timer, idle: q.Idle}
	}
	// The answer streams: a failure after the headers went out is told
	// in its "error" field.
	var feed struct {
		DirectoryFeed
		Error string `json:"error"`
	}
	if err := json.NewDecoder(body).Decode(&feed); err != nil {
		return DirectoryFeed{}, fmt.Errorf("read the directory feed: %w", err)
	}
	if feed.Error != "" || feed.Cursor == "" {
		return DirectoryFeed{}, fmt.Errorf("the directory feed failed: %s", feed.Error)
	}
	return feed.DirectoryFeed, nil
}

// idleReader cancels a request when no byte arrives for a while.
type idleReader struct {
	r     io.Reader
	timer *time.Timer
	idle  time.Duration
}

func (ir *idleReader) Read(p []byte) (int, error) {
	n, err := ir.r.Read(p)
	if n > 0 {
		ir.timer.Reset(ir.idle)
	}
	return n, err
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
