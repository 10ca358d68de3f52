package cli

import (
	"net/url"
	"strings"
	"testing"
)

// TestRequests checks that each command sends the request the API contract
// asks for: method, path, query and JSON body.
func TestRequests(t *testing.T) {
	t.Parallel()
	page := url.Values{"page_size": {"500"}}
	withPage := func(kv ...string) url.Values {
		q := url.Values{"page_size": {"500"}}
		for i := 0; i < len(kv); i += 2 {
			q.Set(kv[i], kv[i+1])
		}
		return q
	}
	testRequests(t, []requestCase{
		{name: "whoami", inv: args("whoami"), route: "GET /api/v1/me", reply: reply{body: meJSON}},

		// Service accounts.
		{
			name: "sa create with everything",
			inv: args("sa", "create", "ci-bot", "--description", "CI", "--group", "deploy", "--group", "ops",
				"--role", "reader", "--create-group", "--token-intent", "api", "--ttl", "24h"),
			route: "POST /api/v1/service-accounts",
			reply: reply{status: 201, body: `{"user":` + serviceAccountJSON + `,"group":null,"token":` + keyTokenJSON + `}`},
			body: `{"username":"ci-bot","description":"CI","groups":["deploy","ops"],"roles":["reader"],
				"create_group":true,"token_intent":"api","expires_at":"2025-06-02T12:00:00Z"}`,
		},
		{
			name:  "sa create defaults",
			inv:   args("sa", "create", "ci-bot"),
			route: "POST /api/v1/service-accounts",
			reply: reply{status: 201, body: `{"user":` + serviceAccountJSON + `,"group":null,"token":` + keyTokenJSON + `}`},
			body: `{"username":"ci-bot","description":"","groups":[],"roles":[],"create_group":false,
				"token_intent":"app_password"}`,
		},
		{
			name:  "sa create without expiry",
			inv:   args("sa", "create", "ci-bot", "--no-expiry"),
			route: "POST /api/v1/service-accounts",
			reply: reply{status: 201, body: `{"user":` + serviceAccountJSON + `,"group":null,"token":` + keyTokenJSON + `}`},
			body: `{"username":"ci-bot","description":"","groups":[],"roles":[],"create_group":false,
				"token_intent":"app_password","expiring":false}`,
		},
		{
			name:  "sa create expiring at",
			inv:   args("sa", "create", "ci-bot", "--expires-at", "2030-01-02T03:04:05+01:00"),
			route: "POST /api/v1/service-accounts",
			reply: reply{status: 201, body: `{"user":` + serviceAccountJSON + `,"group":null,"token":` + keyTokenJSON + `}`},
			body: `{"username":"ci-bot","description":"","groups":[],"roles":[],"create_group":false,
				"token_intent":"app_password","expires_at":"2030-01-02T02:04:05Z"}`,
		},
		{
			name:  "sa create without credential",
			inv:   args("sa", "create", "ci-bot", "--token-intent", "none"),
			route: "POST /api/v1/service-accounts",
			reply: reply{status: 201, body: `{"user":` + serviceAccountJSON + `,"group":null,"token":null}`},
			body: `{"username":"ci-bot","description":"","groups":[],"roles":[],"create_group":false,
				"token_intent":"none"}`,
		},
		{name: "sa list", inv: args("sa", "list"), route: "GET /api/v1/service-accounts", reply: reply{body: emptyList}, query: page},
		{
			name: "sa list search", inv: args("sa", "ls", "--search", "ci"), route: "GET /api/v1/service-accounts",
			reply: reply{body: emptyList}, query: withPage("search", "ci"),
		},
		{name: "sa get", inv: args("sa", "get", "ci-bot"), route: "GET /api/v1/service-accounts/ci-bot", reply: reply{body: serviceAccountJSON}},
		{
			name: "sa disable", inv: args("sa", "disable", "ci-bot"), route: "PATCH /api/v1/service-accounts/ci-bot",
			reply: reply{body: serviceAccountJSON}, body: `{"is_active":false}`,
		},
		{
			name: "sa enable", inv: args("sa", "enable", "ci-bot"), route: "PATCH /api/v1/service-accounts/ci-bot",
			reply: reply{body: serviceAccountJSON}, body: `{"is_active":true}`,
		},
		{name: "sa delete", inv: args("sa", "delete", "ci-bot"), route: "DELETE /api/v1/service-accounts/ci-bot", reply: reply{status: 204}},

		// Tokens.
		{
			name: "token create with everything",
			inv: args("token", "create", "--user", "ci-bot", "--intent", "app_password", "--ttl", "720h",
				"--description", "deploys", "--identifier", "ci-deploy"),
			route: "POST /api/v1/tokens", reply: reply{status: 201, body: keyTokenJSON},
			body: `{"identifier":"ci-deploy","user":"ci-bot","intent":"app_password","description":"deploys","ttl":"720h"}`,
		},
		{
			name:  "token create in days",
			inv:   args("token", "create", "--ttl", "30d"),
			route: "POST /api/v1/tokens", reply: reply{status: 201, body: keyTokenJSON},
			body: `{"intent":"api","ttl":"30d"}`,
		},
		{
			name:  "token list in days",
			inv:   args("token", "list", "--expiring-within", "7d"),
			route: "GET /api/v1/tokens", reply: reply{body: `{"items":[]}`},
			query: withPage("expiring_within", "7d"),
		},
		{
			name: "token create least privilege",
			inv: args("token", "create", "--user", "ci-bot", "--permission", "applications.write@application/site",
				"--permission", "users.read", "--allow-cidr", "10.20.0.0/16", "--allow-cidr", "2001:db8::/48",
				"--application", "site", "--ldap-provider", "corp"),
			route: "POST /api/v1/tokens", reply: reply{status: 201, body: keyTokenJSON},
			body: `{"user":"ci-bot","intent":"api","permissions":["applications.write@application/site","users.read"],` +
				`"allowed_cidrs":["10.20.0.0/16","2001:db8::/48"],"applications":["site"],"ldap_providers":["corp"]}`,
		},
		{
			name:  "token create for an owner",
			inv:   args("token", "create", "--owner", "ci-bot"),
			route: "POST /api/v1/tokens", reply: reply{status: 201, body: keyTokenJSON},
			body: `{"user":"ci-bot","intent":"api"}`,
		},
		{
			name:  "token create proving identity only",
			inv:   args("token", "create", "--no-permissions"),
			route: "POST /api/v1/tokens", reply: reply{status: 201, body: keyTokenJSON},
			body: `{"intent":"api","permissions":[]}`,
		},
		{
			name:  "token create defaults",
			inv:   args("token", "create"),
			route: "POST /api/v1/tokens", reply: reply{status: 201, body: keyTokenJSON},
			body: `{"intent":"api"}`,
		},
		{
			name:  "token create extended",
			inv:   args("token", "create", "--extended", "--max-age", "168h"),
			route: "POST /api/v1/tokens", reply: reply{status: 201, body: keyTokenJSON},
			body: `{"intent":"api","extended":true,"max_age":"168h"}`,
		},
		{
			name:  "token create without expiry",
			inv:   args("token", "create", "--no-expiry"),
			route: "POST /api/v1/tokens", reply: reply{status: 201, body: keyTokenJSON},
			body: `{"intent":"api","expiring":false}`,
		},
		{
			name:  "token create expiring at",
			inv:   args("token", "create", "--expires-at", "2030-01-02T03:04:05Z"),
			route: "POST /api/v1/tokens", reply: reply{status: 201, body: keyTokenJSON},
			body: `{"intent":"api","expires_at":"2030-01-02T03:04:05Z"}`,
		},
		{
			name:  "token list filters",
			inv:   args("token", "list", "--user", "ci-bot", "--intent", "api", "--expiring-within", "168h"),
			route: "GET /api/v1/tokens", reply: reply{body: emptyList},
			query: withPage("user", "ci-bot", "intent", "api", "expiring_within", "168h"),
		},
		{name: "token get", inv: args("token", "get", "ci-bot-abcd1234"), route: "GET /api/v1/tokens/ci-bot-abcd1234", reply: reply{body: tokenJSON}},
		{
			name: "token rotate with grace", inv: args("token", "rotate", "ci-bot-abcd1234", "--grace", "1h"),
			route: "POST /api/v1/tokens/ci-bot-abcd1234/rotate", reply: reply{body: keyTokenJSON}, body: `{"grace":"1h"}`,
		},
		{
			name: "token rotate", inv: args("token", "rotate", "ci-bot-abcd1234"),
			route: "POST /api/v1/tokens/ci-bot-abcd1234/rotate", reply: reply{body: keyTokenJSON}, body: `{}`,
		},
		{name: "token revoke", inv: args("token", "revoke", "ci-bot-abcd1234"), route: "DELETE /api/v1/tokens/ci-bot-abcd1234", reply: reply{status: 204}},

		// Users.
		{
			name: "user list filters", inv: args("user", "list", "--type", "human", "--search", "ali"),
			route: "GET /api/v1/users", reply: reply{body: emptyList}, query: withPage("type", "human", "search", "ali"),
		},
		{name: "user get escapes the name", inv: args("user", "get", "a b/c"), route: "GET /api/v1/users/a%20b%2Fc", reply: reply{body: userJSON}},
		{
			name:  "user create",
			inv:   args("user", "create", "alice", "--name", "Alice Doe", "--email", "alice@example.com"),
			route: "POST /api/v1/users", reply: reply{status: 201, body: userJSON},
			body: `{"username":"alice","type":"human","name":"Alice Doe","email":"alice@example.com","description":""}`,
		},
		{
			name:  "user create with password",
			inv:   invocation{args: []string{"user", "create", "alice", "--password-stdin"}, stdin: "correct horse\r\nignored\n"},
			route: "POST /api/v1/users", reply: reply{status: 201, body: userJSON},
			body: `{"username":"alice","type":"human","name":"","email":"","description":"","password":"correct horse"}`,
		},
		{
			name: "user update sends only given fields", inv: args("user", "update", "alice", "--email", "a@example.com", "--description", ""),
			route: "PATCH /api/v1/users/alice", reply: reply{body: userJSON}, body: `{"email":"a@example.com","description":""}`,
		},
		{
			name: "user disable", inv: args("user", "disable", "alice"), route: "PATCH /api/v1/users/alice",
			reply: reply{body: userJSON}, body: `{"is_active":false}`,
		},
		{
			name: "user enable", inv: args("user", "enable", "alice"), route: "PATCH /api/v1/users/alice",
			reply: reply{body: userJSON}, body: `{"is_active":true}`,
		},
		{name: "user delete", inv: args("user", "delete", "alice"), route: "DELETE /api/v1/users/alice", reply: reply{status: 204}},
		{
			name:  "user set-password",
			inv:   invocation{args: []string{"user", "set-password", "alice"}, stdin: "s3cret pass\n"},
			route: "PUT /api/v1/users/alice/password", reply: reply{status: 204}, body: `{"password":"s3cret pass"}`,
		},
		{
			name: "user permissions", inv: args("user", "permissions", "alice"),
			route: "GET /api/v1/users/alice/permissions", reply: reply{body: `{"permissions":["events.read"]}`},
		},
		{
			name: "user permissions set", inv: args("user", "permissions", "alice", "--set", "events.read", "--set", "tokens.read"),
			route: "PUT /api/v1/users/alice/permissions", reply: reply{body: `{"permissions":["events.read","tokens.read"]}`},
			body: `{"permissions":["events.read","tokens.read"]}`,
		},
		{
			name: "user permissions clear", inv: args("user", "permissions", "alice", "--clear"),
			route: "PUT /api/v1/users/alice/permissions", reply: reply{body: `{"permissions":[]}`},
			body: `{"permissions":[]}`,
		},

		// Groups.
		{name: "group list", inv: args("group", "list"), route: "GET /api/v1/groups", reply: reply{body: emptyList}, query: page},
		{name: "group get", inv: args("group", "get", "ops"), route: "GET /api/v1/groups/ops", reply: reply{body: groupJSON}},
		{
			name: "group create", inv: args("group", "create", "ops", "--description", "Operators"),
			route: "POST /api/v1/groups", reply: reply{status: 201, body: groupJSON}, body: `{"name":"ops","description":"Operators"}`,
		},
		{
			name: "group update", inv: args("group", "update", "ops", "--description", "On call"),
			route: "PATCH /api/v1/groups/ops", reply: reply{body: groupJSON}, body: `{"description":"On call"}`,
		},
		{name: "group delete", inv: args("group", "delete", "ops"), route: "DELETE /api/v1/groups/ops", reply: reply{status: 204}},
		{name: "group add-member", inv: args("group", "add-member", "ops", "bob"), route: "PUT /api/v1/groups/ops/members/bob", reply: reply{status: 204}},
		{name: "group remove-member", inv: args("group", "remove-member", "ops", "bob"), route: "DELETE /api/v1/groups/ops/members/bob", reply: reply{status: 204}},

		// Roles.
		{name: "role list", inv: args("role", "list"), route: "GET /api/v1/roles", reply: reply{body: emptyList}, query: page},
		{name: "role get", inv: args("role", "get", "deployer"), route: "GET /api/v1/roles/deployer", reply: reply{body: roleJSON}},
		{
			name: "role create", inv: args("role", "create", "deployer", "--permission", "tokens.read", "--permission", "users.read"),
			route: "POST /api/v1/roles", reply: reply{status: 201, body: roleJSON},
			body: `{"name":"deployer","description":"","permissions":["tokens.read","users.read"]}`,
		},
		{
			name: "role create without permissions", inv: args("role", "create", "empty"),
			route: "POST /api/v1/roles", reply: reply{status: 201, body: roleJSON},
			body: `{"name":"empty","description":"","permissions":[]}`,
		},
		{
			name: "role update description keeps permissions", inv: args("role", "update", "deployer", "--description", "Deploys"),
			route: "PATCH /api/v1/roles/deployer", reply: reply{body: roleJSON}, body: `{"description":"Deploys"}`,
		},
		{
			name: "role update replaces permissions", inv: args("role", "update", "deployer", "--permission", "events.read"),
			route: "PATCH /api/v1/roles/deployer", reply: reply{body: roleJSON}, body: `{"permissions":["events.read"]}`,
		},
		{name: "role delete", inv: args("role", "delete", "deployer"), route: "DELETE /api/v1/roles/deployer", reply: reply{status: 204}},
		{
			name: "role assign user", inv: args("role", "assign", "deployer", "--user", "ci-bot"),
			route: "PUT /api/v1/roles/deployer/assignments/users/ci-bot", reply: reply{status: 204},
		},
		{
			name: "role assign group", inv: args("role", "assign", "deployer", "--group", "ops"),
			route: "PUT /api/v1/roles/deployer/assignments/groups/ops", reply: reply{status: 204},
		},
		{
			name: "role unassign user", inv: args("role", "unassign", "deployer", "--user", "ci-bot"),
			route: "DELETE /api/v1/roles/deployer/assignments/users/ci-bot", reply: reply{status: 204},
		},
		{
			name: "role unassign group", inv: args("role", "unassign", "deployer", "--group", "ops"),
			route: "DELETE /api/v1/roles/deployer/assignments/groups/ops", reply: reply{status: 204},
		},

		// Catalogue and audit log.
		{name: "permissions list", inv: args("permissions", "list"), route: "GET /api/v1/permissions", reply: reply{body: emptyList}, query: page},
		{
			name: "events list defaults to 50", inv: args("events", "list"), route: "GET /api/v1/events",
			reply: reply{body: emptyList}, query: url.Values{"page_size": {"50"}},
		},
		{
			name: "events list filters",
			inv: args("events", "list", "--action", "login_failed", "--actor", "bob", "--target", "alice",
				"--since", "24h", "--until", "2025-06-01T11:30:00+02:00", "--limit", "0"),
			route: "GET /api/v1/events", reply: reply{body: emptyList},
			query: withPage("action", "login_failed", "actor", "bob", "target", "alice",
				"since", "2025-05-31T12:00:00Z", "until", "2025-06-01T09:30:00Z"),
		},
	})
}

// TestNewKeyAlone checks that a created or rotated key is printed alone
// on standard output, and the whole answer with -o json.
func TestNewKeyAlone(t *testing.T) {
	t.Parallel()
	created := `{"user":` + serviceAccountJSON + `,"group":` + groupJSON + `,"token":` + keyTokenJSON + `}`
	routes := map[string]reply{
		"POST /api/v1/service-accounts":              {status: 201, body: created},
		"POST /api/v1/tokens":                        {status: 201, body: keyTokenJSON},
		"POST /api/v1/tokens/ci-bot-abcd1234/rotate": {body: keyTokenJSON},
		"POST /api/v1/tokens/no-key/rotate":          {body: tokenJSON},
	}
	tests := []struct {
		name string
		args []string
	}{
		{"sa create", []string{"sa", "create", "ci-bot", "--create-group"}},
		{"token create", []string{"token", "create", "--user", "ci-bot"}},
		{"token rotate", []string{"token", "rotate", "ci-bot-abcd1234", "--grace", "10m"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeAPI(t, routes)
			res := run(t, f, invocation{args: tc.args})
			res.wantCode(t, ExitOK)
			if res.stdout != testKey+"\n" {
				t.Errorf("stdout %q, want the key alone", res.stdout)
			}
			if !strings.Contains(res.stderr, "ci-bot-abcd1234") || strings.Contains(res.stderr, testKey) {
				t.Errorf("stderr should name the token but not hold its key: %q", res.stderr)
			}

			res = run(t, f, invocation{args: append([]string{"-o", "json"}, tc.args...)})
			res.wantCode(t, ExitOK)
			if !strings.Contains(res.stdout, `"key": "`+testKey+`"`) {
				t.Errorf("-o json should print the whole answer with its key:\n%s", res.stdout)
			}
			if res.stderr != "" {
				t.Errorf("-o json: stderr %q, want nothing", res.stderr)
			}
		})
	}

	t.Run("answer without key", func(t *testing.T) {
		t.Parallel()
		res := run(t, newFakeAPI(t, routes), args("token", "rotate", "no-key"))
		res.wantCode(t, ExitFailure)
		if res.stdout != "" || !strings.Contains(res.stderr, "holds no key") {
			t.Errorf("stdout %q stderr %q", res.stdout, res.stderr)
		}
	})

	t.Run("sa create without credential", func(t *testing.T) {
		t.Parallel()
		f := newFakeAPI(t, map[string]reply{
			"POST /api/v1/service-accounts": {status: 201, body: `{"user":` + serviceAccountJSON + `,"group":null,"token":null}`},
		})
		res := run(t, f, args("sa", "create", "ci-bot", "--token-intent", "none"))
		res.wantCode(t, ExitOK)
		if res.stdout != "" {
			t.Errorf("stdout %q, want nothing", res.stdout)
		}
		if !strings.Contains(res.stderr, `created service account "ci-bot"`) {
			t.Errorf("stderr %q should summarize the account", res.stderr)
		}
	})
}

// TestTokenCreateNamesItsOwner: a token made without --owner is the
// caller's, and standard error says so, naming the caller as the server
// answered; with an owner, or with -o json, no such line.
func TestTokenCreateNamesItsOwner(t *testing.T) {
	t.Parallel()
	mine := strings.Replace(keyTokenJSON, `"user":"ci-bot"`, `"user":"admin"`, 1)
	const line = "gatehouse: no --owner given: the token is for admin (you)\n"
	tests := []struct {
		name  string
		reply string
		args  []string
		want  bool
	}{
		{"no owner", mine, []string{"token", "create"}, true},
		{"no owner, app password", mine, []string{"token", "create", "--intent", "app_password"}, true},
		{"--owner", keyTokenJSON, []string{"token", "create", "--owner", "ci-bot"}, false},
		{"--user", keyTokenJSON, []string{"token", "create", "--user", "ci-bot"}, false},
		{"-o json", mine, []string{"-o", "json", "token", "create"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := run(t, newFakeAPI(t, map[string]reply{"POST /api/v1/tokens": {status: 201, body: tc.reply}}), args(tc.args...))
			res.wantCode(t, ExitOK)
			if got := strings.Contains(res.stderr, line); got != tc.want {
				t.Errorf("stderr %q: names the caller as owner %v, want %v", res.stderr, got, tc.want)
			}
			if strings.Contains(res.stdout, "no --owner") {
				t.Errorf("the note is on standard output: %q", res.stdout)
			}
		})
	}
}
