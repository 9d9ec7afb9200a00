package schedule

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/bundle-dev/bundle/bundle/plan"
	"github.com/bundle-dev/bundle/bundle/runner"
)

func TestRunOrderingAndBudget(t *testing.T) {
	for seed := range uint64(3) {
		p := mkPlan(t, randomSpec(25, seed, 20*time.Millisecond, 50*time.Millisecond))
		s := newSim(t, p)
		sum, err := Run(context.Background(), p, Options{
			Workers: 4, CPUs: 6,
			JobCPUs: func(n *plan.Node) int { return 1 + int(n.Name[len(n.Name)-1]-'0')%4 },
			Exec:    s.exec,
		})
		if err != nil {
			t.Fatal(err)
		}
		if s.maxCPUs > 6 || s.maxJobs > 4 {
			t.Errorf("seed %d: %d jobs on %d cpus at once, limits 4 and 6", seed, s.maxJobs, s.maxCPUs)
		}
		if s.maxJobs < 2 {
			t.Errorf("seed %d: never more than one job at a time", seed)
		}
		if sum.Count(Done) != 25 || len(s.order) != 25 {
			t.Errorf("seed %d: %d done, %d executed", seed, sum.Count(Done), len(s.order))
		}
		var serial time.Duration
		for _, nr := range sum.Nodes {
			serial += nr.Duration
			if nr.Duration < p.Node(nr.Name).Weight {
				t.Errorf("%s: duration %s below its sleep", nr.Name, nr.Duration)
			}
		}
		if sum.SerialSum != serial || sum.Wall >= serial {
			t.Errorf("SerialSum %s (sum %s), Wall %s", sum.SerialSum, serial, sum.Wall)
		}
	}
}

func TestRunCPUShareClamped(t *testing.T) {
	p := mkPlan(t, spec{deps: map[string][]string{"big": nil, "small": nil}, weight: map[string]time.Duration{"big": 5 * time.Millisecond, "small": 5 * time.Millisecond}})
	got := map[string]int{}
	_, err := Run(context.Background(), p, Options{Workers: 2, CPUs: 3,
		JobCPUs: func(n *plan.Node) int {
			if n.Name == "big" {
				return 64
			}
			return 0
		},
		Exec: func(_ context.Context, n *plan.Node, cpus int) error { got[n.Name] = cpus; return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	if got["big"] != 3 || got["small"] != 1 {
		t.Errorf("shares %v, want big clamped to the budget 3 and small raised to 1", got)
	}
}

// TestRunPriority: with one worker, the ready node with the longest
// remaining critical path goes first.
func TestRunPriority(t *testing.T) {
	ms := time.Millisecond
	p := mkPlan(t, spec{
		deps:   map[string][]string{"a": nil, "b": nil, "c": {"b"}, "d": nil},
		weight: map[string]time.Duration{"a": 10 * ms, "b": 5 * ms, "c": 30 * ms, "d": 20 * ms},
	})
	s := newSim(t, p)
	if _, err := Run(context.Background(), p, Options{Workers: 1, CPUs: 1, Exec: s.exec}); err != nil {
		t.Fatal(err)
	}
	// Remaining: b 35, c 30, d 20, a 10.
	if want := []string{"b", "c", "d", "a"}; !reflect.DeepEqual(s.order, want) {
		t.Errorf("order %q, want %q", s.order, want)
	}
}

func failSpec() spec {
	ms := time.Millisecond
	return spec{
		deps: map[string][]string{"a": nil, "b": {"a"}, "c": {"b"}, "x": nil, "y": {"x", "c"}, "d": nil, "e": {"d"}},
		weight: map[string]time.Duration{"a": 10 * ms, "b": 10 * ms, "c": 10 * ms, "x": 10 * ms, "y": 10 * ms,
			"d": 60 * ms, "e": 20 * ms},
	}
}

func TestRunKeepGoing(t *testing.T) {
	p := mkPlan(t, failSpec())
	s := newSim(t, p, "a", "x")
	var events bytes.Buffer
	sum, err := Run(context.Background(), p, Options{Workers: 2, CPUs: 2, Exec: s.exec,
		LogPath:  func(n *plan.Node) string { return "/work/logs/" + n.Name + ".log" },
		Progress: NewLineView(&events)})
	if err == nil {
		t.Fatal("Run succeeded with failures")
	}
	mustContain(t, err.Error(), "2 of 7 packages failed", "a (log: /work/logs/a.log)", "3 packages not built")
	want := map[string]JobState{"a": Failed, "x": Failed, "b": Skipped, "c": Skipped, "y": Skipped, "d": Done, "e": Done}
	if got := states(sum); !reflect.DeepEqual(got, want) {
		t.Errorf("states %v, want %v", got, want)
	}
	if y := sum.Node("y"); !reflect.DeepEqual(y.Cause, []string{"a", "x"}) && !reflect.DeepEqual(y.Cause, []string{"x", "a"}) {
		t.Errorf("y skipped because of %q, want a and x", y.Cause)
	}
	if c := sum.Node("c"); !reflect.DeepEqual(c.Cause, []string{"a"}) || c.Error != "skipped: a failed" {
		t.Errorf("c: cause %q, error %q", c.Cause, c.Error)
	}
	for _, n := range []string{"b", "c", "y"} {
		if s.ran[n] != 0 {
			t.Errorf("skipped %s was executed", n)
		}
	}
	var txt bytes.Buffer
	if err := sum.WriteText(&txt); err != nil {
		t.Fatal(err)
	}
	mustContain(t, txt.String(), "Failures:", "a failed after", "full log: /work/logs/a.log", "rpmbuild a: exit status 1",
		"2 built, 0 cached, 2 failed, 3 skipped")
	mustContain(t, events.String(), "a FAILED after", "b skipped: a failed", "e done in", "finished in")
}

func TestRunFailFast(t *testing.T) {
	p := mkPlan(t, failSpec())
	// d runs long; a fails first and cancels it.
	s := newSim(t, p, "a")
	p.Node("d").Weight = 10 * time.Second
	start := time.Now()
	sum, err := Run(context.Background(), p, Options{Workers: 3, CPUs: 3, FailFast: true, Exec: s.exec})
	if err == nil {
		t.Fatal("Run succeeded")
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("fail-fast did not cancel the running job")
	}
	st := states(sum)
	if st["a"] != Failed || st["b"] != Skipped || st["d"] != Waiting || st["e"] != Waiting {
		t.Errorf("states %v", st)
	}
	mustContain(t, sum.Node("d").Error, "cancelled (--fail-fast after a failed)")
	mustContain(t, sum.Node("e").Error, "not started: --fail-fast after a failed")
	if s.ran["e"] != 0 {
		t.Error("a job started after the failure")
	}
}

func TestRunInterrupt(t *testing.T) {
	p := mkPlan(t, failSpec())
	p.Node("d").Weight = 10 * time.Second
	dir := t.TempDir()
	st, err := OpenState(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := newSim(t, p)
	time.AfterFunc(100*time.Millisecond, cancel)
	sum, err := Run(ctx, p, Options{Workers: 1, CPUs: 1, Exec: s.exec, State: st})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v does not wrap context.Canceled", err)
	}
	if got := sum.Node("d"); got.State != Waiting || !strings.Contains(got.Error, "interrupted") {
		t.Errorf("d: %s %q", got.State, got.Error)
	}
	e, _ := st.Get("d")
	if e.State != Waiting {
		t.Errorf("state file says d is %s", e.State)
	}
}

func TestRunResumeFromState(t *testing.T) {
	dir := t.TempDir()
	ms := time.Millisecond
	p := mkPlan(t, spec{deps: map[string][]string{"a": nil, "b": {"a"}, "c": {"a"}, "d": nil, "e": nil},
		weight: map[string]time.Duration{"a": ms, "b": ms, "c": ms, "d": ms, "e": ms}})
	// A run died: a done, b was building, c done under an older key, d
	// failed, e cached.
	pre := stateFile{Version: stateVersion, Nodes: map[string]Entry{
		"a": {State: Done, Key: "key-a", Duration: time.Minute},
		"b": {State: Building, Key: "key-b"},
		"c": {State: Done, Key: "old"},
		"d": {State: Failed, Key: "key-d", Error: "boom"},
		"e": {State: Cached, Key: "key-e"},
	}}
	data, _ := json.Marshal(pre)
	if err := os.WriteFile(filepath.Join(dir, StateFile), data, 0o644); err != nil {
		t.Fatal(err)
	}
	leftovers := []string{StateFile + ".tmp-123", "." + StateFile + ".tmp-456"}
	for _, l := range leftovers {
		os.WriteFile(filepath.Join(dir, l), []byte("{partial"), 0o644)
	}
	st, err := OpenState(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range leftovers {
		if _, err := os.Stat(filepath.Join(dir, l)); !os.IsNotExist(err) {
			t.Errorf("leftover temp file %s not removed", l)
		}
	}
	s := newSim(t, p)
	s.finished["a"] = true
	sum, err := Run(context.Background(), p, Options{Workers: 2, CPUs: 2, State: st, Exec: s.exec,
		Key: func(_ context.Context, n *plan.Node) (string, error) { return "key-" + n.Name, nil }})
	if err != nil {
		t.Fatal(err)
	}
	if got := sortedNames(s.ran); !reflect.DeepEqual(got, []string{"b", "c", "d"}) {
		t.Errorf("executed %q, want b c d", got)
	}
	if a := sum.Node("a"); !a.Resumed || a.State != Done || a.Duration != 0 {
		t.Errorf("a: %+v", a)
	}
	if e := sum.Node("e"); !e.Resumed || e.State != Cached {
		t.Errorf("e: %+v", e)
	}
	st2, err := OpenState(dir)
	if err != nil {
		t.Fatal(err)
	}
	for name, e := range st2.Entries() {
		if !e.State.Finished() || e.Key != "key-"+name {
			t.Errorf("state %s: %+v", name, e)
		}
	}
}

func TestRunExecProblems(t *testing.T) {
	p := mkPlan(t, spec{deps: map[string][]string{"panics": nil, "nokey": nil, "cached": nil, "logged": nil}})
	sum, err := Run(context.Background(), p, Options{Workers: 2, CPUs: 2,
		Key: func(_ context.Context, n *plan.Node) (string, error) {
			if n.Name == "nokey" {
				return "", errors.New("sha256 of zlib-devel.rpm: permission denied")
			}
			return "k", nil
		},
		Exec: func(_ context.Context, n *plan.Node, _ int) error {
			switch n.Name {
			case "panics":
				var m map[string]int
				m["x"]++
			case "cached":
				return fmt.Errorf("cache hit %s: %w", "abc", ErrCached)
			case "logged":
				return &runner.Error{Argv: []string{"mock"}, Log: "/w/logs/logged.log", Err: errors.New("exit status 30")}
			}
			return nil
		}})
	if err == nil {
		t.Fatal("no error")
	}
	mustContain(t, sum.Node("panics").Error, "panic while building panics", "assignment to entry in nil map")
	mustContain(t, sum.Node("nokey").Error, "compute the input key of nokey", "permission denied")
	if sum.Node("cached").State != Cached {
		t.Errorf("cached ended %s", sum.Node("cached").State)
	}
	if l := sum.Node("logged"); l.State != Failed || l.Log != "/w/logs/logged.log" {
		t.Errorf("logged: %+v", l)
	}
	if _, err := Run(context.Background(), p, Options{}); err == nil {
		t.Error("Run without Exec succeeded")
	}
}

func TestRunEmptyPlan(t *testing.T) {
	p := mkPlan(t, spec{deps: map[string][]string{}})
	sum, err := Run(context.Background(), p, Options{Exec: func(context.Context, *plan.Node, int) error { return nil }})
	if err != nil || len(sum.Nodes) != 0 {
		t.Errorf("empty plan: %v, %+v", err, sum)
	}
}

func TestOpenStateErrors(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, StateFile), []byte("{not json"), 0o644)
	_, err := OpenState(dir)
	if err == nil {
		t.Fatal("corrupt state accepted")
	}
	mustContain(t, err.Error(), StateFile, "delete it")
	os.WriteFile(filepath.Join(dir, StateFile), []byte(`{"version": 99, "nodes": {}}`), 0o644)
	if _, err := OpenState(dir); err == nil || !strings.Contains(err.Error(), "version 99") {
		t.Errorf("future version: %v", err)
	}
	st, err := OpenState(filepath.Join(dir, "fresh"))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Set(map[string]Entry{"a": {State: Done}}); err == nil {
		t.Error("Set into a missing directory succeeded")
	}
}
