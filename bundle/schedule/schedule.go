// Package schedule runs a build plan: ready packages build in parallel
// within a worker count and a global CPU budget, the longest remaining
// critical path first; a failure skips its dependents and, by default, the
// rest goes on. Job states are persisted in WORKDIR/state.json so a killed
// run resumes without redoing finished work, and Lock keeps two runs out
// of one work directory.
package schedule

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/bundle-dev/bundle/bundle/plan"
	"github.com/bundle-dev/bundle/bundle/runner"
	"log/slog"
)

// ErrCached is returned (possibly wrapped) by Options.Exec to report that
// the node's outputs were taken from the cache instead of being built; the
// node is then Cached rather than Done.
var ErrCached = errors.New("outputs taken from the build cache")

// Options configure Run.
type Options struct {
	// Workers is the most jobs running at once (-j); ≤ 0 means the
	// number of CPUs.
	Workers int
	// CPUs is the global CPU budget: the CPU shares of running jobs never
	// add up to more. ≤ 0 means the number of CPUs.
	CPUs int
	// JobCPUs gives a node's CPU share (its %_smp_mflags), clamped to
	// 1..CPUs. nil means max(1, CPUs/Workers) for every node.
	JobCPUs func(n *plan.Node) int
	// FailFast cancels running jobs and starts nothing new after the
	// first failure. By default the run keeps going and only the failed
	// node's dependents are skipped.
	FailFast bool
	// Exec builds a node (or takes it from the cache and returns
	// ErrCached) with cpus CPUs. It must return promptly when ctx is
	// cancelled. Required.
	Exec func(ctx context.Context, n *plan.Node, cpus int) error
	// Key computes the node's input key when its dependencies are done.
	// A node the State records as Done or Cached under the same non-empty
	// key is not run again. nil disables resuming.
	Key func(ctx context.Context, n *plan.Node) (string, error)
	// LogPath gives the node's build log, reported in the summary. When
	// nil, the log of a failed job is taken from its *runner.Error.
	LogPath func(n *plan.Node) string
	// State persists job states; nil keeps them in memory only.
	State *State
	// Progress receives events, one at a time, from the goroutine that
	// called Run. It must not block for long.
	Progress func(Event)
	// Logger receives what a batch run does with its jobs (nil:
	// slog.Default()).
	Logger *slog.Logger
	// Tick is the interval of EventTick events while jobs run (live
	// views refresh their clocks on them); 0 means one second.
	Tick time.Duration

	// Batch, when set, runs the builds as jobs of a batch system (Slurm)
	// instead of Exec: see Batch and BatchOptions. Workers and CPUs
	// are then the batch system's business.
	Batch *BatchOptions
}

// Run executes the plan and reports every node's outcome. The error is
// nil only when every node ended Done or Cached; the Summary is complete
// in every case (also on cancellation, after running jobs returned).
func Run(ctx context.Context, p *plan.Plan, opts Options) (*Summary, error) {
	if p == nil || (opts.Exec == nil && opts.Batch == nil) {
		return nil, errors.New("schedule: Run needs a plan and Options.Exec or Options.Batch")
	}
	r := newRun(ctx, p, opts)
	if opts.Batch != nil {
		return r.runBatch()
	}
	return r.run()
}

type job struct {
	k     int
	cpus  int
	start time.Time
}

type msgKind int

const (
	msgStarted msgKind = iota
	msgFinished
)

type message struct {
	kind    msgKind
	k       int
	key     string
	start   time.Time
	dur     time.Duration
	err     error
	resumed *Entry
}

type runState struct {
	ctx        context.Context
	jobCtx     context.Context
	cancelJobs context.CancelFunc
	p          *plan.Plan
	opts       Options
	nodes      []*plan.Node
	idx        map[string]int
	dependents [][]int
	pending    []int
	prio       []time.Duration
	res        []NodeResult
	ready      readyQueue
	running    map[int]*job
	usedCPUs   int
	msgs       chan message
	stopping   string // why nothing new starts ("" = running normally)
	start      time.Time
	stateErr   error
}

func newRun(ctx context.Context, p *plan.Plan, opts Options) *runState {
	if opts.CPUs <= 0 {
		opts.CPUs = runtime.NumCPU()
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.NumCPU()
	}
	if opts.Tick <= 0 {
		opts.Tick = time.Second
	}
	nodes := p.Nodes()
	r := &runState{
		ctx: ctx, p: p, opts: opts, nodes: nodes,
		idx:        make(map[string]int, len(nodes)),
		dependents: make([][]int, len(nodes)),
		pending:    make([]int, len(nodes)),
		prio:       make([]time.Duration, len(nodes)),
		res:        make([]NodeResult, len(nodes)),
		running:    map[int]*job{},
		msgs:       make(chan message, 2*len(nodes)+1),
	}
	r.jobCtx, r.cancelJobs = context.WithCancel(ctx)
	for k, nd := range nodes {
		r.idx[nd.Name] = k
	}
	for k, nd := range nodes {
		r.pending[k] = len(p.Deps(nd.Name))
		for _, d := range p.Dependents(nd.Name) {
			r.dependents[k] = append(r.dependents[k], r.idx[d])
		}
		r.prio[k] = p.Remaining(nd.Name)
		r.res[k] = NodeResult{Name: nd.Name, State: Waiting}
	}
	r.ready = readyQueue{prio: r.prio}
	return r
}

// share is node k's CPU share.
func (r *runState) share(k int) int {
	c := max(1, r.opts.CPUs/r.opts.Workers)
	if r.opts.JobCPUs != nil {
		c = r.opts.JobCPUs(r.nodes[k])
	}
	return min(max(c, 1), r.opts.CPUs)
}

func (r *runState) run() (*Summary, error) {
	r.start = time.Now()
	defer r.cancelJobs()
	for k := range r.nodes {
		if r.pending[k] == 0 {
			heap.Push(&r.ready, k)
		}
	}
	r.emit(Event{Kind: EventStart, Workers: r.opts.Workers, CPUs: r.opts.CPUs})
	tick := time.NewTicker(r.opts.Tick)
	defer tick.Stop()
	done := r.ctx.Done()
	for {
		if r.stopping == "" && r.ctx.Err() == nil {
			r.dispatch()
		}
		if len(r.running) == 0 {
			break
		}
		select {
		case m := <-r.msgs:
			r.handle(m)
		case <-done:
			done = nil
			if r.stopping == "" {
				r.stopping = "interrupted: " + context.Cause(r.ctx).Error()
			}
		case <-tick.C:
			r.emit(Event{Kind: EventTick})
		}
	}
	return r.finish()
}

// finish says why waiting nodes did not start, flushes the state file,
// and sums the run up.
func (r *runState) finish() (*Summary, error) {
	if r.stopping == "" && r.ctx.Err() != nil {
		r.stopping = "interrupted: " + context.Cause(r.ctx).Error()
	}
	for k := range r.res {
		if r.res[k].State == Waiting && r.res[k].Error == "" {
			if r.stopping != "" {
				r.res[k].Error = "not started: " + r.stopping
			} else {
				r.res[k].Error = "not started: its dependencies did not finish"
			}
		}
	}
	if r.opts.State != nil {
		r.stateErr = r.opts.State.Flush()
	}
	s := &Summary{Nodes: r.res, Wall: time.Since(r.start)}
	for _, nr := range r.res {
		if !nr.Resumed {
			s.SerialSum += nr.Duration
		}
	}
	r.emit(Event{Kind: EventEnd})
	return s, r.err(s)
}

// err summarizes what went wrong, or nil.
func (r *runState) err(s *Summary) error {
	var failed, other []string
	for _, nr := range s.Nodes {
		switch nr.State {
		case Done, Cached:
		case Failed:
			msg := nr.Name
			if nr.Log != "" {
				msg += " (log: " + nr.Log + ")"
			}
			failed = append(failed, msg)
		default:
			other = append(other, nr.Name)
		}
	}
	var errs []error
	if len(failed) > 0 {
		errs = append(errs, fmt.Errorf("%d of %d packages failed: %s", len(failed), len(s.Nodes), strings.Join(failed, ", ")))
	}
	if len(other) > 0 {
		errs = append(errs, fmt.Errorf("%d packages not built (skipped or not started)", len(other)))
	}
	if r.ctx.Err() != nil {
		errs = append(errs, fmt.Errorf("build interrupted: %w", context.Cause(r.ctx)))
	}
	if r.stateErr != nil {
		errs = append(errs, fmt.Errorf("the state file could not be kept up to date, a resumed run may redo work: %w", r.stateErr))
	}
	return errors.Join(errs...)
}

// dispatch starts the highest-priority ready nodes that fit the worker
// and CPU limits.
func (r *runState) dispatch() {
	var held []int
	for len(r.running) < r.opts.Workers && r.ready.Len() > 0 {
		k := heap.Pop(&r.ready).(int)
		c := r.share(k)
		if r.usedCPUs+c > r.opts.CPUs {
			held = append(held, k)
			continue
		}
		r.startJob(k, c)
	}
	for _, k := range held {
		heap.Push(&r.ready, k)
	}
}

func (r *runState) startJob(k, cpus int) {
	j := &job{k: k, cpus: cpus, start: time.Now()}
	r.running[k] = j
	r.usedCPUs += cpus
	nd := r.nodes[k]
	var prev *Entry
	if r.opts.State != nil {
		if e, ok := r.opts.State.Get(nd.Name); ok {
			prev = &e
		}
	}
	logPath := ""
	if r.opts.LogPath != nil {
		logPath = r.opts.LogPath(nd)
	}
	r.res[k].Log = logPath
	r.res[k].CPUs = cpus
	go r.work(k, cpus, prev, logPath)
}

// work runs in the job's goroutine: key, resume check, building state,
// Exec.
func (r *runState) work(k, cpus int, prev *Entry, logPath string) {
	nd := r.nodes[k]
	m := message{kind: msgFinished, k: k}
	defer func() {
		if v := recover(); v != nil {
			buf := make([]byte, 4096)
			buf = buf[:runtime.Stack(buf, false)]
			m.err = fmt.Errorf("panic while building %s: %v\n%s", nd.Name, v, buf)
			if !m.start.IsZero() {
				m.dur = time.Since(m.start)
			}
		}
		r.msgs <- m
	}()
	if r.opts.Key != nil {
		key, err := r.opts.Key(r.jobCtx, nd)
		if err != nil {
			m.err = fmt.Errorf("compute the input key of %s: %w", nd.Name, err)
			return
		}
		m.key = key
	}
	if prev != nil && m.key != "" && prev.Key == m.key && prev.State.Finished() {
		m.resumed = prev
		return
	}
	m.start = time.Now()
	if r.opts.State != nil {
		r.opts.State.Update(map[string]Entry{nd.Name: {State: Building, Key: m.key, Started: m.start, CPUs: cpus, Log: logPath}})
	}
	r.msgs <- message{kind: msgStarted, k: k, start: m.start}
	m.err = r.opts.Exec(r.jobCtx, nd, cpus)
	m.dur = time.Since(m.start)
}

// handle processes a job message in the Run goroutine.
func (r *runState) handle(m message) {
	nd := r.nodes[m.k]
	res := &r.res[m.k]
	if m.kind == msgStarted {
		res.State = Building
		res.Started = m.start
		r.emit(Event{Kind: EventNode, Node: nd.Name, State: Building, CPUs: res.CPUs, Log: res.Log})
		return
	}
	j := r.running[m.k]
	delete(r.running, m.k)
	r.usedCPUs -= j.cpus
	res.Duration, res.Key = m.dur, m.key
	entry := Entry{Key: m.key, Started: m.start, Duration: m.dur, CPUs: j.cpus, Log: res.Log}
	switch {
	case m.resumed != nil:
		res.State, res.Resumed, res.Duration, res.Key = m.resumed.State, true, 0, m.resumed.Key
		if res.Log == "" {
			res.Log = m.resumed.Log
		}
		entry = *m.resumed
	case m.err == nil || errors.Is(m.err, ErrCached):
		res.State = Done
		if m.err != nil {
			res.State = Cached
		}
		entry.State = res.State
	case r.jobCtx.Err() != nil:
		// Cancelled (interrupt or fail-fast) rather than failed: the
		// node is waiting again and a resumed run redoes it.
		reason := r.stopping
		if reason == "" {
			reason = "interrupted: " + context.Cause(r.jobCtx).Error()
		}
		res.State = Waiting
		res.Error = "cancelled (" + reason + "): " + m.err.Error()
		entry = Entry{State: Waiting, Error: res.Error, Log: res.Log}
	default:
		res.State = Failed
		res.Error = m.err.Error()
		if res.Log == "" {
			var re *runner.Error
			if errors.As(m.err, &re) {
				res.Log = re.Log
			}
		}
		entry.State, entry.Error, entry.Log = Failed, res.Error, res.Log
	}
	updates := map[string]Entry{nd.Name: entry}
	if res.Resumed {
		delete(updates, nd.Name) // the file already says so
	}
	var skipped []int
	if res.State == Failed {
		skipped = r.skipDependents(m.k, updates)
		if r.opts.FailFast && r.stopping == "" {
			r.stopping = "--fail-fast after " + nd.Name + " failed"
			r.cancelJobs()
		}
	}
	r.save(updates)
	r.emit(Event{Kind: EventNode, Node: nd.Name, State: res.State, CPUs: j.cpus, Duration: res.Duration, Key: res.Key,
		Err: res.Error, Log: res.Log, Resumed: res.Resumed})
	for _, s := range skipped {
		sr := r.res[s]
		r.emit(Event{Kind: EventNode, Node: sr.Name, State: Skipped, Cause: sr.Cause, Err: sr.Error})
	}
	if res.State.Finished() {
		for _, d := range r.dependents[m.k] {
			if r.pending[d]--; r.pending[d] == 0 && r.res[d].State == Waiting {
				heap.Push(&r.ready, d)
			}
		}
	}
}

// skipDependents marks every waiting transitive dependent of failed node k
// Skipped, adding k to its Cause; it returns the newly skipped ones.
func (r *runState) skipDependents(k int, updates map[string]Entry) []int {
	name := r.nodes[k].Name
	var newly []int
	for _, dn := range r.p.ReverseDeps(name) {
		d := r.idx[dn]
		res := &r.res[d]
		if res.State != Waiting && res.State != Skipped {
			continue
		}
		if res.State == Waiting {
			newly = append(newly, d)
		}
		res.State = Skipped
		if !slices.Contains(res.Cause, name) {
			res.Cause = append(res.Cause, name)
		}
		res.Error = "skipped: " + strings.Join(res.Cause, ", ") + " failed"
		updates[dn] = Entry{State: Skipped, Cause: slices.Clone(res.Cause), Error: res.Error}
	}
	return newly
}

func (r *runState) save(updates map[string]Entry) {
	if r.opts.State == nil {
		return
	}
	r.opts.State.Update(updates)
}

// readyQueue is a max-heap of node indexes by remaining critical path,
// ties broken by plan order.
type readyQueue struct {
	items []int
	prio  []time.Duration
}

func (q readyQueue) Len() int { return len(q.items) }
func (q readyQueue) Less(i, j int) bool {
	a, b := q.items[i], q.items[j]
	if q.prio[a] != q.prio[b] {
		return q.prio[a] > q.prio[b]
	}
	return a < b
}
func (q readyQueue) Swap(i, j int) { q.items[i], q.items[j] = q.items[j], q.items[i] }
func (q *readyQueue) Push(x any)   { q.items = append(q.items, x.(int)) }
func (q *readyQueue) Pop() any {
	n := len(q.items)
	x := q.items[n-1]
	q.items = q.items[:n-1]
	return x
}

func (o *Options) log() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.Default()
}
