package schedule

import (
	"bytes"
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/bundle-dev/bundle/bundle/plan"
	"github.com/bundle-dev/bundle/bundle/testenv"
)

func golden(t *testing.T, name, got string) {
	t.Helper()
	testenv.Golden(t, "testdata/"+name, []byte(got))
}

// scriptedEvents is a fixed event sequence: start, a build, a failure
// with a skipped dependent, a tick, the end.
func scriptedEvents() []Event {
	t0 := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	c := func(w, b, d, f, s int) Counts {
		return Counts{Total: 5, Waiting: w, Building: b, Done: d, Failed: f, Skipped: s}
	}
	run := []Running{{Name: "zlib", Since: at(time.Second), CPUs: 4}, {Name: "openssl", Since: at(2 * time.Second), CPUs: 2}}
	return []Event{
		{Kind: EventStart, Time: t0, Workers: 2, CPUs: 6, Counts: c(5, 0, 0, 0, 0)},
		{Kind: EventNode, Time: at(time.Second), Elapsed: time.Second, Node: "zlib", State: Building, CPUs: 4, Counts: c(4, 1, 0, 0, 0), Running: run[:1], CPUsInUse: 4, CPUsInTotal: 6},
		{Kind: EventNode, Time: at(2 * time.Second), Elapsed: 2 * time.Second, Node: "openssl", State: Building, CPUs: 2, Counts: c(3, 2, 0, 0, 0), Running: run, CPUsInUse: 6, CPUsInTotal: 6},
		{Kind: EventTick, Time: at(75 * time.Second), Elapsed: 75 * time.Second, Counts: c(3, 2, 0, 0, 0), Running: run, CPUsInUse: 6, CPUsInTotal: 6},
		{Kind: EventNode, Time: at(80 * time.Second), Elapsed: 80 * time.Second, Node: "zlib", State: Done, CPUs: 4, Duration: 79 * time.Second, Counts: c(3, 1, 1, 0, 0), Running: run[1:], CPUsInUse: 2, CPUsInTotal: 6},
		{Kind: EventNode, Time: at(90 * time.Second), Elapsed: 90 * time.Second, Node: "openssl", State: Failed, CPUs: 2, Duration: 88 * time.Second, Err: "rpmbuild: exit status 1\nlast lines", Log: "/w/logs/openssl.log", Counts: c(2, 0, 1, 1, 0), CPUsInTotal: 6},
		{Kind: EventNode, Time: at(90 * time.Second), Elapsed: 90 * time.Second, Node: "curl", State: Skipped, Cause: []string{"openssl"}, Err: "skipped: openssl failed", Counts: c(1, 0, 1, 1, 1), CPUsInTotal: 6},
		{Kind: EventNode, Time: at(91 * time.Second), Elapsed: 91 * time.Second, Node: "bzip2", State: Cached, Resumed: true, Counts: c(0, 0, 1, 1, 1), CPUsInTotal: 6},
		{Kind: EventEnd, Time: at(92 * time.Second), Elapsed: 92 * time.Second, Counts: Counts{Total: 5, Done: 1, Cached: 1, Failed: 1, Skipped: 1, Waiting: 1}, CPUsInTotal: 6},
	}
}

func TestLineViewGolden(t *testing.T) {
	var buf bytes.Buffer
	v := NewLineView(&buf)
	for _, e := range scriptedEvents() {
		v(e)
	}
	golden(t, "lineview.golden", buf.String())
}

func TestTTYViewGolden(t *testing.T) {
	t.Setenv("COLUMNS", "60")
	var buf bytes.Buffer
	v := NewTTYView(&buf)
	for _, e := range scriptedEvents() {
		v(e)
	}
	out := buf.String()
	golden(t, "ttyview.golden", out)
	for _, l := range strings.Split(strings.ReplaceAll(out, "\x1b[J", ""), "\n") {
		if i := strings.LastIndex(l, "F"); strings.HasPrefix(l, "\x1b[") && i > 0 {
			l = l[i+1:]
		}
		if n := len([]rune(l)); n > 59 {
			t.Errorf("line %q is %d runes, wider than COLUMNS-1", l, n)
		}
	}
}

func TestSummaryGolden(t *testing.T) {
	s := &Summary{
		Wall: 95 * time.Second, SerialSum: 3*time.Minute + 10*time.Second,
		Nodes: []NodeResult{
			{Name: "python3", State: Done, Duration: 2 * time.Minute, CPUs: 4},
			{Name: "zlib", State: Cached, Duration: 800 * time.Millisecond, CPUs: 2},
			{Name: "bzip2", State: Done, Resumed: true, CPUs: 2},
			{Name: "openssl", State: Failed, Duration: 69 * time.Second, CPUs: 2, Log: "/w/logs/openssl.log",
				Error: "rpmbuild: exit status 1 (full log: /w/logs/openssl.log)\n--- last lines ---\nerror: Bad exit status"},
			{Name: "curl", State: Skipped, Cause: []string{"openssl"}, Error: "skipped: openssl failed"},
			{Name: "git", State: Waiting, Error: "not started: --fail-fast after openssl failed"},
		},
	}
	var buf bytes.Buffer
	if err := s.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	golden(t, "summary.golden", buf.String())
}

func TestFmtDur(t *testing.T) {
	for d, want := range map[time.Duration]string{
		850 * time.Millisecond:            "850ms",
		42 * time.Second:                  "42s",
		3*time.Minute + 7*time.Second:     "3m07s",
		time.Hour + 2*time.Minute + 29e9:  "1h02m",
		59*time.Minute + 59*time.Second:   "59m59s",
		25*time.Hour + 30*time.Second + 1: "25h01m",
	} {
		if got := fmtDur(d); got != want {
			t.Errorf("fmtDur(%s) = %q, want %q", d, got, want)
		}
	}
}

// TestRunEvents checks the events of a real run: counts add up, every
// node is reported, ticks come while jobs run.
func TestRunEvents(t *testing.T) {
	p := mkPlan(t, spec{deps: map[string][]string{"a": nil, "b": {"a"}},
		weight: map[string]time.Duration{"a": 30 * time.Millisecond, "b": 30 * time.Millisecond}})
	var evs []Event
	s := newSim(t, p)
	_, err := Run(context.Background(), p, Options{Workers: 1, CPUs: 1, Exec: s.exec, Tick: 10 * time.Millisecond,
		Progress: func(e Event) { evs = append(evs, e) }})
	if err != nil {
		t.Fatal(err)
	}
	if evs[0].Kind != EventStart || evs[len(evs)-1].Kind != EventEnd {
		t.Fatalf("events do not start and end the run: %+v", evs)
	}
	ticks := 0
	var nodeStates []string
	for _, e := range evs {
		c := e.Counts
		if c.Waiting+c.Building+c.Done+c.Cached+c.Failed+c.Skipped != c.Total || c.Total != 2 {
			t.Errorf("counts do not add up: %+v", c)
		}
		switch e.Kind {
		case EventTick:
			ticks++
			if len(e.Running) != 1 {
				t.Errorf("tick without the running job: %+v", e)
			}
		case EventNode:
			nodeStates = append(nodeStates, e.Node+" "+string(e.State))
		}
	}
	if want := "a building,a done,b building,b done"; strings.Join(nodeStates, ",") != want {
		t.Errorf("node events %q, want %q", nodeStates, want)
	}
	if ticks == 0 {
		t.Error("no tick while jobs ran")
	}
}

// BenchmarkMakespan runs a random 40-node DAG of 20-80 ms simulated
// builds with enough workers and CPUs for every ready node, with a state
// file, and reports makespan / critical path (target ≤ 1.15).
func BenchmarkMakespan(b *testing.B) {
	sp := randomSpec(40, 11, 20*time.Millisecond, 80*time.Millisecond)
	p, err := buildPlan(sp)
	if err != nil {
		b.Fatal(err)
	}
	_, cp := p.CriticalPath()
	worst, total := 0.0, 0.0
	n := 0
	for b.Loop() {
		st, err := OpenState(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		sum, err := Run(context.Background(), p, Options{Workers: 40, CPUs: 40, State: st,
			Exec: func(ctx context.Context, nd *plan.Node, _ int) error {
				time.Sleep(nd.Weight)
				return nil
			}})
		if err != nil {
			b.Fatal(err)
		}
		r := float64(sum.Wall) / float64(cp)
		worst, total = math.Max(worst, r), total+r
		n++
	}
	b.ReportMetric(total/float64(n), "makespan/cp")
	b.ReportMetric(worst, "worst-makespan/cp")
	b.ReportMetric(float64(cp)/1e6, "cp-ms")
}
