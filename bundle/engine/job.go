package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/bundle-dev/bundle/bundle/atomicfile"
	"github.com/bundle-dev/bundle/bundle/cache"
	"github.com/bundle-dev/bundle/bundle/plan"
	"github.com/bundle-dev/bundle/bundle/rpm"
	"github.com/bundle-dev/bundle/bundle/runner"
	"github.com/bundle-dev/bundle/bundle/schedule"
	"github.com/bundle-dev/bundle/mockrun"
	"github.com/bundle-dev/bundle/platforms"
	"github.com/bundle-dev/bundle/recipes"
)

// jobSpecVersion changes whenever jobSpec changes meaning.
const jobSpecVersion = 1

// jobSpec is everything a batch job needs to build one package without
// the recipe: the submitting run writes it into WORKDIR/jobs/NAME/ and
// `bundle build-job SPEC` reads it on a node.
type jobSpec struct {
	Version       int                  `json:"version"`
	Recipe        string               `json:"recipe"`
	Package       string               `json:"package"`
	WorkDir       string               `json:"workdir"`
	CacheDir      string               `json:"cache_dir"`
	Platform      *platforms.Platform  `json:"platform"`
	ExtraPackages []string             `json:"extra_packages,omitempty"`
	SRPM          string               `json:"srpm"`
	Inputs        cache.KeyInputs      `json:"inputs"` // without BuildRequires
	BuildRequires []rpm.Dep            `json:"build_requires,omitempty"`
	Settings      recipes.Settings     `json:"settings"`
	CPUs          int                  `json:"cpus"`
	Producers     map[string][]rpm.Dep `json:"producers,omitempty"` // node → Provides, of the nodes it depends on
}

// jobResult is what a job reports, in WORKDIR/jobs/NAME/result-ID.json.
type jobResult struct {
	Package string            `json:"package"`
	JobID   string            `json:"job_id"`
	Host    string            `json:"host"`
	State   schedule.JobState `json:"state"` // done, cached or failed
	Key     string            `json:"key,omitempty"`
	Error   string            `json:"error,omitempty"`
	// Started is when the job began, Duration how long it took.
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration"`
}

func resultPath(dir, id string) string { return filepath.Join(dir, "result-"+id+".json") }

func readResult(path string) (*jobResult, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r jobResult
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	switch r.State {
	case schedule.Done, schedule.Cached, schedule.Failed:
	default:
		return nil, fmt.Errorf("%s: state %q", path, r.State)
	}
	return &r, nil
}

// RunJob is `bundle build-job SPEC`, what a Slurm job runs: it builds the
// one package spec describes on this node — its BuildRequires resolved
// against the shared local repository now that its dependencies' jobs
// finished, then the build cache, then the sandbox — publishes the RPMs
// into the shared build cache and local repository (under their locks),
// and writes its result beside the spec. A key that hits the cache (a
// dependency rebuilt into the same bytes: early cut-off) publishes the
// cached RPMs without building. The builder's scratch space is under
// $TMPDIR, local to the node.
func RunJob(ctx context.Context, specPath string, run runner.Runner, log *slog.Logger) error {
	id := os.Getenv("SLURM_JOB_ID")
	if id == "" {
		id = "local"
	}
	return runJobFile(ctx, specPath, id, run, log, nil)
}

// runJobFile is RunJob as job id; builder, when set, replaces the
// platform's (tests).
func runJobFile(ctx context.Context, specPath, id string, run runner.Runner, log *slog.Logger, builder mockrun.Builder) error {
	if log == nil {
		log = slog.Default()
	}
	if run == nil {
		run = runner.Default
	}
	host, _ := os.Hostname()
	start := time.Now()
	spec, err := readJobSpec(specPath)
	if err != nil {
		return err
	}
	log.Info("build job", "package", spec.Package, "recipe", spec.Recipe, "job", id, "host", host)
	key, err := runJob(ctx, spec, id, run, log, builder)
	res := jobResult{Package: spec.Package, JobID: id, Host: host, Key: key, State: schedule.Done, Started: start.UTC(), Duration: time.Since(start)}
	switch {
	case errors.Is(err, schedule.ErrCached):
		res.State, err = schedule.Cached, nil
	case err != nil:
		res.State, res.Error = schedule.Failed, err.Error()
	}
	data, _ := json.MarshalIndent(res, "", "  ")
	if werr := atomicfile.Write(resultPath(filepath.Dir(specPath), id), append(data, '\n'), 0o644); werr != nil {
		return errors.Join(err, fmt.Errorf("job result: %w", werr))
	}
	if err == nil {
		log.Info("build job finished", "package", spec.Package, "state", res.State, "key", short(key), "duration", res.Duration.Round(time.Millisecond))
	}
	return err
}

func readJobSpec(path string) (*jobSpec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("job spec: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var s jobSpec
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("job spec %s: %w", path, err)
	}
	if s.Version != jobSpecVersion {
		return nil, fmt.Errorf("job spec %s: version %d, this bundle reads version %d (the jobs must run the binary that submitted them)", path, s.Version, jobSpecVersion)
	}
	if s.Package == "" || s.Platform == nil || s.WorkDir == "" || s.CacheDir == "" || s.SRPM == "" {
		return nil, fmt.Errorf("job spec %s: package, platform, workdir, cache_dir and srpm are required", path)
	}
	return &s, nil
}

// runJob builds spec's package and returns its cache key; the error is
// schedule.ErrCached when the outputs came from the cache.
func runJob(ctx context.Context, spec *jobSpec, id string, run runner.Runner, log *slog.Logger, builder mockrun.Builder) (string, error) {
	e := &Engine{opts: Options{Runner: run, Logger: log, Builder: builder}, run: run, log: log, workDir: spec.WorkDir, platform: spec.Platform,
		keys: map[string]string{}, brs: map[string][]string{}, outputs: map[string][]string{}}
	scratch := filepath.Join(os.TempDir(), "bundle-job-"+id)
	defer os.RemoveAll(scratch)
	if err := e.open(spec.CacheDir, scratch, spec.ExtraPackages); err != nil {
		return "", err
	}
	if d := e.platform.Digest(); d != spec.Inputs.Platform {
		return "", fmt.Errorf("platform %s reads differently here (digest %s, submitted with %s): the jobs must run the binary that submitted them", e.platform.Name, short(d), short(spec.Inputs.Platform))
	}
	if d := e.builder.Digest(); d != spec.Inputs.Builder {
		return "", fmt.Errorf("the %s builder of this node differs from the submitting machine's (digest %s, submitted with %s): give the nodes the same build tools", e.builder.Kind(), short(d), short(spec.Inputs.Builder))
	}
	if err := e.builder.Prepare(ctx); err != nil {
		return "", fmt.Errorf("build root for %s: %w", e.platform.Name, err)
	}
	pn := &plan.Node{Name: spec.Package, BuildRequires: spec.BuildRequires}
	e.nodes = map[string]*node{spec.Package: {
		pkg: &recipes.Package{Name: spec.Package}, settings: spec.Settings,
		prepared: &Prepared{SRPM: spec.SRPM}, inputs: spec.Inputs, plan: pn,
	}}
	for name, provides := range spec.Producers {
		e.nodes[name] = &node{pkg: &recipes.Package{Name: name}, plan: &plan.Node{Name: name, Provides: provides}}
	}
	if err := e.loadRepo(ctx); err != nil {
		return "", err
	}
	err := e.exec(ctx, pn, spec.CPUs)
	e.mu.Lock()
	key := e.keys[spec.Package]
	e.mu.Unlock()
	return key, err
}
