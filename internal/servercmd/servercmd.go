// Package servercmd holds the server-side commands of the gatehouse
// binary (serve, migrate, recover, and ldap, which runs an LDAP outpost): flag
// parsing into configuration and a call into the server or outpost
// package, nothing more.
package servercmd

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/server"
)

// configHelp is the long help of the commands that read the server's
// settings; the flags' own help comes from the same table.
var configHelp = `Every setting is a flag and an environment variable; a flag wins over
the variable, which wins over the default. A secret is also read from the
file named by NAME_FILE (and its flag, if any, names a file), so it need
not appear in the environment or a process list. A bad configuration is
reported whole, every problem at once, each named as it was given.

Durations are Go durations (90s, 15m, 720h) or whole days (30d, 1d12h).

Environment only:
` + config.EnvOnlyHelp()

// loadConfig reads the flags that were set, then the environment.
func loadConfig(fs *pflag.FlagSet, lookupEnv func(string) (string, bool)) (config.Config, error) {
	getenv := func(k string) string { v, _ := lookupEnv(k); return v }
	return config.Load(config.Source{Flags: config.FlagsSet(fs), Getenv: getenv})
}

// Commands returns serve, migrate, recover and ldap.
func Commands(stdout, stderr io.Writer) []*cobra.Command {
	return commands(stdout, stderr, os.LookupEnv)
}

// settingsCommand is a command that reads the settings (flags, then the
// environment): run gets them and the logger they configure.
func settingsCommand(use, short, long string, stderr io.Writer, lookupEnv func(string) (string, bool),
	run func(cmd *cobra.Command, cfg config.Config, log *slog.Logger) error) *cobra.Command {
	c := &cobra.Command{Use: use, Short: short, Long: long + "\n\n" + configHelp, Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd.Flags(), lookupEnv)
			if err != nil {
				return err
			}
			return run(cmd, cfg, server.NewLogger(cfg, stderr))
		}}
	config.AddFlags(c.Flags())
	c.Flags().SortFlags = false // the table's order groups related settings
	return c
}

func commands(stdout, stderr io.Writer, lookupEnv func(string) (string, bool)) []*cobra.Command {
	serve := settingsCommand("serve", "Run the gatehouse server",
		"Run the gatehouse server: the API, the web interface, forward-auth and,\nwith --ldap-provider, the LDAP door.",
		stderr, lookupEnv, func(cmd *cobra.Command, cfg config.Config, log *slog.Logger) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, os.Interrupt)
			defer stop()
			return server.Run(ctx, cfg, log, stderr)
		})

	migrate := settingsCommand("migrate", "Apply pending database migrations and exit",
		"Apply pending database migrations and exit. It reads the same settings\nas serve.",
		stderr, lookupEnv, func(cmd *cobra.Command, cfg config.Config, log *slog.Logger) error {
			ctx := context.Background()
			st, err := server.OpenStore(ctx, cfg, log)
			if err != nil {
				return err
			}
			defer st.Close()
			if err := st.Migrate(ctx); err != nil {
				return err
			}
			fmt.Fprintln(stderr, "migrations applied")
			return nil
		})
	return []*cobra.Command{serve, migrate, recoverCommand(stdout, stderr, lookupEnv), ldapCommand(stderr, lookupEnv)}
}
