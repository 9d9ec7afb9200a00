package relocate

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/bundle-dev/bundle/bundle/jail"
	"github.com/bundle-dev/bundle/bundle/runner"
)

// pycName splits "__pycache__/mod.cpython-311.opt-1.pyc" into the module
// stem, cache tag and optimisation level.
func pycName(name string) (stem, tag string, level int, ok bool) {
	base, ok := strings.CutSuffix(path.Base(name), ".pyc")
	if !ok {
		return "", "", 0, false
	}
	if i := strings.LastIndex(base, ".opt-"); i >= 0 {
		n, err := strconv.Atoi(base[i+len(".opt-"):])
		if err != nil || n < 1 || n > 2 {
			return "", "", 0, false
		}
		level, base = n, base[:i]
	}
	i := strings.LastIndexByte(base, '.')
	if i <= 0 || i == len(base)-1 {
		return "", "", 0, false
	}
	return base[:i], base[i+1:], level, true
}

// cachedPycs lists the __pycache__ files of bundle source src.
func (r *relocator) cachedPycs(src string) ([]string, error) {
	dir := path.Join(path.Dir(src), "__pycache__")
	stem := strings.TrimSuffix(path.Base(src), ".py")
	ents, err := os.ReadDir(r.host(dir))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if s, _, _, ok := pycName(e.Name()); ok && s == stem && e.Type().IsRegular() {
			out = append(out, path.Join(dir, e.Name()))
		}
	}
	return out, nil
}

// sourceOf returns the source of a __pycache__ file, when it is there.
func (r *relocator) sourceOf(pyc string) (string, int, string, bool) {
	dir := path.Dir(pyc)
	if path.Base(dir) != "__pycache__" {
		return "", 0, "", false
	}
	stem, tag, level, ok := pycName(pyc)
	if !ok {
		return "", 0, "", false
	}
	src := path.Join(path.Dir(dir), stem+".py")
	if fi, err := os.Lstat(r.host(src)); err != nil || !fi.Mode().IsRegular() {
		return "", 0, "", false
	}
	return src, level, tag, true
}

// probePython returns the cache tag of Options.Python when it runs and is
// 3.9 or newer (compileall's -s, -p and -o), else "".
func (r *relocator) probePython(ctx context.Context) string {
	if r.opts.Python == "" {
		return ""
	}
	if !r.executableInBundle(r.opts.Python) {
		r.log.Warn("relocate: the Python to byte-compile with is not in the bundle; stale pyc files are removed instead", "python", r.opts.Python)
		return ""
	}
	out, err := runner.Output(ctx, r.pythonRunner(), runner.Cmd{
		Name: r.host(r.opts.Python),
		Args: []string{"-c", "import sys; print(sys.implementation.cache_tag or '', sys.version_info >= (3, 9))"},
		Env:  pythonEnv(),
	})
	fields := strings.Fields(string(out))
	if err != nil || len(fields) != 2 || fields[1] != "True" {
		r.log.Warn("relocate: the bundle's Python does not run or is older than 3.9; stale pyc files are removed instead", "python", r.opts.Python, "err", err, "output", strings.TrimSpace(string(out)))
		return ""
	}
	return fields[0]
}

// pythonRunner runs the bundle's Python: in a jail (bundle/jail) where
// only the tree is writable, as an unprivileged user when bundle is root,
// without network. It never runs on the host as it is.
func (r *relocator) pythonRunner() runner.Runner {
	return jail.Runner{Runner: r.opts.Runner, Jail: jail.Jail{Writable: []string{r.root}}}
}

func pythonEnv() []string {
	return runner.CleanEnv("PYTHONNOUSERSITE=1", "PYTHONDONTWRITEBYTECODE=1")
}

// pycStage recompiles, removes or patches the pyc files the text stage
// made stale or found holding build paths.
func (r *relocator) pycStage(ctx context.Context) error {
	if len(r.rewrittenPy) == 0 && len(r.pycWithPaths) == 0 {
		return nil
	}
	tag := r.probePython(ctx)
	compile := map[string]map[int]bool{} // source -> levels
	handled := map[string]bool{}
	var remove, scrub []string
	want := func(src string, level int) {
		if compile[src] == nil {
			compile[src] = map[int]bool{}
		}
		compile[src][level] = true
	}
	sort.Strings(r.rewrittenPy)
	for _, src := range r.rewrittenPy {
		pycs, err := r.cachedPycs(src)
		if err != nil {
			return err
		}
		for _, pyc := range pycs {
			handled[pyc] = true
			_, ptag, level, _ := pycName(pyc)
			if tag != "" && ptag == tag {
				want(src, level)
			} else {
				remove = append(remove, pyc)
			}
		}
	}
	sort.Strings(r.pycWithPaths)
	for _, pyc := range r.pycWithPaths {
		if handled[pyc] {
			continue
		}
		if src, level, ptag, ok := r.sourceOf(pyc); ok && tag != "" && ptag == tag {
			want(src, level)
		} else {
			scrub = append(scrub, pyc)
		}
	}
	for _, p := range remove {
		if err := r.remove(p); err != nil {
			return err
		}
	}
	groups := map[string][]string{} // "-o 0 -o 1" -> sources
	for _, src := range sortedKeys(compile) {
		var levels []string
		for l := 0; l <= 2; l++ {
			if compile[src][l] {
				levels = append(levels, "-o", strconv.Itoa(l))
			}
		}
		k := strings.Join(levels, " ")
		groups[k] = append(groups[k], src)
	}
	for _, k := range sortedKeys(groups) {
		if err := r.compile(ctx, strings.Fields(k), groups[k]); err != nil {
			return err
		}
		for _, src := range groups[k] {
			pycs, err := r.cachedPycs(src)
			if err != nil {
				return err
			}
			for _, pyc := range pycs {
				if _, ptag, level, _ := pycName(pyc); ptag == tag && compile[src][level] {
					r.add(&r.rep.Recompiled, pyc)
					scrub = append(scrub, pyc) // a no-op unless the source itself names a build path
				}
			}
		}
	}
	for _, pyc := range scrub {
		data, err := os.ReadFile(r.host(pyc))
		if err != nil {
			return err
		}
		// Marshalled strings have their length before them: only the
		// build path itself is overwritten, never the bytes after it.
		if !r.scrubBinary(data, false) {
			continue
		}
		if err := replaceFile(r.host(pyc), data); err != nil {
			return err
		}
		r.add(&r.rep.BinaryPatched, pyc)
	}
	return nil
}

// compile runs compileall on sources at the given -o levels.
func (r *relocator) compile(ctx context.Context, levels, sources []string) error {
	var list bytes.Buffer
	for _, s := range sources {
		if strings.ContainsAny(s, "\n\r") {
			return fmt.Errorf("byte-compile %q: a newline in a file name", s)
		}
		list.WriteString(r.host(s))
		list.WriteByte('\n')
	}
	args := []string{"-m", "compileall", "-q", "-f", "--invalidation-mode", "unchecked-hash", "-s", r.root, "-p", "/"}
	args = append(args, levels...)
	args = append(args, "-i", "-")
	if _, err := r.pythonRunner().Run(ctx, runner.Cmd{Name: r.host(r.opts.Python), Args: args, Env: pythonEnv(), Stdin: &list}); err != nil {
		return fmt.Errorf("byte-compile %d files with %s: %w", len(sources), r.opts.Python, err)
	}
	return nil
}
