// Package testenv is what a test does when something it needs (a tool, a
// fixture, root, a loader) is missing: it skips locally, and fails in CI,
// where BUNDLE_REQUIRE_TOOLS=1 says everything must be there, so that no
// test passes there by not running.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// Var is the environment variable CI sets to 1.
const Var = "BUNDLE_REQUIRE_TOOLS"

// Required reports whether missing prerequisites are failures.
func Required() bool { return os.Getenv(Var) == "1" }

// Skipf skips the test with the message, or fails it when Required.
func Skipf(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Required() {
		t.Fatalf("%s (%s=1: required)", msg, Var)
	}
	t.Skip(msg)
}

// LookPath returns the path of program, or Skipf's when it is not on PATH.
func LookPath(t testing.TB, program string) string {
	t.Helper()
	p, err := exec.LookPath(program)
	if err != nil {
		Skipf(t, "%s not installed", program)
	}
	return p
}

// Tools calls LookPath for each program.
func Tools(t testing.TB, programs ...string) {
	t.Helper()
	for _, p := range programs {
		LookPath(t, p)
	}
}

// Exists Skipf's unless path exists (a fixture, a loader).
func Exists(t testing.TB, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		Skipf(t, "%s: %v", path, err)
	}
}
