package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	c, err := Load(Source{Getenv: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:8420" || c.Database != "sqlite:gatehouse.db" || c.TokenMaxTTL != 0 || c.IsPostgres() {
		t.Fatalf("defaults = %+v", c)
	}
}

func TestFlagsWinOverEnvAndFilesAreRead(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	os.WriteFile(tokenFile, []byte("a-bootstrap-token-from-a-file-0123456789\n"), 0o600)
	c, err := Load(Source{
		Flags: map[string]string{"listen": "0.0.0.0:9000"},
		Getenv: env(map[string]string{
			"GATEHOUSE_LISTEN": "127.0.0.1:1", "GATEHOUSE_BOOTSTRAP_TOKEN_FILE": tokenFile,
			"GATEHOUSE_TOKEN_MAX_TTL": "2160h", "GATEHOUSE_DATABASE": "postgres://x@h/db", "GATEHOUSE_SECRET_KEY": strings.Repeat("k", 32),
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "0.0.0.0:9000" || c.BootstrapToken != "a-bootstrap-token-from-a-file-0123456789" || c.TokenMaxTTL != 2160*time.Hour || !c.IsPostgres() {
		t.Fatalf("config = %+v", c)
	}
}

func TestEveryProblemAtOnce(t *testing.T) {
	_, err := Load(Source{Getenv: env(map[string]string{
		"GATEHOUSE_LISTEN": "nope", "GATEHOUSE_DATABASE": "mysql://x", "GATEHOUSE_TOKEN_MAX_TTL": "forever",
		"GATEHOUSE_LOG_LEVEL": "loud", "GATEHOUSE_BOOTSTRAP_TOKEN": "short", "GATEHOUSE_TLS_CERT": "c.pem",
		"GATEHOUSE_SECRET_KEY_FILE": "/does/not/exist",
	})})
	var ce *Error
	if err == nil || !asError(err, &ce) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"GATEHOUSE_LISTEN", "GATEHOUSE_DATABASE", "GATEHOUSE_TOKEN_MAX_TTL", "GATEHOUSE_LOG_LEVEL",
		"GATEHOUSE_BOOTSTRAP_TOKEN", "GATEHOUSE_TLS_CERT", "GATEHOUSE_SECRET_KEY_FILE"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("problem with %s not reported:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "short") {
		t.Error("a secret value is echoed in the error")
	}
	_, err = Load(Source{Getenv: env(map[string]string{"GATEHOUSE_DATABASE": "postgres://x@h/db"})})
	if err == nil || !strings.Contains(err.Error(), "GATEHOUSE_SECRET_KEY") {
		t.Fatalf("postgres without a secret key: %v", err)
	}
}

func asError(err error, target **Error) bool {
	e, ok := err.(*Error)
	*target = e
	return ok
}

func TestNumbersMustBeWhole(t *testing.T) {
	for env, v := range map[string]string{
		"GATEHOUSE_MAX_CONCURRENT_REQUESTS": "10k", "GATEHOUSE_DB_MAX_CONNS": "20 conns",
		"GATEHOUSE_CLIENT_RATE": "NaN", "GATEHOUSE_CLIENT_BURST": "-1",
		"GATEHOUSE_MAX_TOKENS_PER_ACCOUNT": "-1",
	} {
		if _, err := Load(Source{Getenv: env2(env, v)}); err == nil || !strings.Contains(err.Error(), env) {
			t.Errorf("%s=%q accepted: %v", env, v, err)
		}
	}
	c, err := Load(Source{Getenv: env2("GATEHOUSE_CLIENT_RATE", "2.5")})
	if err != nil || c.ClientRate != 2.5 {
		t.Fatalf("rate 2.5: %v %v", c.ClientRate, err)
	}
	if d := Defaults(); d.MaxTokensPerAccount != 100 {
		t.Fatalf("default tokens per account: %d", d.MaxTokensPerAccount)
	}
	c, err = Load(Source{Flags: map[string]string{"max-tokens-per-account": "0"}, Getenv: env2("GATEHOUSE_MAX_TOKENS_PER_ACCOUNT", "5")})
	if err != nil || c.MaxTokensPerAccount != 0 {
		t.Fatalf("tokens per account 0 (no limit) from the flag: %v %v", c.MaxTokensPerAccount, err)
	}
}

func env2(k, v string) func(string) string {
	return func(s string) string {
		if s == k {
			return v
		}
		return ""
	}
}
