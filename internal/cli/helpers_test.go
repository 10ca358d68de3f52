package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// testNow is the client's clock in tests.
var testNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// reply is a canned answer of the fake API.
type reply struct {
	status int // 0: 200
	body   string
}

// request is what the fake API received.
type request struct {
	Method, Path, RawQuery string
	Authorization          string
	UserAgent, ContentType string
	Body                   string
}

func (r request) query(t *testing.T) url.Values {
	t.Helper()
	q, err := url.ParseQuery(r.RawQuery)
	if err != nil {
		t.Fatalf("query %q: %v", r.RawQuery, err)
	}
	return q
}

// fakeAPI is an httptest server answering like the API: routes are keyed
// by "METHOD /api/v1/path", or "METHOD /api/v1/path?page_token=T" for a
// later page. Unknown routes get a problem+json 404.
type fakeAPI struct {
	srv    *httptest.Server
	routes map[string]reply

	mu   sync.Mutex
	reqs []request
}

func newFakeAPI(t *testing.T, routes map[string]reply) *fakeAPI {
	t.Helper()
	f := &fakeAPI{routes: routes}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.reqs = append(f.reqs, request{
		Method: r.Method, Path: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery,
		Authorization: r.Header.Get("Authorization"), UserAgent: r.UserAgent(),
		ContentType: r.Header.Get("Content-Type"), Body: string(body),
	})
	f.mu.Unlock()

	key := r.Method + " " + r.URL.EscapedPath()
	if tok := r.URL.Query().Get("page_token"); tok != "" {
		key += "?page_token=" + tok
	}
	rep, ok := f.routes[key]
	if !ok {
		rep = reply{status: http.StatusNotFound, body: `{"type":"about:blank","title":"Not Found","status":404,"detail":"no route ` + key + `"}`}
	}
	status := rep.status
	if status == 0 {
		status = http.StatusOK
	}
	if status >= 400 {
		w.Header().Set("Content-Type", "application/problem+json")
	} else if rep.body != "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(status)
	io.WriteString(w, rep.body)
}

func (f *fakeAPI) requests() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.reqs...)
}

// only returns the one request the fake API received.
func (f *fakeAPI) only(t *testing.T) request {
	t.Helper()
	reqs := f.requests()
	if len(reqs) != 1 {
		t.Fatalf("got %d requests, want 1: %+v", len(reqs), reqs)
	}
	return reqs[0]
}

// invocation is one run of the command line.
type invocation struct {
	args  []string
	env   map[string]string // GATEHOUSE_SERVER defaults to the fake API
	stdin string
}

type result struct {
	stdout, stderr string
	code           int
}

// run runs the command line against f (nil: no server) with an
// environment of its own, so that tests can run in parallel.
func run(t *testing.T, f *fakeAPI, inv invocation) result {
	t.Helper()
	env := map[string]string{}
	if f != nil {
		env[EnvServer] = f.srv.URL
	}
	for k, v := range inv.env {
		env[k] = v
	}
	var stdout, stderr bytes.Buffer
	root := newRoot(options{
		stdout: &stdout, stderr: &stderr, stdin: strings.NewReader(inv.stdin),
		lookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		now:       func() time.Time { return testNow },
	})
	root.SetArgs(inv.args)
	code := Execute(root)
	return result{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

// runEnv runs the command line a against the server env names.
func runEnv(t *testing.T, env map[string]string, a ...string) result {
	t.Helper()
	return run(t, nil, invocation{args: a, env: env})
}

func args(a ...string) invocation { return invocation{args: a} }

func (r result) wantCode(t *testing.T, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit code %d, want %d\nstdout: %s\nstderr: %s", r.code, code, r.stdout, r.stderr)
	}
}

// refusedLocally runs inv against a fake API with routes and checks
// that it ended with code and a stderr holding stderr before sending
// any request.
func refusedLocally(t *testing.T, routes map[string]reply, inv invocation, code int, stderr string) {
	t.Helper()
	f := newFakeAPI(t, routes)
	res := run(t, f, inv)
	res.wantCode(t, code)
	if !strings.Contains(res.stderr, stderr) {
		t.Errorf("stderr %q, want it to hold %q", res.stderr, stderr)
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("%d requests sent, want none", n)
	}
}

// sameJSON reports whether two JSON texts hold the same value.
func sameJSON(t *testing.T, got, want string) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad wanted JSON: %v\n%s", err, want)
	}
	return reflect.DeepEqual(g, w)
}

// Answers in the shape of the API.

const (
	userJSON = `{"uid":"u-1","username":"alice","type":"human","name":"Alice Doe","email":"alice@example.com",
		"description":"","is_active":true,"managed":false,"groups":["ops"],"roles":["admin"],
		"created_at":"2025-01-02T03:04:05Z","last_login_at":null,"has_password":true}`
	serviceAccountJSON = `{"uid":"u-2","username":"ci-bot","type":"service_account","name":"","email":"",
		"description":"CI","is_active":true,"managed":false,"groups":["ci-bot"],"roles":[],
		"created_at":"2025-06-01T12:00:00Z","last_login_at":null}`
	tokenJSON = `{"identifier":"ci-bot-abcd1234","user":"ci-bot","intent":"api","description":"",
		"expiring":true,"expires_at":"2025-07-01T12:00:00Z","expired":false,"extended":false,"max_age":null,
		"created_at":"2025-06-01T12:00:00Z","created_by":"admin","last_used_at":null,"managed":false}`
	testKey      = "gat_3kTf9xQ2mZ7pL0aB4cD8eF1gH5iJ6kL9mN2oP"
	keyTokenJSON = `{"identifier":"ci-bot-abcd1234","user":"ci-bot","intent":"api","description":"",
		"expiring":true,"expires_at":"2025-07-01T12:00:00Z","expired":false,"extended":false,"max_age":null,
		"created_at":"2025-06-01T12:00:00Z","created_by":"admin","last_used_at":null,"managed":false,
		"key":"` + testKey + `"}`
	groupJSON = `{"uid":"g-1","name":"ops","description":"Operators","members":["alice","bob"],"roles":["admin"],
		"created_at":"2025-01-02T03:04:05Z"}`
	roleJSON = `{"uid":"r-1","name":"deployer","description":"","builtin":false,
		"permissions":["tokens.read","users.read"],"created_at":"2025-01-02T03:04:05Z"}`
	meJSON = `{"uid":"u-1","username":"alice","type":"human","is_active":true,"groups":["ops"],
		"roles":["admin"],"permissions":["users.read","users.write"]}`
	eventJSON = `{"id":7,"time":"2025-06-01T11:00:00Z","action":"token_created","outcome":"success",
		"actor":{"username":"admin","type":"human"},"client_ip":"10.0.0.1",
		"target":{"kind":"token","name":"ci-bot-abcd1234"},"context":{"intent":"api","user":"ci-bot"}}`
	emptyList = `{"items":[],"next_page_token":""}`
)

func items(objs ...string) string {
	return `{"items":[` + strings.Join(objs, ",") + `],"next_page_token":""}`
}

// requestCase is a command and the one request it must send: route, with
// query and body, answered with reply.
type requestCase struct {
	name  string
	inv   invocation
	route string // METHOD /api/v1/path the command must call
	reply reply
	query url.Values // nil: no query
	body  string     // "": no body
}

// testRequests runs each case's command against a fake API: it succeeds,
// having sent exactly its request, as the CLI sends every request (JSON,
// named by its User-Agent).
func testRequests(t *testing.T, tests []requestCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeAPI(t, map[string]reply{tc.route: tc.reply})
			res := run(t, f, tc.inv)
			res.wantCode(t, ExitOK)
			req := f.only(t)
			if got := req.Method + " " + req.Path; got != tc.route {
				t.Errorf("request %s, want %s", got, tc.route)
			}
			if q := req.query(t); !(len(q) == 0 && len(tc.query) == 0) && !reflect.DeepEqual(q, tc.query) {
				t.Errorf("query %v, want %v", q, tc.query)
			}
			switch {
			case tc.body == "" && req.Body != "":
				t.Errorf("body %s, want none", req.Body)
			case tc.body != "" && !sameJSON(t, req.Body, tc.body):
				t.Errorf("body %s\nwant %s", req.Body, tc.body)
			}
			if tc.body != "" && req.ContentType != "application/json" {
				t.Errorf("Content-Type %q, want application/json", req.ContentType)
			}
			if req.UserAgent != "gatehouse-cli" {
				t.Errorf("User-Agent %q, want gatehouse-cli", req.UserAgent)
			}
		})
	}
}
