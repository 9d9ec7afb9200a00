package closure

import (
	"slices"
	"sort"
	"strings"

	"github.com/bundle-dev/bundle/bundle/rpm"
	"github.com/bundle-dev/bundle/platforms"
)

// node is one candidate package: a binary package of an accepted arch and
// the newest EVR of its name+arch.
type node struct {
	id       int
	pkg      *rpm.Package
	nevra    string
	archRank int  // 0 for the platform's arch, then the compat arches in order
	base     bool // part of the platform base: satisfies, never selected
}

// provRef is one entry of the provides index.
type provRef struct {
	node int
	dep  rpm.Dep
}

// index holds the candidates and what they provide. It does not change
// during a resolution.
type index struct {
	plat     *platforms.Platform
	all      []*rpm.Package // everything given, for diagnostics
	nodes    []*node
	nodeOf   map[*rpm.Package]int
	byName   map[string][]int // package name -> candidates, platform arch first
	provides map[string][]provRef
	files    map[string][]int

	// related maps a capability or path to every package given (any
	// arch, any version, source too) that is named so, provides it or
	// has the file; built on first use, for error messages.
	related map[string][]*rpm.Package
}

// relatedTo returns the packages named name, providing name (in any
// version) or containing the file name.
func (ix *index) relatedTo(name string) []*rpm.Package {
	if ix.related == nil {
		ix.related = map[string][]*rpm.Package{}
		for _, p := range ix.all {
			if p == nil {
				continue
			}
			seen := map[string]bool{p.Name: true}
			ix.related[p.Name] = append(ix.related[p.Name], p)
			for _, d := range p.Provides {
				if !seen[d.Name] {
					seen[d.Name] = true
					ix.related[d.Name] = append(ix.related[d.Name], p)
				}
			}
			for _, f := range p.Files {
				if !seen[f.Path] {
					seen[f.Path] = true
					ix.related[f.Path] = append(ix.related[f.Path], p)
				}
			}
		}
	}
	return ix.related[name]
}

// newIndex keeps the packages the platform accepts (binary, arch or compat
// arch), the newest EVR of each name+arch, and indexes their provides
// (with the implicit "name = EVR" every package provides) and files.
func newIndex(pkgs []*rpm.Package, plat *platforms.Platform) *index {
	ix := &index{
		plat:     plat,
		all:      pkgs,
		nodeOf:   map[*rpm.Package]int{},
		byName:   map[string][]int{},
		provides: map[string][]provRef{},
		files:    map[string][]int{},
	}
	type key struct{ name, arch string }
	newest := map[key]*rpm.Package{}
	for _, p := range pkgs {
		if p == nil || p.IsSource || !plat.Accepts(p.Arch) {
			continue
		}
		k := key{p.Name, p.Arch}
		if cur, ok := newest[k]; !ok || newerPackage(p, cur) {
			newest[k] = p
		}
	}
	chosen := make([]*rpm.Package, 0, len(newest))
	for _, p := range newest {
		chosen = append(chosen, p)
	}
	sort.Slice(chosen, func(i, j int) bool {
		a, b := chosen[i], chosen[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return archRank(plat, a.Arch) < archRank(plat, b.Arch)
	})
	for i, p := range chosen {
		n := &node{id: i, pkg: p, nevra: p.NEVRA(), archRank: archRank(plat, p.Arch), base: plat.BasePackage(p.Name)}
		ix.nodes = append(ix.nodes, n)
		ix.nodeOf[p] = i
		ix.byName[p.Name] = append(ix.byName[p.Name], i)
		self := rpm.Dep{Name: p.Name, Flags: rpm.SenseEqual, EVR: p.EVR}
		hasSelf := false
		for _, d := range p.Provides {
			ix.provides[d.Name] = append(ix.provides[d.Name], provRef{i, d})
			if d.Name == p.Name && d.Flags&rpm.SenseCompareMask == rpm.SenseEqual && rpm.CompareEVR(d.EVR, p.EVR) == 0 {
				hasSelf = true
			}
		}
		if !hasSelf {
			ix.provides[p.Name] = append(ix.provides[p.Name], provRef{i, self})
		}
		for _, f := range p.Files {
			ix.files[f.Path] = append(ix.files[f.Path], i)
		}
	}
	return ix
}

// newerPackage orders two packages of one name+arch: the higher EVR wins;
// equal EVRs (the same package twice, or rebuilt) fall back to the exact
// strings and then the path so the choice is deterministic.
func newerPackage(a, b *rpm.Package) bool {
	if c := rpm.CompareEVR(a.EVR, b.EVR); c != 0 {
		return c > 0
	}
	if a.EVR.Release != b.EVR.Release {
		return a.EVR.Release > b.EVR.Release
	}
	if a.EVR.Epoch != b.EVR.Epoch {
		return a.EVR.Epoch > b.EVR.Epoch
	}
	return a.Path < b.Path
}

func archRank(plat *platforms.Platform, arch string) int {
	if arch == plat.Arch {
		return 0
	}
	for i, a := range plat.CompatArches {
		if a == arch {
			return i + 1
		}
	}
	return len(plat.CompatArches) + 1
}

// whatProvides returns the candidates providing the plain dependency d:
// through a Provides entry whose range overlaps d's, or, for a path,
// through a file of that path (file dependencies carry no version). The
// result is in index order without duplicates.
func (ix *index) whatProvides(d rpm.Dep) []int {
	var out []int
	for _, pr := range ix.provides[d.Name] {
		if !slices.Contains(out, pr.node) && d.SatisfiedBy(pr.dep) {
			out = append(out, pr.node)
		}
	}
	if strings.HasPrefix(d.Name, "/") {
		for _, id := range ix.files[d.Name] {
			if !slices.Contains(out, id) {
				out = append(out, id)
			}
		}
	}
	slices.Sort(out)
	return out
}

// better reports whether candidate a is preferred to b as the provider of
// a requirement: the newer EVR, then the name, then the platform's own
// arch before compat arches.
func (ix *index) better(a, b int) bool {
	pa, pb := ix.nodes[a].pkg, ix.nodes[b].pkg
	if c := rpm.CompareEVR(pa.EVR, pb.EVR); c != 0 {
		return c > 0
	}
	if pa.Name != pb.Name {
		return pa.Name < pb.Name
	}
	if ix.nodes[a].archRank != ix.nodes[b].archRank {
		return ix.nodes[a].archRank < ix.nodes[b].archRank
	}
	return a < b
}
