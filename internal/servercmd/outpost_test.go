package servercmd

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/cli"
)

// The outpost's command line, in the binary's command tree as main builds
// it: bad settings are usage errors (exit 2) found before anything starts.
func TestLDAPUsageErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"ldap", "--api-token", "gat_x"}, nil, "--provider (or GATEHOUSE_LDAP_PROVIDER) is required"},
		{[]string{"ldap", "--provider", "corp"}, nil, "the outpost's token is required"},
		{[]string{"ldap", "--provider", "corp", "--api-token", "gat_x", "--tls-cert", "c.pem"}, nil, "give both --tls-cert and --tls-key"},
		{[]string{"ldap", "--api-token", "gat_x"}, map[string]string{"GATEHOUSE_LDAP_TLS_KEY": "k.pem", "GATEHOUSE_LDAP_PROVIDER": "corp"}, "give both --tls-cert and --tls-key"},
		{[]string{"ldap", "--provider", "corp", "extra"}, nil, "unknown command"},
	} {
		var stdout, stderr bytes.Buffer
		root := cli.NewRoot(&stdout, &stderr, strings.NewReader(""))
		root.AddCommand(commands(&stdout, &stderr, func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })...)
		root.SetArgs(tc.args)
		if code := cli.Execute(root); code != cli.ExitUsage || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, want %d with %q\n%s", tc.args, code, cli.ExitUsage, tc.want, stderr.String())
		}
	}
}
