package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bundle-dev/bundle/bundle/testenv"
)

// buildCache is the cache shared by the build tests: sources, build
// results and the sandbox rootfs. $BUNDLE_CACHE when set (CI keeps it
// between runs), else a directory for this test run.
func buildCache(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("BUNDLE_CACHE"); d != "" {
		return d
	}
	home, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(home, "bundle")
}

// needSandbox skips (or fails in CI) where the sandbox builder cannot run.
func needSandbox(t testing.TB) {
	t.Helper()
	need(t, "rpmbuild", "rpmspec", "createrepo_c", "mmdebstrap", "bwrap", "unshare")
	if os.Geteuid() != 0 {
		testenv.Skipf(t, "the sandbox build tests need root")
	}
}

// writeRecipe writes a recipe building zlib, bzip2, xz and libxml2 from
// Debian's copies of their upstream tarballs (reachable from CI), plus the
// real SRPM hello-1.0-1.src.rpm of rpm's test suite. extra is appended to
// zlib's entry (patches).
func writeRecipe(t testing.TB, dir, zlibExtra string) string {
	t.Helper()
	specs := filepath.Join(repoRoot(t), "recipes", "specs")
	hello := filepath.Join(fixtures(t), "rpm-testsuite", "hello-1.0-1.src.rpm")
	recipe := fmt.Sprintf(`name: e2e
version: "1"
platform: debian12-x86_64
defaults:
  jobs: 1
  exclude: ["*-debuginfo", "*-debugsource", "*-devel"]
build:
  jobs: 2
  cpus: 2
packages:
  - name: zlib
    spec: %[1]s/zlib.spec
    sources:
      - url: https://deb.debian.org/debian/pool/main/z/zlib/zlib_1.2.13.dfsg.orig.tar.bz2
        sha256: 71feb7947e3c00ef125f83b79a4e529bde31171e5babe48b391f06758d1ab0a1
%[3]s
  - name: bzip2
    spec: %[1]s/bzip2.spec
    sources:
      - url: https://deb.debian.org/debian/pool/main/b/bzip2/bzip2_1.0.8.orig.tar.gz
        name: bzip2-1.0.8.tar.gz
        sha256: ab5a03176ee106d3f0fa90e381da478ddae405918153cca248e682cd0c4a2269
  - name: xz
    spec: %[1]s/xz.spec
    sources:
      - url: https://deb.debian.org/debian/pool/main/x/xz-utils/xz-utils_5.4.1.orig.tar.xz
        name: xz-5.4.1.tar.xz
        sha256: 5d9827aa1875b21c288f78864bb26d2650b436ea8d2cad364e4921eb6266a5a5
  - name: libxml2
    spec: %[1]s/libxml2.spec
    sources:
      - url: https://deb.debian.org/debian/pool/main/libx/libxml2/libxml2_2.9.14+dfsg.orig.tar.xz
        sha256: 4fe913dec8b1ab89d13b489b419a8203176ea39e931eaa0d25b17eafb9c279e9
  - name: hello
    srpm:
      path: %[2]s
output:
  compression: gzip
  dir: out
`, specs, hello, zlibExtra)
	path := filepath.Join(dir, "recipe.yaml")
	if err := os.WriteFile(path, []byte(recipe), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

type buildSummary struct {
	Summary struct {
		Nodes []struct {
			Name    string `json:"name"`
			State   string `json:"state"`
			Resumed bool   `json:"resumed"`
		} `json:"nodes"`
	} `json:"summary"`
	Tarball  string `json:"tarball"`
	Manifest struct {
		Packages []struct {
			Name string `json:"name"`
			Why  []struct {
				By, Requires string
			} `json:"why"`
		} `json:"packages"`
	} `json:"manifest"`
}

func runBuild(t testing.TB, recipe, workdir string, args ...string) (buildSummary, result) {
	t.Helper()
	argv := append([]string{"build", "--json", "--workdir", workdir}, args...)
	argv = append(argv, recipe)
	r := runBundle(t, []string{"BUNDLE_CACHE=" + buildCache(t), "SOURCE_DATE_EPOCH=1767225600"}, argv...)
	var s buildSummary
	if r.code == 0 {
		if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
			t.Fatalf("build --json: %v\n%s", err, r.stdout)
		}
	}
	return s, r
}

func states(s buildSummary) map[string]string {
	m := map[string]string{}
	for _, n := range s.Summary.Nodes {
		m[n.Name] = n.State
	}
	return m
}

// TestBuildRecipe really builds a small recipe in the sandbox builder from
// real upstream sources and the real SRPM hello-1.0-1.src.rpm; a second
// run in a new work directory takes everything from the cache; a changed
// patch rebuilds that package and its reverse dependencies only.
func TestBuildRecipe(t *testing.T) {
	needSandbox(t)
	dir := t.TempDir()
	recipe := writeRecipe(t, dir, "")
	work := filepath.Join(dir, "work")

	s, r := runBuild(t, recipe, work)
	if r.code != 0 {
		t.Fatalf("build: exit %d\n%s", r.code, r.stderr)
	}
	for name, st := range states(s) {
		if st != "done" && st != "cached" {
			t.Errorf("%s: %s", name, st)
		}
	}
	if len(states(s)) != 5 {
		t.Errorf("want 5 packages in the summary, got %v", states(s))
	}
	// The bundle holds libxml2 and hello, not the -devel packages.
	names := map[string]bool{}
	for _, p := range s.Manifest.Packages {
		names[p.Name] = true
	}
	for _, want := range []string{"libxml2", "zlib", "xz-libs", "hello"} {
		if !names[want] {
			t.Errorf("bundle lacks %s: %v", want, names)
		}
	}
	for n := range names {
		if strings.HasSuffix(n, "-devel") {
			t.Errorf("excluded package %s shipped", n)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "out", "e2e-1-debian12-x86_64.tar.gz")); err != nil {
		t.Errorf("tarball: %v", err)
	}
	// The local repo has real repodata that dnf reads.
	if _, err := exec.LookPath("dnf"); err == nil {
		out := sh(t, dir, "dnf", "-q", "--repofrompath=local,"+filepath.Join(work, "repo"), "--repo=local",
			"--setopt=cachedir="+filepath.Join(dir, "dnfcache"), "--setopt=reposdir=/nonexistent",
			"repoquery", "--qf", "%{name}", "libxml2-devel")
		if !strings.Contains(out, "libxml2-devel") {
			t.Errorf("dnf repoquery does not see libxml2-devel in the local repo:\n%s", out)
		}
	}

	// A fresh work directory, the same cache: every package is a cache hit.
	s2, r := runBuild(t, recipe, filepath.Join(dir, "work2"))
	if r.code != 0 {
		t.Fatalf("second build: exit %d\n%s", r.code, r.stderr)
	}
	for name, st := range states(s2) {
		if st != "cached" {
			t.Errorf("second run: %s is %s, want cached", name, st)
		}
	}

	// A patch on zlib: zlib and libxml2 (which BuildRequires zlib-devel)
	// rebuild; bzip2, xz and hello do not.
	patch := filepath.Join(dir, "zlib-readme.patch")
	os.WriteFile(patch, []byte(readmePatch("(patched by the bundle end-to-end test)")), 0o644)
	recipe = writeRecipe(t, dir, "    patches:\n      - path: "+patch+"\n        mode: p1\n")
	explain := mustRun(t, []string{"BUNDLE_CACHE=" + buildCache(t)}, "plan", "--explain", "--workdir", work, recipe).stdout
	for _, want := range []string{"patch changed", "dependency zlib rebuilt"} {
		if !strings.Contains(explain, want) {
			t.Errorf("plan --explain does not say %q:\n%s", want, explain)
		}
	}
	s3, r := runBuild(t, recipe, work)
	if r.code != 0 {
		t.Fatalf("patched build: exit %d\n%s", r.code, r.stderr)
	}
	st := states(s3)
	for _, n := range []string{"zlib", "libxml2"} {
		if st[n] != "done" && st[n] != "cached" {
			t.Errorf("after the patch %s is %s", n, st[n])
		}
	}
	// Kept from the earlier run: not run at all, not even as a cache hit.
	resumed := map[string]bool{}
	for _, n := range s3.Summary.Nodes {
		resumed[n.Name] = n.Resumed
	}
	if !resumed["bzip2"] || !resumed["xz"] || !resumed["hello"] || resumed["zlib"] || resumed["libxml2"] {
		t.Errorf("want only bzip2, xz, hello kept from the earlier run: %+v", s3.Summary.Nodes)
	}
}

// TestBuildKillResume kills a build with SIGKILL while a package builds,
// then resumes: nothing finished is built again, and the lock left by the
// dead run does not block the new one. A second concurrent run is refused
// with the holder's pid.
func TestBuildKillResume(t *testing.T) {
	needSandbox(t)
	dir := t.TempDir()
	// A patch no other test uses makes zlib (and libxml2) miss the cache.
	patch := filepath.Join(dir, "kill.patch")
	os.WriteFile(patch, []byte(readmePatch(fmt.Sprintf("kill test %d", time.Now().UnixNano()))), 0o644)
	recipe := writeRecipe(t, dir, "    patches:\n      - path: "+patch+"\n        mode: p1\n")
	work := filepath.Join(dir, "work")

	cmd := exec.Command(bundleBin(t), "build", "--workdir", work, "-j", "1", "--cpus", "1", recipe)
	cmd.Env = append(os.Environ(), "BUNDLE_CACHE="+buildCache(t))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logf, _ := os.Create(filepath.Join(dir, "first.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until zlib is finished and libxml2 is building.
	deadline := time.Now().Add(10 * time.Minute)
	for {
		data, _ := os.ReadFile(filepath.Join(work, "state.json"))
		s := string(data)
		if strings.Contains(s, `"libxml2"`) && strings.Contains(s, `"building"`) {
			break
		}
		if time.Now().After(deadline) {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			log, _ := os.ReadFile(filepath.Join(dir, "first.log"))
			t.Fatalf("libxml2 never started building; state:\n%s\nlog:\n%s", s, log)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// A second run while the first holds the lock is refused, naming it.
	r := runBundle(t, []string{"BUNDLE_CACHE=" + buildCache(t)}, "build", "--workdir", work, recipe)
	if r.code != 1 || !strings.Contains(r.stderr, fmt.Sprint(cmd.Process.Pid)) {
		t.Errorf("concurrent run: exit %d, want 1 naming pid %d:\n%s", r.code, cmd.Process.Pid, r.stderr)
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	cmd.Wait()

	s, r := runBuild(t, recipe, work)
	if r.code != 0 {
		t.Fatalf("resumed build: exit %d\n%s", r.code, r.stderr)
	}
	for _, n := range s.Summary.Nodes {
		switch n.Name {
		case "zlib":
			if !n.Resumed {
				t.Errorf("zlib finished before the kill but was built again: %+v", n)
			}
		case "libxml2":
			if n.Resumed || (n.State != "done" && n.State != "cached") {
				t.Errorf("libxml2 was interrupted and must be built: %+v", n)
			}
		}
	}
}

// readmePatch is a -p1 patch adding line to zlib's README.
func readmePatch(line string) string {
	return "--- a/README\n+++ b/README\n@@ -1,3 +1,4 @@\n ZLIB DATA COMPRESSION LIBRARY\n+" + line +
		"\n \n zlib 1.2.13 is a general purpose data compression library.  All the code is\n"
}
