package plan

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// Report is the JSON form of a plan (`bundle plan --json`).
type Report struct {
	Packages int `json:"packages"`
	// Layers are the topological layers, see Plan.Layers.
	Layers [][]string `json:"layers"`
	// CriticalPath is the heaviest chain, first build first.
	CriticalPath []string `json:"critical_path"`
	// CriticalPathSeconds is the chain's expected duration; absent when no
	// weight was known (unit weights).
	CriticalPathSeconds float64 `json:"critical_path_seconds,omitempty"`
	// Explained is true when rebuild reasons were given: a node without
	// Rebuild is then up to date.
	Explained bool         `json:"explained"`
	Nodes     []NodeReport `json:"nodes"`
}

// NodeReport describes one node of a Report.
type NodeReport struct {
	Name  string `json:"name"`
	Order int    `json:"order"`
	// Class is "python", "bootstrap N" or "normal package".
	Class string `json:"class"`
	Layer int    `json:"layer"`
	// WeightSeconds is the node's known expected duration (0 if unknown).
	WeightSeconds float64 `json:"weight_seconds,omitempty"`
	// Deps are the direct dependencies.
	Deps []DepReport `json:"deps"`
	// BuildRoot are BuildRequires no other node provides.
	BuildRoot []string `json:"build_root"`
	Notes     []string `json:"notes,omitempty"`
	// Rebuild are the reasons the node will be rebuilt (with Explained).
	Rebuild []string `json:"rebuild,omitempty"`
}

// DepReport is one dependency of a NodeReport.
type DepReport struct {
	Node string   `json:"node"`
	Kind EdgeKind `json:"kind"`
	Via  []string `json:"via,omitempty"`
}

// Report builds the JSON form; reasons is Explain's result or nil.
func (p *Plan) Report(reasons map[string][]string) Report {
	cp, w := p.CriticalPath()
	r := Report{
		Packages:     len(p.nodes),
		Layers:       p.Layers(),
		CriticalPath: cp,
		Explained:    reasons != nil,
		Nodes:        make([]NodeReport, len(p.nodes)),
	}
	if r.CriticalPath == nil {
		r.CriticalPath = []string{}
	}
	if !p.unit {
		r.CriticalPathSeconds = w.Seconds()
	}
	for k, nd := range p.nodes {
		nr := NodeReport{
			Name:          nd.Name,
			Order:         nd.Order,
			Class:         className(nd.Order),
			Layer:         p.layer[k],
			WeightSeconds: nd.Weight.Seconds(),
			Deps:          []DepReport{},
			BuildRoot:     []string{},
			Notes:         p.notes[k],
			Rebuild:       reasons[nd.Name],
		}
		for _, e := range p.deps[k] {
			dr := DepReport{Node: p.nodes[e.to].Name, Kind: e.kind}
			for _, v := range e.via {
				dr.Via = append(dr.Via, v.String())
			}
			nr.Deps = append(nr.Deps, dr)
		}
		for _, d := range p.buildRoot[k] {
			nr.BuildRoot = append(nr.BuildRoot, d.String())
		}
		r.Nodes[k] = nr
	}
	return r
}

// WriteJSON writes Report(reasons) as indented JSON.
func (p *Plan) WriteJSON(w io.Writer, reasons map[string][]string) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(p.Report(reasons))
}

// WriteText renders the plan for `bundle plan`: a summary line, the
// layers, the critical path and, per node, its dependencies (with the
// BuildRequires behind each), what it takes from the build root and, when
// reasons is not nil, why it is rebuilt.
func (p *Plan) WriteText(w io.Writer, reasons map[string][]string) error {
	bw := bufio.NewWriter(w)
	r := p.Report(reasons)
	fmt.Fprintf(bw, "%d packages in %d layers\n", r.Packages, len(r.Layers))
	if len(r.CriticalPath) > 0 {
		fmt.Fprintf(bw, "critical path: %s (%s)\n", strings.Join(r.CriticalPath, " → "), p.pathLength(len(r.CriticalPath), r.CriticalPathSeconds))
	}
	if reasons != nil {
		n := 0
		for _, nr := range r.Nodes {
			if len(nr.Rebuild) > 0 {
				n++
			}
		}
		fmt.Fprintf(bw, "to rebuild: %d, up to date: %d\n", n, r.Packages-n)
	}
	for l, names := range r.Layers {
		fmt.Fprintf(bw, "layer %d: %s\n", l, strings.Join(names, " "))
	}
	for _, nr := range r.Nodes {
		fmt.Fprintf(bw, "\n%s", nr.Name)
		var tags []string
		if nr.Class != "normal package" {
			tags = append(tags, nr.Class)
		}
		if nr.WeightSeconds > 0 {
			tags = append(tags, "~"+roundDur(time.Duration(nr.WeightSeconds*float64(time.Second))))
		}
		if len(tags) > 0 {
			fmt.Fprintf(bw, " [%s]", strings.Join(tags, ", "))
		}
		bw.WriteByte('\n')
		for _, d := range nr.Deps {
			switch d.Kind {
			case KindOrder:
				fmt.Fprintf(bw, "  after %s (build order)\n", d.Node)
			case KindRich:
				fmt.Fprintf(bw, "  needs %s for %s (rich)\n", d.Node, strings.Join(d.Via, ", "))
			default:
				fmt.Fprintf(bw, "  needs %s for %s\n", d.Node, strings.Join(d.Via, ", "))
			}
		}
		if len(nr.BuildRoot) > 0 {
			fmt.Fprintf(bw, "  from build root: %s\n", strings.Join(nr.BuildRoot, ", "))
		}
		for _, n := range nr.Notes {
			fmt.Fprintf(bw, "  note: %s\n", n)
		}
		if reasons != nil {
			if len(nr.Rebuild) > 0 {
				fmt.Fprintf(bw, "  rebuild: %s\n", strings.Join(nr.Rebuild, "; "))
			} else {
				fmt.Fprintf(bw, "  up to date\n")
			}
		}
	}
	return bw.Flush()
}

func (p *Plan) pathLength(n int, seconds float64) string {
	pk := fmt.Sprintf("%d packages", n)
	if n == 1 {
		pk = "1 package"
	}
	if p.unit {
		return pk
	}
	return pk + ", ~" + roundDur(time.Duration(seconds*float64(time.Second)))
}

// roundDur renders d to the second, or to the millisecond below a second.
func roundDur(d time.Duration) string {
	if d >= time.Second {
		return d.Round(time.Second).String()
	}
	return d.Round(time.Millisecond).String()
}
