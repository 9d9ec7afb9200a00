package tarball

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bundle-dev/bundle/bundle/testenv"
)

// GNU tar and bsdtar list and extract every compression, and the extracted
// tree has the source's names, types, contents, link targets and
// normalised permissions.
func TestExternalTarsReadIt(t *testing.T) {
	tools := []struct{ name, bin string }{{"gnu", "tar"}, {"bsd", "bsdtar"}}
	for _, c := range compressions {
		res, _ := writeTree(t, smallTree(), Options{Compression: c, CatalogMax: 12, CatalogMin: 2})
		for _, tool := range tools {
			t.Run(tool.name+"-"+c, func(t *testing.T) {
				bin := testenv.LookPath(t, tool.bin)
				if c == "zstd" {
					testenv.LookPath(t, "zstd") // GNU tar calls it
				}
				if tool.name == "gnu" {
					if out, _ := exec.Command(bin, "--version").Output(); !bytes.Contains(out, []byte("GNU tar")) {
						testenv.Skipf(t, "%s is not GNU tar", bin)
					}
				}
				list, err := exec.Command(bin, "-tvf", res.Path).CombinedOutput()
				if err != nil {
					t.Fatalf("%s -tvf: %v\n%s", tool.bin, err, list)
				}
				if n := strings.Count(strings.TrimSpace(string(list)), "\n") + 1; n != res.Entries {
					t.Errorf("%s lists %d entries, Write wrote %d:\n%s", tool.bin, n, res.Entries, list)
				}
				if !strings.Contains(string(list), "demo/share/données.txt") || !strings.Contains(string(list), "demo/lib/libfoo.so -> libfoo.so.1") {
					t.Errorf("listing lacks expected entries:\n%s", list)
				}
				dest := t.TempDir()
				if out, err := exec.Command(bin, "-xf", res.Path, "-C", dest).CombinedOutput(); err != nil {
					t.Fatalf("%s -xf: %v\n%s", tool.bin, err, out)
				}
				compareExtracted(t, smallTree(), filepath.Join(dest, "demo"))
			})
		}
	}
}

func compareExtracted(t *testing.T, specs []spec, dir string) {
	t.Helper()
	for _, s := range specs {
		p := filepath.Join(dir, filepath.FromSlash(strings.TrimSuffix(s.path, "/")))
		fi, err := os.Lstat(p)
		if err != nil {
			t.Errorf("extracted tree lacks %s: %v", s.path, err)
			continue
		}
		switch {
		case strings.HasSuffix(s.path, "/"):
			if !fi.IsDir() {
				t.Errorf("%s: not a directory", s.path)
			}
		case s.target != "":
			if got, _ := os.Readlink(p); fi.Mode()&fs.ModeSymlink == 0 || got != s.target {
				t.Errorf("%s: symlink to %q, want %q", s.path, got, s.target)
			}
		default:
			want := s.data
			if s.link != "" {
				for _, o := range specs {
					if o.path == s.link {
						want = o.data
					}
				}
			}
			got, _ := os.ReadFile(p)
			if !fi.Mode().IsRegular() || string(got) != want {
				t.Errorf("%s: content %q, want %q", s.path, got, want)
			}
			wantPerm := fs.FileMode(0o644)
			if s.mode&0o111 != 0 {
				wantPerm = 0o755
			}
			if fi.Mode().Perm()&0o111 != wantPerm&0o111 {
				t.Errorf("%s: extracted mode %v, want %v", s.path, fi.Mode().Perm(), wantPerm)
			}
		}
	}
	if _, err := os.Lstat(filepath.Join(dir, CatalogMarker)); err != nil {
		t.Errorf("top .cvmfscatalog not extracted: %v", err)
	}
}
