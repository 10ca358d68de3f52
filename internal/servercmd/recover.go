package servercmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/cli"
	"github.com/gatehouse/gatehouse/internal/clock"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/core"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
)

// recoverFlags are the settings recover reads by flag: where the database
// and its key are, the token policy, the pool and the log. The rest of
// serve's (listeners, TLS, limits) mean nothing to it; their variables
// are still read, and checked, as serve would.
var recoverFlags = []string{"database", "secret-key-file", "token-max-ttl", "event-stream",
	"log-level", "log-format", "db-max-conns", "db-query-timeout", "db-slow-query"}

var recoverHelp = `Mint a short-lived API token for an administrator, straight in the
database, for when every admin credential is lost (the offline way back in,
as grafana cli admin reset-admin-password or authentik's
ak create_recovery_key). It needs what serve needs to reach the database and
its secret key (--database, --secret-key-file or GATEHOUSE_SECRET_KEY*), and
no running server.

The token belongs to the user admin (or --user NAME, who must hold the
admin role), lives --ttl (default 1h, at most 24h), and is printed once,
alone, on standard output. A recovery_token_created event (actor
"gatehouse recover") records it in the audit log. With the token, set a new
password or make proper credentials, then revoke it:

    export GATEHOUSE_API_TOKEN=$(gatehouse recover)
    printf '%s\n' "$NEW_PASSWORD" | gatehouse user set-password admin

SQLite: it refuses to run while a gatehouse serve has the database open
(each server holds a shared lock on PATH.lock beside the database; recover
takes it exclusively). Stop the server first, or give --force to run
beside it anyway. PostgreSQL: it runs while servers run; they see the new
token at once.

` + configHelp

func recoverCommand(stdout, stderr io.Writer, lookupEnv func(string) (string, bool)) *cobra.Command {
	var (
		ttl      string
		username string
		force    bool
	)
	c := &cobra.Command{
		Use:   "recover",
		Short: "Mint a short-lived admin API token in the database (lost admin credentials)",
		Long:  recoverHelp,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			life, err := config.ParseDuration(ttl)
			if err != nil || life <= 0 {
				return cli.Usagef("--ttl: %q is not %s", ttl, config.DurationHint)
			}
			cfg, err := loadConfig(cmd.Flags(), lookupEnv)
			if err != nil {
				return err
			}
			return runRecover(cmd.Context(), cfg, core.RecoverInput{Username: username, TTL: life, Forced: force}, stdout, stderr)
		},
	}
	c.Flags().StringVar(&ttl, "ttl", "1h", "how long the token works (Go duration or days; at most 24h)")
	c.Flags().StringVar(&username, "user", core.AdminUsername, "the administrator whose token it is (must hold the admin role)")
	c.Flags().BoolVar(&force, "force", false, "run even while a server has the SQLite database open")
	for _, name := range recoverFlags {
		for _, s := range config.Settings {
			if s.Flag == name {
				s.AddFlag(c.Flags())
			}
		}
	}
	c.Flags().SortFlags = false
	return c
}

func runRecover(ctx context.Context, cfg config.Config, in core.RecoverInput, stdout, stderr io.Writer) error {
	if ctx == nil {
		ctx = context.Background()
	}
	log := server.NewLogger(cfg, stderr)
	if !cfg.IsPostgres() {
		path := cfg.SQLitePath()
		// Opening would create an empty database: a mistyped path must
		// not look like a database without users.
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("no database at %s (%v): give serve's --database", path, errors.Unwrap(err))
		}
		release, err := sqlite.TryExclusiveLock(path)
		switch {
		case err == nil:
			defer release()
		case in.Forced:
			fmt.Fprintf(stderr, "warning: %s: a server may have the database open (%v); going ahead (--force)\n", path, err)
		case errors.Is(err, sqlite.ErrHeld):
			return fmt.Errorf("a gatehouse server has %s open (it holds %s): stop it first, or give --force to recover beside it",
				path, sqlite.LockPath(path))
		default:
			return fmt.Errorf("%w; give --force to go ahead without knowing", err)
		}
	}
	key, err := server.SecretKey(cfg, log)
	if err != nil {
		return err
	}
	st, err := server.OpenStore(ctx, cfg, log)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer st.Close()
	// The same migrations serve applies at start: the token is written
	// in the current schema, and a database from a newer gatehouse is
	// refused rather than written to.
	if err := st.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate database: %w", err)
	}
	var stream *audit.Stream
	if cfg.EventStream != "" && cfg.EventStream != "stdout" {
		// The event goes where the server's go too; standard output is
		// the token's alone.
		if stream, err = audit.OpenStream(cfg.EventStream, log); err != nil {
			return err
		}
		defer stream.Close(context.Background())
	}
	authn := auth.NewAuthenticator(st, auth.NewHasher(key), clock.Real{}, log)
	svc := core.New(st, authn, clock.Real{}, log, audit.New(audit.ChainKey(key), stream),
		core.Config{TokenMaxTTL: cfg.TokenMaxTTL, MaxTokensPerAccount: cfg.MaxTokensPerAccount, EventRetention: cfg.EventRetention})
	r, err := svc.Recover(ctx, in)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, r.Key)
	fmt.Fprintf(stderr, "gatehouse recover: API token %s of %q printed above, once; it works until %s (%s).\n"+
		"Use it to set a new password or make a proper token, then revoke it: gatehouse token revoke %s\n",
		r.Identifier, r.Username, r.ExpiresAt.Format(time.RFC3339), r.TTL, r.Identifier)
	return nil
}
