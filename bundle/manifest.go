package bundle

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/bundle-dev/bundle/bundle/atomicfile"
	"github.com/bundle-dev/bundle/bundle/closure"
	"github.com/bundle-dev/bundle/bundle/extract"
	"github.com/bundle-dev/bundle/bundle/relocate"
	"github.com/bundle-dev/bundle/bundle/rpm"
	"github.com/bundle-dev/bundle/bundle/tarball"
	"github.com/bundle-dev/bundle/links"
)

// ManifestVersion is bumped when the manifest's shape changes.
const ManifestVersion = 2

// Manifest is NAME.manifest.json: what is in the tarball and why. It holds
// no wall-clock time and no path of the machine that made it, so the same
// inputs give the same manifest anywhere.
type Manifest struct {
	ManifestVersion int    `json:"manifest_version"`
	Name            string `json:"name"`
	Version         string `json:"version"`
	Platform        string `json:"platform"`
	Arch            string `json:"arch"`
	Builder         string `json:"builder,omitempty"`
	// Digests identify the recipe, platform and builder that made it.
	Digests  *Digests    `json:"digests,omitempty"`
	TopDir   string      `json:"top_dir"`
	Mtime    int64       `json:"mtime"`
	Tarball  TarballInfo `json:"tarball"`
	Counts   Counts      `json:"counts"`
	Catalogs []string    `json:"catalogs"`
	// Requires is what the bundle needs from the host (measured).
	Requires *Requires     `json:"requires,omitempty"`
	Packages []PackageInfo `json:"packages"`
	Python   []PipPin      `json:"python_packages,omitempty"`
	// SourcePackages are the SRPMs the packages were built from, with
	// what they hold; BuildPackages the local-repository packages their
	// BuildRequires used that the bundle does not ship.
	SourcePackages []SourcePackage  `json:"source_packages,omitempty"`
	BuildPackages  []PackageInfo    `json:"build_packages,omitempty"`
	Extraction     *extract.Report  `json:"extraction,omitempty"`
	Links          *links.Report    `json:"links,omitempty"`
	Relocation     *relocate.Report `json:"relocation,omitempty"`
	Ingest         string           `json:"ingest"`
	// RootVar and Checks are the recipe's bundlerc root variable and
	// declared checks, so that `bundle test TARBALL` at a site runs what
	// the release manager's build ran, without the recipe.
	RootVar string      `json:"root_var,omitempty"`
	Checks  []CheckSpec `json:"checks,omitempty"`
	// Stages are the stage durations of the run that made it. They are
	// not written: the manifest must be the same for the same inputs.
	Stages []StageTiming `json:"-"`
}

// CheckSpec is one declared check: a command run after sourcing bundlerc.
type CheckSpec struct {
	Name string `json:"name"`
	Run  string `json:"run"`
}

// TarballInfo names the tarball and its digest.
type TarballInfo struct {
	File        string `json:"file"`
	SHA256      string `json:"sha256"`
	Size        int64  `json:"size"`
	Compression string `json:"compression"`
}

// Counts are the tree's numbers.
type Counts struct {
	Entries   int64 `json:"entries"`
	Files     int64 `json:"files"`
	Dirs      int64 `json:"dirs"`
	Symlinks  int64 `json:"symlinks"`
	Catalogs  int   `json:"catalogs"`
	TotalSize int64 `json:"total_size"`
}

// PackageInfo is one RPM in the bundle.
type PackageInfo struct {
	NEVRA     string   `json:"nevra"`
	Name      string   `json:"name"`
	Epoch     string   `json:"epoch,omitempty"`
	Version   string   `json:"version"`
	Release   string   `json:"release"`
	Arch      string   `json:"arch"`
	RPM       string   `json:"rpm"`
	SHA256    string   `json:"sha256"`
	Size      int64    `json:"installed_size,omitempty"` // the header's installed size
	License   string   `json:"license,omitempty"`
	SourceRPM string   `json:"source_rpm,omitempty"`
	Requested bool     `json:"requested"`
	Why       []Reason `json:"why,omitempty"`
}

// Reason says which package pulled a package in, through which Requires.
type Reason struct {
	By       string `json:"by"`
	Requires string `json:"requires"`
}

// PipPin is one Python distribution installed by pip, with the lock's
// sha256 digests ("sha256:HEX") or its pinned URL.
type PipPin struct {
	Name    string   `json:"name"`
	Version string   `json:"version"`
	Hashes  []string `json:"hashes,omitempty"`
	URL     string   `json:"url,omitempty"`
}

// StageTiming is how long one stage took.
type StageTiming struct {
	Stage   string  `json:"stage"`
	Seconds float64 `json:"seconds"`
}

// newManifest is the manifest made from the stages' outputs; the
// tarball's part comes with setTarball. Host paths never enter it: the
// extraction report's RPM paths become file names.
func newManifest(o AssembleOptions, out outputs) *Manifest {
	digests := o.Digests
	if digests.Platform == "" {
		digests.Platform = o.Platform.Digest()
	}
	m := &Manifest{
		ManifestVersion: ManifestVersion,
		Name:            o.Name,
		Version:         o.Version,
		Platform:        o.Platform.Name,
		Arch:            o.Platform.Arch,
		Builder:         o.Platform.Builder.Kind,
		Digests:         &digests,
		TopDir:          o.TopDir,
		Mtime:           out.mtime.Unix(),
		Requires:        out.requires,
		Packages:        packageInfos(out.selection),
		SourcePackages:  out.sources,
		BuildPackages:   out.build,
		Extraction:      hostFree(out.extraction),
		Links:           out.links,
		RootVar:         o.RootVar,
		Checks:          o.Checks,
	}
	for _, h := range out.hooks {
		m.Python = append(m.Python, h.Python...)
		if h.Relocation != nil {
			m.Relocation = h.Relocation
		}
	}
	return m
}

// packageInfos are the selected packages with why each is in, sorted by
// NEVRA.
func packageInfos(res *closure.Result) []PackageInfo {
	var out []PackageInfo
	for _, s := range res.Packages {
		pi := packageInfo(s.Package)
		pi.Requested = s.Requested
		for _, r := range s.Reasons {
			pi.Why = append(pi.Why, Reason{By: r.By, Requires: r.Requires})
		}
		out = append(out, pi)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].NEVRA < out[j].NEVRA })
	return out
}

func packageInfo(p *rpm.Package) PackageInfo {
	return PackageInfo{
		NEVRA: p.NEVRA(), Name: p.Name, Epoch: p.EVR.Epoch, Version: p.EVR.Version, Release: p.EVR.Release,
		Arch: p.Arch, RPM: filepath.Base(p.Path), SHA256: p.SHA256, Size: p.InstalledSize, License: p.License,
		SourceRPM: p.SourceRPM,
	}
}

// setTarball records the written tarball and the command that ingests it.
func (m *Manifest) setTarball(t *tarball.Result) {
	m.Tarball = TarballInfo{File: filepath.Base(t.Path), SHA256: t.SHA256, Size: t.Size, Compression: t.Compression}
	m.Counts = Counts{
		Entries: int64(t.Entries), Files: int64(t.Files), Dirs: int64(t.Dirs), Symlinks: int64(t.Symlinks),
		Catalogs: len(t.Catalogs), TotalSize: t.Bytes,
	}
	m.Catalogs = t.Catalogs
	m.Ingest = tarball.IngestCommand(m.Tarball.File, tarball.Var("REPO"), tarball.Var("BASE_DIR"), t.Compression)
}

// hostFree is a copy of the extraction report naming each RPM by its file
// name, not by its path on the machine that built the bundle.
func hostFree(x *extract.Report) *extract.Report {
	if x == nil {
		return nil
	}
	c := *x
	c.Packages = make([]extract.PackageReport, len(x.Packages))
	for i, p := range x.Packages {
		p.Path = filepath.Base(p.Path)
		c.Packages[i] = p
	}
	return &c
}

func (m *Manifest) write(path string) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	return atomicfile.Write(path, append(data, '\n'), 0o644)
}

// ReadManifest reads a NAME.manifest.json.
func ReadManifest(path string) (*Manifest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", path, err)
	}
	return &m, nil
}
