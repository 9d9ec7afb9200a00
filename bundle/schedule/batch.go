package schedule

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/bundle-dev/bundle/bundle/plan"
)

// Batch is a batch system (Slurm) that runs one node's build as a job on
// a machine of a cluster. The scheduler submits every node that must be
// built at once, each after the jobs of its dependencies, then watches
// the jobs.
type Batch interface {
	// Submit queues n's build, to start once the jobs after have all
	// succeeded (none: at once), and returns the job's id.
	Submit(ctx context.Context, n *plan.Node, after []string) (string, error)
	// Poll reports the state of each job of jobs (job id → node name);
	// an id missing from the answer is a job the batch system no longer
	// knows.
	Poll(ctx context.Context, jobs map[string]string) (map[string]JobStatus, error)
	// Cancel cancels the jobs; finished or unknown ones are no error.
	Cancel(ctx context.Context, ids []string) error
}

// JobStatus is a batch job's state.
type JobStatus struct {
	// State is Waiting (queued) or Building (running) while the job
	// lives, then Done, Cached, Failed, or Skipped (cancelled because a
	// dependency failed).
	State JobState
	// Native is the batch system's own state (PENDING, RUNNING, ...).
	Native string
	// Key is the node's input key, known once the job is Done or Cached.
	Key string
	// Err says why the job failed, with its log's tail.
	Err string
	// Started and Duration, of a final job, say when it ran (zero when
	// unknown: the scheduler then uses when it saw it run).
	Started  time.Time
	Duration time.Duration
}

// BatchOptions configure a run on a batch system (Options.Batch).
type BatchOptions struct {
	Batch Batch
	// Resolve settles, without a job, a node whose dependencies all
	// finished: it returns ErrCached when the node's outputs were in the
	// build cache (and are now published), nil when the node must be
	// built. Options.Key gives the node's key first, for resuming.
	// Required.
	Resolve func(ctx context.Context, n *plan.Node) error
	// Fingerprint identifies what a job of n builds: a job a killed run
	// recorded in the State under the same fingerprint is re-attached to
	// instead of being submitted again. Required.
	Fingerprint func(n *plan.Node) string
	// Poll is how often job states are read; 0 means two seconds.
	Poll time.Duration
	// PollFailures is how many polls in a row may fail before the run
	// stops watching (the jobs keep running; a new run re-attaches);
	// 0 means 10.
	PollFailures int
}

// batchRun is the bookkeeping of runBatch.
type batchRun struct {
	*runState
	b      *BatchOptions
	live   map[int]string // node → its job, not yet final
	fresh  map[int]bool   // submitted by this run
	prints map[int]string // node → fingerprint
	lost   error          // polling gave up
}

// runBatch places every node — resumed, taken from the cache, re-attached
// to the job a killed run left, or submitted after its dependencies'
// jobs — then polls the jobs until each is final. An interrupt cancels
// every job of the run.
func (r *runState) runBatch() (*Summary, error) {
	b := r.opts.Batch
	if b.Batch == nil || b.Resolve == nil || b.Fingerprint == nil {
		return nil, errors.New("schedule: a batch run needs Batch, Resolve and Fingerprint")
	}
	if b.Poll <= 0 {
		b.Poll = 2 * time.Second
	}
	if b.PollFailures <= 0 {
		b.PollFailures = 10
	}
	br := &batchRun{runState: r, b: b, live: map[int]string{}, fresh: map[int]bool{}, prints: map[int]string{}}
	r.start = time.Now()
	defer r.cancelJobs()
	r.emit(Event{Kind: EventStart, CPUs: r.opts.CPUs})
	br.place()
	if r.opts.State != nil {
		if err := r.opts.State.Flush(); err != nil {
			br.opts.log().Warn("job ids not saved", "err", err)
		}
	}
	br.watch()
	s, err := r.finish()
	return s, errors.Join(err, br.lost)
}

// previous returns the jobs a killed run left queued or running, with
// what the batch system says of them now (live or done ones only).
func (br *batchRun) previous() map[int]JobStatus {
	if br.opts.State == nil {
		return nil
	}
	ids, jobs := map[string]int{}, map[string]string{}
	for k, nd := range br.nodes {
		if e, ok := br.opts.State.Get(nd.Name); ok && e.JobID != "" && (e.State == Waiting || e.State == Building) {
			ids[e.JobID], jobs[e.JobID] = k, nd.Name
		}
	}
	if len(ids) == 0 {
		return nil
	}
	sts, err := br.b.Batch.Poll(br.ctx, jobs)
	if err != nil {
		br.opts.log().Warn("cannot read the jobs of the earlier run; their packages are submitted again", "err", err)
		return nil
	}
	old := map[int]JobStatus{}
	for id, k := range ids {
		if st, ok := sts[id]; ok && st.State != Failed && st.State != Skipped {
			old[k] = st
		}
	}
	return old
}

// place settles or submits every node in plan order (dependencies first).
func (br *batchRun) place() {
	old := br.previous()
	var stale []string
	for k, nd := range br.nodes {
		prev, _ := br.prevEntry(k)
		if br.ctx.Err() != nil || br.stopping != "" {
			break // interrupted, or --fail-fast after a failure
		}
		if br.res[k].State != Waiting {
			continue // skipped: a dependency failed
		}
		br.prints[k] = br.b.Fingerprint(nd)
		deps := br.p.Deps(nd.Name)
		if st, ok := old[k]; ok {
			if prev.Submitted == br.prints[k] && !slices.ContainsFunc(deps, func(d string) bool { return br.fresh[br.idx[d]] }) {
				br.attach(k, prev, st)
				continue
			}
			stale = append(stale, prev.JobID)
		}
		var after []string
		for _, d := range deps {
			if id, ok := br.live[br.idx[d]]; ok {
				after = append(after, id)
			}
		}
		if len(after) == 0 && br.resolve(k, prev) {
			continue
		}
		br.submit(k, after)
	}
	if len(stale) > 0 {
		br.opts.log().Info("cancelling the jobs of an earlier run that build other inputs now", "jobs", stale)
		if err := br.b.Batch.Cancel(br.ctx, stale); err != nil {
			br.opts.log().Warn("jobs of an earlier run not cancelled", "jobs", stale, "err", err)
		}
	}
}

func (br *batchRun) prevEntry(k int) (Entry, bool) {
	if br.opts.State == nil {
		return Entry{}, false
	}
	return br.opts.State.Get(br.nodes[k].Name)
}

// attach adopts the job a killed run submitted for node k.
func (br *batchRun) attach(k int, prev Entry, st JobStatus) {
	res := &br.res[k]
	res.JobID, res.Log, res.Started, res.CPUs = prev.JobID, prev.Log, prev.Started, br.share(k)
	br.live[k] = prev.JobID
	br.opts.log().Info("re-attached to the job of an earlier run", "package", br.nodes[k].Name, "job", prev.JobID, "state", st.Native)
	br.update(k, st)
}

// resolve settles node k, whose dependencies all finished, without a
// job: resumed from the state file or taken from the cache. It reports
// false when k must be built.
func (br *batchRun) resolve(k int, prev Entry) bool {
	nd := br.nodes[k]
	res := &br.res[k]
	key := ""
	if br.opts.Key != nil {
		var err error
		if key, err = br.opts.Key(br.jobCtx, nd); err != nil {
			br.final(k, Failed, Entry{Error: fmt.Sprintf("compute the input key of %s: %v", nd.Name, err)})
			return true
		}
		if key != "" && prev.Key == key && prev.State.Finished() {
			res.Resumed = true
			if res.Log == "" {
				res.Log = prev.Log
			}
			res.JobID, res.State, res.Key = prev.JobID, prev.State, prev.Key
			br.emit(Event{Kind: EventNode, Node: nd.Name, State: prev.State, Resumed: true, Log: res.Log, JobID: res.JobID, Key: res.Key})
			return true
		}
	}
	start := time.Now()
	err := br.b.Resolve(br.jobCtx, nd)
	res.Duration = time.Since(start)
	switch {
	case err == nil:
		return false
	case errors.Is(err, ErrCached):
		br.final(k, Cached, Entry{Key: key, Started: start, Duration: res.Duration})
	default:
		br.final(k, Failed, Entry{Key: key, Error: err.Error()})
	}
	return true
}

// submit queues node k's job after the jobs after.
func (br *batchRun) submit(k int, after []string) {
	nd := br.nodes[k]
	res := &br.res[k]
	if br.opts.LogPath != nil {
		res.Log = br.opts.LogPath(nd)
	}
	res.CPUs = br.share(k)
	id, err := br.b.Batch.Submit(br.jobCtx, nd, after)
	if err != nil {
		br.final(k, Failed, Entry{Error: err.Error()})
		return
	}
	br.live[k], br.fresh[k] = id, true
	res.JobID = id
	br.update(k, JobStatus{State: Waiting, Native: "SUBMITTED"})
}

// update applies a job's status to node k.
func (br *batchRun) update(k int, st JobStatus) {
	res := &br.res[k]
	switch st.State {
	case Waiting, Building:
		if st.State == res.State && st.Native == res.JobState {
			return
		}
		// Events for a new job and each change of bundle's state; the
		// state file gets every change of Slurm's too.
		news := st.State != res.State || res.JobState == ""
		res.State, res.JobState = st.State, st.Native
		if st.State == Building {
			if res.Started.IsZero() {
				res.Started = time.Now()
			}
			if _, ok := br.running[k]; !ok {
				br.running[k] = &job{k: k, cpus: res.CPUs, start: res.Started}
				br.usedCPUs += res.CPUs
			}
		}
		br.save(map[string]Entry{res.Name: {State: res.State, JobID: res.JobID, JobState: res.JobState,
			Submitted: br.prints[k], Started: res.Started, CPUs: res.CPUs, Log: res.Log}})
		if news {
			br.emit(Event{Kind: EventNode, Node: res.Name, State: res.State, CPUs: res.CPUs, Log: res.Log, JobID: res.JobID, JobState: res.JobState})
		}
	case Skipped:
		if res.State == Skipped {
			return
		}
		var cause []string
		for _, d := range br.p.Deps(res.Name) {
			if dr := br.res[br.idx[d]]; dr.State == Failed {
				cause = append(cause, d)
			} else if dr.State == Skipped {
				cause = append(cause, dr.Cause...)
			}
		}
		slices.Sort(cause)
		res.Cause = slices.Compact(cause)
		res.JobState = st.Native
		br.final(k, Skipped, Entry{Error: "skipped: " + strings.Join(res.Cause, ", ") + " failed"})
	default:
		res.JobState = st.Native
		switch {
		case !st.Started.IsZero():
			res.Started, res.Duration = st.Started, st.Duration
		case !res.Started.IsZero():
			res.Duration = time.Since(res.Started)
		}
		br.final(k, st.State, Entry{Key: st.Key, Error: st.Err, Started: res.Started, Duration: res.Duration})
	}
}

// final records node k's last state; a failure skips its dependents and
// cancels their jobs (and, with FailFast, every job).
func (br *batchRun) final(k int, st JobState, e Entry) {
	res := &br.res[k]
	res.State, res.Error, res.Key = st, e.Error, e.Key
	if j, ok := br.running[k]; ok {
		br.usedCPUs -= j.cpus
		delete(br.running, k)
	}
	delete(br.live, k)
	e.State, e.Log, e.CPUs, e.Cause = st, res.Log, res.CPUs, res.Cause
	e.JobID, e.JobState, e.Submitted = res.JobID, res.JobState, br.prints[k]
	updates := map[string]Entry{res.Name: e}
	var skipped []int
	if st == Failed {
		skipped = br.skipDependents(k, updates)
	}
	br.save(updates)
	br.emit(Event{Kind: EventNode, Node: res.Name, State: st, CPUs: res.CPUs, Duration: res.Duration, Key: res.Key,
		Err: res.Error, Log: res.Log, Cause: res.Cause, JobID: res.JobID, JobState: res.JobState})
	var cancel []string
	for _, s := range skipped {
		sr := &br.res[s]
		if id, ok := br.live[s]; ok {
			cancel = append(cancel, id)
			delete(br.live, s)
		}
		br.emit(Event{Kind: EventNode, Node: sr.Name, State: Skipped, Cause: sr.Cause, Err: sr.Error, JobID: sr.JobID})
	}
	if st == Failed && br.opts.FailFast && br.stopping == "" {
		br.stopping = "--fail-fast after " + res.Name + " failed"
		br.cancelJobs()
		br.cancelAll()
	}
	if len(cancel) > 0 {
		if err := br.b.Batch.Cancel(context.WithoutCancel(br.ctx), cancel); err != nil {
			br.opts.log().Warn("jobs of skipped packages not cancelled", "jobs", cancel, "err", err)
		}
	}
}

// watch polls the live jobs until none is left, the run is interrupted
// (every job is cancelled) or polling keeps failing.
func (br *batchRun) watch() {
	tick := time.NewTicker(br.opts.Tick)
	defer tick.Stop()
	poll := time.NewTicker(br.b.Poll)
	defer poll.Stop()
	failures := 0
	for len(br.live) > 0 {
		select {
		case <-br.ctx.Done():
			if br.stopping == "" {
				br.stopping = "interrupted: " + context.Cause(br.ctx).Error()
			}
			br.cancelAll()
			return
		case <-tick.C:
			br.emit(Event{Kind: EventTick})
		case <-poll.C:
			if err := br.poll(); err != nil {
				failures++
				br.opts.log().Warn("reading job states failed", "err", err, "attempt", failures)
				if failures >= br.b.PollFailures {
					br.lost = fmt.Errorf("stopped watching %d jobs after %d failed attempts to read their states (%w); they keep running: run the same command again to re-attach", len(br.live), failures, err)
					for k, id := range br.live {
						br.res[k].Error = "job " + id + " left queued or running: its state could not be read"
					}
					return
				}
				continue
			}
			failures = 0
		}
	}
}

func (br *batchRun) poll() error {
	jobs := make(map[string]string, len(br.live))
	for k, id := range br.live {
		jobs[id] = br.nodes[k].Name
	}
	sts, err := br.b.Batch.Poll(br.ctx, jobs)
	if err != nil {
		return err
	}
	for k := range br.nodes { // plan order: a dependency's failure first
		id, ok := br.live[k]
		if !ok {
			continue
		}
		st, ok := sts[id]
		if !ok {
			st = JobStatus{State: Failed, Native: "UNKNOWN", Err: fmt.Sprintf("the batch system no longer knows job %s", id)}
		}
		br.update(k, st)
	}
	return nil
}

// cancelAll cancels every live job; their nodes are waiting again, and a
// later run submits them anew. Jobs that could not be cancelled stay
// recorded, so a later run re-attaches to them.
func (br *batchRun) cancelAll() {
	if len(br.live) == 0 {
		return
	}
	var ids []string
	for _, id := range br.live {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b string) int { // numerically
		return cmp.Or(cmp.Compare(len(a), len(b)), strings.Compare(a, b))
	})
	ctx, cancel := context.WithTimeout(context.WithoutCancel(br.ctx), time.Minute)
	defer cancel()
	err := br.b.Batch.Cancel(ctx, ids)
	reason := br.stopping
	updates := map[string]Entry{}
	for k := range br.live {
		res := &br.res[k]
		res.State = Waiting
		if j, ok := br.running[k]; ok {
			br.usedCPUs -= j.cpus
			delete(br.running, k)
		}
		if err != nil {
			res.Error = fmt.Sprintf("job %s not cancelled (%v); a later run re-attaches to it", res.JobID, err)
			continue
		}
		res.Error = "cancelled (" + reason + ")"
		updates[res.Name] = Entry{State: Waiting, Error: res.Error, Log: res.Log}
	}
	if err != nil {
		br.opts.log().Error("jobs not cancelled", "jobs", len(ids), "first", ids[0], "last", ids[len(ids)-1], "err", err)
	} else {
		br.opts.log().Info("cancelled the run's jobs", "jobs", len(ids), "first", ids[0], "last", ids[len(ids)-1])
	}
	br.save(updates)
	clear(br.live)
}
