package cli

import (
	"strings"
	"testing"
)

// TestBareCommandListsCommands: gatehouse alone teaches: it prints the
// command list and succeeds.
func TestBareCommandListsCommands(t *testing.T) {
	t.Parallel()
	res := run(t, nil, invocation{})
	res.wantCode(t, ExitOK)
	for _, want := range []string{"Available Commands:", "whoami", "token", "completion"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("gatehouse alone does not show %q:\n%s", want, res.stdout)
		}
	}
}

// TestSuggestions: a mistyped command gets cobra's suggestion, at the top
// and below a group; it is still a usage error.
func TestSuggestions(t *testing.T) {
	t.Parallel()
	for args, want := range map[string]string{
		"tokn":     "unknown command \"tokn\" for \"gatehouse\"\n\nDid you mean this?\n\ttoken\n",
		"sa lsit":  "Did you mean this?\n\tlist\n",
		"whoamii":  "\twhoami\n",
		"frobnify": "unknown command \"frobnify\" for \"gatehouse\"\nRun 'gatehouse --help' for usage.",
	} {
		res := run(t, nil, invocation{args: strings.Fields(args)})
		res.wantCode(t, ExitUsage)
		if !strings.Contains(res.stderr, want) {
			t.Errorf("%s: stderr %q, want %q", args, res.stderr, want)
		}
	}
}

// TestCompletion: cobra's completion command is there for every shell the
// README names, and completes the commands.
func TestCompletion(t *testing.T) {
	t.Parallel()
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		res := run(t, nil, invocation{args: []string{"completion", shell}})
		res.wantCode(t, ExitOK)
		if !strings.Contains(res.stdout, "gatehouse") {
			t.Errorf("completion %s: %.200s", shell, res.stdout)
		}
	}
	res := run(t, nil, invocation{args: []string{"__complete", "tok"}})
	res.wantCode(t, ExitOK)
	if !strings.HasPrefix(res.stdout, "token\t") {
		t.Errorf("completing tok: %q", res.stdout)
	}
}

// TestClientFlagsAnywhere: the client flags work before and after the
// command name, now that they are the client commands' own.
func TestClientFlagsAnywhere(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t, map[string]reply{"GET /api/v1/me": {body: meJSON}})
	for _, args := range [][]string{
		{"--api-token", "tok", "-o", "json", "whoami"},
		{"whoami", "--api-token=tok", "-o", "json"},
		{"-o", "json", "whoami", "--api-token", "tok"},
	} {
		res := run(t, f, invocation{args: args})
		res.wantCode(t, ExitOK)
		if !strings.HasPrefix(strings.TrimSpace(res.stdout), "{") {
			t.Errorf("%v: -o json not applied: %s", args, res.stdout)
		}
	}
}
