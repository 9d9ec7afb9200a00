package tarball

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/bundle-dev/bundle/bundle/ctxio"
	"golang.org/x/sys/unix"
)

// planTree walks root once (names only, no file contents), refuses special
// files early, and plans the catalogs.
func planTree(ctx context.Context, root string, maxEntries, minEntries int) ([]Catalog, error) {
	s := scanner{ctx: ctx, root: root}
	if err := s.dir("", -1); err != nil {
		return nil, err
	}
	plan, err := PlanCatalogs(s.dirs, maxEntries, minEntries)
	if err != nil {
		return nil, fmt.Errorf("tarball %s: %w", root, err)
	}
	return plan, nil
}

type scanner struct {
	ctx  context.Context
	root string
	dirs []Dir
}

func (s *scanner) dir(rel string, parent int) error {
	if err := s.ctx.Err(); err != nil {
		return fmt.Errorf("tarball: scan %s: %w", s.root, err)
	}
	abs := filepath.Join(s.root, filepath.FromSlash(rel))
	ents, err := os.ReadDir(abs) // sorted by name
	if err != nil {
		return fmt.Errorf("tarball: read directory %s: %w", abs, err)
	}
	idx := len(s.dirs)
	s.dirs = append(s.dirs, Dir{Path: relKey(rel), Parent: parent, Entries: len(ents)})
	for _, e := range ents {
		t := e.Type()
		child := path.Join(rel, e.Name())
		if e.Name() == CatalogMarker {
			if !t.IsRegular() {
				return fmt.Errorf("tarball: %s is a %s; a CVMFS catalog marker must be a regular file",
					filepath.Join(abs, e.Name()), kindOf(t))
			}
			s.dirs[idx].Marked = true
		}
		switch {
		case t.IsDir():
			if err := s.dir(child, idx); err != nil {
				return err
			}
		case t.IsRegular(), t&fs.ModeSymlink != 0:
		default:
			return specialFileError(filepath.Join(abs, e.Name()), t)
		}
	}
	return nil
}

// relKey names a directory relative to the top directory; "." is the top.
func relKey(rel string) string {
	if rel == "" {
		return "."
	}
	return rel
}

func kindOf(t fs.FileMode) string {
	switch {
	case t.IsDir():
		return "directory"
	case t&fs.ModeSymlink != 0:
		return "symlink"
	case t&fs.ModeNamedPipe != 0:
		return "FIFO"
	case t&fs.ModeSocket != 0:
		return "socket"
	case t&fs.ModeCharDevice != 0:
		return "character device"
	case t&fs.ModeDevice != 0:
		return "block device"
	case t.IsRegular():
		return "regular file"
	}
	return "special file"
}

func specialFileError(p string, t fs.FileMode) error {
	return fmt.Errorf("tarball: %s is a %s; a bundle holds only directories, regular files and symlinks (the stage that put it there must remove it)", p, kindOf(t))
}

// testHookEntry, when set by a test, is called before each entry is written.
var testHookEntry func(name string)

// emitter is the second walk: it writes the tar stream.
type emitter struct {
	ctx       context.Context
	tw        *tar.Writer
	root, top string
	clamp     int64
	addMarker map[string]bool
	res       *Result
	log       *slog.Logger
	buf       []byte
}

func newEmitter(ctx context.Context, w io.Writer, o Options, addMarker map[string]bool, res *Result, log *slog.Logger) *emitter {
	return &emitter{
		ctx: ctx, tw: tar.NewWriter(w), root: o.Root, top: o.TopDir, clamp: o.Mtime.Unix(),
		addMarker: addMarker, res: res, log: log, buf: make([]byte, 256<<10),
	}
}

func (e *emitter) writeTree() error {
	fi, err := os.Stat(e.root)
	if err != nil {
		return fmt.Errorf("tarball: root: %w", err)
	}
	return e.dir("", fi)
}

func (e *emitter) name(rel string) string {
	if rel == "" {
		return e.top
	}
	return e.top + "/" + rel
}

// mtime clamps a modification time to [1970, clamp], whole seconds.
func (e *emitter) mtime(fi fs.FileInfo) time.Time {
	t := min(fi.ModTime().Unix(), e.clamp)
	return time.Unix(max(t, 0), 0)
}

// header writes one normalised entry header, as USTAR when it fits and PAX
// otherwise. WriteHeader rejects a header its explicit format cannot encode
// without writing anything, so the fallback is exact.
func (e *emitter) header(h *tar.Header) error {
	if testHookEntry != nil {
		testHookEntry(h.Name)
	}
	if err := e.ctx.Err(); err != nil {
		return fmt.Errorf("tarball: stopped before %s: %w", h.Name, err)
	}
	h.Uid, h.Gid, h.Uname, h.Gname = 0, 0, "", ""
	h.Format = tar.FormatUSTAR
	if err := e.tw.WriteHeader(h); err != nil {
		h.Format = tar.FormatPAX
		if err := e.tw.WriteHeader(h); err != nil {
			return fmt.Errorf("tarball: write header of %s: %w", h.Name, err)
		}
	}
	e.res.Entries++
	return nil
}

func (e *emitter) dir(rel string, fi fs.FileInfo) error {
	if err := e.header(&tar.Header{Typeflag: tar.TypeDir, Name: e.name(rel) + "/", Mode: 0o755, ModTime: e.mtime(fi)}); err != nil {
		return err
	}
	e.res.Dirs++
	abs := filepath.Join(e.root, filepath.FromSlash(rel))
	d, err := os.Open(abs)
	if err != nil {
		return fmt.Errorf("tarball: open directory %s: %w", abs, err)
	}
	// The entries' types come with the names (d_type): a regular file is
	// opened straight away, and only directories and symlinks cost an
	// lstat for their mtime.
	ents, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		return fmt.Errorf("tarball: read directory %s: %w", abs, err)
	}
	slices.SortFunc(ents, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	// A synthetic catalog marker goes where its name sorts.
	markerAt := -1
	if e.addMarker[relKey(rel)] {
		if i, found := slices.BinarySearchFunc(ents, CatalogMarker, func(x fs.DirEntry, n string) int { return strings.Compare(x.Name(), n) }); !found {
			markerAt = i
		}
	}
	marker := func() error {
		if err := e.header(&tar.Header{Typeflag: tar.TypeReg, Name: e.name(path.Join(rel, CatalogMarker)), Mode: 0o644, ModTime: e.mtime(fi)}); err != nil {
			return err
		}
		e.res.Files++
		e.res.Catalogs = append(e.res.Catalogs, relKey(rel))
		return nil
	}
	for i, de := range ents {
		if i == markerAt {
			if err := marker(); err != nil {
				return err
			}
		}
		n := de.Name()
		child := path.Join(rel, n)
		p := filepath.Join(abs, n)
		var err error
		switch t := de.Type(); {
		case t.IsRegular():
			err = e.file(child, p)
			if err == nil && n == CatalogMarker {
				e.res.Catalogs = append(e.res.Catalogs, relKey(rel))
			}
		case t.IsDir(), t&fs.ModeSymlink != 0:
			cfi, lerr := os.Lstat(p)
			if lerr != nil {
				return fmt.Errorf("tarball: %w", lerr)
			}
			switch ct := cfi.Mode().Type(); {
			case ct.IsDir():
				err = e.dir(child, cfi)
			case ct&fs.ModeSymlink != 0:
				err = e.symlink(child, p, cfi)
			default:
				err = fmt.Errorf("tarball: %s changed into a %s while archiving", p, kindOf(ct))
			}
		default:
			err = specialFileError(p, t)
		}
		if err != nil {
			return err
		}
	}
	if markerAt == len(ents) {
		return marker()
	}
	return nil
}

func (e *emitter) symlink(rel, p string, fi fs.FileInfo) error {
	target, err := os.Readlink(p)
	if err != nil {
		return fmt.Errorf("tarball: %w", err)
	}
	if err := e.header(&tar.Header{Typeflag: tar.TypeSymlink, Name: e.name(rel), Linkname: target, Mode: 0o777, ModTime: e.mtime(fi)}); err != nil {
		return err
	}
	e.res.Symlinks++
	return nil
}

// file streams one regular file. It is opened without following symlinks
// and without blocking (a FIFO swapped in after the walk cannot hang us),
// and its metadata comes from the open descriptor.
func (e *emitter) file(rel, p string) error {
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("tarball: open %s (did it change while archiving?): %w", p, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("tarball: stat %s: %w", p, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fmt.Errorf("tarball: %s changed into a %s while archiving", p, kindOf(statType(st.Mode)))
	}
	mode := int64(0o644)
	if st.Mode&0o111 != 0 {
		mode = 0o755
	}
	size := st.Size
	if size > largeFile {
		e.log.Warn("file over 1 GiB in the bundle; CVMFS warns about files this large", "path", rel, "size", size)
	}
	mtime := time.Unix(max(min(st.Mtim.Sec, e.clamp), 0), 0)
	if err := e.header(&tar.Header{Typeflag: tar.TypeReg, Name: e.name(rel), Mode: mode, Size: size, ModTime: mtime}); err != nil {
		return err
	}
	n, err := io.CopyBuffer(e.tw, io.LimitReader(ctxio.Reader(e.ctx, fdReader(fd)), size), e.buf)
	if err != nil {
		return fmt.Errorf("tarball: copy %s: %w", p, err)
	}
	if n != size {
		return fmt.Errorf("tarball: %s shrank from %d to %d bytes while archiving", p, size, n)
	}
	e.res.Files++
	e.res.Bytes += size
	return nil
}

// statType is the fs.FileMode type bits of a stat(2) mode.
func statType(m uint32) fs.FileMode {
	switch m & unix.S_IFMT {
	case unix.S_IFDIR:
		return fs.ModeDir
	case unix.S_IFLNK:
		return fs.ModeSymlink
	case unix.S_IFIFO:
		return fs.ModeNamedPipe
	case unix.S_IFSOCK:
		return fs.ModeSocket
	case unix.S_IFCHR:
		return fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		return fs.ModeDevice
	}
	return 0
}

// fdReader reads a file descriptor with read(2) directly: no poller
// registration or fcntl per file, as an *os.File would cost.
type fdReader int

func (fd fdReader) Read(b []byte) (int, error) {
	for {
		n, err := unix.Read(int(fd), b)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return 0, err
		case n == 0 && len(b) > 0:
			return 0, io.EOF
		}
		return n, nil
	}
}
