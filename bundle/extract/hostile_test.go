package extract

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bundle-dev/bundle/bundle/rpm/rpmtest"
)

func reg(p, data string) rpmtest.File {
	return rpmtest.File{Path: p, Mode: rpmtest.TypeReg | 0o644, Data: []byte(data), Mtime: 1600000000}
}

func dir(p string, perm uint32) rpmtest.File {
	return rpmtest.File{Path: p, Mode: rpmtest.TypeDir | perm, Mtime: 1600000000}
}

func link(p, target string) rpmtest.File {
	return rpmtest.File{Path: p, Mode: rpmtest.TypeLink | 0o777, LinkTo: target}
}

// sandbox is a temp dir holding the extraction root, a sibling sentinel
// directory that must stay empty, and the packages.
type sandbox struct {
	root, sentinel, pkgs string
}

func newSandbox(t *testing.T) sandbox {
	t.Helper()
	base := t.TempDir()
	s := sandbox{filepath.Join(base, "root"), filepath.Join(base, "sentinel"), filepath.Join(base, "pkgs")}
	for _, d := range []string{s.root, s.sentinel, s.pkgs} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func (s sandbox) write(t *testing.T, p rpmtest.Package) string {
	t.Helper()
	if p.Version == "" {
		p.Version, p.Release, p.Arch = "1", "1", "noarch"
	}
	path, err := rpmtest.WriteFile(s.pkgs, p.Name+".rpm", p)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// checkContained fails when anything appeared in the sentinel, or when a
// temp file was left in the root.
func (s sandbox) checkContained(t *testing.T) {
	t.Helper()
	ents, err := os.ReadDir(s.sentinel)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 0 {
		t.Errorf("something was written outside the root: %v", ents)
	}
	filepath.WalkDir(s.root, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), ".bundle-extract-") {
			t.Errorf("temp file left behind: %s", p)
		}
		return nil
	})
}

func TestHostile(t *testing.T) {
	tests := []struct {
		name    string
		pkgs    []rpmtest.Package
		plant   map[string]string // symlinks planted in the root before extracting
		errText string            // "" = extraction must succeed
	}{
		{name: "dotdot archive name", errText: "unsafe name", pkgs: []rpmtest.Package{{Name: "a",
			Files: []rpmtest.File{reg("/x", "pwned")}, ArchiveNames: map[int]string{0: "./../sentinel/x"}}}},
		{name: "absolute archive name", errText: "absolute", pkgs: []rpmtest.Package{{Name: "a",
			Files: []rpmtest.File{reg("/x", "pwned")}, ArchiveNames: map[int]string{0: "/sentinel/x"}}}},
		{name: "dotdot header path", errText: "unsafe path", pkgs: []rpmtest.Package{{Name: "a",
			Files: []rpmtest.File{reg("/../sentinel/x", "pwned")}}}},
		{name: "relative header path", errText: "unsafe path", pkgs: []rpmtest.Package{{Name: "a",
			Files: []rpmtest.File{reg("../sentinel/x", "pwned")}}}},
		{name: "write through own symlink", errText: "is a symlink", pkgs: []rpmtest.Package{{Name: "a",
			Files: []rpmtest.File{link("/evil", "../sentinel"), reg("/evil/x", "pwned")}}}},
		{name: "write through absolute symlink", errText: "is a symlink", pkgs: []rpmtest.Package{{Name: "a",
			Files: []rpmtest.File{link("/evil", "/tmp"), dir("/evil/sub", 0o755), reg("/evil/sub/x", "pwned")}}}},
		{name: "write through another package's symlink", errText: "is a symlink", pkgs: []rpmtest.Package{
			{Name: "b", Files: []rpmtest.File{reg("/lib/x", "pwned")}},
			{Name: "a", Files: []rpmtest.File{link("/lib", "../sentinel")}}}},
		{name: "directory shadowed by another package's symlink", errText: "is a symlink", pkgs: []rpmtest.Package{
			{Name: "b", Files: []rpmtest.File{dir("/lib", 0o755), reg("/lib/x", "pwned")}},
			{Name: "a", Files: []rpmtest.File{link("/lib", "../sentinel")}}}},
		{name: "write under a regular file", errText: "regular file", pkgs: []rpmtest.Package{{Name: "a",
			Files: []rpmtest.File{reg("/f", "file"), reg("/f/x", "pwned")}}}},
		{name: "symlink planted in the root", errText: "refusing to write under /planted", plant: map[string]string{"planted": "../sentinel"},
			pkgs: []rpmtest.Package{{Name: "a", Files: []rpmtest.File{reg("/planted/x", "pwned")}}}},
		{name: "truncated payload", errText: "unexpected EOF", pkgs: []rpmtest.Package{{Name: "a", Truncate: 200,
			Files: []rpmtest.File{reg("/big", strings.Repeat("0123456789", 20000))}, Compressor: "identity"}}},
		{name: "symlink out is kept as a symlink", pkgs: []rpmtest.Package{{Name: "a",
			Files: []rpmtest.File{link("/out", "../sentinel/x"), link("/abs", "/etc/passwd")}}}},
		{name: "device nodes dropped", pkgs: []rpmtest.Package{{Name: "a", Files: []rpmtest.File{
			{Path: "/dev/null", Mode: rpmtest.TypeChr | 0o666}, {Path: "/dev/sda", Mode: rpmtest.TypeBlk | 0o660},
			{Path: "/run/fifo", Mode: rpmtest.TypeFifo | 0o600}, {Path: "/run/sock", Mode: rpmtest.TypeSock | 0o755},
			reg("/etc/ok", "ok")}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSandbox(t)
			for name, target := range tc.plant {
				if err := os.Symlink(target, filepath.Join(s.root, name)); err != nil {
					t.Fatal(err)
				}
			}
			var files []string
			for _, p := range tc.pkgs {
				files = append(files, s.write(t, p))
			}
			rep, err := Extract(context.Background(), Options{Root: s.root, Workers: 2}, files)
			defer s.checkContained(t)
			if tc.errText != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errText) {
					t.Fatalf("error %v, want one mentioning %q", err, tc.errText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			switch tc.name {
			case "symlink out is kept as a symlink":
				if got, _ := os.Readlink(filepath.Join(s.root, "out")); got != "../sentinel/x" {
					t.Errorf("link target %q", got)
				}
			case "device nodes dropped":
				var got []string
				for _, d := range rep.Dropped {
					got = append(got, d.Path+" "+d.Type)
				}
				want := "/dev/null char device,/dev/sda block device,/run/fifo fifo,/run/sock socket"
				if strings.Join(got, ",") != want {
					t.Errorf("dropped %v", got)
				}
				tree := snapshot(t, s.root)
				for _, p := range []string{"/dev/null", "/dev/sda", "/run/fifo", "/run/sock"} {
					if _, ok := tree[p]; ok {
						t.Errorf("%s was created", p)
					}
				}
				if _, ok := tree["/etc/ok"]; !ok {
					t.Error("/etc/ok missing")
				}
			}
		})
	}
}

// TestTruncatedLeavesNoPartialFile checks that an interrupted stream never
// leaves a half-written file at its final path.
func TestTruncatedLeavesNoPartialFile(t *testing.T) {
	s := newSandbox(t)
	f := s.write(t, rpmtest.Package{Name: "a", Compressor: "gzip", Truncate: 400, Files: []rpmtest.File{
		reg("/first", "complete"), reg("/second", strings.Repeat("x", 1<<20)),
	}})
	if _, err := Extract(context.Background(), Options{Root: s.root}, []string{f}); err == nil {
		t.Fatal("no error")
	}
	tree := snapshot(t, s.root)
	if n, ok := tree["/second"]; ok {
		t.Errorf("partial /second left behind: %+v", n)
	}
	s.checkContained(t)
}

// Bounds are checked from the headers before anything is written.
func TestBoundsCheckedBeforeWriting(t *testing.T) {
	s := newSandbox(t)
	f := s.write(t, rpmtest.Package{Name: "a", Files: []rpmtest.File{
		dir("/d", 0o755), reg("/d/one", "1"), reg("/d/two", strings.Repeat("2", 5000)), link("/d/l", "one"),
	}})
	for _, c := range []struct {
		name string
		opts Options
		want string
	}{
		{"files", Options{MaxFiles: 3}, "would write 4 entries, more than the limit of 3 (--max-files)"},
		{"bytes", Options{MaxBytes: 5000}, "would write 5001 bytes, more than the limit of 5000 (--max-size)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.opts.Root = s.root
			_, err := Extract(context.Background(), c.opts, []string{f})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
			if got := snapshot(t, s.root); len(got) != 0 {
				t.Errorf("written before the check: %v", got)
			}
		})
	}
	if _, err := Extract(context.Background(), Options{Root: s.root, MaxFiles: 4, MaxBytes: 5001}, []string{f}); err != nil {
		t.Fatalf("at the limits: %v", err)
	}
	s.checkContained(t)
}

// A file whose data does not match its header digest never reaches its
// path, and the package's files already written are removed again.
func TestFileDigestMismatch(t *testing.T) {
	s := newSandbox(t)
	bad := reg("/d/b-bad", "payload")
	bad.Digest = strings.Repeat("0", 64)
	f := s.write(t, rpmtest.Package{Name: "a", Files: []rpmtest.File{
		dir("/d", 0o755), reg("/d/a-good", "fine"), bad, reg("/d/c-after", "later"), link("/d/l", "a-good"),
	}})
	_, err := Extract(context.Background(), Options{Root: s.root}, []string{f})
	if err == nil || !strings.Contains(err.Error(), "/d/b-bad") || !strings.Contains(err.Error(), "digest") {
		t.Fatalf("err = %v, want a digest mismatch on /d/b-bad", err)
	}
	for p, n := range snapshot(t, s.root) {
		if n.typ != fs.ModeDir {
			t.Errorf("%s left in the tree of a package that failed its checks", p)
		}
	}
	s.checkContained(t)
}
