package relocate

import (
	"bytes"
	"context"
	"fmt"
	"github.com/bundle-dev/bundle/bundle/workpool"
	"os"
	"path"
	"strings"

	"github.com/bundle-dev/bundle/bundle/relocate/bundlepath"
	"github.com/bundle-dev/bundle/bundle/relocate/elfdeps"
)

// pathChar reports bytes that continue a path in text or a C string.
func pathChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("._+-@%~/", c) >= 0
}

// span returns how many bytes after a build path belong to the build side:
// up to the first "/" that starts a top-level name of the tree
// ("/python3-3.11.5-1.el9.x86_64" before "/usr/lib64"). Without such a
// component it is the rest of the build path's last component (the "ROOT"
// of BUILDROOT when only BUILD was given), and top is false.
func (r *relocator) span(tail []byte) (n int, top bool) {
	end := 0
	for end < len(tail) && pathChar(tail[end]) {
		end++
	}
	t := tail[:end]
	for k := 0; k < len(t); k++ {
		if t[k] != '/' {
			continue
		}
		comp := t[k+1:]
		if j := bytes.IndexByte(comp, '/'); j >= 0 {
			comp = comp[:j]
		}
		if len(comp) > 0 && r.tops[string(comp)] {
			return k, true
		}
	}
	k := 0
	for k < len(t) && t[k] != '/' {
		k++
	}
	return k, false
}

// rewriteText replaces every build path in data by the bundle path it
// stands for (see the package documentation). A replacement can bring
// pieces together into a build path again ("/w" + "/b/BUILD/staging" with
// /w/staging a build path too), so it repeats until none is left; every
// pass makes the text shorter.
func (r *relocator) rewriteText(data []byte) []byte {
	for {
		out, changed := r.rewriteOnce(data)
		if !changed {
			return out
		}
		data = out
	}
}

func (r *relocator) rewriteOnce(data []byte) ([]byte, bool) {
	var out []byte
	rest := data
	for {
		i, p := r.paths.Index(rest)
		if i < 0 {
			break
		}
		if out == nil {
			out = make([]byte, 0, len(data))
		}
		out = append(out, rest[:i]...)
		after := rest[i+len(p):]
		n, top := r.span(after)
		if !top && (n == len(after) || after[n] != '/') {
			out = append(out, '/')
		}
		rest = after[n:]
	}
	if out == nil {
		return data, false
	}
	return append(out, rest...), true
}

// mapPath returns the bundle path a build-side path names: "/" + path with
// the build part removed, or p itself when it holds no build path.
func (r *relocator) mapPath(p string) string {
	return bundlepath.Clean(string(r.rewriteText([]byte(p))))
}

// scrubBinary overwrites build paths in data with slashes, keeping every
// length; with extend, the build-side components after the path go too.
// It repeats until no build path is left (every pass turns letters into
// slashes) and reports whether anything changed.
func (r *relocator) scrubBinary(data []byte, extend bool) bool {
	changed := false
	for {
		i, p := r.paths.Index(data)
		if i < 0 {
			return changed
		}
		end := i + len(p)
		if extend {
			n, _ := r.span(data[end:])
			end += n
		}
		for k := i; k < end; k++ {
			data[k] = '/'
		}
		changed = true
	}
}

// binaryKind classifies a binary file by its first bytes.
func binaryKind(head []byte, name string) string {
	switch {
	case bytes.HasPrefix(head, []byte(elfdeps.Magic)):
		return "elf"
	case bytes.HasPrefix(head, []byte("!<arch>\n")):
		return "ar"
	case strings.HasSuffix(name, ".pyc") || strings.HasSuffix(name, ".pyo"):
		return "pyc"
	}
	return "other"
}

// textStage rewrites build paths in every file and relocates pkg-config
// files.
func (r *relocator) textStage(ctx context.Context) error {
	return workpool.ForEach(ctx, r.opts.Workers, r.files, func(f entry) error {
		if r.isRemoved(f.path) {
			return nil
		}
		host := r.host(f.path)
		fh, err := os.Open(host)
		if err != nil {
			return err
		}
		res, err := r.paths.Scan(fh, false)
		fh.Close()
		if err != nil {
			return fmt.Errorf("read %s: %w", f.path, err)
		}
		isPC := strings.HasSuffix(f.path, ".pc")
		if res.Found == "" && (!isPC || res.Binary) {
			return nil
		}
		if res.Size > maxRewrite {
			r.add(&r.rep.Unrelocated, fmt.Sprintf("%s: holds %s but is larger than %d MiB", f.path, res.Found, maxRewrite>>20))
			return nil
		}
		data, err := os.ReadFile(host)
		if err != nil {
			return err
		}
		if res.Binary {
			switch binaryKind(data, f.path) {
			case "elf", "ar":
				r.scrubBinary(data, true)
			case "pyc":
				r.mu.Lock()
				r.pycWithPaths = append(r.pycWithPaths, f.path)
				r.mu.Unlock()
				return nil
			default:
				r.add(&r.rep.Unrelocated, fmt.Sprintf("%s: binary file holds %s", f.path, res.Found))
				return nil
			}
			if err := replaceFile(host, data); err != nil {
				return err
			}
			r.add(&r.rep.BinaryPatched, f.path)
			return nil
		}
		out := r.rewriteText(data)
		if isPC {
			out = r.relocatePC(out, path.Dir(f.path))
		}
		if bytes.Equal(out, data) {
			return nil
		}
		if err := replaceFile(host, out); err != nil {
			return err
		}
		r.add(&r.rep.TextRewritten, f.path)
		if strings.HasSuffix(f.path, ".py") {
			r.mu.Lock()
			r.rewrittenPy = append(r.rewrittenPy, f.path)
			r.mu.Unlock()
		}
		return nil
	})
}

// relocatePC makes a pkg-config file in bundle directory dir relocatable:
// prefix becomes ${pcfiledir}-relative and paths under the old prefix are
// written from ${prefix}.
func (r *relocator) relocatePC(data []byte, dir string) []byte {
	lines := strings.Split(string(data), "\n")
	pi := -1
	var old string
	for i, l := range lines {
		name, val, ok := strings.Cut(l, "=")
		if ok && strings.TrimSpace(name) == "prefix" {
			pi, old = i, strings.TrimSpace(val)
			break
		}
	}
	if pi < 0 || !path.IsAbs(old) {
		return data
	}
	mapped := r.mapPath(old)
	prefix := "${pcfiledir}"
	if rel := bundlepath.Rel(dir, mapped); rel != "." {
		prefix += "/" + rel
	}
	olds := []string{path.Clean(old)}
	if mapped != olds[0] {
		olds = append(olds, mapped)
	}
	for i, l := range lines {
		if i == pi {
			lines[i] = "prefix=" + prefix
			continue
		}
		if mapped == "/" {
			// Everything would be "under" the prefix; leave the other
			// lines as they are.
			continue
		}
		for _, o := range olds {
			l = replacePrefixTokens(l, o, "${prefix}")
		}
		lines[i] = l
	}
	return []byte(strings.Join(lines, "\n"))
}

// replacePrefixTokens replaces old in line with repl where old is a whole
// path prefix: preceded by the start, a blank, '=', ',', '"', "-I" or "-L",
// and followed by the end, '/', a blank or '"'.
func replacePrefixTokens(line, old, repl string) string {
	var b strings.Builder
	rest := line
	for {
		i := strings.Index(rest, old)
		if i < 0 {
			b.WriteString(rest)
			return b.String()
		}
		before := b.String() + rest[:i]
		after := rest[i+len(old):]
		okBefore := before == "" || strings.ContainsAny(before[len(before)-1:], " \t=,\"") ||
			strings.HasSuffix(before, "-I") || strings.HasSuffix(before, "-L")
		okAfter := after == "" || strings.ContainsAny(after[:1], "/ \t\"")
		b.WriteString(rest[:i])
		if okBefore && okAfter {
			b.WriteString(repl)
		} else {
			b.WriteString(old)
		}
		rest = after
	}
}
