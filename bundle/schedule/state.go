package schedule

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/bundle-dev/bundle/bundle/atomicfile"
)

// JobState is the state of one node's job.
type JobState string

// The job states. A run starts every node Waiting; Building while its job
// runs; then Done (built), Cached (outputs taken from the cache), Failed,
// or Skipped (a dependency failed).
const (
	Waiting  JobState = "waiting"
	Building JobState = "building"
	Done     JobState = "done"
	Failed   JobState = "failed"
	Skipped  JobState = "skipped"
	Cached   JobState = "cached"
)

// Finished reports whether the state is a success (Done or Cached).
func (s JobState) Finished() bool { return s == Done || s == Cached }

// Entry is what the state file records for one node.
type Entry struct {
	State JobState `json:"state"`
	// Key is the node's input key when it finished (Done/Cached/Failed).
	Key      string        `json:"key,omitempty"`
	Started  time.Time     `json:"started,omitzero"`
	Duration time.Duration `json:"duration,omitempty"`
	CPUs     int           `json:"cpus,omitempty"`
	Error    string        `json:"error,omitempty"`
	Log      string        `json:"log,omitempty"`
	// Cause names the failed dependencies of a Skipped node.
	Cause []string `json:"cause,omitempty"`
	// JobID is the node's batch job (Slurm) while it is queued, runs, or
	// once it finished; JobState is the batch system's own state of it
	// (PENDING, RUNNING, COMPLETED, ...) when last seen.
	JobID    string `json:"job_id,omitempty"`
	JobState string `json:"job_state,omitempty"`
	// Submitted is the fingerprint of what the job builds (see
	// Options.Fingerprint): a later run re-attaches to the job only when
	// it still builds the same.
	Submitted string `json:"submitted,omitempty"`
}

// StateFile is the name of the state file in the work directory.
const StateFile = "state.json"

const stateVersion = 1

type stateFile struct {
	Version int              `json:"version"`
	Nodes   map[string]Entry `json:"nodes"`
}

// State is the persisted job state of a work directory
// (WORKDIR/state.json). Each change is applied in memory and written
// soon after by a background writer, atomically (temp file, fsync,
// rename, fsync of the directory): the file always holds a complete
// snapshot, and snapshots follow the order of changes, so a node recorded
// Done was really built and everything it waited for is recorded Done
// too. Changes made while a write is in flight are grouped into the next
// write (group commit), so slow disks do not slow the scheduler; a run
// killed at any moment loses at most the changes of the last few
// milliseconds, which a resumed run simply redoes. It is safe for
// concurrent use.
type State struct {
	// Logger receives a failed write (nil: slog.Default()).
	Logger  *slog.Logger
	path    string
	mu      sync.Mutex
	cond    *sync.Cond
	entries map[string]Entry
	gen     uint64 // changes applied
	written uint64 // changes on disk
	writing bool
	err     error // the last write's error
}

// OpenState loads WORKDIR/state.json, or starts an empty state when there
// is none. Temporary files left by a killed writer are removed.
func OpenState(workdir string) (*State, error) {
	s := &State{path: filepath.Join(workdir, StateFile), entries: map[string]Entry{}}
	s.cond = sync.NewCond(&s.mu)
	// atomicfile's temporary files (and those of older versions).
	olds, _ := filepath.Glob(filepath.Join(workdir, "."+StateFile+".tmp-*"))
	older, _ := filepath.Glob(s.path + ".tmp-*")
	for _, o := range append(olds, older...) {
		os.Remove(o)
	}
	data, err := os.ReadFile(s.path)
	if os.IsNotExist(err) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read build state: %w", err)
	}
	var f stateFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("read build state %s: %w (the file is not valid JSON; delete it to start the build afresh)", s.path, err)
	}
	if f.Version != stateVersion {
		return nil, fmt.Errorf("read build state %s: version %d, this bundle writes version %d; delete the file to start afresh", s.path, f.Version, stateVersion)
	}
	if f.Nodes != nil {
		s.entries = f.Nodes
	}
	return s, nil
}

// Path is the state file's path.
func (s *State) Path() string { return s.path }

// Get returns the entry of node name.
func (s *State) Get(name string) (Entry, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[name]
	return e, ok
}

// Entries returns a copy of every entry.
func (s *State) Entries() map[string]Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.entries)
}

// Update records entries (node → entry) and schedules a write without
// waiting for it.
func (s *State) Update(updates map[string]Entry) {
	if len(updates) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range updates {
		s.entries[k] = v
	}
	s.gen++
	if !s.writing {
		s.writing = true
		go s.writer()
	}
}

// Flush waits until every change made so far is on disk and returns the
// error of the write that stored them.
func (s *State) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	target := s.gen
	for s.written < target {
		s.cond.Wait()
	}
	return s.err
}

// Set records entries and waits until they are on disk.
func (s *State) Set(updates map[string]Entry) error {
	s.Update(updates)
	return s.Flush()
}

// writer writes snapshots until the file is current.
func (s *State) writer() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.written < s.gen {
		gen := s.gen
		data, err := json.MarshalIndent(stateFile{Version: stateVersion, Nodes: s.entries}, "", "  ")
		s.mu.Unlock()
		if err == nil {
			err = atomicfile.Write(s.path, append(data, '\n'), 0o644)
		}
		s.mu.Lock()
		if err != nil {
			err = fmt.Errorf("write build state: %w", err)
			s.log().Error("build state not saved", "file", s.path, "err", err)
		}
		s.written, s.err = gen, err
		s.cond.Broadcast()
	}
	s.writing = false
}

func (s *State) log() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}
