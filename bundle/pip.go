package bundle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/bundle-dev/bundle/bundle/closure"
	"github.com/bundle-dev/bundle/bundle/engine"
	"github.com/bundle-dev/bundle/bundle/extract"
	"github.com/bundle-dev/bundle/pipfreeze"
	"github.com/bundle-dev/bundle/recipes"
)

// pythonIn finds the bundle's own interpreter in a staging root.
func pythonIn(root string) (string, error) {
	for _, name := range []string{"usr/bin/python3", "bin/python3"} {
		p := filepath.Join(root, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	matches, _ := filepath.Glob(filepath.Join(root, "usr/bin/python3.*"))
	sort.Strings(matches)
	for _, m := range matches {
		if !strings.HasSuffix(m, "-config") {
			return m, nil
		}
	}
	return "", fmt.Errorf("no python3 in %s/usr/bin: the recipe's python package must ship it", root)
}

// pipOptions are the pipfreeze options for the interpreter inside root.
// Before the relocation stage gives it an $ORIGIN RPATH, the interpreter
// finds libpython (and the bundle's other libraries) through
// LD_LIBRARY_PATH.
func pipOptions(r *recipes.Recipe, root, cacheDir, logDir string, log *slog.Logger) (pipfreeze.Options, error) {
	py, err := pythonIn(root)
	if err != nil {
		return pipfreeze.Options{}, err
	}
	o := pipfreeze.Options{
		Python: py, Root: root, IndexURL: r.Pip.IndexURL, LogDir: logDir, Logger: log, Sandbox: true,
		Env: []string{"LD_LIBRARY_PATH=" + filepath.Join(root, "usr/lib64") + ":" + filepath.Join(root, "usr/lib")},
	}
	for _, f := range r.Pip.FindLinks {
		o.FindLinks = append(o.FindLinks, f.Resolved)
	}
	if len(o.FindLinks) == 0 && o.IndexURL == "" {
		def := filepath.Join(cacheDir, "python")
		if _, err := os.Stat(def); err != nil {
			return o, fmt.Errorf("the recipe's pip: section gives no find-links nor index-url, and the default offline set %s is missing: gather it with recipes/gather-python-wheels.sh %s", def, def)
		}
		o.FindLinks = []string{def}
	}
	return o, nil
}

// pipStage installs the recipe's lock with the bundle's own Python, checks
// `pip freeze` against it, and writes versions.txt at the bundle's top.
func pipStage(r *recipes.Recipe, cacheDir, logDir string, log *slog.Logger) Hook {
	return Hook{Name: "pip", Run: func(ctx context.Context, in HookInput) (HookOutput, error) {
		root := in.Root
		var out HookOutput
		lockPath := r.Pip.Lock.Resolved
		if _, err := os.Stat(lockPath); err != nil {
			return out, fmt.Errorf("lock %s: %w (make it with: bundle lock %s)", r.Pip.Lock.Given, err, r.File)
		}
		opts, err := pipOptions(r, root, cacheDir, logDir, log)
		if err != nil {
			return out, err
		}
		if err := pipfreeze.Install(ctx, opts, lockPath); err != nil {
			return out, err
		}
		lock, err := pipfreeze.ReadLock(lockPath)
		if err != nil {
			return out, err
		}
		frozen, err := pipfreeze.Freeze(ctx, opts)
		if err != nil {
			return out, err
		}
		if err := pipfreeze.Compare(lock, frozen); err != nil {
			return out, fmt.Errorf("pip freeze of the bundle does not match %s: %w", r.Pip.Lock.Given, err)
		}
		var nevras []string
		for _, p := range in.Packages {
			nevras = append(nevras, p.NEVRA)
		}
		for _, p := range frozen {
			pin := PipPin{Name: p.Name, Version: p.Version}
			if l, ok := lock.Pin(p.Name); ok {
				pin.Hashes, pin.URL = l.Hashes, l.URL
			}
			out.Python = append(out.Python, pin)
		}
		return out, pipfreeze.WriteVersions(filepath.Join(root, "versions.txt"), nevras, frozen)
	}}
}

// LockPip is `bundle lock`: it builds the recipe's Python (from the cache
// when it is there), unpacks it with its closure into WORKDIR/lock-root,
// and resolves the recipe's loose requirements with it into the lock.
func LockPip(ctx context.Context, o BuildOptions) (*pipfreeze.LockFile, error) {
	r := o.Recipe
	if r.Pip == nil || r.Python == nil {
		return nil, errors.New("the recipe has no pip: section or no python: package to lock with")
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	unlock, err := lockWorkDir(o.WorkDir, log)
	if err != nil {
		return nil, err
	}
	defer unlock()
	eng, err := engine.New(engine.Options{Recipe: r, WorkDir: o.WorkDir, CacheDir: o.CacheDir, Offline: o.Offline,
		Workers: o.Workers, CPUs: o.CPUs, Logger: log, Progress: o.Progress})
	if err != nil {
		return nil, err
	}
	res, err := eng.Build(ctx, []string{r.Python.Name})
	if err != nil {
		return nil, err
	}
	var want []string
	for _, p := range res.Outputs[r.Python.Name] {
		if slices.Contains(res.Ship, p.Name) {
			want = append(want, p.Name)
		}
	}
	pkgs, err := closure.LoadRepo(ctx, eng.Repo(), log)
	if err != nil {
		return nil, err
	}
	sel, err := closure.Resolve(ctx, pkgs, closure.Options{Platform: eng.Platform(), Want: want, Ignore: r.Closure.IgnoreRequires, Logger: log})
	if err != nil {
		return nil, err
	}
	root := filepath.Join(eng.WorkDir(), "lock-root")
	if err := os.RemoveAll(root); err != nil {
		return nil, err
	}
	var paths []string
	for _, s := range sel.Packages {
		paths = append(paths, s.Package.Path)
	}
	if _, err := extract.Extract(ctx, extract.Options{Root: root, Remove: []string{}, Logger: log}, paths); err != nil {
		return nil, err
	}
	opts, err := pipOptions(r, root, cacheDirOf(o), filepath.Join(eng.WorkDir(), "logs", "pip"), log)
	if err != nil {
		return nil, err
	}
	return pipfreeze.Lock(ctx, opts, r.Pip.Requirements.Resolved, r.Pip.Lock.Resolved)
}

func cacheDirOf(o BuildOptions) string {
	if o.CacheDir != "" {
		return o.CacheDir
	}
	if d, err := engine.DefaultCacheDir(); err == nil {
		return d
	}
	return ""
}
