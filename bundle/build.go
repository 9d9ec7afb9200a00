package bundle

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/bundle-dev/bundle/bundle/audit"
	"github.com/bundle-dev/bundle/bundle/cachedir"
	"github.com/bundle-dev/bundle/bundle/engine"
	"github.com/bundle-dev/bundle/bundle/htmlreport"
	"github.com/bundle-dev/bundle/bundle/plan"
	"github.com/bundle-dev/bundle/bundle/schedule"
	"github.com/bundle-dev/bundle/bundle/sources"
	"github.com/bundle-dev/bundle/recipes"
)

// BuildOptions say how to run `bundle build`.
type BuildOptions struct {
	Recipe   *recipes.Recipe
	WorkDir  string
	CacheDir string
	Out      string // output directory (default: the recipe's output.dir)
	Offline  bool
	Workers  int
	CPUs     int
	FailFast bool
	// Only limits the build to these packages and what they depend on
	// (`bundle build-package`); no bundle is assembled then.
	Only       []string
	NoAssemble bool
	// NoTest skips `bundle test` on the new bundle; TestRootFS also runs
	// its checks inside another distribution's root filesystem.
	NoTest     bool
	TestRootFS string
	Mtime      time.Time
	// MaxFiles and MaxBytes bound what the assemble stage extracts (see
	// extract.Options).
	MaxFiles int64
	MaxBytes int64
	Logger   *slog.Logger
	Progress func(schedule.Event)
	// Executor ("local" or "slurm") and the Slurm partition and account
	// override the recipe's build.executor and build.slurm.
	Executor       string
	SlurmPartition string
	SlurmAccount   string
	// Compare says, for the build report, what changed since the bundle
	// this build replaces (the manifest at the same output path). nil
	// leaves the report without a diff. The command line passes
	// bundle/diff's, which imports this package.
	Compare func(old, new *Manifest) *htmlreport.Diff
	// NoReuse assembles and tests even when the assembled cache holds the
	// output of the same inputs; Explain prints which inputs changed.
	NoReuse bool
	Explain bool
}

// BuildResult is what `bundle build` made.
type BuildResult struct {
	Summary  *schedule.Summary `json:"summary"`
	Repo     string            `json:"repo"`
	Manifest *Manifest         `json:"manifest,omitempty"`
	Tarball  string            `json:"tarball,omitempty"`
	Test     *audit.Report     `json:"test,omitempty"`
	// Assemble says whether the assembled output was reused and which
	// inputs changed; TestReused that the test was skipped.
	Assemble   *AssembleReuse `json:"assemble,omitempty"`
	TestReused *TestReuse     `json:"test_reused,omitempty"`
	// Report is the HTML build report.
	Report string `json:"report,omitempty"`
}

// Build runs the whole pipeline: plan → builds → local repo → assemble.
func Build(ctx context.Context, o BuildOptions) (*BuildResult, error) {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	r := o.Recipe
	// One lock for the whole run: builds, assemble and test. A second run
	// on the same work directory is refused, with this one's pid, in
	// every phase.
	unlock, err := lockWorkDir(o.WorkDir, log)
	if err != nil {
		return nil, err
	}
	defer unlock()
	var rep *liveReport // the HTML report, once the engine knows the platform
	eng, err := engine.New(engine.Options{
		Recipe: r, WorkDir: o.WorkDir, CacheDir: o.CacheDir, Offline: o.Offline,
		Workers: o.Workers, CPUs: o.CPUs, FailFast: o.FailFast, Logger: log,
		Executor: o.Executor, Slurm: recipes.Slurm{Partition: o.SlurmPartition, Account: o.SlurmAccount},
		Progress: func(e schedule.Event) {
			rep.event(e)
			if o.Progress != nil {
				o.Progress(e)
			}
		},
		OnPlan: func(p *plan.Plan, why map[string][]string) { rep.planned(p, why) },
	})
	if err != nil {
		return nil, err
	}
	dir := o.Out
	if dir == "" {
		dir = r.Output.Dir.Resolved
	}
	if len(o.Only) == 0 {
		tarball := filepath.Join(dir, TarballName(r.Name, r.Version, eng.Platform().Name, r.Output.Compression))
		rep = startReport(o, eng.WorkDir(), tarball, eng.Platform().Name, log)
	}
	out, err := build(ctx, o, eng, dir, rep)
	if rep != nil {
		rep.finish(ctx, err)
		out.Report = rep.rep.HTML
	}
	return out, err
}

// build runs the builds, assemble and test, telling rep how it goes.
func build(ctx context.Context, o BuildOptions, eng *engine.Engine, dir string, rep *liveReport) (*BuildResult, error) {
	r, log := o.Recipe, o.Logger
	if log == nil {
		log = slog.Default()
	}
	res, err := eng.Build(ctx, o.Only)
	out := &BuildResult{Repo: eng.Repo()}
	if res != nil {
		out.Summary = res.Summary
		rep.built(res.Summary)
	}
	if err != nil {
		return out, err
	}
	if len(o.Only) > 0 || o.NoAssemble {
		return out, nil
	}
	rep.phase(htmlreport.Assembling)
	want := append(append([]string(nil), res.Ship...), r.Closure.Extra...)
	remove := r.Closure.Remove
	if remove == nil {
		remove = DefaultRemove
	} else {
		remove = append(append([]string(nil), DefaultRemove...), remove...)
	}
	var afterExtract []Hook
	if r.Pip != nil {
		afterExtract = append(afterExtract, pipStage(r, cacheDirOf(o), filepath.Join(eng.WorkDir(), "logs", "pip"), log))
	}
	buildPaths := []string{eng.WorkDir(), cacheDirOf(o)}
	m, reuse, err := assembleCached(ctx, o, eng, AssembleOptions{
		AfterExtract: afterExtract,
		AfterLinks:   []Hook{RelocateStage(eng.Platform(), EnvOptions(r, r.Name), buildPaths, log)},
		Repo:         eng.Repo(), Platform: eng.Platform(), Name: r.Name, Version: r.Version, TopDir: r.TopDir,
		Out: dir, WorkDir: eng.WorkDir(), Want: want, Exclude: res.BuildOnly,
		Ignore: r.Closure.IgnoreRequires, WeakDeps: r.Closure.WeakDeps, Remove: remove,
		Workers: o.Workers, Mtime: o.Mtime, Compress: r.Output.Compression,
		CatalogMax: r.Output.CatalogMax, CatalogMin: r.Output.CatalogMin, Logger: log,
		RootVar: EnvOptions(r, r.Name).RootVar, Checks: recipeChecks(r),
		Digests:  Digests{Recipe: r.Digest(), Platform: eng.Platform().Digest(), Builder: eng.BuilderDigest()},
		MaxFiles: o.MaxFiles, MaxBytes: o.MaxBytes,
	}, buildPaths)
	out.Assemble = reuse
	if err != nil {
		return out, fmt.Errorf("assemble: %w", err)
	}
	out.Manifest = m
	out.Tarball = filepath.Join(dir, m.Tarball.File)
	rep.assembled(m, out.Tarball)
	rep.reused(out.Assemble, nil)
	if o.NoTest {
		return out, nil
	}
	rep.phase(htmlreport.Testing)
	t, treuse, err := testCached(ctx, o, TestOptions{Target: out.Tarball, Platform: eng.Platform(), Recipe: r,
		RootFS: o.TestRootFS, BuildPaths: buildPaths, Logger: log}, m.Tarball.SHA256)
	out.Test, out.TestReused = t, treuse
	rep.tested(t)
	rep.reused(out.Assemble, out.TestReused)
	if err != nil {
		return out, fmt.Errorf("bundle test %s: %w", out.Tarball, err)
	}
	return out, nil
}

// PlanOptions say how to run `bundle plan`.
type PlanOptions struct {
	Recipe   *recipes.Recipe
	WorkDir  string
	CacheDir string
	Offline  bool
	Explain  bool
	JSON     bool
	Logger   *slog.Logger
}

// Plan prepares the recipe's packages (fetching sources and making SRPMs
// as needed) and prints the plan: layers, critical path and, with Explain,
// which packages will rebuild and why.
func Plan(ctx context.Context, o PlanOptions, w io.Writer) error {
	// Preparing writes SRPMs into the work directory.
	unlock, err := lockWorkDir(o.WorkDir, o.Logger)
	if err != nil {
		return err
	}
	defer unlock()
	eng, err := engine.New(engine.Options{Recipe: o.Recipe, WorkDir: o.WorkDir, CacheDir: o.CacheDir, Offline: o.Offline, Logger: o.Logger})
	if err != nil {
		return err
	}
	if err := eng.Prepare(ctx); err != nil {
		return err
	}
	p, err := eng.Plan(nil)
	if err != nil {
		return err
	}
	var reasons map[string][]string
	if o.Explain {
		reasons = eng.Explain(p)
	}
	if o.JSON {
		return p.WriteJSON(w, reasons)
	}
	return p.WriteText(w, reasons)
}

// Fetch downloads every input of a recipe into the source cache under
// cacheDir (default $BUNDLE_CACHE, else ~/.cache/bundle) and returns the
// cached paths.
func Fetch(ctx context.Context, r *recipes.Recipe, cacheDir string, offline bool, workers int, log *slog.Logger) ([]string, error) {
	if cacheDir == "" {
		var err error
		if cacheDir, err = cachedir.Root(); err != nil {
			return nil, err
		}
	}
	c := &sources.Cache{Dir: filepath.Join(cacheDir, "sources"), Offline: offline, Logger: log}
	return engine.Fetch(ctx, r, c, max(1, workers))
}

// lockWorkDir takes the work directory's lock (see schedule.Lock) for a
// whole command.
func lockWorkDir(dir string, log *slog.Logger) (func(), error) {
	if dir == "" {
		dir = engine.DefaultWorkDir
	}
	return schedule.Lock(dir, log)
}
