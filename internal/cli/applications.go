package cli

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/client"
)

// bindingCell shows a binding as ORDER:KIND/NAME, "!" before the kind
// when negated.
func bindingCell(b client.Binding) string {
	neg := ""
	if b.Negate {
		neg = "!"
	}
	return fmt.Sprintf("%d:%s%s/%s", b.Order, neg, b.Kind, b.Name)
}

var applicationView = view[client.Application]{
	{"SLUG", func(a client.Application) string { return a.Slug }},
	{"NAME", func(a client.Application) string { return a.Name }},
	{"MODE", func(a client.Application) string { return a.PolicyEngineMode }},
	{"BINDINGS", func(a client.Application) string {
		if len(a.Bindings) == 0 {
			return "(open to every active user)"
		}
		cells := make([]string, len(a.Bindings))
		for i, b := range a.Bindings {
			cells[i] = bindingCell(b)
		}
		return strings.Join(cells, ",")
	}},
	{"URL", func(a client.Application) string { return a.URL }},
	{"CREATED", func(a client.Application) string { return timeCell(a.CreatedAt) }},
	{"DESCRIPTION", func(a client.Application) string { return a.Description }},
}

var bindingView = view[client.Binding]{
	{"APPLICATION", func(b client.Binding) string { return b.Application }},
	{"KIND", func(b client.Binding) string { return b.Kind }},
	{"NAME", func(b client.Binding) string { return b.Name }},
	{"ORDER", func(b client.Binding) string { return fmt.Sprint(b.Order) }},
	{"NEGATE", func(b client.Binding) string { return yesNo(b.Negate) }},
}

const modeUsage = "policy engine mode: with bindings, admit when any binding passes, or only when all do"

func (a *app) applicationCmd() *cobra.Command {
	return applications.commands(a, "app", "Manage applications and who may use them (forward-auth)",
		[]string{"apps", "application", "applications"}, []filter{textFilter("search", "search", "only applications whose slug, name or description holds this")},
		a.applicationCreateCmd(), a.applicationUpdateCmd(), a.bindingCmd(true), a.bindingCmd(false))
}

// applicationCreateCmd is "app create SLUG --name N [--url U]
// [--description D] [--mode any|all]".
func (a *app) applicationCreateCmd() *cobra.Command {
	mode := newEnum("any", "any", "all")
	c := &cobra.Command{
		Use:   "create SLUG --name NAME",
		Short: "Create an application (without bindings it admits every active user)",
		Args:  cobra.ExactArgs(1),
	}
	addFields(c.Flags(), applicationFields)
	c.Flags().Var(mode, "mode", modeUsage)
	_ = c.MarkFlagRequired("name")
	return a.leaf(c, func(ctx context.Context, s *session, args []string) error {
		body := map[string]any{"slug": args[0], "policy_engine_mode": mode.String()}
		fieldBody(c.Flags(), applicationFields, false, body)
		return send(ctx, s, http.MethodPost, applications.path(), body, applications.view.row(s))
	})
}

// applicationUpdateCmd patches the fields whose flags are given.
func (a *app) applicationUpdateCmd() *cobra.Command {
	mode := newEnum("", "any", "all")
	c := &cobra.Command{Use: "update SLUG", Short: "Change an application", Args: cobra.ExactArgs(1)}
	addFields(c.Flags(), applicationFields)
	c.Flags().Var(mode, "mode", modeUsage)
	c.PreRunE = func(cmd *cobra.Command, _ []string) error {
		if cmd.Flags().Changed("mode") {
			return nil
		}
		for _, f := range applicationFields {
			if cmd.Flags().Changed(f.flag) {
				return nil
			}
		}
		return usagef("nothing to change: give --name, --url, --description, --mode")
	}
	return a.leaf(c, func(ctx context.Context, s *session, args []string) error {
		body := map[string]any{}
		fieldBody(c.Flags(), applicationFields, true, body)
		if c.Flags().Changed("mode") {
			body["policy_engine_mode"] = mode.String()
		}
		return send(ctx, s, http.MethodPatch, applications.path(args[0]), body, applications.view.row(s))
	})
}

// bindingCmd is "bind SLUG (--user U | --group G) [--order N] [--negate]"
// or "unbind SLUG (--user U | --group G)".
func (a *app) bindingCmd(bind bool) *cobra.Command {
	var user, grp string
	var order int
	var negate bool
	use, short := "bind", "Bind a user, service account or group to an application (create or replace)"
	if !bind {
		use, short = "unbind", "Remove a binding from an application"
	}
	c := &cobra.Command{Use: use + " SLUG (--user USER | --group GROUP)", Short: short, Args: cobra.ExactArgs(1)}
	c.Flags().StringVar(&user, "user", "", "the user or service account"+subjectUsage)
	c.Flags().StringVar(&grp, "group", "", "the group")
	c.MarkFlagsOneRequired("user", "group")
	c.MarkFlagsMutuallyExclusive("user", "group")
	if bind {
		c.Flags().IntVar(&order, "order", 0, "evaluation order, lowest first")
		c.Flags().BoolVar(&negate, "negate", false, "the binding passes for everyone it does NOT match")
	}
	return a.leaf(c, func(ctx context.Context, s *session, args []string) error {
		kind, collection, name := "user", "users", user
		if c.Flags().Changed("group") {
			kind, collection, name = "group", "groups", grp
		}
		path := applications.path(args[0], "bindings", collection, name)
		if !bind {
			return confirm(ctx, s, http.MethodDelete, path, nil, fmt.Sprintf("unbound %s %q from application %q", kind, name, args[0]))
		}
		body := map[string]any{"order": order, "negate": negate}
		return send(ctx, s, http.MethodPut, path, body, bindingView.row(s))
	})
}

var brandView = view[client.BrandSettings]{
	{"TITLE", func(b client.BrandSettings) string { return b.Title }},
	{"DEFAULT_APPLICATION", func(b client.BrandSettings) string { return b.DefaultApplication }},
}

func (a *app) brandCmd() *cobra.Command {
	get := &cobra.Command{Use: "get", Short: "Show the brand settings", Args: cobra.NoArgs}
	a.leaf(get, func(ctx context.Context, s *session, _ []string) error {
		return send(ctx, s, http.MethodGet, "/brand", nil, brandView.row(s))
	})
	set := &cobra.Command{Use: "set", Short: "Change the brand settings", Args: cobra.NoArgs}
	addFields(set.Flags(), brandFields)
	set.PreRunE = func(cmd *cobra.Command, _ []string) error {
		for _, f := range brandFields {
			if cmd.Flags().Changed(f.flag) {
				return nil
			}
		}
		return usagef("nothing to change: give --title, --default-application")
	}
	a.leaf(set, func(ctx context.Context, s *session, _ []string) error {
		body := map[string]any{}
		fieldBody(set.Flags(), brandFields, true, body)
		return send(ctx, s, http.MethodPatch, "/brand", body, brandView.row(s))
	})
	return group("brand", "Show or change the brand settings", get, set)
}
