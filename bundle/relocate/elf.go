package relocate

import (
	"context"
	"crypto/sha256"
	"debug/elf"
	"errors"
	"fmt"
	"github.com/bundle-dev/bundle/bundle/workpool"
	"io"
	"os"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/bundle-dev/bundle/bundle/relocate/bundlepath"
	"github.com/bundle-dev/bundle/bundle/relocate/elfdeps"
	"github.com/bundle-dev/bundle/bundle/runner"
)

// elfFile is one dynamically linked ELF file of the tree.
type elfFile struct {
	path    string // bundle path of the real file
	info    *elfdeps.Info
	aliases []string // symlinks in the tree that resolve to it
}

// libKey identifies a library name for one ABI.
type libKey struct {
	class   elf.Class
	machine elf.Machine
	name    string
}

// DebugDir holds separate debug files, which are ELF files the loader never
// reads.
const DebugDir = "/usr/lib/debug"

// inspectELFs reads every linkable ELF file of the tree.
func (r *relocator) inspectELFs(ctx context.Context) (map[string]*elfFile, error) {
	mu := make(chan struct{}, 1)
	out := map[string]*elfFile{}
	err := workpool.ForEach(ctx, r.opts.Workers, r.files, func(f entry) error {
		if r.isRemoved(f.path) || f.path == DebugDir || strings.HasPrefix(f.path, DebugDir+"/") {
			return nil
		}
		ok, err := elfdeps.IsELF(r.host(f.path))
		if err != nil || !ok {
			return err
		}
		info, err := elfdeps.Inspect(r.host(f.path))
		if err != nil {
			// Not ours to judge: a firmware blob or a truncated test
			// file is no library. The audit reads it again.
			r.log.Debug("relocate: unreadable ELF file left alone", "file", f.path, "err", err)
			return nil
		}
		if !info.Linkable() {
			return nil
		}
		mu <- struct{}{}
		out[f.path] = &elfFile{path: f.path, info: info}
		<-mu
		return nil
	})
	return out, err
}

// elfStage indexes the libraries and gives every ELF file its search path.
func (r *relocator) elfStage(ctx context.Context) error {
	elfs, err := r.inspectELFs(ctx)
	if err != nil {
		return err
	}
	if len(elfs) == 0 {
		return nil
	}
	for _, l := range r.links {
		real, err := bundlepath.Resolve(r.root, l.path)
		if err != nil {
			continue
		}
		if f := elfs[real]; f != nil {
			f.aliases = append(f.aliases, l.path)
		}
	}
	if err := r.checkSonames(elfs); err != nil {
		return err
	}
	index := map[libKey]map[string]string{} // name -> directory -> real file
	addName := func(k libKey, dir, real string) {
		if index[k] == nil {
			index[k] = map[string]string{}
		}
		index[k][dir] = real
	}
	for _, f := range elfs {
		if f.info.Type != elf.ET_DYN {
			continue
		}
		addName(libKey{f.info.Class, f.info.Machine, path.Base(f.path)}, path.Dir(f.path), f.path)
		for _, a := range f.aliases {
			addName(libKey{f.info.Class, f.info.Machine, path.Base(a)}, path.Dir(a), f.path)
		}
	}
	var jobs []patchJob
	for _, p := range sortedKeys(elfs) {
		job, ok, err := r.planELF(elfs[p], index)
		if err != nil {
			return err
		}
		if ok {
			jobs = append(jobs, job)
		}
	}
	return workpool.ForEach(ctx, r.opts.Workers, jobs, func(j patchJob) error { return r.patch(ctx, j) })
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// checkSonames fails when two files with different content share a SONAME
// (for one ABI).
func (r *relocator) checkSonames(elfs map[string]*elfFile) error {
	by := map[libKey][]string{}
	for _, p := range sortedKeys(elfs) {
		f := elfs[p]
		if f.info.Soname != "" {
			k := libKey{f.info.Class, f.info.Machine, f.info.Soname}
			by[k] = append(by[k], p)
		}
	}
	var errs []error
	for k, paths := range by {
		if len(paths) < 2 {
			continue
		}
		groups := map[string][]string{} // content hash -> files, path order
		var order []string
		for _, p := range paths {
			sum, err := fileSum(r.host(p))
			if err != nil {
				return err
			}
			if groups[sum] == nil {
				order = append(order, sum)
			}
			groups[sum] = append(groups[sum], p)
		}
		if len(groups) > 1 {
			var names []string
			for _, sum := range order {
				g := groups[sum]
				name := g[0]
				if len(g) > 1 {
					name += " (identical: " + strings.Join(g[1:], ", ") + ")"
				}
				names = append(names, name)
			}
			errs = append(errs, fmt.Errorf("SONAME %s is carried by different files: %s; keep one (exclude the package or remove the copy in the recipe)",
				k.name, strings.Join(names, " and ")))
		}
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return errors.Join(errs...)
}

func fileSum(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read %s: %w", p, err)
	}
	return string(h.Sum(nil)), nil
}

// patchJob is one ELF file to give a new search path.
type patchJob struct {
	file    *elfFile
	rpath   string   // new DT_RPATH; "" removes the search path
	origins []string // directories the file is loaded from
	needed  []string // bundled DT_NEEDED entries that must resolve
}

// origins returns the directories $ORIGIN can be for f.
func origins(f *elfFile) []string {
	dirs := []string{path.Dir(f.path)}
	if !f.info.IsExecutable() {
		for _, a := range f.aliases {
			if d := path.Dir(a); !slices.Contains(dirs, d) {
				dirs = append(dirs, d)
			}
		}
	}
	return dirs
}

// originEntry is the search path entry for directory dir seen from origin.
func originEntry(origin, dir string) string {
	rel := bundlepath.Rel(origin, dir)
	if rel == "." {
		return "$ORIGIN"
	}
	return "$ORIGIN/" + rel
}

// planELF computes f's new search path; ok is false when it needs no change.
func (r *relocator) planELF(f *elfFile, index map[libKey]map[string]string) (patchJob, bool, error) {
	orgs := origins(f)
	var entries []string
	addDir := func(dir string) {
		for _, o := range orgs {
			if e := originEntry(o, dir); !slices.Contains(entries, e) {
				entries = append(entries, e)
			}
		}
	}
	var needed []string
	for _, n := range f.info.Needed {
		if r.base[n] || slices.Contains(needed, n) {
			continue
		}
		dirs := index[libKey{f.info.Class, f.info.Machine, n}]
		if len(dirs) == 0 {
			r.add(&r.rep.Unresolved, f.path+": "+n)
			continue
		}
		addDir(closestDir(path.Dir(f.path), dirs))
		needed = append(needed, n)
	}
	for _, e := range append(slices.Clone(f.info.RunPath), f.info.RPath...) {
		if dir, ok := r.oldEntryDir(f, e); ok {
			addDir(dir)
		} else {
			r.log.Debug("relocate: search path entry dropped", "file", f.path, "entry", e)
		}
	}
	rpath := strings.Join(entries, ":")
	if !f.info.HasRunPath && (!f.info.HasRPath && rpath == "" || f.info.HasRPath && strings.Join(f.info.RPath, ":") == rpath) {
		return patchJob{}, false, nil
	}
	return patchJob{file: f, rpath: rpath, origins: orgs, needed: needed}, true, nil
}

// closestDir picks, among the directories holding a library, the one with
// the shortest relative path from dir (its own directory first), then the
// first in byte order.
func closestDir(dir string, dirs map[string]string) string {
	best, bestLen := "", -1
	for _, d := range sortedKeys(dirs) {
		n := 0
		if rel := bundlepath.Rel(dir, d); rel != "." {
			n = strings.Count(rel, "/") + 1
		}
		if bestLen < 0 || n < bestLen {
			best, bestLen = d, n
		}
	}
	return best
}

// oldEntryDir returns the bundle directory an existing search path entry
// of f names, when it names one: $ORIGIN-relative, or absolute after
// build-root prefixes are removed.
func (r *relocator) oldEntryDir(f *elfFile, e string) (string, bool) {
	var d string
	switch {
	case strings.HasPrefix(e, "$ORIGIN") || strings.HasPrefix(e, "${ORIGIN}"):
		var err error
		if d, err = elfdeps.ExpandOrigin(e, path.Dir(f.path)); err != nil {
			return "", false
		}
	case path.IsAbs(e) && !strings.Contains(e, "$"):
		d = r.mapPath(e)
	default:
		return "", false
	}
	real, err := bundlepath.Resolve(r.root, d)
	if err != nil {
		return "", false
	}
	if fi, err := os.Stat(r.host(real)); err != nil || !fi.IsDir() {
		return "", false
	}
	return real, true
}

// patch writes j's search path into a copy of the file, checks the copy
// and renames it over the file.
func (r *relocator) patch(ctx context.Context, j patchJob) error {
	p := r.host(j.file.path)
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	src, err := os.Open(p)
	if err != nil {
		return err
	}
	defer src.Close()
	tmp, err := os.CreateTemp(path.Dir(p), ".bundle-relocate-*")
	if err != nil {
		return fmt.Errorf("patch %s: %w", j.file.path, err)
	}
	name := tmp.Name()
	_, err = io.Copy(tmp, src)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		args := []string{"--force-rpath", "--set-rpath", j.rpath, name}
		if j.rpath == "" {
			args = []string{"--remove-rpath", name}
		}
		if _, err = r.opts.Runner.Run(ctx, runner.Cmd{Name: "patchelf", Args: args}); err != nil {
			err = fmt.Errorf("patchelf: %w", err)
		}
	}
	if err == nil {
		err = r.verify(name, j)
	}
	if err == nil {
		err = finishReplace(name, p, fi)
	}
	if err != nil {
		os.Remove(name)
		return fmt.Errorf("set the search path of %s to %q: %w", j.file.path, j.rpath, err)
	}
	r.add(&r.rep.ELFPatched, j.file.path)
	return nil
}

// verify reads the patched copy back.
func (r *relocator) verify(name string, j patchJob) error {
	info, err := elfdeps.Inspect(name)
	if err != nil {
		return fmt.Errorf("patched file no longer reads: %w", err)
	}
	switch {
	case info.HasRunPath:
		return errors.New("patched file still has DT_RUNPATH")
	case j.rpath != "" && (!info.HasRPath || strings.Join(info.RPath, ":") != j.rpath):
		return fmt.Errorf("patched file has DT_RPATH %q", strings.Join(info.RPath, ":"))
	case j.rpath == "" && info.HasRPath:
		return errors.New("patched file still has DT_RPATH")
	case !slices.Equal(info.Needed, j.file.info.Needed) || info.Soname != j.file.info.Soname:
		return fmt.Errorf("patchelf changed DT_NEEDED or SONAME: %q %q", info.Needed, info.Soname)
	}
	for _, o := range j.origins {
		for _, n := range j.needed {
			if _, _, err := elfdeps.Lookup(r.root, o, info.RPath, n); err != nil {
				return err
			}
		}
	}
	return nil
}
