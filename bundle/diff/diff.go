// Package diff compares two bundles: their packages (NEVRA and sha256),
// pip pins, files (by content digest) and sizes. A bundle is given as its
// tarball, with the manifest beside it, or as the manifest alone (then no
// file is compared).
package diff

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/bundle-dev/bundle/bundle"
)

// Bundle is one side of a comparison.
type Bundle struct {
	Path     string
	Manifest *bundle.Manifest
	// Tree is nil when only the manifest was given.
	Tree Tree
}

// Load reads a bundle from a tarball (its manifest must be beside it, as
// TARBALL.manifest.json) or from a manifest (NAME.manifest.json).
func Load(ctx context.Context, path string) (*Bundle, error) {
	if strings.HasSuffix(path, ".json") {
		m, err := readManifest(path)
		if err != nil {
			return nil, err
		}
		return &Bundle{Path: path, Manifest: m}, nil
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("diff: %w", err)
	}
	m, err := readManifest(path + ".manifest.json")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("diff: %s has no manifest beside it (%s.manifest.json): give the manifest, or keep it with the tarball", path, filepath.Base(path))
		}
		return nil, err
	}
	tree, err := ReadTree(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("diff: %w", err)
	}
	return &Bundle{Path: path, Manifest: m, Tree: tree}, nil
}

// readManifest reads a bundle manifest and refuses other JSON (an SBOM, an
// index) that would otherwise read as an empty bundle.
func readManifest(path string) (*bundle.Manifest, error) {
	m, err := bundle.ReadManifest(path)
	if err != nil {
		return nil, fmt.Errorf("diff: %w", err)
	}
	if m.ManifestVersion == 0 || m.Name == "" {
		return nil, fmt.Errorf("diff: %s is not a bundle manifest (no manifest_version or name)", path)
	}
	return m, nil
}

// LoadPair loads both sides at once (each tarball is streamed by its own
// goroutine).
func LoadPair(ctx context.Context, oldPath, newPath string) (*Bundle, *Bundle, error) {
	var a, b *Bundle
	var ea, eb error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); a, ea = Load(ctx, oldPath) }()
	b, eb = Load(ctx, newPath)
	wg.Wait()
	if err := errors.Join(ea, eb); err != nil {
		return nil, nil, err
	}
	return a, b, nil
}

// Result is what differs between two bundles.
type Result struct {
	Old       Side        `json:"old"`
	New       Side        `json:"new"`
	Identical bool        `json:"identical"`
	Packages  PackageDiff `json:"packages"`
	Python    PythonDiff  `json:"python"`
	// Files is nil when a side was given as a manifest only.
	Files *FileDiff `json:"files,omitempty"`
	Sizes Sizes     `json:"sizes"`
}

// Side names one bundle.
type Side struct {
	Path     string `json:"path"`
	Name     string `json:"name"`
	Version  string `json:"version"`
	Platform string `json:"platform"`
	Tarball  string `json:"tarball"`
	SHA256   string `json:"sha256"`
}

// Package is one RPM of a bundle.
type Package struct {
	Name   string `json:"name"`
	Arch   string `json:"arch"`
	NEVRA  string `json:"nevra"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"installed_size"`
}

// PackageChange is a package (same name and arch) in both bundles with a
// different NEVRA or sha256.
type PackageChange struct {
	Name string  `json:"name"`
	Arch string  `json:"arch"`
	Old  Package `json:"old"`
	New  Package `json:"new"`
}

// PackageDiff lists the packages added, removed and changed, by name.
type PackageDiff struct {
	Added   []Package       `json:"added"`
	Removed []Package       `json:"removed"`
	Changed []PackageChange `json:"changed"`
}

// Pin is one pip package.
type Pin struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	URL     string `json:"url,omitempty"`
}

// PinChange is a pip package whose version or URL changed.
type PinChange struct {
	Name string `json:"name"`
	Old  Pin    `json:"old"`
	New  Pin    `json:"new"`
}

// PythonDiff lists the pip pins added, removed and changed.
type PythonDiff struct {
	Added   []Pin       `json:"added"`
	Removed []Pin       `json:"removed"`
	Changed []PinChange `json:"changed"`
}

// FileChange is a path added, removed or changed; Old or New is nil for an
// added or removed path.
type FileChange struct {
	Path string `json:"path"`
	Old  *Entry `json:"old,omitempty"`
	New  *Entry `json:"new,omitempty"`
}

// FileDiff lists the paths whose content, type or mode differ.
type FileDiff struct {
	Added     []FileChange `json:"added"`
	Removed   []FileChange `json:"removed"`
	Changed   []FileChange `json:"changed"`
	Unchanged int          `json:"unchanged"`
}

// Sizes are the installed bytes (the manifest's total) and the tarballs'
// sizes.
type Sizes struct {
	OldTotal   int64 `json:"old_total"`
	NewTotal   int64 `json:"new_total"`
	OldTarball int64 `json:"old_tarball"`
	NewTarball int64 `json:"new_tarball"`
}

// Compare says what differs from a to b.
func Compare(a, b *Bundle) *Result {
	ma, mb := a.Manifest, b.Manifest
	r := &Result{
		Old: side(a), New: side(b),
		Packages: comparePackages(ma.Packages, mb.Packages),
		Python:   comparePins(ma.Python, mb.Python),
		Sizes: Sizes{
			OldTotal: ma.Counts.TotalSize, NewTotal: mb.Counts.TotalSize,
			OldTarball: ma.Tarball.Size, NewTarball: mb.Tarball.Size,
		},
	}
	if a.Tree != nil && b.Tree != nil {
		r.Files = compareTrees(a.Tree, b.Tree)
	}
	p, py := r.Packages, r.Python
	same := len(p.Added)+len(p.Removed)+len(p.Changed)+len(py.Added)+len(py.Removed)+len(py.Changed) == 0
	if r.Files != nil {
		same = same && len(r.Files.Added)+len(r.Files.Removed)+len(r.Files.Changed) == 0
	} else {
		// Without the trees, the tarballs' digests stand for the files.
		same = same && ma.Tarball.SHA256 == mb.Tarball.SHA256
	}
	r.Identical = same
	return r
}

func side(b *Bundle) Side {
	m := b.Manifest
	return Side{Path: b.Path, Name: m.Name, Version: m.Version, Platform: m.Platform, Tarball: m.Tarball.File, SHA256: m.Tarball.SHA256}
}

func comparePackages(old, new []bundle.PackageInfo) PackageDiff {
	key := func(p bundle.PackageInfo) string { return p.Name + "." + p.Arch }
	conv := func(p bundle.PackageInfo) Package {
		return Package{Name: p.Name, Arch: p.Arch, NEVRA: p.NEVRA, SHA256: p.SHA256, Size: p.Size}
	}
	om := map[string]bundle.PackageInfo{}
	for _, p := range old {
		om[key(p)] = p
	}
	var d PackageDiff
	seen := map[string]bool{}
	for _, p := range new {
		k := key(p)
		seen[k] = true
		o, ok := om[k]
		switch {
		case !ok:
			d.Added = append(d.Added, conv(p))
		case o.NEVRA != p.NEVRA || o.SHA256 != p.SHA256:
			d.Changed = append(d.Changed, PackageChange{Name: p.Name, Arch: p.Arch, Old: conv(o), New: conv(p)})
		}
	}
	for _, p := range old {
		if !seen[key(p)] {
			d.Removed = append(d.Removed, conv(p))
		}
	}
	sort.Slice(d.Added, func(i, j int) bool { return d.Added[i].NEVRA < d.Added[j].NEVRA })
	sort.Slice(d.Removed, func(i, j int) bool { return d.Removed[i].NEVRA < d.Removed[j].NEVRA })
	sort.Slice(d.Changed, func(i, j int) bool {
		return d.Changed[i].Name+"."+d.Changed[i].Arch < d.Changed[j].Name+"."+d.Changed[j].Arch
	})
	return d
}

func comparePins(old, new []bundle.PipPin) PythonDiff {
	conv := func(p bundle.PipPin) Pin { return Pin{Name: p.Name, Version: p.Version, URL: p.URL} }
	om := map[string]bundle.PipPin{}
	for _, p := range old {
		om[p.Name] = p
	}
	var d PythonDiff
	seen := map[string]bool{}
	for _, p := range new {
		seen[p.Name] = true
		o, ok := om[p.Name]
		switch {
		case !ok:
			d.Added = append(d.Added, conv(p))
		case o.Version != p.Version || o.URL != p.URL || !slices.Equal(o.Hashes, p.Hashes):
			d.Changed = append(d.Changed, PinChange{Name: p.Name, Old: conv(o), New: conv(p)})
		}
	}
	for _, p := range old {
		if !seen[p.Name] {
			d.Removed = append(d.Removed, conv(p))
		}
	}
	sort.Slice(d.Added, func(i, j int) bool { return d.Added[i].Name < d.Added[j].Name })
	sort.Slice(d.Removed, func(i, j int) bool { return d.Removed[i].Name < d.Removed[j].Name })
	sort.Slice(d.Changed, func(i, j int) bool { return d.Changed[i].Name < d.Changed[j].Name })
	return d
}

func compareTrees(old, new Tree) *FileDiff {
	d := &FileDiff{}
	for p, n := range new {
		o, ok := old[p]
		switch {
		case !ok:
			d.Added = append(d.Added, FileChange{Path: p, New: &n})
		case o != n:
			d.Changed = append(d.Changed, FileChange{Path: p, Old: &o, New: &n})
		default:
			d.Unchanged++
		}
	}
	for p, o := range old {
		if _, ok := new[p]; !ok {
			d.Removed = append(d.Removed, FileChange{Path: p, Old: &o})
		}
	}
	for _, l := range [][]FileChange{d.Added, d.Removed, d.Changed} {
		sort.Slice(l, func(i, j int) bool { return l[i].Path < l[j].Path })
	}
	return d
}

// Summary is the one-line account of a Result.
func (r *Result) Summary() string {
	if r.Identical {
		return "identical"
	}
	p, py := r.Packages, r.Python
	s := fmt.Sprintf("packages +%d -%d ~%d, python +%d -%d ~%d", len(p.Added), len(p.Removed), len(p.Changed),
		len(py.Added), len(py.Removed), len(py.Changed))
	if f := r.Files; f != nil {
		s += fmt.Sprintf(", files +%d -%d ~%d", len(f.Added), len(f.Removed), len(f.Changed))
	}
	return s + fmt.Sprintf(", size %s", signed(r.Sizes.NewTotal-r.Sizes.OldTotal))
}

func signed(n int64) string {
	if n >= 0 {
		return fmt.Sprintf("+%d", n)
	}
	return fmt.Sprintf("%d", n)
}
