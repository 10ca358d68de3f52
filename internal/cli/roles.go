package cli

import (
	"context"
	"fmt"
	"net/http"

	"github.com/spf13/cobra"
)

func (a *app) roleCmd() *cobra.Command {
	return roles.commands(a, "role", "Manage roles and who holds them", []string{"roles"}, nil,
		roles.createCmd(a, "name", roleFields, nil), roles.updateCmd(a, roleFields),
		a.assignmentCmd(true), a.assignmentCmd(false))
}

// assignmentCmd is "assign ROLE" or "unassign ROLE", to or from exactly one
// of --user and --group.
func (a *app) assignmentCmd(assign bool) *cobra.Command {
	var user, group string
	use, short, method, done := "assign", "Assign a role to a user or a group", http.MethodPut, "assigned role %q to %s %q"
	if !assign {
		use, short, method, done = "unassign", "Take a role from a user or a group", http.MethodDelete, "unassigned role %q from %s %q"
	}
	c := &cobra.Command{Use: use + " ROLE (--user USER | --group GROUP)", Short: short, Args: cobra.ExactArgs(1)}
	c.Flags().StringVar(&user, "user", "", "the user or service account"+subjectUsage)
	c.Flags().StringVar(&group, "group", "", "the group")
	c.MarkFlagsOneRequired("user", "group")
	c.MarkFlagsMutuallyExclusive("user", "group")
	return a.leaf(c, func(ctx context.Context, s *session, args []string) error {
		kind, collection, name := "user", "users", user
		if c.Flags().Changed("group") {
			kind, collection, name = "group", "groups", group
		}
		return confirm(ctx, s, method, roles.path(args[0], "assignments", collection, name), nil,
			fmt.Sprintf(done, args[0], kind, name))
	})
}

func (a *app) permissionsCmd() *cobra.Command {
	return group("permissions", "Show the permission catalogue", permissions.listCmd(a, 0))
}
