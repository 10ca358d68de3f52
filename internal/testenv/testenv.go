// Package testenv finds the real parts tests need (PostgreSQL, ldapsearch,
// nginx, Chromium). A test skips when a part is missing, unless
// GATEHOUSE_TEST_REQUIRE_ALL=1 (set by .ci/run), where a missing part fails
// the test: CI must never go green on skipped tests.
package testenv

import (
	"os"
	"os/exec"
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
