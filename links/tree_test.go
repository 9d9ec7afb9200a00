package links

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// entry is one line of a tree spec: a directory, a file, a symlink or a hard
// link to a file made earlier in the same spec.
type entry struct {
	kind   byte // 'd', 'f', 'l', 'h'
	path   string
	data   string      // file content
	target string      // symlink target, or the existing path for 'h'
	mode   fs.FileMode // files and directories; 0 means 0644 / 0755
}

// D is a directory.
func D(p string) entry { return entry{kind: 'd', path: p} }

// F is a regular file with mode 0644.
func F(p, data string) entry { return entry{kind: 'f', path: p, data: data} }

// FM is a regular file with the given mode.
func FM(p, data string, mode fs.FileMode) entry {
	return entry{kind: 'f', path: p, data: data, mode: mode}
}

// L is a symlink.
func L(p, target string) entry { return entry{kind: 'l', path: p, target: target} }

// H is a hard link to the file existing (made earlier in the spec).
func H(p, existing string) entry { return entry{kind: 'h', path: p, target: existing} }

// specTime is the time every entry of a built tree carries.
var specTime = time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)

// build makes the tree described by spec under root (created if needed).
// Parent directories are created as needed; every entry, parents included,
// gets specTime as access and modification time.
func build(t testing.TB, root string, spec ...entry) {
	t.Helper()
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, e := range spec {
		p := filepath.Join(root, filepath.FromSlash(e.path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch e.kind {
		case 'd':
			mode := e.mode
			if mode == 0 {
				mode = 0o755
			}
			if err = os.Mkdir(p, mode); err == nil {
				err = os.Chmod(p, mode)
			}
		case 'f':
			mode := e.mode
			if mode == 0 {
				mode = 0o644
			}
			if err = os.WriteFile(p, []byte(e.data), mode); err == nil {
				err = os.Chmod(p, mode)
			}
		case 'l':
			err = os.Symlink(e.target, p)
		case 'h':
			err = os.Link(filepath.Join(root, filepath.FromSlash(e.target)), p)
		default:
			err = fmt.Errorf("unknown kind %q", e.kind)
		}
		if err != nil {
			t.Fatalf("build %s: %v", e.path, err)
		}
	}
	setAllTimes(t, root)
}

// setAllTimes gives every entry under root, and root, specTime.
func setAllTimes(t testing.TB, root string) {
	t.Helper()
	r, err := os.OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	tm := times{specTime, specTime}
	err = fs.WalkDir(r.FS(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dir, base := path.Dir(name), path.Base(name)
		f, err := r.Open(dir)
		if err != nil {
			return err
		}
		defer f.Close()
		return setTimes(f, base, tm)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// snapshot describes the tree under root, one sorted line per entry:
// "d /path 0755", "f /path 0644 "content"" (plus " nlink=N" when N > 1) and
// "l /path -> target". With withTimes every line also carries the
// modification time in nanoseconds.
func snapshot(t testing.TB, root string, withTimes bool) []string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		bp := bundlePath(filepath.ToSlash(rel))
		var line string
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			line = fmt.Sprintf("l %s -> %s", bp, target)
		case fi.IsDir():
			if bp == "/" {
				line = "d /"
				if !withTimes {
					return nil
				}
			} else {
				line = fmt.Sprintf("d %s %04o", bp, fi.Mode().Perm())
			}
		case fi.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			line = fmt.Sprintf("f %s %04o %q", bp, fi.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky), data)
			if n := fi.Sys().(*syscall.Stat_t).Nlink; n > 1 {
				line += fmt.Sprintf(" nlink=%d", n)
			}
		default:
			line = fmt.Sprintf("? %s %v", bp, fi.Mode())
		}
		if withTimes {
			line += fmt.Sprintf(" mtime=%d", fi.ModTime().UnixNano())
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(lines)
	return lines
}

// diffLines reports the lines only in got and only in want.
func diffLines(got, want []string) string {
	var b strings.Builder
	for _, l := range got {
		if !slices.Contains(want, l) {
			fmt.Fprintf(&b, "  unexpected: %s\n", l)
		}
	}
	for _, l := range want {
		if !slices.Contains(got, l) {
			fmt.Fprintf(&b, "  missing:    %s\n", l)
		}
	}
	return b.String()
}

// realTempDir is t.TempDir with symlinks in its path resolved, so kernel
// resolution results can be compared with it.
func realTempDir(t testing.TB) string {
	t.Helper()
	d, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// checkSafe fails unless every symlink under root is relative and resolves,
// by the kernel, to an existing path inside root, and no file has several
// hard links.
func checkSafe(t testing.TB, root string) {
	t.Helper()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			fi, err := os.Lstat(p)
			if err != nil {
				return err
			}
			if n := fi.Sys().(*syscall.Stat_t).Nlink; n > 1 {
				t.Errorf("%s still has %d hard links", p, n)
			}
		}
		if d.Type()&fs.ModeSymlink == 0 {
			return nil
		}
		target, err := os.Readlink(p)
		if err != nil {
			return err
		}
		if filepath.IsAbs(target) {
			t.Errorf("%s -> %s is still absolute", p, target)
			return nil
		}
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s -> %s does not resolve: %v", p, target, err)
			return nil
		}
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			t.Errorf("%s -> %s: %v", p, target, err)
			return nil
		}
		if real != root && !strings.HasPrefix(real, root+string(filepath.Separator)) {
			t.Errorf("%s -> %s resolves outside the tree, to %s", p, target, real)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
