package extract

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sync"
	"sync/atomic"
	"time"
)

// writer puts files under an os.Root, so no name can resolve outside it,
// and additionally never follows a symlink anywhere in a path: every parent
// directory is checked (Lstat) to be a real directory before anything is
// created in it. Files appear atomically (temp file + rename).
type writer struct {
	root *os.Root
	dirs sync.Map // absolute paths of parents verified to be directories
	seq  atomic.Uint64
}

// rel turns an absolute clean path into a name relative to the root.
func rel(p string) string { return p[1:] }

// ensureDir makes p (absolute, clean) and its parents exist as real
// directories, created owner-writable (final modes are applied at the end).
func (w *writer) ensureDir(p string) error {
	if p == "/" {
		return nil
	}
	if _, ok := w.dirs.Load(p); ok {
		return nil
	}
	if err := w.ensureDir(path.Dir(p)); err != nil {
		return err
	}
	fi, err := w.root.Lstat(rel(p))
	if errors.Is(err, fs.ErrNotExist) {
		err = w.root.Mkdir(rel(p), 0o755)
		if errors.Is(err, fs.ErrExist) { // created concurrently
			err = nil
		}
		if err == nil {
			fi, err = w.root.Lstat(rel(p))
		}
	}
	if err != nil {
		return fmt.Errorf("create directory %s: %w", p, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("refusing to write under %s: it exists as a %s, not a directory", p, kindOf(fi.Mode()))
	}
	w.dirs.Store(p, struct{}{})
	return nil
}

func kindOf(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m.IsRegular():
		return "regular file"
	}
	return m.Type().String()
}

func (w *writer) tempName(p string) string {
	return path.Join(path.Dir(p), fmt.Sprintf(".bundle-extract-%d-%d.tmp", os.Getpid(), w.seq.Add(1)))
}

// ctxReader stops a copy when the context is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(b []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(b)
}

// writeFile writes exactly size bytes from r to p with the given
// permissions and mtime, replacing whatever non-directory is there.
func (w *writer) writeFile(ctx context.Context, p string, r io.Reader, size int64, perm fs.FileMode, mtime time.Time) error {
	if err := w.ensureDir(path.Dir(p)); err != nil {
		return err
	}
	tmp := w.tempName(p)
	f, err := w.root.OpenFile(rel(tmp), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	done := false
	defer func() {
		if !done {
			f.Close()
			w.root.Remove(rel(tmp))
		}
	}()
	n, err := io.Copy(f, ctxReader{ctx, io.LimitReader(r, size+1)})
	if err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	if n != size {
		return fmt.Errorf("write %s: got %d bytes, expected %d", p, n, size)
	}
	if err := f.Chmod(perm); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	done = true
	if err := w.root.Chtimes(rel(tmp), mtime, mtime); err != nil {
		w.root.Remove(rel(tmp))
		return fmt.Errorf("write %s: %w", p, err)
	}
	if err := w.root.Rename(rel(tmp), rel(p)); err != nil {
		w.root.Remove(rel(tmp))
		return fmt.Errorf("write %s: %w", p, err)
	}
	return nil
}

// copyFile writes an independent copy of src (already written) to dst.
func (w *writer) copyFile(ctx context.Context, src, dst string, size int64, perm fs.FileMode, mtime time.Time) error {
	f, err := w.root.Open(rel(src))
	if err != nil {
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	defer f.Close()
	return w.writeFile(ctx, dst, f, size, perm, mtime)
}

// symlink makes p a symlink to target. The target is stored as is: links
// pointing outside the tree are the links stage's business, and nothing is
// ever written through them.
func (w *writer) symlink(p, target string) error {
	if err := w.ensureDir(path.Dir(p)); err != nil {
		return err
	}
	tmp := w.tempName(p)
	if err := w.root.Symlink(target, rel(tmp)); err != nil {
		return fmt.Errorf("symlink %s: %w", p, err)
	}
	if err := w.root.Rename(rel(tmp), rel(p)); err != nil {
		w.root.Remove(rel(tmp))
		return fmt.Errorf("symlink %s: %w", p, err)
	}
	return nil
}

// finishDirs applies the header modes and mtimes of the owned directories,
// deepest first so that no directory becomes unwritable or unsearchable
// before its children are done.
func (w *writer) finishDirs(dirs []dirSpec) error {
	for _, d := range dirs {
		if err := w.root.Chmod(rel(d.path), d.perm); err != nil {
			return fmt.Errorf("chmod %s: %w", d.path, err)
		}
		t := time.Unix(d.mtime, 0)
		if err := w.root.Chtimes(rel(d.path), t, t); err != nil {
			return fmt.Errorf("chtimes %s: %w", d.path, err)
		}
	}
	return nil
}
