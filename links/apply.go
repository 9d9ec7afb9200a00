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
		if err := setTimes(a.root, d, a.dirTimes[d]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// tempName returns a fresh name in dir for a temporary file or link.
func tempName(dir string) string {
	return path.Join(dir, fmt.Sprintf(".bundle-links-%016x.tmp", rand.Uint64()))
}

// maxTempTries bounds the search for an unused temporary name.
const maxTempTries = 100

// replaceLink replaces the symlink p by one to target, keeping its owner (as
// root) and times.
func (a *applier) replaceLink(p, target string) error {
	fi, err := a.root.Lstat(rootRel(p))
	if err != nil {
		return fmt.Errorf("relink %s: %w", p, err)
	}
	if fi.Mode()&fs.ModeSymlink == 0 {
		return fmt.Errorf("relink %s: no longer a symlink", p)
	}
	if err := a.touchDir(path.Dir(p)); err != nil {
		return fmt.Errorf("relink %s: %w", p, err)
	}
	var tmp string
	for i := 0; ; i++ {
		tmp = tempName(path.Dir(p))
		err = a.root.Symlink(target, rootRel(tmp))
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) || i == maxTempTries {
			return fmt.Errorf("relink %s: %w", p, err)
		}
	}
	err = func() error {
		if uid, gid, ok := ownerOf(fi); ok && os.Geteuid() == 0 {
			if err := a.root.Lchown(rootRel(tmp), uid, gid); err != nil {
				return err
			}
		}
		if err := setTimes(a.root, tmp, timesOf(fi)); err != nil {
			return err
		}
		return a.root.Rename(rootRel(tmp), rootRel(p))
	}()
	if err != nil {
		a.root.Remove(rootRel(tmp))
		return fmt.Errorf("relink %s: %w", p, err)
	}
	return nil
}

// copyOver writes a copy of the regular file src to dst through a temporary
// file in dst's directory renamed over dst, with src's mode, times and (as
// root) owner. src == dst gives a file its own inode.
func (a *applier) copyOver(src, dst string) error {
	fi, err := a.root.Lstat(rootRel(src))
	if err != nil {
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("copy %s to %s: source is no longer a regular file", src, dst)
	}
	in, err := a.root.OpenFile(rootRel(src), os.O_RDONLY, 0)
	if err != nil {
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	defer in.Close()
	if ifi, err := in.Stat(); err != nil || !os.SameFile(fi, ifi) {
		return fmt.Errorf("copy %s to %s: source changed while being copied", src, dst)
	}
	if err := a.touchDir(path.Dir(dst)); err != nil {
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	var tmp string
	var out *os.File
	for i := 0; ; i++ {
		tmp = tempName(path.Dir(dst))
		out, err = a.root.OpenFile(rootRel(tmp), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
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
		if err := setTimes(a.root, tmp, timesOf(fi)); err != nil {
			return err
		}
		return a.root.Rename(rootRel(tmp), rootRel(dst))
	}()
	if err != nil {
		a.root.Remove(rootRel(tmp))
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	return nil
}

// remove deletes the symlink p.
func (a *applier) remove(p string) error {
	fi, err := a.root.Lstat(rootRel(p))
	if err != nil {
		return fmt.Errorf("remove %s: %w", p, err)
	}
	if fi.Mode()&fs.ModeSymlink == 0 {
		return fmt.Errorf("remove %s: no longer a symlink", p)
	}
	if err := a.touchDir(path.Dir(p)); err != nil {
		return fmt.Errorf("remove %s: %w", p, err)
	}
	if err := a.root.Remove(rootRel(p)); err != nil {
		return fmt.Errorf("remove %s: %w", p, err)
	}
	return nil
}
