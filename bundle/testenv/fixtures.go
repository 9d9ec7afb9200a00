package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// FixturesDir is the shared fixtures (rpm's and createrepo_c's test suites,
// ...): ../shared/fixtures beside the repository, as an absolute path
// found from the test's working directory (its package folder). Tests call
// Exists on what they use from it.
var FixturesDir = fixturesDir()

// Fixture is a path under FixturesDir.
func Fixture(parts ...string) string {
	return filepath.Join(append([]string{FixturesDir}, parts...)...)
}

// fixturesDir walks up from the working directory to the module root (the
// folder with go.mod) and returns ../shared/fixtures beside it.
func fixturesDir() string {
	wd, err := os.Getwd()
	if err != nil {
		return filepath.Join("..", "shared", "fixtures")
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(filepath.Dir(d), "shared", "fixtures")
		}
		if filepath.Dir(d) == d {
			return filepath.Join(filepath.Dir(wd), "shared", "fixtures")
		}
	}
}

// CopyFiles copies the named files (fixtures) into dir, keeping their base
// names, and returns the copies' paths.
func CopyFiles(t testing.TB, dir string, files ...string) []string {
	t.Helper()
	var out []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, filepath.Base(f))
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			t.Fatal(err)
		}
		out = append(out, dst)
	}
	return out
}
