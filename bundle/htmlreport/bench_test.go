package htmlreport

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/bundle-dev/bundle/bundle/plan"
	"github.com/bundle-dev/bundle/bundle/schedule"
)

// bigReport is a finished build of n packages in layers of up to 40, each
// package needing up to three of the layer before, run by 8 workers.
func bigReport(n int) *Report {
	r := &Report{FormatVersion: FormatVersion, Name: "big", Version: "1", Platform: "debian11-x86_64",
		Status: Succeeded, Started: t0, BuildStarted: t0, Workers: 8, CPUs: 16, Plan: &plan.Report{Packages: n}}
	var layers [][]string
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("pkg%03d", i)
		l := i / 40
		if l == len(layers) {
			layers = append(layers, nil)
		}
		layers[l] = append(layers[l], name)
		nr := plan.NodeReport{Name: name, Layer: l}
		if l > 0 {
			prev := layers[l-1]
			for k := 0; k < 3 && k < len(prev); k++ {
				nr.Deps = append(nr.Deps, plan.DepReport{Node: prev[(i+k*7)%len(prev)], Kind: plan.KindRequires})
			}
		}
		r.Plan.Nodes = append(r.Plan.Nodes, nr)
	}
	r.Plan.Layers = layers
	worker := make([]float64, 8)
	for i, pn := range r.Plan.Nodes {
		w := i % 8
		d := float64(20 + (i*37)%300)
		st := schedule.Done
		if i%5 == 0 {
			st, d = schedule.Cached, 1
		}
		n := node(pn.Name, st, worker[w], d, "new")
		worker[w] += d
		r.Nodes = append(r.Nodes, n)
	}
	var end float64
	for _, w := range worker {
		end = max(end, w)
	}
	r.Updated, r.Finished, r.Wall = at(end), at(end), secs(end)
	r.Bundle = &Bundle{Tarball: "/out/big-1.tar.gz", SHA256: "00", Size: 1 << 30, TotalSize: 3 << 30}
	for _, pn := range r.Plan.Nodes {
		r.Bundle.Packages = append(r.Bundle.Packages, Package{NEVRA: pn.Name + "-1-1.x86_64", Name: pn.Name, InstalledSize: int64(len(pn.Name)) << 20})
	}
	return r
}

// BenchmarkRender200: the page of a 200-package build, as the live report
// renders it every ReportInterval.
func BenchmarkRender200(b *testing.B) {
	r := bigReport(200)
	b.ReportAllocs()
	for b.Loop() {
		if err := Render(io.Discard, r, r.Updated); err != nil {
			b.Fatal(err)
		}
	}
}

// TestBigReport: a 200-package build lays out without overlapping DAG
// nodes or timeline bars, and its page keeps every package.
func TestBigReport(t *testing.T) {
	r := bigReport(200)
	var b bytes.Buffer
	if err := Render(&b, r, r.Updated); err != nil {
		t.Fatal(err)
	}
	for _, n := range r.Nodes {
		if !bytes.Contains(b.Bytes(), []byte(`id="pkg-`+n.Name+`"`)) {
			t.Fatalf("%s has no row", n.Name)
		}
	}
	d := r.layoutDAG(nil)
	seen := map[[2]int]string{}
	for _, n := range d.Nodes {
		if o, ok := seen[[2]int{n.X, n.Y}]; ok {
			t.Fatalf("%s and %s at the same place", o, n.Name)
		}
		seen[[2]int{n.X, n.Y}] = n.Name
	}
	g := r.layoutGantt(r.Updated)
	if len(g.Lanes) != 8 || len(g.Bars) != 200 {
		t.Errorf("%d lanes, %d bars; want 8 and 200", len(g.Lanes), len(g.Bars))
	}
	for i, a := range g.Bars {
		for _, c := range g.Bars[i+1:] {
			if a.Y == c.Y && a.X < c.X+c.W-0.2 && c.X < a.X+a.W-0.2 && a.W > 2 && c.W > 2 {
				t.Fatalf("bars %s and %s overlap in one lane", a.Name, c.Name)
			}
		}
	}
}
