package cli

import (
	"net/url"
	"strings"
	"testing"
)

const (
	providerJSON = `{"uid":"p-1","name":"corp","base_dn":"dc=example,dc=com","search_group":"","bind_mode":"direct",
		"search_mode":"cached","upn_domain":"","outposts":[],"created_at":"2025-01-02T03:04:05Z"}`
	outpostJSON = `{"uid":"o-1","name":"rack1","description":"","provider":"corp","user":"outpost-rack1",
		"token":` + tokenJSON + `,"token_ttl":"720h0m0s","created_at":"2025-01-02T03:04:05Z"}`
	createdOutpostJSON = `{"outpost":` + outpostJSON + `,"token":` + keyTokenJSON + `}`
)

func TestLDAPRequests(t *testing.T) {
	t.Parallel()
	page := url.Values{"page_size": {"500"}}
	testRequests(t, []requestCase{
		{name: "provider list", inv: args("ldap-provider", "list"), route: "GET /api/v1/ldap-providers", reply: reply{body: emptyList}, query: page},
		{name: "provider get", inv: args("ldap-provider", "get", "corp"), route: "GET /api/v1/ldap-providers/corp", reply: reply{body: providerJSON}},
		{
			name: "provider create", inv: args("ldap-provider", "create", "corp", "--base-dn", "dc=example,dc=com"),
			route: "POST /api/v1/ldap-providers", reply: reply{status: 201, body: providerJSON},
			body: `{"name":"corp","base_dn":"dc=example,dc=com"}`,
		},
		{
			name: "provider create with everything",
			inv: args("ldap-provider", "create", "corp", "--base-dn", "dc=example,dc=com", "--search-group", "staff",
				"--bind-mode", "cached", "--search-mode", "direct", "--upn-domain", "example.com"),
			route: "POST /api/v1/ldap-providers", reply: reply{status: 201, body: providerJSON},
			body: `{"name":"corp","base_dn":"dc=example,dc=com","search_group":"staff","bind_mode":"cached","search_mode":"direct","upn_domain":"example.com"}`,
		},
		{
			name: "provider update", inv: args("ldap-provider", "update", "corp", "--search-group", ""),
			route: "PATCH /api/v1/ldap-providers/corp", reply: reply{body: providerJSON}, body: `{"search_group":""}`,
		},
		{name: "provider delete", inv: args("ldap-provider", "delete", "corp"), route: "DELETE /api/v1/ldap-providers/corp", reply: reply{status: 204}},
		{name: "outpost list", inv: args("outpost", "list"), route: "GET /api/v1/outposts", reply: reply{body: items(outpostJSON)}, query: page},
		{name: "outpost get", inv: args("outpost", "get", "rack1"), route: "GET /api/v1/outposts/rack1", reply: reply{body: outpostJSON}},
		{
			name: "outpost create", inv: args("outpost", "create", "rack1", "--provider", "corp", "--ttl", "48h"),
			route: "POST /api/v1/outposts", reply: reply{status: 201, body: createdOutpostJSON},
			body: `{"name":"rack1","provider":"corp","description":"","ttl":"48h"}`,
		},
		{
			name: "outpost rotate", inv: args("outpost", "rotate", "rack1", "--grace", "5m"),
			route: "POST /api/v1/outposts/rack1/rotate", reply: reply{body: createdOutpostJSON}, body: `{"grace":"5m"}`,
		},
		{name: "outpost delete", inv: args("outpost", "delete", "rack1"), route: "DELETE /api/v1/outposts/rack1", reply: reply{status: 204}},
	})
}

func TestOutpostKeyAlone(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t, map[string]reply{"POST /api/v1/outposts": {status: 201, body: createdOutpostJSON},
		"POST /api/v1/outposts/rack1/rotate": {body: createdOutpostJSON}})
	for _, inv := range [][]string{{"outpost", "create", "rack1", "--provider", "corp"}, {"outpost", "rotate", "rack1"}} {
		res := run(t, f, args(inv...))
		res.wantCode(t, ExitOK)
		if res.stdout != testKey+"\n" {
			t.Errorf("%v printed %q, want the key alone", inv, res.stdout)
		}
	}
	res := run(t, f, args("-o", "json", "outpost", "create", "rack1", "--provider", "corp"))
	if !strings.Contains(res.stdout, `"outpost"`) || !strings.Contains(res.stdout, testKey) {
		t.Errorf("-o json: %s", res.stdout)
	}
}

func TestLDAPUsageErrors(t *testing.T) {
	t.Parallel()
	for _, inv := range [][]string{
		{"ldap-provider", "create", "corp"},                                          // no --base-dn
		{"ldap-provider", "create", "corp", "--base-dn", "dc=x", "--bind-mode", "x"}, // not a mode
		{"ldap-provider", "update", "corp"},                                          // nothing to change
		{"outpost", "create", "rack1"},                                               // no --provider
		{"outpost", "create", "rack1", "--provider", "corp", "--ttl", "soon"},
	} {
		res := run(t, nil, args(inv...))
		if res.code != ExitUsage {
			t.Errorf("%v: exit %d, want %d\n%s", inv, res.code, ExitUsage, res.stderr)
		}
	}
}
