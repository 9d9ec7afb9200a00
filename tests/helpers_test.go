// Package tests runs the real bundle binary on real inputs: the RPM fixtures
// of rpm's and createrepo_c's test suites (../shared/fixtures) and packages
// built here with rpmbuild.
package tests

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/bundle-dev/bundle/bundle/testenv"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// repoRoot is the repository's top directory (tests run in tests/).
func repoRoot(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(wd)
}

// fixtures is ../shared/fixtures beside the repository.
func fixtures(t testing.TB) string {
	t.Helper()
	dir := testenv.FixturesDir
	testenv.Exists(t, dir)
	return dir
}

// bundleBin builds the bundle binary once per test run.
func bundleBin(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "bundle-e2e-bin")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "bundle")
		cmd := exec.Command("go", "build", "-trimpath", "-o", binPath, ".")
		cmd.Dir = repoRoot(t)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// need skips (or, in CI with BUNDLE_REQUIRE_TOOLS=1, fails) without a tool.
func need(t testing.TB, tools ...string) {
	t.Helper()
	testenv.Tools(t, tools...)
}

type result struct {
	code           int
	stdout, stderr string
}

// runBundle runs the binary with args and extra environment.
func runBundle(t testing.TB, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bundleBin(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("run bundle %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return result{code, o.String(), e.String()}
}

func mustRun(t testing.TB, env []string, args ...string) result {
	t.Helper()
	r := runBundle(t, env, args...)
	if r.code != 0 {
		t.Fatalf("bundle %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

func sh(t testing.TB, dir string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func fileSHA(t testing.TB, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

var (
	demoOnce sync.Once
	demoDir  string
	demoErr  error
)

// demoRepo builds recipes/demo with rpmbuild (reproducibly) once and returns
// a directory holding its binary RPMs.
func demoRepo(t testing.TB) string {
	t.Helper()
	need(t, "rpmbuild", "gcc")
	demoOnce.Do(func() {
		dir, err := os.MkdirTemp("", "bundle-e2e-demo")
		if err != nil {
			demoErr = err
			return
		}
		top := filepath.Join(dir, "rpmbuild")
		cmd := exec.Command("rpmbuild", "--quiet",
			"--define", "_topdir "+top,
			"--define", "_sourcedir "+filepath.Join(repoRoot(t), "recipes", "demo"),
			"--define", "use_source_date_epoch_as_buildtime 1",
			"--define", "clamp_mtime_to_source_date_epoch 1",
			"-bb", filepath.Join(repoRoot(t), "recipes", "demo", "demo.spec"))
		cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1767225600")
		if out, err := cmd.CombinedOutput(); err != nil {
			demoErr = fmt.Errorf("rpmbuild demo: %v\n%s", err, out)
			return
		}
		demoDir = filepath.Join(dir, "repo")
		os.MkdirAll(demoDir, 0o755)
		rpms, _ := filepath.Glob(filepath.Join(top, "RPMS", runtime.GOARCH, "*.rpm"))
		if len(rpms) == 0 {
			rpms, _ = filepath.Glob(filepath.Join(top, "RPMS", "*", "*.rpm"))
		}
		for _, r := range rpms {
			data, err := os.ReadFile(r)
			if err != nil {
				demoErr = err
				return
			}
			os.WriteFile(filepath.Join(demoDir, filepath.Base(r)), data, 0o644)
		}
	})
	if demoErr != nil {
		t.Fatal(demoErr)
	}
	return demoDir
}
