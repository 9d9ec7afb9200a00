package slurm

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bundle-dev/bundle/bundle/plan"
	"github.com/bundle-dev/bundle/bundle/rpm"
	"github.com/bundle-dev/bundle/bundle/runner"
	"github.com/bundle-dev/bundle/bundle/schedule"
	"github.com/bundle-dev/bundle/bundle/slurm/slurmtest"
)

func clusterClient(c *slurmtest.Cluster) *Client {
	return &Client{Runner: runner.Exec{}, Env: runner.CleanEnv(c.Env...)}
}

// TestClientOnCluster submits a chain on a real single-node cluster: the
// dependent waits, a failure cancels what comes after it, states map to
// bundle's, and Cancel empties the queue.
func TestClientOnCluster(t *testing.T) {
	c := slurmtest.Start(t)
	cl := clusterClient(c)
	ctx := context.Background()
	dir := t.TempDir()
	submit := func(name string, cmd []string, hold bool, after ...string) string {
		t.Helper()
		id, err := cl.Submit(ctx, Job{Name: "bundle:test:" + name, CPUs: 1, Memory: 64 << 20, After: after, Hold: hold,
			Output: filepath.Join(dir, name+".log"), Dir: dir, Command: cmd})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	a := submit("a", []string{"sh", "-c", "echo built a"}, false)
	b := submit("b", []string{"sh", "-c", "echo failing b; exit 3"}, false, a)
	cc := submit("c", []string{"true"}, false, b)
	held := submit("held", []string{"true"}, true)
	tagged, err := cl.Submit(ctx, Job{Name: "bundle:test:tagged", Hold: true, Comment: dir, Output: "/dev/null", Command: []string{"true"}})
	if err != nil {
		t.Fatal(err)
	}
	if ids, err := cl.JobsWithComment(ctx, dir); err != nil || len(ids) != 1 || ids[0] != tagged {
		t.Errorf("JobsWithComment = %v, %v; want [%s]", ids, err, tagged)
	}

	want := map[string]schedule.JobState{a: schedule.Done, b: schedule.Failed, cc: schedule.Skipped}
	var got map[string]Status
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var err error
		if got, err = cl.Status(ctx, []string{a, b, cc, held}); err != nil {
			t.Fatal(err)
		}
		ok := true
		for id, w := range want {
			if st, _ := Map(got[id]); st != w {
				ok = false
			}
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("states never became done, failed, skipped: %+v", got)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if st, final := Map(got[held]); st != schedule.Waiting || final {
		t.Errorf("held job: %+v maps to %s", got[held], st)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "a.log")); !strings.Contains(string(data), "built a") {
		t.Errorf("a's output not in its log: %q", data)
	}
	if err := cl.Cancel(ctx, []string{held, tagged, a}); err != nil {
		t.Fatal(err)
	}
	if jobs := c.Jobs(); len(jobs) != 0 {
		t.Errorf("jobs left after cancel: %v", jobs)
	}
	if cl.Accounting(ctx) {
		t.Error("the test cluster has no accounting, Accounting says it has")
	}
	if err := cl.CheckShared(ctx, c.Partition, []Path{{What: "work directory", Path: dir}}); err != nil {
		t.Errorf("a local directory on a one-node cluster of this host: %v", err)
	}
}

// heldBatch submits held jobs running `true` and counts them.
type heldBatch struct {
	cl        *Client
	submitted atomic.Int64
	all       int
	done      func()
}

func (h *heldBatch) Submit(ctx context.Context, n *plan.Node, after []string) (string, error) {
	id, err := h.cl.Submit(ctx, Job{Name: "bundle:bench:" + n.Name, CPUs: 1, After: after, Hold: true,
		Output: "/dev/null", Command: []string{"true"}})
	if h.submitted.Add(1) == int64(h.all) {
		h.done()
	}
	return id, err
}

func (h *heldBatch) Poll(ctx context.Context, jobs map[string]string) (map[string]schedule.JobStatus, error) {
	return map[string]schedule.JobStatus{}, nil
}

func (h *heldBatch) Cancel(ctx context.Context, ids []string) error { return h.cl.Cancel(ctx, ids) }

// syntheticPlan is a random DAG of n packages, each build-requiring up to
// three earlier ones.
func syntheticPlan(b testing.TB, n int) *plan.Plan {
	rng := rand.New(rand.NewPCG(1, 2))
	var nodes []*plan.Node
	for i := range n {
		nd := &plan.Node{Name: fmt.Sprintf("p%04d", i), Order: plan.OrderNormal, Provides: []rpm.Dep{{Name: fmt.Sprintf("p%04d", i)}}}
		for k := rng.IntN(4); k > 0 && i > 0; k-- {
			nd.BuildRequires = append(nd.BuildRequires, rpm.Dep{Name: fmt.Sprintf("p%04d", rng.IntN(i))})
		}
		nodes = append(nodes, nd)
	}
	p, err := plan.New(nodes, plan.Options{})
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkSubmitPlan submits a synthetic 1,000-package plan through the
// batch scheduler to a real single-node cluster, every job held and
// after its dependencies' jobs, then cancels the run (which scancels
// them): ms/job is the submission plus cancellation cost of one job.
func BenchmarkSubmitPlan(b *testing.B) {
	const n = 1000
	c := slurmtest.Start(b)
	cl := clusterClient(c)
	p := syntheticPlan(b, n)
	var perJob []float64
	for b.Loop() {
		ctx, cancel := context.WithCancel(context.Background())
		h := &heldBatch{cl: cl, all: n, done: cancel}
		start := time.Now()
		_, err := schedule.Run(ctx, p, schedule.Options{Batch: &schedule.BatchOptions{
			Batch:       h,
			Resolve:     func(context.Context, *plan.Node) error { return nil },
			Fingerprint: func(n *plan.Node) string { return n.Name },
			Poll:        time.Hour,
		}})
		if err == nil || h.submitted.Load() != n {
			b.Fatalf("submitted %d of %d jobs (err %v)", h.submitted.Load(), n, err)
		}
		perJob = append(perJob, float64(time.Since(start).Milliseconds())/n)
		if jobs := c.Jobs(); len(jobs) != 0 {
			b.Fatalf("%d jobs left after the run was cancelled", len(jobs))
		}
	}
	sort.Float64s(perJob)
	b.ReportMetric(perJob[len(perJob)/2], "ms/job")
}
