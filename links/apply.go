package links

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path"
	"slices"
)

// applier carries out the plans, in path order.
type applier struct {
	root *os.Root
	log  *slog.Logger
	// dirTimes holds the times of every directory changed, as they were
	// before the first change, to be restored at the end.
	dirTimes map[string]times
	// cur is the directory handle in use, nil when none is open.
	cur *dirHandle
}

// run writes the broken-links file, then applies the symlink plans, then
// breaks the hard links. rep grows as changes are made, so on error it says
// what was done.
func (a *applier) run(ctx context.Context, plans []plan, hard []string, listPath string, rep *Report) error {
	var lines []string
	for _, pl := range plans {
		if pl.act == drop {
			lines = append(lines, listLine(pl.path, pl.target))
		}
	}
	if len(lines) > 0 {
		if err := a.writeList(listPath, lines); err != nil {
			return err
		}
	}
	for _, pl := range plans {
		if err := ctx.Err(); err != nil {
			return err
		}
		switch pl.act {
		case keep:
			continue
		case relink:
			if err := a.replaceLink(pl.path, pl.newTarget); err != nil {
				return err
			}
			a.log.Debug("symlink made relative", "path", pl.path, "target", pl.target, "new_target", pl.newTarget)
			rep.Relativised = append(rep.Relativised, Relink{Path: pl.path, Target: pl.target, NewTarget: pl.newTarget})
		case copyFile:
			if err := a.copyOver(pl.source, pl.path); err != nil {
				return err
			}
			a.log.Debug("escaping symlink replaced by a copy", "path", pl.path, "target", pl.target, "source", pl.source)
			rep.Copied = append(rep.Copied, Copy{Path: pl.path, Target: pl.target, Source: pl.source})
		case drop:
			if err := a.remove(pl.path); err != nil {
				return err
			}
			a.log.Debug("broken symlink removed", "path", pl.path, "target", pl.target, "reason", pl.st.reason())
			rep.Dropped = append(rep.Dropped, Drop{Path: pl.path, Target: pl.target, Reason: pl.st.reason()})
			if pl.st == loop {
				rep.Loops = append(rep.Loops, Link{Path: pl.path, Target: pl.target})
			}
		}
	}
	for _, p := range hard {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := a.copyOver(p, p); err != nil {
			return err
		}
		a.log.Debug("hard link made independent", "path", p)
		rep.HardLinksBroken = append(rep.HardLinksBroken, p)
	}
	return nil
}

// dirHandle is one open directory of the tree: a Root for calls by name and
// a File for the descriptor-based ones. Calls on a single name neither walk
// a path nor follow the name when it is a symlink.
type dirHandle struct {
	path string
	root *os.Root
	file *os.File
}

// dir returns a handle on the tree directory p (a bundle path), reusing the
// last one: plans come in path order, so most calls share a directory.
func (a *applier) dir(p string) (*dirHandle, error) {
	if a.cur != nil && a.cur.path == p {
		return a.cur, nil
	}
	a.closeDir()
	r, err := a.root.OpenRoot(rootRel(p))
	if err != nil {
		return nil, fmt.Errorf("open directory %s: %w", p, err)
	}
	f, err := r.Open(".")
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("open directory %s: %w", p, err)
	}
	a.cur = &dirHandle{path: p, root: r, file: f}
	return a.cur, nil
}

// closeDir closes the cached directory handle.
func (a *applier) closeDir() {
	if a.cur != nil {
		a.cur.file.Close()
		a.cur.root.Close()
		a.cur = nil
	}
}

// touchDir records the times of the directory dir before its first change.
func (a *applier) touchDir(dir string) error {
	if _, ok := a.dirTimes[dir]; ok {
		return nil
	}
	fi, err := a.root.Lstat(rootRel(dir))
	if err != nil {
		return fmt.Errorf("lstat %s: %w", dir, err)
	}
	a.dirTimes[dir] = timesOf(fi)
	return nil
}

// restoreDirTimes puts back the times of the directories changed.
func (a *applier) restoreDirTimes() error {
	dirs := make([]string, 0, len(a.dirTimes))
	for d := range a.dirTimes {
		dirs = append(dirs, d)
	}
	slices.Sort(dirs)
	var errs []error
	for _, d := range dirs {
		parent, name := path.Dir(d), path.Base(d)
		if d == "/" {
			name = "."
		}
		h, err := a.dir(parent)
		if err == nil {
			err = setTimes(h.file, name, a.dirTimes[d])
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("restore times of %s: %w", d, err))
		}
	}
	return errors.Join(errs...)
}

// tempName returns a fresh name for a temporary file or link.
func tempName() string {
	return fmt.Sprintf(".bundle-links-%016x.tmp", rand.Uint64())
}

// maxTempTries bounds the search for an unused temporary name.
const maxTempTries = 100

// replaceLink replaces the symlink p by one to target, keeping its owner (as
// root) and times.
func (a *applier) replaceLink(p, target string) error {
	if err := a.touchDir(path.Dir(p)); err != nil {
		return fmt.Errorf("relink %s: %w", p, err)
	}
	h, err := a.dir(path.Dir(p))
	if err != nil {
		return fmt.Errorf("relink %s: %w", p, err)
	}
	name := path.Base(p)
	fi, err := h.root.Lstat(name)
	if err != nil {
		return fmt.Errorf("relink %s: %w", p, err)
	}
	if fi.Mode()&fs.ModeSymlink == 0 {
		return fmt.Errorf("relink %s: no longer a symlink", p)
	}
	var tmp string
	for i := 0; ; i++ {
		tmp = tempName()
		err = h.root.Symlink(target, tmp)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) || i == maxTempTries {
			return fmt.Errorf("relink %s: %w", p, err)
		}
	}
	err = func() error {
		if uid, gid, ok := ownerOf(fi); ok && os.Geteuid() == 0 {
			if err := h.root.Lchown(tmp, uid, gid); err != nil {
				return err
			}
		}
		if err := setTimes(h.file, tmp, timesOf(fi)); err != nil {
			return err
		}
		return h.root.Rename(tmp, name)
	}()
	if err != nil {
		h.root.Remove(tmp)
		return fmt.Errorf("relink %s: %w", p, err)
	}
	return nil
}

// copyOver writes a copy of the regular file src to dst through a temporary
// file in dst's directory renamed over dst, with src's mode, times and (as
// root) owner. src == dst gives a file its own inode.
func (a *applier) copyOver(src, dst string) error {
	in, err := a.root.OpenFile(rootRel(src), os.O_RDONLY, 0)
	if err != nil {
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	if lfi, err := a.root.Lstat(rootRel(src)); err != nil || !lfi.Mode().IsRegular() || !os.SameFile(fi, lfi) {
		return fmt.Errorf("copy %s to %s: source is no longer the regular file it was", src, dst)
	}
	if err := a.touchDir(path.Dir(dst)); err != nil {
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	h, err := a.dir(path.Dir(dst))
	if err != nil {
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	var tmp string
	var out *os.File
	for i := 0; ; i++ {
		tmp = tempName()
		out, err = h.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) || i == maxTempTries {
			return fmt.Errorf("copy %s to %s: %w", src, dst, err)
		}
	}
	err = func() error {
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		if uid, gid, ok := ownerOf(fi); ok && os.Geteuid() == 0 {
			if err := out.Chown(uid, gid); err != nil {
				out.Close()
				return err
			}
		}
		// After chown, which clears set-id bits.
		if err := out.Chmod(fi.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)); err != nil {
			out.Close()
			return err
		}
		if err := out.Close(); err != nil {
			return err
		}
		if err := setTimes(h.file, tmp, timesOf(fi)); err != nil {
			return err
		}
		return h.root.Rename(tmp, path.Base(dst))
	}()
	if err != nil {
		h.root.Remove(tmp)
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	return nil
}

// remove deletes the symlink p.
func (a *applier) remove(p string) error {
	if err := a.touchDir(path.Dir(p)); err != nil {
		return fmt.Errorf("remove %s: %w", p, err)
	}
	h, err := a.dir(path.Dir(p))
	if err != nil {
		return fmt.Errorf("remove %s: %w", p, err)
	}
	name := path.Base(p)
	fi, err := h.root.Lstat(name)
	if err != nil {
		return fmt.Errorf("remove %s: %w", p, err)
	}
	if fi.Mode()&fs.ModeSymlink == 0 {
		return fmt.Errorf("remove %s: no longer a symlink", p)
	}
	if err := h.root.Remove(name); err != nil {
		return fmt.Errorf("remove %s: %w", p, err)
	}
	return nil
}
