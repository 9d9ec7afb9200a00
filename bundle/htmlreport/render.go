package htmlreport

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/bundle-dev/bundle/bundle/atomicfile"
	"github.com/bundle-dev/bundle/bundle/schedule"
)

var (
	//go:embed report.html.tmpl
	pageTemplate string
	//go:embed report.css
	pageCSS string
	//go:embed report.js
	pageJS string

	page = template.Must(template.New("report").Funcs(template.FuncMap{
		"dur":       schedule.FormatDuration,
		"bytes":     humanBytes,
		"short":     shortKey,
		"firstLine": firstLine,
		"utc":       func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	}).Parse(pageTemplate))

	// The policy allows exactly the inline style and script of the page
	// (by their sha256) and nothing else: no fetch of any kind.
	contentPolicy = "default-src 'none'; style-src " + cspHash(pageCSS) + "; script-src " + cspHash(pageJS) +
		"; img-src 'none'; base-uri 'none'; form-action 'none'"
)

func cspHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// RefreshSeconds is how often the page of a running build reloads itself.
const RefreshSeconds = 5

// view is what the template renders.
type view struct {
	R         *Report
	Title     string
	Live      bool
	Refresh   int
	Now       time.Time
	Facts     []fact
	Counts    counts
	Gantt     *gantt
	Resumed   []string // finished in an earlier run: no bar
	DAG       *dag
	Critical  []string
	CritDur   time.Duration
	CritRun   bool // the critical path is this run's (else the plan's)
	Rows      []row
	Failures  []row
	Sizes     []sizeRow
	SizeTotal int64
	CSS       template.CSS
	JS        template.JS
	CSP       string
}

type fact struct {
	Label, Value string
	Class        string
	Mono         bool
}

type counts struct {
	Total, Done, Cached, Failed, Skipped, Waiting, Building, Resumed int
}

type row struct {
	*Node
	Offset  string // start, relative to the build's start
	Lane    string
	WhyText string
}

type sizeRow struct {
	Package
	Pct float64 // of the largest package
}

// Render writes the page of r as it is at now.
func Render(w io.Writer, r *Report, now time.Time) error {
	v := newView(r, now)
	var b bytes.Buffer
	if err := page.Execute(&b, v); err != nil {
		return fmt.Errorf("render build report: %w", err)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// Write renders r to path atomically (temporary file, fsync, rename):
// a browser reloading the page never sees half of it.
func Write(path string, r *Report, now time.Time) error {
	var b bytes.Buffer
	if err := Render(&b, r, now); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write build report: %w", err)
	}
	return atomicfile.Write(path, b.Bytes(), 0o644)
}

func newView(r *Report, now time.Time) *view {
	if !r.Status.Running() {
		now = r.Updated
	}
	v := &view{R: r, Live: r.Status.Running(), Refresh: RefreshSeconds, Now: now,
		CSS: template.CSS(pageCSS), JS: template.JS(pageJS), CSP: contentPolicy}
	v.Title = strings.TrimSpace(fmt.Sprintf("%s %s", r.Name, r.Version))
	if v.Title == "" {
		v.Title = "bundle build"
	}
	for _, n := range r.Nodes {
		v.Counts.Total++
		switch {
		case n.Resumed:
			v.Counts.Resumed++
			v.Resumed = append(v.Resumed, n.Name)
		case n.State == schedule.Done:
			v.Counts.Done++
		case n.State == schedule.Cached:
			v.Counts.Cached++
		case n.State == schedule.Failed:
			v.Counts.Failed++
		case n.State == schedule.Skipped:
			v.Counts.Skipped++
		case n.State == schedule.Building:
			v.Counts.Building++
		default:
			v.Counts.Waiting++
		}
	}
	v.Gantt = r.layoutGantt(now)
	v.Critical, v.CritDur, v.CritRun = r.criticalPath(now)
	v.DAG = r.layoutDAG(v.Critical)
	v.Rows = r.rows(now)
	for _, rw := range v.Rows {
		if rw.State == schedule.Failed {
			v.Failures = append(v.Failures, rw)
		}
	}
	if b := r.Bundle; b != nil {
		var top int64
		for _, p := range b.Packages {
			top = max(top, p.InstalledSize)
			v.SizeTotal += p.InstalledSize
		}
		for _, p := range b.Packages {
			s := sizeRow{Package: p}
			if top > 0 {
				s.Pct = round1(float64(p.InstalledSize) * 100 / float64(top))
			}
			v.Sizes = append(v.Sizes, s)
		}
		slices.SortStableFunc(v.Sizes, func(a, b sizeRow) int {
			return cmp.Or(cmp.Compare(b.InstalledSize, a.InstalledSize), strings.Compare(a.Name, b.Name))
		})
	}
	v.Facts = v.facts(now)
	return v
}

// rows are the package table's rows, in plan order.
func (r *Report) rows(now time.Time) []row {
	ivs, origin, _ := r.intervals(now)
	lanes, labels := assignLanes(ivs)
	laneOf := map[string]string{}
	for i, iv := range ivs {
		laneOf[iv.node.Name] = labels[lanes[i]]
	}
	out := make([]row, 0, len(r.Nodes))
	for i := range r.Nodes {
		n := &r.Nodes[i]
		rw := row{Node: n, Lane: laneOf[n.Name]}
		if !n.Started.IsZero() && !n.Resumed && !origin.IsZero() {
			rw.Offset = "+" + schedule.FormatDuration(n.Started.Sub(origin))
		}
		rw.WhyText = whyText(n)
		out = append(out, rw)
	}
	return out
}

// whyText says why a node was built, taken from the cache, or not run.
func whyText(n *Node) string {
	why := strings.Join(n.Why, "; ")
	switch {
	case n.Resumed:
		return "finished in an earlier run under the same key"
	case n.State == schedule.Cached:
		return "cache hit"
	case n.State == schedule.Skipped:
		return strings.Join(n.Cause, ", ") + " failed"
	case n.State == schedule.Waiting && n.Error != "":
		return firstLine(n.Error)
	case why != "":
		return why
	case n.State == schedule.Done || n.State == schedule.Failed || n.State == schedule.Building:
		return "not in the build cache"
	}
	return ""
}

func (v *view) facts(now time.Time) []fact {
	r := v.R
	var fs []fact
	add := func(label, value, class string) { fs = append(fs, fact{Label: label, Value: value, Class: class}) }
	add("Status", string(r.Status), "st-"+string(r.Status))
	if !r.Started.IsZero() {
		end := now
		if !r.Finished.IsZero() {
			end = r.Finished
		}
		add("Wall time", schedule.FormatDuration(end.Sub(r.Started)), "")
	}
	if r.Wall > 0 {
		add("Builds' wall time", schedule.FormatDuration(r.Wall), "")
	}
	if r.SerialSum > 0 {
		add("Serial sum", schedule.FormatDuration(r.SerialSum), "")
		if r.Wall > 0 {
			add("Parallel gain", fmt.Sprintf("%.1f×", float64(r.SerialSum)/float64(r.Wall)), "")
		}
	}
	c := v.Counts
	if c.Total > 0 {
		add("Packages", fmt.Sprintf("%d: %d built, %d cached, %d failed, %d skipped", c.Total, c.Done, c.Cached, c.Failed, c.Skipped), "")
		ran := c.Done + c.Cached + c.Failed
		add("Cache hits", fmt.Sprintf("%d of %d jobs", c.Cached, ran), "")
		if c.Resumed > 0 {
			add("Kept from an earlier run", fmt.Sprint(c.Resumed), "")
		}
		if c.Building+c.Waiting > 0 {
			add("Not finished", fmt.Sprintf("%d building, %d waiting", c.Building, c.Waiting), "")
		}
	}
	if r.Workers > 0 {
		add("Workers", fmt.Sprintf("%d workers, %d cpus", r.Workers, r.CPUs), "")
	}
	if b := r.Bundle; b != nil {
		add("Tarball", filepath.Base(b.Tarball), "")
		add("Tarball size", humanBytes(b.Size), "")
		fs = append(fs, fact{Label: "sha256", Value: b.SHA256, Mono: true})
		add("Unpacked", fmt.Sprintf("%s in %d files, %d dirs, %d symlinks", humanBytes(b.TotalSize), b.Files, b.Dirs, b.Symlinks), "")
		for _, q := range b.Requires {
			add(q.What, q.Need, "")
		}
	}
	if r.Test != nil {
		if r.Test.OK() {
			add("bundle test", fmt.Sprintf("passed (%d checks)", len(r.Test.Checks)), "st-succeeded")
		} else {
			add("bundle test", "FAILED: "+strings.Join(r.Test.Failed(), ", "), "st-failed")
		}
	}
	return fs
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < 0 {
		return "-" + humanBytes(-n)
	}
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f := float64(n)
	for _, u := range []string{"KiB", "MiB", "GiB", "TiB"} {
		f /= unit
		if f < unit || u == "TiB" {
			return fmt.Sprintf("%.1f %s", f, u)
		}
	}
	return ""
}

func shortKey(k string) string {
	if len(k) > 12 {
		return k[:12]
	}
	return k
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
