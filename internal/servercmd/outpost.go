package servercmd

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/client"
	"github.com/gatehouse/gatehouse/internal/cli"
	"github.com/gatehouse/gatehouse/internal/outpost"
	"github.com/gatehouse/gatehouse/internal/tlsconf"
)

// The flags the outpost shares, by name and variable, with the client
// commands: where the server is and the outpost's token.
const (
	flagServer   = "server"
	flagAPIToken = "api-token"
)

// ldapCommand runs an outpost: the LDAP front door as its own process. It
// is a server, so it lives beside serve; it has its own --server and
// --api-token, read like the client commands' (the client flags are not
// the root's, so that serve's help lists only server flags).
func ldapCommand(stderr io.Writer, lookupEnv func(string) (string, bool)) *cobra.Command {
	env := func(name string) string { v, _ := lookupEnv(name); return v }
	c := &cobra.Command{Use: "ldap", Short: "Run an LDAP outpost: the LDAP front door next to your applications", Args: cobra.NoArgs,
		Long: `Run an LDAP outpost for one LDAP provider. It talks only to the gatehouse API,
with the outpost's own token (gatehouse outpost create): give it with
--api-token, GATEHOUSE_API_TOKEN, or better GATEHOUSE_API_TOKEN_FILE, where
the outpost writes the new key each time it rotates its token.

Binds are checked by the server; the directory is a copy kept current by the
server's change feed. When the server cannot be reached, the outpost answers
binds with "unavailable" and serves nothing from memory.

Settings: --provider (GATEHOUSE_LDAP_PROVIDER), --listen (GATEHOUSE_LDAP_LISTEN,
default 127.0.0.1:3389), --ldaps-listen (GATEHOUSE_LDAPS_LISTEN), --tls-cert and
--tls-key (GATEHOUSE_LDAP_TLS_CERT, GATEHOUSE_LDAP_TLS_KEY) for StartTLS and LDAPS.`}
	f := c.Flags()
	f.String("provider", "", "the LDAP provider to serve (env GATEHOUSE_LDAP_PROVIDER)")
	f.String("listen", "", "LDAP listen address, \"\" for none (env GATEHOUSE_LDAP_LISTEN; default 127.0.0.1:3389)")
	f.String("ldaps-listen", "", "LDAPS listen address (env GATEHOUSE_LDAPS_LISTEN)")
	f.String("tls-cert", "", "TLS certificate file (PEM) for StartTLS and LDAPS (env GATEHOUSE_LDAP_TLS_CERT)")
	f.String("tls-key", "", "TLS private key file (PEM) (env GATEHOUSE_LDAP_TLS_KEY)")
	f.String(flagServer, client.DefaultServer, "gatehouse server URL (env "+client.EnvServer+")")
	f.String(flagAPIToken, "", "the outpost's API token (env "+client.EnvAPIToken+" or "+client.EnvAPIToken+"_FILE)")
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		// Flags win over the environment, which wins over the default.
		setting := func(flag, envName, def string) string {
			if fl := cmd.Flags().Lookup(flag); fl != nil && fl.Changed {
				return fl.Value.String()
			}
			if e := env(envName); e != "" {
				return e
			}
			return def
		}
		cfg := outpost.Config{
			Provider:    setting("provider", "GATEHOUSE_LDAP_PROVIDER", ""),
			Listen:      setting("listen", "GATEHOUSE_LDAP_LISTEN", "127.0.0.1:3389"),
			LDAPSListen: setting("ldaps-listen", "GATEHOUSE_LDAPS_LISTEN", ""),
			Server:      setting(flagServer, client.EnvServer, client.DefaultServer),
		}
		if cfg.Provider == "" {
			return cli.Usagef("--provider (or GATEHOUSE_LDAP_PROVIDER) is required")
		}
		cert, key := setting("tls-cert", "GATEHOUSE_LDAP_TLS_CERT", ""), setting("tls-key", "GATEHOUSE_LDAP_TLS_KEY", "")
		if (cert == "") != (key == "") {
			return cli.Usagef("give both --tls-cert and --tls-key, or neither")
		}
		if cert != "" {
			tc, err := tlsconf.Load(cert, key)
			if err != nil {
				return err
			}
			cfg.TLS = tc
		}
		// The token file is kept: the outpost writes its rotated keys there.
		tokenFileEnv := client.EnvAPIToken + "_FILE"
		switch fl := cmd.Flags().Lookup(flagAPIToken); {
		case fl != nil && fl.Changed:
			cfg.Token = fl.Value.String()
		case env(client.EnvAPIToken) != "":
			cfg.Token = env(client.EnvAPIToken)
		case env(tokenFileEnv) != "":
			cfg.TokenFile = env(tokenFileEnv)
			data, err := os.ReadFile(cfg.TokenFile)
			if err != nil {
				return fmt.Errorf("%s: %w", tokenFileEnv, err)
			}
			if cfg.Token = strings.TrimSpace(string(data)); cfg.Token == "" {
				return fmt.Errorf("%s: %s is empty", tokenFileEnv, cfg.TokenFile)
			}
		}
		if cfg.Token == "" {
			return cli.Usagef("the outpost's token is required: --api-token, GATEHOUSE_API_TOKEN or GATEHOUSE_API_TOKEN_FILE")
		}
		level := slog.LevelInfo
		_ = level.UnmarshalText([]byte(env("GATEHOUSE_LOG_LEVEL")))
		cfg.Log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
		if cfg.TokenFile == "" {
			cfg.Log.Warn("the token was not read from a file (GATEHOUSE_API_TOKEN_FILE): rotated keys live in memory only, and a restart after the old key's grace needs `gatehouse outpost rotate`")
		}
		ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, os.Interrupt)
		defer stop()
		return outpost.Run(ctx, cfg)
	}
	return c
}
