package bundle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/bundle-dev/bundle/bundle/audit"
	"github.com/bundle-dev/bundle/bundle/engine"
	"github.com/bundle-dev/bundle/bundle/htmlreport"
	"github.com/bundle-dev/bundle/bundle/plan"
	"github.com/bundle-dev/bundle/bundle/schedule"
)

// ReportFile is the build's record in the work directory: everything the
// HTML report shows, so `bundle report WORKDIR` renders it again without
// rerunning anything.
const ReportFile = "report.json"

// ReportInterval is how often the report of a running build is rewritten.
const ReportInterval = 2 * time.Second

// ReportPath is the HTML report written beside a tarball.
func ReportPath(tarball string) string { return tarball + ".report.html" }

// liveReport follows a build: it records the plan, every scheduler event
// and each stage's outcome, and rewrites the HTML report (and its record
// in the work directory) every ReportInterval while something changed,
// atomically, so reloading the page follows the build. A nil *liveReport
// does nothing (build-package writes no report).
type liveReport struct {
	mu     sync.Mutex
	rep    htmlreport.Report
	record string // WORKDIR/report.json
	dirty  bool
	stop   chan struct{}
	done   chan struct{}
	log    *slog.Logger
	warned bool // a failed write was logged
	// prev is the manifest of the bundle this build replaces, compare
	// says what changed (both nil: no diff).
	prev    *Manifest
	compare func(old, new *Manifest) *htmlreport.Diff
}

// startReport writes the first report of a build (status preparing) and
// starts rewriting it every ReportInterval. The caller holds the work
// directory's lock. The manifest of the bundle the build replaces is read
// now, before the build overwrites it.
func startReport(o BuildOptions, workDir, tarball, platform string, log *slog.Logger) *liveReport {
	r := o.Recipe
	now := time.Now()
	if abs, err := filepath.Abs(tarball); err == nil {
		tarball = abs // `bundle report` may run from elsewhere
	}
	l := &liveReport{
		record: filepath.Join(workDir, ReportFile),
		stop:   make(chan struct{}), done: make(chan struct{}), log: log,
		rep: htmlreport.Report{
			FormatVersion: htmlreport.FormatVersion,
			Name:          r.Name, Version: r.Version, Platform: platform, Recipe: r.File,
			Status: htmlreport.Preparing, Started: now, Updated: now, HTML: ReportPath(tarball),
		},
	}
	if o.Compare != nil {
		if m, err := ReadManifest(tarball + ".manifest.json"); err == nil {
			l.prev, l.compare = m, o.Compare
		}
	}
	l.write()
	go l.loop()
	return l
}

func (l *liveReport) loop() {
	defer close(l.done)
	t := time.NewTicker(ReportInterval)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			l.mu.Lock()
			dirty := l.dirty
			l.mu.Unlock()
			if dirty {
				l.write()
			}
		}
	}
}

// write renders the report and its record now. A report that cannot be
// written is logged: it never fails the build.
func (l *liveReport) write() {
	l.mu.Lock()
	l.rep.Updated = time.Now()
	l.dirty = false
	data := l.rep
	data.Nodes = append([]htmlreport.Node(nil), l.rep.Nodes...)
	l.mu.Unlock()
	err := data.Save(l.record)
	if err == nil {
		err = htmlreport.Write(data.HTML, &data, data.Updated)
	}
	if err != nil && !l.warned {
		l.warned = true // once, not every ReportInterval
		l.log.Warn("build report not written", "file", data.HTML, "err", err)
	}
}

// update changes the report under the lock and marks it for the next
// write.
func (l *liveReport) update(fn func(r *htmlreport.Report)) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	fn(&l.rep)
	l.dirty = true
}

// planned records the plan and why each package is (re)built.
func (l *liveReport) planned(p *plan.Plan, why map[string][]string) {
	l.update(func(r *htmlreport.Report) {
		pr := p.Report(why)
		r.Plan = &pr
		r.Status = htmlreport.Building
		r.Nodes = r.Nodes[:0]
		for _, n := range p.Nodes() {
			r.Nodes = append(r.Nodes, htmlreport.Node{NodeResult: schedule.NodeResult{Name: n.Name, State: schedule.Waiting}, Why: why[n.Name]})
		}
	})
}

// event records a scheduler event.
func (l *liveReport) event(e schedule.Event) {
	l.update(func(r *htmlreport.Report) {
		switch e.Kind {
		case schedule.EventStart:
			r.BuildStarted, r.Workers, r.CPUs = e.Time, e.Workers, e.CPUs
		case schedule.EventNode:
			n := r.Node(e.Node)
			if n == nil {
				return
			}
			n.State, n.Log = e.State, e.Log
			if e.JobID != "" {
				n.JobID, n.JobState = e.JobID, e.JobState
			}
			switch e.State {
			case schedule.Building:
				n.Started, n.CPUs = e.Time, e.CPUs
			case schedule.Skipped:
				n.Cause, n.Error = e.Cause, e.Err
			default:
				n.Duration, n.Key, n.Error, n.Resumed = e.Duration, e.Key, e.Err, e.Resumed
				if e.State == schedule.Failed {
					n.LogTail = logTail(n.Error, n.Log)
				}
			}
		}
	})
}

// built records the scheduler's summary, which is authoritative.
func (l *liveReport) built(s *schedule.Summary) {
	if s == nil {
		return
	}
	l.update(func(r *htmlreport.Report) {
		r.Wall, r.SerialSum = s.Wall, s.SerialSum
		for _, nr := range s.Nodes {
			if n := r.Node(nr.Name); n != nil {
				n.NodeResult = nr
				if nr.State == schedule.Failed {
					n.LogTail = logTail(nr.Error, nr.Log)
				}
			}
		}
	})
}

// phase records the stage the build is in.
func (l *liveReport) phase(s htmlreport.Status) {
	l.update(func(r *htmlreport.Report) { r.Status = s })
}

// assembled records the bundle the manifest describes.
func (l *liveReport) assembled(m *Manifest, tarball string) {
	l.update(func(r *htmlreport.Report) {
		b := &htmlreport.Bundle{
			Tarball: tarball, SHA256: m.Tarball.SHA256, Size: m.Tarball.Size, Compression: m.Tarball.Compression,
			Files: m.Counts.Files, Dirs: m.Counts.Dirs, Symlinks: m.Counts.Symlinks, TotalSize: m.Counts.TotalSize,
			Requires: hostRequirements(m.Requires),
		}
		for _, p := range m.Packages {
			b.Packages = append(b.Packages, htmlreport.Package{NEVRA: p.NEVRA, Name: p.Name, InstalledSize: p.Size, Requested: p.Requested})
		}
		for _, p := range m.Python {
			b.Pins = append(b.Pins, htmlreport.Pin{Name: p.Name, Version: p.Version})
		}
		for _, s := range m.Stages {
			r.Stages = append(r.Stages, htmlreport.Stage{Name: s.Stage, Duration: time.Duration(s.Seconds * float64(time.Second))})
		}
		r.Bundle = b
		if l.prev != nil {
			r.Diff = l.compare(l.prev, m)
		}
	})
}

// hostRequirements are the lines of the summary saying what a host needs.
func hostRequirements(q *Requires) []htmlreport.Requirement {
	if q == nil {
		return nil
	}
	var out []htmlreport.Requirement
	for _, v := range []struct{ what, ver string }{{"glibc", q.Glibc}, {"GLIBCXX", q.GLIBCXX}, {"CXXABI", q.CXXABI}} {
		if v.ver == "" {
			continue
		}
		need := ">= " + v.ver
		if by := q.By[v.what]; by != "" {
			need += " (" + by + ")"
		}
		out = append(out, htmlreport.Requirement{What: "Needs " + v.what, Need: need})
	}
	if q.GlibcPrivate {
		out = append(out, htmlreport.Requirement{What: "Needs GLIBC_PRIVATE", Need: "the exact glibc it was built against"})
	}
	runsOn := "none of the known distributions"
	if len(q.RunsOn) > 0 {
		runsOn = strings.Join(q.RunsOn, ", ")
	}
	out = append(out, htmlreport.Requirement{What: "Runs on", Need: runsOn})
	if len(q.Libraries) > 0 {
		out = append(out, htmlreport.Requirement{What: "Host libraries", Need: strings.Join(q.Libraries, ", ")})
	}
	return out
}

// reused records what was taken from the cache after the builds: the
// assembled output, the test (the lines `bundle build` prints).
func (l *liveReport) reused(a *AssembleReuse, t *TestReuse) {
	if a != nil {
		c := *a
		c.Explain = true
		a = &c
	}
	var b strings.Builder
	printReuse(&b, a, t)
	l.update(func(r *htmlreport.Report) {
		r.Notes = nil
		for _, line := range strings.Split(strings.TrimRight(b.String(), "\n"), "\n") {
			switch {
			case strings.HasPrefix(line, "  ") && len(r.Notes) > 0:
				// A change of the line above.
				r.Notes[len(r.Notes)-1] += "; " + strings.TrimSpace(line)
			case line != "":
				r.Notes = append(r.Notes, line)
			}
		}
	})
}

// tested records the `bundle test` report.
func (l *liveReport) tested(t *audit.Report) {
	l.update(func(r *htmlreport.Report) { r.Test = t })
}

// finish records how the build ended, writes the report a last time and
// stops rewriting it.
func (l *liveReport) finish(ctx context.Context, err error) {
	if l == nil {
		return
	}
	close(l.stop)
	<-l.done
	l.update(func(r *htmlreport.Report) {
		r.Finished = time.Now()
		switch {
		case err == nil:
			r.Status, r.Error = htmlreport.Succeeded, ""
		case ctx.Err() != nil || errors.Is(err, context.Canceled):
			r.Status, r.Error = htmlreport.Interrupted, err.Error()
		default:
			r.Status, r.Error = htmlreport.Failed, err.Error()
		}
	})
	l.write()
	l.log.Info("build report", "file", l.rep.HTML)
}

// tailMarker starts the log tail that runner and builder errors carry.
const tailMarker = "\n--- last lines ---\n"

// logTailLines is how much of a failed build's log a report shows.
const logTailLines = 40

// logTail is the end of a failed build's log: the last lines of the log
// file, else the tail its error carries.
func logTail(errText, log string) string {
	if log != "" {
		if f, err := os.Open(log); err == nil {
			defer f.Close()
			buf := make([]byte, 64<<10)
			if fi, err := f.Stat(); err == nil && fi.Size() > int64(len(buf)) {
				f.Seek(fi.Size()-int64(len(buf)), 0)
			}
			n, _ := f.Read(buf)
			lines := strings.Split(strings.TrimRight(string(buf[:n]), "\n"), "\n")
			return strings.Join(lines[max(0, len(lines)-logTailLines):], "\n")
		}
	}
	_, tail, _ := strings.Cut(errText, tailMarker)
	return strings.TrimRight(tail, "\n")
}

// ReportOptions say how to run `bundle report`.
type ReportOptions struct {
	WorkDir string // default ./.bundle
	// Out is the HTML file (default: where the build wrote it).
	Out string
}

// RegenerateReport renders the HTML report of the last build in a work
// directory again, from its record, and returns the file written.
func RegenerateReport(o ReportOptions) (string, error) {
	dir := o.WorkDir
	if dir == "" {
		dir = engine.DefaultWorkDir
	}
	path := filepath.Join(dir, ReportFile)
	r, err := htmlreport.Load(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("%s: no build report: run `bundle build --workdir %s` first", path, dir)
	}
	if err != nil {
		return "", err
	}
	if r.Status.Running() {
		// Recorded as running: if no run holds the work directory, the
		// build was killed before it could say so.
		if unlock, err := lockWorkDir(dir, slog.New(slog.DiscardHandler)); err == nil {
			unlock()
			r.Error = fmt.Sprintf("the build stopped while %s, without a word (killed?); the record was last written at %s",
				r.Status, r.Updated.UTC().Format(time.RFC3339))
			r.Status = htmlreport.Interrupted
		}
	}
	out := o.Out
	if out == "" {
		out = r.HTML
	}
	if out == "" {
		return "", fmt.Errorf("%s names no report file: give -o FILE", path)
	}
	return out, htmlreport.Write(out, r, r.Updated)
}
