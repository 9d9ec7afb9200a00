package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bundle-dev/bundle/bundle/cache"
	"github.com/bundle-dev/bundle/bundle/closure"
	"github.com/bundle-dev/bundle/bundle/plan"
	"github.com/bundle-dev/bundle/bundle/rpm"
	"github.com/bundle-dev/bundle/bundle/schedule"
	"github.com/bundle-dev/bundle/mockrun"
)

// buildRequires resolves a node's BuildRequires against what the local
// repo holds now: the RPMs a build root of this node gets. BuildRequires
// no local package provides come from the build root itself (the sandbox
// rootfs's package list, or mock's base repositories).
func (e *Engine) buildRequires(ctx context.Context, n *node) ([]*rpm.Package, error) {
	var want []string
	for _, d := range n.plan.BuildRequires {
		if strings.HasPrefix(d.Name, "rpmlib(") {
			continue
		}
		want = append(want, d.String())
	}
	if len(want) == 0 {
		return nil, nil
	}
	e.mu.Lock()
	pkgs := append([]*rpm.Package(nil), e.repoPkgs...)
	e.mu.Unlock()
	var binaries []*rpm.Package
	for _, p := range pkgs {
		if !p.IsSource {
			binaries = append(binaries, p)
		}
	}
	res, err := closure.Resolve(ctx, binaries, closure.Options{Platform: e.platform, Want: want, MissingOK: true, Logger: e.log})
	if err != nil {
		return nil, fmt.Errorf("BuildRequires of %s: %w", n.pkg.Name, err)
	}
	out := make([]*rpm.Package, 0, len(res.Packages))
	for _, s := range res.Packages {
		out = append(out, s.Package)
	}
	return out, nil
}

// key computes a node's cache key once its dependencies are in the repo.
func (e *Engine) key(ctx context.Context, pn *plan.Node) (string, error) {
	n := e.nodes[pn.Name]
	brs, err := e.buildRequires(ctx, n)
	if err != nil {
		return "", err
	}
	in := n.inputs
	paths := make([]string, 0, len(brs))
	for _, p := range brs {
		in.BuildRequires = append(in.BuildRequires, cache.RPM{NEVRA: p.NEVRA(), SHA256: p.SHA256, From: e.producer(p)})
		paths = append(paths, p.Path)
	}
	k := cache.Key(in)
	e.mu.Lock()
	e.keys[pn.Name] = k
	e.brs[pn.Name] = paths
	e.mu.Unlock()
	return k, nil
}

// producer names the node whose build produced p (for "dependency X
// rebuilt"), or "".
func (e *Engine) producer(p *rpm.Package) string {
	for name, n := range e.nodes {
		for _, d := range n.plan.Provides {
			if d.Name == p.Name {
				return name
			}
		}
	}
	return ""
}

// fromCache publishes a node's RPMs from the build cache when its key
// hits, returning schedule.ErrCached; nil means the node must be built.
// It also returns the node's key and the BuildRequires it resolved to.
func (e *Engine) fromCache(ctx context.Context, pn *plan.Node) (key string, brs []string, err error) {
	e.mu.Lock()
	key, brs = e.keys[pn.Name], e.brs[pn.Name]
	e.mu.Unlock()
	if key == "" {
		if key, err = e.key(ctx, pn); err != nil {
			return "", nil, err
		}
		e.mu.Lock()
		brs = e.brs[pn.Name]
		e.mu.Unlock()
	}
	if files, ok := e.store.Get(key); ok {
		if err := e.publish(ctx, e.nodes[pn.Name], files); err != nil {
			return key, brs, err
		}
		e.log.Info("cached", "package", pn.Name, "key", short(key))
		return key, brs, schedule.ErrCached
	}
	return key, brs, nil
}

// exec builds a node, or takes its RPMs from the cache.
func (e *Engine) exec(ctx context.Context, pn *plan.Node, cpus int) error {
	key, brs, err := e.fromCache(ctx, pn)
	if err != nil {
		return err
	}
	n := e.nodes[pn.Name]
	s := n.settings
	job := mockrun.Job{
		Name:          pn.Name,
		ID:            pn.Name + "-" + short(key),
		SRPM:          n.prepared.SRPM,
		ResultDir:     filepath.Join(e.workDir, "results", pn.Name, short(key)),
		LogDir:        filepath.Join(e.workDir, "logs", pn.Name),
		Jobs:          cpus,
		MemoryBytes:   int64(s.Memory),
		Defines:       s.Defines,
		With:          s.With,
		Without:       s.Without,
		BuildRequires: brs,
		LocalRepo:     e.repo.Dir,
	}
	os.RemoveAll(job.ResultDir)
	start := time.Now()
	res, err := e.builder.Build(ctx, job)
	if err != nil {
		return err
	}
	files := append(append([]string(nil), res.RPMs...), res.SRPMs...)
	e.mu.Lock()
	inputs := n.inputs
	for _, p := range e.repoPkgsByPath(brs) {
		inputs.BuildRequires = append(inputs.BuildRequires, cache.RPM{NEVRA: p.NEVRA(), SHA256: p.SHA256, From: e.producer(p)})
	}
	e.mu.Unlock()
	if err := e.store.Put(ctx, key, files, cache.Meta{Inputs: inputs, Duration: time.Since(start)}); err != nil {
		return fmt.Errorf("cache the outputs of %s: %w", pn.Name, err)
	}
	cached, ok := e.store.Get(key)
	if !ok {
		return fmt.Errorf("cache entry of %s vanished after it was written", pn.Name)
	}
	os.RemoveAll(job.ResultDir)
	return e.publish(ctx, n, cached)
}

// repoPkgsByPath returns the repo packages at paths; e.mu must be held.
func (e *Engine) repoPkgsByPath(paths []string) []*rpm.Package {
	want := map[string]bool{}
	for _, p := range paths {
		want[p] = true
	}
	var out []*rpm.Package
	for _, p := range e.repoPkgs {
		if want[p.Path] {
			out = append(out, p)
		}
	}
	return out
}

// publish puts all of a node's RPMs and SRPMs into the local repo and
// refreshes the repodata: keep/exclude decide what ships in the bundle,
// not what later builds may use (a -devel subpackage is typically
// excluded from the bundle and BuildRequired by the next package). A
// package of the same name built earlier with other content is replaced.
func (e *Engine) publish(ctx context.Context, n *node, files []string) error {
	var add []*rpm.Package
	for _, f := range files {
		p, err := rpm.ReadPackageFile(f)
		if err != nil {
			return err
		}
		add = append(add, p)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	// Drop what this node's earlier builds put there under the same file
	// name with other bytes.
	have, err := e.repo.List()
	if err != nil {
		return err
	}
	var stale []string
	for _, p := range add {
		for _, rel := range have {
			if filepath.Base(rel) != repoFileName(p) {
				continue
			}
			old := filepath.Join(e.repo.Dir, filepath.FromSlash(rel))
			if q := e.findRepoPkg(old); q == nil || q.SHA256 != p.SHA256 {
				stale = append(stale, rel)
			}
		}
	}
	if len(stale) > 0 {
		if err := e.repo.Remove(ctx, stale...); err != nil {
			return err
		}
		e.forget(stale)
	}
	paths := make([]string, len(add))
	for i, p := range add {
		paths[i] = p.Path
	}
	rels, err := e.repo.Add(ctx, paths)
	if err != nil {
		return fmt.Errorf("add the RPMs of %s to the local repo: %w", n.pkg.Name, err)
	}
	for i, rel := range rels {
		p := *add[i]
		p.Path = filepath.Join(e.repo.Dir, filepath.FromSlash(rel))
		if e.findRepoPkg(p.Path) == nil {
			e.repoPkgs = append(e.repoPkgs, &p)
		}
	}
	return e.repo.Refresh(ctx)
}

func repoFileName(p *rpm.Package) string {
	if p.IsSource {
		return fmt.Sprintf("%s-%s-%s.src.rpm", p.Name, p.EVR.Version, p.EVR.Release)
	}
	return fmt.Sprintf("%s-%s-%s.%s.rpm", p.Name, p.EVR.Version, p.EVR.Release, p.Arch)
}

func (e *Engine) findRepoPkg(path string) *rpm.Package {
	for _, p := range e.repoPkgs {
		if p.Path == path {
			return p
		}
	}
	return nil
}

func (e *Engine) forget(rels []string) {
	gone := map[string]bool{}
	for _, rel := range rels {
		gone[filepath.Join(e.repo.Dir, filepath.FromSlash(rel))] = true
	}
	kept := e.repoPkgs[:0]
	for _, p := range e.repoPkgs {
		if !gone[p.Path] {
			kept = append(kept, p)
		}
	}
	e.repoPkgs = kept
}
