package elfdeps

import (
	"bytes"
	"debug/elf"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/bundle-dev/bundle/bundle/relocate/bundlepath"
	"github.com/bundle-dev/bundle/bundle/relocate/elfdeps/elftest"
)

func TestParseTestdata(t *testing.T) {
	lib, err := Inspect("testdata/libtiny.so.1")
	if err != nil {
		t.Fatal(err)
	}
	if lib.Soname != "libtiny.so.1" || lib.Type != elf.ET_DYN || lib.IsExecutable() || !lib.Linkable() {
		t.Errorf("lib: %+v", lib)
	}
	if !slices.Equal(lib.Needed, []string{"libc.so.6"}) || !lib.HasRPath || lib.HasRunPath || !slices.Equal(lib.RPath, []string{"$ORIGIN/../lib"}) {
		t.Errorf("lib dynamic: needed %q rpath %q runpath %q", lib.Needed, lib.RPath, lib.RunPath)
	}
	if hi, priv := Glibc(lib.Versions); hi == "" || priv {
		t.Errorf("lib versions %q: highest %q private %v", lib.Versions, hi, priv)
	}
	exe, err := Inspect("testdata/runpath-exe")
	if err != nil {
		t.Fatal(err)
	}
	if !exe.IsExecutable() || exe.Interp != "/lib64/ld-linux-x86-64.so.2" || exe.HasRPath || !exe.HasRunPath {
		t.Errorf("exe: %+v", exe)
	}
	if !slices.Equal(exe.Needed, []string{"libtiny.so.1", "libc.so.6"}) || !slices.Equal(exe.RunPath, []string{"/opt/x/lib", "$ORIGIN"}) {
		t.Errorf("exe dynamic: needed %q runpath %q", exe.Needed, exe.RunPath)
	}
}

func TestParseRejectsGarbage(t *testing.T) {
	for _, data := range [][]byte{nil, []byte("\x7fELF"), []byte("#!/bin/sh\n"), bytes.Repeat([]byte{0x7f, 'E', 'L', 'F', 2, 1, 1}, 20)} {
		if _, err := Parse(bytes.NewReader(data)); err == nil {
			t.Errorf("Parse(%q) succeeded", data)
		}
	}
}

func TestIsELF(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string]string{"elf": Magic + "rest", "short": "\x7fE", "text": "hello"} {
		os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644)
	}
	for name, want := range map[string]bool{"elf": true, "short": false, "text": false} {
		got, err := IsELF(filepath.Join(dir, name))
		if err != nil || got != want {
			t.Errorf("IsELF(%s) = %v, %v", name, got, err)
		}
	}
}

func TestGlibc(t *testing.T) {
	tests := []struct {
		in      []string
		want    string
		private bool
	}{
		{[]string{"GLIBC_2.2.5", "GLIBC_2.34", "GLIBC_2.4"}, "2.34", false},
		{[]string{"GLIBC_2.17", "GLIBC_PRIVATE", "GLIBCXX_3.4.30", "ZLIB_1.2.0"}, "2.17", true},
		{[]string{"GLIBC_x.y"}, "", false},
		{nil, "", false},
	}
	for _, tt := range tests {
		got, priv := Glibc(tt.in)
		if got != tt.want || priv != tt.private {
			t.Errorf("Glibc(%q) = %q, %v; want %q, %v", tt.in, got, priv, tt.want, tt.private)
		}
	}
	if CompareVersions("2.4", "2.34") >= 0 || CompareVersions("2.34", "2.34.0") != 0 || CompareVersions("2.36", "2.4") <= 0 {
		t.Error("CompareVersions orders numerically")
	}
}

func TestExpandOrigin(t *testing.T) {
	tests := []struct {
		entry, origin, want string
		err                 error
	}{
		{"$ORIGIN", "/usr/bin", "/usr/bin", nil},
		{"$ORIGIN/../lib64", "/usr/bin", "/usr/lib64", nil},
		{"${ORIGIN}/../../", "/usr/lib64/python3.11/lib-dynload", "/usr/lib64", nil},
		{"$ORIGIN/../../..", "/usr/bin", "", bundlepath.ErrOutside},
		{"/usr/lib64", "/usr/bin", "", ErrNotRelative},
		{"", "/usr/bin", "", ErrNotRelative},
		{"$ORIGIN/$LIB", "/usr/bin", "", ErrNotRelative},
		{"$ORIGINAL", "/usr/bin", "", ErrNotRelative},
	}
	for _, tt := range tests {
		got, err := ExpandOrigin(tt.entry, tt.origin)
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("ExpandOrigin(%q, %q) = %q, %v; want %v", tt.entry, tt.origin, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ExpandOrigin(%q, %q) = %q, %v; want %q", tt.entry, tt.origin, got, err, tt.want)
		}
	}
}

func TestLookup(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "usr/lib64"), 0o755)
	os.MkdirAll(filepath.Join(root, "usr/bin"), 0o755)
	os.WriteFile(filepath.Join(root, "usr/lib64/libz.so.1.3"), []byte("z"), 0o644)
	os.Symlink("libz.so.1.3", filepath.Join(root, "usr/lib64/libz.so.1"))
	os.Symlink("usr/lib64", filepath.Join(root, "lib64"))
	os.Symlink("/usr/lib64/libz.so.1.3", filepath.Join(root, "usr/bin/libz.so.1"))

	found, file, err := Lookup(root, "/usr/bin", []string{"/usr/lib64", "$ORIGIN", "$ORIGIN/../../lib64"}, "libz.so.1")
	if err != nil || found != "/usr/lib64/libz.so.1" || file != "/usr/lib64/libz.so.1.3" {
		t.Errorf("Lookup = %q, %q, %v", found, file, err)
	}
	if _, _, err := Lookup(root, "/usr/bin", []string{"/usr/lib64", "$ORIGIN"}, "libz.so.1"); err == nil {
		t.Error("an absolute entry and an absolute symlink must not count as found")
	}
	if _, _, err := Lookup(root, "/usr/bin", []string{"$ORIGIN/../lib64"}, "../lib64/libz.so.1"); err == nil {
		t.Error("a DT_NEEDED with a slash must be refused")
	}
}

// TestInspectBuilt checks Parse against what the compiler was told.
func TestInspectBuilt(t *testing.T) {
	dir := t.TempDir()
	lib := elftest.BuildLib(t, dir, elftest.Lib{Soname: "libb.so.2", Source: "int b(void){return 2;}"})
	exe := elftest.BuildExe(t, filepath.Join(dir, "exe"), "int b(void); int main(void){return b();}",
		"-L", dir, "-l:libb.so.2", "-Wl,--disable-new-dtags", "-Wl,-rpath,$ORIGIN")
	li, err := Inspect(lib)
	if err != nil || li.Soname != "libb.so.2" || li.HasRPath || li.HasRunPath {
		t.Fatalf("lib: %+v %v", li, err)
	}
	ei, err := Inspect(exe)
	if err != nil || !slices.Contains(ei.Needed, "libb.so.2") || !ei.HasRPath || ei.HasRunPath {
		t.Fatalf("exe: %+v %v", ei, err)
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"testdata/libtiny.so.1", "testdata/runpath-exe"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := Parse(bytes.NewReader(data))
		if err == nil && info == nil {
			t.Fatal("nil info without an error")
		}
		if err == nil {
			Glibc(info.Versions)
		}
	})
}
