package relocate

import (
	"context"
	"fmt"
	"github.com/bundle-dev/bundle/bundle/workpool"
	"os"
	"path"
	"slices"

	"github.com/bundle-dev/bundle/bundle/relocate/bundlepath"
	"github.com/bundle-dev/bundle/bundle/relocate/shebang"
)

// keptInterpreters are the "#!" interpreters every host has.
var keptInterpreters = []string{"/bin/sh", "/usr/bin/env"}

// scriptStage gives executable scripts whose interpreter is in the bundle a
// relocatable launcher.
func (r *relocator) scriptStage(ctx context.Context) error {
	return workpool.ForEach(ctx, r.opts.Workers, r.files, func(f entry) error {
		if r.isRemoved(f.path) || f.mode.Perm()&0o111 == 0 {
			return nil
		}
		host := r.host(f.path)
		head, err := readHead(host, 2)
		if err != nil || string(head) != "#!" {
			return err
		}
		fi, err := os.Stat(host)
		if err != nil {
			return err
		}
		if fi.Size() > maxRewrite {
			r.add(&r.rep.Unrelocated, fmt.Sprintf("%s: script larger than %d MiB", f.path, maxRewrite>>20))
			return nil
		}
		data, err := os.ReadFile(host)
		if err != nil {
			return err
		}
		interp, arg := "", ""
		if l, ok := shebang.Find(data); ok {
			if l.Relative {
				return nil
			}
			interp = l.Interp
		} else if l, ok := shebang.Parse(data); ok {
			interp, arg = l.Interp, l.Arg
		} else {
			return nil
		}
		if slices.Contains(keptInterpreters, interp) || slices.Contains(r.opts.Platform.Base.Files, interp) {
			return nil
		}
		if !path.IsAbs(interp) {
			r.add(&r.rep.Unrelocated, fmt.Sprintf("%s: relative interpreter %s", f.path, interp))
			return nil
		}
		target := r.mapPath(interp)
		if !r.executableInBundle(target) {
			r.add(&r.rep.Unrelocated, fmt.Sprintf("%s: interpreter %s is not in the bundle", f.path, interp))
			return nil
		}
		out, err := shebang.Rewrite(data, target, bundlepath.Rel(path.Dir(f.path), target), arg)
		if err != nil {
			// No launcher for this interpreter (shebang.ErrUnsupported),
			// or a path or argument a launcher cannot hold.
			r.add(&r.rep.Unrelocated, fmt.Sprintf("%s: %v", f.path, err))
			return nil
		}
		if err := replaceFile(host, out); err != nil {
			return err
		}
		r.add(&r.rep.ShebangsRewritten, f.path)
		return nil
	})
}

// executableInBundle reports whether bundle path p resolves, inside the
// bundle, to an executable regular file.
func (r *relocator) executableInBundle(p string) bool {
	real, err := bundlepath.Resolve(r.root, p)
	if err != nil {
		return false
	}
	fi, err := os.Stat(r.host(real))
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}
