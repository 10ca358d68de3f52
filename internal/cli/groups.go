package cli

import (
	"context"
	"fmt"
	"net/http"

	"github.com/spf13/cobra"
)

func (a *app) groupCmd() *cobra.Command {
	return groups.commands(a, "group", "Manage groups and their members", []string{"groups"}, nil,
		groups.createCmd(a, "name", groupFields, nil), groups.updateCmd(a, groupFields),
		a.membershipCmd(true), a.membershipCmd(false))
}

// membershipCmd is "add-member GROUP USER" or "remove-member GROUP USER".
func (a *app) membershipCmd(add bool) *cobra.Command {
	use, short, method, done := "add-member", "Add a user to a group", http.MethodPut, "added %q to group %q"
	if !add {
		use, short, method, done = "remove-member", "Remove a user from a group", http.MethodDelete, "removed %q from group %q"
	}
	c := &cobra.Command{Use: use + " GROUP USER", Short: short, Args: cobra.ExactArgs(2)}
	return a.leaf(c, func(ctx context.Context, s *session, args []string) error {
		g, u := args[0], args[1]
		return confirm(ctx, s, method, groups.path(g, "members", u), nil, fmt.Sprintf(done, u, g))
	})
}
