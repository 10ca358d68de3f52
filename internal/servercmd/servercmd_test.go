package servercmd

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/cli"
	"github.com/gatehouse/gatehouse/internal/config"
)

// runTree runs a command line in the binary's command tree as main builds
// it, with an environment of its own.
func runTree(args []string, env map[string]string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	root := cli.NewRoot(&out, &errOut, strings.NewReader(""))
	root.AddCommand(commands(&out, &errOut, func(k string) (string, bool) { v, ok := env[k]; return v, ok })...)
	root.SetArgs(args)
	code = cli.Execute(root)
	return code, out.String(), errOut.String()
}

// TestServeHelp: serve --help shows every setting's flag with its default
// and variable, the environment-only settings, and no client flag.
func TestServeHelp(t *testing.T) {
	t.Parallel()
	for _, cmd := range []string{"serve", "migrate"} {
		code, help, _ := runTree([]string{cmd, "--help"}, nil)
		if code != cli.ExitOK {
			t.Fatalf("%s --help: exit %d", cmd, code)
		}
		for _, s := range config.Settings {
			want := []string{s.Env}
			if s.Flag != "" {
				flag := "--" + s.Flag + " " + s.Type
				if s.Type == "bool" {
					flag = "--" + s.Flag + " " // pflag names no type for a switch
				}
				want = append(want, flag, "default: "+strings.ReplaceAll(s.DefaultText(), "`", "")+"; env: "+s.Env)
			}
			for _, w := range want {
				if !strings.Contains(help, w) {
					t.Errorf("%s --help does not show %q:\n%s", cmd, w, help)
				}
			}
		}
		for _, client := range []string{"--server", "--api-token", "--user", "--output", "Global Flags"} {
			if strings.Contains(help, client) {
				t.Errorf("%s --help shows the client's %s:\n%s", cmd, client, help)
			}
		}
	}
}

// TestServeErrorsNameTheirSource: through the command line, a bad setting
// is named as the flag when a flag was used and as the variable when a
// variable was; nothing starts.
func TestServeErrorsNameTheirSource(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args      []string
		env       map[string]string
		want, not string
	}{
		{[]string{"serve", "--listen", "nope"}, nil, `--listen: "nope" is not host:port`, "GATEHOUSE_LISTEN"},
		{[]string{"serve"}, map[string]string{"GATEHOUSE_LISTEN": "nope"}, `GATEHOUSE_LISTEN: "nope" is not host:port`, "--listen"},
		{[]string{"serve", "--event-retention=1y"}, nil, `--event-retention: "1y" is not a duration such as 90s, 720h or 30d`, "GATEHOUSE_EVENT_RETENTION"},
		{[]string{"migrate", "--database", "mysql://x"}, nil, "--database: must be sqlite:PATH or a postgres:// URL", "GATEHOUSE_DATABASE"},
		{[]string{"serve"}, map[string]string{"GATEHOUSE_TOKEN_MAX_TTL": "30days", "GATEHOUSE_CLIENT_BURST": "0"},
			`GATEHOUSE_TOKEN_MAX_TTL: "30days"`, "--token-max-ttl"},
	} {
		code, _, stderr := runTree(tc.args, tc.env)
		if code == cli.ExitOK || !strings.Contains(stderr, tc.want) || strings.Contains(stderr, tc.not) {
			t.Errorf("%v %v: exit %d\n%s\nwant %q, not %q", tc.args, tc.env, code, stderr, tc.want, tc.not)
		}
	}
}

// TestClientFlagsAreNotServerFlags: serve refuses the client's flags
// rather than ignoring them.
func TestClientFlagsAreNotServerFlags(t *testing.T) {
	t.Parallel()
	code, _, stderr := runTree([]string{"serve", "--api-token", "x"}, nil)
	if code != cli.ExitUsage || !strings.Contains(stderr, "unknown flag: --api-token") {
		t.Fatalf("serve --api-token: exit %d\n%s", code, stderr)
	}
}
