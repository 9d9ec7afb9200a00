package plan

import (
	"slices"
	"time"

	"github.com/bundle-dev/bundle/bundle/rpm"
)

// Len is the number of nodes.
func (p *Plan) Len() int { return len(p.nodes) }

// Nodes returns the nodes in plan order: a topological order, by layer and
// then by name. Every node comes after all of its dependencies.
func (p *Plan) Nodes() []*Node { return slices.Clone(p.nodes) }

// Node returns the node called name, or nil.
func (p *Plan) Node(name string) *Node {
	if k, ok := p.idx[name]; ok {
		return p.nodes[k]
	}
	return nil
}

// Layers returns the topological layers: layer 0 has no dependencies, a
// node in layer n depends on at least one node of layer n-1 and none of
// later layers. Names are sorted within a layer.
func (p *Plan) Layers() [][]string {
	out := make([][]string, len(p.layers))
	for l, ks := range p.layers {
		out[l] = p.names(ks)
	}
	return out
}

// Layer returns the layer of name, or -1 when it is not in the plan.
func (p *Plan) Layer(name string) int {
	if k, ok := p.idx[name]; ok {
		return p.layer[k]
	}
	return -1
}

// CriticalPath returns the heaviest dependency chain, first build first,
// and its total weight. With UnitWeights the weight is the package count
// in nanoseconds.
func (p *Plan) CriticalPath() ([]string, time.Duration) {
	if len(p.critical) == 0 {
		return nil, 0
	}
	return p.names(p.critical), p.remaining[p.critical[0]]
}

// UnitWeights reports that no node had a Weight and no DefaultWeight was
// given, so every node weighs 1ns.
func (p *Plan) UnitWeights() bool { return p.unit }

// Weight returns the weight used for name (its Weight or the default).
func (p *Plan) Weight(name string) time.Duration {
	if k, ok := p.idx[name]; ok {
		return p.weight[k]
	}
	return 0
}

// Remaining returns the weight of the heaviest chain from the start of
// name to the end of the plan, name included: the scheduler's priority.
func (p *Plan) Remaining(name string) time.Duration {
	if k, ok := p.idx[name]; ok {
		return p.remaining[k]
	}
	return 0
}

// Deps returns the direct dependencies of name (every kind of edge) in
// plan order.
func (p *Plan) Deps(name string) []string {
	k, ok := p.idx[name]
	if !ok {
		return nil
	}
	out := make([]string, len(p.deps[k]))
	for i, e := range p.deps[k] {
		out[i] = p.nodes[e.to].Name
	}
	return out
}

// Edges returns the direct dependencies of name with their kind and the
// BuildRequires each satisfies, in plan order.
func (p *Plan) Edges(name string) []Edge {
	k, ok := p.idx[name]
	if !ok {
		return nil
	}
	out := make([]Edge, len(p.deps[k]))
	for i, e := range p.deps[k] {
		out[i] = Edge{Node: p.nodes[e.to].Name, Kind: e.kind, Via: slices.Clone(e.via)}
	}
	return out
}

// Dependents returns the nodes that directly depend on name, in plan order.
func (p *Plan) Dependents(name string) []string {
	k, ok := p.idx[name]
	if !ok {
		return nil
	}
	return p.names(p.rdeps[k])
}

// ReverseDeps returns every node that transitively depends on name (all
// that must wait for it, and are skipped when it fails), in plan order.
func (p *Plan) ReverseDeps(name string) []string {
	k, ok := p.idx[name]
	if !ok {
		return nil
	}
	seen := make([]bool, len(p.nodes))
	stack := []int{k}
	var found []int
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, d := range p.rdeps[i] {
			if !seen[d] {
				seen[d] = true
				found = append(found, d)
				stack = append(stack, d)
			}
		}
	}
	slices.Sort(found)
	return p.names(found)
}

// BuildRoot returns the BuildRequires of name that no other node
// provides: they must come from the build root.
func (p *Plan) BuildRoot(name string) []rpm.Dep {
	if k, ok := p.idx[name]; ok {
		return slices.Clone(p.buildRoot[k])
	}
	return nil
}

// Notes returns remarks the planner made about name: BuildRequires whose
// name another node provides at a non-matching version, rich dependency
// edges left out because they would close a cycle.
func (p *Plan) Notes(name string) []string {
	if k, ok := p.idx[name]; ok {
		return slices.Clone(p.notes[k])
	}
	return nil
}

// Explain propagates rebuild reasons. changed maps a node to the reasons
// its own inputs changed ("new", "source changed", "patch changed",
// "platform changed", …, as computed by the caller); the result adds, to
// every node that build-requires a rebuilt node (KindRequires or KindRich
// edges, transitively), "dependency NAME rebuilt" for each rebuilt direct
// dependency. Nodes not in the result are up to date. Entries of changed
// with no reason or naming no node are ignored.
func (p *Plan) Explain(changed map[string][]string) map[string][]string {
	out := map[string][]string{}
	for k, nd := range p.nodes {
		var reasons []string
		for _, r := range changed[nd.Name] {
			if r != "" && !slices.Contains(reasons, r) {
				reasons = append(reasons, r)
			}
		}
		for _, e := range p.deps[k] {
			dep := p.nodes[e.to].Name
			if e.kind == KindOrder {
				continue
			}
			if _, rebuilt := out[dep]; rebuilt {
				reasons = append(reasons, "dependency "+dep+" rebuilt")
			}
		}
		if len(reasons) > 0 {
			out[nd.Name] = reasons
		}
	}
	return out
}

func (p *Plan) names(ks []int) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = p.nodes[k].Name
	}
	return out
}
