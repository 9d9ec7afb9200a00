package audit

import (
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/bundle-dev/bundle/bundle/relocate/bundlepath"
	"github.com/bundle-dev/bundle/bundle/relocate/elfdeps"
	"github.com/bundle-dev/bundle/bundle/workpool"
	"github.com/bundle-dev/bundle/platforms"
)

// elfEntry is one linkable ELF file of the bundle.
type elfEntry struct {
	path string
	info *elfdeps.Info
}

// elfSet is what the ELF checks learnt, for the loader and decoy steps.
type elfSet struct {
	files []elfEntry
	// sonames are the libraries the bundle needs or provides, per ABI.
	sonames map[abi]map[string]bool
}

type abi struct {
	class   elf.Class
	machine elf.Machine
}

// debugDir holds separate debug files, which the loader never reads.
const debugDir = "/usr/lib/debug"

// readELFs inspects every regular ELF file of the tree.
func readELFs(ctx context.Context, t *tree, workers int) (*elfSet, []string, error) {
	var mu sync.Mutex
	set := &elfSet{sonames: map[abi]map[string]bool{}}
	var unreadable []string
	err := workpool.ForEach(ctx, workers, t.files, func(n node) error {
		if n.path == debugDir || strings.HasPrefix(n.path, debugDir+"/") {
			return nil
		}
		ok, err := elfdeps.IsELF(t.host(n.path))
		if err != nil || !ok {
			return err
		}
		info, err := elfdeps.Inspect(t.host(n.path))
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			unreadable = append(unreadable, n.path+": "+err.Error())
			return nil
		}
		if !info.Linkable() {
			return nil
		}
		set.files = append(set.files, elfEntry{path: n.path, info: info})
		k := abi{info.Class, info.Machine}
		if set.sonames[k] == nil {
			set.sonames[k] = map[string]bool{}
		}
		for _, s := range info.Needed {
			set.sonames[k][s] = true
		}
		if info.Soname != "" {
			set.sonames[k][info.Soname] = true
		}
		return nil
	})
	slices.SortFunc(set.files, func(a, b elfEntry) int { return strings.Compare(a.path, b.path) })
	return set, unreadable, err
}

// hostNeedsDetail says what the bundle needs from the host and which known
// distributions have it.
func hostNeedsDetail(set *elfSet) string {
	names := make([]string, len(set.files))
	infos := make([]*elfdeps.Info, len(set.files))
	for i, f := range set.files {
		names[i], infos[i] = f.path, f.info
	}
	h := elfdeps.ComputeHostNeeds(names, infos)
	var parts []string
	for _, v := range []struct{ kind, ver string }{{"GLIBC", h.Glibc}, {"GLIBCXX", h.GLIBCXX}, {"CXXABI", h.CXXABI}} {
		if v.ver == "" {
			parts = append(parts, "no "+v.kind+"_")
			continue
		}
		parts = append(parts, fmt.Sprintf("%s_%s (%s)", v.kind, v.ver, h.By[v.kind]))
	}
	runs := platforms.RunsOn(h)
	if len(runs) == 0 {
		runs = []string{"none of the known distributions"}
	}
	return "newest needed from the host: " + strings.Join(parts, ", ") + "; runs on " + strings.Join(runs, ", ") + "."
}

// checkELF runs the search path and glibc checks.
func checkELF(t *tree, set *elfSet, unreadable []string, baseLibs []string, ceiling string) []CheckResult {
	search := newResult("elf-search-path")
	glibc := newResult("glibc-ceiling")
	for _, u := range unreadable {
		search.fail("%s", u)
	}
	base := map[string]bool{}
	for _, l := range baseLibs {
		base[l] = true
	}
	// A library is loaded under the directory entry the search found, so
	// every symlink to it is a place $ORIGIN can be.
	aliases := map[string][]string{}
	for _, l := range t.links {
		if real, err := bundlepath.Resolve(t.top, l.path); err == nil {
			aliases[real] = append(aliases[real], l.path)
		}
	}
	for _, f := range set.files {
		search.Count++
		glibc.Count++
		info := f.info
		if info.HasRunPath {
			search.fail("%s: DT_RUNPATH %q (LD_LIBRARY_PATH overrides it; bundle relocation writes DT_RPATH)", f.path, strings.Join(info.RunPath, ":"))
		}
		for _, e := range info.RPath {
			if _, err := elfdeps.ExpandOrigin(e, path.Dir(f.path)); errors.Is(err, elfdeps.ErrNotRelative) {
				search.fail("%s: search path entry %q is not relative to $ORIGIN: it names a host directory", f.path, e)
			}
		}
		origins := []string{path.Dir(f.path)}
		if !info.IsExecutable() {
			for _, a := range aliases[f.path] {
				if d := path.Dir(a); !slices.Contains(origins, d) {
					origins = append(origins, d)
				}
			}
		}
		for _, n := range info.Needed {
			if base[n] {
				continue
			}
			for _, o := range origins {
				if _, _, err := elfdeps.Lookup(t.top, o, info.RPath, n); err != nil {
					via := ""
					if o != path.Dir(f.path) {
						via = " (loaded from " + o + ")"
					}
					search.fail("%s%s: %v", f.path, via, err)
				}
			}
		}
		if ceiling == "" {
			continue
		}
		hi, private := elfdeps.Glibc(info.Versions)
		if private {
			glibc.fail("%s: needs GLIBC_PRIVATE (tied to the glibc it was built against)", f.path)
		}
		if hi != "" && elfdeps.CompareVersions(hi, ceiling) > 0 {
			glibc.fail("%s: needs GLIBC_%s, newer than the platform's %s", f.path, hi, ceiling)
		}
	}
	g := glibc.done()
	if ceiling == "" {
		g = skipped("glibc-ceiling", "the platform sets no glibc-ceiling")
	}
	g.Summary = hostNeedsDetail(set)
	return []CheckResult{search.done(), g}
}
