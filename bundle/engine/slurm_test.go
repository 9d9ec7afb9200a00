package engine

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bundle-dev/bundle/bundle/runner"
	"github.com/bundle-dev/bundle/bundle/schedule"
)

// fakeSlurm answers sbatch, squeue, scancel, sinfo and scontrol like a
// one-node cluster of this host with afterok semantics, running each
// job's `bundle build-job SPEC` in-process with the test builder when
// squeue is asked and its dependencies completed; every other command
// really runs.
type fakeSlurm struct {
	t       *testing.T
	builder *hostBuilder
	mu      sync.Mutex
	next    int
	jobs    map[string]*fakeJob
	order   []string // package names, in submission order
}

type fakeJob struct {
	name, spec, state string
	after             []string
}

func (f *fakeSlurm) Run(ctx context.Context, c runner.Cmd) (runner.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := c.Stdout
	if out == nil {
		out = io.Discard
	}
	switch c.Name {
	case "sinfo":
		host, _ := os.Hostname()
		fmt.Fprintf(out, "%s|%s\n", host, host)
	case "scontrol":
		fmt.Fprintln(out, "AccountingStorageType   = accounting_storage/none")
	case "sbatch":
		j := &fakeJob{state: "PENDING"}
		for _, a := range c.Args {
			switch {
			case strings.HasPrefix(a, "--job-name=bundle:t:"):
				j.name = strings.TrimPrefix(a, "--job-name=bundle:t:")
			case strings.HasPrefix(a, "--dependency=afterok:"):
				j.after = strings.Split(strings.TrimPrefix(a, "--dependency=afterok:"), ":")
			case strings.HasPrefix(a, "--wrap="):
				f := strings.Fields(a)
				j.spec = f[len(f)-1]
			}
		}
		f.next++
		id := fmt.Sprint(f.next)
		f.jobs[id] = j
		f.order = append(f.order, j.name)
		fmt.Fprintln(out, id)
	case "squeue":
		if slices.Contains(c.Args, "--me") {
			return runner.Result{}, nil // no orphans
		}
		f.step(ctx)
		ids := strings.Split(c.Args[slices.Index(c.Args, "-j")+1], ",")
		for _, id := range ids {
			if j, ok := f.jobs[id]; ok {
				reason := "None"
				if j.state == "CANCELLED" {
					reason = "DependencyNeverSatisfied"
				}
				fmt.Fprintf(out, "%s|%s|%s\n", id, j.state, reason)
			}
		}
	case "scancel":
		for _, id := range c.Args {
			if j, ok := f.jobs[id]; ok && j.state == "PENDING" {
				j.state = "CANCELLED"
			}
		}
	default:
		return runner.Exec{}.Run(ctx, c)
	}
	return runner.Result{}, nil
}

// step runs, in id order, every pending job whose dependencies completed.
func (f *fakeSlurm) step(ctx context.Context) {
	for i := 1; i <= f.next; i++ {
		id := fmt.Sprint(i)
		j := f.jobs[id]
		if j.state != "PENDING" {
			continue
		}
		ready := true
		for _, a := range j.after {
			switch f.jobs[a].state {
			case "COMPLETED":
			case "FAILED", "CANCELLED":
				j.state, ready = "CANCELLED", false
			default:
				ready = false
			}
		}
		if !ready {
			continue
		}
		j.state = "COMPLETED"
		if err := runJobFile(ctx, j.spec, id, runner.Exec{}, slog.New(slog.DiscardHandler), f.builder); err != nil {
			j.state = "FAILED"
		}
	}
}

func (f *fakeSlurm) submitted() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	o := slices.Clone(f.order)
	f.order = nil
	slices.Sort(o)
	return o
}

// afterOf is the package names job name waited for.
func (f *fakeSlurm) afterOf(name string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, j := range f.jobs {
		if j.name == name {
			out = nil
			for _, a := range j.after {
				out = append(out, f.jobs[a].name)
			}
		}
	}
	return out
}

func slurmEngine(t *testing.T, dir, work, cache string, f *fakeSlurm) *Engine {
	t.Helper()
	e := newTestEngine(t, loadRecipe(t, dir, ""), work, cache, f.builder)
	e.opts.Executor, e.opts.Runner, e.run = ExecutorSlurm, f, f
	e.opts.Binary, e.opts.Poll = "/bin/true", 5*time.Millisecond
	return e
}

// The slurm executor on the four-package recipe, with a fake Slurm that
// runs the jobs' build-job in-process: one job per package after its
// dependencies' jobs, cache hits never submitted, early cut-off inside
// the jobs, and the local executor's outputs.
func TestSlurmExecutor(t *testing.T) {
	ctx, dir, cache := fourPackages(t)
	f := &fakeSlurm{t: t, builder: &hostBuilder{}, jobs: map[string]*fakeJob{}}

	e := slurmEngine(t, dir, filepath.Join(dir, "w1"), cache, f)
	res, err := e.Build(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.submitted(); strings.Join(got, ",") != "alpha,beta,delta,gamma" {
		t.Fatalf("submitted %v", got)
	}
	for name, want := range map[string]string{"alpha": "", "beta": "alpha", "gamma": "beta", "delta": ""} {
		if got := strings.Join(f.afterOf(name), ","); got != want {
			t.Errorf("%s's job waited for %q, want %q", name, got, want)
		}
	}
	if got := f.builder.reset(); strings.Join(got, ",") != "alpha,beta,delta,gamma" {
		t.Errorf("built %v", got)
	}
	if strings.Join(res.Ship, ",") != "alpha,beta,delta,gamma" {
		t.Errorf("ship %v", res.Ship)
	}
	for _, nr := range res.Summary.Nodes {
		if nr.State != schedule.Done || nr.JobID == "" || nr.JobState != "COMPLETED" {
			t.Errorf("%s: %+v", nr.Name, nr)
		}
	}

	// A new work directory, same cache: every hit is resolved here, no job.
	e = slurmEngine(t, dir, filepath.Join(dir, "w2"), cache, f)
	res, err = e.Build(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.submitted(); len(got) != 0 || res.Summary.Count(schedule.Cached) != 4 {
		t.Fatalf("fully cached run submitted %v; cached %d", got, res.Summary.Count(schedule.Cached))
	}

	// A comment in alpha's spec: alpha rebuilds to the same bytes; beta
	// and gamma, queued after it, find their keys in the cache on the
	// node (early cut-off) and build nothing; delta is kept.
	writeSpec(t, dir, "alpha", "v2")
	e = slurmEngine(t, dir, filepath.Join(dir, "w1"), cache, f)
	res, err = e.Build(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.submitted(); strings.Join(got, ",") != "alpha,beta,gamma" {
		t.Errorf("submitted %v, want alpha, beta, gamma", got)
	}
	if got := f.builder.reset(); strings.Join(got, ",") != "alpha" {
		t.Errorf("built %v, want only alpha", got)
	}
	want := map[string]schedule.JobState{"alpha": schedule.Done, "beta": schedule.Cached, "gamma": schedule.Cached, "delta": schedule.Done}
	for _, nr := range res.Summary.Nodes {
		if nr.State != want[nr.Name] || (nr.Name == "delta") != nr.Resumed {
			t.Errorf("%s: %s resumed=%v, want %s", nr.Name, nr.State, nr.Resumed, want[nr.Name])
		}
	}

	// A failing job: its dependents are skipped, their jobs cancelled.
	writeSpec(t, dir, "alpha", "v3")
	f.builder.failOn = "alpha"
	e = slurmEngine(t, dir, filepath.Join(dir, "w1"), cache, f)
	res, err = e.Build(ctx, nil)
	if err == nil || !strings.Contains(err.Error(), "alpha") {
		t.Fatalf("err = %v, want alpha's failure", err)
	}
	if n := res.Summary.Node("alpha"); n.State != schedule.Failed || !strings.Contains(n.Error, "build failed on purpose") {
		t.Errorf("alpha: %+v", n)
	}
	for _, n := range []string{"beta", "gamma"} {
		if nr := res.Summary.Node(n); nr.State != schedule.Skipped {
			t.Errorf("%s: %s, want skipped", n, nr.State)
		}
	}
}

func TestReadJobSpec(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"unknown-field": `{"version": 1, "package": "a", "surprise": true}`,
		"old-version":   `{"version": 0, "package": "a"}`,
		"incomplete":    `{"version": 1, "package": "a"}`,
		"not-json":      `{`,
	} {
		p := filepath.Join(dir, name+".json")
		os.WriteFile(p, []byte(body), 0o644)
		if _, err := readJobSpec(p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
