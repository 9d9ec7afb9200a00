package audit

import (
	"bytes"
	"context"
	"errors"
	"github.com/bundle-dev/bundle/bundle/workpool"
	"io"
	"os"
	"path"
	"slices"
	"sync"

	"github.com/bundle-dev/bundle/bundle/relocate/buildpath"
	"github.com/bundle-dev/bundle/bundle/relocate/bundlepath"
	"github.com/bundle-dev/bundle/bundle/relocate/shebang"
)

// checkBuildPaths streams every regular file looking for build paths.
func checkBuildPaths(ctx context.Context, t *tree, set *buildpath.Set, workers int) (CheckResult, error) {
	res := newResult("build-paths")
	if set.Empty() {
		return skipped("build-paths", "no build paths given"), nil
	}
	var mu sync.Mutex
	err := workpool.ForEach(ctx, workers, t.files, func(n node) error {
		f, err := os.Open(t.host(n.path))
		if err != nil {
			return err
		}
		defer f.Close()
		r, err := set.Scan(f, true)
		mu.Lock()
		defer mu.Unlock()
		res.Count++
		if err != nil {
			res.fail("%s: %v", n.path, err)
		} else if r.Found != "" {
			res.fail("%s: holds %s at byte %d", n.path, r.Found, r.Offset)
		}
		return nil
	})
	res.Detail = "looked for " + set.Describe()
	return res.done(), err
}

// MaxShebang is the longest "#!" line older kernels (EL7's 3.10) read
// whole: 127 bytes after which the interpreter path is cut.
const MaxShebang = 127

// checkShebangs checks the interpreters of executable scripts.
func checkShebangs(t *tree, baseFiles []string) CheckResult {
	res := newResult("shebangs")
	allowed := append([]string{"/bin/sh", "/usr/bin/env"}, baseFiles...)
	for _, n := range t.files {
		if n.mode.Perm()&0o111 == 0 {
			continue
		}
		head, err := readHead(t.host(n.path), 4096)
		if err != nil {
			res.fail("%s: %v", n.path, err)
			continue
		}
		if !bytes.HasPrefix(head, []byte("#!")) {
			continue
		}
		res.Count++
		if i := bytes.IndexByte(head, '\n'); i > MaxShebang || i < 0 && len(head) > MaxShebang {
			res.fail("%s: #! line longer than %d bytes", n.path, MaxShebang)
			continue
		}
		if l, ok := shebang.Find(head); ok {
			if !l.Relative {
				res.fail("%s: launcher runs %s, a host path", n.path, l.Interp)
				continue
			}
			p := path.Join(path.Dir(n.path), l.Interp)
			real, err := bundlepath.Resolve(t.top, p)
			if err != nil {
				res.fail("%s: launcher interpreter %s: %v", n.path, l.Interp, err)
				continue
			}
			if fi, err := os.Stat(t.host(real)); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
				res.fail("%s: launcher interpreter %s is not an executable file", n.path, p)
			}
			continue
		}
		l, ok := shebang.Parse(head)
		if !ok {
			res.fail("%s: #! names no interpreter", n.path)
			continue
		}
		if !slices.Contains(allowed, l.Interp) {
			res.fail("%s: #!%s is a host path (only %v and launchers relative to the script)", n.path, l.Interp, allowed)
		}
	}
	return res.done()
}

// readHead returns up to n first bytes of the file at p.
func readHead(p string, n int) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, n)
	m, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, err
	}
	return buf[:m], nil
}
