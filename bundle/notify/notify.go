// Package notify tells people how a build ended: it runs a command of
// theirs (a mail, a chat webhook, a CI annotation) with the run's summary
// as JSON on its standard input, whether the build succeeded or not.
package notify

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/bundle-dev/bundle/bundle"
	"github.com/bundle-dev/bundle/bundle/diff"
	"github.com/bundle-dev/bundle/bundle/runner"
	"github.com/bundle-dev/bundle/bundle/schedule"
)

// TailLines is how many log lines each failed package carries.
const TailLines = 40

// Timeout bounds the notification command.
const Timeout = 5 * time.Minute

// Summary is the JSON the command reads.
type Summary struct {
	Status   string    `json:"status"` // success, failure or interrupted
	Error    string    `json:"error,omitempty"`
	Name     string    `json:"name"`
	Version  string    `json:"version"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Seconds  float64   `json:"duration_seconds"`
	// Builds counts the package jobs by outcome (done, cached, failed,
	// skipped, ...); BuildSeconds is their wall time, SerialSeconds the
	// sum of their durations.
	Builds        map[schedule.JobState]int `json:"builds,omitempty"`
	BuildSeconds  float64                   `json:"build_seconds,omitempty"`
	SerialSeconds float64                   `json:"serial_seconds,omitempty"`
	Stages        []bundle.StageTiming      `json:"stages,omitempty"`
	Failed        []Failure                 `json:"failed,omitempty"`
	Skipped       []string                  `json:"skipped,omitempty"`
	Tarball       string                    `json:"tarball,omitempty"`
	SHA256        string                    `json:"sha256,omitempty"`
	Test          string                    `json:"test,omitempty"` // passed, failed, or empty when not run
	Diff          *Diff                     `json:"diff,omitempty"`
}

// Failure is a package whose build failed, with the end of its log.
type Failure struct {
	Package string   `json:"package"`
	Error   string   `json:"error"`
	Log     string   `json:"log,omitempty"`
	Tail    []string `json:"log_tail,omitempty"`
}

// Diff is how the new bundle differs from the previous build's, compared
// through the previous manifest (read before the build replaced it).
type Diff struct {
	Against   string           `json:"against"` // the previous tarball's sha256
	Identical bool             `json:"identical"`
	Summary   string           `json:"summary"`
	Packages  diff.PackageDiff `json:"packages"`
	Python    diff.PythonDiff  `json:"python"`
	Sizes     diff.Sizes       `json:"sizes"`
}

// Previous reads the manifest a build is about to replace; nil when there
// is none (a first build) or it cannot be read.
func Previous(manifest string) *bundle.Manifest {
	m, err := bundle.ReadManifest(manifest)
	if err != nil {
		return nil
	}
	return m
}

// NewSummary describes a run of `bundle build` that started at started and
// ended with res and err; interrupted says the run was cancelled.
func NewSummary(name, version string, started time.Time, res *bundle.BuildResult, err error, interrupted bool, previous *bundle.Manifest) *Summary {
	now := time.Now()
	s := &Summary{Status: "success", Name: name, Version: version, Started: started.UTC(), Finished: now.UTC(),
		Seconds: now.Sub(started).Seconds()}
	switch {
	case interrupted:
		s.Status = "interrupted"
	case err != nil:
		s.Status = "failure"
	}
	if err != nil {
		s.Error = err.Error()
	}
	if res == nil {
		return s
	}
	if sum := res.Summary; sum != nil {
		s.Builds = map[schedule.JobState]int{}
		s.BuildSeconds, s.SerialSeconds = sum.Wall.Seconds(), sum.SerialSum.Seconds()
		for _, n := range sum.Nodes {
			s.Builds[n.State]++
			switch n.State {
			case schedule.Failed:
				s.Failed = append(s.Failed, Failure{Package: n.Name, Error: n.Error, Log: n.Log, Tail: tail(n.Log, TailLines)})
			case schedule.Skipped:
				s.Skipped = append(s.Skipped, n.Name)
			}
		}
	}
	if m := res.Manifest; m != nil {
		s.Stages = m.Stages
		s.Tarball, s.SHA256 = res.Tarball, m.Tarball.SHA256
		if previous != nil {
			r := diff.Compare(&diff.Bundle{Manifest: previous}, &diff.Bundle{Manifest: m})
			s.Diff = &Diff{Against: previous.Tarball.SHA256, Identical: r.Identical, Summary: r.Summary(),
				Packages: r.Packages, Python: r.Python, Sizes: r.Sizes}
		}
	}
	if res.Test != nil {
		s.Test = "passed"
		if !res.Test.OK() {
			s.Test = "failed"
		}
	}
	return s
}

// tail is the last n lines of the file at path (nil when unreadable).
func tail(path string, n int) []string {
	if path == "" {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > 2*n {
			lines = append(lines[:0], lines[len(lines)-n:]...)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines
}

// Run runs command with sh -c, the summary as JSON on its stdin, through
// the runner (its output goes to logFile). It runs even when ctx was
// cancelled (an interrupted build is news too), for at most Timeout. The
// command sees the caller's environment: tokens and addresses come from
// there.
func Run(ctx context.Context, command string, s *Summary, logFile string, log *slog.Logger) error {
	if log == nil {
		log = slog.Default()
	}
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), Timeout)
	defer cancel()
	r := runner.Exec{Logger: log}
	if _, err := r.Run(ctx, runner.Cmd{Name: "sh", Args: []string{"-c", command}, Env: os.Environ(),
		Stdin: bytes.NewReader(append(data, '\n')), Log: logFile}); err != nil {
		var re *runner.Error
		if errors.As(err, &re) {
			return fmt.Errorf("notify: %q failed (exit %d): %w", command, re.ExitCode, err)
		}
		return fmt.Errorf("notify: %w", err)
	}
	log.Info("notified", "command", command, "status", s.Status)
	return nil
}
