package plan

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bundle-dev/bundle/bundle/rpm"
)

// randomNodes makes a synthetic recipe of n packages: pkg0000 is python,
// the next three are bootstrap 1..3, the rest normal. Each package
// provides its name, a -devel and a soname, and build-requires up to 6
// earlier packages' -devel (some versioned, some through a rich
// dependency) plus build-root packages, so the graph is a random DAG.
func randomNodes(n int, seed uint64) []*Node {
	rng := rand.New(rand.NewPCG(seed, 42))
	nodes := make([]*Node, n)
	for i := range nodes {
		name := fmt.Sprintf("pkg%04d", i)
		nd := &Node{
			Name:   name,
			Order:  OrderNormal,
			Weight: time.Duration(1+rng.IntN(600)) * time.Second,
			Provides: []rpm.Dep{
				{Name: name, Flags: rpm.SenseEqual, EVR: rpm.EVR{Version: "1.0", Release: "1"}},
				{Name: name + "-devel", Flags: rpm.SenseEqual, EVR: rpm.EVR{Version: "1.0", Release: "1"}},
				{Name: "lib" + name + ".so.1()(64bit)"},
			},
			BuildRequires: []rpm.Dep{{Name: "gcc"}, {Name: "make"}, {Name: "pkgconfig(glib-2.0)", Flags: rpm.SenseGreater | rpm.SenseEqual, EVR: rpm.EVR{Version: "2.56"}}},
		}
		switch {
		case i == 0:
			nd.Order = OrderPython
		case i < 4:
			nd.Order = i
		}
		if i > 0 {
			for k := rng.IntN(7); k > 0; k-- {
				dep := fmt.Sprintf("pkg%04d-devel", rng.IntN(i))
				switch rng.IntN(4) {
				case 0:
					nd.BuildRequires = append(nd.BuildRequires, rpm.Dep{Name: dep, Flags: rpm.SenseGreater | rpm.SenseEqual, EVR: rpm.EVR{Version: "0.9"}})
				case 1:
					nd.BuildRequires = append(nd.BuildRequires, rpm.Dep{Name: "(" + dep + " or legacy-devel)"})
				default:
					nd.BuildRequires = append(nd.BuildRequires, rpm.Dep{Name: dep})
				}
			}
		}
		nodes[i] = nd
	}
	return nodes
}

// BenchmarkPlan1000 plans a synthetic 1,000-package recipe. Target: well
// under 1 s per plan and 200 MB of RSS; the peak RSS of the process is
// reported as MB-peak-rss.
func BenchmarkPlan1000(b *testing.B) {
	nodes := randomNodes(1000, 7)
	b.ReportAllocs()
	var p *Plan
	for b.Loop() {
		var err error
		p, err = New(nodes, Options{})
		if err != nil {
			b.Fatal(err)
		}
	}
	cp, w := p.CriticalPath()
	b.ReportMetric(float64(len(p.Layers())), "layers")
	b.ReportMetric(float64(len(cp)), "cp-nodes")
	b.ReportMetric(w.Hours(), "cp-hours")
	if kb := peakRSSKB(); kb > 0 {
		b.ReportMetric(float64(kb)/1024, "MB-peak-rss")
	}
}

// peakRSSKB reads VmHWM (peak resident set) from /proc/self/status.
func peakRSSKB() int {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				n, _ := strconv.Atoi(f[0])
				return n
			}
		}
	}
	return 0
}
