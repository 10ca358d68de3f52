package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/client"
)

func (a *app) userCmd() *cobra.Command {
	r := users
	return r.commands(a, "user", "Manage users (humans and service accounts)", []string{"users"},
		[]filter{
			filter{flag: "type", param: "type", usage: "only users of this type",
				value: newEnum("", "human", "service_account", "internal_service_account")},
			textFilter("search", "search", "only users whose username, name, email or description holds this text"),
		},
		a.userCreateCmd(), r.updateCmd(a, userFields), r.activeCmd(a, false), r.activeCmd(a, true),
		a.setPasswordCmd(), a.userPermissionsCmd())
}

func (a *app) whoamiCmd() *cobra.Command {
	c := &cobra.Command{Use: "whoami", Short: "Show who the credentials belong to and what they may do", Args: cobra.NoArgs}
	return a.leaf(c, func(ctx context.Context, s *session, _ []string) error {
		return send(ctx, s, http.MethodGet, "/me", nil, meView.row(s))
	})
}

func (a *app) userCreateCmd() *cobra.Command {
	var passwordStdin bool
	c := users.createCmd(a, "username", userFields, func(body map[string]any) error {
		body["type"] = "human"
		if !passwordStdin {
			return nil
		}
		password, err := readPassword(a.stdin)
		if err != nil {
			return err
		}
		body["password"] = password
		return nil
	})
	c.Short = "Create a human user (service accounts: gatehouse sa create)"
	c.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from the first line of standard input")
	return c
}

func (a *app) setPasswordCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "set-password NAME",
		Short: "Set a human user's password, read from the first line of standard input",
		Long: `Set a human user's password. It is read from the first line of standard
input, never from a flag, so that it stays out of shell history and process
lists:

    printf '%s\n' "$PASSWORD" | gatehouse user set-password alice`,
		Args: cobra.ExactArgs(1),
	}
	return a.leaf(c, func(ctx context.Context, s *session, args []string) error {
		password, err := readPassword(a.stdin)
		if err != nil {
			return err
		}
		return confirm(ctx, s, http.MethodPut, users.path(args[0], "password"), map[string]string{"password": password},
			fmt.Sprintf("set the password of user %q", args[0]))
	})
}

// readPassword reads the first line of r, without its line ending.
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from standard input: %w", err)
	}
	password := strings.TrimRight(line, "\r\n")
	if password == "" {
		return "", usagef("no password on the first line of standard input")
	}
	return password, nil
}

func (a *app) userPermissionsCmd() *cobra.Command {
	var (
		set      []string
		clearAll bool
	)
	c := &cobra.Command{
		Use:   "permissions NAME",
		Short: "Show or replace the permissions granted directly to one account",
		Long: `Show the permissions granted directly to one account (not through roles),
for access that should not be shared. --set replaces the whole set with the
given permissions; --clear empties it.`,
		Args: cobra.ExactArgs(1),
	}
	c.Flags().StringArrayVar(&set, "set", nil, "replace the set with this permission (repeatable)")
	c.Flags().BoolVar(&clearAll, "clear", false, "remove every direct permission")
	c.MarkFlagsMutuallyExclusive("set", "clear")
	return a.leaf(c, func(ctx context.Context, s *session, args []string) error {
		method, body := http.MethodGet, any(nil)
		if clearAll || set != nil {
			method, body = http.MethodPut, client.UserPermissions{Permissions: orEmpty(set)}
		}
		return send(ctx, s, method, users.path(args[0], "permissions"), body, func(p client.UserPermissions) error {
			return permissionNameView.write(s.out, p.Permissions)
		})
	})
}
