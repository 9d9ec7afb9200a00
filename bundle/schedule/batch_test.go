package schedule

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bundle-dev/bundle/bundle/plan"
)

// fakeBatch is a batch system with afterok semantics: each poll, a
// pending job whose dependencies completed starts; a running job ends
// (failing when its node is in fail); a job whose dependency failed is
// cancelled with DependencyNeverSatisfied.
type fakeBatch struct {
	mu        sync.Mutex
	next      int
	jobs      map[string]*fakeJob
	order     []string // node names in submission order
	cancelled []string
	fail      map[string]bool
	onSubmit  func(name string)
}

type fakeJob struct {
	name  string
	after []string
	state string // PENDING RUNNING COMPLETED FAILED CANCELLED
}

func newFakeBatch() *fakeBatch {
	return &fakeBatch{next: 100, jobs: map[string]*fakeJob{}, fail: map[string]bool{}}
}

func (f *fakeBatch) Submit(_ context.Context, n *plan.Node, after []string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range after {
		if f.jobs[a] == nil {
			return "", fmt.Errorf("dependency on unknown job %s", a)
		}
	}
	f.next++
	id := fmt.Sprint(f.next)
	f.jobs[id] = &fakeJob{name: n.Name, after: slices.Clone(after), state: "PENDING"}
	f.order = append(f.order, n.Name)
	if f.onSubmit != nil {
		f.onSubmit(n.Name)
	}
	return id, nil
}

// submitted are the nodes submitted, sorted.
func (f *fakeBatch) submitted() []string {
	return slices.Sorted(slices.Values(f.order))
}

func (f *fakeBatch) step() {
	for _, j := range f.jobs {
		switch j.state {
		case "RUNNING":
			j.state = "COMPLETED"
			if f.fail[j.name] {
				j.state = "FAILED"
			}
		case "PENDING":
			ready := true
			for _, a := range j.after {
				switch f.jobs[a].state {
				case "COMPLETED":
				case "FAILED", "CANCELLED":
					j.state = "CANCELLED"
				default:
					ready = false
				}
			}
			if ready && j.state == "PENDING" {
				j.state = "RUNNING"
			}
		}
	}
}

func (f *fakeBatch) Poll(_ context.Context, jobs map[string]string) (map[string]JobStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.step()
	out := map[string]JobStatus{}
	for id, name := range jobs {
		j, ok := f.jobs[id]
		if !ok || j.name != name {
			continue
		}
		st := JobStatus{Native: j.state}
		switch j.state {
		case "PENDING":
			st.State = Waiting
		case "RUNNING":
			st.State = Building
		case "COMPLETED":
			st.State, st.Key = Done, "key-"+j.name
		case "FAILED":
			st.State, st.Err = Failed, j.name+" failed\nlast lines of its log"
		case "CANCELLED":
			st.State = Skipped
		}
		out[id] = st
	}
	return out, nil
}

func (f *fakeBatch) Cancel(_ context.Context, ids []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range ids {
		if j := f.jobs[id]; j != nil && (j.state == "PENDING" || j.state == "RUNNING") {
			j.state = "CANCELLED"
		}
		f.cancelled = append(f.cancelled, id)
	}
	return nil
}

// batchOpts runs p on f; nodes in cached are taken from the cache.
func batchOpts(f *fakeBatch, st *State, cached ...string) Options {
	return Options{
		Key:   func(_ context.Context, n *plan.Node) (string, error) { return "key-" + n.Name, nil },
		State: st,
		Tick:  time.Hour,
		Batch: &BatchOptions{
			Batch: f,
			Resolve: func(_ context.Context, n *plan.Node) error {
				if slices.Contains(cached, n.Name) {
					return ErrCached
				}
				return nil
			},
			Fingerprint: func(n *plan.Node) string { return "fp-" + n.Name },
			Poll:        time.Millisecond,
		},
	}
}

func byName(s *Summary) map[string]NodeResult {
	m := map[string]NodeResult{}
	for _, nr := range s.Nodes {
		m[nr.Name] = nr
	}
	return m
}

// chain: a ← b ← c, d alone, e needs d.
var chain = spec{deps: map[string][]string{"a": nil, "b": {"a"}, "c": {"b"}, "d": nil, "e": {"d"}}}

func TestBatchOrderAndCacheHits(t *testing.T) {
	p := mkPlan(t, chain)
	f := newFakeBatch()
	st, err := OpenState(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s, err := Run(context.Background(), p, batchOpts(f, st, "d", "e"))
	if err != nil {
		t.Fatal(err)
	}
	got := byName(s)
	for name, want := range map[string]JobState{"a": Done, "b": Done, "c": Done, "d": Cached, "e": Cached} {
		if got[name].State != want {
			t.Errorf("%s: %s, want %s", name, got[name].State, want)
		}
	}
	// Cache hits never become jobs; each job waits for its dependency's.
	if !slices.Equal(f.submitted(), []string{"a", "b", "c"}) {
		t.Errorf("submitted %v, want a, b, c", f.order)
	}
	for id, j := range f.jobs {
		want := map[string]string{"a": "", "b": got["a"].JobID, "c": got["b"].JobID}[j.name]
		if strings.Join(j.after, ":") != want {
			t.Errorf("job %s (%s) after %v, want %q", id, j.name, j.after, want)
		}
	}
	e, _ := st.Get("c")
	if e.State != Done || e.JobID != got["c"].JobID || e.JobState != "COMPLETED" || e.Key != "key-c" {
		t.Errorf("state of c: %+v", e)
	}
}

func TestBatchFailureSkipsDependents(t *testing.T) {
	p := mkPlan(t, chain)
	f := newFakeBatch()
	f.fail["b"] = true
	s, err := Run(context.Background(), p, batchOpts(f, nil))
	if err == nil || !strings.Contains(err.Error(), "b") {
		t.Fatalf("err = %v, want a failure naming b", err)
	}
	got := byName(s)
	if got["b"].State != Failed || !strings.Contains(got["b"].Error, "last lines of its log") {
		t.Errorf("b: %+v", got["b"])
	}
	if got["c"].State != Skipped || !slices.Equal(got["c"].Cause, []string{"b"}) {
		t.Errorf("c: %+v", got["c"])
	}
	for _, n := range []string{"a", "d", "e"} {
		if got[n].State != Done {
			t.Errorf("%s: %s, want done", n, got[n].State)
		}
	}
	if !slices.Contains(f.cancelled, got["c"].JobID) {
		t.Errorf("c's job %s not cancelled: %v", got["c"].JobID, f.cancelled)
	}
}

func TestBatchInterruptCancelsEveryJob(t *testing.T) {
	p := mkPlan(t, chain)
	f := newFakeBatch()
	ctx, cancel := context.WithCancel(context.Background())
	f.onSubmit = func(name string) {
		if name == "c" { // the last in plan order
			cancel()
		}
	}
	dir := t.TempDir()
	st, _ := OpenState(dir)
	opts := batchOpts(f, st)
	opts.Batch.Poll = time.Hour
	s, err := Run(ctx, p, opts)
	if err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("err = %v", err)
	}
	if len(f.cancelled) != 5 {
		t.Errorf("cancelled %v, want the 5 jobs", f.cancelled)
	}
	for _, nr := range s.Nodes {
		if nr.State != Waiting || !strings.Contains(nr.Error, "cancelled") {
			t.Errorf("%s: %s %q", nr.Name, nr.State, nr.Error)
		}
		if e, _ := st.Get(nr.Name); e.JobID != "" {
			t.Errorf("%s: a cancelled job stays recorded: %+v", nr.Name, e)
		}
	}
}

func TestBatchReattach(t *testing.T) {
	p := mkPlan(t, chain)
	f := newFakeBatch()
	f.jobs["7"] = &fakeJob{name: "a", state: "RUNNING"}
	f.jobs["8"] = &fakeJob{name: "b", after: []string{"7"}, state: "PENDING"}
	f.jobs["9"] = &fakeJob{name: "d", state: "RUNNING"}
	dir := t.TempDir()
	st, _ := OpenState(dir)
	st.Set(map[string]Entry{
		"a": {State: Building, JobID: "7", Submitted: "fp-a"},
		"b": {State: Waiting, JobID: "8", Submitted: "fp-b"},
		"d": {State: Building, JobID: "9", Submitted: "fp-d-older-inputs"},
	})
	s, err := Run(context.Background(), p, batchOpts(f, st))
	if err != nil {
		t.Fatal(err)
	}
	got := byName(s)
	if got["a"].JobID != "7" || got["b"].JobID != "8" || got["a"].State != Done || got["b"].State != Done {
		t.Errorf("a and b not re-attached: %+v %+v", got["a"], got["b"])
	}
	// c, d (other inputs now) and e are submitted; the old d job is cancelled.
	if !slices.Equal(f.submitted(), []string{"c", "d", "e"}) {
		t.Errorf("submitted %v, want c, d, e", f.order)
	}
	if !slices.Contains(f.cancelled, "9") || got["d"].JobID == "9" {
		t.Errorf("the stale job 9 of d: cancelled %v, d now %s", f.cancelled, got["d"].JobID)
	}
	if j := f.jobs[got["c"].JobID]; !slices.Equal(j.after, []string{"8"}) {
		t.Errorf("c waits for %v, want b's re-attached job 8", j.after)
	}
}

func TestBatchResumesFinished(t *testing.T) {
	p := mkPlan(t, chain)
	f := newFakeBatch()
	st, _ := OpenState(t.TempDir())
	st.Set(map[string]Entry{"a": {State: Done, Key: "key-a", JobID: "3"}, "b": {State: Done, Key: "key-other"}})
	s, err := Run(context.Background(), p, batchOpts(f, st))
	if err != nil {
		t.Fatal(err)
	}
	got := byName(s)
	if !got["a"].Resumed || got["a"].JobID != "3" || got["b"].Resumed {
		t.Errorf("a resumed, b rebuilt: %+v %+v", got["a"], got["b"])
	}
	if !slices.Equal(f.submitted(), []string{"b", "c", "d", "e"}) {
		t.Errorf("submitted %v", f.order)
	}
}

type flakyBatch struct{ *fakeBatch }

func (flakyBatch) Poll(context.Context, map[string]string) (map[string]JobStatus, error) {
	return nil, errors.New("slurm_load_jobs error: Socket timed out")
}

func TestBatchGivesUpPollingButKeepsJobs(t *testing.T) {
	p := mkPlan(t, spec{deps: map[string][]string{"a": nil}})
	f := newFakeBatch()
	st, _ := OpenState(t.TempDir())
	opts := batchOpts(f, st)
	opts.Batch.Batch = flakyBatch{f}
	opts.Batch.PollFailures = 3
	_, err := Run(context.Background(), p, opts)
	if err == nil || !strings.Contains(err.Error(), "re-attach") {
		t.Fatalf("err = %v", err)
	}
	if e, _ := st.Get("a"); e.JobID == "" || len(f.cancelled) != 0 {
		t.Errorf("the job must stay recorded and running: %+v, cancelled %v", e, f.cancelled)
	}
}

func TestBatchFailFastStopsSubmitting(t *testing.T) {
	p := mkPlan(t, chain)
	f := newFakeBatch()
	opts := batchOpts(f, nil)
	opts.FailFast = true
	opts.Batch.Resolve = func(_ context.Context, n *plan.Node) error {
		if n.Name == "d" {
			return errors.New("d: key inputs unreadable")
		}
		return nil
	}
	s, err := Run(context.Background(), p, opts)
	if err == nil || !strings.Contains(err.Error(), "d") {
		t.Fatalf("err = %v", err)
	}
	// Plan order a, d, b, e, c: a was submitted, then d failed; nothing after.
	if !slices.Equal(f.submitted(), []string{"a"}) || !slices.Contains(f.cancelled, byName(s)["a"].JobID) {
		t.Errorf("submitted %v, cancelled %v: want a submitted then cancelled", f.submitted(), f.cancelled)
	}
	if st := byName(s)["b"]; st.State != Waiting || !strings.Contains(st.Error, "fail-fast") {
		t.Errorf("b: %+v", st)
	}
}
