// Package config is gatehouse's typed server configuration. Every setting
// is one entry of Settings (settings.go): its flag, environment variable,
// _FILE variant, default, help text and parser. Defaults, loading, the
// serve command's flags, validation and the README's table are all derived
// from that table, so a setting cannot be documented in one place and
// parsed differently in another.
//
// Flags win over environment variables, which win over defaults; a
// secret setting also reads NAME_FILE; Load reports every problem at once,
// each named the way it was given (--flag or VARIABLE).
package config

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"
)

// Config is the server's configuration.
type Config struct {
	Listen     string
	Database   string // "sqlite:PATH" or a postgres:// URL
	LDAPListen string // the in-server LDAP door's address (it runs when LDAPProvider is set)
	// LDAPProvider names the LDAP provider the in-server door serves; ""
	// turns the door off.
	LDAPProvider string
	LDAPSListen  string // LDAPS (TLS from the first byte); "" none
	LDAPTLSCert  string // certificate and key for StartTLS and LDAPS; default: TLSCert/TLSKey
	LDAPTLSKey   string

	BootstrapPassword string
	BootstrapToken    string
	// SecretKey keys the hash of every stored token. Never in the database.
	SecretKey string

	TokenMaxTTL time.Duration
	// MaxTokensPerAccount bounds the tokens and app passwords one account
	// holds (managed ones not counted); 0: no limit.
	MaxTokensPerAccount int
	CleanupInterval     time.Duration
	// EventRetention is how long audit events are kept (0: forever).
	EventRetention time.Duration
	// EventStream copies every event, once committed, as a JSON line to
	// "stdout" or to a file (appended); "" copies nowhere.
	EventStream     string
	ShutdownTimeout time.Duration

	LogLevel  string // debug, info, warn, error
	LogFormat string // text, json

	TLSCert string
	TLSKey  string

	// TrustedProxies are the networks whose X-Forwarded-For / X-Real-IP
	// headers are believed (forward-auth's client address).
	TrustedProxies []netip.Prefix

	// API protection: requests served at once (beyond: 429), and a
	// per-client token bucket (0 rate: off).
	MaxConcurrentRequests int
	ClientRate            float64 // requests per second per client address
	ClientBurst           int

	// PostgreSQL pool.
	DBMaxConns     int
	DBQueryTimeout time.Duration
	DBSlowQuery    time.Duration

	// OIDCAllowInsecureIssuers: OIDC issuers' keys may be fetched over
	// plain HTTP and from non-public addresses (tests only).
	OIDCAllowInsecureIssuers bool
}

// defaultShutdownTimeout is not a setting: a SIGTERM is given this long
// to finish in-flight requests.
const defaultShutdownTimeout = 30 * time.Second

// Defaults are the documented defaults: every setting's Default, parsed.
func Defaults() Config {
	c := Config{ShutdownTimeout: defaultShutdownTimeout}
	for _, s := range Settings {
		if s.Default == "" {
			continue
		}
		// A default that does not parse is a mistake in the table, which
		// TestDefaultsParse catches; it is not the user's to fix.
		if err := s.parse(&c, s.Default); err != nil {
			panic(fmt.Sprintf("config: default of %s: %v", s.Env, err))
		}
	}
	return c
}

// Source supplies raw values: flags that were set, then the environment.
type Source struct {
	Flags  map[string]string // flag name -> value, only flags set explicitly
	Getenv func(string) string
}

// Load builds a Config from defaults, environment and flags, and
// validates it, returning every problem at once.
func Load(src Source) (Config, error) {
	c := Defaults()
	if src.Getenv == nil {
		src.Getenv = os.Getenv
	}
	g := given{}
	var problems []string
	for _, s := range Settings {
		v, from, ok := s.lookup(src, &problems)
		if !ok {
			continue
		}
		g[s.Env] = from
		if err := s.parse(&c, v); err != nil {
			problems = append(problems, from+": "+err.Error())
		}
	}
	problems = append(problems, c.validate(g)...)
	if len(problems) > 0 {
		return c, &Error{Problems: problems}
	}
	return c, nil
}

// lookup finds a setting's raw value and names where it came from: the
// flag, the variable, or the variable's _FILE. A secret's flag names a
// file too, so the secret never shows in a process list.
func (s *Setting) lookup(src Source, problems *[]string) (value, from string, ok bool) {
	if s.Flag != "" {
		if v, set := src.Flags[s.Flag]; set {
			from = "--" + s.Flag
			if s.File {
				return readSecretFile(from, v, problems)
			}
			return v, from, true
		}
	}
	// An empty variable counts as unset, as in most shells' habits
	// (VAR= command).
	if v := src.Getenv(s.Env); v != "" {
		return v, s.Env, true
	}
	if s.File {
		if f := src.Getenv(s.Env + "_FILE"); f != "" {
			return readSecretFile(s.Env+"_FILE", f, problems)
		}
	}
	return "", "", false
}

// readSecretFile reads a secret from a file. Its problems name the path,
// never the content.
func readSecretFile(from, path string, problems *[]string) (string, string, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		*problems = append(*problems, fmt.Sprintf("%s: cannot read %q: %v", from, path, errors.Unwrap(err)))
		return "", from, false
	}
	return strings.TrimRight(string(b), "\r\n"), from, true
}

// given records how each setting that was given was given, keyed by its
// variable: "--flag", "VARIABLE" or "VARIABLE_FILE".
type given map[string]string

// name is how a message names a setting: as it was given; when it was not,
// in the manner of like (a flag when like came from a flag and the setting
// has one), so one message does not mix a flag with a variable for no
// reason.
func (g given) name(env, like string) string {
	if from, ok := g[env]; ok {
		return from
	}
	s := byEnv[env]
	if strings.HasPrefix(g[like], "--") && s.Flag != "" {
		return "--" + s.Flag
	}
	return env
}

// Error lists every configuration problem.
type Error struct{ Problems []string }

func (e *Error) Error() string {
	return "invalid configuration:\n  - " + strings.Join(e.Problems, "\n  - ")
}

// IsPostgres reports whether the database is PostgreSQL.
func (c Config) IsPostgres() bool {
	return strings.HasPrefix(c.Database, "postgres://") || strings.HasPrefix(c.Database, "postgresql://")
}

// SQLitePath is the file of an sqlite: database.
func (c Config) SQLitePath() string { return strings.TrimPrefix(c.Database, "sqlite:") }

// validate checks what no single setting can: settings that go together.
// Each setting's own value was checked by its parser.
func (c Config) validate(g given) []string {
	var p []string
	p = append(p, c.validateLDAP(g)...)
	if c.IsPostgres() && c.SecretKey == "" {
		p = append(p, fmt.Sprintf("%s: PostgreSQL needs GATEHOUSE_SECRET_KEY (or GATEHOUSE_SECRET_KEY_FILE, or --secret-key-file), the same on every instance",
			g.name("GATEHOUSE_DATABASE", "")))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		p = append(p, fmt.Sprintf("%s and %s: give both or neither",
			g.name("GATEHOUSE_TLS_CERT", "GATEHOUSE_TLS_KEY"), g.name("GATEHOUSE_TLS_KEY", "GATEHOUSE_TLS_CERT")))
	}
	return p
}
