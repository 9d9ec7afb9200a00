// Package htmlreport renders a build as one self-contained HTML page a
// person can look at: summary, Gantt timeline of the builds, the DAG with
// its critical path, a table per package (state, time, cache key, why it
// rebuilt, log tail of failures), installed size by package, pip pins and
// the `bundle test` results.
//
// The page has no external reference of any kind: CSS, SVG and a little
// script are inline, a Content-Security-Policy forbids every fetch, and
// everything is readable without the script (which only sorts and filters
// the package table). Layout (Gantt lanes, DAG layers, the critical path)
// is computed in Go, so the template only places what it is given.
//
// A Report is also the persisted record of a build (WORKDIR/report.json):
// `bundle report WORKDIR` renders it again without rerunning anything.
package htmlreport

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/bundle-dev/bundle/bundle/atomicfile"
	"github.com/bundle-dev/bundle/bundle/audit"
	"github.com/bundle-dev/bundle/bundle/plan"
	"github.com/bundle-dev/bundle/bundle/schedule"
)

// FormatVersion is bumped when Report's JSON shape changes incompatibly.
const FormatVersion = 1

// Status is where a build is.
type Status string

// The statuses, in the order a build goes through them; it ends in one of
// the last three.
const (
	Preparing   Status = "preparing" // fetching sources, making SRPMs and the build root, planning
	Building    Status = "building"
	Assembling  Status = "assembling"
	Testing     Status = "testing"
	Succeeded   Status = "succeeded"
	Failed      Status = "failed"
	Interrupted Status = "interrupted"
)

// Running reports whether the build is still going on.
func (s Status) Running() bool {
	return s != Succeeded && s != Failed && s != Interrupted
}

// Report is everything the page shows.
type Report struct {
	FormatVersion int    `json:"format_version"`
	Name          string `json:"name"`
	Version       string `json:"version"`
	Platform      string `json:"platform"`
	Recipe        string `json:"recipe,omitempty"`
	Status        Status `json:"status"`
	// Error is why the build failed (the first line is the headline).
	Error    string    `json:"error,omitempty"`
	Started  time.Time `json:"started"`
	Updated  time.Time `json:"updated"`
	Finished time.Time `json:"finished,omitzero"`
	Workers  int       `json:"workers,omitempty"`
	CPUs     int       `json:"cpus,omitempty"`
	// Plan is the build DAG (nil until it is made).
	Plan *plan.Report `json:"plan,omitempty"`
	// Nodes are the packages of the plan, in plan order, with this run's
	// outcome.
	Nodes []Node `json:"nodes"`
	// BuildStarted is when the scheduler started (zero before).
	BuildStarted time.Time `json:"build_started,omitzero"`
	// Wall and SerialSum are the scheduler's: elapsed time, and the sum of
	// the jobs' durations.
	Wall      time.Duration `json:"wall,omitempty"`
	SerialSum time.Duration `json:"serial_sum,omitempty"`
	// Stages are the assemble stages' durations.
	Stages []Stage `json:"stages,omitempty"`
	// Notes are what the build took from its caches after the builds
	// (the assembled output, the test), one line each.
	Notes []string `json:"notes,omitempty"`
	// Bundle describes the tarball (nil when none was made).
	Bundle *Bundle `json:"bundle,omitempty"`
	// Test is the `bundle test` outcome (nil when it did not run).
	Test *audit.Report `json:"test,omitempty"`
	// Diff compares the bundle with the previous build's (nil when no
	// previous build is known).
	Diff *Diff `json:"diff,omitempty"`
	// HTML is where the page is written.
	HTML string `json:"html,omitempty"`
}

// Node is one package of the plan and what this run did with it.
type Node struct {
	schedule.NodeResult
	// Why are the reasons it was (re)built: what changed since its last
	// build ("new", "source changed", "dependency zlib rebuilt", ...).
	Why []string `json:"why,omitempty"`
	// LogTail is the end of a failed build's log.
	LogTail string `json:"log_tail,omitempty"`
}

// Stage is one assemble stage's duration.
type Stage struct {
	Name     string        `json:"name"`
	Duration time.Duration `json:"duration"`
}

// Bundle describes the tarball and what is in it.
type Bundle struct {
	Tarball     string `json:"tarball"`
	SHA256      string `json:"sha256"`
	Size        int64  `json:"size"`
	Compression string `json:"compression,omitempty"`
	Files       int64  `json:"files"`
	Dirs        int64  `json:"dirs"`
	Symlinks    int64  `json:"symlinks"`
	// TotalSize is the bytes of the unpacked tree.
	TotalSize int64 `json:"total_size"`
	// Packages are the RPMs in the bundle.
	Packages []Package `json:"packages"`
	// Pins are the Python distributions pip installed.
	Pins []Pin `json:"pins,omitempty"`
	// Requires say what a host needs to run the bundle, one summary line
	// each ("Needs glibc" → ">= 2.31", "Runs on" → "Debian 11, EL9").
	Requires []Requirement `json:"requires,omitempty"`
}

// Package is one RPM in the bundle.
type Package struct {
	NEVRA string `json:"nevra"`
	Name  string `json:"name"`
	// InstalledSize is the RPM header's installed size, in bytes.
	InstalledSize int64 `json:"installed_size"`
	// Requested: asked for by the recipe, not pulled in by a Requires.
	Requested bool `json:"requested,omitempty"`
}

// Pin is one pip-installed distribution.
type Pin struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Requirement is one thing a host must have.
type Requirement struct {
	What string `json:"what"`
	Need string `json:"need"`
}

// Diff is what changed against the previous build.
type Diff struct {
	// Against names the previous build (its tarball and digest).
	Against string `json:"against"`
	// Identical: the same packages, pins and tarball digest.
	Identical bool `json:"identical,omitempty"`
	// Added, Removed and Changed are packages and pip pins, one line
	// each; Changed lines read "name: old → new".
	Added   []string `json:"added,omitempty"`
	Removed []string `json:"removed,omitempty"`
	Changed []string `json:"changed,omitempty"`
	// SizeDelta is the change of the unpacked tree's size, in bytes.
	SizeDelta int64 `json:"size_delta"`
}

// Load reads a report written by Save.
func Load(path string) (*Report, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read build report: %w", err)
	}
	r, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("read build report %s: %w", path, err)
	}
	return r, nil
}

// Parse decodes a report's JSON.
func Parse(data []byte) (*Report, error) {
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, err
	}
	if r.FormatVersion != FormatVersion {
		return nil, fmt.Errorf("format version %d, this bundle reads version %d", r.FormatVersion, FormatVersion)
	}
	return &r, nil
}

// Save writes the report as JSON, atomically, creating its directory.
func (r *Report) Save(path string) error {
	r.FormatVersion = FormatVersion
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("build report: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("build report: %w", err)
	}
	return atomicfile.Write(path, append(data, '\n'), 0o644)
}

// Node returns the node called name, or nil.
func (r *Report) Node(name string) *Node {
	for i := range r.Nodes {
		if r.Nodes[i].Name == name {
			return &r.Nodes[i]
		}
	}
	return nil
}
