package cli

import (
	"strings"
	"testing"
)

const (
	applicationJSON = `{"uid":"a-1","slug":"wiki","name":"Wiki","url":"https://wiki.example.org/","description":"docs",
		"policy_engine_mode":"any","bindings":[{"application":"wiki","kind":"group","name":"ops","order":-1,"negate":false},
		{"application":"wiki","kind":"user","name":"ci-bot","order":5,"negate":true}],"created_at":"2025-01-02T03:04:05Z"}`
	bindingJSON = `{"application":"wiki","kind":"user","name":"ci-bot","order":5,"negate":true}`
	brandJSON   = `{"title":"ACME","default_application":"wiki"}`
)

// TestApplicationRequests: each app and brand command sends the request
// the API documents.
func TestApplicationRequests(t *testing.T) {
	t.Parallel()
	testRequests(t, []requestCase{
		{name: "app list", inv: args("app", "list"), route: "GET /api/v1/applications", reply: reply{body: emptyList},
			query: map[string][]string{"page_size": {"500"}}},
		{name: "app list search", inv: args("apps", "ls", "--search", "wik"), route: "GET /api/v1/applications", reply: reply{body: emptyList},
			query: map[string][]string{"page_size": {"500"}, "search": {"wik"}}},
		{name: "app get", inv: args("app", "get", "wiki"), route: "GET /api/v1/applications/wiki", reply: reply{body: applicationJSON}},
		{
			name:  "app create with everything",
			inv:   args("app", "create", "wiki", "--name", "Wiki", "--url", "https://wiki.example.org/", "--description", "docs", "--mode", "all"),
			route: "POST /api/v1/applications", reply: reply{status: 201, body: applicationJSON},
			body: `{"slug":"wiki","name":"Wiki","url":"https://wiki.example.org/","description":"docs","policy_engine_mode":"all"}`,
		},
		{
			name:  "app create defaults",
			inv:   args("app", "create", "wiki", "--name", "Wiki"),
			route: "POST /api/v1/applications", reply: reply{status: 201, body: applicationJSON},
			body: `{"slug":"wiki","name":"Wiki","url":"","description":"","policy_engine_mode":"any"}`,
		},
		{
			name: "app update sends only given fields", inv: args("app", "update", "wiki", "--mode", "all", "--url", ""),
			route: "PATCH /api/v1/applications/wiki", reply: reply{body: applicationJSON}, body: `{"policy_engine_mode":"all","url":""}`,
		},
		{
			name: "app update name", inv: args("app", "update", "wiki", "--name", "The wiki"),
			route: "PATCH /api/v1/applications/wiki", reply: reply{body: applicationJSON}, body: `{"name":"The wiki"}`,
		},
		{name: "app delete", inv: args("app", "delete", "wiki"), route: "DELETE /api/v1/applications/wiki", reply: reply{status: 204}},
		{
			name: "app bind user", inv: args("app", "bind", "wiki", "--user", "ci-bot", "--order", "5", "--negate"),
			route: "PUT /api/v1/applications/wiki/bindings/users/ci-bot", reply: reply{body: bindingJSON}, body: `{"order":5,"negate":true}`,
		},
		{
			name: "app bind group defaults", inv: args("app", "bind", "wiki", "--group", "ops"),
			route: "PUT /api/v1/applications/wiki/bindings/groups/ops", reply: reply{body: bindingJSON}, body: `{"order":0,"negate":false}`,
		},
		{
			name: "app unbind user", inv: args("app", "unbind", "wiki", "--user", "ci-bot"),
			route: "DELETE /api/v1/applications/wiki/bindings/users/ci-bot", reply: reply{status: 204},
		},
		{
			name: "app unbind group", inv: args("app", "unbind", "wiki", "--group", "ops"),
			route: "DELETE /api/v1/applications/wiki/bindings/groups/ops", reply: reply{status: 204},
		},
		{name: "brand get", inv: args("brand", "get"), route: "GET /api/v1/brand", reply: reply{body: brandJSON}},
		{
			name: "brand set", inv: args("brand", "set", "--title", "ACME", "--default-application", "wiki"),
			route: "PATCH /api/v1/brand", reply: reply{body: brandJSON}, body: `{"title":"ACME","default_application":"wiki"}`,
		},
		{
			name: "brand clear default", inv: args("brand", "set", "--default-application", ""),
			route: "PATCH /api/v1/brand", reply: reply{body: brandJSON}, body: `{"default_application":""}`,
		},
	})
}

func TestApplicationUsageErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		args   []string
		stderr string
	}{
		{"create without name", []string{"app", "create", "wiki"}, `required flag(s) "name" not set`},
		{"bad mode", []string{"app", "create", "wiki", "--name", "W", "--mode", "some"}, "must be one of any, all"},
		{"update nothing", []string{"app", "update", "wiki"}, "nothing to change: give --name, --url, --description, --mode"},
		{"bind nobody", []string{"app", "bind", "wiki"}, "at least one of the flags in the group [user group]"},
		{"bind both", []string{"app", "bind", "wiki", "--user", "u", "--group", "g"}, "none of the others"},
		{"bad order", []string{"app", "bind", "wiki", "--user", "u", "--order", "first"}, "invalid argument"},
		{"unbind with negate", []string{"app", "unbind", "wiki", "--user", "u", "--negate"}, "unknown flag: --negate"},
		{"brand set nothing", []string{"brand", "set"}, "nothing to change: give --title, --default-application"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			refusedLocally(t, nil, invocation{args: tc.args}, ExitUsage, tc.stderr)
		})
	}
}

func TestApplicationTables(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t, map[string]reply{
		"GET /api/v1/applications/wiki":                       {body: applicationJSON},
		"GET /api/v1/applications":                            {body: items(`{"slug":"open","name":"Open","policy_engine_mode":"any","bindings":[],"url":"","created_at":"2025-01-02T03:04:05Z"}`)},
		"PUT /api/v1/applications/wiki/bindings/users/ci-bot": {body: bindingJSON},
		"GET /api/v1/brand":                                   {body: brandJSON},
	})
	res := run(t, f, args("app", "get", "wiki"))
	res.wantCode(t, ExitOK)
	for _, want := range []string{"SLUG", "BINDINGS", "wiki", "-1:group/ops,5:!user/ci-bot", "https://wiki.example.org/"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("app get table lacks %q:\n%s", want, res.stdout)
		}
	}
	res = run(t, f, args("app", "list"))
	if !strings.Contains(res.stdout, "(open to every active user)") {
		t.Errorf("an application without bindings should say it is open:\n%s", res.stdout)
	}
	res = run(t, f, args("app", "bind", "wiki", "--user", "ci-bot"))
	if !strings.Contains(res.stdout, "ci-bot") || !strings.Contains(res.stdout, "NEGATE") {
		t.Errorf("bind table:\n%s", res.stdout)
	}
	res = run(t, f, args("-o", "json", "brand", "get"))
	if !strings.Contains(res.stdout, `"default_application": "wiki"`) {
		t.Errorf("brand json:\n%s", res.stdout)
	}
}
