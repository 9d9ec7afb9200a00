// Package bundle is the pipeline: from a directory of RPMs (or, later, a
// recipe) to one deterministic, CVMFS-ready tarball. Each stage lives in its
// own package; this package puts them in order and records what they did.
package bundle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bundle-dev/bundle/bundle/atomicfile"
	"github.com/bundle-dev/bundle/bundle/closure"
	"github.com/bundle-dev/bundle/bundle/engine"
	"github.com/bundle-dev/bundle/bundle/extract"
	"github.com/bundle-dev/bundle/bundle/rpm"
	"github.com/bundle-dev/bundle/bundle/sbom"
	"github.com/bundle-dev/bundle/bundle/tarball"
	"github.com/bundle-dev/bundle/links"
	"github.com/bundle-dev/bundle/platforms"
)

// DefaultRemove are the paths dropped from every bundle unless the recipe
// says otherwise: documentation nobody reads on a worker node.
var DefaultRemove = []string{"/usr/share/doc", "/usr/share/man", "/usr/share/info", "/usr/lib/.build-id"}

// AssembleOptions says what to assemble and where.
type AssembleOptions struct {
	Repo     string              // directory of RPMs (repodata optional)
	Platform *platforms.Platform // target platform: arch and closure base
	Name     string              // bundle name
	Version  string              // bundle version
	TopDir   string              // top directory in the tarball (default Name)
	Out      string              // output directory, or the tarball path itself
	WorkDir  string              // staging lives under WorkDir/staging (default ./.bundle)

	Want       []string // packages wanted (default every binary package)
	Exclude    []string // package name globs never put in the bundle (build-only packages)
	Ignore     []string // Requires globs the closure ignores
	WeakDeps   bool
	Remove     []string // paths removed from the tree (default DefaultRemove)
	NoRemove   bool     // keep everything, even DefaultRemove
	Workers    int
	MaxFiles   int64 // bounds on what extraction writes (see extract.Options)
	MaxBytes   int64
	Mtime      time.Time // clamp; zero: SOURCE_DATE_EPOCH, else the newest package build time
	Compress   string    // gzip, zstd, none
	CatalogMax int
	CatalogMin int
	// AfterExtract stages run on the staging tree after extraction and
	// before the links stage (pip install: it can create new links);
	// AfterLinks stages after links and before the tarball (relocation).
	// Each gets the staging root and the manifest being made.
	AfterExtract []Hook
	AfterLinks   []Hook
	// LockWorkDir takes the work directory's lock for the whole assemble
	// (`bundle assemble`; `bundle build` holds it already).
	LockWorkDir bool
	// RootVar and Checks are recorded in the manifest for `bundle test`.
	RootVar string
	Checks  []CheckSpec
	Logger  *slog.Logger
}

// Hook is a stage that rewrites the staging tree in place.
type Hook struct {
	Name string
	Run  func(ctx context.Context, root string, m *Manifest) error
}

// Assemble runs closure → extract → links → hooks → SBOM → tarball and
// writes the sidecars. It returns the manifest it wrote.
func Assemble(ctx context.Context, o AssembleOptions) (*Manifest, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	if o.LockWorkDir {
		unlock, err := lockWorkDir(o.WorkDir)
		if err != nil {
			return nil, err
		}
		defer unlock()
	}
	log := o.Logger
	var timings []StageTiming
	stage := func(name string, fn func() error) error {
		start := time.Now()
		log.Debug("stage", "name", name)
		err := fn()
		d := time.Since(start)
		timings = append(timings, StageTiming{Stage: name, Seconds: d.Seconds()})
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		log.Info("stage done", "name", name, "duration", d.Round(time.Millisecond))
		return nil
	}

	var res *closure.Result
	var pkgs []*rpm.Package
	if err := stage("closure", func() error {
		var err error
		pkgs, err = closure.LoadRepo(ctx, o.Repo)
		if err != nil {
			return err
		}
		res, err = closure.Resolve(ctx, pkgs, closure.Options{
			Platform: o.Platform, Want: o.Want, Ignore: o.Ignore, WeakDeps: o.WeakDeps,
		})
		if err != nil {
			return err
		}
		res = excludePackages(res, o.Exclude)
		if len(res.Packages) == 0 {
			return fmt.Errorf("no package selected from %s: is it empty, or built for another arch than %s?", o.Repo, o.Platform.Arch)
		}
		return nil
	}); err != nil {
		return nil, err
	}

	staging := filepath.Join(o.WorkDir, "staging", o.TopDir)
	var xrep *extract.Report
	if err := stage("extract", func() error {
		if err := os.RemoveAll(staging); err != nil {
			return fmt.Errorf("clean staging %s: %w", staging, err)
		}
		if err := os.MkdirAll(staging, 0o755); err != nil {
			return err
		}
		var paths []string
		for _, s := range res.Packages {
			paths = append(paths, s.Package.Path)
		}
		var err error
		xrep, err = extract.Extract(ctx, extract.Options{Root: staging, Workers: o.Workers, Remove: o.Remove,
			MaxFiles: o.MaxFiles, MaxBytes: o.MaxBytes, Logger: log}, paths)
		return err
	}); err != nil {
		return nil, err
	}

	// The manifest so far: hooks add to it (the pip stage, its pins).
	m := &Manifest{}
	for _, s := range res.Packages {
		m.Packages = append(m.Packages, PackageInfo{NEVRA: s.Package.NEVRA(), Name: s.Package.Name})
	}
	for _, h := range o.AfterExtract {
		if err := stage(h.Name, func() error { return h.Run(ctx, staging, m) }); err != nil {
			return nil, err
		}
	}

	var lrep *links.Report
	if err := stage("links", func() error {
		var err error
		lrep, err = links.Fix(ctx, staging, links.Options{Logger: log})
		return err
	}); err != nil {
		return nil, err
	}

	for _, h := range o.AfterLinks {
		if err := stage(h.Name, func() error { return h.Run(ctx, staging, m) }); err != nil {
			return nil, err
		}
	}

	var req *Requires
	if err := stage("requires", func() error {
		var err error
		req, err = MeasureRequires(ctx, staging, o.Workers)
		return err
	}); err != nil {
		return nil, err
	}

	mtime := o.Mtime
	if mtime.IsZero() {
		t, ok, err := tarball.MtimeFromEnv()
		if err != nil {
			return nil, err
		}
		if ok {
			mtime = t
		} else {
			mtime = newestBuildTime(res)
		}
	}

	python, reloc := m.Python, m.Relocation
	m = newManifest(o, mtime, res, xrep, lrep)
	m.Python, m.Relocation, m.Requires = python, reloc, req
	m.RootVar, m.Checks = o.RootVar, o.Checks
	var bom []byte
	if err := stage("sbom", func() error {
		var err error
		if m.SourcePackages, m.BuildPackages, err = sourcePackages(ctx, pkgs, res); err != nil {
			return err
		}
		if bom, err = sbom.Generate(sbomInput(m, mtime)); err != nil {
			return err
		}
		// The same document goes inside the tarball and beside it.
		dir := filepath.Join(staging, SBOMDir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		return atomicfile.Write(filepath.Join(dir, SBOMFile), bom, 0o644)
	}); err != nil {
		return nil, err
	}

	out := o.tarballPath()
	var tres *tarball.Result
	if err := stage("tarball", func() error {
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return err
		}
		var err error
		tres, err = tarball.Write(ctx, tarball.Options{
			Root: staging, TopDir: o.TopDir, Out: out, Compression: o.Compress, Mtime: mtime,
			CatalogMax: o.CatalogMax, CatalogMin: o.CatalogMin, Logger: log,
			Sidecars: sidecars(out),
		})
		return err
	}); err != nil {
		return nil, err
	}

	m.setTarball(tres)
	m.Stages = timings
	if err := m.write(out + ".manifest.json"); err != nil {
		return nil, err
	}
	if err := atomicfile.Write(out+".spdx.json", bom, 0o644); err != nil {
		return nil, err
	}
	if err := writeIngestScript(out+".ingest.sh", m.Ingest, o.Name+"/"+o.Version); err != nil {
		return nil, err
	}
	return m, nil
}

// sidecars are the files Assemble writes beside the tarball out, besides
// its .sha256.
func sidecars(out string) []string {
	return []string{out + ".manifest.json", out + ".spdx.json", out + ".ingest.sh"}
}

func (o *AssembleOptions) defaults() error {
	var errs []error
	if o.Repo == "" {
		errs = append(errs, errors.New("no repository given (--repo DIR)"))
	}
	if o.Platform == nil {
		errs = append(errs, errors.New("no platform given (--platform NAME)"))
	}
	if o.Name == "" || strings.ContainsAny(o.Name, "/ \t") {
		errs = append(errs, fmt.Errorf("bundle name %q must be a non-empty word (--name)", o.Name))
	}
	if o.Version == "" || strings.ContainsAny(o.Version, "/ \t") {
		errs = append(errs, fmt.Errorf("bundle version %q must be a non-empty word (--version)", o.Version))
	}
	if o.Out == "" {
		errs = append(errs, errors.New("no output given (-o DIR)"))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if o.TopDir == "" {
		o.TopDir = o.Name
	}
	if strings.ContainsAny(o.TopDir, "/\\") || o.TopDir == "." || o.TopDir == ".." {
		return fmt.Errorf("top directory %q must be a single path element", o.TopDir)
	}
	if o.WorkDir == "" {
		o.WorkDir = engine.DefaultWorkDir
	}
	if o.Remove == nil && !o.NoRemove {
		o.Remove = DefaultRemove
	}
	if o.Compress == "" {
		o.Compress = "gzip"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return nil
}

// TarballName is NAME-VERSION-PLATFORM.tar[.gz|.zst].
func TarballName(name, version, platform, compression string) string {
	base := fmt.Sprintf("%s-%s-%s.tar", name, version, platform)
	switch compression {
	case "gzip", "":
		return base + ".gz"
	case "zstd":
		return base + ".zst"
	}
	return base
}

func (o *AssembleOptions) tarballPath() string {
	return outputPath(o.Out, TarballName(o.Name, o.Version, o.Platform.Name, o.Compress))
}

// outputPath is the tarball's path for an -o value: out itself when it
// names a tarball, else the file name in the directory out.
func outputPath(out, name string) string {
	for _, ext := range []string{".tar.gz", ".tgz", ".tar.zst", ".tar"} {
		if strings.HasSuffix(out, ext) {
			return out
		}
	}
	return filepath.Join(out, name)
}

func excludePackages(res *closure.Result, globs []string) *closure.Result {
	if len(globs) == 0 {
		return res
	}
	out := *res
	out.Packages = nil
	for _, s := range res.Packages {
		if matchAny(globs, s.Package.Name) {
			continue
		}
		out.Packages = append(out.Packages, s)
	}
	return &out
}

func matchAny(globs []string, name string) bool {
	for _, g := range globs {
		if ok, _ := filepath.Match(g, name); ok {
			return true
		}
	}
	return false
}

func newestBuildTime(res *closure.Result) time.Time {
	var t int64
	for _, s := range res.Packages {
		if s.Package.BuildTime > t {
			t = s.Package.BuildTime
		}
	}
	return time.Unix(t, 0).UTC()
}

// writeIngestScript writes NAME.ingest.sh: it sets REPO and BASE_DIR from
// its arguments (BASE_DIR defaults to NAME/VERSION, written single-quoted so
// that nothing in a name or version is ever run) and runs cmd, the
// manifest's ingest pipe.
func writeIngestScript(path, cmd, baseDir string) error {
	body := "#!/bin/sh\n# Publish this bundle on a CVMFS stratum-0: run on the release manager machine\n" +
		"# with the repository name as first argument (cvmfs_server ingest reads an\n" +
		"# uncompressed tar stream; it opens and publishes the transaction itself).\nset -eu\n" +
		"cd \"$(dirname \"$0\")\"\nREPO=\"${1:?usage: $0 REPOSITORY [BASE_DIR]}\"\n" +
		"BASE_DIR=\"${2:-}\"\n[ -n \"$BASE_DIR\" ] || BASE_DIR=" + tarball.ShellQuote(baseDir) + "\n" + cmd + "\n"
	return atomicfile.Write(path, []byte(body), 0o755)
}
