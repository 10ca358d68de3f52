package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// seen is one request a test server received.
type seen struct {
	Method, Path, RawQuery    string
	Authorization, UserAgent  string
	ContentType, Accept, Body string
}

// recorder is an httptest server answering with handler and keeping what
// it received.
type recorder struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []seen
}

func newRecorder(t *testing.T, handler http.HandlerFunc) *recorder {
	t.Helper()
	r := &recorder{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.reqs = append(r.reqs, seen{req.Method, req.URL.EscapedPath(), req.URL.RawQuery, req.Header.Get("Authorization"),
			req.UserAgent(), req.Header.Get("Content-Type"), req.Header.Get("Accept"), string(body)})
		r.mu.Unlock()
		handler(w, req)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *recorder) requests() []seen {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]seen(nil), r.reqs...)
}

func answer(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		if status >= 400 {
			w.Header().Set("Content-Type", "application/problem+json")
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

func mustNew(t *testing.T, server string, opts ...Option) *Client {
	t.Helper()
	c, err := New(server, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDoSendsAndDecodes(t *testing.T) {
	t.Parallel()
	r := newRecorder(t, answer(201, `{"uid":"g-1","name":"ops","members":["alice","bob"],"unknown":1}`))
	c := mustNew(t, r.srv.URL+"/", WithToken("tok"), WithUserAgent("test-agent"))
	g, err := c.Groups.Create(context.Background(), GroupCreate{Name: "ops"})
	if err != nil {
		t.Fatal(err)
	}
	if g.Name != "ops" || !reflect.DeepEqual(g.Members, []string{"alice", "bob"}) {
		t.Errorf("decoded %+v", g)
	}
	want := seen{Method: "POST", Path: "/api/v1/groups", Authorization: "Bearer tok", UserAgent: "test-agent",
		ContentType: "application/json", Accept: "application/json, application/problem+json", Body: `{"name":"ops"}`}
	if got := r.requests()[0]; got != want {
		t.Errorf("request\n got %+v\nwant %+v", got, want)
	}
}

func TestBearerAndBasic(t *testing.T) {
	t.Parallel()
	r := newRecorder(t, answer(200, `{"username":"alice"}`))
	ctx := context.Background()
	for _, c := range []*Client{
		mustNew(t, r.srv.URL, WithToken("k1")),
		mustNew(t, r.srv.URL, WithBasicAuth("alice", "pa:ss")),
		mustNew(t, r.srv.URL),
	} {
		if _, err := c.Me(ctx); err != nil {
			t.Fatal(err)
		}
	}
	c := mustNew(t, r.srv.URL, WithToken("k1"))
	c.SetToken("k2")
	other := c.Clone(WithToken("k3"))
	for _, c := range []*Client{c, other} {
		if _, err := c.Me(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for _, req := range r.requests() {
		got = append(got, req.Authorization)
	}
	want := []string{"Bearer k1", "Basic YWxpY2U6cGE6c3M=", "", "Bearer k2", "Bearer k3"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Authorization headers %q, want %q", got, want)
	}
}

func TestErrorCarriesTheProblem(t *testing.T) {
	t.Parallel()
	r := newRecorder(t, answer(409, `{"type":"about:blank","title":"Conflict","status":409,
		"detail":"group \"ops\" holds members","errors":[{"field":"name","message":"in use"}]}`))
	c := mustNew(t, r.srv.URL, WithToken("secret-token-value"))
	err := c.Groups.Delete(context.Background(), "ops")
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T), want *Error", err, err)
	}
	want := &Error{Method: "DELETE", Path: "/groups/ops", Status: 409, Type: "about:blank", Title: "Conflict",
		Detail: `group "ops" holds members`, Errors: []FieldError{{"name", "in use"}}}
	if !reflect.DeepEqual(e, want) {
		t.Errorf("got %+v, want %+v", e, want)
	}
	if e.Error() != `409 Conflict: group "ops" holds members` {
		t.Errorf("Error() = %q", e.Error())
	}
	if !errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound) || StatusOf(err) != 409 {
		t.Errorf("errors.Is and StatusOf disagree with status 409")
	}
	if dump := fmt.Sprintf("%+v %#v", e, e); strings.Contains(dump, "secret-token-value") {
		t.Errorf("the error holds the token: %s", dump)
	}
}

func TestErrorSentinels(t *testing.T) {
	t.Parallel()
	for status, sentinel := range map[int]error{401: ErrUnauthorized, 403: ErrForbidden, 404: ErrNotFound, 409: ErrConflict, 429: ErrTooManyRequests} {
		r := newRecorder(t, answer(status, `{"title":"x","status":0}`))
		_, err := mustNew(t, r.srv.URL).Users.Get(context.Background(), "bob")
		if !errors.Is(err, sentinel) {
			t.Errorf("status %d: errors.Is(%v, %v) is false", status, err, sentinel)
		}
	}
}

func TestErrorWithoutProblemBody(t *testing.T) {
	t.Parallel()
	r := newRecorder(t, answer(502, `<html>bad gateway</html>`))
	err := mustNew(t, r.srv.URL).Do(context.Background(), "GET", "/me", nil, nil, nil)
	if err == nil || err.Error() != "502 Bad Gateway" {
		t.Errorf("error %v, want 502 Bad Gateway", err)
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	for header, want := range map[string]time.Duration{"7": 7 * time.Second, "": 0, "soon": 0} {
		r := newRecorder(t, func(w http.ResponseWriter, _ *http.Request) {
			if header != "" {
				w.Header().Set("Retry-After", header)
			}
			answer(429, `{"title":"Too Many Requests","status":429}`)(w, nil)
		})
		_, err := mustNew(t, r.srv.URL).Me(context.Background())
		var e *Error
		if !errors.As(err, &e) || e.RetryAfter != want {
			t.Errorf("Retry-After %q: error %#v, want RetryAfter %v", header, err, want)
		}
	}
	if d := retryAfter(time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)); d < 59*time.Minute || d > time.Hour {
		t.Errorf("an HTTP date an hour away gives %v", d)
	}
}

func TestPaging(t *testing.T) {
	t.Parallel()
	pages := map[string]string{
		"":   `{"items":[{"username":"a"},{"username":"b"}],"next_page_token":"p2"}`,
		"p2": `{"items":[{"username":"c"},{"username":"d"}],"next_page_token":"p3"}`,
		"p3": `{"items":[{"username":"e"}],"next_page_token":""}`,
	}
	r := newRecorder(t, func(w http.ResponseWriter, req *http.Request) {
		io.WriteString(w, pages[req.URL.Query().Get("page_token")])
	})
	c := mustNew(t, r.srv.URL)
	ctx := context.Background()
	names := func(us []User) (s []string) {
		for _, u := range us {
			s = append(s, u.Username)
		}
		return s
	}

	all, err := c.Users.ListAll(ctx, UserFilter{Type: UserHuman}, ListOptions{})
	if err != nil || !reflect.DeepEqual(names(all), []string{"a", "b", "c", "d", "e"}) {
		t.Fatalf("ListAll: %v %v", names(all), err)
	}
	var queries []string
	for _, req := range r.requests() {
		queries = append(queries, req.RawQuery)
	}
	want := []string{"page_size=500&type=human", "page_size=500&page_token=p2&type=human", "page_size=500&page_token=p3&type=human"}
	if !reflect.DeepEqual(queries, want) {
		t.Errorf("queries %q, want %q", queries, want)
	}

	limited, err := c.Users.ListAll(ctx, UserFilter{}, ListOptions{Limit: 3})
	if err != nil || !reflect.DeepEqual(names(limited), []string{"a", "b", "c"}) {
		t.Errorf("ListAll with Limit 3: %v %v", names(limited), err)
	}
	if q := r.requests()[len(r.requests())-1].RawQuery; q != "page_size=1&page_token=p2" {
		t.Errorf("the last page asked %q, want only what the limit leaves", q)
	}

	page, err := c.Users.List(ctx, UserFilter{Search: "x"}, ListOptions{PageToken: "p2", PageSize: 2})
	if err != nil || page.NextPageToken != "p3" || len(page.Items) != 2 {
		t.Errorf("List: %+v %v", page, err)
	}
}

func TestPagingStopsOnARepeatedToken(t *testing.T) {
	t.Parallel()
	r := newRecorder(t, answer(200, `{"items":[{"name":"g"}],"next_page_token":"same"}`))
	_, err := mustNew(t, r.srv.URL).Groups.ListAll(context.Background(), ListOptions{PageToken: "same"})
	if err == nil || !strings.Contains(err.Error(), "same page token twice") {
		t.Errorf("error %v", err)
	}
}

func TestNewRejectsBadServers(t *testing.T) {
	t.Parallel()
	for _, server := range []string{"", "127.0.0.1:8420", "ftp://host", "http://", "http://u:p@host", "http://host/?x=1", "http://host/#f"} {
		if _, err := New(server); err == nil {
			t.Errorf("New(%q) accepted", server)
		} else if strings.Contains(err.Error(), "u:p") {
			t.Errorf("New(%q): the error quotes the credentials: %v", server, err)
		}
	}
	if _, err := New("http://u:p@host"); !errors.Is(err, ErrCredentialsInURL) {
		t.Errorf("credentials in the URL: %v", err)
	}
	for _, server := range []string{"http://127.0.0.1:8420", "https://id.example.com/gatehouse/"} {
		if _, err := New(server); err != nil {
			t.Errorf("New(%q): %v", server, err)
		}
	}
}

func TestPathPrefixAndEscaping(t *testing.T) {
	t.Parallel()
	r := newRecorder(t, answer(200, `{}`))
	c := mustNew(t, r.srv.URL+"/gatehouse/")
	if _, err := c.Users.Get(context.Background(), "a b/c"); err != nil {
		t.Fatal(err)
	}
	if p := r.requests()[0].Path; p != "/gatehouse/api/v1/users/a%20b%2Fc" {
		t.Errorf("path %q", p)
	}
}

func TestFromEnv(t *testing.T) {
	t.Parallel()
	r := newRecorder(t, answer(200, `{}`))
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		env      map[string]string
		wantAuth string
		wantErr  string
	}{
		{env: map[string]string{EnvServer: r.srv.URL, EnvAPIToken: "from-env"}, wantAuth: "Bearer from-env"},
		{env: map[string]string{EnvServer: r.srv.URL, EnvAPIToken + "_FILE": file}, wantAuth: "Bearer from-file"},
		{env: map[string]string{EnvServer: r.srv.URL, EnvAPIToken: "a", EnvAPIToken + "_FILE": file}, wantErr: "both set"},
		{env: map[string]string{EnvServer: "ftp://x"}, wantErr: EnvServer + " must be an http"},
	} {
		c, err := fromEnv(func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%v: error %v, want %q", tc.env, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Me(context.Background()); err != nil {
			t.Fatal(err)
		}
		reqs := r.requests()
		if got := reqs[len(reqs)-1].Authorization; got != tc.wantAuth {
			t.Errorf("%v: Authorization %q, want %q", tc.env, got, tc.wantAuth)
		}
	}
	c, err := fromEnv(func(string) (string, bool) { return "", false })
	if err != nil || c.Server() != DefaultServer {
		t.Errorf("without environment: %v %v", c, err)
	}
}

func TestTokenFromEnv(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file, empty := filepath.Join(dir, "token"), filepath.Join(dir, "empty")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		env       map[string]string
		want, err string
	}{
		{env: map[string]string{}, want: ""},
		{env: map[string]string{EnvAPIToken: "from-env"}, want: "from-env"},
		{env: map[string]string{EnvAPIToken + "_FILE": file}, want: "from-file"},
		{env: map[string]string{EnvAPIToken + "_FILE": empty}, err: "is empty"},
		{env: map[string]string{EnvAPIToken + "_FILE": filepath.Join(dir, "absent")}, err: EnvAPIToken + "_FILE"},
		{env: map[string]string{EnvAPIToken: "a", EnvAPIToken + "_FILE": file}, err: "both set"},
	} {
		got, err := tokenFromEnv(func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%v: error %v, want %q", tc.env, err, tc.err)
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("%v: %q %v, want %q", tc.env, got, err, tc.want)
		}
	}
}

func TestUnreachableServerNamesNoCredential(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	_, err := mustNew(t, srv.URL, WithBasicAuth("alice", "hunter2")).Me(context.Background())
	if err == nil || !strings.Contains(err.Error(), "cannot reach gatehouse at "+srv.URL) || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error %v", err)
	}
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	r := newRecorder(t, func(w http.ResponseWriter, _ *http.Request) { <-release })
	defer close(release)
	_, err := mustNew(t, r.srv.URL, WithTimeout(50*time.Millisecond)).Me(context.Background())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v, want a deadline", err)
	}
}

func TestDirectoryFeed(t *testing.T) {
	t.Parallel()
	r := newRecorder(t, func(w http.ResponseWriter, req *http.Request) {
		switch req.URL.Query().Get("since") {
		case "":
			io.WriteString(w, `{"cursor":"c1","provider":{"name":"corp","base_dn":"dc=example,dc=com"},"reset":true,
				"users":[{"uid":"u1","username":"alice","groups":["ops"]}],"groups":[{"uid":"g1","name":"ops","members":["alice"]}]}`)
		case "c1": // heartbeats, then the failure the stream reports
			w.WriteHeader(200)
			io.WriteString(w, " ")
			w.(http.Flusher).Flush()
			io.WriteString(w, `{"error":"the database went away"}`)
		case "silent":
			w.WriteHeader(200)
			w.(http.Flusher).Flush()
			<-req.Context().Done()
		}
	})
	c := mustNew(t, r.srv.URL, WithToken("outpost-key"))
	ctx := context.Background()
	f, err := c.LDAPDoor.DirectoryFeed(ctx, "corp", DirectoryFeedQuery{Idle: time.Second})
	if err != nil || f.Cursor != "c1" || !f.Reset || len(f.Users) != 1 || f.Users[0].Username != "alice" || f.Groups[0].Members[0] != "alice" {
		t.Fatalf("feed %+v, %v", f, err)
	}
	if _, err := c.LDAPDoor.DirectoryFeed(ctx, "corp", DirectoryFeedQuery{Since: "c1", Wait: time.Second, NoEntries: true}); err == nil ||
		!strings.Contains(err.Error(), "the database went away") {
		t.Errorf("a failed feed: %v", err)
	}
	if q := r.requests()[1].RawQuery; q != "entries=false&since=c1&wait=1s" {
		t.Errorf("query %q", q)
	}
	start := time.Now()
	if _, err := c.LDAPDoor.DirectoryFeed(ctx, "corp", DirectoryFeedQuery{Since: "silent", Idle: 100 * time.Millisecond}); err == nil {
		t.Error("a silent feed answered")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a silent feed took %v to give up", d)
	}
}

func TestLDAPDoorCalls(t *testing.T) {
	t.Parallel()
	r := newRecorder(t, func(w http.ResponseWriter, req *http.Request) {
		switch req.URL.Path {
		case "/api/v1/ldap-providers/corp/bind":
			io.WriteString(w, `{"outcome":"success","message":"","session":{"user_uid":"u1","binding":"k:abc"}}`)
		case "/api/v1/ldap-providers/corp/sessions":
			io.WriteString(w, `{"sessions":[{"valid":true}]}`)
		}
	})
	c := mustNew(t, r.srv.URL)
	ctx := context.Background()
	res, err := c.LDAPDoor.Bind(ctx, "corp", LDAPBindInput{Name: "cn=alice", Password: "pw", ClientIP: "10.0.0.1"})
	if err != nil || res.Outcome != LDAPBindSuccess || res.Session.Binding != "k:abc" {
		t.Fatalf("bind %+v %v", res, err)
	}
	states, err := c.LDAPDoor.CheckSessions(ctx, "corp", []LDAPSessionRef{{UserUID: "u1", Binding: "k:abc"}})
	if err != nil || len(states) != 1 || !states[0].Valid {
		t.Fatalf("sessions %+v %v", states, err)
	}
	if _, err := c.LDAPDoor.CheckSessions(ctx, "corp", []LDAPSessionRef{{}, {}}); err == nil {
		t.Error("an answer for fewer sessions than asked was taken")
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(r.requests()[1].Body), &body); err != nil || len(body["sessions"].([]any)) != 1 {
		t.Errorf("sessions body %s", r.requests()[1].Body)
	}
}

// Optional fields are sent only when set, so that a PATCH changes only
// what the caller named.
func TestPatchSendsOnlyWhatIsSet(t *testing.T) {
	t.Parallel()
	r := newRecorder(t, answer(200, `{}`))
	c := mustNew(t, r.srv.URL)
	ctx := context.Background()
	empty, no := "", false
	if _, err := c.Users.Update(ctx, "bob", UserUpdate{Email: &empty, IsActive: &no}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Roles.Update(ctx, "r", RoleUpdate{Permissions: &[]string{}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Applications.Update(ctx, "wiki", ApplicationInput{Slug: "ignored", URL: &empty}); err != nil {
		t.Fatal(err)
	}
	var bodies []string
	for _, req := range r.requests() {
		bodies = append(bodies, req.Body)
	}
	want := []string{`{"email":"","is_active":false}`, `{"permissions":[]}`, `{"url":""}`}
	if !reflect.DeepEqual(bodies, want) {
		t.Errorf("bodies %q, want %q", bodies, want)
	}
}
