package sbom

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx"
	"github.com/spdx/tools-golang/spdxlib"
)

// example is a small bundle: two RPMs from one SRPM with a source and a
// patch, a build-only package, an RPM whose SRPM is unknown, pip pins.
func example() Input {
	return Input{
		Name: "demo", Version: "1.0", Platform: "debian12-x86_64", Arch: "x86_64", Builder: "sandbox",
		Created: time.Unix(1767225600, 0), Tool: "bundle-test",
		Packages: []RPM{
			{NEVRA: "demo-1.0-1.x86_64", Name: "demo", Version: "1.0", Release: "1", Arch: "x86_64",
				File: "demo-1.0-1.x86_64.rpm", SHA256: strings.Repeat("a", 64), License: "MIT", SourceRPM: "demo-1.0-1.src.rpm"},
			{NEVRA: "demo-libs-1:1.0-1.x86_64", Name: "demo-libs", Epoch: "1", Version: "1.0", Release: "1", Arch: "x86_64",
				File: "demo-libs-1.0-1.x86_64.rpm", SHA256: strings.Repeat("b", 64), License: "GPLv2+ and BSD", SourceRPM: "demo-1.0-1.src.rpm"},
			{NEVRA: "other-2-3.noarch", Name: "other", Version: "2", Release: "3", Arch: "noarch",
				File: "other-2-3.noarch.rpm", SHA256: strings.Repeat("c", 64), SourceRPM: "other-2-3.src.rpm"},
		},
		BuildPackages: []RPM{{NEVRA: "demo-devel-1.0-1.x86_64", Name: "demo-devel", Version: "1.0", Release: "1", Arch: "x86_64",
			File: "demo-devel-1.0-1.x86_64.rpm", SHA256: strings.Repeat("d", 64), License: "MIT", SourceRPM: "demo-1.0-1.src.rpm"}},
		Sources: []SRPM{
			{NEVRA: "demo-1.0-1.src", Name: "demo", Version: "1.0", Release: "1", File: "demo-1.0-1.src.rpm",
				SHA256: strings.Repeat("e", 64), License: "MIT", BuildRequires: []string{"demo-devel-1.0-1.x86_64", "other-2-3.noarch"},
				Files: []SourceFile{
					{Name: "demo.spec", Kind: "spec", SHA256: strings.Repeat("1", 64)},
					{Name: "demo-1.0.tar.gz", Kind: "source", SHA256: strings.Repeat("2", 64), URL: "https://example.org/demo-1.0.tar.gz"},
					{Name: "fix.patch", Kind: "patch", SHA256: strings.Repeat("3", 64)},
				}},
			{NEVRA: "other-2-3.src", Name: "other", Version: "2", Release: "3", File: "other-2-3.src.rpm"},
		},
		Python: []Pip{
			{Name: "six", Version: "1.16.0", Hashes: []string{"sha256:" + strings.Repeat("4", 64)}},
			{Name: "requests", Version: "2.31.0", Hashes: []string{"sha256:" + strings.Repeat("5", 64), "sha256:" + strings.Repeat("6", 64)}},
			{Name: "tool", URL: "git+https://example.org/tool@" + strings.Repeat("7", 40)},
		},
	}
}

// parse reads the document back with the SPDX project's own Go library
// and runs its validation.
func parse(t *testing.T, data []byte) *spdx.Document {
	t.Helper()
	doc, err := spdxjson.Read(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("tools-golang cannot read the document: %v\n%s", err, data)
	}
	if err := spdxlib.ValidateDocument(doc); err != nil {
		t.Fatalf("tools-golang validation: %v", err)
	}
	return doc
}

var (
	idRE     = regexp.MustCompile(`^SPDXRef-[A-Za-z0-9.-]+$`)
	sha256RE = regexp.MustCompile(`^[0-9a-f]{64}$`)
	purlRE   = regexp.MustCompile(`^pkg:(rpm|pypi)/[^@]+@[^?]+(\?.*)?$`)
)

func TestGenerateValidSPDX(t *testing.T) {
	data, err := Generate(example())
	if err != nil {
		t.Fatal(err)
	}
	doc := parse(t, data)
	if doc.SPDXVersion != "SPDX-2.3" || doc.DataLicense != "CC0-1.0" || doc.SPDXIdentifier != "DOCUMENT" {
		t.Errorf("header: %s %s %s", doc.SPDXVersion, doc.DataLicense, doc.SPDXIdentifier)
	}
	if doc.CreationInfo.Created != "2026-01-01T00:00:00Z" {
		t.Errorf("created %q, want the mtime clamp", doc.CreationInfo.Created)
	}
	if len(doc.CreationInfo.Creators) != 2 || doc.CreationInfo.Creators[1].Creator != "sandbox-builder-debian12-x86_64" {
		t.Errorf("creators %+v", doc.CreationInfo.Creators)
	}
	if !strings.HasPrefix(doc.DocumentNamespace, "https://spdx.org/spdxdocs/demo-1.0-debian12-x86_64-") {
		t.Errorf("namespace %q", doc.DocumentNamespace)
	}
	ids := map[string]string{} // SPDX id -> name
	purls := map[string]string{}
	for _, p := range doc.Packages {
		id := "SPDXRef-" + string(p.PackageSPDXIdentifier)
		if !idRE.MatchString(id) {
			t.Errorf("bad identifier %q", id)
		}
		if _, dup := ids[id]; dup {
			t.Errorf("identifier %s twice", id)
		}
		ids[id] = p.PackageName
		if p.PackageDownloadLocation == "" || p.PackageLicenseDeclared == "" || p.PackageCopyrightText == "" {
			t.Errorf("%s lacks a mandatory field: %+v", id, p)
		}
		for _, c := range p.PackageChecksums {
			if c.Algorithm != "SHA256" || !sha256RE.MatchString(c.Value) {
				t.Errorf("%s: checksum %+v", id, c)
			}
		}
		for _, r := range p.PackageExternalReferences {
			if r.Category != "PACKAGE-MANAGER" || r.RefType != "purl" || !purlRE.MatchString(r.Locator) {
				t.Errorf("%s: external ref %+v", id, r)
			}
			purls[p.PackageName] = r.Locator
		}
	}
	want := map[string]string{
		"demo-libs": "pkg:rpm/demo/demo-libs@1.0-1?arch=x86_64&distro=debian12-x86_64&epoch=1",
		"six":       "pkg:pypi/six@1.16.0",
	}
	for name, purl := range want {
		if purls[name] != purl {
			t.Errorf("purl of %s = %q, want %q", name, purls[name], purl)
		}
	}
	if _, ok := purls["tool"]; ok {
		t.Errorf("a VCS pin without a version has no pypi purl")
	}

	rels := map[string]bool{}
	for _, r := range doc.Relationships {
		rels[ids["SPDXRef-"+string(r.RefA.ElementRefID)]+" "+r.Relationship+" "+ids["SPDXRef-"+string(r.RefB.ElementRefID)]] = true
	}
	for _, r := range []string{
		"demo CONTAINS demo-libs", "demo CONTAINS other", "demo CONTAINS six",
		"demo-libs GENERATED_FROM demo", "other GENERATED_FROM other",
		"demo CONTAINS demo-1.0.tar.gz", "demo CONTAINS fix.patch",
		"demo-devel BUILD_DEPENDENCY_OF demo", "other BUILD_DEPENDENCY_OF demo",
	} {
		if !rels[r] {
			t.Errorf("missing relationship %q", r)
		}
	}
	if rels["demo CONTAINS demo-devel"] {
		t.Errorf("a build-only package is not contained in the bundle")
	}

	// A licence that is no SPDX expression becomes a LicenseRef with its text.
	if len(doc.OtherLicenses) != 1 || doc.OtherLicenses[0].ExtractedText != "GPLv2+ and BSD" {
		t.Fatalf("extracted licences %+v", doc.OtherLicenses)
	}
	for _, p := range doc.Packages {
		switch p.PackageName {
		case "demo-libs":
			if p.PackageLicenseDeclared != doc.OtherLicenses[0].LicenseIdentifier {
				t.Errorf("demo-libs licence %q", p.PackageLicenseDeclared)
			}
		case "demo":
			if p.PackageFileName == "demo-1.0-1.x86_64.rpm" && p.PackageLicenseDeclared != "MIT" {
				t.Errorf("demo licence %q", p.PackageLicenseDeclared)
			}
		case "demo-1.0.tar.gz":
			if p.PackageDownloadLocation != "https://example.org/demo-1.0.tar.gz" {
				t.Errorf("source download location %q", p.PackageDownloadLocation)
			}
		}
	}
}

func TestGenerateDeterministic(t *testing.T) {
	a, err := Generate(example())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Generate(example())
	if !bytes.Equal(a, b) {
		t.Fatal("two runs on the same input differ")
	}
	changed := example()
	changed.Packages[2].SHA256 = strings.Repeat("f", 64)
	c, _ := Generate(changed)
	if parse(t, a).DocumentNamespace == parse(t, c).DocumentNamespace {
		t.Error("a different content must give a different namespace")
	}
}

func TestGenerateRefusesIncompleteInput(t *testing.T) {
	for _, in := range []Input{{}, {Name: "x", Version: "1"}, {Name: "x", Platform: "p"}} {
		if _, err := Generate(in); err == nil {
			t.Errorf("Generate(%+v) succeeded", in)
		}
	}
}

func TestIdentifiersAreUniqueAfterSanitising(t *testing.T) {
	in := example()
	in.Python = []Pip{{Name: "a_b", Version: "1"}, {Name: "a.b", Version: "1"}, {Name: "a+b", Version: "1"}}
	data, err := Generate(in)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, p := range parse(t, data).Packages {
		if seen[string(p.PackageSPDXIdentifier)] {
			t.Errorf("identifier %s twice", p.PackageSPDXIdentifier)
		}
		seen[string(p.PackageSPDXIdentifier)] = true
	}
	if !seen["Python-a-b-1"] || !seen["Python-a-b-1-2"] || !seen["Python-a.b-1"] {
		t.Errorf("identifiers %v", seen)
	}
}
