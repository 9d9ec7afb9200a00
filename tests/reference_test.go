package tests

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/bundle-dev/bundle/bundle/relocate/elfdeps"
)

// pythonTarball is Python-3.11.2.tgz's sha256: the default recipe's
// Python, whose ensurepip wheels the offline Python set uses.
const pythonTarball = "2411c74bda5bbcfcddaf4531f66d1adc73f247f529aee981b029513aefdbf849"

// fillCaches puts the default recipe's sources in the source cache
// (upstream URLs first, Debian's source archive for what they cannot give)
// and gathers the offline Python set, as `make sources` does.
func fillCaches(t *testing.T, env []string) {
	t.Helper()
	cache := buildCache(t)
	if r := runBundle(t, env, "fetch"); r.code != 0 {
		cmd := exec.Command("sh", "recipes/fill-source-cache.sh", "zlib", "bzip2", "xz-utils", "libffi", "openssl",
			"sqlite3", "ncurses", "readline", "expat", "libxml2", "libxcrypt", "gmp", "mpfr4", "python3.11", "gdb")
		cmd.Dir = repoRoot(t)
		cmd.Env = append(os.Environ(), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("fill-source-cache.sh: %v\n%s", err, out)
		}
	}
	mustRun(t, env, "fetch", "--offline")
	if _, err := os.Stat(filepath.Join(cache, "python")); err != nil {
		tarball := filepath.Join(cache, "sources", "sha256", pythonTarball[:2], pythonTarball)
		cmd := exec.Command("sh", "recipes/gather-python-wheels.sh", "-p", tarball, filepath.Join(cache, "python"))
		cmd.Dir = repoRoot(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("gather-python-wheels.sh: %v\n%s", err, out)
		}
	}
}

// reference is the default recipe's build, made once per test run and
// shared by the tests that check it.
type reference struct {
	Tarball  string `json:"tarball"`
	Manifest struct {
		Name     string `json:"name"`
		TopDir   string `json:"top_dir"`
		Packages []struct {
			NEVRA, SHA256 string
			Requested     bool
			Why           []struct{ By, Requires string }
		} `json:"packages"`
		Python   []struct{ Name, Version string } `json:"python_packages"`
		Requires struct {
			Glibc     string   `json:"glibc"`
			GLIBCXX   string   `json:"glibcxx"`
			CXXABI    string   `json:"cxxabi"`
			Libraries []string `json:"libraries"`
			RunsOn    []string `json:"runs_on"`
		} `json:"requires"`
		Checks []struct{ Name, Run string } `json:"checks"`
	} `json:"manifest"`
	Test struct {
		Checks []struct {
			Name string `json:"name"`
			OK   bool   `json:"ok"`
		} `json:"checks"`
	} `json:"test"`
	stdout string
}

var (
	refOnce sync.Once
	refRes  *reference
	refErr  error
)

// referenceBundle builds the embedded default recipe once: `bundle build`
// with no recipe (its own Python first, gdb against it, the native
// libraries, the locked pip packages), relocated and tested.
func referenceBundle(t *testing.T) *reference {
	t.Helper()
	needSandbox(t)
	refOnce.Do(func() {
		env := []string{"BUNDLE_CACHE=" + buildCache(t), "SOURCE_DATE_EPOCH=1767225600"}
		fillCaches(t, env)
		dir, err := os.MkdirTemp("", "bundle-e2e-reference")
		if err != nil {
			refErr = err
			return
		}
		r := runBundle(t, env, "build", "--json", "--workdir", filepath.Join(dir, "work"), "-o", filepath.Join(dir, "out"))
		if r.code != 0 {
			refErr = fmt.Errorf("bundle build: exit %d\n%s\n%s", r.code, tail(r.stdout, 60), tail(r.stderr, 60))
			return
		}
		var res reference
		if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
			refErr = fmt.Errorf("build --json: %v\n%s", err, tail(r.stdout, 40))
			return
		}
		res.stdout = r.stdout
		refRes = &res
	})
	if refErr != nil {
		t.Fatal(refErr)
	}
	return refRes
}

// TestReferenceBundle is the mission in one command: the default recipe's
// bundle works unpacked somewhere new with only the bundle on PATH.
func TestReferenceBundle(t *testing.T) {
	need(t, "ldd")
	res := referenceBundle(t)
	if len(res.Test.Checks) < 10 {
		t.Errorf("bundle build did not run bundle test on its output: %+v", res.Test)
	}
	// The manifest lists every RPM with why it is in.
	for _, p := range res.Manifest.Packages {
		if len(p.SHA256) != 64 || (!p.Requested && len(p.Why) == 0) {
			t.Errorf("manifest entry %+v: no sha256 or no reason", p)
		}
	}
	// Runs where the grid runs: glibc 2.31 at most (Debian 11's), nothing
	// of libstdc++ from the host, and only glibc's own libraries.
	req := res.Manifest.Requires
	if req.Glibc == "" || elfdeps.CompareVersions(req.Glibc, "2.31") > 0 || req.GLIBCXX != "" || req.CXXABI != "" {
		t.Errorf("host requirement %+v: want glibc <= 2.31 and no GLIBCXX/CXXABI", req)
	}
	for _, l := range req.Libraries {
		if !glibcLib(l) {
			t.Errorf("the bundle needs %s from the host: only glibc's libraries may come from there", l)
		}
	}
	for _, d := range []string{"EL9", "Debian 11", "Ubuntu 22.04", "Ubuntu 24.04"} {
		if !slices.Contains(req.RunsOn, d) {
			t.Errorf("runs_on %v lacks %s", req.RunsOn, d)
		}
	}
	if len(res.Manifest.Checks) == 0 {
		t.Errorf("the manifest does not record the recipe's checks")
	}

	// Unpack somewhere new, at a path longer than any build path.
	site := filepath.Join(t.TempDir(), strings.Repeat("cvmfs-site-", 10))
	os.MkdirAll(site, 0o755)
	sh(t, site, "tar", "-xzf", res.Tarball)
	top := filepath.Join(site, res.Manifest.TopDir)
	bins := filepath.Join(top, "usr/bin")
	decoys := t.TempDir()
	run := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(filepath.Join(bins, name), args...)
		// Only the bundle's bin directory on PATH, a hostile
		// LD_LIBRARY_PATH, no host Python anywhere in reach.
		cmd.Env = []string{"PATH=" + bins, "HOME=" + t.TempDir(), "LD_LIBRARY_PATH=" + decoys, "LANG=C.UTF-8"}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	out := run("python3", "-c", "import ssl, sqlite3, ctypes, zlib, bz2, lzma, readline, curses, uuid, decimal, requests, sys; print(ssl.OPENSSL_VERSION); print(sys.prefix)")
	if !strings.Contains(out, "OpenSSL 3.") || !strings.Contains(out, filepath.Join(top, "usr")) {
		t.Errorf("python3 does not report the bundle's OpenSSL and prefix:\n%s", out)
	}
	// ldd of the interpreter and of _ssl: only bundle paths and glibc.
	py, _ := filepath.EvalSymlinks(filepath.Join(bins, "python3"))
	ssl, _ := filepath.Glob(filepath.Join(top, "usr/lib*/python3.11/lib-dynload/_ssl*.so"))
	if len(ssl) != 1 {
		t.Fatalf("no _ssl module in the bundle: %v", ssl)
	}
	for _, f := range []string{py, ssl[0]} {
		cmd := exec.Command("ldd", f)
		cmd.Env = []string{"LD_LIBRARY_PATH=" + decoys}
		lddOut, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("ldd %s: %v\n%s", f, err, lddOut)
		}
		for _, lib := range lddLibs(string(lddOut)) {
			if !strings.HasPrefix(lib, top) && !glibcLib(lib) {
				t.Errorf("ldd %s: %s is neither in the bundle nor glibc", filepath.Base(f), lib)
			}
		}
	}
	gdb := run("gdb", "-nx", "-batch", "-ex", "python import sys; print(sys.prefix)")
	if !strings.Contains(gdb, filepath.Join(top, "usr")) {
		t.Errorf("gdb's Python does not report the bundle's prefix:\n%s", gdb)
	}
	// pip freeze equals the lock.
	frozen := run("python3", "-m", "pip", "freeze", "--all")
	if got, want := pins(frozen), lockPins(t, filepath.Join(repoRoot(t), "recipes", "requirements.lock")); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("pip freeze of the bundle differs from the lock:\n%s\nlock:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, err := os.Stat(filepath.Join(top, "versions.txt")); err != nil {
		t.Errorf("versions.txt: %v", err)
	}
}

var lddLine = regexp.MustCompile(`=>\s+(\S+)\s+\(`)

func lddLibs(out string) []string {
	var libs []string
	for _, m := range lddLine.FindAllStringSubmatch(out, -1) {
		libs = append(libs, m[1])
	}
	return libs
}

func glibcLib(path string) bool {
	base := filepath.Base(path)
	for _, g := range []string{"libc.so.", "libm.so.", "libpthread.so.", "libdl.so.", "librt.so.", "libutil.so.", "libresolv.so.", "ld-linux"} {
		if strings.HasPrefix(base, g) {
			return true
		}
	}
	return false
}

// pins normalises `pip freeze` output to sorted lowercase name==version.
func pins(freeze string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(freeze))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		out = append(out, strings.ToLower(strings.ReplaceAll(l, "_", "-")))
	}
	sort.Strings(out)
	return out
}

// lockPins reads name==version from a lock file.
func lockPins(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(l), "\\"))
		if l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, "--hash") {
			continue
		}
		out = append(out, strings.ToLower(strings.ReplaceAll(l, "_", "-")))
	}
	sort.Strings(out)
	return out
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
