package bundlepath

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// tree makes a small merged-/usr bundle:
//
//	usr/lib64/libz.so.1.3 (file), usr/lib64/libz.so.1 -> libz.so.1.3,
//	lib64 -> usr/lib64, usr/bin/python3 -> python3.11, usr/bin/python3.11,
//	usr/lib/abs -> /usr/lib64, usr/lib/up -> ../../../etc, loop1 <-> loop2,
//	usr/lib/dir -> ../lib64 (a directory link).
func tree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	mk := func(p string) {
		if err := os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ln := func(target, p string) {
		if err := os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, filepath.Join(root, p)); err != nil {
			t.Fatal(err)
		}
	}
	mk("usr/lib64/libz.so.1.3")
	mk("usr/bin/python3.11")
	ln("libz.so.1.3", "usr/lib64/libz.so.1")
	ln("usr/lib64", "lib64")
	ln("python3.11", "usr/bin/python3")
	ln("/usr/lib64", "usr/lib/abs")
	ln("../../../etc", "usr/lib/up")
	ln("loop2", "loop1")
	ln("loop1", "loop2")
	ln("../lib64", "usr/lib/dir")
	return root
}

func TestResolve(t *testing.T) {
	root := tree(t)
	tests := []struct {
		in, want string
		err      error
	}{
		{"/usr/lib64/libz.so.1", "/usr/lib64/libz.so.1.3", nil},
		{"lib64/libz.so.1", "/usr/lib64/libz.so.1.3", nil},
		{"/lib64/../bin/python3", "/usr/bin/python3.11", nil},
		{"/usr/lib/dir/libz.so.1", "/usr/lib64/libz.so.1.3", nil},
		{"/usr/lib/dir/../bin/python3", "/usr/bin/python3.11", nil},
		{"/usr/lib/abs/libz.so.1", "", ErrOutside},
		{"/usr/lib/up", "", ErrOutside},
		{"/../etc", "", ErrOutside},
		{"/loop1", "", ErrLoop},
		{"/usr/lib64/missing", "", fs.ErrNotExist},
		{"/usr/bin/python3.11/x", "", nil},
		{"/", "/", nil},
	}
	for _, tt := range tests {
		got, err := Resolve(root, tt.in)
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("Resolve(%q) = %q, want an error", tt.in, got)
		case tt.err != nil && !errors.Is(err, tt.err):
			t.Errorf("Resolve(%q) error = %v, want %v", tt.in, err, tt.err)
		case tt.want != "" && (err != nil || got != tt.want):
			t.Errorf("Resolve(%q) = %q, %v, want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestResolveDir(t *testing.T) {
	root := tree(t)
	got, err := ResolveDir(root, "/lib64/libz.so.1")
	if err != nil || got != "/usr/lib64/libz.so.1" {
		t.Errorf("ResolveDir = %q, %v", got, err)
	}
	if _, err := ResolveDir(root, "/usr/lib/abs/x"); !errors.Is(err, ErrOutside) {
		t.Errorf("ResolveDir through an absolute link: %v", err)
	}
}

func TestRel(t *testing.T) {
	tests := []struct{ dir, target, want string }{
		{"/usr/bin", "/usr/bin/python3", "python3"},
		{"/usr/lib64/python3.11/lib-dynload", "/usr/lib64", "../.."},
		{"/usr/lib64", "/usr/lib64", "."},
		{"/", "/usr/lib64", "usr/lib64"},
		{"/opt/x/bin", "/", "../../.."},
		{"usr/libexec/a", "/usr/bin/perl", "../../bin/perl"},
	}
	for _, tt := range tests {
		if got := Rel(tt.dir, tt.target); got != tt.want {
			t.Errorf("Rel(%q, %q) = %q, want %q", tt.dir, tt.target, got, tt.want)
		}
	}
}

func TestResolveChroot(t *testing.T) {
	root := tree(t)
	for in, want := range map[string]string{
		"/usr/lib/abs/libz.so.1": "/usr/lib64/libz.so.1.3",
		"/usr/lib/up":            "/etc",
		"/../usr/bin/python3":    "/usr/bin/python3.11",
	} {
		os.MkdirAll(filepath.Join(root, "etc"), 0o755)
		if got, err := ResolveChroot(root, in); err != nil || got != want {
			t.Errorf("ResolveChroot(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
