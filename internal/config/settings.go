package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/clientip"
)

// Setting is one server setting, declared once.
type Setting struct {
	Flag string // the serve and migrate flag; "" when there is none
	Env  string // the environment variable; it also identifies the setting
	// File marks a secret: it is also read from Env+"_FILE", its flag (if
	// any) names a file rather than holding the secret, and no message
	// quotes its value.
	File bool
	// Default is the default as a person would type it, parsed like any
	// given value; "" leaves the zero value.
	Default string
	// DefaultDoc describes the default in help and the README where the
	// value alone would mislead (generated secrets, fallbacks, "0: off").
	DefaultDoc string
	Type       string // what the value is, shown in help: "duration", "host:port" ...
	Usage      string // what the setting does; `code` is marked for the README
	parse      func(c *Config, v string) error
}

// Settings lists every setting, in the order help and the README show them.
var Settings = []*Setting{
	{Flag: "listen", Env: "GATEHOUSE_LISTEN", Default: "127.0.0.1:8420", Type: "host:port",
		Usage: "HTTP listen address",
		parse: set(func(c *Config) *string { return &c.Listen }, hostPort)},
	{Flag: "database", Env: "GATEHOUSE_DATABASE", Default: "sqlite:gatehouse.db", Type: "url",
		Usage: "database: `sqlite:PATH` (embedded) or a `postgres://` URL",
		parse: set(func(c *Config) *string { return &c.Database }, database)},
	{Env: "GATEHOUSE_BOOTSTRAP_PASSWORD", File: true, DefaultDoc: "generated, printed once",
		Usage: "first admin's password (8+ characters), used when the database has no users (otherwise ignored, with a warning at start if it does not work there); the other is generated if only one is given",
		parse: set(func(c *Config) *string { return &c.BootstrapPassword }, atLeast(8))},
	{Env: "GATEHOUSE_BOOTSTRAP_TOKEN", File: true, DefaultDoc: "generated, printed once",
		Usage: "first admin's API token (32+ characters), used when the database has no users (otherwise ignored, with a warning at start if it does not work there); the other is generated if only one is given",
		parse: set(func(c *Config) *string { return &c.BootstrapToken }, atLeast(32))},
	{Flag: "secret-key-file", Env: "GATEHOUSE_SECRET_KEY", File: true, Type: "path",
		DefaultDoc: "SQLite: `PATH.key` beside the database, made on first start; PostgreSQL: required",
		Usage:      "key of the token hashes (32+ characters); the flag names a file holding it",
		parse:      set(func(c *Config) *string { return &c.SecretKey }, atLeast(32))},
	{Flag: "token-max-ttl", Env: "GATEHOUSE_TOKEN_MAX_TTL", Default: "0", DefaultDoc: "`0` (no limit)", Type: "duration",
		Usage: "longest lifetime a token may have",
		parse: set(func(c *Config) *time.Duration { return &c.TokenMaxTTL }, duration(0))},
	{Flag: "max-tokens-per-account", Env: "GATEHOUSE_MAX_TOKENS_PER_ACCOUNT", Default: "100", Type: "int",
		Usage: "tokens and app passwords one account may hold, outposts' managed tokens not counted (`0`: no limit); more get 409",
		parse: set(func(c *Config) *int { return &c.MaxTokensPerAccount }, intIn(0, 1_000_000))},
	{Flag: "cleanup-interval", Env: "GATEHOUSE_CLEANUP_INTERVAL", Default: "5m", Type: "duration",
		Usage: "how often expired app passwords and old keys are removed (1s or more)",
		parse: set(func(c *Config) *time.Duration { return &c.CleanupInterval }, duration(time.Second))},
	{Flag: "event-retention", Env: "GATEHOUSE_EVENT_RETENTION", Default: "365d", Type: "duration",
		Usage: "how long audit events are kept (1h or more; `0`: forever)",
		parse: set(func(c *Config) *time.Duration { return &c.EventRetention }, zeroOr(duration(time.Hour)))},
	{Flag: "event-stream", Env: "GATEHOUSE_EVENT_STREAM", DefaultDoc: "none", Type: "path",
		Usage: "also write every audit event as a JSON line to `stdout` or to this file (appended)",
		parse: set(func(c *Config) *string { return &c.EventStream }, text)},
	{Flag: "log-level", Env: "GATEHOUSE_LOG_LEVEL", Default: "info", Type: "level",
		Usage: "log level: `debug`, `info`, `warn` or `error`",
		parse: set(func(c *Config) *string { return &c.LogLevel }, oneOf("debug", "info", "warn", "error"))},
	{Flag: "log-format", Env: "GATEHOUSE_LOG_FORMAT", Default: "text", Type: "format",
		Usage: "log format: `text` or `json`",
		parse: set(func(c *Config) *string { return &c.LogFormat }, oneOf("text", "json"))},
	{Flag: "tls-cert", Env: "GATEHOUSE_TLS_CERT", DefaultDoc: "none (plain HTTP)", Type: "path",
		Usage: "TLS certificate file (PEM) for HTTPS",
		parse: set(func(c *Config) *string { return &c.TLSCert }, text)},
	{Flag: "tls-key", Env: "GATEHOUSE_TLS_KEY", DefaultDoc: "none (plain HTTP)", Type: "path",
		Usage: "TLS private key file (PEM) for HTTPS",
		parse: set(func(c *Config) *string { return &c.TLSKey }, text)},
	{Flag: "max-concurrent-requests", Env: "GATEHOUSE_MAX_CONCURRENT_REQUESTS", Default: "1024", Type: "int",
		Usage: "API requests served at once; more get 429",
		parse: set(func(c *Config) *int { return &c.MaxConcurrentRequests }, intIn(1, 1_000_000))},
	{Flag: "client-rate", Env: "GATEHOUSE_CLIENT_RATE", Default: "0", DefaultDoc: "`0` (off)", Type: "number",
		Usage: "API requests per second per client address; more get 429",
		parse: set(func(c *Config) *float64 { return &c.ClientRate }, rate)},
	{Flag: "client-burst", Env: "GATEHOUSE_CLIENT_BURST", Default: "100", Type: "int",
		Usage: "requests a client may send at once above its rate",
		parse: set(func(c *Config) *int { return &c.ClientBurst }, intIn(1, 1_000_000))},
	{Flag: "db-max-conns", Env: "GATEHOUSE_DB_MAX_CONNS", Default: "20", Type: "int",
		Usage: "PostgreSQL pool size",
		parse: set(func(c *Config) *int { return &c.DBMaxConns }, intIn(1, 1000))},
	{Flag: "db-query-timeout", Env: "GATEHOUSE_DB_QUERY_TIMEOUT", Default: "10s", Type: "duration",
		Usage: "PostgreSQL query timeout",
		parse: set(func(c *Config) *time.Duration { return &c.DBQueryTimeout }, duration(0))},
	{Flag: "db-slow-query", Env: "GATEHOUSE_DB_SLOW_QUERY", Default: "200ms", Type: "duration",
		Usage: "log PostgreSQL queries slower than this (without their arguments)",
		parse: set(func(c *Config) *time.Duration { return &c.DBSlowQuery }, duration(0))},
	{Flag: "ldap-provider", Env: "GATEHOUSE_LDAP_PROVIDER", DefaultDoc: "none (the door is off)", Type: "name",
		Usage: "LDAP provider the in-server LDAP door serves; the door runs only with one",
		parse: set(func(c *Config) *string { return &c.LDAPProvider }, providerName)},
	{Flag: "ldap-listen", Env: "GATEHOUSE_LDAP_LISTEN", Default: "127.0.0.1:3389", Type: "host:port",
		Usage: "LDAP listen address of the in-server door (empty: none)",
		parse: set(func(c *Config) *string { return &c.LDAPListen }, optional(hostPort))},
	{Flag: "ldaps-listen", Env: "GATEHOUSE_LDAPS_LISTEN", DefaultDoc: "none", Type: "host:port",
		Usage: "LDAPS listen address of the in-server door (needs a certificate)",
		parse: set(func(c *Config) *string { return &c.LDAPSListen }, optional(hostPort))},
	{Flag: "ldap-tls-cert", Env: "GATEHOUSE_LDAP_TLS_CERT", DefaultDoc: "the HTTPS one (`--tls-cert`)", Type: "path",
		Usage: "TLS certificate file (PEM) for StartTLS and LDAPS",
		parse: set(func(c *Config) *string { return &c.LDAPTLSCert }, text)},
	{Flag: "ldap-tls-key", Env: "GATEHOUSE_LDAP_TLS_KEY", DefaultDoc: "the HTTPS one (`--tls-key`)", Type: "path",
		Usage: "TLS private key file (PEM) for StartTLS and LDAPS",
		parse: set(func(c *Config) *string { return &c.LDAPTLSKey }, text)},
	{Flag: "oidc-allow-insecure-issuers", Env: "GATEHOUSE_OIDC_ALLOW_INSECURE_ISSUERS", Default: "false", Type: "bool",
		Usage: "fetch OIDC issuers' keys over plain HTTP and from loopback, private and link-local addresses: for tests only (warned at start)",
		parse: set(func(c *Config) *bool { return &c.OIDCAllowInsecureIssuers }, boolean)},
	{Flag: "trusted-proxies", Env: "GATEHOUSE_TRUSTED_PROXIES", Default: "127.0.0.0/8,::1/128", Type: "cidrs",
		Usage: "proxies whose `X-Forwarded-For` / `X-Real-IP` are believed: CIDR networks, comma-separated, or `none`",
		parse: set(func(c *Config) *[]netip.Prefix { return &c.TrustedProxies }, proxies)},
}

// byEnv finds a setting by its variable, for messages about several.
var byEnv = func() map[string]*Setting {
	m := make(map[string]*Setting, len(Settings))
	for _, s := range Settings {
		m[s.Env] = s
	}
	return m
}()

// set makes a setting's parser from where its value goes and how it is
// parsed, keeping each entry typed: a parser of durations cannot fill an
// int.
func set[T any](field func(*Config) *T, parse func(string) (T, error)) func(*Config, string) error {
	return func(c *Config, v string) error {
		x, err := parse(v)
		if err != nil {
			return err
		}
		*field(c) = x
		return nil
	}
}

// The parsers. Their errors follow "NAME: " and quote the value, except
// atLeast, which serves secrets.

func text(v string) (string, error) { return v, nil }

func hostPort(v string) (string, error) {
	if _, _, err := net.SplitHostPort(v); err != nil {
		return "", fmt.Errorf("%q is not host:port", v)
	}
	return v, nil
}

// optional lets a parser take "" too: an address left empty turns its
// listener off.
func optional(parse func(string) (string, error)) func(string) (string, error) {
	return func(v string) (string, error) {
		if v == "" {
			return "", nil
		}
		return parse(v)
	}
}

func database(v string) (string, error) {
	switch {
	case strings.HasPrefix(v, "postgres://"), strings.HasPrefix(v, "postgresql://"):
		if _, err := url.Parse(v); err != nil {
			// The URL may hold a password: not quoted.
			return "", errors.New("not a valid postgres:// URL")
		}
	case strings.HasPrefix(v, "sqlite:"):
		if strings.TrimPrefix(v, "sqlite:") == "" {
			return "", errors.New("sqlite: needs a file path, as in sqlite:gatehouse.db")
		}
	default:
		return "", errors.New("must be sqlite:PATH or a postgres:// URL")
	}
	return v, nil
}

// atLeast checks a secret's length and never quotes it.
func atLeast(n int) func(string) (string, error) {
	return func(v string) (string, error) {
		if len(v) < n {
			return "", fmt.Errorf("must be at least %d characters", n)
		}
		return v, nil
	}
}

func duration(least time.Duration) func(string) (time.Duration, error) {
	return func(v string) (time.Duration, error) {
		d, err := ParseDuration(v)
		if err != nil || d < 0 {
			return 0, fmt.Errorf("%q is not %s", v, DurationHint)
		}
		if d < least {
			return 0, fmt.Errorf("%q must be at least %s", v, FormatDuration(least))
		}
		return d, nil
	}
}

// zeroOr lets a duration with a least value also be 0, which means "off".
func zeroOr(parse func(string) (time.Duration, error)) func(string) (time.Duration, error) {
	return func(v string) (time.Duration, error) {
		if d, err := ParseDuration(v); err == nil && d == 0 {
			return 0, nil
		}
		d, err := parse(v)
		if err != nil {
			return 0, fmt.Errorf("%w, or 0", err)
		}
		return d, nil
	}
}

func intIn(lo, hi int) func(string) (int, error) {
	return func(v string) (int, error) {
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			return 0, fmt.Errorf("%q must be a whole number from %d to %d", v, lo, hi)
		}
		return n, nil
	}
}

func rate(v string) (float64, error) {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > 1e6 {
		return 0, fmt.Errorf("%q must be a number of requests per second from 0 to 1000000", v)
	}
	return f, nil
}

func boolean(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1", "yes":
		return true, nil
	case "false", "0", "no", "":
		return false, nil
	}
	return false, fmt.Errorf("%q must be true or false", v)
}

func oneOf(values ...string) func(string) (string, error) {
	return func(v string) (string, error) {
		for _, ok := range values {
			if v == ok {
				return v, nil
			}
		}
		return "", fmt.Errorf("%q must be %s or %s", v, strings.Join(values[:len(values)-1], ", "), values[len(values)-1])
	}
}

func proxies(v string) ([]netip.Prefix, error) {
	if strings.TrimSpace(v) == "none" {
		return nil, nil
	}
	return clientip.ParsePrefixes(v)
}
