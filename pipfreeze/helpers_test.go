package pipfreeze

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bundle-dev/bundle/bundle/testenv"
)

var (
	pythonOnce sync.Once
	pythonPath string
	pythonWhy  string
)

// testPython finds a Python 3.8+ with the venv module to stand in for the
// bundle's own: $BUNDLE_TEST_PYTHON, a pyenv 3.11, python3.11, python3.
func testPython(t testing.TB) string {
	t.Helper()
	pythonOnce.Do(func() {
		var cands []string
		if p := os.Getenv("BUNDLE_TEST_PYTHON"); p != "" {
			cands = append(cands, p)
		}
		pyenv := os.Getenv("PYENV_ROOT")
		if pyenv == "" {
			if home, err := os.UserHomeDir(); err == nil {
				pyenv = filepath.Join(home, ".pyenv")
			}
		}
		if m, _ := filepath.Glob(filepath.Join(pyenv, "versions", "3.11*", "bin", "python3")); len(m) > 0 {
			sort.Strings(m)
			cands = append(cands, m[len(m)-1])
		}
		for _, n := range []string{"python3.11", "python3"} {
			if p, err := exec.LookPath(n); err == nil {
				cands = append(cands, p)
			}
		}
		for _, c := range cands {
			out, err := exec.Command(c, "-I", "-c", "import sys, venv; assert sys.version_info >= (3, 8); print('ok')").Output()
			if err == nil && strings.TrimSpace(string(out)) == "ok" {
				pythonPath = c
				return
			}
		}
		pythonWhy = fmt.Sprintf("no Python 3.8+ with venv (tried %v; set BUNDLE_TEST_PYTHON)", cands)
	})
	if pythonPath == "" {
		testenv.Skipf(t, "%s", pythonWhy)
	}
	return pythonPath
}

var (
	setOnce sync.Once
	setDir  string
	setErr  string
)

// offlineSet returns the Debian-gathered offline set, gathering it with
// recipes/gather-python-wheels.sh -p PYTHON (pip and setuptools from the
// test Python's ensurepip) into $BUNDLE_CACHE/python-tests (else
// ~/.cache/bundle/python-tests) when it is not there yet or was gathered
// for another Python. (CACHE/python is the bundle's own set, gathered
// for the bundle's Python.)
func offlineSet(t testing.TB) string {
	t.Helper()
	py := testPython(t)
	setOnce.Do(func() {
		dir := os.Getenv("BUNDLE_CACHE")
		if dir == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				setErr = "no BUNDLE_CACHE and no home directory for the offline set"
				return
			}
			dir = filepath.Join(home, ".cache", "bundle")
		}
		dir = filepath.Join(dir, "python-tests")
		if !setComplete(py, dir) {
			if _, err := exec.LookPath("apt-get"); err != nil {
				setErr = "the offline Python set is not cached and apt-get is missing to gather it"
				return
			}
			if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
				setErr = err.Error()
				return
			}
			tmp, err := os.MkdirTemp(filepath.Dir(dir), "python.gather-")
			if err != nil {
				setErr = err.Error()
				return
			}
			defer os.RemoveAll(tmp)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "sh", "../recipes/gather-python-wheels.sh", "-p", py, tmp)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Run(); err != nil || !setComplete(py, tmp) {
				setErr = fmt.Sprintf("gather the offline Python set: %v\n%s", err, out.String())
				return
			}
			old := dir + ".old"
			os.RemoveAll(old)
			os.Rename(dir, old)
			if err := os.Rename(tmp, dir); err != nil {
				setErr = err.Error()
				return
			}
			os.RemoveAll(old)
		}
		// The jail user reads the set (MkdirTemp made it private).
		if err := os.Chmod(dir, 0o755); err != nil {
			setErr = err.Error()
			return
		}
		setDir = dir
	})
	if setDir == "" {
		testenv.Skipf(t, "%s", setErr)
	}
	return setDir
}

// setComplete reports whether dir holds the whole gathered set, with the
// pip and setuptools wheels of py's ensurepip (when it has them) as its only
// pip and setuptools.
func setComplete(py, dir string) bool {
	for _, w := range []string{"pip-*.whl", "setuptools-*.whl", "wheel-*.whl", "requests-*.whl", "six-*.whl",
		"urllib3-*.whl", "idna-*.whl", "charset_normalizer-*.whl", "certifi-*.whl", "chardet-*.whl"} {
		if m, _ := filepath.Glob(filepath.Join(dir, w)); len(m) != 1 {
			return false
		}
	}
	out, err := exec.Command(py, "-I", "-c", "import ensurepip, os; print(os.path.dirname(ensurepip.__file__))").Output()
	if err != nil {
		return true // no ensurepip: Debian's wheels it is
	}
	bundled, _ := filepath.Glob(filepath.Join(strings.TrimSpace(string(out)), "_bundled", "*.whl"))
	for _, b := range bundled {
		if _, err := os.Stat(filepath.Join(dir, filepath.Base(b))); err != nil {
			return false
		}
	}
	return true
}

// toolsDir returns a find-links directory holding only the pip, setuptools
// and wheel wheels of the offline set.
func toolsDir(t testing.TB) string {
	t.Helper()
	set := offlineSet(t)
	dir := t.TempDir()
	for _, pat := range []string{"pip-*.whl", "setuptools-*.whl", "wheel-*.whl"} {
		m, _ := filepath.Glob(filepath.Join(set, pat))
		for _, f := range m {
			if err := os.Symlink(f, filepath.Join(dir, filepath.Base(f))); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

// newRoot makes a staging root whose Python is a venv copy of py at
// ROOT/usr/bin/python3 (no pip inside), as the bundle's own would be.
func newRoot(t testing.TB, py string) (root, python string) {
	t.Helper()
	return newRootAt(t, py, filepath.Join(t.TempDir(), "root"))
}

// newRootAt is newRoot at a given path.
func newRootAt(t testing.TB, py, root string) (string, string) {
	t.Helper()
	out, err := exec.Command(py, "-I", "-m", "venv", "--copies", "--without-pip", filepath.Join(root, "usr")).CombinedOutput()
	if err != nil {
		t.Fatalf("venv: %v\n%s", err, out)
	}
	return root, filepath.Join(root, "usr", "bin", "python3")
}

// makeWheel writes a pure-Python wheel NAME-VERSION-py3-none-any.whl into
// dir with the given files (path -> content), Requires-Dist lines and
// entry_points.txt (may be empty), and returns its path.
func makeWheel(t testing.TB, dir, name, version string, files map[string]string, requires []string, entryPoints string) string {
	t.Helper()
	dist := strings.ReplaceAll(name, "-", "_")
	di := dist + "-" + version + ".dist-info/"
	all := map[string]string{}
	for k, v := range files {
		all[k] = v
	}
	meta := "Metadata-Version: 2.1\nName: " + name + "\nVersion: " + version + "\n"
	for _, r := range requires {
		meta += "Requires-Dist: " + r + "\n"
	}
	all[di+"METADATA"] = meta
	all[di+"WHEEL"] = "Wheel-Version: 1.0\nGenerator: pipfreeze test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
	if entryPoints != "" {
		all[di+"entry_points.txt"] = entryPoints
	}
	var names []string
	for k := range all {
		names = append(names, k)
	}
	sort.Strings(names)
	var record strings.Builder
	for _, n := range names {
		sum := sha256.Sum256([]byte(all[n]))
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", n, base64.RawURLEncoding.EncodeToString(sum[:]), len(all[n]))
	}
	record.WriteString(di + "RECORD,,\n")
	all[di+"RECORD"] = record.String()
	names = append(names, di+"RECORD")

	path := filepath.Join(dir, dist+"-"+version+"-py3-none-any.whl")
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range names {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: n, Method: zip.Deflate, Modified: time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(all[n])); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// setupPy is a setuptools setup script for a one-package project.
func setupPy(name, version string, requires ...string) string {
	reqs := ""
	for _, r := range requires {
		reqs += fmt.Sprintf("%q, ", r)
	}
	return fmt.Sprintf("from setuptools import setup\nsetup(name=%q, version=%q, packages=[%q], install_requires=[%s])\n",
		name, version, name, reqs)
}

// makeSdist writes NAME-VERSION.tar.gz (a setuptools sdist with PKG-INFO)
// into dir with the given files below the top directory.
func makeSdist(t testing.TB, dir, name, version string, files map[string]string) string {
	t.Helper()
	top := name + "-" + version + "/"
	all := map[string]string{"PKG-INFO": "Metadata-Version: 2.1\nName: " + name + "\nVersion: " + version + "\n"}
	for k, v := range files {
		all[k] = v
	}
	var names []string
	for k := range all {
		names = append(names, k)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	dirs := map[string]bool{}
	for _, n := range names {
		for d := filepath.Dir(n); d != "." && !dirs[d]; d = filepath.Dir(d) {
			dirs[d] = true
			if err := tw.WriteHeader(&tar.Header{Name: top + d + "/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: time.Unix(0, 0)}); err != nil {
				t.Fatal(err)
			}
		}
		if err := tw.WriteHeader(&tar.Header{Name: top + n, Mode: 0o644, Size: int64(len(all[n])), ModTime: time.Unix(0, 0)}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(all[n])); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name+"-"+version+".tar.gz")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// makeGitRepo creates a git repository holding a setuptools project and
// returns its path and the commit of HEAD.
func makeGitRepo(t testing.TB, name, version string) (repo, commit string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		testenv.Skipf(t, "git is missing")
	}
	repo = filepath.Join(t.TempDir(), name+".git")
	files := map[string]string{
		"setup.py":            setupPy(name, version),
		name + "/__init__.py": fmt.Sprintf("NAME = %q\n", name),
	}
	for p, c := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(repo, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(repo, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git := func(args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.org",
			"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.org", "GIT_CONFIG_GLOBAL=/dev/null")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q", "-b", "main")
	git("add", ".")
	git("commit", "-q", "-m", "init")
	return repo, git("rev-parse", "HEAD")
}

func sha256File(t testing.TB, path string) string {
	t.Helper()
	s, err := fileSHA256(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// needJail skips (or fails with BUNDLE_REQUIRE_TOOLS=1) without bwrap, which
// Options.Sandbox runs the interpreter in.
func needJail(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("bwrap"); err != nil {
		testenv.Skipf(t, "bwrap is not installed: %v", err)
	}
}
