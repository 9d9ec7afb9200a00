package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/bundle-dev/bundle/bundle/extract"
	"github.com/bundle-dev/bundle/bundle/plan"
	"github.com/bundle-dev/bundle/bundle/rpm"
	"github.com/bundle-dev/bundle/bundle/sources"
	"github.com/bundle-dev/bundle/recipes"
)

// Prepared is a package ready to build: its SRPM and what the plan needs
// to know about it. It is stored as meta.json beside the SRPM in
// WORKDIR/srpms/NAME/KEY/, KEY being a digest of everything that went into
// the SRPM, so an unchanged package is never prepared twice.
type Prepared struct {
	SRPM          string            `json:"srpm"`
	SRPMDigest    string            `json:"srpm_sha256,omitempty"` // for srpm: packages
	SpecDigest    string            `json:"spec_sha256,omitempty"` // for spec: packages
	Sources       map[string]string `json:"sources,omitempty"`
	Patches       map[string]string `json:"patches,omitempty"`
	BuildRequires []rpm.Dep         `json:"build_requires"`
	Provides      []rpm.Dep         `json:"provides"`
}

// fetched is one input file in the source cache.
type fetched struct {
	name string // file name the spec knows it by
	path string // in the cache
	sha  string
}

func (e *Engine) fetch(ctx context.Context, s sources.Source, name string) (fetched, error) {
	path, sha, err := e.sources.FetchDigest(ctx, s)
	if err != nil {
		return fetched{}, err
	}
	return fetched{name: name, path: path, sha: sha}, nil
}

func toSource(s recipes.Source) sources.Source {
	return sources.Source{URL: s.URL, Path: s.Path.Resolved, SHA256: s.SHA256, Name: s.FileName()}
}

// Fetch downloads (or finds in the cache) every input of the recipe.
func (e *Engine) Fetch(ctx context.Context) ([]string, error) {
	return Fetch(ctx, e.recipe, e.sources, e.workers())
}

// Fetch downloads (or finds in c) every input of recipe r: SRPMs, sources
// and patches, workers at a time; every error is reported.
func Fetch(ctx context.Context, r *recipes.Recipe, c *sources.Cache, workers int) ([]string, error) {
	var srcs []sources.Source
	for _, p := range r.All() {
		if p.SRPM != nil {
			srcs = append(srcs, toSource(*p.SRPM))
		}
		for _, s := range p.Sources {
			srcs = append(srcs, toSource(s))
		}
		for _, pt := range p.Patches {
			srcs = append(srcs, sources.Source{URL: pt.URL, Path: pt.Path.Resolved, SHA256: pt.SHA256, Name: pt.FileName()})
		}
	}
	return sources.FetchAll(ctx, c, srcs, workers)
}

// pkgInputs are a package's fetched inputs: an SRPM, or a spec and its
// sources; and the patches with their modes.
type pkgInputs struct {
	srpm    fetched
	spec    []byte
	files   []fetched
	patches []fetched
	modes   []string
}

// prepareInputs fetches p's inputs and returns its prepared SRPM, made
// now or found from an earlier run.
func (e *Engine) prepareInputs(ctx context.Context, p *recipes.Package, s recipes.Settings) (*Prepared, error) {
	in, err := e.fetchInputs(ctx, p)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(e.workDir, "srpms", p.Name, e.srpmKey(p, s, in))
	if prep, err := readPrepared(dir); err == nil {
		return prep, nil
	}
	prep := in.prepared()
	tmp, err := os.MkdirTemp(filepath.Join(e.workDir), ".prepare-"+p.Name+"-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	logDir := filepath.Join(e.workDir, "logs", p.Name)
	specPath, err := e.makeSRPM(ctx, p, in, prep, tmp, logDir)
	if err != nil {
		return nil, err
	}
	if prep.BuildRequires, err = plan.SRPMBuildRequires(filepath.Join(tmp, prep.SRPM)); err != nil {
		return nil, err
	}
	// rpmspec expands the spec's macros, which can run anything: it runs
	// in the builder's build root, never on the host.
	query := func(ctx context.Context, spec string, args []string) ([]byte, error) {
		return e.builder.QuerySpec(ctx, spec, args, logDir)
	}
	if prep.Provides, err = plan.SpecProvides(ctx, query, specPath, specDefines(s)); err != nil {
		return nil, err
	}
	return publishPrepared(prep, tmp, dir)
}

// fetchInputs fetches p's SRPM, or reads its spec and fetches its sources,
// and fetches its patches.
func (e *Engine) fetchInputs(ctx context.Context, p *recipes.Package) (pkgInputs, error) {
	var in pkgInputs
	var err error
	if p.SRPM != nil {
		if in.srpm, err = e.fetch(ctx, toSource(*p.SRPM), p.SRPM.FileName()); err != nil {
			return in, err
		}
	} else {
		if in.spec, err = os.ReadFile(p.Spec.Resolved); err != nil {
			return in, fmt.Errorf("spec: %w", err)
		}
		for _, src := range p.Sources {
			f, err := e.fetch(ctx, toSource(src), src.FileName())
			if err != nil {
				return in, err
			}
			in.files = append(in.files, f)
		}
	}
	for _, pt := range p.Patches {
		f, err := e.fetch(ctx, sources.Source{URL: pt.URL, Path: pt.Path.Resolved, SHA256: pt.SHA256, Name: pt.FileName()}, pt.FileName())
		if err != nil {
			return in, err
		}
		in.patches = append(in.patches, f)
		in.modes = append(in.modes, pt.Mode)
	}
	return in, nil
}

// srpmKey is the key of the prepared SRPM: every byte that goes into it,
// and the build root that makes it (its dist tag ends up in the name) and
// predicts its Provides (version 3: rpmspec in the build root).
func (e *Engine) srpmKey(p *recipes.Package, s recipes.Settings, in pkgInputs) string {
	h := sha256.New()
	fmt.Fprintf(h, "bundle-srpm/3\x00%s\x00%s\x00%s\x00", p.Name, e.platform.Digest(), e.builder.Digest())
	fmt.Fprintf(h, "srpm=%s\x00spec=%x\x00", in.srpm.sha, sha256.Sum256(in.spec))
	for _, f := range in.files {
		fmt.Fprintf(h, "source=%s:%s\x00", f.name, f.sha)
	}
	for i, f := range in.patches {
		fmt.Fprintf(h, "patch=%s:%s:%s\x00", f.name, f.sha, in.modes[i])
	}
	for _, d := range defineArgs(s) {
		fmt.Fprintf(h, "define=%s\x00", d)
	}
	return hex.EncodeToString(h.Sum(nil))[:24]
}

// prepared is the record of what the prepared SRPM is made of.
func (in pkgInputs) prepared() *Prepared {
	prep := &Prepared{}
	if in.spec != nil {
		prep.SpecDigest = fmt.Sprintf("%x", sha256.Sum256(in.spec))
		prep.Sources = map[string]string{}
		for _, f := range in.files {
			prep.Sources[f.name] = f.sha
		}
	} else {
		prep.SRPMDigest = in.srpm.sha
	}
	if len(in.patches) > 0 {
		prep.Patches = map[string]string{}
		for i, f := range in.patches {
			prep.Patches[f.name] = f.sha + " " + in.modes[i]
		}
	}
	return prep
}

// makeSRPM puts the SRPM into tmp (prep.SRPM names it): a given SRPM as
// it is, or one the builder makes from the (unpacked SRPM's or recipe's)
// spec and sources with the patches applied. It returns the spec's path
// (under tmp/in), for the Provides prediction.
func (e *Engine) makeSRPM(ctx context.Context, p *recipes.Package, in pkgInputs, prep *Prepared, tmp, logDir string) (string, error) {
	dir := filepath.Join(tmp, "in")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	srpm := in.srpm
	if in.spec == nil && len(in.patches) == 0 {
		// An SRPM as it is: check it is one, and take its spec for the
		// Provides prediction.
		hdr, err := rpm.ReadPackageFile(srpm.path)
		if err != nil {
			return "", fmt.Errorf("srpm %s: %w", srpm.name, err)
		}
		if !hdr.IsSource {
			return "", fmt.Errorf("srpm %s is a binary package (%s), not a source RPM: give its .src.rpm", srpm.name, hdr.NEVRA())
		}
		if err := copyFile(srpm.path, filepath.Join(tmp, srpm.name)); err != nil {
			return "", err
		}
		prep.SRPM = srpm.name
		return plan.SRPMSpec(ctx, srpm.path, dir)
	}
	var specPath string
	var names []string
	spec := in.spec
	if spec == nil {
		// A patched SRPM: unpack it, patch its spec, rebuild it.
		var err error
		if specPath, names, err = unpackSRPM(ctx, srpm, dir); err != nil {
			return "", err
		}
		if spec, err = os.ReadFile(specPath); err != nil {
			return "", err
		}
	} else {
		specPath = filepath.Join(dir, filepath.Base(p.Spec.Resolved))
		for _, f := range in.files {
			dst := filepath.Join(dir, f.name)
			if err := copyFile(f.path, dst); err != nil {
				return "", err
			}
			names = append(names, dst)
		}
	}
	var ps []recipePatch
	for i, f := range in.patches {
		dst := filepath.Join(dir, f.name)
		if err := copyFile(f.path, dst); err != nil {
			return "", err
		}
		names = append(names, dst)
		ps = append(ps, recipePatch{name: f.name, mode: in.modes[i]})
	}
	patched, err := applyPatches(spec, ps)
	if err != nil {
		return "", fmt.Errorf("spec %s: %w", filepath.Base(specPath), err)
	}
	if err := os.WriteFile(specPath, patched, 0o644); err != nil {
		return "", err
	}
	out, err := e.builder.BuildSRPM(ctx, specPath, names, tmp, logDir)
	if err != nil {
		return "", err
	}
	prep.SRPM = filepath.Base(out)
	return specPath, nil
}

// unpackSRPM extracts a source RPM into dir and returns its one spec and
// its other files.
func unpackSRPM(ctx context.Context, srpm fetched, dir string) (string, []string, error) {
	hdr, err := rpm.ReadPackageFile(srpm.path)
	if err != nil {
		return "", nil, fmt.Errorf("srpm %s: %w", srpm.name, err)
	}
	if !hdr.IsSource {
		return "", nil, fmt.Errorf("srpm %s is a binary package (%s), not a source RPM", srpm.name, hdr.NEVRA())
	}
	if _, err := extract.Extract(ctx, extract.Options{Root: dir, Remove: []string{}}, []string{srpm.path}); err != nil {
		return "", nil, fmt.Errorf("unpack %s: %w", srpm.name, err)
	}
	specs, _ := filepath.Glob(filepath.Join(dir, "*.spec"))
	if len(specs) != 1 {
		return "", nil, fmt.Errorf("srpm %s holds %d spec files, want 1", srpm.name, len(specs))
	}
	var names []string
	ents, _ := os.ReadDir(dir)
	for _, ent := range ents {
		if ent.Name() != filepath.Base(specs[0]) {
			names = append(names, filepath.Join(dir, ent.Name()))
		}
	}
	return specs[0], names, nil
}

// publishPrepared writes meta.json into tmp, drops tmp/in and renames tmp
// to dir, replacing an older one; it returns prep with the SRPM's path.
func publishPrepared(prep *Prepared, tmp, dir string) (*Prepared, error) {
	data, err := json.MarshalIndent(prep, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(tmp, "meta.json"), data, 0o644); err != nil {
		return nil, err
	}
	if err := os.RemoveAll(filepath.Join(tmp, "in")); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, err
	}
	os.RemoveAll(dir)
	if err := os.Rename(tmp, dir); err != nil {
		return nil, err
	}
	prep.SRPM = filepath.Join(dir, prep.SRPM)
	return prep, nil
}

func readPrepared(dir string) (*Prepared, error) {
	data, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if err != nil {
		return nil, err
	}
	var p Prepared
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, err
	}
	if p.SRPM == "" || strings.ContainsAny(p.SRPM, "/\\") {
		return nil, errors.New("bad meta.json")
	}
	p.SRPM = filepath.Join(dir, p.SRPM)
	if _, err := os.Stat(p.SRPM); err != nil {
		return nil, err
	}
	return &p, nil
}

// specDefines are the macros rpmspec needs to see the same subpackages the
// build will produce: the defines, and the bconds as rpm's --with/--without
// set them.
func specDefines(s recipes.Settings) map[string]string {
	m := map[string]string{}
	for k, v := range s.Defines {
		m[k] = v
	}
	for _, w := range s.With {
		m["_with_"+w] = "--with-" + w
	}
	for _, w := range s.Without {
		m["_without_"+w] = "--without-" + w
	}
	return m
}

// defineArgs renders specDefines in a stable order (for keys).
func defineArgs(s recipes.Settings) []string {
	m := specDefines(s)
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+" "+v)
	}
	sort.Strings(out)
	return out
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return out.Close()
}
