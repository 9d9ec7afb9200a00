// Package sbom writes a bundle's software bill of materials as an SPDX 2.3
// JSON document: the bundle, one package per shipped RPM with its source
// RPM and that SRPM's sources and patches, one per pip package, and the
// relationships between them (CONTAINS, GENERATED_FROM,
// BUILD_DEPENDENCY_OF).
//
// The document is deterministic: the same input gives the same bytes. Its
// creation time is the bundle's mtime clamp, and its namespace is derived
// from its own content.
package sbom

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/github/go-spdx/v2/spdxexp"
)

// Input is what the document describes.
type Input struct {
	Name     string // bundle name
	Version  string // bundle version
	Platform string // target platform name, e.g. debian12-x86_64
	Arch     string
	Builder  string    // the platform's builder kind (sandbox, mock)
	Created  time.Time // the tarball's mtime clamp
	// Tool is "bundle-VERSION" (default: from the binary's build info).
	Tool string
	// Packages are the RPMs in the bundle; BuildPackages RPMs of the local
	// repository that only served as BuildRequires.
	Packages      []RPM
	BuildPackages []RPM
	Sources       []SRPM
	Python        []Pip
}

// RPM is one binary package.
type RPM struct {
	NEVRA, Name, Epoch, Version, Release, Arch string
	File                                       string // file name
	SHA256                                     string
	License                                    string
	SourceRPM                                  string // file name of its SRPM
}

// SRPM is one source package; File matches RPM.SourceRPM.
type SRPM struct {
	NEVRA, Name, Epoch, Version, Release string
	File                                 string
	SHA256                               string // "" when the repository did not hold it
	License                              string
	Files                                []SourceFile
	BuildRequires                        []string // NEVRAs of Packages or BuildPackages
}

// SourceFile is the spec, a source or a patch of an SRPM.
type SourceFile struct {
	Name, Kind, SHA256, URL string
}

// Pip is one Python distribution installed from the lock.
type Pip struct {
	Name, Version, URL string
	Hashes             []string // "sha256:HEX"
}

// The SPDX 2.3 JSON shapes written (field order is the output's).
type document struct {
	SPDXVersion       string         `json:"spdxVersion"`
	DataLicense       string         `json:"dataLicense"`
	SPDXID            string         `json:"SPDXID"`
	Name              string         `json:"name"`
	DocumentNamespace string         `json:"documentNamespace"`
	CreationInfo      creationInfo   `json:"creationInfo"`
	Packages          []pkg          `json:"packages"`
	Relationships     []relationship `json:"relationships"`
	Extracted         []extracted    `json:"hasExtractedLicensingInfos,omitempty"`
}

type creationInfo struct {
	Created  string   `json:"created"`
	Creators []string `json:"creators"`
	Comment  string   `json:"comment,omitempty"`
}

type pkg struct {
	Name             string        `json:"name"`
	SPDXID           string        `json:"SPDXID"`
	VersionInfo      string        `json:"versionInfo,omitempty"`
	PackageFileName  string        `json:"packageFileName,omitempty"`
	Supplier         string        `json:"supplier"`
	DownloadLocation string        `json:"downloadLocation"`
	FilesAnalyzed    bool          `json:"filesAnalyzed"`
	Checksums        []checksum    `json:"checksums,omitempty"`
	LicenseConcluded string        `json:"licenseConcluded"`
	LicenseDeclared  string        `json:"licenseDeclared"`
	CopyrightText    string        `json:"copyrightText"`
	Comment          string        `json:"comment,omitempty"`
	ExternalRefs     []externalRef `json:"externalRefs,omitempty"`
	Purpose          string        `json:"primaryPackagePurpose,omitempty"`
}

type checksum struct {
	Algorithm string `json:"algorithm"`
	Value     string `json:"checksumValue"`
}

type externalRef struct {
	Category string `json:"referenceCategory"`
	Type     string `json:"referenceType"`
	Locator  string `json:"referenceLocator"`
}

type relationship struct {
	Element string `json:"spdxElementId"`
	Type    string `json:"relationshipType"`
	Related string `json:"relatedSpdxElement"`
}

type extracted struct {
	LicenseID string `json:"licenseId"`
	Text      string `json:"extractedText"`
	Name      string `json:"name"`
}

const noAssertion = "NOASSERTION"

// Generate returns the SPDX JSON document for in, ending with a newline.
func Generate(in Input) ([]byte, error) {
	if in.Name == "" || in.Version == "" || in.Platform == "" {
		return nil, fmt.Errorf("sbom: name, version and platform are required (got %q %q %q)", in.Name, in.Version, in.Platform)
	}
	g := &generator{ids: map[string]bool{}, licenseRefs: map[string]string{}, byNEVRA: map[string]string{}}
	tool := in.Tool
	if tool == "" {
		tool = "bundle-" + ToolVersion()
	}
	builder := in.Builder
	if builder == "" {
		builder = "unknown"
	}
	title := in.Name + "-" + in.Version + "-" + in.Platform
	doc := document{
		SPDXVersion: "SPDX-2.3", DataLicense: "CC0-1.0", SPDXID: "SPDXRef-DOCUMENT", Name: title,
		CreationInfo: creationInfo{
			Created:  in.Created.UTC().Format(time.RFC3339),
			Creators: []string{"Tool: " + tool, "Tool: " + builder + "-builder-" + in.Platform},
			Comment:  "built by the " + builder + " builder for the platform " + in.Platform + " (" + in.Arch + ")",
		},
	}
	root := g.id("Bundle-" + in.Name)
	doc.Packages = append(doc.Packages, pkg{
		Name: in.Name, SPDXID: root, VersionInfo: in.Version, Supplier: noAssertion, DownloadLocation: noAssertion,
		LicenseConcluded: noAssertion, LicenseDeclared: noAssertion, CopyrightText: noAssertion,
		Comment: "relocatable distribution tarball for " + in.Platform, Purpose: "OPERATING-SYSTEM",
	})
	g.rel("SPDXRef-DOCUMENT", "DESCRIBES", root)

	srpmID := map[string]string{}
	for _, s := range in.Sources {
		id := g.id("SRPM-" + s.NEVRA)
		srpmID[s.File] = id
		p := pkg{
			Name: s.Name, SPDXID: id, VersionInfo: evr(s.Epoch, s.Version, s.Release), PackageFileName: s.File,
			Supplier: noAssertion, DownloadLocation: noAssertion, LicenseConcluded: noAssertion,
			LicenseDeclared: g.license(s.License), CopyrightText: noAssertion, Purpose: "SOURCE",
			ExternalRefs: purlRef(rpmPURL(in.Name, s.Name, s.Epoch, s.Version, s.Release, "src", in.Platform)),
		}
		if s.SHA256 != "" {
			p.Checksums = []checksum{{"SHA256", s.SHA256}}
		} else {
			p.Comment = "not in the local repository: only its file name is known"
		}
		doc.Packages = append(doc.Packages, p)
		for _, f := range s.Files {
			fid := g.id("Source-" + s.NEVRA + "-" + f.Name)
			sp := pkg{
				Name: f.Name, SPDXID: fid, PackageFileName: f.Name, Supplier: noAssertion,
				DownloadLocation: downloadLocation(f.URL), LicenseConcluded: noAssertion,
				LicenseDeclared: noAssertion, CopyrightText: noAssertion, Comment: f.Kind + " of " + s.File,
				Purpose: "SOURCE",
			}
			if f.SHA256 != "" {
				sp.Checksums = []checksum{{"SHA256", f.SHA256}}
			}
			doc.Packages = append(doc.Packages, sp)
			g.rel(id, "CONTAINS", fid)
		}
	}

	addRPM := func(r RPM, shipped bool) {
		id := g.id("RPM-" + r.NEVRA)
		g.byNEVRA[r.NEVRA] = id
		p := pkg{
			Name: r.Name, SPDXID: id, VersionInfo: evr(r.Epoch, r.Version, r.Release), PackageFileName: r.File,
			Supplier: noAssertion, DownloadLocation: noAssertion, LicenseConcluded: noAssertion,
			LicenseDeclared: g.license(r.License), CopyrightText: noAssertion, Purpose: "LIBRARY",
			ExternalRefs: purlRef(rpmPURL(in.Name, r.Name, r.Epoch, r.Version, r.Release, r.Arch, in.Platform)),
		}
		if r.SHA256 != "" {
			p.Checksums = []checksum{{"SHA256", r.SHA256}}
		}
		if !shipped {
			p.Comment = "not shipped: a build dependency from the local repository"
		}
		doc.Packages = append(doc.Packages, p)
		if shipped {
			g.rel(root, "CONTAINS", id)
		}
		if sid, ok := srpmID[r.SourceRPM]; ok {
			g.rel(id, "GENERATED_FROM", sid)
		}
	}
	for _, r := range in.Packages {
		addRPM(r, true)
	}
	for _, r := range in.BuildPackages {
		addRPM(r, false)
	}
	for _, s := range in.Sources {
		for _, n := range s.BuildRequires {
			if id, ok := g.byNEVRA[n]; ok {
				g.rel(id, "BUILD_DEPENDENCY_OF", srpmID[s.File])
			}
		}
	}

	for _, py := range in.Python {
		id := g.id("Python-" + py.Name + "-" + py.Version)
		p := pkg{
			Name: py.Name, SPDXID: id, VersionInfo: py.Version, Supplier: noAssertion,
			DownloadLocation: downloadLocation(py.URL), LicenseConcluded: noAssertion, LicenseDeclared: noAssertion,
			CopyrightText: noAssertion, Purpose: "LIBRARY",
		}
		if py.Version != "" {
			p.ExternalRefs = purlRef("pkg:pypi/" + url.PathEscape(py.Name) + "@" + url.PathEscape(py.Version))
		}
		if len(py.Hashes) == 1 {
			if hex, ok := strings.CutPrefix(py.Hashes[0], "sha256:"); ok {
				p.Checksums = []checksum{{"SHA256", hex}}
			}
		}
		if len(py.Hashes) > 0 {
			p.Comment = "installed by pip from the lock; files allowed: " + strings.Join(py.Hashes, " ")
		}
		doc.Packages = append(doc.Packages, p)
		g.rel(root, "CONTAINS", id)
	}
	doc.Relationships = g.rels
	doc.Extracted = g.extracted

	// The namespace is the digest of the document without it.
	body, err := marshal(doc)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(body)
	doc.DocumentNamespace = "https://spdx.org/spdxdocs/" + url.PathEscape(title) + "-" + hex.EncodeToString(sum[:16])
	return marshal(doc)
}

func marshal(doc document) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("sbom: %w", err)
	}
	return b.Bytes(), nil
}

// ToolVersion is the running binary's module version ("devel" when it
// was not built from a tagged module).
func ToolVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return strings.Trim(bi.Main.Version, "()")
	}
	return "devel"
}

type generator struct {
	ids         map[string]bool
	rels        []relationship
	licenseRefs map[string]string // RPM licence text -> LicenseRef id
	extracted   []extracted
	byNEVRA     map[string]string
}

// id returns a unique SPDX identifier "SPDXRef-..." for name, keeping only
// the characters SPDX allows (letters, digits, "." and "-").
func (g *generator) id(name string) string {
	var b strings.Builder
	b.WriteString("SPDXRef-")
	for _, r := range name {
		if r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-') {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	id := b.String()
	for n := 2; g.ids[id]; n++ {
		id = fmt.Sprintf("%s-%d", b.String(), n)
	}
	g.ids[id] = true
	return id
}

func (g *generator) rel(a, typ, b string) {
	g.rels = append(g.rels, relationship{Element: a, Type: typ, Related: b})
}

// license turns an RPM License tag into an SPDX expression: the tag itself
// when it is one, else a LicenseRef carrying the text.
func (g *generator) license(text string) string {
	text = strings.TrimSpace(text)
	if text == "" {
		return noAssertion
	}
	if norm, invalid := spdxexp.ValidateAndNormalizeLicensesWithOptions([]string{text}, spdxexp.ValidateLicensesOptions{}); len(invalid) == 0 && len(norm) == 1 {
		return norm[0]
	}
	if id, ok := g.licenseRefs[text]; ok {
		return id
	}
	sum := sha256.Sum256([]byte(text))
	id := "LicenseRef-rpm-" + hex.EncodeToString(sum[:6])
	g.licenseRefs[text] = id
	g.extracted = append(g.extracted, extracted{LicenseID: id, Text: text, Name: "RPM License tag: " + text})
	return id
}

func evr(epoch, version, release string) string {
	s := version + "-" + release
	if epoch != "" && epoch != "0" {
		s = epoch + ":" + s
	}
	return s
}

// rpmPURL is pkg:rpm/NAMESPACE/NAME@VERSION-RELEASE?arch=ARCH&distro=PLATFORM[&epoch=E],
// the namespace being the bundle that ships the rebuilt package.
func rpmPURL(namespace, name, epoch, version, release, arch, platform string) string {
	q := "arch=" + url.QueryEscape(arch) + "&distro=" + url.QueryEscape(platform)
	if epoch != "" && epoch != "0" {
		q += "&epoch=" + url.QueryEscape(epoch)
	}
	return "pkg:rpm/" + url.PathEscape(strings.ToLower(namespace)) + "/" + url.PathEscape(name) + "@" +
		url.PathEscape(version+"-"+release) + "?" + q
}

func purlRef(purl string) []externalRef {
	return []externalRef{{Category: "PACKAGE-MANAGER", Type: "purl", Locator: purl}}
}

// downloadLocation is the URL when there is one SPDX accepts, else NOASSERTION.
func downloadLocation(u string) string {
	if u == "" || strings.ContainsAny(u, " \t\n") {
		return noAssertion
	}
	if i := strings.Index(u, "://"); i > 0 {
		return u
	}
	return noAssertion
}
