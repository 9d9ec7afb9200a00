// Package engine is the front half of `bundle build`: from a recipe to a
// local RPM repository holding every package rebuilt, in dependency order,
// in isolated build roots, in parallel, rebuilding only what changed.
//
// The steps, in order:
//
//  1. inputs:  every source, SRPM and patch fetched into the content-addressed
//     source cache (sha256 verified); spec packages (and patched SRPMs)
//     turned into SRPMs with `rpmbuild -bs` in the build root. Each
//     prepared SRPM is kept under WORKDIR/srpms keyed by its inputs, so an
//     unchanged package is not prepared twice.
//  2. plan:    one node per package; edges from each SRPM's BuildRequires
//     matched against the Provides `rpmspec -q --provides` predicts for the
//     other nodes; python first, bootstrap packages next (bundle/plan).
//  3. build:   ready nodes run in parallel under the scheduler
//     (bundle/schedule). A node's cache key (bundle/cache) covers its
//     inputs, defines, bconds, the platform and builder definitions and the
//     exact local-repo RPMs installed as its BuildRequires; a hit puts the
//     cached RPMs in the repo without building.
//  4. repo:    WORKDIR/repo, refreshed with createrepo_c after each node
//     (bundle/localrepo); SRPMs are kept beside the RPMs.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/bundle-dev/bundle/bundle/cache"
	"github.com/bundle-dev/bundle/bundle/cachedir"
	"github.com/bundle-dev/bundle/bundle/closure"
	"github.com/bundle-dev/bundle/bundle/extract"
	"github.com/bundle-dev/bundle/bundle/localrepo"
	"github.com/bundle-dev/bundle/bundle/plan"
	"github.com/bundle-dev/bundle/bundle/rpm"
	"github.com/bundle-dev/bundle/bundle/runner"
	"github.com/bundle-dev/bundle/bundle/schedule"
	"github.com/bundle-dev/bundle/bundle/sources"
	"github.com/bundle-dev/bundle/mockrun"
	"github.com/bundle-dev/bundle/platforms"
	"github.com/bundle-dev/bundle/recipes"
)

// DefaultWorkDir is the work directory when none is given.
const DefaultWorkDir = ".bundle"

// Options configure an Engine.
type Options struct {
	Recipe   *recipes.Recipe
	Platform *platforms.Platform // default: the recipe's
	// WorkDir holds the repo, logs, state and lock (default
	// DefaultWorkDir).
	WorkDir string
	// CacheDir is the root of bundle's caches: sources/, builds/,
	// rootfs/ (default cachedir.Root()).
	CacheDir string
	// Offline forbids the network: a source missing from the cache is an
	// error.
	Offline bool
	// Workers is how many builds run at once (-j); CPUs the global CPU
	// budget. 0 means the recipe's build: settings, else the CPU count.
	Workers  int
	CPUs     int
	FailFast bool
	Runner   runner.Runner
	// Builder overrides the platform's builder (tests).
	Builder  mockrun.Builder
	Logger   *slog.Logger
	Progress func(schedule.Event)

	// Executor runs the builds: ExecutorLocal or ExecutorSlurm; ""
	// means the recipe's build.executor, else local.
	Executor string
	// Slurm's Partition and Account, when set, override the recipe's
	// build.slurm ones.
	Slurm recipes.Slurm
	// Binary is the bundle executable the Slurm jobs run (default: this
	// process's); Poll how often job states are read (default 2s).
	Binary string
	Poll   time.Duration
	// OnPlan is called by Build once the plan is made, with Explain's
	// reasons, before any build starts (the build report shows them).
	OnPlan func(p *plan.Plan, why map[string][]string)
}

// Engine holds what a build of one recipe needs.
type Engine struct {
	opts     Options
	recipe   *recipes.Recipe
	platform *platforms.Platform
	builder  mockrun.Builder
	sources  *sources.Cache
	store    *cache.Store
	repo     *localrepo.Repo
	run      runner.Runner
	log      *slog.Logger
	workDir  string
	cacheDir string

	nodes map[string]*node // by package name, after Prepare
	order []string         // package names in recipe order

	mu       sync.Mutex
	repoPkgs []*rpm.Package    // what the local repo holds, read once, kept current
	keys     map[string]string // node → cache key, once computed
	brs      map[string][]string
	outputs  map[string][]string // node → binary RPM paths in the cache entry
}

// node is one recipe package, prepared.
type node struct {
	pkg      *recipes.Package
	settings recipes.Settings
	prepared *Prepared
	inputs   cache.KeyInputs // without BuildRequires
	plan     *plan.Node
}

// New loads the platform and the builder and opens the caches and the
// local repository. It does not lock the work directory: the command
// using it does, for its whole run.
func New(opts Options) (*Engine, error) {
	if opts.Recipe == nil {
		return nil, errors.New("engine: no recipe")
	}
	e := &Engine{opts: opts, recipe: opts.Recipe, run: opts.Runner, log: opts.Logger,
		keys: map[string]string{}, brs: map[string][]string{}, outputs: map[string][]string{}}
	if e.run == nil {
		e.run = runner.Default
	}
	if e.log == nil {
		e.log = slog.Default()
	}
	e.workDir = opts.WorkDir
	if e.workDir == "" {
		e.workDir = DefaultWorkDir
	}
	abs, err := filepath.Abs(e.workDir)
	if err != nil {
		return nil, err
	}
	e.workDir = abs
	if err := os.MkdirAll(e.workDir, 0o755); err != nil {
		return nil, fmt.Errorf("work directory %s: %w", e.workDir, err)
	}
	cacheDir := opts.CacheDir
	if cacheDir == "" {
		if cacheDir, err = cachedir.Root(); err != nil {
			return nil, err
		}
	}
	e.platform = opts.Platform
	if e.platform == nil {
		if e.platform, err = e.recipe.LoadPlatform(); err != nil {
			return nil, fmt.Errorf("recipe %s: %w", e.recipe.File, err)
		}
	}
	e.sources = &sources.Cache{Dir: filepath.Join(cacheDir, "sources"), Offline: opts.Offline, Logger: e.log}
	if err := e.open(cacheDir, e.workDir, e.recipe.Build.ExtraPackages); err != nil {
		return nil, err
	}
	return e, nil
}

// open sets up the build cache, the builder (its scratch space under
// scratch) and the local repository.
func (e *Engine) open(cacheDir, scratch string, extra []string) error {
	e.cacheDir = cacheDir
	e.store = &cache.Store{Dir: filepath.Join(cacheDir, "builds"), Logger: e.log}
	e.builder = e.opts.Builder
	var err error
	if e.builder == nil {
		e.builder, err = mockrun.New(mockrun.Options{
			Platform: e.platform, WorkDir: scratch, CacheDir: cacheDir, Runner: e.run,
			ExtraPackages: extra, Logger: e.log, Extract: extractInto,
		})
		if err != nil {
			return err
		}
	}
	e.repo, err = localrepo.Open(filepath.Join(e.workDir, "repo"), e.run)
	if err != nil {
		return err
	}
	e.repo.LogDir = filepath.Join(e.workDir, "logs")
	e.repo.Logger = e.log
	return nil
}

// extractInto is the builders' extractor: the assemble stage's safe one.
func extractInto(ctx context.Context, root string, rpms []string) error {
	_, err := extract.Extract(ctx, extract.Options{Root: root, Remove: []string{}}, rpms)
	return err
}

// WorkDir is the absolute work directory.
func (e *Engine) WorkDir() string { return e.workDir }

// Repo is the local repository's directory.
func (e *Engine) Repo() string { return e.repo.Dir }

// Platform is the platform builds are for.
func (e *Engine) Platform() *platforms.Platform { return e.platform }

// BuilderDigest identifies the builder's definition (part of every build's
// cache key).
func (e *Engine) BuilderDigest() string { return e.builder.Digest() }

func (e *Engine) workers() int {
	return firstPositive(e.opts.Workers, e.recipe.Build.Jobs, runtime.NumCPU())
}

func (e *Engine) cpus() int {
	return firstPositive(e.opts.CPUs, e.recipe.Build.CPUs, runtime.NumCPU())
}

func firstPositive(xs ...int) int {
	for _, x := range xs {
		if x > 0 {
			return x
		}
	}
	return 1
}

// Prepare fetches every input and prepares every package's SRPM and its
// predicted Provides, in parallel. only, when not empty, limits the work to
// those packages (Plan adds what they depend on later).
func (e *Engine) Prepare(ctx context.Context) error {
	all := e.recipe.All()
	e.nodes = make(map[string]*node, len(all))
	e.order = e.order[:0]
	if err := e.builder.Prepare(ctx); err != nil {
		return fmt.Errorf("build root for %s: %w", e.platform.Name, err)
	}
	type res struct {
		n   *node
		err error
	}
	results := make([]res, len(all))
	sem := make(chan struct{}, e.workers())
	var wg sync.WaitGroup
	for i, p := range all {
		e.order = append(e.order, p.Name)
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				results[i] = res{err: ctx.Err()}
				return
			}
			defer func() { <-sem }()
			n, err := e.prepareNode(ctx, p, i)
			results[i] = res{n, err}
		}()
	}
	wg.Wait()
	var errs []error
	for _, r := range results {
		if r.err != nil {
			errs = append(errs, r.err)
			continue
		}
		e.nodes[r.n.pkg.Name] = r.n
	}
	return errors.Join(errs...)
}

func (e *Engine) prepareNode(ctx context.Context, p *recipes.Package, index int) (*node, error) {
	s := e.recipe.Effective(p)
	prep, err := e.prepareInputs(ctx, p, s)
	if err != nil {
		return nil, fmt.Errorf("package %s: %w", p.Name, err)
	}
	n := &node{pkg: p, settings: s, prepared: prep}
	n.inputs = cache.KeyInputs{
		Name: p.Name, SRPM: prep.SRPMDigest, Spec: prep.SpecDigest,
		Sources: prep.Sources, Patches: prep.Patches, Defines: s.Defines,
		Platform: e.platform.Digest(), Builder: e.builder.Digest(),
	}
	if len(s.With)+len(s.Without) > 0 {
		n.inputs.Bconds = map[string]bool{}
		for _, w := range s.With {
			n.inputs.Bconds[w] = true
		}
		for _, w := range s.Without {
			n.inputs.Bconds[w] = false
		}
	}
	order := plan.OrderNormal
	switch {
	case e.recipe.Python == p:
		order = plan.OrderPython
	case e.recipe.IsBootstrap(p):
		order = 1 + slices.Index(e.recipe.Bootstrap, p)
	}
	n.plan = &plan.Node{Name: p.Name, BuildRequires: prep.BuildRequires, Provides: prep.Provides, Order: order}
	if m, ok := e.store.LastMeta(p.Name); ok {
		n.plan.Weight = m.Duration
	}
	return n, nil
}

// Plan builds the DAG over the prepared packages. only, when not empty,
// keeps those packages and everything they depend on.
func (e *Engine) Plan(only []string) (*plan.Plan, error) {
	var nodes []*plan.Node
	for _, name := range e.order {
		nodes = append(nodes, e.nodes[name].plan)
	}
	p, err := plan.New(nodes, plan.Options{})
	if err != nil || len(only) == 0 {
		return p, err
	}
	keep := map[string]bool{}
	var visit func(string)
	visit = func(name string) {
		if keep[name] {
			return
		}
		keep[name] = true
		for _, d := range p.Deps(name) {
			visit(d)
		}
	}
	for _, name := range only {
		if p.Node(name) == nil {
			return nil, fmt.Errorf("package %q is not in recipe %s (it has: %v)", name, e.recipe.File, e.order)
		}
		visit(name)
	}
	nodes = nodes[:0]
	for _, name := range e.order {
		if keep[name] {
			nodes = append(nodes, e.nodes[name].plan)
		}
	}
	return plan.New(nodes, plan.Options{})
}

// Explain says which nodes will rebuild and why: `new` (never built),
// what changed in their inputs since their last build (`source changed`,
// `patch changed`, `defines changed`, `platform changed`, ...), and
// `dependency X rebuilt` for their reverse dependencies.
func (e *Engine) Explain(p *plan.Plan) map[string][]string {
	changed := map[string][]string{}
	for _, pn := range p.Nodes() {
		n := e.nodes[pn.Name]
		last, ok := e.store.Last(pn.Name)
		if !ok {
			changed[pn.Name] = []string{"new"}
			continue
		}
		last.BuildRequires = nil
		cur := n.inputs
		cur.BuildRequires = nil
		if d := cache.Diff(last, cur); len(d) > 0 {
			changed[pn.Name] = d
		}
	}
	return p.Explain(changed)
}

// Result is what a build produced.
type Result struct {
	Summary *schedule.Summary
	// Outputs are each node's binary RPMs.
	Outputs map[string][]*rpm.Package
	// Ship are the package names that go into the bundle; BuildOnly the
	// ones kept out of it (build-only nodes, and subpackages keep/exclude
	// filter out): they stay in the local repo for later builds.
	Ship      []string
	BuildOnly []string
}

// Build prepares, plans and runs the builds. The caller holds the work
// directory's lock (schedule.Lock) for its whole run, of which the builds
// are only a part. The error is non-nil when a build failed;
// Result.Summary is complete whenever the scheduler ran.
func (e *Engine) Build(ctx context.Context, only []string) (*Result, error) {
	if err := e.Prepare(ctx); err != nil {
		return nil, err
	}
	p, err := e.Plan(only)
	if err != nil {
		return nil, err
	}
	if e.opts.OnPlan != nil {
		e.opts.OnPlan(p, e.Explain(p))
	}
	if err := e.loadRepo(ctx); err != nil {
		return nil, err
	}
	state, err := schedule.OpenState(e.workDir)
	if err != nil {
		return nil, err
	}
	state.Logger = e.log
	logs := filepath.Join(e.workDir, "logs")
	opts := schedule.Options{
		Workers:  e.workers(),
		CPUs:     e.cpus(),
		FailFast: e.opts.FailFast,
		JobCPUs:  e.jobCPUs,
		Key:      e.key,
		Exec:     e.exec,
		LogPath:  func(pn *plan.Node) string { return filepath.Join(logs, pn.Name, "build.log") },
		State:    state,
		Progress: e.opts.Progress,
		Logger:   e.log,
	}
	switch x := e.executor(); x {
	case ExecutorLocal:
	case ExecutorSlurm:
		x, err := e.slurmExecutor(ctx, p, state)
		if err != nil {
			return nil, err
		}
		x.configure(&opts)
	default:
		return nil, fmt.Errorf("executor %q: want %s or %s", x, ExecutorLocal, ExecutorSlurm)
	}
	sum, runErr := schedule.Run(ctx, p, opts)
	res := &Result{Summary: sum}
	if runErr != nil {
		return res, runErr
	}
	if err := e.collect(ctx, p, res); err != nil {
		return res, err
	}
	return res, nil
}

// loadRepo reads what the local repo already holds (earlier runs).
func (e *Engine) loadRepo(ctx context.Context) error {
	pkgs, err := closure.LoadRepo(ctx, e.repo.Dir, e.log)
	if err != nil {
		return fmt.Errorf("local repo %s: %w", e.repo.Dir, err)
	}
	e.mu.Lock()
	e.repoPkgs = pkgs
	e.mu.Unlock()
	return nil
}

// collect lists each node's outputs and splits them into shipped and
// build-only package names.
func (e *Engine) collect(ctx context.Context, p *plan.Plan, res *Result) error {
	res.Outputs = map[string][]*rpm.Package{}
	ship, buildOnly := map[string]bool{}, map[string]bool{}
	for _, pn := range p.Nodes() {
		n := e.nodes[pn.Name]
		e.mu.Lock()
		key := e.keys[pn.Name]
		e.mu.Unlock()
		files, ok := e.store.Get(key)
		if !ok {
			return fmt.Errorf("package %s: its build outputs are not in the cache (key %s); run again", pn.Name, short(key))
		}
		for _, f := range files {
			pkg, err := rpm.ReadPackageFile(f)
			if err != nil {
				return err
			}
			if pkg.IsSource {
				continue
			}
			res.Outputs[pn.Name] = append(res.Outputs[pn.Name], pkg)
			if n.settings.BuildOnly || !n.settings.Keeps(pkg.Name) {
				buildOnly[pkg.Name] = true
			} else {
				ship[pkg.Name] = true
			}
		}
	}
	res.Ship = sortedSet(ship)
	res.BuildOnly = sortedSet(buildOnly)
	return nil
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func short(key string) string {
	if len(key) > 12 {
		return key[:12]
	}
	return key
}

// DefaultCacheDir is bundle's cache root (cachedir.Root).
func DefaultCacheDir() (string, error) { return cachedir.Root() }
