package repodata

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"path/filepath"
	"strconv"

	"github.com/bundle-dev/bundle/bundle/rpm"
)

// xmlPackage is one <package> of primary.xml.
type xmlPackage struct {
	Type     string     `xml:"type,attr"`
	Name     string     `xml:"name"`
	Arch     string     `xml:"arch"`
	Version  xmlVersion `xml:"version"`
	Checksum struct {
		Type  string `xml:"type,attr"`
		Value string `xml:",chardata"`
	} `xml:"checksum"`
	Summary string `xml:"summary"`
	URL     string `xml:"url"`
	Time    struct {
		Build int64 `xml:"build,attr"`
	} `xml:"time"`
	Size struct {
		Package   int64 `xml:"package,attr"`
		Installed int64 `xml:"installed,attr"`
	} `xml:"size"`
	Location struct {
		Href string `xml:"href,attr"`
		Base string `xml:"http://www.w3.org/XML/1998/namespace base,attr"`
	} `xml:"location"`
	Format struct {
		License     string     `xml:"license"`
		SourceRPM   string     `xml:"sourcerpm"`
		Provides    []xmlEntry `xml:"provides>entry"`
		Requires    []xmlEntry `xml:"requires>entry"`
		Conflicts   []xmlEntry `xml:"conflicts>entry"`
		Obsoletes   []xmlEntry `xml:"obsoletes>entry"`
		Recommends  []xmlEntry `xml:"recommends>entry"`
		Suggests    []xmlEntry `xml:"suggests>entry"`
		Supplements []xmlEntry `xml:"supplements>entry"`
		Enhances    []xmlEntry `xml:"enhances>entry"`
		Files       []xmlFile  `xml:"file"`
	} `xml:"format"`
}

type xmlVersion struct {
	Epoch string `xml:"epoch,attr"`
	Ver   string `xml:"ver,attr"`
	Rel   string `xml:"rel,attr"`
}

func (v xmlVersion) evr() rpm.EVR {
	e := rpm.EVR{Epoch: v.Epoch, Version: v.Ver, Release: v.Rel}
	if e.Epoch == "0" {
		e.Epoch = "" // createrepo_c writes 0 for "no epoch"; they compare equal
	}
	return e
}

type xmlEntry struct {
	Name  string `xml:"name,attr"`
	Flags string `xml:"flags,attr"`
	Epoch string `xml:"epoch,attr"`
	Ver   string `xml:"ver,attr"`
	Rel   string `xml:"rel,attr"`
	Pre   string `xml:"pre,attr"`
}

type xmlFile struct {
	Type string `xml:"type,attr"`
	Path string `xml:",chardata"`
}

// Mode bits of a directory, for files typed "dir".
const modeDir = 0o040000

func convertFiles(in []xmlFile) ([]rpm.File, error) {
	if len(in) == 0 {
		return nil, nil
	}
	out := make([]rpm.File, 0, len(in))
	for _, f := range in {
		rf := rpm.File{Path: f.Path}
		switch f.Type {
		case "":
		case "dir":
			rf.Mode = modeDir
		case "ghost":
			rf.Flags = rpm.FileGhost
		default:
			return nil, fmt.Errorf("file %s: unknown type %q", f.Path, f.Type)
		}
		out = append(out, rf)
	}
	return out, nil
}

func convertDeps(in []xmlEntry) ([]rpm.Dep, error) {
	if len(in) == 0 {
		return nil, nil
	}
	out := make([]rpm.Dep, 0, len(in))
	for _, e := range in {
		if e.Name == "" {
			return nil, fmt.Errorf("dependency entry without a name")
		}
		d := rpm.Dep{Name: e.Name, EVR: xmlVersion{e.Epoch, e.Ver, e.Rel}.evr()}
		switch e.Flags {
		case "":
		case "EQ":
			d.Flags = rpm.SenseEqual
		case "LT":
			d.Flags = rpm.SenseLess
		case "LE":
			d.Flags = rpm.SenseLess | rpm.SenseEqual
		case "GT":
			d.Flags = rpm.SenseGreater
		case "GE":
			d.Flags = rpm.SenseGreater | rpm.SenseEqual
		default:
			return nil, fmt.Errorf("dependency %s: unknown flags %q", e.Name, e.Flags)
		}
		switch e.Pre {
		case "", "0":
		case "1":
			d.Flags |= rpm.SensePreReq
		default:
			return nil, fmt.Errorf("dependency %s: pre=%q is neither 0 nor 1", e.Name, e.Pre)
		}
		out = append(out, d)
	}
	return out, nil
}

// scanPackages walks the document: the root element must be root; each
// <package> child is decoded into a fresh value by decode.
func scanPackages(ctx context.Context, r io.Reader, root string, decode func(d *xml.Decoder, start *xml.StartElement) error) (declared int, seen int, err error) {
	d := xml.NewDecoder(r)
	d.Strict = true
	sawRoot := false
	declared = -1
	for {
		tok, err := d.Token()
		if err == io.EOF {
			if !sawRoot {
				return declared, seen, fmt.Errorf("no <%s> element: not %s metadata", root, root)
			}
			return declared, seen, nil
		}
		if err != nil {
			return declared, seen, fmt.Errorf("xml: %w", err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if !sawRoot {
			if se.Name.Local != root {
				return declared, seen, fmt.Errorf("root element is <%s>, want <%s>", se.Name.Local, root)
			}
			sawRoot = true
			for _, a := range se.Attr {
				if a.Name.Local == "packages" {
					n, err := strconv.Atoi(a.Value)
					if err != nil || n < 0 {
						return declared, seen, fmt.Errorf("<%s packages=%q>: not a count", root, a.Value)
					}
					declared = n
				}
			}
			continue
		}
		if se.Name.Local != "package" {
			if err := d.Skip(); err != nil {
				return declared, seen, fmt.Errorf("xml: %w", err)
			}
			continue
		}
		if seen%256 == 0 {
			if err := ctx.Err(); err != nil {
				return declared, seen, err
			}
		}
		if err := decode(d, &se); err != nil {
			return declared, seen, err
		}
		seen++
	}
}

// parsePrimary reads primary.xml; dir is the repository root the package
// locations are joined to.
// Besides the packages it returns each one's pkgid (its checksum, whatever
// the type), which keys filelists.xml.
func parsePrimary(ctx context.Context, r io.Reader, dir string) ([]*rpm.Package, []string, error) {
	var (
		pkgs   []*rpm.Package
		pkgids []string
	)
	declared, seen, err := scanPackages(ctx, r, "metadata", func(d *xml.Decoder, se *xml.StartElement) error {
		var x xmlPackage
		if err := d.DecodeElement(&x, se); err != nil {
			return fmt.Errorf("package %d: xml: %w", len(pkgs)+1, err)
		}
		p, err := convertPackage(&x, dir)
		if err != nil {
			return fmt.Errorf("package %d (%s): %w", len(pkgs)+1, x.Name, err)
		}
		pkgs = append(pkgs, p)
		pkgids = append(pkgids, x.Checksum.Value)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if declared >= 0 && declared != seen {
		return nil, nil, fmt.Errorf("primary says it has %d packages but lists %d", declared, seen)
	}
	return pkgs, pkgids, nil
}

func convertPackage(x *xmlPackage, dir string) (*rpm.Package, error) {
	if x.Name == "" || x.Arch == "" || x.Version.Ver == "" {
		return nil, fmt.Errorf("name, arch and version are required (got %q, %q, %q)", x.Name, x.Arch, x.Version.Ver)
	}
	if x.Location.Base != "" {
		return nil, fmt.Errorf("location has xml:base %q: packages of a remote repository are not supported, mirror it locally", x.Location.Base)
	}
	href := filepath.FromSlash(x.Location.Href)
	if x.Location.Href == "" || !filepath.IsLocal(href) {
		return nil, fmt.Errorf("location %q is not a path inside the repository", x.Location.Href)
	}
	p := &rpm.Package{
		Name:          x.Name,
		EVR:           x.Version.evr(),
		Arch:          x.Arch,
		IsSource:      x.Arch == "src" || x.Arch == "nosrc",
		SourceRPM:     x.Format.SourceRPM,
		InstalledSize: x.Size.Installed,
		License:       x.Format.License,
		Summary:       x.Summary,
		URL:           x.URL,
		BuildTime:     x.Time.Build,
		Path:          filepath.Join(dir, href),
		Size:          x.Size.Package,
	}
	if x.Checksum.Type == "sha256" {
		p.SHA256 = x.Checksum.Value
	}
	var err error
	sets := []struct {
		dst *[]rpm.Dep
		src []xmlEntry
	}{
		{&p.Provides, x.Format.Provides}, {&p.Requires, x.Format.Requires},
		{&p.Conflicts, x.Format.Conflicts}, {&p.Obsoletes, x.Format.Obsoletes},
		{&p.Recommends, x.Format.Recommends}, {&p.Suggests, x.Format.Suggests},
		{&p.Supplements, x.Format.Supplements}, {&p.Enhances, x.Format.Enhances},
	}
	for _, s := range sets {
		if *s.dst, err = convertDeps(s.src); err != nil {
			return nil, err
		}
	}
	if p.Files, err = convertFiles(x.Format.Files); err != nil {
		return nil, err
	}
	return p, nil
}

// fileKey identifies a package across primary.xml and filelists.xml.
type fileKey struct {
	pkgid, name, arch string
	evr               rpm.EVR
}

func keyOf(pkgid string, p *rpm.Package) fileKey {
	return fileKey{pkgid: pkgid, name: p.Name, arch: p.Arch, evr: p.EVR}
}

// xmlFilelistsPackage is one <package> of filelists.xml.
type xmlFilelistsPackage struct {
	PkgID   string     `xml:"pkgid,attr"`
	Name    string     `xml:"name,attr"`
	Arch    string     `xml:"arch,attr"`
	Version xmlVersion `xml:"version"`
	Files   []xmlFile  `xml:"file"`
}

// parseFilelists reads filelists.xml into file lists by package.
func parseFilelists(ctx context.Context, r io.Reader) (map[fileKey][]rpm.File, error) {
	out := map[fileKey][]rpm.File{}
	declared, seen, err := scanPackages(ctx, r, "filelists", func(d *xml.Decoder, se *xml.StartElement) error {
		var x xmlFilelistsPackage
		if err := d.DecodeElement(&x, se); err != nil {
			return fmt.Errorf("package %d: xml: %w", len(out)+1, err)
		}
		files, err := convertFiles(x.Files)
		if err != nil {
			return fmt.Errorf("package %s: %w", x.Name, err)
		}
		out[fileKey{pkgid: x.PkgID, name: x.Name, arch: x.Arch, evr: x.Version.evr()}] = files
		return nil
	})
	if err != nil {
		return nil, err
	}
	if declared >= 0 && declared != seen {
		return nil, fmt.Errorf("filelists says it has %d packages but lists %d", declared, seen)
	}
	return out, nil
}
