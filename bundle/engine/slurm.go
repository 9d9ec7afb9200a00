package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/bundle-dev/bundle/bundle/atomicfile"
	"github.com/bundle-dev/bundle/bundle/plan"
	"github.com/bundle-dev/bundle/bundle/rpm"
	"github.com/bundle-dev/bundle/bundle/schedule"
	"github.com/bundle-dev/bundle/bundle/slurm"
	"github.com/bundle-dev/bundle/recipes"
)

// The executors: where the builds run.
const (
	ExecutorLocal = "local" // in this process, on this machine
	ExecutorSlurm = "slurm" // one Slurm job per package that misses the cache
)

// executor is the one in force: the option, else the recipe's, else local.
func (e *Engine) executor() string {
	for _, x := range []string{e.opts.Executor, e.recipe.Build.Executor} {
		if x != "" {
			return x
		}
	}
	return ExecutorLocal
}

// slurmExec is the slurm executor: a schedule.Batch whose jobs run
// `bundle build-job SPEC` on the cluster's nodes.
type slurmExec struct {
	e      *Engine
	p      *plan.Plan
	client *slurm.Client
	cfg    recipes.Slurm
	bin    string

	mu     sync.Mutex
	prints map[string]string // node → fingerprint of its job spec
	// published: a job finished since the local repo was last read (its
	// RPMs are there, the engine's view lacks them).
	published bool
}

// slurmExecutor checks that the nodes share what the jobs need, cancels
// the jobs a killed run left unrecorded, and returns the executor of a
// run of plan p on Slurm.
func (e *Engine) slurmExecutor(ctx context.Context, p *plan.Plan, state *schedule.State) (*slurmExec, error) {
	var cfg recipes.Slurm
	if e.recipe.Build.Slurm != nil {
		cfg = *e.recipe.Build.Slurm
	}
	if e.opts.Slurm.Partition != "" {
		cfg.Partition = e.opts.Slurm.Partition
	}
	if e.opts.Slurm.Account != "" {
		cfg.Account = e.opts.Slurm.Account
	}
	bin := e.opts.Binary
	if bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("slurm executor: the bundle binary the jobs run: %w", err)
		}
		bin = exe
	}
	bin, err := filepath.EvalSymlinks(bin)
	if err != nil {
		return nil, fmt.Errorf("slurm executor: the bundle binary the jobs run: %w", err)
	}
	if err := os.MkdirAll(e.cacheDir, 0o755); err != nil {
		return nil, fmt.Errorf("slurm executor: cache directory: %w", err)
	}
	x := &slurmExec{e: e, p: p, client: &slurm.Client{Runner: e.run}, cfg: cfg, bin: bin, prints: map[string]string{}}
	err = x.client.CheckShared(ctx, cfg.Partition, []slurm.Path{
		{What: "work directory", Path: e.workDir}, {What: "cache directory", Path: e.cacheDir}, {What: "bundle binary", Path: bin},
	})
	if err != nil {
		return nil, fmt.Errorf("slurm executor: %w", err)
	}
	if err := x.cancelOrphans(ctx, state); err != nil {
		return nil, fmt.Errorf("slurm executor: %w", err)
	}
	return x, nil
}

// configure sets the scheduler's options for a run on Slurm.
func (x *slurmExec) configure(opts *schedule.Options) {
	opts.Batch = &schedule.BatchOptions{Batch: x, Resolve: x.resolve, Fingerprint: x.fingerprint, Poll: x.e.opts.Poll}
	opts.Key = x.key
	opts.LogPath = func(pn *plan.Node) string { return x.jobLog(pn.Name) }
}

// cancelOrphans cancels the live jobs of this work directory (their
// comment) that the state file does not record: a run killed between
// sbatch's answer and the state file's next write left them. The work
// directory's lock keeps any other run from submitting for it.
func (x *slurmExec) cancelOrphans(ctx context.Context, state *schedule.State) error {
	ids, err := x.client.JobsWithComment(ctx, x.e.workDir)
	if err != nil || len(ids) == 0 {
		return err
	}
	known := map[string]bool{}
	for _, en := range state.Entries() {
		known[en.JobID] = true
	}
	var orphans []string
	for _, id := range ids {
		if !known[id] {
			orphans = append(orphans, id)
		}
	}
	if len(orphans) == 0 {
		return nil
	}
	x.e.log.Warn("cancelling jobs of this work directory that its state file does not know (left by a killed run)", "jobs", orphans)
	return x.client.Cancel(ctx, orphans)
}

// jobCPUs is a node's CPU share: its jobs, else an even share of the
// CPU budget.
func (e *Engine) jobCPUs(pn *plan.Node) int {
	if j := e.nodes[pn.Name].settings.Jobs; j > 0 {
		return j
	}
	return max(1, e.cpus()/e.workers())
}

// spec is what node pn's job needs.
func (x *slurmExec) spec(pn *plan.Node) jobSpec {
	e := x.e
	n := e.nodes[pn.Name]
	// The Provides of every node it depends on, directly or not: its
	// BuildRequires closure may install any of their RPMs.
	producers := map[string][]rpm.Dep{}
	var visit func(string)
	visit = func(name string) {
		for _, d := range x.p.Deps(name) {
			if _, ok := producers[d]; !ok {
				producers[d] = e.nodes[d].plan.Provides
				visit(d)
			}
		}
	}
	visit(pn.Name)
	// What ships (keep, exclude, build-only) is decided where the
	// bundle is assembled; it changes nothing a job does.
	settings := n.settings
	settings.Keep, settings.Exclude, settings.BuildOnly = nil, nil, false
	return jobSpec{
		Version: jobSpecVersion, Recipe: e.recipe.Name, Package: pn.Name,
		WorkDir: e.workDir, CacheDir: e.cacheDir, Platform: e.platform, ExtraPackages: e.recipe.Build.ExtraPackages,
		SRPM: n.prepared.SRPM, Inputs: n.inputs, BuildRequires: pn.BuildRequires, Settings: settings,
		CPUs: e.jobCPUs(pn), Producers: producers,
	}
}

// fingerprint is the sha256 of node pn's job spec.
func (x *slurmExec) fingerprint(pn *plan.Node) string {
	x.mu.Lock()
	defer x.mu.Unlock()
	if fp, ok := x.prints[pn.Name]; ok {
		return fp
	}
	data, _ := json.Marshal(x.spec(pn))
	sum := sha256.Sum256(data)
	fp := hex.EncodeToString(sum[:])
	x.prints[pn.Name] = fp
	return fp
}

// resolve takes a node whose dependencies are all in the repo from the
// build cache (schedule.ErrCached), or says it must be built (nil).
func (x *slurmExec) resolve(ctx context.Context, pn *plan.Node) error {
	_, _, err := x.e.fromCache(ctx, pn)
	return err
}

// key is the engine's key, computed on the local repo as it is now:
// re-read when a job published into it since.
func (x *slurmExec) key(ctx context.Context, pn *plan.Node) (string, error) {
	x.mu.Lock()
	reload := x.published
	x.published = false
	x.mu.Unlock()
	if reload {
		if err := x.e.loadRepo(ctx); err != nil {
			return "", err
		}
	}
	return x.e.key(ctx, pn)
}

func (x *slurmExec) jobDir(name string) string { return filepath.Join(x.e.workDir, "jobs", name) }

func (x *slurmExec) jobLog(name string) string {
	return filepath.Join(x.e.workDir, "logs", name, "job.log")
}

// Submit writes node pn's job spec into WORKDIR/jobs/NAME/ and submits
// `bundle build-job SPEC` after the jobs of its dependencies.
func (x *slurmExec) Submit(ctx context.Context, pn *plan.Node, after []string) (string, error) {
	spec := x.spec(pn)
	data, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return "", err
	}
	dir := x.jobDir(pn.Name)
	path := filepath.Join(dir, x.fingerprint(pn)[:16]+".json")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("job of %s: %w", pn.Name, err)
	}
	if err := atomicfile.Write(path, append(data, '\n'), 0o644); err != nil {
		return "", fmt.Errorf("job of %s: %w", pn.Name, err)
	}
	if err := os.MkdirAll(filepath.Dir(x.jobLog(pn.Name)), 0o755); err != nil {
		return "", fmt.Errorf("job of %s: %w", pn.Name, err)
	}
	id, err := x.client.Submit(ctx, slurm.Job{
		Name: "bundle:" + x.e.recipe.Name + ":" + pn.Name, CPUs: spec.CPUs, Memory: int64(spec.Settings.Memory),
		After: after, Output: x.jobLog(pn.Name), Dir: x.e.workDir, Comment: x.e.workDir,
		Partition: x.cfg.Partition, Account: x.cfg.Account, QOS: x.cfg.QOS, Time: x.cfg.Time, Extra: x.cfg.ExtraArgs,
		Command: []string{x.bin, "build-job", path},
	})
	if err != nil {
		return "", err
	}
	os.Remove(resultPath(dir, id)) // left by a job of an earlier cluster that had this id
	return id, nil
}

// Poll reads the jobs' Slurm states; a finished job's outcome comes from
// the result file it wrote.
func (x *slurmExec) Poll(ctx context.Context, jobs map[string]string) (map[string]schedule.JobStatus, error) {
	ids := make([]string, 0, len(jobs))
	for id := range jobs {
		ids = append(ids, id)
	}
	sts, err := x.client.Status(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string]schedule.JobStatus, len(jobs))
	for id, name := range jobs {
		s, known := sts[id]
		st, final := slurm.Map(s)
		if known && !final {
			out[id] = schedule.JobStatus{State: st, Native: s.State}
			continue
		}
		if known && st == schedule.Skipped {
			out[id] = schedule.JobStatus{State: st, Native: s.State}
			continue
		}
		out[id] = x.outcome(id, name, s, known)
	}
	return out, nil
}

// outcome is the final status of job id of node name.
func (x *slurmExec) outcome(id, name string, s slurm.Status, known bool) schedule.JobStatus {
	native := s.State
	if !known {
		native = "UNKNOWN"
	}
	res, rerr := readResult(resultPath(x.jobDir(name), id))
	if rerr == nil && res.Package == name && res.Error == "" && (!known || s.State == "COMPLETED") {
		x.e.mu.Lock()
		x.e.keys[name] = res.Key
		x.e.mu.Unlock()
		x.mu.Lock()
		x.published = true
		x.mu.Unlock()
		return schedule.JobStatus{State: res.State, Native: native, Key: res.Key, Started: res.Started, Duration: res.Duration}
	}
	var why []string
	switch {
	case known:
		w := "Slurm job " + id + " ended " + s.State
		if s.Reason != "" && s.Reason != "None" {
			w += " (" + s.Reason + ")"
		}
		why = append(why, w)
	default:
		why = append(why, "Slurm no longer knows job "+id)
	}
	switch {
	case rerr == nil && res.Error != "":
		why = append(why, res.Error)
	case rerr != nil:
		why = append(why, "it left no result ("+rerr.Error()+")")
	}
	msg := strings.Join(why, ": ")
	if tail := tailLines(x.jobLog(name), 30); tail != "" {
		msg += "\n--- last lines of " + x.jobLog(name) + " ---\n" + tail
	}
	st := schedule.JobStatus{State: schedule.Failed, Native: native, Err: msg}
	if rerr == nil {
		st.Started, st.Duration = res.Started, res.Duration
	}
	return st
}

// Cancel scancels the jobs.
func (x *slurmExec) Cancel(ctx context.Context, ids []string) error {
	return x.client.Cancel(ctx, ids)
}

// tailLines returns the last n lines of the file at path ("" when it
// cannot be read).
func tailLines(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
