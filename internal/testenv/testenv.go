// Package testenv finds the real parts tests need (PostgreSQL, ldapsearch,
// nginx, Chromium). A test skips when a part is missing, unless
// GATEHOUSE_TEST_REQUIRE_ALL=1 (set by .ci/run), where a missing part fails
// the test: CI must never go green on skipped tests.
package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// RequireAll reports whether missing parts must fail tests.
func RequireAll() bool { return os.Getenv("GATEHOUSE_TEST_REQUIRE_ALL") == "1" }

func missing(t testing.TB, what string) {
	t.Helper()
	if RequireAll() {
		t.Fatalf("%s is required (GATEHOUSE_TEST_REQUIRE_ALL=1) but not available", what)
	}
	t.Skipf("%s not available; skipping (set it up or see .ci/run)", what)
}

// Postgres returns the DSN of the test PostgreSQL named by
// GATEHOUSE_TEST_POSTGRES, or skips.
func Postgres(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("GATEHOUSE_TEST_POSTGRES")
	if dsn == "" {
		missing(t, "postgres (GATEHOUSE_TEST_POSTGRES)")
	}
	return dsn
}

// Binary returns the path of an installed program, or skips.
func Binary(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		missing(t, name)
	}
	return p
}

// Tofu returns the absolute path of the OpenTofu binary the Terraform
// provider's acceptance tests drive: GATEHOUSE_TEST_TOFU, else
// ../shared/bin/tofu beside the repository (where this project keeps
// tools built from source), or skips.
func Tofu(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("GATEHOUSE_TEST_TOFU"); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil || !isExecutable(abs) {
			t.Fatalf("GATEHOUSE_TEST_TOFU=%s is not an executable file", p)
		}
		return abs
	}
	if root, ok := repoRoot(); ok {
		p := filepath.Join(filepath.Dir(root), "shared", "bin", "tofu")
		if isExecutable(p) {
			return p
		}
	}
	missing(t, "tofu (../shared/bin/tofu or GATEHOUSE_TEST_TOFU)")
	return ""
}

// repoRoot is the directory holding go.mod, above the test's directory.
func repoRoot() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}
