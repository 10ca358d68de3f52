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
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/outpost"
	"github.com/gatehouse/gatehouse/internal/tlsconf"
)

// The flags the outpost shares, by name and variable, with the client
// commands: where the server is and the outpost's token.
const (
	flagServer   = "server"
	flagAPIToken = "api-token"
)

// The outpost's settings, declared once: flag, variable, default and help
// (in the server's table format, so help reads the same), looked up the
// same way by outpostSetting.
var (
	outpostProvider = &config.Setting{Flag: "provider", Env: "GATEHOUSE_LDAP_PROVIDER", DefaultDoc: "none, required", Type: "name",
		Usage: "the LDAP provider to serve"}
	outpostListen = &config.Setting{Flag: "listen", Env: "GATEHOUSE_LDAP_LISTEN", Default: "127.0.0.1:3389", Type: "host:port",
		Usage: "LDAP listen address (empty: none)"}
	outpostLDAPS = &config.Setting{Flag: "ldaps-listen", Env: "GATEHOUSE_LDAPS_LISTEN", Type: "host:port",
		Usage: "LDAPS listen address (needs --tls-cert and --tls-key)"}
	outpostCert = &config.Setting{Flag: "tls-cert", Env: "GATEHOUSE_LDAP_TLS_CERT", Type: "path",
		Usage: "TLS certificate file (PEM) for StartTLS and LDAPS"}
	outpostKey = &config.Setting{Flag: "tls-key", Env: "GATEHOUSE_LDAP_TLS_KEY", Type: "path",
		Usage: "TLS private key file (PEM) for StartTLS and LDAPS"}
	outpostServer = &config.Setting{Flag: flagServer, Env: client.EnvServer, Default: client.DefaultServer, Type: "url",
		Usage: "gatehouse server URL"}
	// The token's file is not read like other secrets: the outpost keeps
	// its name and writes each rotated key there.
	outpostToken = &config.Setting{Flag: flagAPIToken, Env: client.EnvAPIToken, File: true, Type: "token",
		Usage: "the outpost's API token (better: GATEHOUSE_API_TOKEN_FILE, where rotated keys are written)"}
	outpostSettings = []*config.Setting{outpostProvider, outpostListen, outpostLDAPS, outpostCert, outpostKey, outpostServer, outpostToken}
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

A flag wins over its environment variable, which wins over the default.`}
	f := c.Flags()
	f.SortFlags = false
	for _, s := range outpostSettings {
		s.AddFlag(f)
	}
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		// Flags win over the environment, which wins over the default.
		setting := func(s *config.Setting) string {
			if fl := cmd.Flags().Lookup(s.Flag); fl != nil && fl.Changed {
				return fl.Value.String()
			}
			if e := env(s.Env); e != "" {
				return e
			}
			return s.Default
		}
		cfg := outpost.Config{
			Provider:    setting(outpostProvider),
			Listen:      setting(outpostListen),
			LDAPSListen: setting(outpostLDAPS),
			Server:      setting(outpostServer),
		}
		if cfg.Provider == "" {
			return cli.Usagef("--provider (or GATEHOUSE_LDAP_PROVIDER) is required")
		}
		cert, key := setting(outpostCert), setting(outpostKey)
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
