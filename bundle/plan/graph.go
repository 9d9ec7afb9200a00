package plan

import (
	"fmt"
	"slices"
	"strings"

	"github.com/bundle-dev/bundle/bundle/rpm"
)

// findCycle returns one cycle as node indexes (first == last), or nil.
func (b *builder) findCycle() []int {
	n := len(b.nodes)
	state := make([]byte, n) // 0 new, 1 on stack, 2 done
	parent := make([]int, n)
	adj := make([][]int, n)
	for i := range adj {
		adj[i] = sortedKeys(b.deps[i])
	}
	type frame struct{ node, next int }
	for s := 0; s < n; s++ {
		if state[s] != 0 {
			continue
		}
		stack := []frame{{s, 0}}
		state[s] = 1
		for len(stack) > 0 {
			f := &stack[len(stack)-1]
			if f.next == len(adj[f.node]) {
				state[f.node] = 2
				stack = stack[:len(stack)-1]
				continue
			}
			j := adj[f.node][f.next]
			f.next++
			switch state[j] {
			case 0:
				parent[j] = f.node
				state[j] = 1
				stack = append(stack, frame{j, 0})
			case 1:
				// f.node depends on j, which is on the stack below it.
				cyc := []int{j}
				for k := f.node; k != j; k = parent[k] {
					cyc = append(cyc, k)
				}
				cyc = append(cyc, j)
				slices.Reverse(cyc)
				return cyc
			}
		}
	}
	return nil
}

// cycleError renders "plan: dependency cycle: a → b → a" with, for each
// step, the BuildRequires that made it.
func (b *builder) cycleError(cyc []int) error {
	// cyc lists a, b, …, a where each element depends on the next.
	names := make([]string, len(cyc))
	var why []string
	for k, i := range cyc {
		names[k] = b.nodes[i].Name
		if k+1 < len(cyc) {
			j := cyc[k+1]
			if e := b.deps[i][j]; e != nil {
				if e.kind == KindOrder {
					why = append(why, fmt.Sprintf("%s comes after %s by build order", b.nodes[i].Name, b.nodes[j].Name))
				} else {
					why = append(why, fmt.Sprintf("%s needs %s from %s", b.nodes[i].Name, depList(e.via), b.nodes[j].Name))
				}
			}
		}
	}
	return fmt.Errorf("plan: dependency cycle: %s (%s); break it by building one of them in a bootstrap step without that BuildRequires (e.g. a bcond) or by taking the dependency from the build root",
		strings.Join(names, " → "), strings.Join(why, "; "))
}

// addWeakEdges adds the rich-dependency edges that keep the graph acyclic.
func (b *builder) addWeakEdges() {
	reaches := func(from, target int) bool {
		seen := make([]bool, len(b.nodes))
		stack := []int{from}
		seen[from] = true
		for len(stack) > 0 {
			k := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if k == target {
				return true
			}
			for j := range b.deps[k] {
				if !seen[j] {
					seen[j] = true
					stack = append(stack, j)
				}
			}
		}
		return false
	}
	for _, w := range b.weak {
		if e := b.deps[w.from][w.to]; e != nil {
			if e.kind == KindOrder {
				e.kind = KindRich
			}
			e.via = append(e.via, w.via)
			continue
		}
		if reaches(w.to, w.from) {
			b.notes[w.from] = append(b.notes[w.from], fmt.Sprintf("not ordered after %s for %s: that would form a cycle", b.nodes[w.to].Name, w.via))
			continue
		}
		b.deps[w.from][w.to] = &edge{to: w.to, kind: KindRich, via: []rpm.Dep{w.via}}
	}
}

// reduceOrderEdges drops the ordering edges already implied by another
// path (lxml needs libxml2, which comes after zlib: lxml needs no edge of
// its own to zlib), so plans list only meaningful dependencies. Real
// BuildRequires edges are all kept. In a DAG an edge i→j is implied iff
// some other dependency of i reaches j, and removing every implied edge
// at once keeps reachability.
func (b *builder) reduceOrderEdges() {
	n := len(b.nodes)
	words := (n + 63) / 64
	reach := make([]uint64, n*words) // reach[i]: nodes i transitively depends on
	set := func(i int) []uint64 { return reach[i*words : (i+1)*words] }
	for _, i := range b.topo() {
		ri := set(i)
		for j := range b.deps[i] {
			rj := set(j)
			for w := range ri {
				ri[w] |= rj[w]
			}
			ri[j/64] |= 1 << (j % 64)
		}
	}
	for i := range b.nodes {
		for j, e := range b.deps[i] {
			if e.kind != KindOrder {
				continue
			}
			for d := range b.deps[i] {
				if d != j && set(d)[j/64]&(1<<(j%64)) != 0 {
					delete(b.deps[i], j)
					break
				}
			}
		}
	}
}

// topo returns the node indexes dependencies first (the graph is acyclic).
func (b *builder) topo() []int {
	n := len(b.nodes)
	indeg := make([]int, n)
	rdeps := make([][]int, n)
	for i := range b.nodes {
		indeg[i] = len(b.deps[i])
		for j := range b.deps[i] {
			rdeps[j] = append(rdeps[j], i)
		}
	}
	order := make([]int, 0, n)
	for i := range b.nodes {
		if indeg[i] == 0 {
			order = append(order, i)
		}
	}
	for q := 0; q < len(order); q++ {
		for _, d := range rdeps[order[q]] {
			if indeg[d]--; indeg[d] == 0 {
				order = append(order, d)
			}
		}
	}
	return order
}
