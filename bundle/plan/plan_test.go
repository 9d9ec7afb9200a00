package plan

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/bundle-dev/bundle/bundle/rpm"
	"github.com/bundle-dev/bundle/bundle/testenv"
)

// node builds a Node from dependency strings.
func node(t testing.TB, name string, order int, provides, requires []string) *Node {
	t.Helper()
	return &Node{Name: name, Order: order, Provides: mustDeps(t, provides...), BuildRequires: mustDeps(t, requires...)}
}

// diracosNodes is a small recipe shaped like DIRACOS: python first, one
// bootstrap package, normal packages with plain, versioned and rich
// BuildRequires.
func diracosNodes(t testing.TB) []*Node {
	return []*Node{
		node(t, "python3", OrderPython, []string{"python3 = 3.11.4-1", "python3-devel = 3.11.4-1", "python3-libs = 3.11.4-1"},
			[]string{"gcc", "openssl-devel >= 1.1", "rpmlib(CompressedFileNames) <= 3.0.4-1"}),
		node(t, "zlib", 1, []string{"zlib = 1.2.13-1", "zlib-devel = 1.2.13-1"}, []string{"gcc"}),
		node(t, "libxml2", OrderNormal, []string{"libxml2 = 2.10.4-1", "libxml2-devel = 2.10.4-1"},
			[]string{"zlib-devel >= 1.2.11", "python3-devel", "pkgconfig"}),
		node(t, "setuptools", OrderNormal, []string{"python3-setuptools = 68.0-1"}, []string{"python3-devel"}),
		node(t, "lxml", OrderNormal, []string{"python3-lxml = 4.9-1"},
			[]string{"libxml2-devel", "python3-devel", "(python3-setuptools or python3-pip)", "(python3-cython if python3-libs)"}),
	}
}

func mustNew(t testing.TB, nodes []*Node, opts Options) *Plan {
	t.Helper()
	p, err := New(nodes, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

func TestNewDiracos(t *testing.T) {
	p := mustNew(t, diracosNodes(t), Options{})
	wantLayers := [][]string{{"python3"}, {"zlib"}, {"libxml2", "setuptools"}, {"lxml"}}
	if got := p.Layers(); !reflect.DeepEqual(got, wantLayers) {
		t.Errorf("Layers = %q, want %q", got, wantLayers)
	}
	edges := p.Edges("libxml2")
	want := []Edge{
		{Node: "python3", Kind: KindRequires, Via: mustDeps(t, "python3-devel")},
		{Node: "zlib", Kind: KindRequires, Via: mustDeps(t, "zlib-devel >= 1.2.11")},
	}
	if !reflect.DeepEqual(edges, want) {
		t.Errorf("Edges(libxml2) = %+v, want %+v", edges, want)
	}
	if got := p.Edges("setuptools"); !reflect.DeepEqual(got, []Edge{
		{Node: "python3", Kind: KindRequires, Via: mustDeps(t, "python3-devel")},
		{Node: "zlib", Kind: KindOrder, Via: nil},
	}) {
		t.Errorf("Edges(setuptools) = %+v", got)
	}
	if got := p.Edges("zlib"); !reflect.DeepEqual(got, []Edge{{Node: "python3", Kind: KindOrder}}) {
		t.Errorf("Edges(zlib) = %+v", got)
	}
	lx := p.Edges("lxml")
	if len(lx) != 3 || lx[2].Node != "setuptools" || lx[2].Kind != KindRich {
		t.Errorf("Edges(lxml) = %+v, want a rich edge to setuptools last", lx)
	}
	if got := p.BuildRoot("libxml2"); !reflect.DeepEqual(got, mustDeps(t, "pkgconfig")) {
		t.Errorf("BuildRoot(libxml2) = %v", got)
	}
	// The condition of "if" is not installed by the dependency: no edge to
	// python3 for it, and the cython it would need comes from the build root.
	if got := p.BuildRoot("lxml"); len(got) != 1 || got[0].Name != "(python3-cython if python3-libs)" {
		t.Errorf("BuildRoot(lxml) = %v", got)
	}
	// rpmlib() requirements are never build-root packages.
	if got := p.BuildRoot("python3"); !reflect.DeepEqual(got, mustDeps(t, "gcc", "openssl-devel >= 1.1")) {
		t.Errorf("BuildRoot(python3) = %v", got)
	}
	if got := p.Deps("lxml"); !reflect.DeepEqual(got, []string{"python3", "libxml2", "setuptools"}) {
		t.Errorf("Deps(lxml) = %q", got)
	}
	if got := p.Dependents("zlib"); !reflect.DeepEqual(got, []string{"libxml2", "setuptools"}) {
		t.Errorf("Dependents(zlib) = %q", got)
	}
	if got := p.ReverseDeps("zlib"); !reflect.DeepEqual(got, []string{"libxml2", "setuptools", "lxml"}) {
		t.Errorf("ReverseDeps(zlib) = %q", got)
	}
	if got := p.ReverseDeps("python3"); len(got) != 4 {
		t.Errorf("ReverseDeps(python3) = %q, want every other node", got)
	}
	if got := p.ReverseDeps("lxml"); len(got) != 0 {
		t.Errorf("ReverseDeps(lxml) = %q", got)
	}
	if p.Node("nope") != nil || p.Deps("nope") != nil || p.Layer("nope") != -1 {
		t.Error("queries on an unknown name must return nothing")
	}
	cp, w := p.CriticalPath()
	if !reflect.DeepEqual(cp, []string{"python3", "zlib", "libxml2", "lxml"}) || w != 4 || !p.UnitWeights() {
		t.Errorf("CriticalPath = %q, %d (unit %v)", cp, w, p.UnitWeights())
	}
}

func TestNewMatching(t *testing.T) {
	tests := []struct {
		name      string
		nodes     []*Node
		deps      map[string][]string
		buildRoot map[string][]string
		notes     map[string]string
	}{
		{
			name: "version not satisfied goes to the build root with a note",
			nodes: []*Node{
				node(t, "zlib", OrderNormal, []string{"zlib-devel = 1.2.13-1"}, nil),
				node(t, "app", OrderNormal, nil, []string{"zlib-devel >= 2.0"}),
			},
			deps:      map[string][]string{"app": nil},
			buildRoot: map[string][]string{"app": {"zlib-devel >= 2.0"}},
			notes:     map[string]string{"app": "zlib-devel >= 2.0 is not satisfied by zlib (provides zlib-devel = 1.2.13-1)"},
		},
		{
			name: "every provider is waited for",
			nodes: []*Node{
				node(t, "openblas", OrderNormal, []string{"libblas"}, nil),
				node(t, "atlas", OrderNormal, []string{"libblas = 3.10"}, nil),
				node(t, "numpy", OrderNormal, nil, []string{"libblas >= 3"}),
			},
			deps: map[string][]string{"numpy": {"atlas", "openblas"}},
		},
		{
			name: "own provides never satisfy own BuildRequires",
			nodes: []*Node{
				node(t, "gcc", OrderNormal, []string{"gcc = 13", "cpp = 13"}, []string{"gcc", "cpp >= 10"}),
			},
			deps:      map[string][]string{"gcc": nil},
			buildRoot: map[string][]string{"gcc": {"gcc", "cpp >= 10"}},
		},
		{
			name: "epoch counts",
			nodes: []*Node{
				node(t, "foo", OrderNormal, []string{"foo-devel = 1:1.0-1"}, nil),
				node(t, "bar", OrderNormal, nil, []string{"foo-devel >= 2.0"}),
			},
			deps: map[string][]string{"bar": {"foo"}},
		},
		{
			name: "rich without: the excluded side is no edge",
			nodes: []*Node{
				node(t, "a", OrderNormal, []string{"liba = 1"}, nil),
				node(t, "b", OrderNormal, []string{"libb = 1"}, nil),
				node(t, "c", OrderNormal, nil, []string{"(liba without libb)"}),
			},
			deps: map[string][]string{"c": {"a"}},
		},
		{
			name: "rich edge that would close a cycle is dropped with a note",
			nodes: []*Node{
				node(t, "a", OrderNormal, []string{"a-devel"}, []string{"(b-devel or c-devel)"}),
				node(t, "b", OrderNormal, []string{"b-devel"}, []string{"a-devel"}),
			},
			deps:  map[string][]string{"a": nil, "b": {"a"}},
			notes: map[string]string{"a": "not ordered after b for (b-devel or c-devel): that would form a cycle"},
		},
		{
			name: "bootstrap packages wait for each other in order",
			nodes: []*Node{
				node(t, "b2", 2, nil, nil),
				node(t, "b1", 1, nil, nil),
				node(t, "b1bis", 1, nil, nil),
				node(t, "app", OrderNormal+5, nil, nil),
			},
			deps: map[string][]string{"b1": nil, "b1bis": nil, "b2": {"b1", "b1bis"}, "app": {"b2"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustNew(t, tt.nodes, Options{})
			for name, want := range tt.deps {
				if got := p.Deps(name); !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
					t.Errorf("Deps(%s) = %q, want %q", name, got, want)
				}
			}
			for name, want := range tt.buildRoot {
				var got []string
				for _, d := range p.BuildRoot(name) {
					got = append(got, d.String())
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("BuildRoot(%s) = %q, want %q", name, got, want)
				}
			}
			for name, want := range tt.notes {
				if got := strings.Join(p.Notes(name), "\n"); !strings.Contains(got, want) {
					t.Errorf("Notes(%s) = %q, want %q", name, got, want)
				}
			}
		})
	}
}

// A library the Python needs is built before it although it is a normal
// package; one only gdb needs builds in parallel with the Python; the other
// normal packages wait for gdb.
func TestPromotedDependencies(t *testing.T) {
	p, err := New([]*Node{
		node(t, "python3", OrderPython, []string{"python3-devel"}, []string{"zlib-devel"}),
		node(t, "gdb", 1, []string{"gdb"}, []string{"python3-devel", "gmp-devel"}),
		node(t, "zlib", OrderNormal, []string{"zlib-devel"}, nil),
		node(t, "gmp", OrderNormal, []string{"gmp-devel"}, nil),
		node(t, "libxml2", OrderNormal, []string{"libxml2"}, []string{"zlib-devel"}),
	}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	deps := func(n string) string { return strings.Join(p.Deps(n), ",") }
	if got := deps("python3"); got != "zlib" {
		t.Errorf("python3 waits for %q, want zlib", got)
	}
	if got := deps("gmp"); got != "" {
		t.Errorf("gmp waits for %q, want nothing (it builds beside the python)", got)
	}
	if got := deps("gdb"); got != "gmp,python3" && got != "python3,gmp" {
		t.Errorf("gdb waits for %q, want gmp and python3", got)
	}
	if got := deps("libxml2"); !strings.Contains(got, "gdb") || !strings.Contains(got, "zlib") {
		t.Errorf("libxml2 waits for %q, want gdb and zlib", got)
	}
	if l := p.Layers(); strings.Join(l[0], ",") != "gmp,zlib" {
		t.Errorf("first layer %v, want gmp and zlib", l[0])
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name  string
		nodes []*Node
		want  []string
	}{
		{"nil node", []*Node{nil}, []string{"node 0 is nil"}},
		{"no name", []*Node{{}}, []string{"node 0 has no name"}},
		{"duplicate", []*Node{{Name: "a"}, {Name: "a"}}, []string{`"a" is listed twice`}},
		{"negative order", []*Node{{Name: "a", Order: -1}}, []string{"Order -1 is negative"}},
		{"bad rich dep", []*Node{{Name: "a", BuildRequires: []rpm.Dep{{Name: "(a or"}}}}, []string{`package "a"`, "rich dependency"}},
		{
			"two-node cycle",
			[]*Node{
				node(t, "zlib", OrderNormal, []string{"zlib-devel"}, []string{"libxml2-devel"}),
				node(t, "libxml2", OrderNormal, []string{"libxml2-devel"}, []string{"zlib-devel"}),
			},
			[]string{"dependency cycle: libxml2 → zlib → libxml2", "libxml2 needs zlib-devel from zlib", "zlib needs libxml2-devel from libxml2"},
		},
		{
			"three-node cycle among bootstrap peers",
			[]*Node{
				node(t, "a", 1, []string{"a"}, []string{"b"}),
				node(t, "b", 1, []string{"b"}, []string{"c"}),
				node(t, "c", 1, []string{"c"}, []string{"a"}),
				node(t, "d", OrderNormal, []string{"d"}, []string{"a"}),
			},
			[]string{"dependency cycle: a → b → c → a"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.nodes, Options{})
			if err == nil {
				t.Fatal("New succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestWeights(t *testing.T) {
	// a(10s) → c(1s); b(5s) → c; d(unknown) alone. Known weights 10, 5, 1:
	// the median 5s stands for d.
	nodes := []*Node{
		{Name: "a", Order: OrderNormal, Weight: 10 * time.Second, Provides: mustDeps(t, "a")},
		{Name: "b", Order: OrderNormal, Weight: 5 * time.Second, Provides: mustDeps(t, "b")},
		{Name: "c", Order: OrderNormal, Weight: 1 * time.Second, BuildRequires: mustDeps(t, "a", "b")},
		{Name: "d", Order: OrderNormal},
	}
	p := mustNew(t, nodes, Options{})
	cp, w := p.CriticalPath()
	if !reflect.DeepEqual(cp, []string{"a", "c"}) || w != 11*time.Second {
		t.Errorf("CriticalPath = %q %s, want [a c] 11s", cp, w)
	}
	for name, want := range map[string]time.Duration{"a": 11 * time.Second, "b": 6 * time.Second, "c": time.Second, "d": 5 * time.Second} {
		if got := p.Remaining(name); got != want {
			t.Errorf("Remaining(%s) = %s, want %s", name, got, want)
		}
	}
	if p.UnitWeights() {
		t.Error("UnitWeights with known weights")
	}
	p = mustNew(t, nodes, Options{DefaultWeight: time.Minute})
	if cp, w := p.CriticalPath(); !reflect.DeepEqual(cp, []string{"d"}) || w != time.Minute {
		t.Errorf("with DefaultWeight 1m: CriticalPath = %q %s", cp, w)
	}
	if p := mustNew(t, nil, Options{}); p.Len() != 0 || len(p.Layers()) != 0 {
		t.Error("empty plan is not empty")
	} else if cp, w := p.CriticalPath(); cp != nil || w != 0 {
		t.Errorf("empty plan critical path %q %s", cp, w)
	}
}

func TestExplain(t *testing.T) {
	p := mustNew(t, diracosNodes(t), Options{})
	got := p.Explain(map[string][]string{"zlib": {"source changed", "source changed"}, "ghost": {"new"}, "setuptools": {}})
	want := map[string][]string{
		"zlib":    {"source changed"},
		"libxml2": {"dependency zlib rebuilt"},
		"lxml":    {"dependency libxml2 rebuilt"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Explain(zlib) = %q, want %q", got, want)
	}
	got = p.Explain(map[string][]string{"python3": {"platform changed"}, "setuptools": {"patch changed"}})
	want = map[string][]string{
		"python3":    {"platform changed"},
		"libxml2":    {"dependency python3 rebuilt"},
		"setuptools": {"patch changed", "dependency python3 rebuilt"},
		"lxml":       {"dependency python3 rebuilt", "dependency libxml2 rebuilt", "dependency setuptools rebuilt"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Explain(python3) = %q, want %q", got, want)
	}
	if got := p.Explain(nil); len(got) != 0 {
		t.Errorf("Explain(nil) = %q", got)
	}
}

func renderBoth(t *testing.T, p *Plan, reasons map[string][]string) (string, string) {
	t.Helper()
	var txt, js bytes.Buffer
	if err := p.WriteText(&txt, reasons); err != nil {
		t.Fatal(err)
	}
	if err := p.WriteJSON(&js, reasons); err != nil {
		t.Fatal(err)
	}
	return txt.String(), js.String()
}

func TestGolden(t *testing.T) {
	nodes := diracosNodes(t)
	nodes[0].Weight = 20 * time.Minute
	nodes[2].Weight = 90 * time.Second
	p := mustNew(t, nodes, Options{})
	reasons := p.Explain(map[string][]string{"zlib": {"patch changed"}, "setuptools": {"new"}})
	txt, js := renderBoth(t, p, reasons)
	for name, got := range map[string]string{"testdata/plan.txt.golden": txt, "testdata/plan.json.golden": js} {
		testenv.Golden(t, name, []byte(got))
	}
	var r Report
	if err := json.Unmarshal([]byte(js), &r); err != nil || len(r.Nodes) != 5 || !r.Explained {
		t.Errorf("JSON does not decode into a Report: %v", err)
	}
}

// TestDeterministic: the input order of nodes and of their dependencies
// never changes the plan nor its rendering.
func TestDeterministic(t *testing.T) {
	base := mustNew(t, diracosNodes(t), Options{})
	wantTxt, wantJS := renderBoth(t, base, nil)
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		nodes := diracosNodes(t)
		rng.Shuffle(len(nodes), func(i, j int) { nodes[i], nodes[j] = nodes[j], nodes[i] })
		txt, js := renderBoth(t, mustNew(t, nodes, Options{}), nil)
		if txt != wantTxt || js != wantJS {
			t.Fatalf("rendering depends on input order:\n%s\nvs\n%s", txt, wantTxt)
		}
	}
}

// TestRandomDAGInvariants checks, on random graphs, that every node comes
// after its dependencies in plan order, that layers are tight and that
// the critical path is a chain of real dependencies.
func TestRandomDAGInvariants(t *testing.T) {
	for seed := range uint64(5) {
		nodes := randomNodes(200, seed)
		p := mustNew(t, nodes, Options{})
		pos := map[string]int{}
		for i, nd := range p.Nodes() {
			pos[nd.Name] = i
		}
		for _, nd := range p.Nodes() {
			maxLayer := -1
			for _, d := range p.Deps(nd.Name) {
				if pos[d] >= pos[nd.Name] {
					t.Fatalf("seed %d: %s before its dependency %s", seed, nd.Name, d)
				}
				maxLayer = max(maxLayer, p.Layer(d))
			}
			if p.Layer(nd.Name) != maxLayer+1 {
				t.Fatalf("seed %d: %s in layer %d, deps up to %d", seed, nd.Name, p.Layer(nd.Name), maxLayer)
			}
		}
		cp, w := p.CriticalPath()
		var sum time.Duration
		for i, name := range cp {
			sum += p.Weight(name)
			if i > 0 && !contains(p.Deps(name), cp[i-1]) {
				t.Fatalf("seed %d: critical path step %s → %s is no edge", seed, cp[i-1], name)
			}
		}
		if sum != w {
			t.Fatalf("seed %d: critical path weight %s, sum of its nodes %s", seed, w, sum)
		}
		for _, nd := range p.Nodes() {
			if p.Remaining(nd.Name) > w {
				t.Fatalf("seed %d: %s has more remaining work than the critical path", seed, nd.Name)
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
