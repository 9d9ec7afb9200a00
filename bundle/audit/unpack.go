package audit

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// unpacked is a bundle copied into the test directory, with what the copy
// could not or would not reproduce.
type unpacked struct {
	top     string // host path of the bundle's top directory
	entries int
	// Found in the source: offenders of the tree checks the copy does not
	// carry (hard links become copies, special files and set-id bits are
	// dropped) and entries that were not unpacked at all.
	hardlinks []string
	specials  []string
	setid     []string
	unsafe    []string
}

// unpack copies target (a tarball or a directory) to dir/TOP.
func unpack(ctx context.Context, target, dir string) (*unpacked, error) {
	fi, err := os.Stat(target)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return copyDir(ctx, target, dir)
	}
	f, err := os.Open(target)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := decompress(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", target, err)
	}
	defer r.Close()
	return untar(ctx, r, dir)
}

// decompress recognises gzip, zstd, xz or a plain tar by their first bytes.
func decompress(f io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(f, 1<<20)
	head, _ := br.Peek(512)
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		z, err := gzip.NewReader(br)
		if err != nil {
			return nil, err
		}
		return z, nil
	case bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		z, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(2))
		if err != nil {
			return nil, err
		}
		return z.IOReadCloser(), nil
	case bytes.HasPrefix(head, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		z, err := xz.NewReader(br)
		if err != nil {
			return nil, err
		}
		return io.NopCloser(z), nil
	case len(head) >= 262 && string(head[257:262]) == "ustar":
		return io.NopCloser(br), nil
	}
	return nil, errors.New("neither a tarball (gzip, zstd, xz or plain tar) nor a directory")
}

// untar unpacks a tar stream into dir. Everything is written through
// os.Root: no entry can write outside dir, whatever its name or the
// symlinks before it.
func untar(ctx context.Context, r io.Reader, dir string) (*unpacked, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	u := &unpacked{}
	tr := tar.NewReader(r)
	var top string
	var modes []modeFix
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read tarball: %w", err)
		}
		name := strings.TrimPrefix(h.Name, "./")
		name = strings.TrimSuffix(name, "/")
		if name == "" || name == "." {
			continue
		}
		if path.IsAbs(h.Name) || slices.Contains(strings.Split(name, "/"), "..") {
			u.unsafe = append(u.unsafe, fmt.Sprintf("%s: absolute or climbing entry name, not unpacked", h.Name))
			continue
		}
		name = path.Clean(name)
		first, _, _ := strings.Cut(name, "/")
		if top == "" {
			top = first
		}
		if first != top {
			u.unsafe = append(u.unsafe, fmt.Sprintf("%s: outside the top directory %s, not unpacked", h.Name, top))
			continue
		}
		u.entries++
		bpath := "/" + strings.TrimPrefix(strings.TrimPrefix(name, top), "/")
		if h.Mode&(syscall.S_ISUID|syscall.S_ISGID) != 0 {
			u.setid = append(u.setid, fmt.Sprintf("%s: mode %04o", bpath, h.Mode&0o7777))
		}
		if err := root.MkdirAll(path.Dir(name), 0o755); err != nil {
			u.unsafe = append(u.unsafe, fmt.Sprintf("%s: %v", bpath, err))
			continue
		}
		switch h.Typeflag {
		case tar.TypeDir:
			err = root.MkdirAll(name, 0o755)
			modes = append(modes, modeFix{name, fs.FileMode(h.Mode) & fs.ModePerm})
		case tar.TypeReg:
			err = writeFile(root, name, tr)
			modes = append(modes, modeFix{name, fs.FileMode(h.Mode) & fs.ModePerm})
		case tar.TypeSymlink:
			err = root.Symlink(h.Linkname, name)
		case tar.TypeLink:
			u.hardlinks = append(u.hardlinks, fmt.Sprintf("%s: hard link to %s", bpath, h.Linkname))
			// The copy gets the content, so the other checks see it.
			var src *os.File
			if src, err = root.Open(path.Clean(strings.TrimPrefix(h.Linkname, "./"))); err == nil {
				err = writeFile(root, name, src)
				src.Close()
				modes = append(modes, modeFix{name, fs.FileMode(h.Mode) & fs.ModePerm})
			}
		case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
			u.specials = append(u.specials, fmt.Sprintf("%s: %s", bpath, typeName(h.Typeflag)))
		default:
			u.unsafe = append(u.unsafe, fmt.Sprintf("%s: tar entry type %q not unpacked", bpath, h.Typeflag))
		}
		if err != nil {
			u.unsafe = append(u.unsafe, fmt.Sprintf("%s: %v", bpath, err))
		}
	}
	if top == "" {
		return nil, errors.New("the tarball is empty")
	}
	u.top = filepath.Join(dir, top)
	for _, m := range modes {
		// Owner read (and search) stays so the checks can read
		// everything; write bits go in makeReadOnly.
		if err := root.Chmod(m.name, m.mode|0o400); err != nil {
			return nil, err
		}
	}
	return u, nil
}

type modeFix struct {
	name string
	mode fs.FileMode
}

func typeName(t byte) string {
	switch t {
	case tar.TypeChar:
		return "character device"
	case tar.TypeBlock:
		return "block device"
	case tar.TypeFifo:
		return "fifo"
	}
	return string(t)
}

// writeFile creates name in root (it must not exist) with r's content.
func writeFile(root *os.Root, name string, r io.Reader) error {
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// copyDir copies the bundle directory src to dir/BASE, keeping symlinks as
// they are and noting what a CVMFS publication would not keep.
func copyDir(ctx context.Context, src, dir string) (*unpacked, error) {
	src, err := filepath.Abs(src)
	if err != nil {
		return nil, err
	}
	top := filepath.Base(src)
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	u := &unpacked{top: filepath.Join(dir, top)}
	var modes []modeFix
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		name := filepath.Join(top, rel)
		bpath := "/" + filepath.ToSlash(rel)
		if rel == "." {
			bpath = "/"
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		u.entries++
		if fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid) != 0 {
			u.setid = append(u.setid, fmt.Sprintf("%s: mode %v", bpath, fi.Mode()))
		}
		switch {
		case fi.IsDir():
			modes = append(modes, modeFix{name, fi.Mode().Perm()})
			return root.MkdirAll(name, 0o755)
		case fi.Mode()&fs.ModeSymlink != 0:
			t, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return root.Symlink(t, name)
		case fi.Mode().IsRegular():
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
				u.hardlinks = append(u.hardlinks, fmt.Sprintf("%s: %d hard links", bpath, st.Nlink))
			}
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			modes = append(modes, modeFix{name, fi.Mode().Perm()})
			return writeFile(root, name, f)
		default:
			u.specials = append(u.specials, fmt.Sprintf("%s: %v", bpath, fi.Mode().Type()))
			return nil
		}
	})
	if err != nil {
		return nil, fmt.Errorf("copy %s: %w", src, err)
	}
	for _, m := range modes {
		if err := root.Chmod(m.name, m.mode|0o400); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// setWritable removes every write bit under dir (chmod -R a-w), or gives
// the owner's back (before removal).
func setWritable(dir string, writable bool) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if writable && errors.Is(err, fs.ErrPermission) {
				return nil
			}
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		m := fi.Mode().Perm()
		if writable {
			m |= 0o200
		} else {
			m &^= 0o222
		}
		if m == fi.Mode().Perm() {
			return nil
		}
		return os.Chmod(p, m)
	})
}
