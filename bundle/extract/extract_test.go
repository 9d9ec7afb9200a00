package extract

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/bundle-dev/bundle/bundle/runner"
	"github.com/bundle-dev/bundle/bundle/testenv"
)

var fixtures = testenv.FixturesDir

func fixtureFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(fixtures, "*", "*.rpm*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures under %s: %v", fixtures, err)
	}
	sort.Strings(files)
	return files
}

func fixture(name string) string { return filepath.Join(fixtures, "rpm-testsuite", name) }

// node is what a test knows of one path of a tree.
type node struct {
	typ    fs.FileMode // fs.ModeDir, fs.ModeSymlink, 0 (regular), or another type
	perm   fs.FileMode // permission + setuid/setgid/sticky bits
	sum    string      // content sha256 of a regular file
	target string      // symlink target
	mtime  int64
	ino    uint64
	nlink  uint64
}

// snapshot walks root without following symlinks.
func snapshot(t *testing.T, root string) map[string]node {
	t.Helper()
	out := map[string]node{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		r, _ := filepath.Rel(root, p)
		st := fi.Sys().(*syscall.Stat_t)
		n := node{typ: fi.Mode().Type(), perm: fi.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky),
			mtime: fi.ModTime().Unix(), ino: st.Ino, nlink: uint64(st.Nlink)}
		switch {
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			s := sha256.Sum256(b)
			n.sum = hex.EncodeToString(s[:])
		case fi.Mode()&fs.ModeSymlink != 0:
			n.target, err = os.Readlink(p)
			if err != nil {
				return err
			}
		}
		out["/"+filepath.ToSlash(r)] = n
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestMatchesRpm2cpio extracts every fixture with rpm2cpio | cpio -idm and
// with Extract, and compares the trees: same paths, contents, link targets
// and mtimes; modes equal after removing setuid/setgid/sticky; special
// files absent and reported.
func TestMatchesRpm2cpio(t *testing.T) {
	testenv.Tools(t, "rpm2cpio", "cpio", "rpm2archive", "tar", "bash")
	for _, f := range fixtureFiles(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			abs, err := filepath.Abs(f)
			if err != nil {
				t.Fatal(err)
			}
			ref := t.TempDir()
			// rpm2cpio's exit status is ignored: it also fails when the
			// header's archive size is off (Rimmer); cpio must succeed.
			_, err = runner.Output(context.Background(), runner.Exec{}, runner.Cmd{
				Name: "bash", Dir: ref,
				Args: []string{"-c", `rpm2cpio "$1" > "$2"; cpio -idm --quiet --no-absolute-filenames < "$2"`,
					"bash", abs, filepath.Join(t.TempDir(), "payload.cpio")},
			})
			if err != nil {
				// rpm2cpio refuses rpm's large-file (07070X) payloads;
				// rpm2archive writes them as a tar.
				ref = t.TempDir()
				_, err2 := runner.Output(context.Background(), runner.Exec{}, runner.Cmd{
					Name: "bash", Dir: ref,
					Args: []string{"-c", `rpm2archive -n - < "$1" > "$2" && tar -xpf "$2" --no-same-owner`,
						"bash", abs, filepath.Join(t.TempDir(), "payload.tar")},
				})
				if err2 != nil {
					if strings.Contains(f, "corrupted") {
						// Refused by both, as by Extract.
						if _, err := Extract(context.Background(), Options{Root: t.TempDir()}, []string{f}); err == nil {
							t.Fatal("rpm refuses this package, Extract accepts it")
						}
						return
					}
					testenv.Skipf(t, "neither rpm2cpio | cpio (%v) nor rpm2archive | tar (%v) can extract it", err, err2)
				}
			}
			ours := t.TempDir()
			rep, err := Extract(context.Background(), Options{Root: ours, Workers: 2}, []string{f})
			if err != nil {
				t.Fatal(err)
			}
			want, got := snapshot(t, ref), snapshot(t, ours)
			dropped := map[string]bool{}
			for _, d := range rep.Dropped {
				dropped[d.Path] = true
			}
			explicit := map[string]bool{}
			for _, p := range rep.Packages[0].Files {
				explicit[p] = true
			}
			for p, w := range want {
				g, ok := got[p]
				switch {
				case w.typ&(fs.ModeDevice|fs.ModeNamedPipe|fs.ModeSocket) != 0:
					if ok || !dropped[p] {
						t.Errorf("%s: special file present=%v reported=%v", p, ok, dropped[p])
					}
					continue
				case !ok:
					t.Errorf("%s: missing", p)
					continue
				case g.typ != w.typ:
					t.Errorf("%s: type %v, cpio %v", p, g.typ, w.typ)
				case w.typ == fs.ModeSymlink && g.target != w.target:
					t.Errorf("%s: target %q, cpio %q", p, g.target, w.target)
				case w.typ == 0 && (g.sum != w.sum || g.mtime != w.mtime):
					t.Errorf("%s: content/mtime differ", p)
				}
				if w.typ != fs.ModeSymlink && (w.typ != fs.ModeDir || explicit[p]) && g.perm != w.perm&fs.ModePerm {
					t.Errorf("%s: mode %v, cpio %v", p, g.perm, w.perm)
				}
			}
			for p := range got {
				if _, ok := want[p]; !ok {
					t.Errorf("%s: extracted but not by cpio", p)
				}
			}
		})
	}
}

func TestCorruptedFixture(t *testing.T) {
	f := fixture("hello-2.0-1.x86_64-corrupted.rpm")
	root := t.TempDir()
	_, err := Extract(context.Background(), Options{Root: root}, []string{f})
	if err == nil || !strings.Contains(err.Error(), f) {
		t.Fatalf("error %v does not name %s", err, f)
	}
	if got := snapshot(t, root); len(got) != 0 {
		t.Errorf("corrupted package left %v", got)
	}
}

// TestHardLinksBecomeCopies checks both hlinktest payload formats.
func TestHardLinksBecomeCopies(t *testing.T) {
	for _, tc := range []struct {
		file  string
		group []string
	}{
		{"hlinktest-1.0-1.noarch.rpm", []string{"/foo/hello", "/foo/hello-bar", "/foo/hello-foo", "/foo/hello-world"}},
		{"hlinktest-1.0-1.noarch.rpm", []string{"/foo/aaaa", "/foo/zzzz"}},
		{"hlinktest-1.0-1.noarch-v3sig.rpm", []string{"/foo/aaaa", "/foo/zzzz"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			root := t.TempDir()
			if _, err := Extract(context.Background(), Options{Root: root}, []string{fixture(tc.file)}); err != nil {
				t.Fatal(err)
			}
			tree := snapshot(t, root)
			first := tree[tc.group[0]]
			inodes := map[uint64]bool{}
			for _, p := range tc.group {
				n, ok := tree[p]
				if !ok || n.typ != 0 {
					t.Fatalf("%s: missing or not regular", p)
				}
				if n.sum != first.sum || n.nlink != 1 || inodes[n.ino] {
					t.Errorf("%s: sum %s nlink %d ino %d: not an independent copy of %s", p, n.sum, n.nlink, n.ino, tc.group[0])
				}
				inodes[n.ino] = true
			}
		})
	}
}

func TestCapsDropped(t *testing.T) {
	root := t.TempDir()
	rep, err := Extract(context.Background(), Options{Root: root}, []string{fixture("capstest-1.0-1.noarch.rpm")})
	if err != nil {
		t.Fatal(err)
	}
	want := []DroppedCap{
		{Path: "/a/emptyCaps1", Package: "capstest-1.0-1.noarch", Caps: "="},
		{Path: "/a/emptyCaps2", Package: "capstest-1.0-1.noarch", Caps: "="},
	}
	if fmt.Sprint(rep.Caps) != fmt.Sprint(want) {
		t.Errorf("caps %v, want %v", rep.Caps, want)
	}
	for _, c := range want {
		p := filepath.Join(root, c.Path)
		if _, err := os.Stat(p); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64)
		if n, err := syscall.Getxattr(p, "security.capability", buf); err == nil {
			t.Errorf("%s carries a capability xattr (%d bytes)", p, n)
		}
	}
}

func TestReportJSON(t *testing.T) {
	root := t.TempDir()
	rep, err := Extract(context.Background(), Options{Root: root, Remove: []string{"/usr/share/doc"}},
		[]string{fixture("hello-2.0-1.x86_64.rpm")})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	b2, _ := json.Marshal(back)
	if string(b) != string(b2) {
		t.Errorf("JSON does not round-trip:\n%s\n%s", b, b2)
	}
	for _, key := range []string{`"packages"`, `"conflicts"`, `"dropped"`, `"stripped"`, `"caps"`, `"removed"`, `"files"`, `"bytes"`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("JSON lacks %s: %s", key, b)
		}
	}
	if len(rep.Removed) == 0 || rep.Files == 0 || rep.Bytes == 0 {
		t.Errorf("report %+v", rep)
	}
}

func TestCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	root := t.TempDir()
	_, err := Extract(ctx, Options{Root: root}, []string{fixture("hello-2.0-1.x86_64.rpm")})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v", err)
	}
	if got := snapshot(t, root); len(got) != 0 {
		t.Errorf("cancelled extraction wrote %v", got)
	}
}

func TestBadOptions(t *testing.T) {
	for name, opts := range map[string]Options{
		"no root":          {},
		"relative pattern": {Root: t.TempDir(), Remove: []string{"usr/share/doc"}},
		"bad glob":         {Root: t.TempDir(), Remove: []string{"/usr/[share"}},
	} {
		if _, err := Extract(context.Background(), opts, nil); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := Extract(context.Background(), Options{Root: t.TempDir()}, []string{"/nonexistent.rpm"}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing rpm: %v", err)
	}
}

func BenchmarkExtract(b *testing.B) {
	var rpms []string
	for _, f := range fixtureFiles(b) {
		if !strings.Contains(f, "corrupted") {
			rpms = append(rpms, f)
		}
	}
	var bytes int64
	for i := 0; i < b.N; i++ {
		root := filepath.Join(b.TempDir(), "root")
		rep, err := Extract(context.Background(), Options{Root: root}, rpms)
		if err != nil {
			b.Fatal(err)
		}
		bytes = rep.Bytes
	}
	b.SetBytes(bytes)
}

// BenchmarkExtractCorpus extracts the RPMs of the directory named by
// $BUNDLE_BENCH_RPMS (e.g. the corpus bench/mkcorpus.sh builds), for
// profiles on real payloads: go test -bench ExtractCorpus -cpuprofile.
func BenchmarkExtractCorpus(b *testing.B) {
	dir := os.Getenv("BUNDLE_BENCH_RPMS")
	if dir == "" {
		b.Skip("set BUNDLE_BENCH_RPMS to a directory of RPMs")
	}
	rpms, err := filepath.Glob(filepath.Join(dir, "*.rpm"))
	if err != nil || len(rpms) == 0 {
		b.Fatalf("no RPM in %s: %v", dir, err)
	}
	var bytes int64
	for b.Loop() {
		root := filepath.Join(b.TempDir(), "root")
		rep, err := Extract(context.Background(), Options{Root: root, Remove: []string{}}, rpms)
		if err != nil {
			b.Fatal(err)
		}
		bytes = rep.Bytes
	}
	b.SetBytes(bytes)
}
