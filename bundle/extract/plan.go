package extract

import (
	"bufio"
	"fmt"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/bundle-dev/bundle/bundle/rpm"
	"golang.org/x/sys/unix"
)

// pkgPlan is one package and what Extract will write from it.
type pkgPlan struct {
	file  string
	pkg   *rpm.Package
	nevra string
	paths []string // normalised path per file index ("" for %ghost)
	owns  []bool   // file index is written by this package
}

// plan is the ownership decided from the headers before anything is
// written: for every path, the first package in (NEVRA, file) order that
// ships it owns it.
type plan struct {
	pkgs   []*pkgPlan
	dirs   []dirSpec // owned directories, for the final mode/mtime pass
	report Report    // Conflicts, Dropped, Stripped, Caps, Removed filled
}

type dirSpec struct {
	path  string
	perm  os.FileMode
	mtime int64
}

// readHeader reads one package's header from its file.
func readHeader(file string) (*rpm.Package, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("read rpm: %w", err)
	}
	defer f.Close()
	p, err := rpm.ReadHeader(bufio.NewReaderSize(f, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("read rpm %s: %w", file, err)
	}
	p.Path = file
	return p, nil
}

// checkPatterns validates Options.Remove.
func checkPatterns(pats []string) ([]string, error) {
	out := make([]string, 0, len(pats))
	for _, p := range pats {
		if !strings.HasPrefix(p, "/") {
			return nil, fmt.Errorf("remove pattern %q: must be an absolute path or glob", p)
		}
		c := path.Clean(p)
		if _, err := path.Match(c, ""); err != nil {
			return nil, fmt.Errorf("remove pattern %q: %w", p, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// removedBy returns the highest of p and its parent directories that
// matches a pattern, or "" when none does.
func removedBy(pats []string, p string) string {
	top := ""
	for a := p; a != "/"; a = path.Dir(a) {
		for _, pat := range pats {
			if ok, _ := path.Match(pat, a); ok {
				top = a
				break
			}
		}
	}
	return top
}

// Unix file type bits.
const (
	typeMask = 0o170000
	typeChr  = 0o020000
	typeBlk  = 0o060000
	typeFifo = 0o010000
	typeSock = 0o140000
)

func specialType(f rpm.File) string {
	switch f.Mode & typeMask {
	case typeChr:
		return "char device"
	case typeBlk:
		return "block device"
	case typeFifo:
		return "fifo"
	case typeSock:
		return "socket"
	}
	return "unknown"
}

// sameContent reports whether two header entries would produce the same
// thing on disk, following rpm's file-conflict rules (rpmfilesCompare):
// directories never conflict; otherwise type, and for everything but
// symlinks the mode, must agree; symlinks compare targets, regular files
// size and digest (of the same algorithm). Two regular files without
// digests are only known equal when both are empty.
func sameContent(a *pkgPlan, i int, b *pkgPlan, j int) bool {
	fa, fb := a.pkg.Files[i], b.pkg.Files[j]
	if fa.Mode&typeMask != fb.Mode&typeMask {
		return false
	}
	switch {
	case fa.IsDir():
		return true
	case fa.IsSymlink():
		return fa.LinkTo == fb.LinkTo
	}
	if fa.Mode != fb.Mode || fa.Size != fb.Size {
		return false
	}
	if fa.Digest == "" && fb.Digest == "" {
		return fa.Size == 0
	}
	return a.pkg.FileDigestAlgo == b.pkg.FileDigestAlgo && strings.EqualFold(fa.Digest, fb.Digest)
}

type claim struct {
	p *pkgPlan
	i int
}

func (c claim) file() rpm.File { return c.p.pkg.Files[c.i] }

// makePlan decides ownership and fills the report's plan-time sections.
// pkgs must already be sorted.
func makePlan(pkgs []*pkgPlan, pats []string) (*plan, error) {
	pl := &plan{pkgs: pkgs}
	owner := map[string]claim{}
	conflicts := map[string]*Conflict{}
	removedCount := map[[2]string]int{}
	var removedOrder [][2]string
	for _, pp := range pkgs {
		pp.paths = make([]string, len(pp.pkg.Files))
		pp.owns = make([]bool, len(pp.pkg.Files))
		for i, f := range pp.pkg.Files {
			if f.IsGhost() {
				continue // never in the payload, never written
			}
			p, err := pp.pkg.FilePath(i)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", pp.file, err)
			}
			pp.paths[i] = p
			if top := removedBy(pats, p); top != "" {
				k := [2]string{top, pp.nevra}
				if removedCount[k] == 0 {
					removedOrder = append(removedOrder, k)
				}
				removedCount[k]++
				continue
			}
			if !f.IsDir() && !f.IsRegular() && !f.IsSymlink() {
				pl.report.Dropped = append(pl.report.Dropped, Dropped{Path: p, Package: pp.nevra, Type: specialType(f)})
				continue
			}
			c, taken := owner[p]
			if !taken {
				owner[p] = claim{pp, i}
				pp.owns[i] = true
				continue
			}
			if c.p == pp {
				return nil, fmt.Errorf("%s: path %s listed twice in the header", pp.file, p)
			}
			if sameContent(c.p, c.i, pp, i) {
				continue
			}
			cf := conflicts[p]
			if cf == nil {
				cf = &Conflict{Path: p, Owner: c.p.nevra}
				conflicts[p] = cf
			}
			if len(cf.Others) == 0 || cf.Others[len(cf.Others)-1] != pp.nevra {
				cf.Others = append(cf.Others, pp.nevra)
			}
		}
	}

	paths := make([]string, 0, len(owner))
	for p := range owner {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		c := owner[p]
		// Nothing may be written through a symlink (or under a file)
		// another entry puts in place: refuse the whole extraction.
		for a := path.Dir(p); a != "/"; a = path.Dir(a) {
			if ac, ok := owner[a]; ok && !ac.file().IsDir() {
				kind := "regular file"
				if ac.file().IsSymlink() {
					kind = "symlink to " + strconv.Quote(ac.file().LinkTo)
				}
				return nil, fmt.Errorf("%s: refusing to write %s: its parent %s is a %s from %s", c.p.file, p, a, kind, ac.p.nevra)
			}
		}
		f := c.file()
		if f.IsDir() {
			pl.dirs = append(pl.dirs, dirSpec{path: p, perm: os.FileMode(f.Mode & 0o777), mtime: f.Mtime})
		}
		if f.Mode&0o7000 != 0 && !f.IsSymlink() {
			pl.report.Stripped = append(pl.report.Stripped, Stripped{
				Path: p, Package: c.p.nevra,
				Mode:    strconv.FormatUint(uint64(f.Mode&0o7777), 8),
				Written: strconv.FormatUint(uint64(f.Mode&0o777), 8),
			})
		}
		if f.Caps != "" {
			pl.report.Caps = append(pl.report.Caps, DroppedCap{Path: p, Package: c.p.nevra, Caps: f.Caps})
		}
	}
	for _, p := range sortedKeys(conflicts) {
		pl.report.Conflicts = append(pl.report.Conflicts, *conflicts[p])
	}
	for _, k := range removedOrder {
		pl.report.Removed = append(pl.report.Removed, Removed{Path: k[0], Package: k[1], Entries: removedCount[k]})
	}
	sort.SliceStable(pl.report.Removed, func(i, j int) bool {
		return less2(pl.report.Removed[i].Path, pl.report.Removed[i].Package, pl.report.Removed[j].Path, pl.report.Removed[j].Package)
	})
	sort.SliceStable(pl.report.Dropped, func(i, j int) bool {
		return less2(pl.report.Dropped[i].Path, pl.report.Dropped[i].Package, pl.report.Dropped[j].Path, pl.report.Dropped[j].Package)
	})
	return pl, nil
}

func less2(a1, a2, b1, b2 string) bool {
	if a1 != b1 {
		return a1 < b1
	}
	return a2 < b2
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// checkBounds refuses, before anything is written, a plan that writes more
// entries or bytes than opts allows or than Root's file system has room
// for. Sizes come from the headers; the payload reader holds every file to
// its header size.
func checkBounds(opts Options, pl *plan) error {
	maxFiles, maxBytes := opts.MaxFiles, opts.MaxBytes
	if maxFiles == 0 {
		maxFiles = DefaultMaxFiles
	}
	if maxBytes == 0 {
		maxBytes = DefaultMaxBytes
	}
	var files, bytes int64
	for _, pp := range pl.pkgs {
		for i, owned := range pp.owns {
			if !owned {
				continue
			}
			files++
			if f := pp.pkg.Files[i]; f.IsRegular() {
				bytes += f.Size
			}
		}
	}
	if maxFiles > 0 && files > maxFiles {
		return fmt.Errorf("the packages would write %d entries, more than the limit of %d (--max-files)", files, maxFiles)
	}
	if maxBytes > 0 && bytes > maxBytes {
		return fmt.Errorf("the packages would write %d bytes, more than the limit of %d (--max-size)", bytes, maxBytes)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(opts.Root, &st); err == nil {
		if free := int64(st.Bavail) * int64(st.Bsize); free >= 0 && bytes > free {
			return fmt.Errorf("the packages would write %d bytes, but the file system has only %d free", bytes, free)
		}
		if st.Files > 0 && files > int64(st.Ffree) {
			return fmt.Errorf("the packages would write %d entries, but the file system has only %d free inodes", files, st.Ffree)
		}
	}
	return nil
}
