package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/client"
)

func TestPagination(t *testing.T) {
	t.Parallel()
	u := func(name string) string { return `{"username":"` + name + `","type":"human","is_active":true}` }
	routes := map[string]reply{
		"GET /api/v1/users":               {body: `{"items":[` + u("a") + `,` + u("b") + `],"next_page_token":"p2"}`},
		"GET /api/v1/users?page_token=p2": {body: `{"items":[` + u("c") + `,` + u("d") + `],"next_page_token":"p3"}`},
		"GET /api/v1/users?page_token=p3": {body: `{"items":[` + u("e") + `],"next_page_token":""}`},
	}
	tests := []struct {
		name       string
		args       []string
		want       []string // usernames printed
		pageTokens []string // page_token of each request
		pageSizes  []string
	}{
		{
			name: "follows next_page_token to the end", args: []string{"user", "list"},
			want: []string{"a", "b", "c", "d", "e"}, pageTokens: []string{"", "p2", "p3"}, pageSizes: []string{"500", "500", "500"},
		},
		{
			name: "limit stops early", args: []string{"user", "list", "--limit", "3"},
			want: []string{"a", "b", "c"}, pageTokens: []string{"", "p2"}, pageSizes: []string{"3", "1"},
		},
		{
			name: "limit within the first page", args: []string{"user", "list", "--limit", "1"},
			want: []string{"a"}, pageTokens: []string{""}, pageSizes: []string{"1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeAPI(t, routes)
			res := run(t, f, invocation{args: append([]string{"-o", "json"}, tc.args...)})
			res.wantCode(t, ExitOK)
			var got []client.User
			if err := json.Unmarshal([]byte(res.stdout), &got); err != nil {
				t.Fatalf("-o json of a list must be an array of items: %v\n%s", err, res.stdout)
			}
			var names []string
			for _, u := range got {
				names = append(names, u.Username)
			}
			if strings.Join(names, ",") != strings.Join(tc.want, ",") {
				t.Errorf("got %v, want %v", names, tc.want)
			}
			var tokens, sizes []string
			for _, r := range f.requests() {
				q := r.query(t)
				tokens, sizes = append(tokens, q.Get("page_token")), append(sizes, q.Get("page_size"))
			}
			if strings.Join(tokens, ",") != strings.Join(tc.pageTokens, ",") || strings.Join(sizes, ",") != strings.Join(tc.pageSizes, ",") {
				t.Errorf("page tokens %q sizes %q, want %q %q", tokens, sizes, tc.pageTokens, tc.pageSizes)
			}
		})
	}

	t.Run("a repeated page token is an error, not a loop", func(t *testing.T) {
		t.Parallel()
		f := newFakeAPI(t, map[string]reply{
			"GET /api/v1/groups":                 {body: `{"items":[],"next_page_token":"same"}`},
			"GET /api/v1/groups?page_token=same": {body: `{"items":[],"next_page_token":"same"}`},
		})
		res := run(t, f, args("group", "list"))
		res.wantCode(t, ExitFailure)
		if len(f.requests()) != 2 {
			t.Errorf("%d requests, want 2", len(f.requests()))
		}
	})
}

func TestJSONOutput(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t, map[string]reply{
		"GET /api/v1/users":                  {body: items(userJSON)},
		"GET /api/v1/groups":                 {body: emptyList},
		"GET /api/v1/users/alice":            {body: `{"username":"alice","future_field":{"kept":true}}`},
		"DELETE /api/v1/groups/ops":          {status: 204},
		"PUT /api/v1/groups/ops/members/bob": {body: groupJSON},
	})
	tests := []struct {
		name   string
		args   []string
		stdout string // JSON, or "" for no output
	}{
		{"list is an array of items", []string{"user", "list"}, "[" + userJSON + "]"},
		{"empty list is an empty array", []string{"group", "list"}, "[]"},
		{"get is the object, unknown fields kept", []string{"user", "get", "alice"}, `{"username":"alice","future_field":{"kept":true}}`},
		{"delete prints nothing", []string{"group", "delete", "ops"}, ""},
		{"add-member prints nothing", []string{"group", "add-member", "ops", "bob"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := run(t, f, invocation{args: append([]string{"--output=json"}, tc.args...)})
			res.wantCode(t, ExitOK)
			if res.stderr != "" {
				t.Errorf("stderr %q, want nothing", res.stderr)
			}
			if tc.stdout == "" {
				if res.stdout != "" {
					t.Errorf("stdout %q, want nothing", res.stdout)
				}
				return
			}
			if !sameJSON(t, res.stdout, tc.stdout) {
				t.Errorf("stdout %s\nwant %s", res.stdout, tc.stdout)
			}
			if !strings.HasPrefix(res.stdout, "[]") && !strings.Contains(res.stdout, "\n  ") {
				t.Errorf("JSON should be indented:\n%s", res.stdout)
			}
		})
	}
}

func TestTableOutput(t *testing.T) {
	t.Parallel()
	neverToken := `{"identifier":"deploy","user":"ci-bot","intent":"app_password","expiring":false,"expires_at":null,
		"expired":false,"extended":true,"created_at":"2025-06-01T12:00:00Z","created_by":"admin",
		"last_used_at":"2025-06-01T13:00:00.123Z","description":"two words\tand a tab"}`
	f := newFakeAPI(t, map[string]reply{
		"GET /api/v1/users":                   {body: items(userJSON)},
		"GET /api/v1/tokens":                  {body: items(tokenJSON, neverToken)},
		"GET /api/v1/me":                      {body: meJSON},
		"GET /api/v1/events":                  {body: items(eventJSON)},
		"GET /api/v1/users/alice/permissions": {body: `{"permissions":["events.read","tokens.read"]}`},
		"DELETE /api/v1/tokens/deploy":        {status: 204},
	})
	tests := []struct {
		name   string
		args   []string
		stdout string
		stderr string
	}{
		{
			name: "users", args: []string{"user", "list"},
			stdout: "" +
				"USERNAME  TYPE   ACTIVE  NAME       EMAIL              GROUPS  ROLES  LAST_LOGIN  CREATED               DESCRIPTION\n" +
				"alice     human  yes     Alice Doe  alice@example.com  ops     admin  -           2025-01-02T03:04:05Z  -\n",
		},
		{
			name: "tokens: never, yes/no, null times, one line per row", args: []string{"token", "list"},
			stdout: "" +
				"IDENTIFIER       USER    INTENT        EXPIRES               EXPIRED  EXTENDED  LAST_USED             CREATED               CREATED_BY  DESCRIPTION\n" +
				"ci-bot-abcd1234  ci-bot  api           2025-07-01T12:00:00Z  no       no        -                     2025-06-01T12:00:00Z  admin       -\n" +
				"deploy           ci-bot  app_password  never                 no       yes       2025-06-01T13:00:00Z  2025-06-01T12:00:00Z  admin       two words and a tab\n",
		},
		{
			name: "whoami", args: []string{"whoami"},
			stdout: "" +
				"USERNAME  TYPE   ACTIVE  GROUPS  ROLES  PERMISSIONS\n" +
				"alice     human  yes     ops     admin  users.read,users.write\n",
		},
		{
			name: "events", args: []string{"events", "list"},
			stdout: "" +
				"ID  TIME                  ACTION         OUTCOME  ACTOR  TARGET                 CLIENT_IP  CONTEXT\n" +
				"7   2025-06-01T11:00:00Z  token_created  success  admin  token/ci-bot-abcd1234  10.0.0.1   intent=api user=ci-bot\n",
		},
		{
			name: "direct permissions, one per row", args: []string{"user", "permissions", "alice"},
			stdout: "PERMISSION\nevents.read\ntokens.read\n",
		},
		{
			name: "revoke confirms on stderr", args: []string{"token", "revoke", "deploy"},
			stderr: "revoked token \"deploy\"\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := run(t, f, invocation{args: tc.args})
			res.wantCode(t, ExitOK)
			if res.stdout != tc.stdout {
				t.Errorf("stdout:\n%s\nwant:\n%s", res.stdout, tc.stdout)
			}
			if res.stderr != tc.stderr {
				t.Errorf("stderr %q, want %q", res.stderr, tc.stderr)
			}
		})
	}
}
