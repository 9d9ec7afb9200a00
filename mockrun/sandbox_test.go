package mockrun

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bundle-dev/bundle/bundle/runner"
	"github.com/bundle-dev/bundle/platforms"
)

// The sandbox tests really build. They share one rootfs through the cache
// directory ($BUNDLE_CACHE or ~/.cache/bundle): the first run makes it with
// mmdebstrap (minutes), later runs reuse it.

const helloSRPM = "../../shared/fixtures/rpm-testsuite/hello-1.0-1.src.rpm"

// requireTools skips the test when a tool is missing, unless
// BUNDLE_REQUIRE_TOOLS=1 (CI), where it fails.
func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("BUNDLE_REQUIRE_TOOLS") == "1" {
				t.Fatalf("%s is required (BUNDLE_REQUIRE_TOOLS=1) but missing: %v", tool, err)
			}
			t.Skipf("%s not installed", tool)
		}
	}
}

// testExtract unpacks RPM payloads with rpm2cpio | cpio, standing in for
// the assemble stage's extractor in these tests.
func testExtract(ctx context.Context, root string, rpms []string) error {
	for _, rpm := range rpms {
		abs, err := filepath.Abs(rpm)
		if err != nil {
			return err
		}
		if _, err := (runner.Exec{}).Run(ctx, runner.Cmd{
			Name: "sh", Args: []string{"-c", `rpm2cpio "$1" | cpio -idm --quiet --no-absolute-filenames`, "sh", abs},
			Dir:  root,
		}); err != nil {
			return err
		}
	}
	return nil
}

// newTestSandbox returns a prepared sandbox builder for debian12-x86_64
// with a fresh work directory.
func newTestSandbox(t *testing.T) *Sandbox {
	t.Helper()
	if testing.Short() {
		t.Skip("sandbox builds are long; skipped with -short")
	}
	requireTools(t, "mmdebstrap", "bwrap", "unshare", "rpm2cpio", "cpio")
	if os.Geteuid() != 0 {
		if err := checkUserns(); err != nil {
			if os.Getenv("BUNDLE_REQUIRE_TOOLS") == "1" {
				t.Fatalf("sandbox builds impossible here: %v", err)
			}
			t.Skipf("sandbox builds impossible here: %v", err)
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

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// newJob returns a job for srpm with fresh result and log directories.
func newJob(t *testing.T, name, srpm string) Job {
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
	for _, p := range append(res.RPMs, res.SRPMs...) {
		if filepath.Dir(p) != job.ResultDir {
			t.Errorf("%s is not in the result directory", p)
		}
		names = append(names, filepath.Base(p))
	}
	want := []string{"hello-1.0-1.deb12.x86_64.rpm", "hello-1.0-1.deb12.src.rpm"}
	for _, w := range want {
		found := false
		for _, n := range names {
			found = found || n == w
		}
		if !found {
			t.Errorf("built %v, want %s among them", names, w)
		}
	}
	if _, err := os.Stat(filepath.Join(job.LogDir, "build.log")); err != nil {
		t.Errorf("no build log: %v", err)
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
