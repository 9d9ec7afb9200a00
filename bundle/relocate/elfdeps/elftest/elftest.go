// Package elftest builds tiny ELF programs and libraries with the host's C
// compiler for the tests of the relocation and audit packages, and skips a
// test when a tool is missing unless BUNDLE_REQUIRE_TOOLS=1.
package elftest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bundle-dev/bundle/bundle/testenv"
)

// RequireTools skips t when one of tools is not on PATH, or fails it when
// the environment variable BUNDLE_REQUIRE_TOOLS is 1 (as in CI).
func RequireTools(t testing.TB, tools ...string) {
	t.Helper()
	testenv.Tools(t, tools...)
}

// Lib describes a shared library to build.
type Lib struct {
	Soname string   // e.g. "libfoo.so.1"; the file is written under this name
	Source string   // C source
	Flags  []string // extra compiler and linker flags
}

// BuildLib compiles l into dir/l.Soname and returns the path. Dependencies
// are given as flags ("-L", dir, "-l:libbar.so.1").
func BuildLib(t testing.TB, dir string, l Lib) string {
	t.Helper()
	out := filepath.Join(dir, l.Soname)
	args := append([]string{"-shared", "-fPIC", "-O1", "-o", out, "-Wl,-soname," + l.Soname, "-x", "c", "-"}, l.Flags...)
	run(t, l.Source, args)
	return out
}

// BuildExe compiles a program into out. Libraries it links against are
// given as flags.
func BuildExe(t testing.TB, out, source string, flags ...string) string {
	t.Helper()
	args := append([]string{"-O1", "-o", out, "-x", "c", "-"}, flags...)
	run(t, source, args)
	return out
}

func run(t testing.TB, source string, args []string) {
	t.Helper()
	RequireTools(t, "gcc")
	if err := os.MkdirAll(filepath.Dir(args[indexOf(args, "-o")+1]), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("gcc", args...)
	cmd.Stdin = strings.NewReader(source)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gcc %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}
