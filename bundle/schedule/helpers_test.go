package schedule

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bundle-dev/bundle/bundle/plan"
	"github.com/bundle-dev/bundle/bundle/rpm"
)

// TestMain doubles as the helper process of the kill -9 and lock tests.
func TestMain(m *testing.M) {
	switch os.Getenv("SCHEDULE_TEST_HELPER") {
	case "lock":
		helperLock()
		return
	case "run":
		helperRun()
		return
	}
	os.Exit(m.Run())
}

// spec describes a test plan: node → its dependencies, and weights.
type spec struct {
	deps   map[string][]string
	weight map[string]time.Duration
}

// mkPlan builds a plan where each node provides its name and
// build-requires its dependencies' names.
func mkPlan(t testing.TB, s spec) *plan.Plan {
	t.Helper()
	p, err := buildPlan(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func buildPlan(s spec) (*plan.Plan, error) {
	var nodes []*plan.Node
	for name, deps := range s.deps {
		nd := &plan.Node{Name: name, Order: plan.OrderNormal, Weight: s.weight[name],
			Provides: []rpm.Dep{{Name: name}}}
		for _, d := range deps {
			nd.BuildRequires = append(nd.BuildRequires, rpm.Dep{Name: d})
		}
		nodes = append(nodes, nd)
	}
	return plan.New(nodes, plan.Options{})
}

// randomSpec is a random DAG of n nodes with weights in [lo, hi).
func randomSpec(n int, seed uint64, lo, hi time.Duration) spec {
	rng := rand.New(rand.NewPCG(seed, 99))
	s := spec{deps: map[string][]string{}, weight: map[string]time.Duration{}}
	for i := range n {
		name := fmt.Sprintf("n%02d", i)
		s.deps[name] = nil
		s.weight[name] = lo + time.Duration(rng.Int64N(int64(hi-lo)))
		if i > 0 {
			for k := rng.IntN(4); k > 0; k-- {
				d := fmt.Sprintf("n%02d", rng.IntN(i))
				if !slices.Contains(s.deps[name], d) {
					s.deps[name] = append(s.deps[name], d)
				}
			}
		}
	}
	return s
}

// sim is a simulated builder: it sleeps each node's weight, checks that
// the node's dependencies finished before it started, and tracks
// concurrency.
type sim struct {
	t        testing.TB
	p        *plan.Plan
	fail     map[string]bool
	mu       sync.Mutex
	finished map[string]bool
	order    []string
	jobs     int
	cpus     int
	maxJobs  int
	maxCPUs  int
	ran      map[string]int
}

func newSim(t testing.TB, p *plan.Plan, fail ...string) *sim {
	s := &sim{t: t, p: p, fail: map[string]bool{}, finished: map[string]bool{}, ran: map[string]int{}}
	for _, f := range fail {
		s.fail[f] = true
	}
	return s
}

func (s *sim) exec(ctx context.Context, n *plan.Node, cpus int) error {
	s.mu.Lock()
	for _, d := range s.p.Deps(n.Name) {
		if !s.finished[d] {
			s.t.Errorf("%s started before its dependency %s finished", n.Name, d)
		}
	}
	s.order = append(s.order, n.Name)
	s.ran[n.Name]++
	s.jobs++
	s.cpus += cpus
	s.maxJobs = max(s.maxJobs, s.jobs)
	s.maxCPUs = max(s.maxCPUs, s.cpus)
	s.mu.Unlock()
	var err error
	select {
	case <-time.After(n.Weight):
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.mu.Lock()
	s.jobs--
	s.cpus -= cpus
	if err == nil && s.fail[n.Name] {
		err = fmt.Errorf("rpmbuild %s: exit status 1", n.Name)
	}
	if err == nil {
		s.finished[n.Name] = true
	}
	s.mu.Unlock()
	return err
}

func states(sum *Summary) map[string]JobState {
	out := map[string]JobState{}
	for _, nr := range sum.Nodes {
		out[nr.Name] = nr.State
	}
	return out
}

func sortedNames(m map[string]int) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func mustContain(t *testing.T, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%q does not contain %q", s, sub)
		}
	}
}
