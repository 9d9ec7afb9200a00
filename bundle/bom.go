package bundle

import (
	"time"

	"github.com/bundle-dev/bundle/bundle/sbom"
)

// Where the SPDX document lives inside the tarball (under the top
// directory); beside the tarball it is TARBALL.spdx.json.
const (
	SBOMDir  = ".bundle"
	SBOMFile = "sbom.spdx.json"
)

// sbomInput is what the SBOM says of a manifest: the shipped packages,
// their source packages, the build-only packages and the pip pins.
func sbomInput(m *Manifest, created time.Time) sbom.Input {
	in := sbom.Input{
		Name: m.Name, Version: m.Version, Platform: m.Platform, Arch: m.Arch, Builder: m.Builder, Created: created,
	}
	for _, p := range m.Packages {
		in.Packages = append(in.Packages, sbomRPM(p))
	}
	for _, p := range m.BuildPackages {
		in.BuildPackages = append(in.BuildPackages, sbomRPM(p))
	}
	for _, s := range m.SourcePackages {
		src := sbom.SRPM{
			NEVRA: s.NEVRA, Name: s.Name, Epoch: s.Epoch, Version: s.Version, Release: s.Release, File: s.RPM,
			SHA256: s.SHA256, License: s.License, BuildRequires: s.BuildRequires,
		}
		for _, f := range s.Files {
			src.Files = append(src.Files, sbom.SourceFile{Name: f.Name, Kind: f.Kind, SHA256: f.SHA256, URL: f.URL})
		}
		in.Sources = append(in.Sources, src)
	}
	for _, p := range m.Python {
		in.Python = append(in.Python, sbom.Pip{Name: p.Name, Version: p.Version, URL: p.URL, Hashes: p.Hashes})
	}
	return in
}

func sbomRPM(p PackageInfo) sbom.RPM {
	return sbom.RPM{
		NEVRA: p.NEVRA, Name: p.Name, Epoch: p.Epoch, Version: p.Version, Release: p.Release, Arch: p.Arch,
		File: p.RPM, SHA256: p.SHA256, License: p.License, SourceRPM: p.SourceRPM,
	}
}
