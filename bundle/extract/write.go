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

	"golang.org/x/sys/unix"
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

var pid = os.Getpid()

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
	return path.Join(path.Dir(p), fmt.Sprintf(".bundle-extract-%d-%d.tmp", pid, w.seq.Add(1)))
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

// pkgWriter is a writer used by one goroutine for one package. It keeps
// each directory it writes in open, and creates, renames and timestamps
// files with *at system calls on single names relative to that directory:
// a handful of system calls per file instead of a walk of the whole path
// per operation. The directories are opened through the os.Root (so they
// lie inside the tree) after ensureDir checked every component is a real
// directory, and a single name can neither climb out nor follow a symlink
// (O_NOFOLLOW, AT_SYMLINK_NOFOLLOW), so nothing lands outside the tree.
type pkgWriter struct {
	*writer
	dirs map[string]*os.File
	buf  []byte
}

// maxDirHandles bounds the directory handles one pkgWriter keeps open.
const maxDirHandles = 128

func (w *writer) forPackage() *pkgWriter {
	return &pkgWriter{writer: w, dirs: map[string]*os.File{}, buf: make([]byte, 256<<10)}
}

// close releases the directory handles.
func (pw *pkgWriter) close() {
	for _, d := range pw.dirs {
		d.Close()
	}
	clear(pw.dirs)
}

// dir returns the descriptor of directory p (absolute, clean).
func (pw *pkgWriter) dir(p string) (int, error) {
	if err := pw.ensureDir(p); err != nil {
		return -1, err
	}
	if d, ok := pw.dirs[p]; ok {
		return int(d.Fd()), nil
	}
	if len(pw.dirs) >= maxDirHandles {
		pw.close()
	}
	name := rel(p)
	if p == "/" {
		name = "."
	}
	d, err := pw.root.Open(name)
	if err != nil {
		return -1, fmt.Errorf("open directory %s: %w", p, err)
	}
	pw.dirs[p] = d
	return int(d.Fd()), nil
}

// writeFile writes exactly size bytes from r to p with the given
// permissions and mtime, replacing whatever non-directory is there.
func (pw *pkgWriter) writeFile(ctx context.Context, p string, r io.Reader, size int64, perm fs.FileMode, mtime time.Time) error {
	dfd, err := pw.dir(path.Dir(p))
	if err != nil {
		return err
	}
	name, tmp := path.Base(p), path.Base(pw.tempName(p))
	fd, err := unix.Openat(dfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	f := os.NewFile(uintptr(fd), p)
	done := false
	defer func() {
		if !done {
			f.Close()
			unix.Unlinkat(dfd, tmp, 0)
		}
	}()
	n, err := io.CopyBuffer(struct{ io.Writer }{f}, ctxReader{ctx, io.LimitReader(r, size+1)}, pw.buf)
	if err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	if n != size {
		return fmt.Errorf("write %s: got %d bytes, expected %d", p, n, size)
	}
	if err := f.Chmod(perm); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	ts := []unix.Timespec{unix.NsecToTimespec(mtime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	if err := unix.UtimesNanoAt(dfd, tmp, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	done = true
	if err := unix.Renameat(dfd, tmp, dfd, name); err != nil {
		unix.Unlinkat(dfd, tmp, 0)
		return fmt.Errorf("write %s: %w", p, err)
	}
	return nil
}

// copyFile writes an independent copy of src (already written) to dst.
func (pw *pkgWriter) copyFile(ctx context.Context, src, dst string, size int64, perm fs.FileMode, mtime time.Time) error {
	dfd, err := pw.dir(path.Dir(src))
	if err != nil {
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	fd, err := unix.Openat(dfd, path.Base(src), unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	f := os.NewFile(uintptr(fd), src)
	defer f.Close()
	return pw.writeFile(ctx, dst, f, size, perm, mtime)
}

// symlink makes p a symlink to target. The target is stored as is: links
// pointing outside the tree are the links stage's business, and nothing is
// ever written through them.
func (pw *pkgWriter) symlink(p, target string) error {
	dfd, err := pw.dir(path.Dir(p))
	if err != nil {
		return err
	}
	name, tmp := path.Base(p), path.Base(pw.tempName(p))
	if err := unix.Symlinkat(target, dfd, tmp); err != nil {
		return fmt.Errorf("symlink %s: %w", p, err)
	}
	if err := unix.Renameat(dfd, tmp, dfd, name); err != nil {
		unix.Unlinkat(dfd, tmp, 0)
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

// removeFiles removes the non-directories among paths (a failed package's
// output); directories stay, as other packages may share them.
func (w *writer) removeFiles(paths []string) {
	for _, p := range paths {
		if fi, err := w.root.Lstat(rel(p)); err == nil && !fi.IsDir() {
			_ = w.root.Remove(rel(p))
		}
	}
}
