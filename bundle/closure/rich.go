package closure

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/bundle-dev/bundle/bundle/rpm"
)

// Pseudo-identities for ProviderSet: the platform base (a base capability
// without a package in the repository) and an ignored capability.
const (
	idPlatform = "platform"
	idIgnored  = "ignored"
)

// present returns the identities of what currently satisfies atom d: the
// selected packages providing it, base packages, the platform base, and,
// when withIgnore, an ignore pattern.
func (r *round) present(d rpm.Dep, withIgnore bool) []string {
	var out []string
	if withIgnore && r.isIgnored(d.Name) {
		out = append(out, idIgnored)
	}
	if r.ix.plat.InBase(d.Name) {
		out = append(out, idPlatform)
	}
	for _, id := range r.ix.whatProvides(d) {
		if r.selected[id] || r.ix.nodes[id].base {
			out = append(out, strconv.Itoa(id))
		}
	}
	return out
}

// holds reports whether a requirement is fulfilled by the selection, the
// base and the ignore patterns.
func (r *round) holds(e rpm.RichExpr) bool { return r.eval(e, true) }

// eval evaluates e as rpm does for Requires. The condition of if/unless
// is evaluated against what is really there (ignore patterns do not make
// a condition true).
func (r *round) eval(e rpm.RichExpr, withIgnore bool) bool {
	switch e.Op {
	case rpm.RichAtom:
		return len(r.present(e.Dep, withIgnore)) > 0
	case rpm.RichAnd:
		for _, a := range e.Args {
			if !r.eval(a, withIgnore) {
				return false
			}
		}
		return true
	case rpm.RichOr:
		for _, a := range e.Args {
			if r.eval(a, withIgnore) {
				return true
			}
		}
		return false
	case rpm.RichIf, rpm.RichUnless:
		if r.condition(e) {
			return r.eval(e.Args[0], withIgnore)
		}
		if len(e.Args) > 2 {
			return r.eval(e.Args[2], withIgnore)
		}
		return true
	case rpm.RichWith, rpm.RichWithout:
		return len(e.ProviderSet(func(d rpm.Dep) []string { return r.present(d, withIgnore) })) > 0
	}
	return false
}

// condition reports whether the consequence (Args[0]) of an if/unless
// applies: the condition holds for "if", does not for "unless".
func (r *round) condition(e rpm.RichExpr) bool {
	if len(e.Args) < 2 {
		return false
	}
	c := r.eval(e.Args[1], false)
	if e.Op == rpm.RichUnless {
		return !c
	}
	return c
}

// candidates returns the identities of everything that could satisfy
// atom d: present ones and the candidates that are not excluded.
func (r *round) candidates(d rpm.Dep) []string {
	out := r.present(d, true)
	for _, id := range r.ix.whatProvides(d) {
		n := r.ix.nodes[id]
		if !r.selected[id] && !n.base && !r.isExcluded(id) {
			out = append(out, strconv.Itoa(id))
		}
	}
	return out
}

// feasible reports whether e could be satisfied with what the repository
// offers, without selecting anything.
func (r *round) feasible(e rpm.RichExpr) bool {
	switch e.Op {
	case rpm.RichAtom:
		return len(r.candidates(e.Dep)) > 0
	case rpm.RichAnd:
		for _, a := range e.Args {
			if !r.feasible(a) {
				return false
			}
		}
		return true
	case rpm.RichOr:
		for _, a := range e.Args {
			if r.feasible(a) {
				return true
			}
		}
		return false
	case rpm.RichIf, rpm.RichUnless:
		if r.condition(e) {
			return r.feasible(e.Args[0])
		}
		if len(e.Args) > 2 {
			return r.feasible(e.Args[2])
		}
		return true
	case rpm.RichWith, rpm.RichWithout:
		return len(e.ProviderSet(r.candidates)) > 0
	}
	return false
}

// need satisfies the rich requirement e (whose full text is text) of node
// by, selecting packages as needed. It returns false and the problem when
// it cannot.
func (r *round) need(by int, e rpm.RichExpr, text, kind string) (bool, string) {
	switch e.Op {
	case rpm.RichAtom:
		return r.needAtom(by, e.Dep, text, kind)
	case rpm.RichAnd:
		for _, a := range e.Args {
			if ok, problem := r.need(by, a, text, kind); !ok {
				return false, problemIn(a, problem)
			}
		}
		return true, ""
	case rpm.RichOr:
		for _, a := range e.Args {
			if r.holds(a) {
				r.credit(by, a, text, kind)
				return true, ""
			}
		}
		for _, a := range e.Args {
			if r.feasible(a) {
				return r.need(by, a, text, kind)
			}
		}
		var parts []string
		for _, a := range e.Args {
			parts = append(parts, r.describe(a))
		}
		return false, "no alternative can be satisfied (" + strings.Join(parts, "; ") + ")"
	case rpm.RichIf, rpm.RichUnless:
		if r.condition(e) {
			ok, problem := r.need(by, e.Args[0], text, kind)
			return ok, problemIn(e.Args[0], problem)
		}
		if len(e.Args) > 2 {
			ok, problem := r.need(by, e.Args[2], text, kind)
			return ok, problemIn(e.Args[2], problem)
		}
		return true, ""
	case rpm.RichWith, rpm.RichWithout:
		ids := e.ProviderSet(r.candidates)
		best := -1
		for _, s := range ids {
			if s == idPlatform || s == idIgnored {
				return true, ""
			}
			id, _ := strconv.Atoi(s)
			if r.ix.nodes[id].base {
				r.baseProvided[text] = true
				return true, ""
			}
			if r.selected[id] {
				r.addReason(id, by, text, kind)
				return true, ""
			}
			if best < 0 || r.ix.better(id, best) {
				best = id
			}
		}
		if best < 0 {
			return false, fmt.Sprintf("no single package fulfils %s", e.String())
		}
		r.pick(best, by, text, kind)
		return true, ""
	}
	return false, fmt.Sprintf("unknown operator %v", e.Op)
}

// problemIn prefixes a problem with the part of the expression it is in.
func problemIn(part rpm.RichExpr, problem string) string {
	if problem == "" || part.Op != rpm.RichAtom {
		return problem
	}
	return part.Dep.String() + ": " + problem
}

// describe says why an operand cannot be satisfied, for error messages.
func (r *round) describe(e rpm.RichExpr) string {
	if e.Op == rpm.RichAtom {
		return e.Dep.String() + ": " + r.explain(e.Dep)
	}
	return e.String() + ": cannot be satisfied"
}

// credit adds a reason to the selected packages satisfying an operand
// that already holds.
func (r *round) credit(by int, e rpm.RichExpr, text, kind string) {
	for _, a := range e.Atoms() {
		for _, id := range r.ix.whatProvides(a) {
			if r.selected[id] {
				r.addReason(id, by, text, kind)
			}
		}
	}
}

// supplementHolds reports whether Supplements entry s holds for the
// selected packages (the base does not count, or every package
// supplementing a base package would come in), and which selected package
// makes it hold.
func (r *round) supplementHolds(s rpm.Dep) (int, bool) {
	e := rpm.RichExpr{Op: rpm.RichAtom, Dep: s}
	if rpm.IsRich(s.Name) {
		var ok bool
		if e, ok = r.parse(s.Name); !ok {
			return -1, false
		}
	}
	sel := func(d rpm.Dep) []string { return r.selectedProviders(d, -1) }
	if !e.Eval(sel) {
		return -1, false
	}
	for _, a := range e.Atoms() {
		if ids := sel(a); len(ids) > 0 {
			id, _ := strconv.Atoi(ids[0])
			return id, true
		}
	}
	return -1, false
}

// explain says why nothing satisfies the plain dependency d: which
// packages would, and why they are not candidates.
func (r *round) explain(d rpm.Dep) string {
	var foreign, older, obsoleted, source, versions []string
	for _, p := range r.ix.relatedTo(d.Name) {
		if !providesDep(p, d) {
			if !p.IsSource && r.ix.plat.Accepts(p.Arch) && len(versions) < 3 {
				if v := sameName(p, d.Name); v != "" {
					versions = append(versions, p.NEVRA()+" provides "+v)
				}
			}
			continue
		}
		id, isNode := r.ix.nodeOf[p]
		switch {
		case p.IsSource:
			source = append(source, p.NEVRA())
		case !r.ix.plat.Accepts(p.Arch):
			foreign = append(foreign, p.NEVRA())
		case !isNode:
			older = append(older, p.NEVRA())
		case r.isExcluded(id):
			obsoleted = append(obsoleted, p.NEVRA()+" (obsoleted by "+r.excluded[id].By+")")
		}
	}
	switch {
	case len(obsoleted) > 0:
		return "only " + list(obsoleted) + " provides it"
	case len(older) > 0:
		return "only " + list(older) + " provides it, and only the newest version of a package is a candidate"
	case len(foreign) > 0:
		return "only " + list(foreign) + " provides it, an arch " + r.ix.plat.Name + " does not take (" +
			strings.Join(append([]string{r.ix.plat.Arch}, r.ix.plat.CompatArches...), ", ") + ")"
	case len(versions) > 0:
		return "nothing provides a matching version: " + strings.Join(versions, ", ")
	case len(source) > 0:
		return "only the source package " + list(source) + " provides it"
	}
	return "nothing provides it"
}

func list(s []string) string {
	if len(s) > 3 {
		return strings.Join(s[:3], ", ") + fmt.Sprintf(" and %d more", len(s)-3)
	}
	return strings.Join(s, ", ")
}

// providesDep reports whether package p provides the plain dependency d
// (its provides, its implicit "name = EVR", or a file).
func providesDep(p *rpm.Package, d rpm.Dep) bool {
	if d.SatisfiedBy(rpm.Dep{Name: p.Name, Flags: rpm.SenseEqual, EVR: p.EVR}) {
		return true
	}
	for _, pv := range p.Provides {
		if d.SatisfiedBy(pv) {
			return true
		}
	}
	if strings.HasPrefix(d.Name, "/") {
		for _, f := range p.Files {
			if f.Path == d.Name {
				return true
			}
		}
	}
	return false
}

// sameName returns what p provides under name (its implicit
// "name = EVR" included), "" when nothing.
func sameName(p *rpm.Package, name string) string {
	var out []string
	seen := map[string]bool{}
	add := func(d rpm.Dep) {
		if s := d.String(); !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	if p.Name == name {
		add(rpm.Dep{Name: name, Flags: rpm.SenseEqual, EVR: p.EVR})
	}
	for _, pv := range p.Provides {
		if pv.Name == name {
			add(pv)
		}
	}
	return strings.Join(out, ", ")
}
