// Package plan turns the packages of a recipe into a build DAG: a package
// is built after every other package whose predicted Provides satisfy one
// of its BuildRequires, python before everything else, bootstrap packages
// before normal ones and in their given order. The plan gives topological
// layers, the critical path, dependency queries and the "why does this
// rebuild" propagation behind `bundle plan --explain`.
//
// The package knows nothing about builders; helpers in spec.go predict a
// node's Provides and BuildRequires from a spec or SRPM through the runner.
package plan

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/bundle-dev/bundle/bundle/rpm"
)

// Order classes for Node.Order: OrderPython (0) for the python the bundle
// is built around, 1 … OrderNormal-1 for bootstrap packages (built in
// increasing order, nodes with equal Order side by side), OrderNormal and
// above for normal packages (all one class).
const (
	OrderPython = 0
	OrderNormal = 1 << 20
)

// Node is one package to build.
type Node struct {
	// Name identifies the node (the recipe's package name, usually the
	// source package name). Unique within a plan.
	Name string
	// BuildRequires are the package's build dependencies.
	BuildRequires []rpm.Dep
	// Provides are the predicted Provides of the binary packages the build
	// produces, including the subpackage names themselves.
	Provides []rpm.Dep
	// Order is the class: OrderPython, a bootstrap position, or OrderNormal.
	Order int
	// Weight is the expected build duration (from the last run when known,
	// 0 when not).
	Weight time.Duration
}

// Options tune New.
type Options struct {
	// DefaultWeight is assumed for nodes whose Weight is 0. When it is 0
	// too, the median of the known weights is used, or a unit weight of
	// 1ns for every node when no weight is known (the critical path then
	// counts packages).
	DefaultWeight time.Duration
}

// EdgeKind says why a node waits for another.
type EdgeKind string

const (
	// KindRequires: a BuildRequires is satisfied by the other node's
	// Provides.
	KindRequires EdgeKind = "requires"
	// KindRich: a rich (boolean) BuildRequires may install something the
	// other node provides. Such an edge is dropped, with a note, when it
	// would close a cycle, since the solver may pick another alternative.
	KindRich EdgeKind = "rich"
	// KindOrder: implied by the python/bootstrap/normal order.
	KindOrder EdgeKind = "order"
)

// Edge is one dependency of a node: Node must be built first.
type Edge struct {
	Node string    `json:"node"`
	Kind EdgeKind  `json:"kind"`
	Via  []rpm.Dep `json:"-"` // the BuildRequires satisfied by Node (empty for KindOrder)
}

// Plan is an acyclic build graph. It is immutable after New.
type Plan struct {
	nodes     []*Node // plan order: by layer, then name
	idx       map[string]int
	deps      [][]edge // per node, its dependencies, sorted by plan order
	rdeps     [][]int  // per node, its direct dependents, sorted
	layer     []int
	layers    [][]int
	weight    []time.Duration
	remaining []time.Duration
	critical  []int
	buildRoot [][]rpm.Dep
	notes     [][]string
	unit      bool // no weight was known: unit weights
}

type edge struct {
	to   int
	kind EdgeKind
	via  []rpm.Dep
}

// builder holds the graph while New works on input order indexes.
type builder struct {
	nodes     []*Node
	deps      []map[int]*edge
	buildRoot [][]rpm.Dep
	notes     [][]string
	weak      []weakEdge
	promoted  []bool // needed by an earlier order class: no order edges
}

type weakEdge struct {
	from, to int
	via      rpm.Dep
}

type provRef struct {
	node int
	dep  rpm.Dep
}

// New builds the plan. It fails on invalid nodes (empty or duplicate
// names, negative Order) and on a dependency cycle, printing the cycle.
// The order classes (python first, then bootstrap packages in order, then
// the rest) become edges between the classes' nodes; a node an earlier
// class build-requires is built before it (see promote).
//
// Edges: every plain BuildRequires is matched with rpm.Dep.SatisfiedBy
// against every other node's Provides and the node waits for all matches
// (so the local repository it sees does not depend on scheduling). A
// BuildRequires no other node provides is "from the build root" (the
// sandbox rootfs or mock's base repositories) and recorded as such; a
// node's own Provides never satisfy its BuildRequires. rpmlib(...)
// requirements are ignored. A rich BuildRequires gives KindRich edges to
// the providers of every atom it may install (not to if/unless conditions
// nor to the excluded side of without); those are added after the
// acyclicity check and skipped when they would close a cycle.
func New(nodes []*Node, opts Options) (*Plan, error) {
	b := &builder{nodes: slices.Clone(nodes)}
	if err := b.validate(); err != nil {
		return nil, err
	}
	sort.Slice(b.nodes, func(i, j int) bool { return b.nodes[i].Name < b.nodes[j].Name })
	n := len(b.nodes)
	b.deps = make([]map[int]*edge, n)
	b.buildRoot = make([][]rpm.Dep, n)
	b.notes = make([][]string, n)
	for i := range b.deps {
		b.deps[i] = map[int]*edge{}
	}
	if err := b.matchRequires(); err != nil {
		return nil, err
	}
	b.promote()
	b.addOrderEdges()
	if cyc := b.findCycle(); cyc != nil {
		return nil, b.cycleError(cyc)
	}
	b.addWeakEdges()
	b.reduceOrderEdges()
	return b.finish(opts), nil
}

func (b *builder) validate() error {
	seen := make(map[string]bool, len(b.nodes))
	var errs []error
	for i, nd := range b.nodes {
		switch {
		case nd == nil:
			errs = append(errs, fmt.Errorf("plan: node %d is nil", i))
			continue
		case nd.Name == "":
			errs = append(errs, fmt.Errorf("plan: node %d has no name", i))
		case seen[nd.Name]:
			errs = append(errs, fmt.Errorf("plan: package %q is listed twice; give each recipe entry a unique name", nd.Name))
		}
		if nd.Order < 0 {
			errs = append(errs, fmt.Errorf("plan: package %q: Order %d is negative (0 = python, 1.. = bootstrap, %d = normal)", nd.Name, nd.Order, OrderNormal))
		}
		if nd.Weight < 0 {
			errs = append(errs, fmt.Errorf("plan: package %q: negative weight %s", nd.Name, nd.Weight))
		}
		seen[nd.Name] = true
	}
	return errors.Join(errs...)
}

// rank is the order class used for ordering edges.
func (b *builder) rank(i int) int { return min(b.nodes[i].Order, OrderNormal) }

func (b *builder) class(i int) string { return className(b.nodes[i].Order) }

func className(order int) string {
	switch {
	case order == OrderPython:
		return "python"
	case order < OrderNormal:
		return fmt.Sprintf("bootstrap %d", order)
	}
	return "normal package"
}

func isRpmlib(d rpm.Dep) bool {
	return strings.HasPrefix(d.Name, "rpmlib(") || d.Flags&rpm.SenseRpmlib != 0
}

func (b *builder) matchRequires() error {
	provs := map[string][]provRef{}
	for i, nd := range b.nodes {
		for _, p := range nd.Provides {
			provs[p.Name] = append(provs[p.Name], provRef{i, p})
		}
	}
	// providers returns the other nodes satisfying req, sorted, and
	// whether some node provides the name at a non-matching version.
	providers := func(self int, req rpm.Dep) (match []int, near []provRef) {
		for _, pr := range provs[req.Name] {
			if pr.node == self {
				continue
			}
			if req.SatisfiedBy(pr.dep) {
				if !slices.Contains(match, pr.node) {
					match = append(match, pr.node)
				}
			} else {
				near = append(near, pr)
			}
		}
		slices.Sort(match)
		return match, near
	}
	for i, nd := range b.nodes {
		for _, req := range nd.BuildRequires {
			if req.Name == "" || isRpmlib(req) {
				continue
			}
			if strings.HasPrefix(req.Name, "(") {
				r, err := rpm.ParseRich(req.Name)
				if err != nil {
					return fmt.Errorf("plan: package %q: BuildRequires: %w", nd.Name, err)
				}
				var targets []int
				for _, atom := range installable(r) {
					m, _ := providers(i, atom)
					for _, j := range m {
						if !slices.Contains(targets, j) {
							targets = append(targets, j)
						}
					}
				}
				if len(targets) == 0 {
					b.buildRoot[i] = append(b.buildRoot[i], req)
				}
				slices.Sort(targets)
				for _, j := range targets {
					b.weak = append(b.weak, weakEdge{i, j, req})
				}
				continue
			}
			m, near := providers(i, req)
			if len(m) == 0 {
				b.buildRoot[i] = append(b.buildRoot[i], req)
				for _, pr := range near {
					b.notes[i] = append(b.notes[i], fmt.Sprintf("%s is not satisfied by %s (provides %s); expecting it from the build root",
						req, b.nodes[pr.node].Name, pr.dep))
				}
				continue
			}
			for _, j := range m {
				e := b.deps[i][j]
				if e == nil {
					e = &edge{to: j, kind: KindRequires}
					b.deps[i][j] = e
				}
				e.via = append(e.via, req)
			}
		}
	}
	return nil
}

// promote marks the nodes that an earlier order class needs: a library
// the Python BuildRequires (zlib, openssl, ...) is built before the Python,
// whatever its own class, and so is one a bootstrap package needs before
// that package. Promoted nodes get no order edges of their own: they wait
// only for their BuildRequires, and so build as early as they can (in
// parallel with the Python when only gdb needs them).
func (b *builder) promote() {
	b.promoted = make([]bool, len(b.nodes))
	order := make([]int, len(b.nodes))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(x, y int) bool { return b.rank(order[x]) < b.rank(order[y]) })
	for _, i := range order {
		seen := map[int]bool{}
		var visit func(int)
		visit = func(n int) {
			for j := range b.deps[n] {
				if seen[j] {
					continue
				}
				seen[j] = true
				if b.rank(j) > b.rank(i) {
					b.promoted[j] = true
				}
				visit(j)
			}
		}
		visit(i)
	}
}

// addOrderEdges makes every node of one order class wait for every node of
// the previous class (python → bootstrap 1 → bootstrap 2 → … → normal),
// which orders all classes transitively. Promoted nodes take no part:
// they are built when what needs them is.
func (b *builder) addOrderEdges() {
	byRank := map[int][]int{}
	for i := range b.nodes {
		if !b.promoted[i] {
			byRank[b.rank(i)] = append(byRank[b.rank(i)], i)
		}
	}
	ranks := sortedKeys(byRank)
	for k := 1; k < len(ranks); k++ {
		for _, i := range byRank[ranks[k]] {
			for _, j := range byRank[ranks[k-1]] {
				if b.deps[i][j] == nil {
					b.deps[i][j] = &edge{to: j, kind: KindOrder}
				}
			}
		}
	}
}

// finish computes layers, plan order, weights and the critical path.
func (b *builder) finish(opts Options) *Plan {
	n := len(b.nodes)
	// Layers by longest path from a source, in a Kahn traversal.
	layer := make([]int, n)
	indeg := make([]int, n)
	rdeps := make([][]int, n)
	for i := range b.nodes {
		indeg[i] = len(b.deps[i])
		for j := range b.deps[i] {
			rdeps[j] = append(rdeps[j], i)
		}
	}
	queue := make([]int, 0, n)
	for i := range b.nodes {
		if indeg[i] == 0 {
			queue = append(queue, i)
		}
	}
	for q := 0; q < len(queue); q++ {
		i := queue[q]
		for _, d := range rdeps[i] {
			layer[d] = max(layer[d], layer[i]+1)
			if indeg[d]--; indeg[d] == 0 {
				queue = append(queue, d)
			}
		}
	}
	// Plan order: by layer, then name (input indexes are name-sorted).
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, c int) bool { return layer[order[a]] < layer[order[c]] })
	pos := make([]int, n)
	for k, i := range order {
		pos[i] = k
	}
	p := &Plan{
		nodes:     make([]*Node, n),
		idx:       make(map[string]int, n),
		deps:      make([][]edge, n),
		rdeps:     make([][]int, n),
		layer:     make([]int, n),
		weight:    make([]time.Duration, n),
		remaining: make([]time.Duration, n),
		buildRoot: make([][]rpm.Dep, n),
		notes:     make([][]string, n),
	}
	for k, i := range order {
		p.nodes[k] = b.nodes[i]
		p.idx[b.nodes[i].Name] = k
		p.layer[k] = layer[i]
		p.buildRoot[k] = b.buildRoot[i]
		p.notes[k] = b.notes[i]
		for j, e := range b.deps[i] {
			p.deps[k] = append(p.deps[k], edge{to: pos[j], kind: e.kind, via: e.via})
			p.rdeps[pos[j]] = append(p.rdeps[pos[j]], k)
		}
		slices.SortFunc(p.deps[k], func(x, y edge) int { return x.to - y.to })
		for layer[i] >= len(p.layers) {
			p.layers = append(p.layers, nil)
		}
		p.layers[layer[i]] = append(p.layers[layer[i]], k)
	}
	for k := range p.rdeps {
		slices.Sort(p.rdeps[k])
	}
	p.setWeights(opts.DefaultWeight)
	return p
}

// setWeights fills weight, remaining (longest weighted path from a node's
// start to the end of the plan) and the critical path.
func (p *Plan) setWeights(def time.Duration) {
	if def <= 0 {
		var known []time.Duration
		for _, nd := range p.nodes {
			if nd.Weight > 0 {
				known = append(known, nd.Weight)
			}
		}
		if len(known) == 0 {
			def, p.unit = 1, true
		} else {
			slices.Sort(known)
			def = known[len(known)/2]
		}
	}
	for k, nd := range p.nodes {
		p.weight[k] = nd.Weight
		if p.weight[k] <= 0 {
			p.weight[k] = def
		}
	}
	// Plan order is topological: dependents come after their dependencies.
	for k := len(p.nodes) - 1; k >= 0; k-- {
		var best time.Duration
		for _, d := range p.rdeps[k] {
			best = max(best, p.remaining[d])
		}
		p.remaining[k] = p.weight[k] + best
	}
	start := -1
	for k := range p.nodes {
		if start < 0 || p.remaining[k] > p.remaining[start] {
			start = k
		}
	}
	for k := start; k >= 0; {
		p.critical = append(p.critical, k)
		next := -1
		for _, d := range p.rdeps[k] {
			if next < 0 || p.remaining[d] > p.remaining[next] {
				next = d
			}
		}
		k = next
	}
}

func depList(deps []rpm.Dep) string {
	s := make([]string, len(deps))
	for i, d := range deps {
		s[i] = d.String()
	}
	return strings.Join(s, ", ")
}

func sortedKeys[V any](m map[int]V) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
