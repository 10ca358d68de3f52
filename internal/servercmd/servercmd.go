// Package servercmd holds the server-side commands of the gatehouse
// binary (serve, migrate, and ldap, which runs an LDAP outpost): flag
// parsing into configuration and a call into the server or outpost
// package, nothing more.
package servercmd

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/server"
)

// addConfigFlags declares every setting that has a flag.
func addConfigFlags(fs *pflag.FlagSet) {
	d := config.Defaults()
	defaults := map[string]string{"listen": d.Listen, "database": d.Database, "ldap-listen": d.LDAPListen}
	for _, s := range config.Settings {
		if s.Flag == "" {
			continue
		}
		fs.String(s.Flag, defaults[s.Flag], s.Usage+" (env "+s.Env+")")
	}
}

// loadConfig reads the flags that were set, then the environment.
func loadConfig(fs *pflag.FlagSet) (config.Config, error) {
	set := map[string]string{}
	fs.Visit(func(f *pflag.Flag) { set[f.Name] = f.Value.String() })
	return config.Load(config.Source{Flags: set, Getenv: os.Getenv})
}

// Commands returns serve, migrate and ldap.
func Commands(stderr io.Writer) []*cobra.Command {
	return commands(stderr, os.LookupEnv)
}

func commands(stderr io.Writer, lookupEnv func(string) (string, bool)) []*cobra.Command {
	serve := &cobra.Command{
		Use:   "serve",
		Short: "Run the gatehouse server",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd.Flags())
			if err != nil {
				return err
			}
			log := server.NewLogger(cfg, stderr)
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, os.Interrupt)
			defer stop()
			return server.Run(ctx, cfg, log, stderr)
		},
	}
	addConfigFlags(serve.Flags())

	migrate := &cobra.Command{
		Use:   "migrate",
		Short: "Apply pending database migrations and exit",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd.Flags())
			if err != nil {
				return err
			}
			log := server.NewLogger(cfg, stderr)
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
		},
	}
	addConfigFlags(migrate.Flags())
	return []*cobra.Command{serve, migrate, ldapCommand(stderr, lookupEnv)}
}
