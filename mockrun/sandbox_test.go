package mockrun

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bundle-dev/bundle/bundle/extract"
	"github.com/bundle-dev/bundle/bundle/runner"
	"github.com/bundle-dev/bundle/bundle/testenv"
	"github.com/bundle-dev/bundle/platforms"
)

// The sandbox tests really build. They share one rootfs through the cache
// directory ($BUNDLE_CACHE or ~/.cache/bundle): the first run makes it with
// mmdebstrap (minutes), later runs reuse it.

var helloSRPM = testenv.Fixture("rpm-testsuite", "hello-1.0-1.src.rpm")

// testExtract is the adapter the pipeline uses too: the assemble stage's
// safe extractor.
func testExtract(ctx context.Context, root string, rpms []string) error {
	_, err := extract.Extract(ctx, extract.Options{Root: root}, rpms)
	return err
}

// newTestSandbox returns a prepared sandbox builder for debian12-x86_64
// with a fresh work directory.
func newTestSandbox(t testing.TB) *Sandbox {
	t.Helper()
	if testing.Short() {
		t.Skip("sandbox builds are long; skipped with -short")
	}
	testenv.Tools(t, "mmdebstrap", "bwrap", "unshare")
	if os.Geteuid() != 0 {
		if err := checkUserns(); err != nil {
			testenv.Skipf(t, "sandbox builds impossible here: %v", err)
		}
	}
	p, err := platforms.Load("debian12-x86_64")
	if err != nil {
		t.Fatal(err)
	}
	cache, err := DefaultCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	b, err := New(Options{
		Platform: p, WorkDir: t.TempDir(), CacheDir: cache,
		Runner: runner.Exec{Logger: logger}, Logger: logger, Extract: testExtract,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Minute)
	defer cancel()
	if err := b.Prepare(ctx); err != nil {
		t.Fatalf("prepare: %v", err)
	}
	return b.(*Sandbox)
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// newJob returns a job for srpm with fresh result and log directories.
func newJob(t testing.TB, name, srpm string) Job {
	dir := t.TempDir()
	return Job{
		Name: name, ID: name + "-test", SRPM: srpm,
		ResultDir: filepath.Join(dir, "result"), LogDir: filepath.Join(dir, "logs"),
		Jobs: 2,
	}
}

func TestSandboxRebuildHello(t *testing.T) {
	b := newTestSandbox(t)
	job := newJob(t, "hello", helloSRPM)
	res, err := b.Build(context.Background(), job)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range append(append([]string(nil), res.RPMs...), res.SRPMs...) {
		if filepath.Dir(p) != job.ResultDir {
			t.Errorf("%s is not in the result directory", p)
		}
		names = append(names, filepath.Base(p))
	}
	// hello's Release has no %{?dist}.
	if strings.Join(names, " ") != "hello-1.0-1.x86_64.rpm hello-1.0-1.src.rpm" {
		t.Errorf("built %v", names)
	}
	if got := rpmQuery(t, res.RPMs[0], "%{BUILDHOST} %{ARCH}"); got != "bundle-sandbox x86_64" {
		t.Errorf("build host and arch %q", got)
	}
	if got := rpmList(t, res.RPMs[0]); !strings.Contains(got, "/usr/local/bin/hello\n") {
		t.Errorf("hello's files:\n%s", got)
	}
	if _, err := os.Stat(filepath.Join(job.LogDir, "build.log")); err != nil {
		t.Errorf("no build log: %v", err)
	}
	pkgs, err := b.RootfsPackages()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, p := range pkgs {
		have[p.Name] = true
	}
	if !have["rpm"] || !have["build-essential"] || have["zlib1g-dev"] {
		t.Errorf("rootfs packages (%d): rpm %v, build-essential %v, zlib1g-dev %v", len(pkgs), have["rpm"], have["build-essential"], have["zlib1g-dev"])
	}
	// The scratch directory is gone and nothing is mounted on the host.
	if _, err := os.Stat(filepath.Join(b.opts.WorkDir, "sandbox", job.ID)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("scratch directory left behind: %v", err)
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mounts), b.opts.WorkDir) {
		t.Errorf("a sandbox mount leaked to the host:\n%s", mounts)
	}
}

// rpmQuery runs rpm -qp --qf on a package.
func rpmQuery(t *testing.T, rpm, format string) string {
	t.Helper()
	testenv.Tools(t, "rpm")
	out, err := exec.Command("rpm", "-qp", "--nosignature", "--qf", format, rpm).CombinedOutput()
	if err != nil {
		t.Fatalf("rpm -qp %s: %v: %s", rpm, err, out)
	}
	return string(out)
}

// rpmList lists a package's files, one per line.
func rpmList(t *testing.T, rpm string) string {
	t.Helper()
	testenv.Tools(t, "rpm")
	out, err := exec.Command("rpm", "-qpl", "--nosignature", rpm).CombinedOutput()
	if err != nil {
		t.Fatalf("rpm -qpl %s: %v: %s", rpm, err, out)
	}
	return string(out)
}

// specSRPM builds the source RPM of testdata/specs/<name>.spec in the
// sandbox.
func specSRPM(t *testing.T, b *Sandbox, name string, files ...string) string {
	t.Helper()
	var paths []string
	for _, f := range files {
		paths = append(paths, filepath.Join("testdata", "specs", f))
	}
	dir := t.TempDir()
	srpm, err := b.BuildSRPM(context.Background(), filepath.Join("testdata", "specs", name+".spec"), paths, filepath.Join(dir, "srpm"), filepath.Join(dir, "logs"))
	if err != nil {
		t.Fatalf("BuildSRPM %s: %v", name, err)
	}
	return srpm
}

// hostMarker makes a file that exists only on the host.
func hostMarker(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "host-only-marker")
	if err := os.WriteFile(p, []byte("host"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSandboxBuildRequiresLayer(t *testing.T) {
	b := newTestSandbox(t)
	if _, err := os.Stat("/usr/include/zlib.h"); err != nil {
		t.Log("the host has no /usr/include/zlib.h (zlib1g-dev): only the marker file shows the host is invisible")
	}
	ctx := context.Background()
	lib := specSRPM(t, b, "libdemo", "demo.h", "demo.c")
	if filepath.Base(lib) != "libdemo-1.0-1.deb12.src.rpm" {
		t.Errorf("BuildSRPM made %s", lib)
	}
	libRes, err := b.Build(ctx, newJob(t, "libdemo", lib))
	if err != nil {
		t.Fatal(err)
	}
	if len(libRes.RPMs) != 2 {
		t.Fatalf("libdemo built %v", libRes.RPMs)
	}
	consumer := specSRPM(t, b, "consumer", "consumer.c")
	marker := hostMarker(t)

	job := newJob(t, "demo-consumer", consumer)
	job.BuildRequires = libRes.RPMs
	job.Defines = map[string]string{"host_marker": marker}
	res, err := b.Build(ctx, job)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.RPMs) != 1 || filepath.Base(res.RPMs[0]) != "demo-consumer-1.0-1.deb12.x86_64.rpm" {
		t.Errorf("consumer built %v", res.RPMs)
	}
	if got := rpmQuery(t, res.RPMs[0], "[%{REQUIRES}\n]"); !strings.Contains(got, "libdemo.so.1()(64bit)") {
		t.Errorf("the consumer was not linked against libdemo:\n%s", got)
	}

	// Without the layer the header is nowhere: the layer, not the host or
	// the rootfs, provided it.
	job = newJob(t, "demo-consumer", consumer)
	job.ID = "demo-consumer-nolayer"
	job.Defines = map[string]string{"host_marker": marker}
	_, err = b.Build(ctx, job)
	var be *BuildError
	if !errors.As(err, &be) || !strings.Contains(be.Tail, "demo.h") || be.Stage != "%build" {
		t.Fatalf("building the consumer without its BuildRequires: got %v", err)
	}
}

func TestSandboxIsolation(t *testing.T) {
	b := newTestSandbox(t)
	t.Setenv("BUNDLE_LEAK_CHECK", "1")
	// A leftover probe is exactly what a leak leaves: fail, never skip.
	if _, err := os.Lstat("/tmp/bundle-probe"); err == nil {
		t.Fatal("/tmp/bundle-probe exists on the host before the build: an earlier build leaked it out of the sandbox (remove it after finding which)")
	}
	job := newJob(t, "sandbox-probe", specSRPM(t, b, "probe"))
	job.Jobs = 3
	job.Defines = map[string]string{"host_marker": hostMarker(t), "probe_define": "value with spaces", "probe_privileged": "0"}
	uid := "0"
	if b.privileged {
		job.Defines["probe_privileged"], uid = "1", strconv.Itoa(buildUID)
	}
	job.With = []string{"probe_bcond"}
	job.Without = []string{"probe_docs"}
	res, err := b.Build(context.Background(), job)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.RPMs) != 1 || filepath.Base(res.RPMs[0]) != "sandbox-probe-1.0-1.deb12.noarch.rpm" {
		t.Errorf("built %v", res.RPMs)
	}
	// The checks ran (the build's shell traces them).
	log, err := os.ReadFile(filepath.Join(job.LogDir, "build.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"+ test " + uid + " = " + uid, "+ test -j3 = -j3", "+ test .deb12 = .deb12", "+ test value with spaces = value with spaces", "+ true\n", "+ touch /tmp/bundle-probe /var/tmp/bundle-probe"} {
		if !strings.Contains(string(log), w) {
			t.Errorf("build.log lacks %q", w)
		}
	}
	if t.Failed() {
		t.Logf("build.log:\n%s", log)
	}
	// What the build wrote to /tmp and /var/tmp went with its scratch layer.
	for _, p := range []string{"/tmp/bundle-probe", filepath.Join(b.Rootfs(), "var/tmp/bundle-probe"), filepath.Join(b.Rootfs(), "tmp/bundle-probe"), filepath.Join(b.Rootfs(), "usr/bundle-probe")} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("the build's file %s reached the host", p)
		}
	}
}

func TestSandboxNoNetwork(t *testing.T) {
	b := newTestSandbox(t)
	job := newJob(t, "sandbox-network", specSRPM(t, b, "network"))
	start := time.Now()
	_, err := b.Build(context.Background(), job)
	if err == nil {
		t.Fatal("a build reached the network")
	}
	if !strings.Contains(err.Error(), "Network is unreachable") {
		t.Errorf("error does not say the network is unreachable:\n%v", err)
	}
	if d := time.Since(start); d > 50*time.Second {
		t.Errorf("the network attempt took %s: it must fail at once, not time out", d)
	}
}

func TestSandboxFailureTail(t *testing.T) {
	b := newTestSandbox(t)
	job := newJob(t, "sandbox-fail", specSRPM(t, b, "fail"))
	_, err := b.Build(context.Background(), job)
	var be *BuildError
	if !errors.As(err, &be) {
		t.Fatalf("got %v, want a *BuildError", err)
	}
	msg := err.Error()
	for _, w := range []string{"sandbox build of sandbox-fail", "during %build", "output line 100\n", "the build failed on purpose", "Bad exit status", filepath.Join(job.LogDir, "build.log")} {
		if !strings.Contains(msg, w) {
			t.Errorf("error lacks %q:\n%s", w, msg)
		}
	}
	if strings.Contains(msg, "output line 50\n") {
		t.Errorf("error carries more than the log's tail:\n%s", msg)
	}
	if n := strings.Count(be.Tail, "\n") + 1; n != 40 {
		t.Errorf("tail has %d lines, want 40", n)
	}
	if ents, _ := os.ReadDir(job.ResultDir); len(ents) != 0 {
		t.Errorf("a failed build left %d files in the result directory", len(ents))
	}
}

func TestSandboxMemoryCap(t *testing.T) {
	b := newTestSandbox(t)
	job := newJob(t, "sandbox-memhog", specSRPM(t, b, "memhog"))
	job.MemoryBytes = 128 << 20
	_, err := b.Build(context.Background(), job)
	if err == nil {
		log, _ := os.ReadFile(filepath.Join(job.LogDir, "build.log"))
		t.Fatalf("a build used 400 MB under a 128 MB cap:\n%s", log)
	}
	if !strings.Contains(err.Error(), "memory cap of 134217728 bytes") && !strings.Contains(err.Error(), "memory exhausted") {
		t.Errorf("error does not tell the memory cap was hit:\n%v", err)
	}
}

func TestSandboxParallelBuilds(t *testing.T) {
	b := newTestSandbox(t)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			job := newJob(t, "hello", helloSRPM)
			job.ID = "hello-parallel-" + strconv.Itoa(i)
			job.MemoryBytes = 1 << 30
			_, errs[i] = b.Build(context.Background(), job)
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("build %d: %v", i, err)
		}
	}
}

func TestSandboxCancel(t *testing.T) {
	testenv.Tools(t, "pgrep")
	b := newTestSandbox(t)
	job := newJob(t, "sandbox-sleep", specSRPM(t, b, "sleep"))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()
	_, err := b.Build(ctx, job)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want the deadline", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("cancelling took %s", d)
	}
	// No build process survives.
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, _ := exec.Command("pgrep", "-f", "sleep 3600").Output()
		if len(out) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("build processes survived the cancellation: %s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := os.Stat(filepath.Join(b.opts.WorkDir, "sandbox", job.ID)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("scratch directory left behind: %v", err)
	}
}

func TestSandboxReproducible(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	b := newTestSandbox(t)
	var built [2][]byte
	for i := range built {
		job := newJob(t, "hello", helloSRPM)
		job.ID = "hello-repro-" + strconv.Itoa(i)
		res, err := b.Build(context.Background(), job)
		if err != nil {
			t.Fatal(err)
		}
		if built[i], err = os.ReadFile(res.RPMs[0]); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if got := rpmQuery(t, res.RPMs[0], "%{BUILDTIME}"); got != "1700000000" {
				t.Errorf("build time %s, want SOURCE_DATE_EPOCH", got)
			}
			time.Sleep(1100 * time.Millisecond) // let the clock move on
		}
	}
	if !bytes.Equal(built[0], built[1]) {
		t.Error("two builds of hello with one SOURCE_DATE_EPOCH differ")
	}
}

// BenchmarkSandboxBuildHello measures one small rebuild with the rootfs
// cached: the per-job cost of the scratch overlay, namespaces and rpmbuild.
func BenchmarkSandboxBuildHello(b *testing.B) {
	sb := newTestSandbox(b)
	for i := 0; i < b.N; i++ {
		job := newJob(b, "hello", helloSRPM)
		job.ID = "hello-bench-" + strconv.Itoa(i)
		if _, err := sb.Build(context.Background(), job); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSandboxQuerySpec: rpmspec runs in the sandbox, as the build user:
// a spec whose macros write files (shell and Lua) and report who they run
// as still answers its query, and nothing of it reaches the host.
func TestSandboxQuerySpec(t *testing.T) {
	b := newTestSandbox(t)
	dir := t.TempDir()
	shellProbe := filepath.Join(os.TempDir(), fmt.Sprintf("bundle-query-shell-%d", os.Getpid()))
	luaProbe := filepath.Join(os.TempDir(), fmt.Sprintf("bundle-query-lua-%d", os.Getpid()))
	uidDir := t.TempDir() // exists on the host only
	for _, p := range []string{shellProbe, luaProbe} {
		os.Remove(p)
		t.Cleanup(func() { os.Remove(p) })
	}
	spec := fmt.Sprintf(`%%global who %%(id -u; touch %s %s/x)
%%{lua: local f = io.open(%q, "w"); if f then f:write("x"); f:close() end}
Name: queryprobe
Version: 1.0
Release: 1
Summary: probe
License: MIT
BuildArch: noarch
Provides: ran-as-%%{who}
%%description
probe
%%package extra
Summary: extra
%%description extra
extra
%%files
%%files extra
`, shellProbe, uidDir, luaProbe)
	path := filepath.Join(dir, "queryprobe.spec")
	if err := os.WriteFile(path, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := b.QuerySpec(context.Background(), path, []string{"-q", "--provides"}, filepath.Join(dir, "logs"))
	if err != nil {
		t.Fatal(err)
	}
	uid := "0"
	if b.privileged {
		uid = strconv.Itoa(buildUID)
	}
	if got := string(out); !strings.Contains(got, "ran-as-"+uid+"\n") || !strings.Contains(got, "queryprobe = 1.0-1") {
		t.Errorf("query output %q lacks ran-as-%s and the package's own provide", got, uid)
	}
	for _, p := range []string{shellProbe, luaProbe, filepath.Join(uidDir, "x")} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("the spec's macros wrote %s on the host", p)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "logs", "rpmspec.log")); err != nil {
		t.Errorf("no query log: %v", err)
	}
}
