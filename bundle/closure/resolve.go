// Package closure computes the dependency closure of the packages a
// bundle ships: starting from the requested packages it follows Requires
// (and optionally weak dependencies) through Provides and file lists,
// stopping at what the platform base provides, and reports why each
// package is in and what could not be resolved.
package closure

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/bundle-dev/bundle/bundle/rpm"
)

// Resolve computes the closure of opts.Want over pkgs (typically LoadRepo's
// result).
//
// Candidates are the binary packages of the platform's arch and compat
// arches, and of each name+arch only the newest EVR. A requirement is
// satisfied, in this order, by: an Ignore pattern; the platform base (a
// base capability or file, or a package of a base package's name, whatever
// its version: the glibc ceiling is the audit's business); a package
// already selected; else the best candidate that provides it — the newest
// EVR, then the lowest name, then the platform's own arch before compat
// arches. Versioned requirements compare with epochs (rpm.SatisfiedBy; an
// unversioned Provides satisfies any version, as in rpm). A path is
// provided by every candidate listing the file, or providing the path.
// rpmlib() requirements concern rpm itself and are skipped.
//
// Rich requirements follow rpm's semantics: "and" needs every operand;
// "or" is satisfied by an operand that already holds, else the first
// operand that can be satisfied is; "if"/"unless" evaluate their condition
// against the selection and the base (and are re-evaluated until nothing
// changes, so a condition that becomes true later still pulls in its
// consequence); "with"/"without" need one single package.
//
// With WeakDeps, Recommends that can be satisfied are, and a candidate whose
// Supplements holds for the selected packages (the base does not count) is
// selected.
//
// Obsoletes: when a selected package obsoletes another selected package
// (matched by name and version, as rpm does; not through provides), the
// obsoleted one is dropped and resolution starts again without it, until
// no selected package obsoletes another. A requested package that is
// dropped is replaced by its obsoleter. Result.Dropped lists them.
//
// Conflicts between two selected packages fail with a *ConflictError
// naming both. Unresolved requirements fail with an *UnresolvedError
// listing each with the chain of packages that pulled it in, unless
// MissingOK, which reports them in Result.Missing.
func Resolve(ctx context.Context, pkgs []*rpm.Package, opts Options) (*Result, error) {
	if opts.Platform == nil {
		return nil, errors.New("closure: no platform given")
	}
	for _, pat := range opts.Ignore {
		if _, err := path.Match(pat, ""); err != nil {
			return nil, fmt.Errorf("closure: ignore pattern %q: %w", pat, err)
		}
	}
	ix := newIndex(pkgs, opts.Platform)
	excluded := map[int]Dropped{}
	var r *round
	for {
		r = newRound(ctx, ix, opts, excluded)
		if err := r.run(); err != nil {
			return nil, err
		}
		newly := r.obsoleted()
		if len(newly) == 0 {
			break
		}
		for id, d := range newly {
			excluded[id] = d
			opts.log().Debug("closure: obsoleted", "package", d.NEVRA, "by", d.By, "obsoletes", d.Obsoletes)
		}
	}
	if c := r.conflicts(); len(c) > 0 {
		return nil, &ConflictError{Conflicts: c}
	}
	res := r.result()
	if len(res.Missing) > 0 && !opts.MissingOK {
		return nil, &UnresolvedError{Missing: res.Missing}
	}
	return res, nil
}

// round is one resolution pass with a fixed set of excluded (obsoleted)
// candidates.
type round struct {
	ctx      context.Context
	ix       *index
	opts     Options
	excluded map[int]Dropped

	selected   []bool
	requested  []bool
	order      []int // selection order
	reasons    [][]Reason
	reasonSeen map[reasonKey]bool
	firstBy    []int // node that pulled each selected node in, -1 for requested
	queue      []int
	changed    bool

	missing      []Unresolved
	missingBy    []int
	missingSeen  map[string]bool
	baseProvided map[string]bool
	ignored      map[string]bool
	rich         map[string]richParse
}

type reasonKey struct {
	node   int
	reason Reason
}

type richParse struct {
	expr rpm.RichExpr
	err  error
}

func newRound(ctx context.Context, ix *index, opts Options, excluded map[int]Dropped) *round {
	n := len(ix.nodes)
	return &round{
		ctx: ctx, ix: ix, opts: opts, excluded: excluded,
		selected: make([]bool, n), requested: make([]bool, n),
		reasons: make([][]Reason, n), reasonSeen: map[reasonKey]bool{}, firstBy: make([]int, n),
		missingSeen: map[string]bool{}, baseProvided: map[string]bool{},
		ignored: map[string]bool{}, rich: map[string]richParse{},
	}
}

func (r *round) run() error {
	if err := r.want(); err != nil {
		return err
	}
	for {
		if err := r.drain(); err != nil {
			return err
		}
		r.changed = false
		r.revisit()
		if !r.changed && len(r.queue) == 0 {
			return nil
		}
	}
}

// want selects what Options.Want asks for.
func (r *round) want() error {
	if len(r.opts.Want) == 0 {
		for _, n := range r.ix.nodes {
			if !n.base && !r.isExcluded(n.id) {
				r.pick(n.id, -1, "", "")
			}
		}
		return nil
	}
	seen := map[string]bool{}
	for _, w := range r.opts.Want {
		w = strings.TrimSpace(w)
		if w == "" || seen[w] {
			continue
		}
		seen[w] = true
		if rpm.IsRich(w) {
			r.require(-1, rpm.Dep{Name: w}, "")
			continue
		}
		e, err := rpm.ParseRich("(" + w + ")")
		if err != nil || e.Op != rpm.RichAtom {
			return fmt.Errorf("closure: want %q is neither a package name nor a dependency (name, or name op version)", w)
		}
		d := e.Dep
		if r.ix.plat.BasePackage(d.Name) {
			r.baseProvided[d.Name] = true
			continue
		}
		best, obsoleter := -1, -1
		for _, id := range r.ix.byName[d.Name] {
			if !d.SatisfiedBy(rpm.Dep{Name: d.Name, Flags: rpm.SenseEqual, EVR: r.ix.nodes[id].pkg.EVR}) {
				continue
			}
			if dr, ok := r.excluded[id]; ok {
				if obsoleter < 0 {
					obsoleter = r.nodeByNEVRA(dr.By)
				}
				continue
			}
			if best < 0 || r.ix.better(id, best) {
				best = id
			}
		}
		switch {
		case best >= 0:
			r.pick(best, -1, "", "")
		case obsoleter >= 0:
			r.pick(obsoleter, -1, w, "obsoletes")
		default:
			r.require(-1, d, "")
		}
	}
	return nil
}

func (r *round) nodeByNEVRA(nevra string) int {
	for _, n := range r.ix.nodes {
		if n.nevra == nevra {
			return n.id
		}
	}
	return -1
}

// drain processes the selected packages' requirements until the queue is
// empty.
func (r *round) drain() error {
	for count := 0; len(r.queue) > 0; count++ {
		if count%64 == 0 {
			if err := r.ctx.Err(); err != nil {
				return fmt.Errorf("closure: %w", err)
			}
		}
		id := r.queue[0]
		r.queue = r.queue[1:]
		p := r.ix.nodes[id].pkg
		for _, d := range p.Requires {
			r.require(id, d, "")
		}
		if r.opts.WeakDeps {
			for _, d := range p.Recommends {
				r.recommend(id, d)
			}
		}
	}
	return nil
}

// revisit re-evaluates what depends on the selection as a whole: rich
// requirements (an "if" whose condition became true), and with WeakDeps
// rich Recommends and Supplements.
func (r *round) revisit() {
	for i := 0; i < len(r.order); i++ {
		id := r.order[i]
		p := r.ix.nodes[id].pkg
		for _, d := range p.Requires {
			if rpm.IsRich(d.Name) {
				if e, ok := r.parse(d.Name); ok && !r.holds(e) {
					r.require(id, d, "")
				}
			}
		}
		if r.opts.WeakDeps {
			for _, d := range p.Recommends {
				if rpm.IsRich(d.Name) {
					if e, ok := r.parse(d.Name); ok && !r.holds(e) {
						r.recommend(id, d)
					}
				}
			}
		}
	}
	if !r.opts.WeakDeps {
		return
	}
	for _, n := range r.ix.nodes {
		if r.selected[n.id] || n.base || r.isExcluded(n.id) {
			continue
		}
		for _, s := range n.pkg.Supplements {
			if by, ok := r.supplementHolds(s); ok {
				r.pick(n.id, by, s.String(), "supplements")
				break
			}
		}
	}
}

// require resolves one requirement of node by (-1: Options.Want) and
// records it as unresolved when it cannot be satisfied.
func (r *round) require(by int, d rpm.Dep, kind string) {
	if d.Flags&rpm.SenseRpmlib != 0 || strings.HasPrefix(d.Name, "rpmlib(") {
		return
	}
	text := d.String()
	var ok bool
	var problem string
	if rpm.IsRich(d.Name) {
		e, parsed := r.parse(d.Name)
		if !parsed {
			ok, problem = false, "cannot be parsed: "+r.rich[d.Name].err.Error()
		} else {
			ok, problem = r.need(by, e, text, kind)
		}
	} else {
		ok, problem = r.needAtom(by, d, text, kind)
	}
	if !ok {
		r.unresolved(by, text, problem)
	}
}

// recommend follows a Recommends when it can be satisfied.
func (r *round) recommend(by int, d rpm.Dep) {
	e := rpm.RichExpr{Op: rpm.RichAtom, Dep: d}
	if rpm.IsRich(d.Name) {
		var ok bool
		if e, ok = r.parse(d.Name); !ok {
			return
		}
	}
	if !r.feasible(e) {
		r.opts.log().Debug("closure: recommendation not available", "package", r.ix.nodes[by].nevra, "recommends", d.String())
		return
	}
	r.need(by, e, d.String(), "recommends")
}

func (r *round) parse(s string) (rpm.RichExpr, bool) {
	p, ok := r.rich[s]
	if !ok {
		p.expr, p.err = rpm.ParseRich(s)
		r.rich[s] = p
	}
	return p.expr, p.err == nil
}

func (r *round) isExcluded(id int) bool {
	_, ok := r.excluded[id]
	return ok
}

func (r *round) isIgnored(name string) bool {
	for _, pat := range r.opts.Ignore {
		if ok, _ := path.Match(pat, name); ok {
			return true
		}
	}
	return false
}

// inBase reports whether the platform base satisfies d: a base capability
// or file, or a provide of a base package.
func (r *round) inBase(d rpm.Dep) bool {
	if r.ix.plat.InBase(d.Name) {
		return true
	}
	for _, id := range r.ix.whatProvides(d) {
		if r.ix.nodes[id].base {
			return true
		}
	}
	return false
}

// needAtom satisfies a plain dependency, selecting a provider if needed.
func (r *round) needAtom(by int, d rpm.Dep, text, kind string) (bool, string) {
	if r.isIgnored(d.Name) {
		r.ignored[d.Name] = true
		return true, ""
	}
	if r.inBase(d) {
		r.baseProvided[d.Name] = true
		return true, ""
	}
	best := -1
	for _, id := range r.ix.whatProvides(d) {
		if r.selected[id] {
			r.addReason(id, by, text, kind)
			return true, ""
		}
		if r.ix.nodes[id].base || r.isExcluded(id) {
			continue
		}
		if best < 0 || r.ix.better(id, best) {
			best = id
		}
	}
	if best < 0 {
		return false, r.explain(d)
	}
	r.pick(best, by, text, kind)
	return true, ""
}

// pick selects node id because by needs it (by == -1: requested).
func (r *round) pick(id, by int, text, kind string) {
	if r.selected[id] {
		r.addReason(id, by, text, kind)
		return
	}
	r.selected[id] = true
	r.changed = true
	r.order = append(r.order, id)
	r.firstBy[id] = by
	if by < 0 {
		r.requested[id] = true
	}
	r.addReason(id, by, text, kind)
	r.queue = append(r.queue, id)
}

func (r *round) addReason(id, by int, text, kind string) {
	if by == id {
		return // a package satisfying its own requirement
	}
	if by < 0 {
		r.requested[id] = true
		if text == "" {
			return
		}
	}
	reason := Reason{Requires: text, Kind: kind}
	if by >= 0 {
		reason.By = r.ix.nodes[by].nevra
	}
	k := reasonKey{id, reason}
	if r.reasonSeen[k] {
		return
	}
	r.reasonSeen[k] = true
	r.reasons[id] = append(r.reasons[id], reason)
}

func (r *round) unresolved(by int, text, problem string) {
	key := strconv.Itoa(by) + "\x00" + text
	if r.missingSeen[key] {
		return
	}
	r.missingSeen[key] = true
	u := Unresolved{Capability: text, Problem: problem}
	if by >= 0 {
		u.By = r.ix.nodes[by].nevra
	}
	r.missing = append(r.missing, u)
	r.missingBy = append(r.missingBy, by)
}

// chain returns the NEVRAs from a requested package down to node id,
// following first reasons.
func (r *round) chain(id int) []string {
	var out []string
	seen := map[int]bool{}
	for id >= 0 && !seen[id] {
		seen[id] = true
		out = append(out, r.ix.nodes[id].nevra)
		if r.requested[id] {
			break
		}
		id = r.firstBy[id]
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// obsoleted returns the selected packages a selected package obsoletes
// (by name and version; a package does not obsolete its own name).
func (r *round) obsoleted() map[int]Dropped {
	out := map[int]Dropped{}
	ids := append([]int(nil), r.order...)
	sort.Ints(ids)
	for _, id := range ids {
		if _, gone := out[id]; gone {
			continue
		}
		p := r.ix.nodes[id].pkg
		for _, o := range p.Obsoletes {
			if rpm.IsRich(o.Name) || o.Name == p.Name {
				continue
			}
			for _, q := range r.ix.byName[o.Name] {
				if !r.selected[q] || r.isExcluded(q) {
					continue
				}
				if _, gone := out[q]; gone {
					continue
				}
				if o.SatisfiedBy(rpm.Dep{Name: o.Name, Flags: rpm.SenseEqual, EVR: r.ix.nodes[q].pkg.EVR}) {
					out[q] = Dropped{NEVRA: r.ix.nodes[q].nevra, By: r.ix.nodes[id].nevra, Obsoletes: o.String()}
				}
			}
		}
	}
	return out
}

// conflicts lists every Conflicts entry of a selected package matched by
// another selected package.
func (r *round) conflicts() []Conflict {
	var out []Conflict
	ids := append([]int(nil), r.order...)
	sort.Ints(ids)
	for _, id := range ids {
		p := r.ix.nodes[id].pkg
		for _, c := range p.Conflicts {
			var with []int
			if rpm.IsRich(c.Name) {
				e, ok := r.parse(c.Name)
				if !ok {
					continue
				}
				prov := func(d rpm.Dep) []string { return r.selectedProviders(d, id) }
				if e.Eval(prov) {
					for _, a := range e.Atoms() {
						for _, s := range r.selectedProviders(a, id) {
							n, _ := strconv.Atoi(s)
							with = append(with, n)
						}
					}
				}
			} else {
				for _, q := range r.ix.whatProvides(c) {
					if q != id && r.selected[q] {
						with = append(with, q)
					}
				}
			}
			sort.Ints(with)
			for i, q := range with {
				if i > 0 && with[i-1] == q {
					continue
				}
				out = append(out, Conflict{Package: r.ix.nodes[id].nevra, With: r.ix.nodes[q].nevra, Conflicts: c.String()})
			}
		}
	}
	return out
}

// selectedProviders returns the ids (as strings) of selected packages
// other than self providing d.
func (r *round) selectedProviders(d rpm.Dep, self int) []string {
	var out []string
	for _, q := range r.ix.whatProvides(d) {
		if q != self && r.selected[q] {
			out = append(out, strconv.Itoa(q))
		}
	}
	return out
}

func (r *round) result() *Result {
	res := &Result{}
	ids := append([]int(nil), r.order...)
	sort.Slice(ids, func(i, j int) bool {
		a, b := r.ix.nodes[ids[i]], r.ix.nodes[ids[j]]
		if a.pkg.Name != b.pkg.Name {
			return a.pkg.Name < b.pkg.Name
		}
		return a.archRank < b.archRank
	})
	for _, id := range ids {
		res.Packages = append(res.Packages, Selected{Package: r.ix.nodes[id].pkg, Requested: r.requested[id], Reasons: r.reasons[id]})
	}
	for i, u := range r.missing {
		if by := r.missingBy[i]; by >= 0 {
			u.Chain = r.chain(by)
		}
		res.Missing = append(res.Missing, u)
	}
	drop := make([]int, 0, len(r.excluded))
	for id := range r.excluded {
		drop = append(drop, id)
	}
	sort.Ints(drop)
	for _, id := range drop {
		res.Dropped = append(res.Dropped, r.excluded[id])
	}
	res.BaseProvided = sortedKeys(r.baseProvided)
	res.Ignored = sortedKeys(r.ignored)
	return res
}

func sortedKeys(m map[string]bool) []string {
	if len(m) == 0 {
		return nil
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (o Options) log() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.Default()
}
