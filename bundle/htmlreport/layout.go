package htmlreport

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/bundle-dev/bundle/bundle/schedule"
)

// Gantt geometry, in SVG user units (pixels).
const (
	ganttLabelW = 150 // lane labels
	ganttPlotW  = 820 // the time axis
	ganttLaneH  = 26
	ganttBarH   = 18
	ganttAxisH  = 22
)

// gantt is the timeline: one lane per concurrently running job (a
// worker slot of the scheduler), or one per Slurm job.
type gantt struct {
	Width, Height int
	PlotX         int // where the time axis starts
	Lanes         []lane
	Bars          []bar
	Ticks         []tick
	// NowX is the x of "now" while the build runs (0: finished).
	NowX float64
	// Span is the time the axis covers.
	Span time.Duration
	// Jobs: some lanes are batch (Slurm) jobs.
	Jobs bool
}

type lane struct {
	Y     int
	Label string
}

type bar struct {
	X, Y, W, H float64
	State      schedule.JobState
	Name       string
	// Label is drawn inside the bar when it fits.
	Label string
	Title string
}

type tick struct {
	X     float64
	Label string
}

// interval is one job's time on the timeline.
type interval struct {
	node       *Node
	start, end time.Time
}

// intervals returns the jobs that ran in this run, by start time, and the
// timeline's origin and end. A running job ends at now.
func (r *Report) intervals(now time.Time) (out []interval, origin, end time.Time) {
	for i := range r.Nodes {
		n := &r.Nodes[i]
		if n.Started.IsZero() || n.Resumed {
			continue
		}
		e := n.Started.Add(n.Duration)
		if n.State == schedule.Building || e.Before(n.Started) {
			e = now
		}
		out = append(out, interval{n, n.Started, e})
	}
	slices.SortStableFunc(out, func(a, b interval) int {
		if c := a.start.Compare(b.start); c != 0 {
			return c
		}
		return strings.Compare(a.node.Name, b.node.Name)
	})
	origin = r.BuildStarted
	for _, iv := range out {
		if origin.IsZero() || iv.start.Before(origin) {
			origin = iv.start
		}
		if iv.end.After(end) {
			end = iv.end
		}
	}
	if !r.BuildStarted.IsZero() && r.Wall > 0 && r.BuildStarted.Add(r.Wall).After(end) {
		end = r.BuildStarted.Add(r.Wall)
	}
	return out, origin, end
}

// assignLanes gives each interval (sorted by start) the lowest worker lane
// free at its start: as many lanes as jobs ever ran at once, which is at
// most the worker count. A batch (Slurm) job is a lane of its own, named
// by its job id.
func assignLanes(ivs []interval) (lanes []int, labels []string) {
	var free []time.Time // per lane, when it becomes free; zero: a job's own lane
	workers := 0
	for _, iv := range ivs {
		if id := iv.node.JobID; id != "" {
			lanes = append(lanes, len(labels))
			labels = append(labels, "job "+id)
			free = append(free, time.Time{})
			continue
		}
		l := slices.IndexFunc(free, func(t time.Time) bool { return !t.IsZero() && !t.After(iv.start) })
		if l < 0 {
			l = len(free)
			workers++
			free = append(free, time.Time{})
			labels = append(labels, fmt.Sprintf("worker %d", workers))
		}
		free[l] = iv.end
		lanes = append(lanes, l)
	}
	return lanes, labels
}

// layoutGantt places the bars; nil when nothing ran in this run.
func (r *Report) layoutGantt(now time.Time) *gantt {
	ivs, origin, end := r.intervals(now)
	if len(ivs) == 0 {
		return nil
	}
	span := max(end.Sub(origin), time.Second)
	lanes, labels := assignLanes(ivs)
	g := &gantt{PlotX: ganttLabelW, Width: ganttLabelW + ganttPlotW + 10, Span: span}
	g.Height = ganttAxisH + len(labels)*ganttLaneH + 4
	for l, label := range labels {
		g.Lanes = append(g.Lanes, lane{Y: ganttAxisH + l*ganttLaneH, Label: label})
		g.Jobs = g.Jobs || strings.HasPrefix(label, "job ")
	}
	scale := float64(ganttPlotW) / float64(span)
	for i, iv := range ivs {
		x := float64(ganttLabelW) + float64(iv.start.Sub(origin))*scale
		w := max(float64(iv.end.Sub(iv.start))*scale, 2)
		n := iv.node
		b := bar{X: round1(x), Y: float64(ganttAxisH+lanes[i]*ganttLaneH) + (ganttLaneH-ganttBarH)/2,
			W: round1(w), H: ganttBarH, State: n.State, Name: n.Name}
		d := iv.end.Sub(iv.start)
		b.Title = fmt.Sprintf("%s: %s, %s from +%s", n.Name, n.State, schedule.FormatDuration(d), schedule.FormatDuration(iv.start.Sub(origin)))
		if n.CPUs > 0 {
			b.Title += fmt.Sprintf(", %d cpus", n.CPUs)
		}
		if n.JobID != "" {
			b.Title += ", job " + n.JobID
		}
		if label := n.Name; float64(len(label))*7+8 <= w {
			b.Label = label
		} else if label := firstRunes(n.Name, int((w-8)/7)); len(label) >= 3 {
			b.Label = label + "…"
		}
		g.Bars = append(g.Bars, b)
	}
	step := tickStep(span)
	for t := time.Duration(0); t <= span; t += step {
		g.Ticks = append(g.Ticks, tick{X: round1(float64(ganttLabelW) + float64(t)*scale), Label: schedule.FormatDuration(t)})
	}
	if r.Status.Running() {
		g.NowX = round1(float64(ganttLabelW) + float64(now.Sub(origin))*scale)
	}
	return g
}

// tickStep is a round interval giving at most 10 ticks over span.
func tickStep(span time.Duration) time.Duration {
	for _, s := range []time.Duration{
		time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
		time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
		time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour,
	} {
		if span/s <= 10 {
			return s
		}
	}
	return 24 * time.Hour * (span/(24*time.Hour)/10 + 1)
}

// criticalPath is the heaviest dependency chain of this run: by the
// jobs' durations (a running job's so far, at now) when any job ran, else
// the plan's (expected) critical path. It returns the chain, first build
// first, its duration, and whether it is this run's.
func (r *Report) criticalPath(now time.Time) ([]string, time.Duration, bool) {
	if r.Plan == nil {
		return nil, 0, false
	}
	weight := map[string]time.Duration{}
	var any bool
	for _, n := range r.Nodes {
		d := n.Duration
		if n.State == schedule.Building && !n.Started.IsZero() {
			d = now.Sub(n.Started)
		}
		if !n.Resumed && d > 0 {
			weight[n.Name] = d
			any = true
		}
	}
	if !any {
		return r.Plan.CriticalPath, time.Duration(r.Plan.CriticalPathSeconds * float64(time.Second)), false
	}
	// Plan nodes come dependencies first: one pass gives, per node, the
	// heaviest chain ending at it.
	best := map[string]time.Duration{}
	prev := map[string]string{}
	last, top := "", time.Duration(-1)
	for _, pn := range r.Plan.Nodes {
		var via string
		var w time.Duration
		for _, d := range pn.Deps {
			if b, ok := best[d.Node]; ok && (via == "" || b > w) {
				w, via = b, d.Node
			}
		}
		best[pn.Name] = w + weight[pn.Name]
		prev[pn.Name] = via
		if best[pn.Name] > top {
			last, top = pn.Name, best[pn.Name]
		}
	}
	var chain []string
	for n := last; n != ""; n = prev[n] {
		chain = append(chain, n)
	}
	slices.Reverse(chain)
	return chain, top, true
}

// DAG geometry.
const (
	dagNodeW = 150
	dagNodeH = 26
	dagColW  = 200
	dagRowH  = 36
	dagPad   = 10
)

type dag struct {
	Width, Height int
	Nodes         []dagNode
	Edges         []dagEdge
}

type dagNode struct {
	X, Y, W, H int
	Name       string
	Label      string
	State      schedule.JobState
	Critical   bool
	Title      string
}

type dagEdge struct {
	D        string // the SVG path
	Critical bool
	Order    bool // an ordering edge, not a BuildRequires
	Title    string
}

// layoutDAG places the plan's layers left to right, ordering each column
// by the barycentre of its neighbours to keep edges short.
func (r *Report) layoutDAG(critical []string) *dag {
	if r.Plan == nil || len(r.Plan.Layers) == 0 {
		return nil
	}
	layers := make([][]string, len(r.Plan.Layers))
	for i, l := range r.Plan.Layers {
		layers[i] = slices.Clone(l)
	}
	deps := map[string][]string{}
	rdeps := map[string][]string{}
	for _, pn := range r.Plan.Nodes {
		for _, d := range pn.Deps {
			deps[pn.Name] = append(deps[pn.Name], d.Node)
			rdeps[d.Node] = append(rdeps[d.Node], pn.Name)
		}
	}
	pos := map[string]float64{}
	place := func() {
		for _, l := range layers {
			for i, n := range l {
				pos[n] = float64(i) - float64(len(l)-1)/2
			}
		}
	}
	place()
	order := func(l []string, nb map[string][]string) {
		bary := map[string]float64{}
		for _, n := range l {
			var sum float64
			var k int
			for _, m := range nb[n] {
				if p, ok := pos[m]; ok {
					sum += p
					k++
				}
			}
			bary[n] = pos[n]
			if k > 0 {
				bary[n] = sum / float64(k)
			}
		}
		slices.SortStableFunc(l, func(a, b string) int { return cmp.Compare(bary[a], bary[b]) })
	}
	for range 4 {
		for i := 1; i < len(layers); i++ {
			order(layers[i], deps)
			place()
		}
		for i := len(layers) - 2; i >= 0; i-- {
			order(layers[i], rdeps)
			place()
		}
	}
	tall := 0
	for _, l := range layers {
		tall = max(tall, len(l))
	}
	d := &dag{Width: len(layers)*dagColW - (dagColW - dagNodeW) + 2*dagPad, Height: tall*dagRowH - (dagRowH - dagNodeH) + 2*dagPad}
	onPath := map[string]bool{}
	for _, n := range critical {
		onPath[n] = true
	}
	critEdge := map[[2]string]bool{}
	for i := 1; i < len(critical); i++ {
		critEdge[[2]string{critical[i], critical[i-1]}] = true
	}
	xy := map[string][2]int{}
	for c, l := range layers {
		off := (tall - len(l)) * dagRowH / 2
		for i, n := range l {
			x, y := dagPad+c*dagColW, dagPad+off+i*dagRowH
			xy[n] = [2]int{x, y}
			dn := dagNode{X: x, Y: y, W: dagNodeW, H: dagNodeH, Name: n, Label: n, Critical: onPath[n], State: schedule.Waiting}
			if len(n) > 20 {
				dn.Label = firstRunes(n, 19) + "…"
			}
			dn.Title = n
			if rn := r.Node(n); rn != nil {
				dn.State = rn.State
				dn.Title = fmt.Sprintf("%s: %s", n, rn.State)
				if rn.Duration > 0 {
					dn.Title += " in " + schedule.FormatDuration(rn.Duration)
				}
			}
			if dn.Critical {
				dn.Title += " (critical path)"
			}
			d.Nodes = append(d.Nodes, dn)
		}
	}
	for _, pn := range r.Plan.Nodes {
		to := xy[pn.Name]
		for _, dep := range pn.Deps {
			from, ok := xy[dep.Node]
			if !ok {
				continue
			}
			x1, y1 := from[0]+dagNodeW, from[1]+dagNodeH/2
			x2, y2 := to[0], to[1]+dagNodeH/2
			mx := (x1 + x2) / 2
			e := dagEdge{
				D:        fmt.Sprintf("M%d %dC%d %d,%d %d,%d %d", x1, y1, mx, y1, mx, y2, x2, y2),
				Critical: critEdge[[2]string{pn.Name, dep.Node}],
				Order:    dep.Kind == "order",
				Title:    pn.Name + " after " + dep.Node,
			}
			if len(dep.Via) > 0 {
				e.Title = pn.Name + " needs " + strings.Join(dep.Via, ", ") + " from " + dep.Node
			}
			d.Edges = append(d.Edges, e)
		}
	}
	// Critical edges last, so they are drawn on top.
	slices.SortStableFunc(d.Edges, func(a, b dagEdge) int {
		switch {
		case a.Critical == b.Critical:
			return 0
		case a.Critical:
			return 1
		}
		return -1
	})
	return d
}

func round1(f float64) float64 { return float64(int64(f*10+0.5)) / 10 }

func firstRunes(s string, n int) string {
	if n <= 0 {
		return ""
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}
