package cli

import (
	"context"
	"fmt"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/client"
)

var groups = resource[client.Group]{
	noun: "group", plural: "groups",
	collection: "groups", arg: "NAME", view: groupView,
}

var groupFields = []field{
	{flag: "description", key: "description", usage: "what the group is for"},
}

func (a *app) groupCmd() *cobra.Command {
	r := groups
	c := group("group", "Manage groups and their members",
		r.listCmd(a, 0),
		r.getCmd(a),
		r.createCmd(a, "name", groupFields, nil),
		r.updateCmd(a, groupFields),
		r.deleteCmd(a),
		a.membershipCmd(true),
		a.membershipCmd(false),
	)
	c.Aliases = []string{"groups"}
	return c
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
