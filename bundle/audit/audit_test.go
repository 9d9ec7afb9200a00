package audit

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bundle-dev/bundle/bundle/relocate"
	"github.com/bundle-dev/bundle/bundle/relocate/elfdeps/elftest"
	"github.com/bundle-dev/bundle/bundle/runner"
	"github.com/bundle-dev/bundle/bundle/tarball"
	"github.com/bundle-dev/bundle/bundle/testenv"
	"github.com/bundle-dev/bundle/platforms"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func platform(t testing.TB) *platforms.Platform {
	t.Helper()
	p, err := platforms.Load("el9-x86_64")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// workDir is a work directory nobody can reach (t.TempDir is private).
func workDir(t testing.TB) string {
	t.Helper()
	d, err := os.MkdirTemp("", "bundle-audit-test-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(d, 0o755)
	t.Cleanup(func() {
		setWritable(d, true)
		os.RemoveAll(d)
	})
	return d
}

// declared are the checks the sample bundle's recipe would declare.
var declared = []Check{
	{Name: "app", Command: `test "$(app)" = 42`},
	{Name: "python", Command: `python3.11 | grep -x 311`},
	{Name: "tool", Command: `out=$(tool a b) && test "$out" = 311`},
	{Name: "ext", Command: `test -r "$DIRACOS/usr/lib64/python3.11/lib-dynload/_ext.cpython-311-x86_64-linux-gnu.so"`},
}

// relocatedSample builds the sample tree in a staging directory, relocates
// it and writes its bundlerc. It returns the staging root.
func relocatedSample(t *testing.T) string {
	t.Helper()
	elftest.RequireTools(t, "gcc", "patchelf", "setpriv")
	staging := filepath.Join(t.TempDir(), "staging", "TOP")
	elftest.Sample(t, staging, elftest.SampleOptions{})
	_, err := relocate.Relocate(context.Background(), staging, relocate.Options{
		Platform: platform(t), BuildPaths: []string{elftest.BuildRoot, elftest.BuildDir}, Logger: quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := relocate.WriteEnvScript(staging, relocate.EnvOptions{RootVar: "DIRACOS"}); err != nil {
		t.Fatal(err)
	}
	return staging
}

func run(t *testing.T, target string, o Options) *Report {
	t.Helper()
	if o.Platform == nil {
		o.Platform = platform(t)
	}
	o.Target = target
	o.WorkDir = workDir(t)
	o.Logger = quiet
	o.RootVar = "DIRACOS"
	o.Runner = runner.Exec{Logger: quiet}
	o.BuildPaths = append(o.BuildPaths, elftest.BuildRoot, elftest.BuildDir)
	rep, err := Run(context.Background(), o)
	if rep == nil {
		t.Fatalf("Run: %v", err)
	}
	if (err == nil) != rep.OK() || err != nil && !errors.Is(err, ErrFailed) {
		t.Fatalf("Run error %v with report OK %v", err, rep.OK())
	}
	return rep
}

func text(rep *Report) string {
	var b bytes.Buffer
	rep.WriteText(&b)
	return b.String()
}

func TestRelocatedSamplePasses(t *testing.T) {
	staging := relocatedSample(t)
	targets := map[string]string{"directory": staging}
	for _, comp := range []string{"gzip", "zstd", "none"} {
		out := filepath.Join(t.TempDir(), "sample-"+comp+".tar")
		if _, err := tarball.Write(context.Background(), tarball.Options{Root: staging, TopDir: "sample", Out: out,
			Compression: comp, Mtime: time.Unix(1700000000, 0), Logger: quiet}); err != nil {
			t.Fatal(err)
		}
		targets[comp] = out
	}
	for name, target := range targets {
		t.Run(name, func(t *testing.T) {
			sandbox := Check{Name: "sandbox", Command: `test "$(id -u)" != 0 && ! touch "$HOME/x" 2>/dev/null && touch "$TMPDIR/x" && ` +
				`! touch "$DIRACOS/x" 2>/dev/null && ! command -v perl && ! command -v gcc && test -z "${PYTHONPATH-}" && ` +
				`case $PATH in "$DIRACOS/usr/bin:"*) ;; *) false ;; esac && test "$LD_LIBRARY_PATH" != ""`}
			rep := run(t, target, Options{Checks: append(declared, sandbox), BuildPaths: []string{staging}})
			if !rep.OK() {
				t.Fatalf("the relocated sample fails:\n%s", text(rep))
			}
			t.Logf("report:\n%s", text(rep))
			for _, name := range []string{"elf-search-path", "ldd", "bundlerc", "check:app", "check:tool"} {
				if c, ok := rep.Get(name); !ok || c.Count == 0 || c.Skipped {
					t.Errorf("%s did not run: %+v", name, c)
				}
			}
			if c, _ := rep.Get("bundlerc"); c.Detail != "" && strings.Contains(c.Detail, "bash") {
				t.Errorf("bundlerc was not tried with bash: %s", c.Detail)
			}
			if _, err := os.Stat(rep.Dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the unpacked bundle %s was left behind", rep.Dir)
			}
			if len(rep.Dir) <= len(staging) {
				t.Errorf("unpacked at %s, not longer than the staging path %s", rep.Dir, staging)
			}
		})
	}
}

// copyTree copies the staging tree so that each breaking test has its own.
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "TOP")
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	return dst
}

// TestEachAuditFails breaks the relocated sample one way at a time; the
// named check must fail with the offender named, and the checks that the
// change does not concern must pass.
func TestEachAuditFails(t *testing.T) {
	staging := relocatedSample(t)
	lowCeiling := *platform(t)
	lowCeiling.GlibcCeiling = "2.1"
	tests := []struct {
		name     string
		breakIt  func(t *testing.T, top string)
		platform *platforms.Platform
		checks   []Check
		fail     map[string]string // check -> text an offender or the detail holds
	}{
		{name: "absolute symlink", breakIt: func(t *testing.T, top string) {
			os.Symlink("/etc/passwd", filepath.Join(top, "usr/lib64/passwd"))
		}, fail: map[string]string{"symlinks": "/usr/lib64/passwd -> /etc/passwd: absolute"}},
		{name: "escaping symlink", breakIt: func(t *testing.T, top string) {
			os.Symlink("../../../../etc", filepath.Join(top, "usr/lib64/etc"))
		}, fail: map[string]string{"symlinks": "/usr/lib64/etc -> ../../../../etc: leaves the bundle"}},
		{name: "dangling symlink", breakIt: func(t *testing.T, top string) {
			os.Symlink("gone.so.1", filepath.Join(top, "usr/lib64/libgone.so"))
			os.Symlink("gone2.so.1", filepath.Join(top, "usr/lib64/libgone2.so"))
			os.WriteFile(filepath.Join(top, "broken-links.txt"), []byte("/usr/lib64/libgone2.so -> gone2.so.1\n"), 0o644)
		}, fail: map[string]string{"symlinks": "/usr/lib64/libgone.so -> gone.so.1: dangling and not in broken-links.txt"}},
		{name: "hard link", breakIt: func(t *testing.T, top string) {
			os.Link(filepath.Join(top, "usr/bin/app"), filepath.Join(top, "usr/bin/app2"))
		}, fail: map[string]string{"hardlinks": "/usr/bin/app: 2 hard links"}},
		{name: "fifo", breakIt: func(t *testing.T, top string) {
			if err := syscall.Mkfifo(filepath.Join(top, "usr/share/fifo"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, fail: map[string]string{"special-files": "/usr/share/fifo"}},
		{name: "setuid", breakIt: func(t *testing.T, top string) {
			if err := os.Chmod(filepath.Join(top, "usr/bin/app"), 0o755|os.ModeSetuid); err != nil {
				t.Fatal(err)
			}
		}, fail: map[string]string{"setuid": "/usr/bin/app"}},
		{name: "cvmfs name", breakIt: func(t *testing.T, top string) {
			os.MkdirAll(filepath.Join(top, "usr/.cvmfs"), 0o755)
			os.WriteFile(filepath.Join(top, "usr/.cvmfscatalog"), nil, 0o644)
		}, fail: map[string]string{"cvmfs-reserved": "/usr/.cvmfs: .cvmfs is reserved"}},
		{name: "no RPATH", breakIt: func(t *testing.T, top string) {
			patchelf(t, "--remove-rpath", filepath.Join(top, "usr/bin/app"))
		}, checks: declared[:1], fail: map[string]string{
			"elf-search-path": "/usr/bin/app: libfoo.so.1: not found through the search path",
			"ldd":             "/usr/bin/app: libfoo.so.1 loads the decoy",
			"check:app":       "a decoy library from LD_LIBRARY_PATH was loaded",
		}},
		{name: "RUNPATH", breakIt: func(t *testing.T, top string) {
			patchelf(t, "--set-rpath", "$ORIGIN/../lib64", filepath.Join(top, "usr/bin/app"))
		}, checks: declared[:1], fail: map[string]string{
			"elf-search-path": `/usr/bin/app: DT_RUNPATH "$ORIGIN/../lib64"`,
			"ldd":             "/usr/bin/app: libfoo.so.1 loads the decoy",
			"check:app":       "a decoy library from LD_LIBRARY_PATH was loaded",
		}},
		{name: "library missing", breakIt: func(t *testing.T, top string) {
			os.Remove(filepath.Join(top, "usr/lib64/private/libbar.so.2"))
		}, fail: map[string]string{
			"elf-search-path": "/usr/lib64/libfoo.so.1.0: libbar.so.2: not found",
			"ldd":             "/usr/lib64/libfoo.so.1.0: libbar.so.2 loads the decoy",
		}},
		{name: "glibc ceiling", platform: &lowCeiling, fail: map[string]string{"glibc-ceiling": "/usr/bin/app: needs GLIBC_2."}},
		{name: "build path", breakIt: func(t *testing.T, top string) {
			os.WriteFile(filepath.Join(top, "usr/share/foo/leak.txt"), []byte("x "+elftest.BuildRoot+"/foo\n"), 0o644)
		}, fail: map[string]string{"build-paths": "/usr/share/foo/leak.txt: holds " + elftest.BuildRoot + " at byte 2"}},
		{name: "absolute shebang", breakIt: func(t *testing.T, top string) {
			os.WriteFile(filepath.Join(top, "usr/bin/abs"), []byte("#!/usr/bin/python3.11\n"), 0o755)
		}, fail: map[string]string{"shebangs": "/usr/bin/abs: #!/usr/bin/python3.11 is a host path"}},
		{name: "no bundlerc", breakIt: func(t *testing.T, top string) {
			os.Remove(filepath.Join(top, "bundlerc"))
		}, checks: declared[:1], fail: map[string]string{"bundlerc": "no bundlerc", "check:app": "bundlerc could not be sourced"}},
		{name: "failing check", checks: []Check{{Name: "false", Command: "echo the check says no; exit 3"}},
			fail: map[string]string{"check:false": "the check says no"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			top := copyTree(t, staging)
			if tt.breakIt != nil {
				tt.breakIt(t, top)
			}
			rep := run(t, top, Options{Platform: tt.platform, Checks: tt.checks, BuildPaths: []string{staging}})
			for _, c := range rep.Checks {
				want, bad := tt.fail[c.Name]
				if !bad {
					if !c.OK && !c.Skipped {
						t.Errorf("%s failed though this test does not concern it:\n%s", c.Name, text(rep))
					}
					continue
				}
				if c.OK {
					t.Errorf("%s passed, want it to fail on %q", c.Name, want)
					continue
				}
				if !strings.Contains(strings.Join(c.Offenders, "\n")+"\n"+c.Detail, want) {
					t.Errorf("%s offenders do not name %q:\n%s", c.Name, want, text(rep))
				}
			}
			for name := range tt.fail {
				if _, ok := rep.Get(name); !ok {
					t.Errorf("no %s check in the report", name)
				}
			}
		})
	}
}

func patchelf(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("patchelf", args...).CombinedOutput(); err != nil {
		t.Fatalf("patchelf %v: %v %s", args, err, out)
	}
}

// TestHostileTarball feeds entries that climb out, sit outside the top
// directory, are hard links or devices, or carry set-id bits.
func TestHostileTarball(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(h *tar.Header, body string) {
		h.Size = int64(len(body))
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			tw.Write([]byte(body))
		}
	}
	add(&tar.Header{Name: "TOP/", Typeflag: tar.TypeDir, Mode: 0o755}, "")
	add(&tar.Header{Name: "TOP/a", Typeflag: tar.TypeReg, Mode: 0o644}, "a")
	add(&tar.Header{Name: "TOP/../evil", Typeflag: tar.TypeReg, Mode: 0o644}, "evil")
	add(&tar.Header{Name: "/etc/evil", Typeflag: tar.TypeReg, Mode: 0o644}, "evil")
	add(&tar.Header{Name: "OTHER/x", Typeflag: tar.TypeReg, Mode: 0o644}, "x")
	add(&tar.Header{Name: "TOP/escape", Typeflag: tar.TypeSymlink, Linkname: "/tmp", Mode: 0o777}, "")
	add(&tar.Header{Name: "TOP/escape/planted", Typeflag: tar.TypeReg, Mode: 0o644}, "through the link")
	add(&tar.Header{Name: "TOP/hard", Typeflag: tar.TypeLink, Linkname: "TOP/a"}, "")
	add(&tar.Header{Name: "TOP/dev", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3, Mode: 0o666}, "")
	add(&tar.Header{Name: "TOP/suid", Typeflag: tar.TypeReg, Mode: 0o4755}, "s")
	tw.Close()
	p := filepath.Join(t.TempDir(), "hostile.tar")
	os.WriteFile(p, buf.Bytes(), 0o644)
	rep := run(t, p, Options{})
	want := map[string]string{
		"unpack":        "TOP/../evil: absolute or climbing entry name, not unpacked",
		"symlinks":      "/escape -> /tmp: absolute",
		"hardlinks":     "/hard: hard link to TOP/a",
		"special-files": "/dev: character device",
		"setuid":        "/suid: mode 4755",
	}
	for name, s := range want {
		c, _ := rep.Get(name)
		if c.OK || !strings.Contains(strings.Join(c.Offenders, "\n"), s) {
			t.Errorf("%s: want an offender %q, got %+v", name, s, c)
		}
	}
	c, _ := rep.Get("unpack")
	all := strings.Join(c.Offenders, "\n")
	for _, s := range []string{"/etc/evil", "OTHER/x: outside the top directory TOP", "/escape/planted"} {
		if !strings.Contains(all, s) {
			t.Errorf("unpack offenders do not name %s:\n%s", s, all)
		}
	}
	if _, err := os.Stat("/tmp/planted"); err == nil {
		t.Error("a file was written through the planted symlink")
	}
}

func TestLargeFile(t *testing.T) {
	top := t.TempDir()
	tr := &tree{top: top, all: []node{{path: "/big", mode: 0o644, size: LargeFile + 1}, {path: "/small", mode: 0o644, size: LargeFile}}}
	for _, c := range checkTree(&unpacked{}, tr, DefaultBrokenList) {
		if c.Name == "large-files" && (c.OK || c.OffenderCount != 1 || !strings.HasPrefix(c.Offenders[0], "/big: 1024 MiB")) {
			t.Errorf("large-files: %+v", c)
		}
	}
}

func TestBrokenPaths(t *testing.T) {
	got := brokenPaths([]byte("/usr/lib/a -> b\n\"/usr/lib/x -> y\" -> z\r\n\"bad\n/usr/lib/c -> /abs\n\n"))
	for _, p := range []string{"/usr/lib/a", "/usr/lib/x -> y", "/usr/lib/c"} {
		if !got[p] {
			t.Errorf("%q not listed: %v", p, got)
		}
	}
	if len(got) != 3 {
		t.Errorf("got %v", got)
	}
}

func FuzzBrokenPaths(f *testing.F) {
	f.Add([]byte("/usr/lib/a -> b\n\"/usr/lib/x -> y\" -> z\n"))
	f.Add([]byte("\"\\x00\" -> \"\\n\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for p := range brokenPaths(data) {
			if !strings.HasPrefix(p, "/") {
				t.Fatalf("%q is not a bundle path", p)
			}
		}
	})
}

func TestWriteTextAndJSON(t *testing.T) {
	rep := &Report{Target: "b.tar.gz", Checks: []CheckResult{
		{Name: "symlinks", OK: true, Count: 3},
		{Name: "shebangs", Count: 2, Offenders: []string{"/usr/bin/x: #!/usr/bin/perl is a host path"}, OffenderCount: 25},
		{Name: "glibc-ceiling", Skipped: true, Detail: "no ceiling"},
	}}
	got := text(rep)
	want := "ok   symlinks                    3 checked\n" +
		"FAIL shebangs                    2 checked, 25 failing\n" +
		"       /usr/bin/x: #!/usr/bin/perl is a host path\n" +
		"       ... and 24 more\n" +
		"skip glibc-ceiling               0 checked\n" +
		"       | no ceiling\n" +
		"bundle test: b.tar.gz FAILED: shebangs\n"
	if got != want {
		t.Errorf("WriteText:\n%s\nwant:\n%s", got, want)
	}
	var buf bytes.Buffer
	rep.WriteJSON(&buf)
	var back Report
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil || len(back.Checks) != 3 || back.Checks[1].OffenderCount != 25 {
		t.Errorf("JSON: %v %s", err, buf.String())
	}
}

func TestRunRefuses(t *testing.T) {
	if _, err := Run(context.Background(), Options{Platform: platform(t)}); err == nil {
		t.Error("no target accepted")
	}
	if _, err := Run(context.Background(), Options{Target: t.TempDir()}); err == nil {
		t.Error("no platform accepted")
	}
	p := filepath.Join(t.TempDir(), "x.txt")
	os.WriteFile(p, []byte("not a tarball"), 0o644)
	if _, err := Run(context.Background(), Options{Target: p, Platform: platform(t), WorkDir: workDir(t), Logger: quiet}); err == nil || !strings.Contains(err.Error(), "neither a tarball") {
		t.Errorf("a text file: %v", err)
	}
}

// TestRootFS runs the relocated sample's checks inside a newer Debian
// (trixie minbase, made once with mmdebstrap and cached). Making it takes
// minutes, so the test skips unless it is cached or BUNDLE_REQUIRE_TOOLS=1.
func TestRootFS(t *testing.T) {
	elftest.RequireTools(t, "bwrap")
	dir, err := RootFSDir(RootFSOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !ready(dir) {
		if !testenv.Required() {
			t.Skipf("no cached root filesystem at %s (BUNDLE_REQUIRE_TOOLS=1 makes one)", dir)
		}
		elftest.RequireTools(t, "mmdebstrap")
		if dir, err = EnsureRootFS(context.Background(), RootFSOptions{Logger: quiet}); err != nil {
			t.Fatal(err)
		}
	}
	staging := relocatedSample(t)
	rep := run(t, staging, Options{Checks: declared, RootFS: dir})
	if !rep.OK() {
		t.Fatalf("the relocated sample fails in %s:\n%s", dir, text(rep))
	}
	for _, name := range []string{"rootfs:ldd", "rootfs:app", "rootfs:python", "rootfs:tool"} {
		if c, ok := rep.Get(name); !ok || !c.OK || c.Count == 0 {
			t.Errorf("%s: %+v", name, c)
		}
	}
	// Without its search path the program loads the decoy in the root
	// filesystem too.
	top := copyTree(t, staging)
	patchelf(t, "--remove-rpath", filepath.Join(top, "usr/bin/app"))
	rep = run(t, top, Options{Checks: declared[:1], RootFS: dir, BuildPaths: []string{staging}})
	for _, name := range []string{"rootfs:ldd", "rootfs:app"} {
		if c, _ := rep.Get(name); c.OK {
			t.Errorf("%s passed with a program that has no search path", name)
		}
	}
}

func TestParseListing(t *testing.T) {
	data, err := os.ReadFile("testdata/ldd-listing.txt")
	if err != nil {
		t.Fatal(err)
	}
	s := &sandbox{top: "/T/TOP", decoys: "/D"}
	res := newResult("ldd")
	s.parseListing(res, string(data), []string{"/usr/bin/app", "/usr/lib64/libfoo.so.1.0", "/usr/bin/x"}, []string{"libc.so.6"})
	c := res.done()
	want := []string{
		"/usr/bin/x: /T/TOP/usr/bin/x: error while loading shared libraries: /T/TOP/usr/bin/x: cannot open shared object file: Permission denied",
		"/usr/bin/x: the loader exited with status 127",
		"/usr/lib64/libfoo.so.1.0: libbar.so.2 loads the decoy from LD_LIBRARY_PATH, not the bundle's",
		"/usr/lib64/libfoo.so.1.0: libgone.so.3 not found",
		"/usr/lib64/libfoo.so.1.0: libz.so.1 loads /lib/x86_64-linux-gnu/libz.so.1, outside the bundle",
	}
	if c.Count != 3 || strings.Join(c.Offenders, "\n") != strings.Join(want, "\n") {
		t.Errorf("count %d, offenders:\n%s", c.Count, strings.Join(c.Offenders, "\n"))
	}
}

func FuzzParseListing(f *testing.F) {
	data, err := os.ReadFile("testdata/ldd-listing.txt")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(data))
	f.Fuzz(func(t *testing.T, out string) {
		s := &sandbox{top: "/T/TOP", decoys: "/D"}
		res := newResult("ldd")
		batch := []string{"/a", "/b", "/c"}
		s.parseListing(res, out, batch, []string{"libc.so.6"})
		if c := res.done(); c.Count > strings.Count(out, "@@bundle-ldd ") {
			t.Fatalf("counted %d files", c.Count)
		}
	})
}
