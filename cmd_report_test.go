package main

import (
	"slices"
	"testing"

	"github.com/bundle-dev/bundle/bundle"
)

func TestReportDiff(t *testing.T) {
	pkg := func(name, nevra, sha string) bundle.PackageInfo {
		return bundle.PackageInfo{Name: name, Arch: "x86_64", NEVRA: nevra, SHA256: sha}
	}
	old := &bundle.Manifest{ManifestVersion: 2, Name: "x",
		Tarball: bundle.TarballInfo{File: "x-1-debian11-x86_64.tar.gz", SHA256: "0123456789abcdef0123"},
		Counts:  bundle.Counts{TotalSize: 1000},
		Packages: []bundle.PackageInfo{pkg("zlib", "zlib-1.2.13-1.x86_64", "a"), pkg("bzip2", "bzip2-1.0.8-1.x86_64", "b"),
			pkg("xz", "xz-5.4.1-1.x86_64", "c")},
		Python: []bundle.PipPin{{Name: "six", Version: "1.16.0"}},
	}
	same := *old
	if d := reportDiff(old, &same); !d.Identical || len(d.Added)+len(d.Removed)+len(d.Changed) != 0 {
		t.Errorf("identical bundles: %+v", d)
	}
	changed := *old
	changed.Tarball.SHA256 = "ffff"
	changed.Counts.TotalSize = 800
	changed.Packages = []bundle.PackageInfo{pkg("zlib", "zlib-1.2.13-2.x86_64", "a2"), pkg("bzip2", "bzip2-1.0.8-1.x86_64", "b2"),
		pkg("libxml2", "libxml2-2.9.14-1.x86_64", "d")}
	changed.Python = []bundle.PipPin{{Name: "six", Version: "1.17.0"}, {Name: "requests", Version: "2.28.1"}}
	d := reportDiff(old, &changed)
	if d.Identical || d.SizeDelta != -200 || d.Against != "the previous x-1-debian11-x86_64.tar.gz (sha256 0123456789ab…)" {
		t.Errorf("diff: %+v", d)
	}
	for _, tc := range []struct{ got, want []string }{
		{d.Added, []string{"libxml2-2.9.14-1.x86_64", "pip requests 2.28.1"}},
		{d.Removed, []string{"xz-5.4.1-1.x86_64"}},
		{d.Changed, []string{"bzip2-1.0.8-1.x86_64: same version, other content", "zlib: zlib-1.2.13-1.x86_64 → zlib-1.2.13-2.x86_64", "pip six: 1.16.0 → 1.17.0"}},
	} {
		if !slices.Equal(tc.got, tc.want) {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
