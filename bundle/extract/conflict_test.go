package extract

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/bundle-dev/bundle/bundle/rpm/rpmtest"
)

// conflictPackages ship overlapping paths: /opt/x differs in all three,
// /opt/same is identical, /opt/l points elsewhere in beta, /opt/d is a
// directory everywhere, /opt/mode differs only in mode.
func conflictPackages() []rpmtest.Package {
	mk := func(name, x, target string, mode uint32, extra ...rpmtest.File) rpmtest.Package {
		files := []rpmtest.File{
			dir("/opt", 0o755), dir("/opt/d", 0o755),
			reg("/opt/x", x), reg("/opt/same", "same content"), link("/opt/l", target),
			{Path: "/opt/mode", Mode: rpmtest.TypeReg | mode, Data: []byte("m")},
		}
		return rpmtest.Package{Name: name, Version: "1", Release: "1", Arch: "x86_64", Files: append(files, extra...)}
	}
	return []rpmtest.Package{
		mk("alpha", "from alpha", "t1", 0o644, reg("/opt/d/alpha", "a")),
		mk("beta", "from beta", "t2", 0o644, reg("/opt/d/beta", "b")),
		mk("gamma", "from gamma", "t1", 0o600),
	}
}

func TestConflictsDeterministic(t *testing.T) {
	s := newSandbox(t)
	var files []string
	for _, p := range conflictPackages() {
		files = append(files, s.write(t, p))
	}
	reversed := []string{files[2], files[1], files[0]}
	var first []byte
	var firstTree map[string]node
	for _, run := range []struct {
		workers int
		files   []string
	}{{1, files}, {4, files}, {4, reversed}, {2, reversed}} {
		root := filepath.Join(t.TempDir(), "root")
		rep, err := Extract(context.Background(), Options{Root: root, Workers: run.workers}, run.files)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.MarshalIndent(rep, "", " ")
		tree := snapshot(t, root)
		for p, n := range tree {
			n.ino = 0
			if n.typ&fs.ModeSymlink != 0 {
				n.mtime = 0 // symlink mtimes are not set: the time it was made
			}
			tree[p] = n
		}
		if first == nil {
			first, firstTree = b, tree
			want := []Conflict{
				{Path: "/opt/l", Owner: "alpha-1-1.x86_64", Others: []string{"beta-1-1.x86_64"}},
				{Path: "/opt/mode", Owner: "alpha-1-1.x86_64", Others: []string{"gamma-1-1.x86_64"}},
				{Path: "/opt/x", Owner: "alpha-1-1.x86_64", Others: []string{"beta-1-1.x86_64", "gamma-1-1.x86_64"}},
			}
			if !reflect.DeepEqual(rep.Conflicts, want) {
				t.Errorf("conflicts %v\nwant %v", rep.Conflicts, want)
			}
			content, _ := os.ReadFile(filepath.Join(root, "opt/x"))
			if string(content) != "from alpha" {
				t.Errorf("/opt/x = %q", content)
			}
			for _, p := range []string{"/opt/d/alpha", "/opt/d/beta"} {
				if _, ok := tree[p]; !ok {
					t.Errorf("%s missing", p)
				}
			}
			wantFiles := map[string]string{
				"alpha-1-1.x86_64": "[/opt /opt/d /opt/d/alpha /opt/l /opt/mode /opt/same /opt/x]",
				"beta-1-1.x86_64":  "[/opt/d/beta]",
				"gamma-1-1.x86_64": "[]",
			}
			for _, pr := range rep.Packages {
				if fmt.Sprint(pr.Files) != wantFiles[pr.NEVRA] {
					t.Errorf("%s wrote %v", pr.NEVRA, pr.Files)
				}
			}
			continue
		}
		if string(b) != string(first) {
			t.Errorf("workers=%d: report differs:\n%s\nvs\n%s", run.workers, b, first)
		}
		if !reflect.DeepEqual(tree, firstTree) {
			t.Errorf("workers=%d: tree differs", run.workers)
		}
	}
}

func TestModesAndRemoval(t *testing.T) {
	s := newSandbox(t)
	f := s.write(t, rpmtest.Package{Name: "modes", Files: []rpmtest.File{
		dir("/ro", 0o555), reg("/ro/inside", "x"),
		dir("/sgid", 0o2775), dir("/tmpdir", 0o1777),
		{Path: "/bin/su", Mode: rpmtest.TypeReg | 0o4755, Data: []byte("su"), Mtime: 1234567890},
		{Path: "/bin/wall", Mode: rpmtest.TypeReg | 0o2755, Data: []byte("wall"), Mtime: 1234567890},
		dir("/usr", 0o755), dir("/usr/share", 0o755), dir("/usr/share/doc", 0o755),
		dir("/usr/share/doc/modes", 0o755), reg("/usr/share/doc/modes/README", "r"),
		reg("/usr/share/docs-are-not-doc", "kept"),
		reg("/usr/lib/libm.a", "static"), reg("/usr/lib/libm.so", "shared"),
	}})
	rep, err := Extract(context.Background(), Options{Root: s.root,
		Remove: []string{"/usr/share/doc/", "/usr/lib/*.a"}}, []string{f})
	if err != nil {
		t.Fatal(err)
	}
	tree := snapshot(t, s.root)
	perms := map[string]fs.FileMode{
		"/ro": 0o555, "/ro/inside": 0o644, "/sgid": 0o775, "/tmpdir": 0o777,
		"/bin/su": 0o755, "/bin/wall": 0o755, "/usr/lib/libm.so": 0o644, "/usr/share/docs-are-not-doc": 0o644,
	}
	for p, want := range perms {
		if n, ok := tree[p]; !ok || n.perm != want {
			t.Errorf("%s: perm %v (present %v), want %v", p, n.perm, ok, want)
		}
	}
	if tree["/bin/su"].mtime != 1234567890 || tree["/ro"].mtime != 1600000000 {
		t.Errorf("mtimes not applied: %d %d", tree["/bin/su"].mtime, tree["/ro"].mtime)
	}
	for _, p := range []string{"/usr/share/doc", "/usr/share/doc/modes/README", "/usr/lib/libm.a"} {
		if _, ok := tree[p]; ok {
			t.Errorf("%s not removed", p)
		}
	}
	var removed, stripped []string
	for _, r := range rep.Removed {
		removed = append(removed, fmt.Sprintf("%s(%d)", r.Path, r.Entries))
	}
	for _, st := range rep.Stripped {
		stripped = append(stripped, st.Path+":"+st.Mode+">"+st.Written)
	}
	if got := strings.Join(removed, " "); got != "/usr/lib/libm.a(1) /usr/share/doc(3)" {
		t.Errorf("removed %s", got)
	}
	if got := strings.Join(stripped, " "); got != "/bin/su:4755>755 /bin/wall:2755>755 /sgid:2775>775 /tmpdir:1777>777" {
		t.Errorf("stripped %s", got)
	}
}

func TestRemovedPattern(t *testing.T) {
	pats, err := checkPatterns([]string{"/usr/share/doc", "/usr/share/locale/*", "/usr/lib64/*.a"})
	if err != nil {
		t.Fatal(err)
	}
	if top := removedBy(pats, "/usr/share/doc/x/y"); top != "/usr/share/doc" {
		t.Errorf("top %q", top)
	}
	for p, want := range map[string]bool{
		"/usr/share/doc": true, "/usr/share/doc/x/y": true, "/usr/share/docx": false, "/usr/share": false,
		"/usr/share/locale": false, "/usr/share/locale/de/LC_MESSAGES/x.mo": true,
		"/usr/lib64/libc.a": true, "/usr/lib64/libc.so": false, "/usr/lib64/sub/libc.a": false,
	} {
		if got := removedBy(pats, p) != ""; got != want {
			t.Errorf("%s: removed=%v want %v", p, got, want)
		}
	}
}

// TestExtractIntoExisting checks that a second Extract into the same root
// (the sandbox builder adds packages to a tree) replaces files atomically.
func TestExtractIntoExisting(t *testing.T) {
	s := newSandbox(t)
	a := s.write(t, rpmtest.Package{Name: "one", Files: []rpmtest.File{reg("/etc/conf", "v1"), link("/etc/l", "conf")}})
	b := s.write(t, rpmtest.Package{Name: "two", Files: []rpmtest.File{reg("/etc/conf", "v2"), link("/etc/l", "other")}})
	for _, f := range []string{a, b} {
		if _, err := Extract(context.Background(), Options{Root: s.root}, []string{f}); err != nil {
			t.Fatal(err)
		}
	}
	content, _ := os.ReadFile(filepath.Join(s.root, "etc/conf"))
	target, _ := os.Readlink(filepath.Join(s.root, "etc/l"))
	if string(content) != "v2" || target != "other" {
		t.Errorf("conf %q link %q", content, target)
	}
	s.checkContained(t)
}
