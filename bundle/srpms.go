package bundle

import (
	"context"
	"fmt"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/bundle-dev/bundle/bundle/closure"
	"github.com/bundle-dev/bundle/bundle/rpm"
)

// SourcePackage is one SRPM the bundle's packages were built from. When
// the repository does not hold it, only RPM (its file name, from the
// binary packages' SOURCERPM tag) and what that name says are known.
type SourcePackage struct {
	NEVRA   string       `json:"nevra"`
	Name    string       `json:"name"`
	Epoch   string       `json:"epoch,omitempty"`
	Version string       `json:"version"`
	Release string       `json:"release"`
	RPM     string       `json:"rpm"`
	SHA256  string       `json:"sha256,omitempty"`
	License string       `json:"license,omitempty"`
	Files   []SourceFile `json:"files,omitempty"`
	// BuildRequires are the NEVRAs of the repository packages that satisfy
	// the SRPM's BuildRequires (those the platform's rootfs provides are
	// not recorded).
	BuildRequires []string `json:"build_requires,omitempty"`
}

// SourceFile is a file of an SRPM: the spec, a source or a patch, with
// its sha256 and, when the spec gave one, the URL it came from.
type SourceFile struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"` // spec, source or patch
	SHA256 string `json:"sha256,omitempty"`
	URL    string `json:"url,omitempty"`
}

// sourcePackages reads the SRPMs of the selected packages from the
// repository (all its packages) and returns them, sorted by file name,
// with the repository packages their BuildRequires used that the bundle
// does not ship.
func sourcePackages(ctx context.Context, all []*rpm.Package, sel *closure.Result) ([]SourcePackage, []PackageInfo, error) {
	srpmByFile := map[string]*rpm.Package{}
	var binaries []*rpm.Package
	for _, p := range all {
		if p.IsSource {
			srpmByFile[filepath.Base(p.Path)] = p
		} else {
			binaries = append(binaries, p)
		}
	}
	shipped := map[string]bool{}
	wanted := map[string]bool{}
	for _, s := range sel.Packages {
		shipped[s.Package.NEVRA()] = true
		if s.Package.SourceRPM != "" {
			wanted[s.Package.SourceRPM] = true
		}
	}
	files := make([]string, 0, len(wanted))
	for f := range wanted {
		files = append(files, f)
	}
	sort.Strings(files)

	var out []SourcePackage
	build := map[string]PackageInfo{}
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return nil, nil, fmt.Errorf("source packages: %w", err)
		}
		listed, ok := srpmByFile[f]
		if !ok {
			out = append(out, sourceFromFileName(f))
			continue
		}
		// The repository's metadata carries no file digests nor Source
		// tags: the SRPM's own header does.
		p, err := rpm.ReadPackageFile(listed.Path)
		if err != nil {
			return nil, nil, fmt.Errorf("source package %s: %w", f, err)
		}
		sp := SourcePackage{
			NEVRA: p.NEVRA(), Name: p.Name, Epoch: p.EVR.Epoch, Version: p.EVR.Version, Release: p.EVR.Release,
			RPM: f, SHA256: p.SHA256, License: p.License, Files: sourceFiles(p),
		}
		for _, dep := range buildRequires(p, binaries) {
			sp.BuildRequires = append(sp.BuildRequires, dep.NEVRA())
			if !shipped[dep.NEVRA()] {
				build[dep.NEVRA()] = packageInfo(dep)
			}
		}
		sort.Strings(sp.BuildRequires)
		out = append(out, sp)
	}
	var buildPkgs []PackageInfo
	for _, p := range build {
		buildPkgs = append(buildPkgs, p)
	}
	sort.Slice(buildPkgs, func(i, j int) bool { return buildPkgs[i].NEVRA < buildPkgs[j].NEVRA })
	return out, buildPkgs, nil
}

// sourceFromFileName is what an SRPM's file name NAME-VERSION-RELEASE.src.rpm says.
func sourceFromFileName(f string) SourcePackage {
	nvr := strings.TrimSuffix(strings.TrimSuffix(f, ".rpm"), ".src")
	sp := SourcePackage{RPM: f, NEVRA: nvr + ".src", Name: nvr}
	if i := strings.LastIndexByte(nvr, '-'); i > 0 {
		if j := strings.LastIndexByte(nvr[:i], '-'); j > 0 {
			sp.Name, sp.Version, sp.Release = nvr[:j], nvr[j+1:i], nvr[i+1:]
		}
	}
	return sp
}

// sourceFiles lists an SRPM's files, each with its kind and, when a Source
// or Patch tag names it by URL, that URL.
func sourceFiles(p *rpm.Package) []SourceFile {
	urls := map[string]string{}
	patches := map[string]bool{}
	for _, tags := range [][]string{p.SourceTags, p.PatchTags} {
		for _, t := range tags {
			if strings.Contains(t, "://") {
				urls[path.Base(t)] = t
			}
		}
	}
	for _, t := range p.PatchTags {
		patches[path.Base(t)] = true
	}
	var out []SourceFile
	for _, f := range p.Files {
		if f.LinkTo != "" || f.Digest == "" {
			continue
		}
		name := path.Base(f.Path)
		sf := SourceFile{Name: name, Kind: "source", URL: urls[name]}
		switch {
		case f.Flags&rpm.FileSpec != 0 || strings.HasSuffix(name, ".spec"):
			sf.Kind = "spec"
		case patches[name]:
			sf.Kind = "patch"
		}
		if p.FileDigestAlgo == "sha256" {
			sf.SHA256 = f.Digest
		}
		out = append(out, sf)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// buildRequires returns, for each BuildRequires of the SRPM, the newest
// binary package of the repository that satisfies it, if any.
func buildRequires(srpm *rpm.Package, binaries []*rpm.Package) []*rpm.Package {
	seen := map[string]bool{}
	var out []*rpm.Package
	for _, req := range srpm.Requires {
		if strings.HasPrefix(req.Name, "rpmlib(") || strings.HasPrefix(req.Name, "(") {
			continue
		}
		var best *rpm.Package
		for _, b := range binaries {
			if !provides(b, req) {
				continue
			}
			if best == nil || rpm.CompareEVR(b.EVR, best.EVR) > 0 {
				best = b
			}
		}
		if best != nil && !seen[best.NEVRA()] {
			seen[best.NEVRA()] = true
			out = append(out, best)
		}
	}
	return out
}

func provides(p *rpm.Package, req rpm.Dep) bool {
	if p.Name == req.Name && req.SatisfiedBy(rpm.Dep{Name: p.Name, Flags: rpm.SenseEqual, EVR: p.EVR}) {
		return true
	}
	for _, prov := range p.Provides {
		if prov.Name == req.Name && req.SatisfiedBy(prov) {
			return true
		}
	}
	return false
}
