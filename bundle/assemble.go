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
	"github.com/bundle-dev/bundle/bundle/relocate"
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
	// What each returns goes into the manifest.
	AfterExtract []Hook
	AfterLinks   []Hook
	// LockWorkDir takes the work directory's lock for the whole assemble
	// (`bundle assemble`; `bundle build` holds it already).
	LockWorkDir bool
	// RootVar and Checks are recorded in the manifest for `bundle test`.
	RootVar string
	Checks  []CheckSpec
	// Digests are recorded in the manifest; the platform's is filled in
	// when empty.
	Digests Digests
	Logger  *slog.Logger
}

// Hook is a stage that rewrites the staging tree in place and returns what
// it adds to the manifest.
type Hook struct {
	Name string
	Run  func(ctx context.Context, in HookInput) (HookOutput, error)
}

// HookInput is what a hook works on: the staging root and the packages
// extracted into it (sorted by NEVRA).
type HookInput struct {
	Root     string
	Packages []PackageInfo
}

// HookOutput is what a hook adds to the manifest.
type HookOutput struct {
	Python     []PipPin         // the pip stage's installed distributions
	Relocation *relocate.Report // the relocation stage's report
}

// Digests identify what made a bundle, for the manifest: the recipe
// (recipes.Recipe.Digest), the platform and the builder.
type Digests struct {
	Recipe   string `json:"recipe,omitempty"`
	Platform string `json:"platform,omitempty"`
	Builder  string `json:"builder,omitempty"`
}

// outputs are what the assemble stages returned, from which the manifest
// is made.
type outputs struct {
	mtime      time.Time
	selection  *closure.Result
	extraction *extract.Report
	links      *links.Report
	hooks      []HookOutput
	requires   *Requires
	sources    []SourcePackage
	build      []PackageInfo
}

// stages runs the assemble stages one after the other, timing them.
type stages struct {
	log     *slog.Logger
	timings []StageTiming
}

// stage runs fn as the stage name, records its duration and prefixes its
// error with the stage's name unless the error already starts with it.
func stage[T any](s *stages, name string, fn func() (T, error)) (T, error) {
	start := time.Now()
	s.log.Debug("stage", "name", name)
	v, err := fn()
	d := time.Since(start)
	s.timings = append(s.timings, StageTiming{Stage: name, Seconds: d.Seconds()})
	if err != nil {
		if msg := err.Error(); !strings.HasPrefix(msg, name+":") && !strings.HasPrefix(msg, name+" ") {
			err = fmt.Errorf("%s: %w", name, err)
		}
		return v, err
	}
	s.log.Info("stage done", "name", name, "duration", d.Round(time.Millisecond))
	return v, nil
}

// selected are the packages the closure chose, with every package of the
// repository (the SBOM's source and build packages come from them).
type selected struct {
	all []*rpm.Package
	res *closure.Result
}

// Assemble runs closure → extract → hooks → links → hooks → requires →
// SBOM → tarball; the manifest is made from what the stages returned, and
// written with the other sidecars. It returns the manifest.
func Assemble(ctx context.Context, o AssembleOptions) (*Manifest, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	if o.LockWorkDir {
		unlock, err := lockWorkDir(o.WorkDir, o.Logger)
		if err != nil {
			return nil, err
		}
		defer unlock()
	}
	st := &stages{log: o.Logger}
	sel, err := stage(st, "closure", func() (selected, error) { return selectPackages(ctx, o) })
	if err != nil {
		return nil, err
	}
	var out outputs
	out.selection = sel.res
	staging := filepath.Join(o.WorkDir, "staging", o.TopDir)
	if out.extraction, err = stage(st, "extract", func() (*extract.Report, error) {
		return extractPackages(ctx, o, staging, sel.res)
	}); err != nil {
		return nil, err
	}
	in := HookInput{Root: staging, Packages: packageInfos(sel.res)}
	if err := runHooks(ctx, st, o.AfterExtract, in, &out); err != nil {
		return nil, err
	}
	if out.links, err = stage(st, "links", func() (*links.Report, error) {
		return links.Fix(ctx, staging, links.Options{Logger: o.Logger})
	}); err != nil {
		return nil, err
	}
	if err := runHooks(ctx, st, o.AfterLinks, in, &out); err != nil {
		return nil, err
	}
	if out.requires, err = stage(st, "requires", func() (*Requires, error) {
		return MeasureRequires(ctx, staging, o.Workers)
	}); err != nil {
		return nil, err
	}
	if out.mtime, err = o.mtime(sel.res); err != nil {
		return nil, err
	}
	if out.sources, out.build, err = sourcePackages(ctx, sel.all, sel.res); err != nil {
		return nil, fmt.Errorf("sbom: %w", err)
	}
	m := newManifest(o, out)
	bom, err := stage(st, "sbom", func() ([]byte, error) { return writeSBOM(staging, m, out.mtime) })
	if err != nil {
		return nil, err
	}
	path := o.tarballPath()
	tres, err := stage(st, "tarball", func() (*tarball.Result, error) {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, err
		}
		return tarball.Write(ctx, tarball.Options{
			Root: staging, TopDir: o.TopDir, Out: path, Compression: o.Compress, Mtime: out.mtime,
			CatalogMax: o.CatalogMax, CatalogMin: o.CatalogMin, Logger: o.Logger,
			Sidecars: sidecars(path),
		})
	})
	if err != nil {
		return nil, err
	}
	m.setTarball(tres)
	m.Stages = st.timings
	if err := writeSidecars(path, m, bom, o.Name+"/"+o.Version); err != nil {
		return nil, err
	}
	return m, nil
}

// selectPackages loads the repository and resolves the closure of what o
// wants, without the excluded packages.
func selectPackages(ctx context.Context, o AssembleOptions) (selected, error) {
	all, err := closure.LoadRepo(ctx, o.Repo, o.Logger)
	if err != nil {
		return selected{}, err
	}
	res, err := closure.Resolve(ctx, all, closure.Options{
		Platform: o.Platform, Want: o.Want, Ignore: o.Ignore, WeakDeps: o.WeakDeps, Logger: o.Logger,
	})
	if err != nil {
		return selected{}, err
	}
	res = excludePackages(res, o.Exclude)
	if len(res.Packages) == 0 {
		return selected{}, fmt.Errorf("no package selected from %s: is it empty, or built for another arch than %s?", o.Repo, o.Platform.Arch)
	}
	return selected{all: all, res: res}, nil
}

// extractPackages extracts the selected packages into a clean staging
// tree.
func extractPackages(ctx context.Context, o AssembleOptions, staging string, res *closure.Result) (*extract.Report, error) {
	if err := os.RemoveAll(staging); err != nil {
		return nil, fmt.Errorf("clean staging %s: %w", staging, err)
	}
	if err := os.MkdirAll(staging, 0o755); err != nil {
		return nil, err
	}
	var paths []string
	for _, s := range res.Packages {
		paths = append(paths, s.Package.Path)
	}
	return extract.Extract(ctx, extract.Options{Root: staging, Workers: o.Workers, Remove: o.Remove,
		MaxFiles: o.MaxFiles, MaxBytes: o.MaxBytes, Logger: o.Logger}, paths)
}

// runHooks runs hooks as stages and collects their outputs into out.
func runHooks(ctx context.Context, st *stages, hooks []Hook, in HookInput, out *outputs) error {
	for _, h := range hooks {
		ho, err := stage(st, h.Name, func() (HookOutput, error) { return h.Run(ctx, in) })
		if err != nil {
			return err
		}
		out.hooks = append(out.hooks, ho)
	}
	return nil
}

// mtime is the clamp of the tarball: o.Mtime, else SOURCE_DATE_EPOCH, else
// the newest build time of the selected packages.
func (o *AssembleOptions) mtime(res *closure.Result) (time.Time, error) {
	if !o.Mtime.IsZero() {
		return o.Mtime, nil
	}
	t, ok, err := tarball.MtimeFromEnv()
	if err != nil || ok {
		return t, err
	}
	return newestBuildTime(res), nil
}

// writeSBOM writes the manifest's SPDX document into the staging tree (the
// same bytes go beside the tarball) and returns it.
func writeSBOM(staging string, m *Manifest, created time.Time) ([]byte, error) {
	bom, err := sbom.Generate(sbomInput(m, created))
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(staging, SBOMDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return bom, atomicfile.Write(filepath.Join(dir, SBOMFile), bom, 0o644)
}

// writeSidecars writes the manifest, the SBOM and the ingest script beside
// the tarball at path.
func writeSidecars(path string, m *Manifest, bom []byte, baseDir string) error {
	if err := m.write(path + ".manifest.json"); err != nil {
		return err
	}
	if err := atomicfile.Write(path+".spdx.json", bom, 0o644); err != nil {
		return err
	}
	return writeIngestScript(path+".ingest.sh", m.Ingest, baseDir)
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
