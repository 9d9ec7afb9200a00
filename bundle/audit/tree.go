package audit

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/bundle-dev/bundle/bundle/relocate/bundlepath"
)

// LargeFile is the size above which CVMFS warns about a file.
const LargeFile = 1 << 30

// node is one entry of the unpacked tree.
type node struct {
	path  string // bundle path, "/usr/bin/x"
	mode  fs.FileMode
	size  int64
	nlink uint64
}

// tree is the unpacked bundle, listed once.
type tree struct {
	top   string
	all   []node
	files []node // regular files
	links []node // symlinks
}

func walkTree(ctx context.Context, top string) (*tree, error) {
	t := &tree{top: top}
	err := filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, _ := filepath.Rel(top, p)
		if rel == "." {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		n := node{path: "/" + filepath.ToSlash(rel), mode: fi.Mode(), size: fi.Size()}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			n.nlink = uint64(st.Nlink)
		}
		t.all = append(t.all, n)
		switch {
		case fi.Mode().IsRegular():
			t.files = append(t.files, n)
		case fi.Mode()&fs.ModeSymlink != 0:
			t.links = append(t.links, n)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walk %s: %w", top, err)
	}
	return t, nil
}

func (t *tree) host(p string) string { return bundlepath.Join(t.top, p) }

// brokenPaths returns the link paths a broken-links file lists. Each line
// is "PATH -> TARGET"; PATH is a Go quoted string when it starts with '"'.
func brokenPaths(data []byte) map[string]bool {
	m := map[string]bool{}
	for l := range strings.SplitSeq(string(data), "\n") {
		l = strings.TrimSuffix(l, "\r")
		if l == "" {
			continue
		}
		var p string
		if strings.HasPrefix(l, `"`) {
			q, err := strconv.QuotedPrefix(l)
			if err != nil {
				continue
			}
			p, _ = strconv.Unquote(q)
		} else {
			p, _, _ = strings.Cut(l, " -> ")
		}
		if p != "" {
			m[bundlepath.Clean(p)] = true
		}
	}
	return m
}

// cvmfsAllowed are the ".cvmfs*" names a bundle may carry.
var cvmfsAllowed = map[string]bool{".cvmfscatalog": true, ".cvmfsautocatalog": true}

// checkTree runs the tree checks.
func checkTree(u *unpacked, t *tree, brokenList string) []CheckResult {
	links := newResult("symlinks")
	hard := newResult("hardlinks")
	special := newResult("special-files")
	setid := newResult("setuid")
	large := newResult("large-files")
	reserved := newResult("cvmfs-reserved")

	broken := map[string]bool{}
	if data, err := os.ReadFile(t.host(brokenList)); err == nil {
		broken = brokenPaths(data)
	} else if !errors.Is(err, fs.ErrNotExist) {
		links.fail("%s: %v", brokenList, err)
	}
	for _, s := range u.hardlinks {
		hard.fail("%s", s)
	}
	for _, s := range u.specials {
		special.fail("%s", s)
	}
	for _, s := range u.setid {
		setid.fail("%s", s)
	}
	for _, n := range t.all {
		for _, c := range strings.Split(n.path, "/") {
			if strings.HasPrefix(c, ".cvmfs") && !(cvmfsAllowed[c] && n.mode.IsRegular()) {
				reserved.fail("%s: %s is reserved for CVMFS", n.path, c)
				break
			}
		}
		reserved.Count++
		switch {
		case n.mode.IsRegular():
			hard.Count++
			large.Count++
			if n.nlink > 1 {
				hard.fail("%s: %d hard links", n.path, n.nlink)
			}
			if n.size > LargeFile {
				large.fail("%s: %d MiB (CVMFS warns above %d MiB)", n.path, n.size>>20, LargeFile>>20)
			}
		case n.mode.IsDir():
		case n.mode&fs.ModeSymlink != 0:
			links.Count++
			target, err := os.Readlink(t.host(n.path))
			if err != nil {
				links.fail("%s: %v", n.path, err)
				continue
			}
			if path.IsAbs(target) {
				links.fail("%s -> %s: absolute (on a worker node it points into the host)", n.path, target)
				continue
			}
			if _, err := bundlepath.Resolve(t.top, n.path); err != nil {
				switch {
				case errors.Is(err, bundlepath.ErrOutside):
					links.fail("%s -> %s: leaves the bundle", n.path, target)
				case broken[n.path]:
				default:
					links.fail("%s -> %s: dangling and not in %s", n.path, target, brokenList)
				}
			}
		default:
			special.fail("%s: %v", n.path, n.mode.Type())
		}
		special.Count++
		setid.Count++
		if n.mode&(fs.ModeSetuid|fs.ModeSetgid) != 0 {
			setid.fail("%s: mode %v", n.path, n.mode)
		}
	}
	return []CheckResult{links.done(), hard.done(), special.done(), setid.done(), large.done(), reserved.done()}
}
