package mockrun

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// layerFix moves what the job's BuildRequires put under a directory that
// is a symlink in the rootfs (Debian's merged /usr: /lib64 -> usr/lib64,
// /bin -> usr/bin, ...) to where the symlink points. Otherwise the layer's
// real directory would hide the rootfs's symlink in the overlay and, for
// /lib64, the dynamic loader with it.
//
// The layer holds what packages ship, so it is hostile input: every
// operation goes through an os.Root on the layer (no name resolves outside
// it), and no symlink of the layer is followed at all: each directory on
// the way to a merge destination is checked with Lstat to be a real
// directory, and a package's symlink there (usr/sbin -> /some/host/dir) is
// a clean error instead of a write through it.
func layerFix(layer, rootfs string) error {
	root, err := os.OpenRoot(layer)
	if err != nil {
		return fmt.Errorf("layer: %w", err)
	}
	defer root.Close()
	for pass := 0; pass < 1000; pass++ {
		moved, err := layerFixPass(root, rootfs, ".")
		if err != nil {
			return err
		}
		if !moved {
			return nil
		}
	}
	return errors.New("layer: too many symlinked directories to merge")
}

// readDir lists directory rel of the layer.
func readDir(root *os.Root, rel string) ([]fs.DirEntry, error) {
	d, err := root.Open(rel)
	if err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	defer d.Close()
	ents, err := d.ReadDir(-1)
	if err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	return ents, nil
}

// layerFixPass walks the layer and merges the first directory it finds that
// is a symlink in the rootfs; it reports whether it moved anything.
func layerFixPass(root *os.Root, rootfs, rel string) (bool, error) {
	ents, err := readDir(root, rel)
	if err != nil {
		return false, err
	}
	for _, e := range ents {
		if !e.IsDir() { // DirEntry types come from lstat: a symlink is never a directory here
			continue
		}
		p := path.Join(rel, e.Name())
		target, isLink, err := resolveIn(rootfs, p)
		if err != nil {
			return false, err
		}
		if isLink {
			if target == p || strings.HasPrefix(target+"/", p+"/") {
				return false, fmt.Errorf("layer: rootfs symlink /%s points into itself (/%s)", p, target)
			}
			if err := ensureRealDir(root, target); err != nil {
				return false, fmt.Errorf("layer: merge /%s into /%s (a symlink in the rootfs): %w", p, target, err)
			}
			if err := mergeInto(root, p, target); err != nil {
				return false, err
			}
			return true, nil
		}
		moved, err := layerFixPass(root, rootfs, p)
		if moved || err != nil {
			return moved, err
		}
	}
	return false, nil
}

// ensureRealDir makes every component of rel a real directory of the
// layer, creating missing ones; a component that is a symlink (or a file)
// is an error: a package put it there, and following it could lead
// anywhere.
func ensureRealDir(root *os.Root, rel string) error {
	cur := "."
	for _, c := range strings.Split(rel, "/") {
		if c == "" || c == "." {
			continue
		}
		if c == ".." {
			return fmt.Errorf("%s holds ..", rel)
		}
		cur = path.Join(cur, c)
		fi, err := root.Lstat(cur)
		if errors.Is(err, fs.ErrNotExist) {
			if err := root.Mkdir(cur, 0o755); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			what := "a special file"
			if t, err := root.Readlink(cur); err == nil {
				what = "a symlink to " + t
			} else if fi.Mode().IsRegular() {
				what = "a regular file"
			}
			return fmt.Errorf("a BuildRequires package ships /%s as %s, not a directory; refusing to merge through it", cur, what)
		}
	}
	return nil
}

// mergeInto moves the tree at src into dst (both relative to the layer;
// dst is a real directory) and removes src. Two files at one path are an
// error: two BuildRequires packages would conflict.
func mergeInto(root *os.Root, src, dst string) error {
	ents, err := readDir(root, src)
	if err != nil {
		return err
	}
	for _, e := range ents {
		s, d := path.Join(src, e.Name()), path.Join(dst, e.Name())
		di, err := root.Lstat(d)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			// Every parent of d is a real directory (ensureRealDir, or
			// a directory this merge descended into after Lstat), and
			// rename replaces no symlink at d: nothing is followed.
			if err := root.Rename(s, d); err != nil {
				return fmt.Errorf("layer: %w", err)
			}
		case err != nil:
			return fmt.Errorf("layer: %w", err)
		case e.IsDir() && di.IsDir():
			if err := mergeInto(root, s, d); err != nil {
				return err
			}
		default:
			return fmt.Errorf("layer: /%s and /%s are the same path in the build root (one of them not a directory); two BuildRequires packages conflict", s, d)
		}
	}
	if err := root.Remove(src); err != nil {
		return fmt.Errorf("layer: %w", err)
	}
	return nil
}

// resolveIn reports whether rel is a symlink in root and, if so, the path
// it leads to relative to root, resolved like a chroot would (".." stops at
// root, absolute targets start at root). root is the rootfs bundle made,
// not package content.
func resolveIn(root, rel string) (string, bool, error) {
	st, err := os.Lstat(filepath.Join(root, rel))
	if err != nil || st.Mode()&os.ModeSymlink == 0 {
		return rel, false, nil
	}
	cur := rel
	for hops := 0; hops < 40; hops++ {
		resolved, link, err := resolveStep(root, cur)
		if err != nil {
			return "", false, err
		}
		if !link {
			return cur, true, nil
		}
		cur = resolved
	}
	return "", false, fmt.Errorf("layer: too many levels of symlinks at %s in the rootfs", rel)
}

// resolveStep resolves the first symlink among the components of rel.
func resolveStep(root, rel string) (string, bool, error) {
	parts := strings.Split(rel, "/")
	for i := range parts {
		prefix := path.Join(parts[:i+1]...)
		st, err := os.Lstat(filepath.Join(root, prefix))
		if err != nil {
			return rel, false, nil // does not exist (yet): nothing to resolve
		}
		if st.Mode()&os.ModeSymlink == 0 {
			continue
		}
		target, err := os.Readlink(filepath.Join(root, prefix))
		if err != nil {
			return "", false, fmt.Errorf("layer: %w", err)
		}
		var next string
		if path.IsAbs(target) {
			next = path.Clean("/" + target)
		} else {
			next = path.Clean("/" + path.Join(path.Dir(prefix), target))
		}
		rest := path.Join(parts[i+1:]...)
		next = strings.TrimPrefix(path.Join(next, rest), "/")
		if next == "" {
			next = "."
		}
		return next, true, nil
	}
	return rel, false, nil
}
