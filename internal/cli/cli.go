// Package cli is gatehouse's command-line client: the commands that manage
// a gatehouse server through its HTTP API (/api/v1).
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gatehouse/gatehouse/client"
)

// Settings of the client: flag names and the environment variables behind
// them. Every secret also reads NAME_FILE (a file holding it).
const (
	DefaultServer = client.DefaultServer
	EnvServer     = client.EnvServer
	EnvAPIToken   = client.EnvAPIToken
	EnvUser       = "GATEHOUSE_USER"

	flagServer   = "server"
	flagAPIToken = "api-token"
	flagUser     = "user"
)

// Exit codes of Execute.
const (
	ExitOK      = 0 // done
	ExitFailure = 1 // the server refused, or could not be reached
	ExitUsage   = 2 // bad command line
)

// options is what a command tree needs from its process.
type options struct {
	stdout, stderr io.Writer
	stdin          io.Reader
	lookupEnv      func(string) (string, bool)
	now            func() time.Time
}

// app is one command tree: its process options and global flags.
type app struct {
	options
	// global holds the client flags (--server, --api-token, --user, -o),
	// shared by every client command. They are not the root's persistent
	// flags, so the server commands' help lists only server flags.
	// Settings are read from this set, not from the running command's
	// flags, because token create, token list and role assign have their
	// own --user (a subject, not a login) that shadows the global one.
	global *pflag.FlagSet
	output *enumValue
}

// NewRoot returns the gatehouse root command with the global flags and
// every client command. The server-side commands are added by main.
func NewRoot(stdout, stderr io.Writer, stdin io.Reader) *cobra.Command {
	return newRoot(options{stdout: stdout, stderr: stderr, stdin: stdin, lookupEnv: os.LookupEnv, now: time.Now})
}

func newRoot(o options) *cobra.Command {
	a := &app{options: o, output: newEnum("table", "table", "json")}
	root := &cobra.Command{
		Use:   "gatehouse",
		Short: "Identity server for machine identities",
		Long: `gatehouse is an identity server for machine identities: service accounts,
API tokens and app passwords, groups and roles.

The client commands talk to a gatehouse server over its HTTP API. Give the
server with --server or GATEHOUSE_SERVER, and credentials with --api-token
(or GATEHOUSE_API_TOKEN, GATEHOUSE_API_TOKEN_FILE) or with --user
USERNAME:PASSWORD (or GATEHOUSE_USER, GATEHOUSE_USER_FILE). Flags win over
the environment.

Exit codes: 0 done, 1 the server refused or could not be reached, 2 usage error.`,
		Args: knownCommand,
		// Bare gatehouse lists the commands: the first thing a newcomer
		// types should teach, not scold.
		RunE:          func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
		SilenceErrors: true, // Execute reports errors and chooses the exit code
		SilenceUsage:  true,
	}
	root.SetOut(o.stdout)
	root.SetErr(o.stderr)
	root.SetIn(o.stdin)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })

	fs := pflag.NewFlagSet("client", pflag.ContinueOnError)
	fs.String(flagServer, DefaultServer, "gatehouse server URL (env "+EnvServer+")")
	fs.String(flagAPIToken, "", "API token (env "+EnvAPIToken+" or "+EnvAPIToken+"_FILE)")
	fs.String(flagUser, "", "log in as `USERNAME:PASSWORD` with a human user's password (env "+EnvUser+" or "+EnvUser+"_FILE)")
	fs.VarP(a.output, "output", "o", "output format")
	a.global = fs

	clientCmds := []*cobra.Command{
		a.whoamiCmd(),
		a.serviceAccountCmd(),
		a.tokenCmd(),
		a.userCmd(),
		a.groupCmd(),
		a.roleCmd(),
		a.permissionsCmd(),
		a.eventsCmd(),
		a.ldapProviderCmd(),
		a.outpostCmd(),
		a.applicationCmd(),
		a.brandCmd(),
		a.oidcIssuerCmd(),
		a.trustPolicyCmd(),
	}
	for _, c := range clientCmds {
		// The same *pflag.Flag values in every command: whichever command
		// parses --server, a.global sees it.
		c.PersistentFlags().AddFlagSet(fs)
	}
	root.AddCommand(clientCmds...)
	return root
}

// Execute runs root and returns the process exit code, having reported any
// error on root's standard error.
func Execute(root *cobra.Command) int {
	cmd, err := root.ExecuteC()
	if err == nil {
		return ExitOK
	}
	w := root.ErrOrStderr()
	if cmd == nil {
		cmd = root
	}
	if isUsage(cmd, err) {
		fmt.Fprintf(w, "error: %v\nRun '%s --help' for usage.\n", err, cmd.CommandPath())
		return ExitUsage
	}
	fmt.Fprintf(w, "error: %v\n", err)
	var apiErr *client.Error
	if errors.As(err, &apiErr) {
		for _, f := range apiErr.Errors {
			fmt.Fprintf(w, "  %s: %s\n", f.Field, f.Message)
		}
	}
	return ExitFailure
}

// usageError marks an error of the command line.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// Usagef makes an error of the command line, which Execute reports with
// exit code 2, for the commands main adds.
func Usagef(format string, args ...any) error { return usagef(format, args...) }

// isUsage tells whether err is a usage error. Cobra reports bad arguments
// and flag groups (mutually exclusive, required together) as plain errors,
// found before the command runs; for those, the command's own validation
// fails again. That also covers commands that main adds.
func isUsage(cmd *cobra.Command, err error) bool {
	var u usageError
	return errors.As(err, &u) ||
		cmd.ValidateArgs(cmd.Flags().Args()) != nil ||
		cmd.ValidateRequiredFlags() != nil ||
		cmd.ValidateFlagGroups() != nil
}

// knownCommand refuses arguments to a command that only holds others,
// suggesting the nearest subcommand as cobra does when Args is unset
// (cobra.NoArgs suggests nothing).
func knownCommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra's own default, set only on its own path
	}
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 && !cmd.DisableSuggestions {
		msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t")
	}
	return errors.New(msg)
}

func missingCommand(cmd *cobra.Command, _ []string) error {
	return usagef("%s needs a command", cmd.CommandPath())
}

// group returns a command that only holds subcommands.
func group(use, short string, subs ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{Use: use, Short: short, Args: knownCommand, RunE: missingCommand}
	c.AddCommand(subs...)
	return c
}

// userAgent names the CLI in the server's access log.
const userAgent = "gatehouse-cli"

// session is what a client command runs with.
type session struct {
	api    *client.Client
	out    io.Writer // data: tables, JSON, keys
	errOut io.Writer // messages for people
	json   bool
}

type runFunc func(ctx context.Context, s *session, args []string) error

// leaf makes c run fn once its flags and arguments are valid, with a client
// built from the global settings.
func (a *app) leaf(c *cobra.Command, fn runFunc) *cobra.Command {
	c.RunE = func(cmd *cobra.Command, args []string) error {
		s, err := a.session()
		if err != nil {
			return err
		}
		return fn(cmd.Context(), s, args)
	}
	return c
}

func (a *app) session() (*session, error) {
	server, source := a.server()
	auth, err := a.auth()
	if err != nil {
		return nil, err
	}
	api, err := client.New(server, auth, client.WithUserAgent(userAgent))
	if errors.Is(err, client.ErrCredentialsInURL) {
		err = fmt.Errorf("%w; use --%s or --%s", err, flagAPIToken, flagUser)
	}
	if err != nil {
		return nil, usagef("%s %w", source, err)
	}
	return &session{api: api, out: a.stdout, errOut: a.stderr, json: a.output.String() == "json"}, nil
}

// server returns the server URL and where it came from, for messages.
func (a *app) server() (string, string) {
	if a.global.Changed(flagServer) {
		v, _ := a.global.GetString(flagServer)
		return v, "--" + flagServer
	}
	if v := a.env(EnvServer); v != "" {
		return v, EnvServer
	}
	return DefaultServer, "the default server"
}

// noAuth sends no credentials.
func noAuth(*client.Client) {}

// auth chooses the credentials: a flag wins over the environment; two
// kinds of credentials from the same place are a usage error. Messages
// never quote a secret.
func (a *app) auth() (client.Option, error) {
	tokenFlag, userFlag := a.global.Changed(flagAPIToken), a.global.Changed(flagUser)
	switch {
	case tokenFlag && userFlag:
		return nil, usagef("--%s and --%s cannot be used together", flagAPIToken, flagUser)
	case tokenFlag:
		token, _ := a.global.GetString(flagAPIToken)
		if token == "" {
			return nil, usagef("--%s is empty", flagAPIToken)
		}
		return client.WithToken(token), nil
	case userFlag:
		user, _ := a.global.GetString(flagUser)
		return passwordAuth(user, "--"+flagUser)
	}
	token, err := a.secretEnv(EnvAPIToken)
	if err != nil {
		return nil, err
	}
	user, err := a.secretEnv(EnvUser)
	if err != nil {
		return nil, err
	}
	switch {
	case token != "" && user != "":
		return nil, usagef("%s and %s are both set; unset one", EnvAPIToken, EnvUser)
	case token != "":
		return client.WithToken(token), nil
	case user != "":
		return passwordAuth(user, EnvUser)
	}
	return noAuth, nil
}

func passwordAuth(userPass, source string) (client.Option, error) {
	user, pass, ok := strings.Cut(userPass, ":")
	if !ok || user == "" || pass == "" {
		return nil, usagef("%s must be USERNAME:PASSWORD", source)
	}
	return client.WithBasicAuth(user, pass), nil
}

// env returns an environment variable; empty counts as unset.
func (a *app) env(name string) string {
	v, _ := a.lookupEnv(name)
	return v
}

// secretEnv reads a secret from NAME, or from the file named by NAME_FILE
// with surrounding white space trimmed.
func (a *app) secretEnv(name string) (string, error) {
	value, file := a.env(name), a.env(name+"_FILE")
	switch {
	case value != "" && file != "":
		return "", usagef("%s and %s_FILE are both set; unset one", name, name)
	case file == "":
		return value, nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s_FILE: %w", name, err)
	}
	secret := strings.TrimSpace(string(data))
	if secret == "" {
		return "", fmt.Errorf("%s_FILE: %s is empty", name, file)
	}
	return secret, nil
}
