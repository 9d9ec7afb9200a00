// Package links makes the symlinks and hard links of a staging tree safe for
// CVMFS and for a bundle that is mounted anywhere.
//
// The tree is a directory that stands for "/" of the installed packages: a
// symlink target "/usr/lib/libz.so.1" means root/usr/lib/libz.so.1. Symlinks
// are resolved inside that namespace the way the kernel resolves them in a
// chroot at the root: an absolute target restarts at the root, ".." is taken
// after the component before it has been resolved (so "/a/../b" with a a
// symlink to a directory climbs from that directory), and a ".." that would
// climb above the root stays at the root, reading the target as the host path
// it names. More than 40 symlinks in one resolution count as a loop (a link
// met twice) or an overlong chain, and the link is dangling.
//
// [Fix] decides every change against the tree as it finds it, then applies
// them in path order:
//
//   - An absolute symlink that resolves becomes relative. The new target is
//     the old one with its directory part resolved and its last component
//     kept, written as the shortest relative path from the link's directory:
//     /usr/lib64/libfoo.so -> /usr/lib64/libfoo.so.1 becomes libfoo.so.1, not
//     the file at the end of the chain, so version chains and alternatives
//     links keep their shape (the links they point through are fixed too).
//     This also covers absolute targets the bundle only holds through another
//     route, such as /lib64/x with /lib64 a symlink to usr/lib64: the new
//     target is ../lib64/x from /usr/lib, which exists without /lib64.
//   - A relative symlink whose own ".." climbs above the root points outside
//     the bundle once it is mounted elsewhere. If it resolves (with the host
//     reading above) to a regular file, the link is replaced by a copy of
//     that file, with its mode and times (and owner when running as root).
//     If it resolves to a directory, or to anything that is not a regular
//     file, it is replaced by a relative symlink to that in-bundle path rather
//     than a copy of a tree.
//   - A relative symlink that stays inside and resolves is left untouched,
//     even when its chain passes through links that this pass rewrites: the
//     rewrites keep every resolution the same.
//   - A symlink that does not resolve (dangling, loop, overlong chain, a
//     non-directory used as a directory), absolute or relative, is removed
//     and listed in the broken-links file at the root.
//   - Every regular file with more than one hard link becomes independent.
//     Files are grouped by inode; a group that holds all the inode's links
//     keeps the inode on its first path (in byte order) and the other paths
//     get copies; a group with links outside the tree is copied entirely.
//     A copy is written to a temporary file in the same directory and
//     renamed over the path, so a path is always either the old or the
//     complete new file.
//
// The broken-links file has one "path -> target" line per removed link,
// sorted and without duplicates, where path is the link's absolute bundle
// path and target its content as it was. Lines already in the file are kept
// (so a second run, which removes nothing, leaves it as it is); the file is
// only written when a link is removed, and it is written before any link is
// removed, so an interrupted run never loses a line. A path or target with a
// control character, invalid UTF-8, a leading quote or " -> " in it is
// written as a Go quoted string. The file carries the times the root
// directory had, so that it does not make the tree depend on the clock.
//
// Replacements keep the times of what they replace (a symlink's times for a
// symlink, the source's for a copy) and the modification and access times of
// every directory that was changed are restored, so a second run finds the
// tree exactly as the first left it. All reads and writes go through
// os.Root: nothing outside the root is read, followed or written.
package links

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// DefaultBrokenList is the name of the file, at the root of the tree, that
// lists the symlinks Fix removed.
const DefaultBrokenList = "broken-links.txt"

// Options configures Fix.
type Options struct {
	// Logger receives one debug line per change and an info summary; nil
	// means slog.Default().
	Logger *slog.Logger
	// BrokenList is the name of the file written at the root that lists
	// removed links; "" means DefaultBrokenList. It must be a plain file
	// name, not a path.
	BrokenList string
}

// Report says what Fix changed. Every slice is sorted by Path and non-nil,
// so the JSON form is deterministic.
type Report struct {
	// Relativised are symlinks rewritten to a relative target: absolute
	// links that resolve inside, and escaping links to directories.
	Relativised []Relink `json:"relativised"`
	// Copied are escaping symlinks replaced by a copy of the file they
	// resolve to.
	Copied []Copy `json:"copied"`
	// Dropped are symlinks removed because they do not resolve; each is
	// also a line of the broken-links file.
	Dropped []Drop `json:"dropped"`
	// HardLinksBroken are the paths that received an independent copy of
	// a file that had several hard links.
	HardLinksBroken []string `json:"hard_links_broken"`
	// Loops are the dropped symlinks whose chain came back to a link it
	// had already expanded.
	Loops []Link `json:"loops"`
}

// Link is a symlink as Fix found it.
type Link struct {
	// Path is the bundle path of the symlink, e.g. "/usr/bin/x".
	Path string `json:"path"`
	// Target is the symlink's content.
	Target string `json:"target"`
}

// Relink is a symlink whose target was rewritten.
type Relink struct {
	// Path is the bundle path of the symlink.
	Path string `json:"path"`
	// Target is the former content.
	Target string `json:"target"`
	// NewTarget is the relative target written instead.
	NewTarget string `json:"new_target"`
}

// Copy is a symlink replaced by a copy of the file it resolved to.
type Copy struct {
	// Path is the bundle path of the former symlink.
	Path string `json:"path"`
	// Target is the former content of the symlink.
	Target string `json:"target"`
	// Source is the bundle path of the file copied.
	Source string `json:"source"`
}

// Drop is a symlink removed because it does not resolve.
type Drop struct {
	// Path is the bundle path of the removed symlink.
	Path string `json:"path"`
	// Target is its content.
	Target string `json:"target"`
	// Reason says why it does not resolve.
	Reason string `json:"reason"`
}

// Empty reports whether Fix changed nothing.
func (r *Report) Empty() bool {
	return len(r.Relativised) == 0 && len(r.Copied) == 0 && len(r.Dropped) == 0 &&
		len(r.HardLinksBroken) == 0 && len(r.Loops) == 0
}

func newReport() *Report {
	return &Report{
		Relativised:     []Relink{},
		Copied:          []Copy{},
		Dropped:         []Drop{},
		HardLinksBroken: []string{},
		Loops:           []Link{},
	}
}

// Fix makes the symlinks and hard links under root safe for CVMFS, as the
// package documentation describes, and reports what it changed. On error or
// cancellation the changes made so far are complete and consistent (each
// path is either as it was or fully replaced, changed directories get their
// times back) and a new run finishes the job; the report returned with such
// an error lists the changes made, and is nil when none was attempted.
func Fix(ctx context.Context, root string, opts Options) (*Report, error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	list := opts.BrokenList
	if list == "" {
		list = DefaultBrokenList
	}
	if strings.ContainsRune(list, '/') || !filepath.IsLocal(list) {
		return nil, fmt.Errorf("fix links in %s: broken-links file name %q is not a plain file name", root, list)
	}
	start := time.Now()
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("fix links: open tree: %w", err)
	}
	defer r.Close()
	if fi, err := r.Lstat(list); err == nil && !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("fix links in %s: %s exists and is not a regular file (%s); remove it or choose another Options.BrokenList", root, list, fi.Mode().Type())
	}

	sc, err := scanTree(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("fix links in %s: %w", root, err)
	}
	plans, err := planLinks(ctx, newResolver(r), sc.links)
	if err != nil {
		return nil, fmt.Errorf("fix links in %s: %w", root, err)
	}
	rep := newReport()
	a := &applier{root: r, log: log, dirTimes: make(map[string]times)}
	err = a.run(ctx, plans, sc.hardLinks(), "/"+list, rep)
	if rerr := a.restoreDirTimes(); err == nil {
		err = rerr
	}
	a.closeDir()
	if err != nil {
		return rep, fmt.Errorf("fix links in %s: %w", root, err)
	}
	log.Info("links fixed", "root", root,
		"symlinks", len(sc.links), "relativised", len(rep.Relativised),
		"copied", len(rep.Copied), "dropped", len(rep.Dropped), "loops", len(rep.Loops),
		"hard_links_broken", len(rep.HardLinksBroken), "duration", time.Since(start))
	return rep, nil
}

// inode identifies a file across its hard links.
type inode struct{ dev, ino uint64 }

// scan is what one walk of the tree finds.
type scan struct {
	links  []string // bundle paths of symlinks, in walk (byte) order
	groups map[inode]*hardGroup
}

// hardGroup is the paths of one multiply linked regular file.
type hardGroup struct {
	nlink uint64
	paths []string
}

// scanTree walks the tree without following symlinks and collects symlinks
// and multiply linked regular files.
func scanTree(ctx context.Context, r *os.Root) (*scan, error) {
	sc := &scan{groups: make(map[inode]*hardGroup)}
	err := fs.WalkDir(r.FS(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("walk %s: %w", bundlePath(name), err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			sc.links = append(sc.links, bundlePath(name))
		case d.Type().IsRegular():
			// Entries read through os.Root carry their lstat already.
			fi, err := d.Info()
			if err != nil {
				return fmt.Errorf("lstat %s: %w", bundlePath(name), err)
			}
			st, ok := fi.Sys().(*syscall.Stat_t)
			if !ok || !fi.Mode().IsRegular() || st.Nlink <= 1 {
				return nil
			}
			k := inode{uint64(st.Dev), st.Ino}
			g := sc.groups[k]
			if g == nil {
				g = &hardGroup{nlink: uint64(st.Nlink)}
				sc.groups[k] = g
			}
			g.paths = append(g.paths, bundlePath(name))
		}
		return nil
	})
	slices.Sort(sc.links)
	return sc, err
}

// hardLinks returns the paths that need an independent copy, in byte order.
func (sc *scan) hardLinks() []string {
	var out []string
	for _, g := range sc.groups {
		slices.Sort(g.paths)
		if uint64(len(g.paths)) >= g.nlink {
			out = append(out, g.paths[1:]...)
		} else {
			out = append(out, g.paths...)
		}
	}
	slices.Sort(out)
	return out
}

// bundlePath turns an fs.FS name ("usr/bin/x", ".") into a bundle path.
func bundlePath(name string) string {
	if name == "." {
		return "/"
	}
	return "/" + name
}

// action is what becomes of one symlink.
type action int

const (
	keep     action = iota // relative, inside, resolves
	relink                 // rewrite with newTarget
	copyFile               // replace by a copy of source
	drop                   // remove and list
)

// plan is the decision about one symlink, taken before any change.
type plan struct {
	path, target string
	act          action
	newTarget    string // relink
	source       string // copyFile
	st           status // drop
}

// planLinks decides what becomes of each symlink.
func planLinks(ctx context.Context, res *resolver, links []string) ([]plan, error) {
	plans := make([]plan, 0, len(links))
	for _, p := range links {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		pl, err := planLink(res, p)
		if err != nil {
			return nil, err
		}
		plans = append(plans, pl)
	}
	return plans, nil
}

func planLink(res *resolver, p string) (plan, error) {
	n, err := res.lookup(p)
	if err != nil {
		return plan{}, err
	}
	if !n.exists || n.mode&fs.ModeSymlink == 0 {
		return plan{}, fmt.Errorf("%s changed while being read: no longer a symlink", p)
	}
	pl := plan{path: p, target: n.target}
	dir := path.Dir(p)
	full, err := res.resolve(dir, n.target, true)
	if err != nil {
		return plan{}, fmt.Errorf("resolve %s -> %s: %w", p, n.target, err)
	}
	switch {
	case full.status != resolved:
		pl.act, pl.st = drop, full.status
	case path.IsAbs(n.target):
		named, err := res.resolve(dir, n.target, false)
		if err != nil {
			return plan{}, fmt.Errorf("resolve %s -> %s: %w", p, n.target, err)
		}
		pl.act, pl.newTarget = relink, named.path
	case full.escaped && full.mode.IsRegular():
		pl.act, pl.source = copyFile, full.path
	case full.escaped:
		pl.act, pl.newTarget = relink, full.path
	default:
		pl.act = keep
	}
	if pl.act == relink {
		if pl.newTarget, err = relTarget(dir, pl.newTarget); err != nil {
			return plan{}, err
		}
	}
	return pl, nil
}

// relTarget is the shortest relative path from the directory dir to to, both
// bundle paths without symlinks in their directory parts.
func relTarget(dir, to string) (string, error) {
	rel, err := filepath.Rel(dir, to)
	if err != nil {
		return "", fmt.Errorf("relative path from %s to %s: %w", dir, to, err)
	}
	return filepath.ToSlash(rel), nil
}
