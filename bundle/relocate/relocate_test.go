package relocate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/bundle-dev/bundle/bundle/relocate/buildpath"
	"github.com/bundle-dev/bundle/bundle/relocate/elfdeps"
	"github.com/bundle-dev/bundle/bundle/relocate/elfdeps/elftest"
	"github.com/bundle-dev/bundle/bundle/runner"
	"github.com/bundle-dev/bundle/bundle/testenv"
	"github.com/bundle-dev/bundle/platforms"
)

func platform(t testing.TB) *platforms.Platform {
	t.Helper()
	p, err := platforms.Load("el9-x86_64")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// snapshot maps every path of the tree to its type, mode and content hash
// (or link target).
func snapshot(t testing.TB, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			t, _ := os.Readlink(p)
			out[rel] = "-> " + t
		case fi.Mode().IsRegular():
			data, _ := os.ReadFile(p)
			sum := sha256.Sum256(data)
			out[rel] = fmt.Sprintf("%v %s %d", fi.Mode(), hex.EncodeToString(sum[:8]), fi.ModTime().UnixNano())
		default:
			out[rel] = fi.Mode().String()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func relocateSample(t *testing.T, o elftest.SampleOptions, python string) (string, *Report) {
	t.Helper()
	elftest.RequireTools(t, "gcc", "patchelf")
	root := filepath.Join(t.TempDir(), "staging", "TOP")
	elftest.Sample(t, root, o)
	if python != "" {
		elftest.RequireTools(t, "bwrap") // the bundle's Python runs in a jail
		hostPy := "/usr/bin/python3"
		testenv.Exists(t, hostPy)
		os.WriteFile(filepath.Join(root, "usr/bin/hostpython"), []byte("#!/bin/sh\nexec "+hostPy+" \"$@\"\n"), 0o755)
		// pip compiles what it installs where it installs it: the pyc
		// names the staging tree.
		cmd := exec.Command(hostPy, "-m", "compileall", "-q", "-o", "0", "-o", "1", filepath.Join(root, "usr/lib64/python3.11"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("compileall: %v\n%s", err, out)
		}
	}
	rep, err := Relocate(context.Background(), root, Options{
		Platform: platform(t), BuildPaths: []string{elftest.BuildRoot, elftest.BuildDir}, Python: python,
		Runner: runner.Exec{Logger: quiet}, Logger: quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	return root, rep
}

func TestRelocateSample(t *testing.T) {
	root, rep := relocateSample(t, elftest.SampleOptions{Unfixable: true}, "/usr/bin/hostpython")

	rpaths := map[string]string{
		"/usr/bin/app":             "$ORIGIN/../lib64",
		"/usr/lib64/libfoo.so.1.0": "$ORIGIN/private",
		"/usr/bin/python3.11":      "$ORIGIN/../lib64",
		"/usr/lib64/python3.11/lib-dynload/_ext.cpython-311-x86_64-linux-gnu.so": "$ORIGIN/../..",
	}
	for p, want := range rpaths {
		info, err := elfdeps.Inspect(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(info.RPath, ":"); !info.HasRPath || info.HasRunPath || got != want {
			t.Errorf("%s: DT_RPATH %q (runpath %v), want %q", p, got, info.HasRunPath, want)
		}
		if !slices.Contains(rep.ELFPatched, p) {
			t.Errorf("%s not in the report's ELFPatched %q", p, rep.ELFPatched)
		}
	}
	if info, _ := elfdeps.Inspect(filepath.Join(root, "usr/lib64/private/libbar.so.2")); info.HasRPath || info.HasRunPath {
		t.Errorf("libbar needs nothing from the bundle and got a search path %q", info.RPath)
	}

	wantList := func(name string, got []string, want ...string) {
		t.Helper()
		if !slices.Equal(got, want) {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	wantList("ShebangsRewritten", rep.ShebangsRewritten, "/usr/bin/piptool", "/usr/bin/tool")
	wantList("Unrelocated", rep.Unrelocated, "/usr/bin/hosttool: interpreter /usr/bin/perl is not in the bundle",
		"/usr/share/foo/blob.dat: binary file holds "+elftest.BuildRoot)
	wantList("Unresolved", rep.Unresolved)
	wantList("Removed", rep.Removed, "/usr/lib64/libfoo.la")
	for _, p := range []string{"/usr/lib64/pkgconfig/foo.pc", "/usr/share/foo/paths.txt", "/usr/lib64/python3.11/_sysconfigdata__linux_x86_64-linux-gnu.py"} {
		if !slices.Contains(rep.TextRewritten, p) {
			t.Errorf("%s not in TextRewritten %q", p, rep.TextRewritten)
		}
	}
	if !sort.StringsAreSorted(rep.ELFPatched) || !sort.StringsAreSorted(rep.TextRewritten) {
		t.Error("report lists are not sorted")
	}

	read := func(p string) string {
		data, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	if got := read("usr/lib64/pkgconfig/foo.pc"); got != "prefix=${pcfiledir}/../..\nexec_prefix=${prefix}\nlibdir=${prefix}/lib64\nincludedir=${prefix}/include\n\n"+
		"Name: foo\nDescription: foo library\nVersion: 1.0\nLibs: -L${prefix}/lib64 -lfoo\nCflags: -I${prefix}/include/foo\n" {
		t.Errorf("foo.pc:\n%s", got)
	}
	if got := read("usr/share/foo/paths.txt"); got != "staging=/usr/share/foo\nbuildroot=/usr/lib64/libfoo.so\nsource=/foo-1.0/src/foo.c\nalone='/'\n" {
		t.Errorf("paths.txt:\n%s", got)
	}
	if got := read("usr/lib64/python3.11/_sysconfigdata__linux_x86_64-linux-gnu.py"); !strings.Contains(got, "'DESTDIRS': '/usr /usr/lib64'") ||
		!strings.Contains(got, "'abs_builddir': '/Python-3.11.5/build/optimized'") {
		t.Errorf("sysconfigdata:\n%s", got)
	}
	if got := read("usr/bin/piptool"); !strings.HasPrefix(got, "#!/bin/sh\n'''exec' \"$(dirname -- \"$(readlink -f -- \"$0\")\")/python3.11\" \"$0\" \"$@\"\n' '''\nimport sys\n") {
		t.Errorf("piptool:\n%s", got)
	}
	if got := read("usr/bin/envtool"); got != "#!/usr/bin/env python3\nprint('env')\n" {
		t.Errorf("envtool changed:\n%s", got)
	}

	// The sysconfigdata pyc files were recompiled, unchecked-hash, at the
	// levels that were there.
	for _, name := range []string{"_sysconfigdata__linux_x86_64-linux-gnu.cpython-311.pyc", "_sysconfigdata__linux_x86_64-linux-gnu.cpython-311.opt-1.pyc"} {
		p := "/usr/lib64/python3.11/__pycache__/" + name
		if !slices.Contains(rep.Recompiled, p) {
			t.Errorf("%s not recompiled: %q", p, rep.Recompiled)
		}
		data := read(p)
		if flags := data[4:8]; flags != "\x01\x00\x00\x00" {
			t.Errorf("%s: flags %q, want unchecked-hash", p, flags)
		}
	}

	// Nothing but the unfixable blob names a build path.
	set, _ := buildpath.New([]string{root, elftest.BuildRoot, elftest.BuildDir})
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() || strings.HasSuffix(p, "blob.dat") {
			return err
		}
		f, _ := os.Open(p)
		defer f.Close()
		if res, _ := set.Scan(f, true); res.Found != "" {
			t.Errorf("%s still holds %s", p, res.Found)
		}
		return nil
	})

	// The programs run from a copy at another, longer path, with a
	// LD_LIBRARY_PATH full of wrong libraries.
	moved := filepath.Join(t.TempDir(), "a-much-longer-directory-name-than-the-staging-tree", "TOP")
	os.MkdirAll(filepath.Dir(moved), 0o755)
	if out, err := exec.Command("cp", "-a", root, moved).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	os.RemoveAll(root)
	decoys := t.TempDir()
	elftest.BuildLib(t, decoys, elftest.Lib{Soname: "libfoo.so.1", Source: "int foo(void) { return -1; }\n"})
	elftest.BuildLib(t, decoys, elftest.Lib{Soname: "libpython3.11.so.1.0", Source: "int py(void) { return -1; }\n"})
	for prog, want := range map[string]string{"usr/bin/app": "42\n", "bin/app": "42\n", "usr/bin/python3.11": "311\n", "usr/bin/tool": "311\n", "usr/bin/piptool": "311\n"} {
		cmd := exec.Command(filepath.Join(moved, prog))
		cmd.Env = []string{"PATH=/usr/bin:/bin", "LD_LIBRARY_PATH=" + decoys}
		out, err := cmd.CombinedOutput()
		if err != nil || string(out) != want {
			t.Errorf("%s: %q %v, want %q", prog, out, err, want)
		}
	}
}

func TestRelocateIsIdempotent(t *testing.T) {
	root, _ := relocateSample(t, elftest.SampleOptions{}, "")
	before := snapshot(t, root)
	rep, err := Relocate(context.Background(), root, Options{Platform: platform(t), BuildPaths: []string{elftest.BuildRoot, elftest.BuildDir}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(rep)
	if string(data) != `{"elf_patched":[],"shebangs_rewritten":[],"text_rewritten":[],"binary_patched":[],"recompiled":[],"removed":[],"unresolved":[],"unrelocated":[]}` {
		t.Errorf("second run changed things: %s", data)
	}
	after := snapshot(t, root)
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s: %s -> %s", k, v, after[k])
		}
	}
	if len(after) != len(before) {
		t.Errorf("%d paths before, %d after", len(before), len(after))
	}
}

func TestRelocateWithoutPythonRemovesStalePyc(t *testing.T) {
	elftest.RequireTools(t, "gcc", "patchelf")
	testenv.Exists(t, "/usr/bin/python3")
	root := filepath.Join(t.TempDir(), "TOP")
	elftest.Sample(t, root, elftest.SampleOptions{})
	os.MkdirAll(filepath.Join(root, "usr/lib/python3.11/site-packages/pkg"), 0o755)
	os.WriteFile(filepath.Join(root, "usr/lib/python3.11/site-packages/pkg/mod.py"), []byte("X = 1\n"), 0o644)
	if out, err := exec.Command("/usr/bin/python3", "-m", "compileall", "-q", filepath.Join(root, "usr")).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	rep, err := Relocate(context.Background(), root, Options{Platform: platform(t), BuildPaths: []string{elftest.BuildRoot, elftest.BuildDir}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	stale := "/usr/lib64/python3.11/__pycache__/_sysconfigdata__linux_x86_64-linux-gnu.cpython-311.pyc"
	if !slices.Contains(rep.Removed, stale) {
		t.Errorf("%s not removed: %q", stale, rep.Removed)
	}
	patched := "/usr/lib/python3.11/site-packages/pkg/__pycache__/mod.cpython-311.pyc"
	if !slices.Contains(rep.BinaryPatched, patched) {
		t.Errorf("%s not patched: %q", patched, rep.BinaryPatched)
	}
	// The patched pyc still loads, and names no staging path.
	cmd := exec.Command("/usr/bin/python3", "-c", "import pkg.mod, sys; print(pkg.mod.X, pkg.mod.__spec__.cached); sys.exit(0)")
	cmd.Env = []string{"PYTHONPATH=" + filepath.Join(root, "usr/lib/python3.11/site-packages"), "PYTHONDONTWRITEBYTECODE=1"}
	if out, err := cmd.CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "1 ") {
		t.Errorf("patched pyc: %v %s", err, out)
	}
	data, _ := os.ReadFile(filepath.Join(root, patched))
	if strings.Contains(string(data), root) {
		t.Error("the patched pyc still names the staging tree")
	}
}

func TestRelocateSonameConflict(t *testing.T) {
	elftest.RequireTools(t, "gcc", "patchelf")
	root := t.TempDir()
	a := filepath.Join(root, "usr/lib64")
	b := filepath.Join(root, "opt/app/lib")
	same := filepath.Join(root, "opt/copy/lib")
	for _, d := range []string{a, b, same} {
		os.MkdirAll(d, 0o755)
	}
	elftest.BuildLib(t, a, elftest.Lib{Soname: "libz.so.1", Source: "int z(void){return 1;}"})
	elftest.BuildLib(t, b, elftest.Lib{Soname: "libz.so.1", Source: "int z(void){return 2;}"})
	data, _ := os.ReadFile(filepath.Join(a, "libz.so.1"))
	os.WriteFile(filepath.Join(same, "libz.so.1"), data, 0o755)
	_, err := Relocate(context.Background(), root, Options{Platform: platform(t), Logger: quiet})
	if err == nil || !strings.Contains(err.Error(), "SONAME libz.so.1 is carried by different files") ||
		!strings.Contains(err.Error(), "/opt/app/lib/libz.so.1") || !strings.Contains(err.Error(), "/usr/lib64/libz.so.1") {
		t.Fatalf("want a conflict naming both files, got %v", err)
	}
	if !strings.Contains(err.Error(), "(identical: /usr/lib64/libz.so.1)") {
		t.Errorf("an identical copy is the same library: %v", err)
	}
	os.Remove(filepath.Join(b, "libz.so.1"))
	if _, err := Relocate(context.Background(), root, Options{Platform: platform(t), Logger: quiet}); err != nil {
		t.Errorf("identical copies: %v", err)
	}
}

// TestRelocateAliasOrigins checks a library reached through a symlink in
// another directory: the loader's $ORIGIN is then the symlink's directory.
func TestRelocateAliasOrigins(t *testing.T) {
	elftest.RequireTools(t, "gcc", "patchelf")
	root := t.TempDir()
	real := filepath.Join(root, "opt/pkg/lib")
	dep := filepath.Join(root, "opt/pkg/deps")
	pub := filepath.Join(root, "usr/lib64")
	for _, d := range []string{real, dep, pub} {
		os.MkdirAll(d, 0o755)
	}
	elftest.BuildLib(t, dep, elftest.Lib{Soname: "libdep.so.1", Source: "int dep(void){return 5;}"})
	elftest.BuildLib(t, real, elftest.Lib{Soname: "libpub.so.1", Source: "int dep(void); int pub(void){return dep();}", Flags: []string{"-L", dep, "-l:libdep.so.1"}})
	os.Symlink("../../opt/pkg/lib/libpub.so.1", filepath.Join(pub, "libpub.so.1"))
	if _, err := Relocate(context.Background(), root, Options{Platform: platform(t), Logger: quiet}); err != nil {
		t.Fatal(err)
	}
	info, _ := elfdeps.Inspect(filepath.Join(real, "libpub.so.1"))
	if got := strings.Join(info.RPath, ":"); got != "$ORIGIN/../deps:$ORIGIN/../../opt/pkg/deps" {
		t.Errorf("DT_RPATH %q", got)
	}
}

func TestRelocateNeedsPlatform(t *testing.T) {
	if _, err := Relocate(context.Background(), t.TempDir(), Options{}); err == nil {
		t.Error("no platform accepted")
	}
	if _, err := Relocate(context.Background(), t.TempDir(), Options{Platform: platform(t), BuildPaths: []string{"/"}}); err == nil {
		t.Error(`build path "/" accepted`)
	}
}
