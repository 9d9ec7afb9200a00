package schedule

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// EventKind says what an Event reports.
type EventKind int

const (
	// EventStart opens the run (Workers, CPUs and Counts.Total are set).
	EventStart EventKind = iota
	// EventNode reports a node's new State.
	EventNode
	// EventTick is sent periodically while jobs run, for live clocks.
	EventTick
	// EventEnd closes the run.
	EventEnd
)

// Counts are the number of nodes per state.
type Counts struct {
	Total, Waiting, Building, Done, Cached, Failed, Skipped int
}

// Running is one job in progress.
type Running struct {
	Name  string
	Since time.Time
	CPUs  int
	JobID string // the batch job, if any
}

// Event is one progress report. Every event carries the counts, the
// running jobs (oldest first) and the time since the run started.
type Event struct {
	Kind    EventKind
	Time    time.Time
	Elapsed time.Duration
	// Node and State: the node that changed (EventNode).
	Node  string
	State JobState
	// CPUs is the job's share (EventNode) or the budget (EventStart).
	CPUs int
	// Workers is the worker count (EventStart).
	Workers int
	// Duration of a finished job.
	Duration time.Duration
	// Key is a finished job's input key.
	Key string
	// Err is the failure (Failed), or why the node did not run.
	Err string
	Log string
	// Cause names the failed dependencies of a Skipped node.
	Cause []string
	// Resumed: finished in an earlier run under the same input key.
	Resumed bool
	// JobID and JobState: the node's batch job and its batch state.
	JobID       string
	JobState    string
	Counts      Counts
	Running     []Running
	CPUsInUse   int
	CPUsInTotal int
}

// emit fills the run-wide fields and hands the event to Progress.
func (r *runState) emit(e Event) {
	if r.opts.Progress == nil {
		return
	}
	e.Time = time.Now()
	e.Elapsed = e.Time.Sub(r.start)
	e.Counts.Total = len(r.res)
	for _, nr := range r.res {
		switch nr.State {
		case Waiting:
			e.Counts.Waiting++
		case Building:
			e.Counts.Building++
		case Done:
			e.Counts.Done++
		case Cached:
			e.Counts.Cached++
		case Failed:
			e.Counts.Failed++
		case Skipped:
			e.Counts.Skipped++
		}
	}
	for k, j := range r.running {
		if r.res[k].State == Building {
			e.Running = append(e.Running, Running{Name: r.nodes[k].Name, Since: r.res[k].Started, CPUs: j.cpus, JobID: r.res[k].JobID})
		}
	}
	slices.SortFunc(e.Running, func(a, b Running) int {
		if c := a.Since.Compare(b.Since); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	e.CPUsInUse, e.CPUsInTotal = r.usedCPUs, r.opts.CPUs
	r.opts.Progress(e)
}

// FormatDuration renders a duration compactly: 850ms, 42s, 3m07s, 1h02m.
func FormatDuration(d time.Duration) string { return fmtDur(d) }

func fmtDur(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return strconv.Itoa(int(d.Round(time.Second)/time.Second)) + "s"
	case d < time.Hour:
		d = d.Round(time.Second)
		return fmt.Sprintf("%dm%02ds", int(d/time.Minute), int(d%time.Minute/time.Second))
	}
	d = d.Round(time.Minute)
	return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
}

func progressTag(c Counts) string {
	return fmt.Sprintf("[%d/%d]", c.Done+c.Cached+c.Failed+c.Skipped, c.Total)
}

// nodeLine describes a node event in one line (without time stamp).
func nodeLine(e Event) string {
	var b strings.Builder
	b.WriteString(e.Node)
	b.WriteByte(' ')
	switch e.State {
	case Building:
		fmt.Fprintf(&b, "building (%d cpus)", e.CPUs)
	case Done, Cached:
		b.WriteString(string(e.State))
		if e.Resumed {
			b.WriteString(" in an earlier run")
		} else {
			b.WriteString(" in " + fmtDur(e.Duration))
		}
	case Failed:
		fmt.Fprintf(&b, "FAILED after %s: %s", fmtDur(e.Duration), withLog(firstLine(e.Err), e.Log))
	case Skipped:
		b.WriteString("skipped: " + strings.Join(e.Cause, ", ") + " failed")
	default:
		b.WriteString(string(e.State))
		if e.Err != "" {
			b.WriteString(": " + firstLine(e.Err))
		}
	}
	if e.JobID != "" {
		fmt.Fprintf(&b, " [job %s]", strings.TrimSpace(e.JobID+" "+e.JobState))
	}
	return b.String()
}

// startLine describes the run: packages and workers, or batch jobs
// (Workers 0).
func startLine(e Event) string {
	if e.Workers == 0 {
		return fmt.Sprintf("%d packages, as batch jobs", e.Counts.Total)
	}
	return fmt.Sprintf("%d packages, %d workers, %d cpus", e.Counts.Total, e.Workers, e.CPUs)
}

func endLine(e Event) string {
	c := e.Counts
	return fmt.Sprintf("finished in %s: %d built, %d cached, %d failed, %d skipped, %d not started",
		fmtDur(e.Elapsed), c.Done, c.Cached, c.Failed, c.Skipped, c.Waiting+c.Building)
}

// withLog appends " (log: PATH)" to msg unless msg names the log already
// (a runner error does).
func withLog(msg, log string) string {
	if log == "" || strings.Contains(msg, log) {
		return msg
	}
	return msg + " (log: " + log + ")"
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// NewLineView returns a Progress function writing one time-stamped line
// per state change (UTC, RFC 3339), for logs and non-terminals. Ticks
// are ignored.
func NewLineView(w io.Writer) func(Event) {
	var mu sync.Mutex
	return func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		ts := e.Time.UTC().Format(time.RFC3339)
		switch e.Kind {
		case EventStart:
			fmt.Fprintf(w, "%s start: %s\n", ts, startLine(e))
		case EventNode:
			fmt.Fprintf(w, "%s %s %s\n", ts, progressTag(e.Counts), nodeLine(e))
		case EventEnd:
			fmt.Fprintf(w, "%s %s\n", ts, endLine(e))
		}
	}
}

// TTY control sequences: cursor up N lines to column 1, clear to the end
// of the screen.
const (
	ansiUp    = "\x1b[%dF"
	ansiClear = "\x1b[J"
)

// maxRunningLines bounds the live block's list of running jobs.
const maxRunningLines = 12

// NewTTYView returns a Progress function for a terminal: finished,
// failed and skipped nodes scroll by as permanent lines, under them a
// status block (progress, CPU use, and each running job with its clock)
// is redrawn in place. Lines are cut to $COLUMNS (default 100) so the
// redraw stays aligned. The caller decides it writes to a terminal, e.g.
// with (fi.Mode() & os.ModeCharDevice) != 0 on the output's Stat.
func NewTTYView(w io.Writer) func(Event) {
	width := 100
	if c, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && c >= 20 {
		width = c
	}
	v := &ttyView{w: w, width: width}
	return v.handle
}

type ttyView struct {
	mu    sync.Mutex
	w     io.Writer
	width int
	drawn int // lines of the status block on screen
}

func (v *ttyView) handle(e Event) {
	v.mu.Lock()
	defer v.mu.Unlock()
	var b strings.Builder
	if v.drawn > 0 {
		fmt.Fprintf(&b, ansiUp, v.drawn)
		b.WriteString(ansiClear)
	}
	v.drawn = 0
	switch e.Kind {
	case EventStart:
		line := fmt.Sprintf("building %d packages with %d workers on %d cpus", e.Counts.Total, e.Workers, e.CPUs)
		if e.Workers == 0 {
			line = "building " + startLine(e)
		}
		b.WriteString(v.cut(line) + "\n")
	case EventNode:
		if e.State != Building {
			b.WriteString(v.cut(progressTag(e.Counts)+" "+nodeLine(e)) + "\n")
		}
	case EventEnd:
		b.WriteString(v.cut(endLine(e)) + "\n")
		io.WriteString(v.w, b.String())
		return
	}
	lines := v.status(e)
	for _, l := range lines {
		b.WriteString(v.cut(l) + "\n")
	}
	v.drawn = len(lines)
	io.WriteString(v.w, b.String())
}

// status renders the live block.
func (v *ttyView) status(e Event) []string {
	c := e.Counts
	head := fmt.Sprintf("%s %s elapsed · %d building on %d/%d cpus · %d waiting",
		progressTag(c), fmtDur(e.Elapsed), len(e.Running), e.CPUsInUse, e.CPUsInTotal, c.Waiting)
	if c.Failed > 0 {
		head += fmt.Sprintf(" · %d failed", c.Failed)
	}
	if c.Skipped > 0 {
		head += fmt.Sprintf(" · %d skipped", c.Skipped)
	}
	lines := []string{head}
	for i, r := range e.Running {
		if i == maxRunningLines {
			lines = append(lines, fmt.Sprintf("  … and %d more", len(e.Running)-i))
			break
		}
		line := fmt.Sprintf("  %-30s %3d cpus  %s", r.Name, r.CPUs, fmtDur(e.Time.Sub(r.Since)))
		if r.JobID != "" {
			line += "  job " + r.JobID
		}
		lines = append(lines, line)
	}
	return lines
}

// cut shortens s to the terminal width.
func (v *ttyView) cut(s string) string {
	if utf8.RuneCountInString(s) <= v.width-1 {
		return s
	}
	r := []rune(s)
	return string(r[:v.width-2]) + "…"
}
