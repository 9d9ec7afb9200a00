package extract

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bundle-dev/bundle/bundle/ctxio"
	"golang.org/x/sys/unix"
)

// writer puts files under an os.Root, so no name can resolve outside it,
// and additionally never follows a symlink anywhere in a path: every
// directory is opened one component at a time from the root's own handle,
// with O_DIRECTORY|O_NOFOLLOW, so a symlink or a file where a directory is
// expected is refused. Files appear atomically (temp file + rename).
type writer struct {
	root *os.Root
	seq  atomic.Uint64
	// umask is the process's umask when it could be read (-1 otherwise):
	// a file created with a mode umask leaves whole needs no fchmod.
	umask int
}

func newWriter(root *os.Root) *writer { return &writer{root: root, umask: readUmask()} }

var pid = os.Getpid()

// readUmask reads the umask from /proc/self/status (Linux 4.7+), without
// changing it; -1 when it is not there.
func readUmask() int {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for l := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "Umask:"); ok {
			if m, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32); err == nil {
				return int(m)
			}
		}
	}
	return -1
}

// rel turns an absolute clean path into a name relative to the root.
func rel(p string) string { return p[1:] }

func (w *writer) tempName(p string) string {
	return path.Join(path.Dir(p), fmt.Sprintf(".bundle-extract-%d-%d.tmp", pid, w.seq.Add(1)))
}

// pkgWriter is a writer used by one goroutine for one package (or for the
// final pass over directories). It keeps the directories it writes in
// open, and creates, renames and timestamps files with *at system calls on
// single names relative to them: a handful of system calls per file
// instead of a walk of the whole path per operation. A directory is opened
// from its parent's handle by its single name with O_DIRECTORY|O_NOFOLLOW
// (created first when missing), so every component of every path is a
// real directory inside the tree, and a single name can neither climb out
// nor follow a symlink (O_NOFOLLOW, AT_SYMLINK_NOFOLLOW): nothing lands
// outside the tree.
type pkgWriter struct {
	*writer
	dirs map[string]int // open directory descriptors by absolute path
	buf  []byte
}

// maxDirHandles bounds the directory handles one pkgWriter keeps open.
const maxDirHandles = 256

func (w *writer) forPackage() *pkgWriter {
	return &pkgWriter{writer: w, dirs: map[string]int{}, buf: make([]byte, 256<<10)}
}

// close releases the directory handles.
func (pw *pkgWriter) close() {
	for _, fd := range pw.dirs {
		unix.Close(fd)
	}
	clear(pw.dirs)
}

// dir returns the descriptor of directory p (absolute, clean), creating it
// and its missing parents (owner-writable: final modes are applied at the
// end).
func (pw *pkgWriter) dir(p string) (int, error) {
	if fd, ok := pw.dirs[p]; ok {
		return fd, nil
	}
	if len(pw.dirs) >= maxDirHandles {
		pw.close()
	}
	return pw.openDir(p)
}

func (pw *pkgWriter) openDir(p string) (int, error) {
	if fd, ok := pw.dirs[p]; ok {
		return fd, nil
	}
	if p == "/" {
		d, err := pw.root.Open(".")
		if err != nil {
			return -1, fmt.Errorf("open the root directory: %w", err)
		}
		fd, err := unix.Dup(int(d.Fd()))
		d.Close()
		if err != nil {
			return -1, fmt.Errorf("open the root directory: %w", err)
		}
		pw.dirs[p] = fd
		return fd, nil
	}
	parent, err := pw.openDir(path.Dir(p))
	if err != nil {
		return -1, err
	}
	name := path.Base(p)
	const flags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	fd, err := unix.Openat(parent, name, flags, 0)
	if errors.Is(err, unix.ENOENT) {
		if err = unix.Mkdirat(parent, name, 0o755); err == nil || errors.Is(err, unix.EEXIST) { // or made concurrently
			fd, err = unix.Openat(parent, name, flags, 0)
		}
	}
	if errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) {
		kind := "non-directory"
		var st unix.Stat_t
		if unix.Fstatat(parent, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
			switch st.Mode & unix.S_IFMT {
			case unix.S_IFLNK:
				kind = "symlink"
			case unix.S_IFREG:
				kind = "regular file"
			}
		}
		return -1, fmt.Errorf("refusing to write under %s: it exists as a %s, not a directory", p, kind)
	}
	if err != nil {
		return -1, fmt.Errorf("create directory %s: %w", p, err)
	}
	pw.dirs[p] = fd
	return fd, nil
}

// writeFile writes exactly size bytes from r to p with the given
// permissions and mtime, replacing whatever non-directory is there.
func (pw *pkgWriter) writeFile(ctx context.Context, p string, r io.Reader, size int64, perm fs.FileMode, mtime time.Time) error {
	dfd, err := pw.dir(path.Dir(p))
	if err != nil {
		return err
	}
	name, tmp := path.Base(p), path.Base(pw.tempName(p))
	// Created with its final permissions when the umask leaves them
	// whole (no fchmod then); the descriptor is writable either way.
	mode, chmod := uint32(0o600), true
	if pw.umask >= 0 && int(perm)&pw.umask == 0 {
		mode, chmod = uint32(perm), false
	}
	fd, err := unix.Openat(dfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, mode)
	if err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	done := false
	defer func() {
		if !done {
			unix.Close(fd)
			unix.Unlinkat(dfd, tmp, 0)
		}
	}()
	n, err := io.CopyBuffer(fdWriter(fd), ctxio.Reader(ctx, io.LimitReader(r, size+1)), pw.buf)
	if err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	if n != size {
		return fmt.Errorf("write %s: got %d bytes, expected %d", p, n, size)
	}
	if chmod {
		if err := unix.Fchmod(fd, uint32(perm)); err != nil {
			return fmt.Errorf("write %s: %w", p, err)
		}
	}
	ts := []unix.Timespec{unix.NsecToTimespec(mtime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	if err := unix.UtimesNanoAt(dfd, tmp, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	done = true
	if err := unix.Close(fd); err != nil {
		unix.Unlinkat(dfd, tmp, 0)
		return fmt.Errorf("write %s: %w", p, err)
	}
	if err := unix.Renameat(dfd, tmp, dfd, name); err != nil {
		unix.Unlinkat(dfd, tmp, 0)
		return fmt.Errorf("write %s: %w", p, err)
	}
	return nil
}

// fdWriter writes to a file descriptor with write(2) directly: no poller
// registration or fcntl per file, as an *os.File would cost.
type fdWriter int

func (fd fdWriter) Write(b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := unix.Write(int(fd), b[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, err
		}
		if m == 0 {
			return n, io.ErrShortWrite
		}
		n += m
	}
	return n, nil
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
//
// Each directory is opened through the same component-wise walk as the
// writes and changed through its descriptor; one the walk cannot open
// (unreadable to a non-root caller) is changed through the os.Root.
func (w *writer) finishDirs(dirs []dirSpec) error {
	pw := w.forPackage()
	defer pw.close()
	for _, d := range dirs {
		t := time.Unix(d.mtime, 0)
		fd, err := pw.dir(d.path)
		parent, ok := pw.dirs[path.Dir(d.path)] // opened with it
		if err != nil || !ok || d.path == "/" {
			name := rel(d.path)
			if name == "" {
				name = "."
			}
			if err := w.root.Chmod(name, d.perm); err != nil {
				return fmt.Errorf("chmod %s: %w", d.path, err)
			}
			if err := w.root.Chtimes(name, t, t); err != nil {
				return fmt.Errorf("chtimes %s: %w", d.path, err)
			}
			continue
		}
		if err := unix.Fchmod(fd, uint32(d.perm)); err != nil {
			return fmt.Errorf("chmod %s: %w", d.path, err)
		}
		ts := []unix.Timespec{unix.NsecToTimespec(t.UnixNano()), unix.NsecToTimespec(t.UnixNano())}
		if err := unix.UtimesNanoAt(parent, path.Base(d.path), ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
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
