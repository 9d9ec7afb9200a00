package schedule

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
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
}

// StateFile is the name of the state file in the work directory.
const StateFile = "state.json"

const stateVersion = 1

type stateFile struct {
	Version int              `json:"version"`
	Nodes   map[string]Entry `json:"nodes"`
}

// State is the persisted job state of a work directory
// (WORKDIR/state.json). Every change is written at once, atomically (temp
// file, fsync, rename, fsync of the directory), so a run killed at any
// point leaves the last complete state behind. It is safe for concurrent
// use.
type State struct {
	path    string
	mu      sync.Mutex
	entries map[string]Entry
}

// OpenState loads WORKDIR/state.json, or starts an empty state when there
// is none. Temporary files left by a killed writer are removed.
func OpenState(workdir string) (*State, error) {
	s := &State{path: filepath.Join(workdir, StateFile), entries: map[string]Entry{}}
	if olds, _ := filepath.Glob(s.path + ".tmp-*"); len(olds) > 0 {
		for _, o := range olds {
			os.Remove(o)
		}
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

// Set records entries (node → entry) and writes the file.
func (s *State) Set(updates map[string]Entry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range updates {
		s.entries[k] = v
	}
	return s.write()
}

// write persists the entries; the caller holds mu.
func (s *State) write() error {
	data, err := json.MarshalIndent(stateFile{Version: stateVersion, Nodes: s.entries}, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(s.path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write build state: %w", err)
	}
	return nil
}

// writeFileAtomic writes data to path through a temporary file in the same
// directory that is fsynced and renamed over path, then fsyncs the
// directory: readers see the old or the new content, never a mix.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, base+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Chmod(perm); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		if err := d.Sync(); err != nil && !strings.Contains(err.Error(), "invalid argument") {
			slog.Debug("fsync directory", "dir", dir, "err", err)
		}
		d.Close()
	}
	return nil
}
