package config

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/clientip"
)

// TestDefaultsKeepTheContract: the table's defaults are the ones the
// contract and earlier releases documented, field by field.
func TestDefaultsKeepTheContract(t *testing.T) {
	want := Config{
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
	if got := Defaults(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Defaults() =\n%+v\nwant\n%+v", got, want)
	}
}

// TestTheContractsSettings: the flags and variables of the contract
// ("Process and configuration") are in the table, unchanged.
func TestTheContractsSettings(t *testing.T) {
	for _, want := range []Setting{
		{Flag: "listen", Env: "GATEHOUSE_LISTEN", Default: "127.0.0.1:8420"},
		{Flag: "database", Env: "GATEHOUSE_DATABASE", Default: "sqlite:gatehouse.db"},
		{Env: "GATEHOUSE_BOOTSTRAP_PASSWORD", File: true},
		{Env: "GATEHOUSE_BOOTSTRAP_TOKEN", File: true},
		{Flag: "ldap-listen", Env: "GATEHOUSE_LDAP_LISTEN", Default: "127.0.0.1:3389"},
	} {
		s := byEnv[want.Env]
		if s == nil || s.Flag != want.Flag || s.Default != want.Default || s.File != want.File {
			t.Errorf("%s: %+v, want flag %q, default %q, file %v", want.Env, s, want.Flag, want.Default, want.File)
		}
	}
}

// TestSettingsTable: each entry is complete and fits where it is shown.
func TestSettingsTable(t *testing.T) {
	flags, envs := map[string]bool{}, map[string]bool{}
	flagName := regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
	for _, s := range Settings {
		if !strings.HasPrefix(s.Env, "GATEHOUSE_") || envs[s.Env] {
			t.Errorf("%s: variable not GATEHOUSE_ or twice", s.Env)
		}
		envs[s.Env] = true
		if s.Flag != "" && (!flagName.MatchString(s.Flag) || flags[s.Flag] || s.Type == "") {
			t.Errorf("%s: flag %q is badly named, twice, or has no type", s.Env, s.Flag)
		}
		flags[s.Flag] = true
		if s.parse == nil || s.Usage == "" {
			t.Errorf("%s: no parser or no usage", s.Env)
		}
		// A | would split the README's table row.
		if strings.Contains(s.Usage+s.DefaultDoc, "|") {
			t.Errorf("%s: | in its usage or default", s.Env)
		}
		if s.File && s.Default != "" {
			t.Errorf("%s: a secret with a default", s.Env)
		}
	}
}

// TestConfigurationTableInREADME: the README's table of settings is the
// table itself, rendered.
func TestConfigurationTableInREADME(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if table := MarkdownTable(); !strings.Contains(string(readme), table) {
		t.Fatalf("README.md does not hold the settings table; paste it under \"## Configuration\":\n%s", table)
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"90s": 90 * time.Second, "720h": 720 * time.Hour, "1h30m": 90 * time.Minute, "0": 0, "-1h": -time.Hour,
		"30d": 30 * 24 * time.Hour, "0d": 0, "1d12h": 36 * time.Hour, "365d": 365 * 24 * time.Hour, "1d30m5s": 24*time.Hour + 30*time.Minute + 5*time.Second,
	} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "30", "3days", "-1d", "+1d", "1.5d", "1d-1h", "1d+1h", "1dd", "d1h", "1h1d", "200000d", "106751d24h"} {
		if got, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", in, got)
		}
	}
}

// TestErrorsNameTheirSource: a problem names the flag when a flag was
// used, the variable when a variable was, and the _FILE variable or flag
// that named an unreadable file, never a secret's value.
func TestErrorsNameTheirSource(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	for _, tc := range []struct {
		name  string
		flags map[string]string
		env   map[string]string
		want  []string
	}{
		{"flag", map[string]string{"listen": "nope"}, nil, []string{`--listen: "nope" is not host:port`}},
		{"variable", nil, map[string]string{"GATEHOUSE_LISTEN": "nope"}, []string{`GATEHOUSE_LISTEN: "nope" is not host:port`}},
		{"the flag wins, so its value is the one judged", map[string]string{"listen": "nope"}, map[string]string{"GATEHOUSE_LISTEN": "127.0.0.1:1"}, []string{`--listen: "nope"`}},
		{"durations", map[string]string{"token-max-ttl": "forever"}, map[string]string{"GATEHOUSE_DB_QUERY_TIMEOUT": "-1s"},
			[]string{`--token-max-ttl: "forever" is not a duration such as 90s, 720h or 30d`, `GATEHOUSE_DB_QUERY_TIMEOUT: "-1s" is not a duration`}},
		{"secret flag names a file", map[string]string{"secret-key-file": missing}, nil, []string{`--secret-key-file: cannot read "` + missing + `": no such file or directory`}},
		{"secret _FILE", nil, map[string]string{"GATEHOUSE_BOOTSTRAP_TOKEN_FILE": missing}, []string{`GATEHOUSE_BOOTSTRAP_TOKEN_FILE: cannot read "` + missing + `"`}},
		{"pairs in flag style", map[string]string{"tls-cert": "c.pem"}, nil, []string{"--tls-cert and --tls-key: give both or neither"}},
		{"pairs in variable style", nil, map[string]string{"GATEHOUSE_LDAP_TLS_KEY": "k.pem"}, []string{"GATEHOUSE_LDAP_TLS_CERT and GATEHOUSE_LDAP_TLS_KEY: give both or neither"}},
		{"pairs as given", map[string]string{"tls-cert": "c.pem"}, map[string]string{"GATEHOUSE_TLS_KEY": ""}, []string{"--tls-cert and --tls-key"}},
		{"the LDAP door", map[string]string{"ldap-provider": "corp", "ldap-listen": ""}, nil, []string{"--ldap-provider: set, but neither --ldap-listen nor --ldaps-listen is"}},
		{"LDAPS without a certificate", nil, map[string]string{"GATEHOUSE_LDAPS_LISTEN": "127.0.0.1:6636"},
			[]string{"GATEHOUSE_LDAPS_LISTEN: needs a certificate (GATEHOUSE_LDAP_TLS_CERT and GATEHOUSE_LDAP_TLS_KEY, or GATEHOUSE_TLS_CERT and GATEHOUSE_TLS_KEY)"}},
		{"PostgreSQL without a key", map[string]string{"database": "postgres://h/db"}, nil, []string{"--database: PostgreSQL needs GATEHOUSE_SECRET_KEY"}},
	} {
		_, err := Load(Source{Flags: tc.flags, Getenv: env(tc.env)})
		for _, want := range tc.want {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s: %v\nwant %q", tc.name, err, want)
			}
		}
	}
}

// TestSecretsAreNotQuoted: a bad secret's message says what is wrong
// with it, from a flag's file, a variable or a _FILE, without its value.
func TestSecretsAreNotQuoted(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "key")
	os.WriteFile(file, []byte("short-secret-in-a-file\n"), 0o600)
	_, err := Load(Source{Flags: map[string]string{"secret-key-file": file}, Getenv: env(map[string]string{
		"GATEHOUSE_BOOTSTRAP_TOKEN": "short-secret-in-a-variable", "GATEHOUSE_BOOTSTRAP_PASSWORD_FILE": file,
		"GATEHOUSE_DATABASE": "postgres://user:short-password@h/%zz",
	})})
	for _, want := range []string{"--secret-key-file: must be at least 32 characters", "GATEHOUSE_BOOTSTRAP_TOKEN: must be at least 32 characters",
		"GATEHOUSE_DATABASE: not a valid postgres:// URL"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v\nwant %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "short-") {
		t.Errorf("a secret is quoted: %v", err)
	}
	// The password file holds 22 characters, enough for a password.
	c, err := Load(Source{Getenv: env(map[string]string{"GATEHOUSE_BOOTSTRAP_PASSWORD_FILE": file})})
	if err != nil || c.BootstrapPassword != "short-secret-in-a-file" {
		t.Fatalf("password from a file: %q %v", c.BootstrapPassword, err)
	}
}

// TestDaysEverywhere: every duration setting takes days.
func TestDaysEverywhere(t *testing.T) {
	vars := map[string]string{}
	for _, s := range Settings {
		if s.Type == "duration" {
			vars[s.Env] = "2d"
		}
	}
	c, err := Load(Source{Getenv: env(vars)})
	if err != nil {
		t.Fatal(err)
	}
	const twoDays = 48 * time.Hour
	if c.TokenMaxTTL != twoDays || c.CleanupInterval != twoDays || c.EventRetention != twoDays || c.DBQueryTimeout != twoDays || c.DBSlowQuery != twoDays {
		t.Fatalf("2d: %+v", c)
	}
	if len(vars) != 5 {
		t.Fatalf("%d duration settings; this test knows 5", len(vars))
	}
}

func TestLeastDurations(t *testing.T) {
	_, err := Load(Source{Flags: map[string]string{"event-retention": "30m", "cleanup-interval": "500ms"}, Getenv: env(nil)})
	for _, want := range []string{`--event-retention: "30m" must be at least 1h, or 0`, `--cleanup-interval: "500ms" must be at least 1s`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v\nwant %q", err, want)
		}
	}
	for d, want := range map[time.Duration]string{time.Hour: "1h", time.Second: "1s", 90 * time.Minute: "1h30m", 5 * time.Minute: "5m"} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
