package schedule

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// NodeResult is one node's outcome.
type NodeResult struct {
	Name  string   `json:"name"`
	State JobState `json:"state"`
	// Started is when the job began building (zero when it did not).
	Started time.Time `json:"started,omitzero"`
	// Duration is how long Exec ran (0 when resumed or not run).
	Duration time.Duration `json:"duration"`
	CPUs     int           `json:"cpus,omitempty"`
	// Key is the node's input key (set once it was computed).
	Key string `json:"key,omitempty"`
	// Error is the failure, or why the node was skipped or not started.
	Error string `json:"error,omitempty"`
	Log   string `json:"log,omitempty"`
	// Cause names the failed dependencies of a Skipped node.
	Cause []string `json:"cause,omitempty"`
	// Resumed: finished in an earlier run under the same input key.
	Resumed bool `json:"resumed,omitempty"`
	// JobID is the batch (Slurm) job that built the node, JobState its
	// batch state when last seen.
	JobID    string `json:"job_id,omitempty"`
	JobState string `json:"job_state,omitempty"`
}

// Summary reports a run.
type Summary struct {
	// Nodes in plan order.
	Nodes []NodeResult `json:"nodes"`
	// Wall is the run's elapsed time.
	Wall time.Duration `json:"wall"`
	// SerialSum is the sum of the jobs' durations: what one worker would
	// have needed.
	SerialSum time.Duration `json:"serial_sum"`
}

// Count returns the number of nodes in state s.
func (s *Summary) Count(st JobState) int {
	n := 0
	for _, nr := range s.Nodes {
		if nr.State == st {
			n++
		}
	}
	return n
}

// Node returns the result of name, or nil.
func (s *Summary) Node(name string) *NodeResult {
	for i := range s.Nodes {
		if s.Nodes[i].Name == name {
			return &s.Nodes[i]
		}
	}
	return nil
}

// WriteText renders the summary: a table of every node (state, duration,
// CPUs, note), a totals line with the speed-up over a serial build, then
// each failure in full with its log path.
func (s *Summary) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	var table bytes.Buffer
	tw := tabwriter.NewWriter(&table, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PACKAGE\tSTATE\tTIME\tCPUS\tNOTE")
	for _, nr := range s.Nodes {
		dur, cpus := "", ""
		if nr.Duration > 0 {
			dur = fmtDur(nr.Duration)
		}
		if nr.CPUs > 0 && !nr.Resumed {
			cpus = fmt.Sprint(nr.CPUs)
		}
		note := ""
		switch {
		case nr.Resumed:
			note = "finished in an earlier run"
		case nr.State == Failed:
			note = withLog(firstLine(nr.Error), nr.Log)
		case nr.State == Skipped:
			note = strings.Join(nr.Cause, ", ") + " failed"
		case nr.Error != "":
			note = firstLine(nr.Error)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", nr.Name, nr.State, dur, cpus, note)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, l := range strings.SplitAfter(table.String(), "\n") {
		bw.WriteString(strings.TrimRight(strings.TrimSuffix(l, "\n"), " "))
		if strings.HasSuffix(l, "\n") {
			bw.WriteByte('\n')
		}
	}
	fmt.Fprintf(bw, "\n%d packages: %d built, %d cached, %d failed, %d skipped",
		len(s.Nodes), s.Count(Done), s.Count(Cached), s.Count(Failed), s.Count(Skipped))
	if n := s.Count(Waiting) + s.Count(Building); n > 0 {
		fmt.Fprintf(bw, ", %d not started", n)
	}
	fmt.Fprintf(bw, "; wall %s, serial sum %s", fmtDur(s.Wall), fmtDur(s.SerialSum))
	if s.Wall > 0 && s.SerialSum > 0 {
		fmt.Fprintf(bw, " (%.1f× parallel)", float64(s.SerialSum)/float64(s.Wall))
	}
	bw.WriteString("\n")
	first := true
	for _, nr := range s.Nodes {
		if nr.State != Failed {
			continue
		}
		if first {
			bw.WriteString("\nFailures:\n")
			first = false
		}
		fmt.Fprintf(bw, "\n%s failed after %s", nr.Name, fmtDur(nr.Duration))
		if nr.Log != "" {
			fmt.Fprintf(bw, "; full log: %s", nr.Log)
		}
		bw.WriteString("\n")
		for _, l := range strings.Split(strings.TrimRight(nr.Error, "\n"), "\n") {
			bw.WriteString("  " + l + "\n")
		}
	}
	return bw.Flush()
}
