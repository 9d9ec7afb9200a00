package links

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"
)

// maxHops is the number of symlinks one resolution may expand, the link
// being resolved included: the same limit as Linux's MAXSYMLINKS.
const maxHops = 40

// status is the outcome of resolving a path in the bundle namespace.
type status int

const (
	resolved status = iota // every component exists
	missing                // a component does not exist
	notDir                 // a non-directory is used as a directory
	loop                   // a symlink was expanded again and the chain went past maxHops
	tooLong                // more than maxHops symlinks, none of them twice
)

// reason is the text the report and the log give for a link that does not
// resolve.
func (s status) reason() string {
	switch s {
	case missing:
		return "target does not exist"
	case notDir:
		return "a path component is not a directory"
	case loop:
		return "symlink loop"
	case tooLong:
		return fmt.Sprintf("chain longer than %d symlinks", maxHops)
	}
	return "resolves"
}

// node is the cached lstat of one bundle path.
type node struct {
	exists bool
	mode   fs.FileMode
	target string // symlink target, when mode is a symlink
}

// resolver resolves symlink targets inside the bundle namespace: "/" is the
// root of the bundle, an absolute target restarts there and ".." at "/" stays
// at "/" (the host path the component would reach is read as the same path in
// the bundle). It only reads, through os.Root, and caches what it read: the
// plan is made against the tree as it was before any change.
type resolver struct {
	root  *os.Root
	nodes map[string]node
}

func newResolver(root *os.Root) *resolver {
	return &resolver{root: root, nodes: make(map[string]node)}
}

// rootRel turns a bundle path ("/usr/bin/x") into a name for os.Root.
func rootRel(p string) string {
	if p == "/" {
		return "."
	}
	return strings.TrimPrefix(p, "/")
}

// lookup lstats the bundle path p, whose directory components must all be
// real directories (resolution guarantees it).
func (r *resolver) lookup(p string) (node, error) {
	if n, ok := r.nodes[p]; ok {
		return n, nil
	}
	var n node
	fi, err := r.root.Lstat(rootRel(p))
	switch {
	case err == nil:
		n = node{exists: true, mode: fi.Mode()}
		if fi.Mode()&fs.ModeSymlink != 0 {
			t, err := r.root.Readlink(rootRel(p))
			if err != nil {
				return node{}, fmt.Errorf("read symlink %s: %w", p, err)
			}
			n.target = t
		}
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR), errors.Is(err, syscall.ENAMETOOLONG):
		// Absent: the zero node.
	default:
		return node{}, fmt.Errorf("lstat %s: %w", p, err)
	}
	r.nodes[p] = n
	return n, nil
}

// resolution is where a symlink target leads.
type resolution struct {
	status status
	// path is the bundle path reached: with followLast, a path without
	// any symlink in it; without, the last component is left as named
	// (its directory part holds no symlink).
	path string
	// mode is the type of path (with followLast), and its permissions
	// when the last step was a lookup rather than "." or "..".
	mode fs.FileMode
	// escaped is set when a ".." of the target itself (not of a symlink
	// met on the way) climbed above the bundle root: on a host, with the
	// bundle mounted somewhere, the target would leave the bundle.
	escaped bool
}

// components splits a symlink target into its components. Empty components
// are dropped; "." is kept, because "x/." (and "x/") require x to be a
// directory.
func components(target string) []string {
	parts := strings.Split(target, "/")
	out := parts[:0]
	for i, c := range parts {
		if c == "" {
			if i == len(parts)-1 && len(out) > 0 {
				out = append(out, ".") // trailing slash
			}
			continue
		}
		out = append(out, c)
	}
	return out
}

// resolve follows target as the content of a symlink that lives in the real
// directory dir (a bundle path without symlinks), the way the kernel would
// inside a chroot at the bundle root. With followLast false a final plain
// name is not looked up: the result is its resolved directory plus the name,
// which is what a relativised link should point at to keep the chain.
func (r *resolver) resolve(dir, target string, followLast bool) (resolution, error) {
	res := resolution{status: resolved}
	if target == "" {
		res.status = missing
		return res, nil
	}
	queue := components(target)
	own := len(queue) // the last own components of queue come from target itself
	cur, curMode := dir, fs.ModeDir
	if path.IsAbs(target) {
		cur = "/"
	}
	hops := 1 // the symlink holding target, as the kernel counts it
	expanded := make(map[string]bool)
	repeated := false
	for len(queue) > 0 {
		c := queue[0]
		isOwn := len(queue) <= own
		queue = queue[1:]
		if isOwn {
			own--
		}
		if !curMode.IsDir() {
			res.status = notDir
			return res, nil
		}
		switch c {
		case ".":
			continue
		case "..":
			if cur == "/" {
				if isOwn {
					res.escaped = true
				}
				continue
			}
			cur, curMode = path.Dir(cur), fs.ModeDir
			continue
		}
		next := path.Join(cur, c)
		if len(queue) == 0 && !followLast {
			res.path = next
			return res, nil
		}
		n, err := r.lookup(next)
		if err != nil {
			return res, err
		}
		if !n.exists {
			res.status = missing
			return res, nil
		}
		if n.mode&fs.ModeSymlink == 0 {
			cur, curMode = next, n.mode
			continue
		}
		hops++
		if expanded[next] {
			repeated = true
		}
		expanded[next] = true
		if hops > maxHops {
			res.status = tooLong
			if repeated {
				res.status = loop
			}
			return res, nil
		}
		if n.target == "" {
			res.status = missing
			return res, nil
		}
		if path.IsAbs(n.target) {
			cur = "/"
		}
		queue = append(components(n.target), queue...)
	}
	res.path, res.mode = cur, curMode
	return res, nil
}
