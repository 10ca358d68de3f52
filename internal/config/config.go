// Package config is gatehouse's typed server configuration: flags win over
// environment variables, which win over defaults; every secret setting
// also reads NAME_FILE; Validate reports every problem at once.
package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/clientip"
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
	SecretKey     string
	SecretKeyFile string

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
}

// Defaults are the documented defaults.
func Defaults() Config {
	return Config{
		Listen:                "127.0.0.1:8420",
		Database:              "sqlite:gatehouse.db",
		LDAPListen:            "127.0.0.1:3389",
		MaxTokensPerAccount:   100,
		CleanupInterval:       5 * time.Minute,
		EventRetention:        365 * 24 * time.Hour,
		ShutdownTimeout:       30 * time.Second,
		LogLevel:              "info",
		LogFormat:             "text",
		DBMaxConns:            20,
		MaxConcurrentRequests: 1024,
		ClientBurst:           100,
		DBQueryTimeout:        10 * time.Second,
		DBSlowQuery:           200 * time.Millisecond,
		TrustedProxies:        clientip.DefaultTrusted,
	}
}

// Setting describes one setting: its flag, its environment variable, and
// whether it is a secret (read from NAME_FILE too, never shown).
type Setting struct {
	Flag   string
	Env    string
	Secret bool
	Usage  string
}

// Settings lists every setting, in the order the README documents them.
var Settings = []Setting{
	{"listen", "GATEHOUSE_LISTEN", false, "HTTP listen address"},
	{"database", "GATEHOUSE_DATABASE", false, "database: sqlite:PATH or a postgres:// URL"},
	{"ldap-listen", "GATEHOUSE_LDAP_LISTEN", false, "LDAP listen address of the in-server front door (it runs when --ldap-provider is set)"},
	{"ldap-provider", "GATEHOUSE_LDAP_PROVIDER", false, "LDAP provider the in-server front door serves (empty: the door is off)"},
	{"ldaps-listen", "GATEHOUSE_LDAPS_LISTEN", false, "LDAPS listen address of the in-server front door (empty: none; needs a certificate)"},
	{"ldap-tls-cert", "GATEHOUSE_LDAP_TLS_CERT", false, "TLS certificate file (PEM) for StartTLS and LDAPS (default: --tls-cert)"},
	{"ldap-tls-key", "GATEHOUSE_LDAP_TLS_KEY", false, "TLS private key file (PEM) for StartTLS and LDAPS (default: --tls-key)"},
	{"", "GATEHOUSE_BOOTSTRAP_PASSWORD", true, "first admin's password"},
	{"", "GATEHOUSE_BOOTSTRAP_TOKEN", true, "first admin's API token (32+ characters)"},
	{"secret-key-file", "GATEHOUSE_SECRET_KEY", true, "key of the token hashes (32+ bytes); SQLite default: PATH.key beside the database"},
	{"token-max-ttl", "GATEHOUSE_TOKEN_MAX_TTL", false, "longest lifetime a token may have (0: no limit)"},
	{"max-tokens-per-account", "GATEHOUSE_MAX_TOKENS_PER_ACCOUNT", false, "tokens and app passwords one account may hold, outposts' managed tokens not counted (0: no limit); more get 409"},
	{"cleanup-interval", "GATEHOUSE_CLEANUP_INTERVAL", false, "how often expired app passwords and old keys are removed"},
	{"event-retention", "GATEHOUSE_EVENT_RETENTION", false, "how long audit events are kept, as a duration (8760h) or days (365d); 0 keeps them forever"},
	{"event-stream", "GATEHOUSE_EVENT_STREAM", false, "also write every audit event as a JSON line to stdout or to this file (appended)"},
	{"log-level", "GATEHOUSE_LOG_LEVEL", false, "debug, info, warn or error"},
	{"log-format", "GATEHOUSE_LOG_FORMAT", false, "text or json"},
	{"tls-cert", "GATEHOUSE_TLS_CERT", false, "TLS certificate file (PEM) for HTTPS"},
	{"tls-key", "GATEHOUSE_TLS_KEY", false, "TLS private key file (PEM) for HTTPS"},
	{"max-concurrent-requests", "GATEHOUSE_MAX_CONCURRENT_REQUESTS", false, "API requests served at once; more get 429"},
	{"client-rate", "GATEHOUSE_CLIENT_RATE", false, "API requests per second per client address (0: no limit); more get 429"},
	{"client-burst", "GATEHOUSE_CLIENT_BURST", false, "requests a client may send at once above its rate"},
	{"db-max-conns", "GATEHOUSE_DB_MAX_CONNS", false, "PostgreSQL pool size"},
	{"db-query-timeout", "GATEHOUSE_DB_QUERY_TIMEOUT", false, "PostgreSQL query timeout"},
	{"db-slow-query", "GATEHOUSE_DB_SLOW_QUERY", false, "log PostgreSQL queries slower than this"},
	{"trusted-proxies", "GATEHOUSE_TRUSTED_PROXIES", false, "comma-separated CIDR networks whose X-Forwarded-For/X-Real-IP are believed (default loopback only; \"none\" for none)"},
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
	var problems []string
	get := func(s Setting) (string, bool) {
		if s.Flag != "" {
			if v, ok := src.Flags[s.Flag]; ok {
				if s.Secret { // secret flags name a file
					return readSecretFile(s.Flag, v, &problems)
				}
				return v, true
			}
		}
		if v := src.Getenv(s.Env); v != "" {
			return v, true
		}
		if s.Secret {
			if f := src.Getenv(s.Env + "_FILE"); f != "" {
				return readSecretFile(s.Env+"_FILE", f, &problems)
			}
		}
		return "", false
	}
	dur := func(name, v string, dst *time.Duration) {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			problems = append(problems, fmt.Sprintf("%s: %q is not a duration such as 90s or 720h", name, v))
			return
		}
		*dst = d
	}
	for _, s := range Settings {
		v, ok := get(s)
		if !ok {
			continue
		}
		switch s.Env {
		case "GATEHOUSE_LISTEN":
			c.Listen = v
		case "GATEHOUSE_DATABASE":
			c.Database = v
		case "GATEHOUSE_LDAP_LISTEN":
			c.LDAPListen = v
		case "GATEHOUSE_LDAP_PROVIDER":
			c.LDAPProvider = v
		case "GATEHOUSE_LDAPS_LISTEN":
			c.LDAPSListen = v
		case "GATEHOUSE_LDAP_TLS_CERT":
			c.LDAPTLSCert = v
		case "GATEHOUSE_LDAP_TLS_KEY":
			c.LDAPTLSKey = v
		case "GATEHOUSE_BOOTSTRAP_PASSWORD":
			c.BootstrapPassword = v
		case "GATEHOUSE_BOOTSTRAP_TOKEN":
			c.BootstrapToken = v
		case "GATEHOUSE_SECRET_KEY":
			c.SecretKey = v
		case "GATEHOUSE_TOKEN_MAX_TTL":
			dur(s.Env, v, &c.TokenMaxTTL)
		case "GATEHOUSE_MAX_TOKENS_PER_ACCOUNT":
			c.MaxTokensPerAccount = intSetting(s.Env, v, 0, 1_000_000, &problems)
		case "GATEHOUSE_EVENT_RETENTION":
			if days, ok := strings.CutSuffix(v, "d"); ok {
				n, err := strconv.Atoi(days)
				if err != nil || n < 0 || n > 100*365 {
					problems = append(problems, fmt.Sprintf("%s: %q must be a whole number of days such as 365d, or a duration such as 8760h", s.Env, v))
				}
				c.EventRetention = time.Duration(n) * 24 * time.Hour
			} else {
				dur(s.Env, v, &c.EventRetention)
			}
		case "GATEHOUSE_EVENT_STREAM":
			c.EventStream = v
		case "GATEHOUSE_CLEANUP_INTERVAL":
			dur(s.Env, v, &c.CleanupInterval)
		case "GATEHOUSE_LOG_LEVEL":
			c.LogLevel = v
		case "GATEHOUSE_LOG_FORMAT":
			c.LogFormat = v
		case "GATEHOUSE_TLS_CERT":
			c.TLSCert = v
		case "GATEHOUSE_TLS_KEY":
			c.TLSKey = v
		case "GATEHOUSE_DB_MAX_CONNS":
			c.DBMaxConns = intSetting(s.Env, v, 1, 1000, &problems)
		case "GATEHOUSE_MAX_CONCURRENT_REQUESTS":
			c.MaxConcurrentRequests = intSetting(s.Env, v, 1, 1_000_000, &problems)
		case "GATEHOUSE_CLIENT_BURST":
			c.ClientBurst = intSetting(s.Env, v, 1, 1_000_000, &problems)
		case "GATEHOUSE_CLIENT_RATE":
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || math.IsNaN(f) || f < 0 || f > 1e6 {
				problems = append(problems, fmt.Sprintf("%s: %q must be a number of requests per second from 0 to 1000000", s.Env, v))
			}
			c.ClientRate = f
		case "GATEHOUSE_DB_QUERY_TIMEOUT":
			dur(s.Env, v, &c.DBQueryTimeout)
		case "GATEHOUSE_DB_SLOW_QUERY":
			dur(s.Env, v, &c.DBSlowQuery)
		case "GATEHOUSE_TRUSTED_PROXIES":
			if strings.TrimSpace(v) == "none" {
				c.TrustedProxies = nil
			} else if ps, err := clientip.ParsePrefixes(v); err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", s.Env, err))
			} else {
				c.TrustedProxies = ps
			}
		}
	}
	problems = append(problems, c.validate()...)
	if len(problems) > 0 {
		return c, &Error{Problems: problems}
	}
	return c, nil
}

func intSetting(name, v string, lo, hi int, problems *[]string) int {
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		*problems = append(*problems, fmt.Sprintf("%s: %q must be a whole number from %d to %d", name, v, lo, hi))
	}
	return n
}

func readSecretFile(name, path string, problems *[]string) (string, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		*problems = append(*problems, fmt.Sprintf("%s: cannot read %q: %v", name, path, errors.Unwrap(err)))
		return "", false
	}
	return strings.TrimRight(string(b), "\r\n"), true
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

func (c Config) validate() []string {
	var p []string
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		p = append(p, fmt.Sprintf("GATEHOUSE_LISTEN: %q is not host:port", c.Listen))
	}
	p = append(p, c.validateLDAP()...)
	if c.LDAPListen != "" {
		if _, _, err := net.SplitHostPort(c.LDAPListen); err != nil {
			p = append(p, fmt.Sprintf("GATEHOUSE_LDAP_LISTEN: %q is not host:port", c.LDAPListen))
		}
	}
	switch {
	case c.IsPostgres():
		if _, err := url.Parse(c.Database); err != nil {
			p = append(p, "GATEHOUSE_DATABASE: not a valid postgres:// URL")
		}
		if c.SecretKey == "" {
			p = append(p, "GATEHOUSE_SECRET_KEY (or _FILE): required with PostgreSQL, and the same on every instance")
		}
	case strings.HasPrefix(c.Database, "sqlite:"):
		if c.SQLitePath() == "" {
			p = append(p, "GATEHOUSE_DATABASE: sqlite: needs a file path, as in sqlite:gatehouse.db")
		}
	default:
		p = append(p, "GATEHOUSE_DATABASE: must be sqlite:PATH or a postgres:// URL")
	}
	if c.SecretKey != "" && len(c.SecretKey) < 32 {
		p = append(p, "GATEHOUSE_SECRET_KEY: must be at least 32 characters")
	}
	if c.BootstrapToken != "" && len(c.BootstrapToken) < 32 {
		p = append(p, "GATEHOUSE_BOOTSTRAP_TOKEN: must be at least 32 characters")
	}
	if c.BootstrapPassword != "" && len(c.BootstrapPassword) < 8 {
		p = append(p, "GATEHOUSE_BOOTSTRAP_PASSWORD: must be at least 8 characters")
	}
	if c.CleanupInterval < time.Second {
		p = append(p, "GATEHOUSE_CLEANUP_INTERVAL: must be at least 1s")
	}
	if c.EventRetention != 0 && c.EventRetention < time.Hour {
		p = append(p, "GATEHOUSE_EVENT_RETENTION: must be 0 (keep forever) or at least 1h")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		p = append(p, fmt.Sprintf("GATEHOUSE_LOG_LEVEL: %q must be debug, info, warn or error", c.LogLevel))
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		p = append(p, fmt.Sprintf("GATEHOUSE_LOG_FORMAT: %q must be text or json", c.LogFormat))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		p = append(p, "GATEHOUSE_TLS_CERT and GATEHOUSE_TLS_KEY: give both or neither")
	}
	return p
}
