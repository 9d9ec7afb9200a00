// Package bundlepath resolves paths inside a bundle tree the way the kernel
// will once the bundle is unpacked at some unknown place: relative symlinks
// are followed, while an absolute symlink target or a ".." that climbs above
// the bundle's top leaves the bundle, because on a worker node it names
// whatever the host has there.
//
// Bundle paths are slash-separated and written from the top of the tree,
// "/usr/lib64/libz.so.1"; a leading slash is optional on input.
package bundlepath

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// MaxLinks is how many symlinks one resolution may follow before it is
// taken for a loop, as in the kernel.
const MaxLinks = 40

// ErrOutside is returned when a path leaves the bundle: an absolute symlink
// target, or a ".." above the top.
var ErrOutside = errors.New("leaves the bundle")

// ErrLoop is returned when more than MaxLinks symlinks are met.
var ErrLoop = errors.New("too many levels of symbolic links")

// Clean returns p as a clean bundle path: "/" followed by the components.
func Clean(p string) string {
	return path.Clean("/" + p)
}

// Join returns the host path of bundle path p under root.
func Join(root, p string) string {
	return filepath.Join(root, filepath.FromSlash(Clean(p)))
}

// Resolve follows p through the symlinks of the tree at root and returns the
// bundle path it ends at. Every component must exist; a component that is
// not a directory but is followed by more components is an error, and so is
// leaving the bundle (ErrOutside) or a loop (ErrLoop). The last component is
// followed too when it is a symlink.
func Resolve(root, p string) (string, error) {
	return resolve(root, p)
}

// ResolveDir is Resolve for the directory part of p: the last component is
// kept as it is, whatever it is (or whether it exists). It is the path under
// which a symlink named p is found.
func ResolveDir(root, p string) (string, error) {
	p = Clean(p)
	if p == "/" {
		return "/", nil
	}
	dir, err := resolve(root, path.Dir(p))
	if err != nil {
		return "", err
	}
	return path.Join(dir, path.Base(p)), nil
}

// ResolveChroot resolves p the way a process chrooted at root would: an
// absolute symlink target restarts at root and ".." at root stays there.
// It is for whole root filesystems (a Debian rootfs has absolute
// alternatives links), not for bundles.
func ResolveChroot(root, p string) (string, error) {
	return resolveWith(root, p, true)
}

func resolve(root, p string) (string, error) {
	return resolveWith(root, p, false)
}

func resolveWith(root, p string, chroot bool) (string, error) {
	var done []string
	pending := split(p)
	links := 0
	for len(pending) > 0 {
		c := pending[0]
		pending = pending[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(done) == 0 {
				if chroot {
					continue
				}
				return "", fmt.Errorf("%s: %w", Clean(p), ErrOutside)
			}
			done = done[:len(done)-1]
			continue
		}
		cur := make([]string, len(done)+1)
		copy(cur, done)
		cur[len(done)] = c
		host := filepath.Join(root, filepath.Join(cur...))
		fi, err := os.Lstat(host)
		if err != nil {
			return "", fmt.Errorf("%s: %w", Clean(p), err)
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			links++
			if links > MaxLinks {
				return "", fmt.Errorf("%s: %w", Clean(p), ErrLoop)
			}
			t, err := os.Readlink(host)
			if err != nil {
				return "", fmt.Errorf("%s: %w", Clean(p), err)
			}
			if strings.HasPrefix(t, "/") {
				if !chroot {
					return "", fmt.Errorf("%s: symlink /%s -> %s: %w", Clean(p), strings.Join(cur, "/"), t, ErrOutside)
				}
				done = nil
			}
			pending = append(split(t), pending...)
			continue
		}
		if len(pending) > 0 && !fi.IsDir() {
			return "", fmt.Errorf("%s: /%s is not a directory", Clean(p), strings.Join(cur, "/"))
		}
		done = cur
	}
	return "/" + strings.Join(done, "/"), nil
}

func split(p string) []string {
	return strings.Split(p, "/")
}

// Rel returns the relative path from bundle directory dir to bundle path
// target, lexically ("." when equal).
func Rel(dir, target string) string {
	d := split(strings.TrimPrefix(Clean(dir), "/"))
	t := split(strings.TrimPrefix(Clean(target), "/"))
	if Clean(dir) == "/" {
		d = nil
	}
	if Clean(target) == "/" {
		t = nil
	}
	i := 0
	for i < len(d) && i < len(t) && d[i] == t[i] {
		i++
	}
	var parts []string
	for range d[i:] {
		parts = append(parts, "..")
	}
	parts = append(parts, t[i:]...)
	if len(parts) == 0 {
		return "."
	}
	return strings.Join(parts, "/")
}
