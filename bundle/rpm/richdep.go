package rpm

import (
	"fmt"
	"sort"
	"strings"
)

// RichOp is the operator of a rich (boolean) dependency expression.
type RichOp int

// The operators of rich dependencies (rpm 4.13/4.14).
const (
	// RichAtom is a plain dependency, held in RichExpr.Dep.
	RichAtom RichOp = iota
	// RichAnd: every operand must be fulfilled.
	RichAnd
	// RichOr: at least one operand must be fulfilled.
	RichOr
	// RichIf: Args[0] must be fulfilled when Args[1] is; with a third
	// operand ("else"), Args[2] must be fulfilled when Args[1] is not.
	RichIf
	// RichUnless: Args[0] must be fulfilled when Args[1] is not; with a
	// third operand ("else"), Args[2] must be fulfilled when Args[1] is.
	RichUnless
	// RichWith: one single package must fulfil every operand.
	RichWith
	// RichWithout: one single package must fulfil Args[0] but not Args[1].
	RichWithout
)

var richOpNames = [...]string{"atom", "and", "or", "if", "unless", "with", "without"}

// String returns the operator keyword ("and", "or", ...; "atom" for RichAtom).
func (op RichOp) String() string {
	if op >= 0 && int(op) < len(richOpNames) {
		return richOpNames[op]
	}
	return fmt.Sprintf("RichOp(%d)", int(op))
}

// RichExpr is a parsed rich dependency such as
// "(foo >= 1.0 or (bar if baz else qux))".
type RichExpr struct {
	// Op is the operator; RichAtom for a plain dependency.
	Op RichOp
	// Dep is the dependency of an atom (Op == RichAtom).
	Dep Dep
	// Args are the operands: two or more for and/or/with (a chain such
	// as "a and b and c" is one node), two for without, two or three for
	// if/unless (the third is the "else" branch).
	Args []RichExpr
}

// IsRich reports whether a dependency name is a rich dependency, which
// rpm recognises by its leading '('.
func IsRich(name string) bool { return strings.HasPrefix(name, "(") }

// maxRichDepth bounds the nesting of parentheses so that hostile input
// cannot exhaust the stack.
const maxRichDepth = 128

// ParseRich parses a rich dependency with the grammar of rpm's
// rpmrichParse: the expression is enclosed in parentheses; operands are
// plain dependencies ("name", "name op evr") or parenthesised expressions;
// only and, or and with may be chained ("a and b and c"), different
// operators need their own parentheses; if and unless take one optional
// else; with and without may not contain and, if or unless anywhere below
// them (rpm's "Illegal ops in with/without"). Commas count as white space,
// as in rpm. Nothing may follow the closing parenthesis.
//
// rpmbuild additionally refuses "if" inside "or" and "unless" inside "and"
// for some tags; packages carrying such expressions never get built, so
// ParseRich does not repeat that check.
func ParseRich(s string) (RichExpr, error) {
	p := &richParser{s: s}
	e, err := p.expr(0)
	if err != nil {
		return RichExpr{}, fmt.Errorf("rich dependency %q: %w", s, err)
	}
	if p.i != len(s) {
		return RichExpr{}, fmt.Errorf("rich dependency %q: junk after the expression at offset %d", s, p.i)
	}
	return e, nil
}

type richParser struct {
	s string
	i int
}

func (p *richParser) errorf(format string, args ...any) error {
	return fmt.Errorf("offset %d: %s", p.i, fmt.Sprintf(format, args...))
}

// skipWhite skips white space and commas (rpm's SKIPWHITE).
func (p *richParser) skipWhite() {
	for p.i < len(p.s) && (isSpace(p.s[p.i]) || p.s[p.i] == ',') {
		p.i++
	}
}

// token returns the end of the word starting at i (rpm's SKIPNONWHITEX):
// it stops at white space, a comma, or a ')' that closes no '(' opened
// inside the word, so "perl(Foo::Bar)" is one word.
func (p *richParser) token(i int) int {
	depth := 0
	for i < len(p.s) {
		c := p.s[i]
		if isSpace(c) || c == ',' {
			break
		}
		if c == ')' {
			if depth <= 0 {
				break
			}
			depth--
		}
		if c == '(' {
			depth++
		}
		i++
	}
	return i
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// expr parses "( operand [op operand]... )" at p.i.
func (p *richParser) expr(depth int) (RichExpr, error) {
	if depth >= maxRichDepth {
		return RichExpr{}, p.errorf("nested deeper than %d levels", maxRichDepth)
	}
	if p.i >= len(p.s) || p.s[p.i] != '(' {
		return RichExpr{}, p.errorf("a rich dependency starts with '('")
	}
	p.i++
	var (
		args []RichExpr
		ops  []RichOp // one per operator; RichIf/RichUnless then "else" as -1
	)
	const opElse RichOp = -1
	for {
		p.skipWhite()
		if p.i >= len(p.s) {
			return RichExpr{}, p.errorf("unterminated rich dependency")
		}
		if p.s[p.i] == ')' {
			if len(ops) > 0 {
				return RichExpr{}, p.errorf("missing operand after %q", opWord(ops[len(ops)-1]))
			}
			return RichExpr{}, p.errorf("empty rich dependency")
		}
		var arg RichExpr
		var err error
		if p.s[p.i] == '(' {
			arg, err = p.expr(depth + 1)
		} else {
			arg, err = p.simple()
		}
		if err != nil {
			return RichExpr{}, err
		}
		args = append(args, arg)

		p.skipWhite()
		if p.i >= len(p.s) {
			return RichExpr{}, p.errorf("unterminated rich dependency")
		}
		if p.s[p.i] == ')' {
			p.i++
			break
		}
		end := p.i
		for end < len(p.s) && !isSpace(p.s[end]) && p.s[end] != ')' {
			end++
		}
		word := p.s[p.i:end]
		op, ok := parseRichOp(word)
		if !ok {
			if word == "else" {
				op = opElse
			} else {
				return RichExpr{}, p.errorf("unknown rich dependency operator %q", word)
			}
		}
		if len(ops) > 0 {
			prev := ops[len(ops)-1]
			switch {
			case op == opElse && (prev == RichIf || prev == RichUnless) && len(ops) == 1:
				// "a if b else c"
			case op == opElse:
				return RichExpr{}, p.errorf("'else' only follows 'if' or 'unless'")
			case op != prev || prev == opElse:
				return RichExpr{}, p.errorf("cannot chain different operators (%q after %q); add parentheses", word, opWord(prev))
			case op != RichAnd && op != RichOr && op != RichWith:
				return RichExpr{}, p.errorf("only and, or and with can be chained, not %q", word)
			}
		} else if op == opElse {
			return RichExpr{}, p.errorf("'else' only follows 'if' or 'unless'")
		}
		ops = append(ops, op)
		p.i = end
	}

	if len(ops) == 0 {
		return args[0], nil
	}
	e := RichExpr{Op: ops[0], Args: args}
	if e.Op == RichWith || e.Op == RichWithout {
		for _, a := range args {
			if a.hasCondition() {
				return RichExpr{}, fmt.Errorf("%q may not contain and, if or unless: %s", e.Op.String(), a.String())
			}
		}
	}
	return e, nil
}

func opWord(op RichOp) string {
	if op < 0 {
		return "else"
	}
	return op.String()
}

func parseRichOp(w string) (RichOp, bool) {
	switch w {
	case "and":
		return RichAnd, true
	case "or":
		return RichOr, true
	case "if":
		return RichIf, true
	case "unless":
		return RichUnless, true
	case "with":
		return RichWith, true
	case "without":
		return RichWithout, true
	}
	return 0, false
}

// hasCondition reports whether e or anything below it uses and, if or
// unless.
func (e RichExpr) hasCondition() bool {
	switch e.Op {
	case RichAnd, RichIf, RichUnless:
		return true
	}
	for _, a := range e.Args {
		if a.hasCondition() {
			return true
		}
	}
	return false
}

// simple parses "name [op evr]" (rpm's parseSimpleDep).
func (p *richParser) simple() (RichExpr, error) {
	start := p.i
	end := p.token(p.i)
	if end == start {
		return RichExpr{}, p.errorf("dependency name required")
	}
	d := Dep{Name: p.s[start:end]}
	p.i = end
	p.skipWhite()
	if p.i < len(p.s) {
		opEnd := p.token(p.i)
		if f, ok := parseSense(p.s[p.i:opEnd]); ok {
			p.i = opEnd
			p.skipWhite()
			evrEnd := p.token(p.i)
			if evrEnd == p.i {
				return RichExpr{}, p.errorf("version required after %s %s", d.Name, senseOp(f))
			}
			d.Flags = f
			d.EVR = ParseEVR(p.s[p.i:evrEnd])
			if evrEmpty(d.EVR) {
				return RichExpr{}, p.errorf("empty version %q after %s %s", p.s[p.i:evrEnd], d.Name, senseOp(f))
			}
			p.i = evrEnd
		}
	}
	return RichExpr{Op: RichAtom, Dep: d}, nil
}

// String renders the expression in rpm's syntax, always enclosed in
// parentheses (an atom too); ParseRich(e.String()) gives e back.
func (e RichExpr) String() string {
	var b strings.Builder
	if e.Op == RichAtom {
		b.WriteByte('(')
		writeAtom(&b, e.Dep)
		b.WriteByte(')')
		return b.String()
	}
	e.write(&b)
	return b.String()
}

// writeAtom writes a plain dependency; when its last word leaves a '('
// open (a name such as "foo(" is legal), a space keeps the next ')' from
// being read as part of it.
func writeAtom(b *strings.Builder, d Dep) {
	s := d.String()
	b.WriteString(s)
	depth := 0
	for i := strings.LastIndexByte(s, ' ') + 1; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
		}
	}
	if depth > 0 {
		b.WriteByte(' ')
	}
}

func (e RichExpr) write(b *strings.Builder) {
	if e.Op == RichAtom {
		writeAtom(b, e.Dep)
		return
	}
	b.WriteByte('(')
	for i, a := range e.Args {
		if i > 0 {
			word := e.Op.String()
			if i == 2 && (e.Op == RichIf || e.Op == RichUnless) {
				word = "else"
			}
			b.WriteByte(' ')
			b.WriteString(word)
			b.WriteByte(' ')
		}
		a.write(b)
	}
	b.WriteByte(')')
}

// Atoms lists every plain dependency in the expression, left to right.
func (e RichExpr) Atoms() []Dep {
	var out []Dep
	var walk func(RichExpr)
	walk = func(x RichExpr) {
		if x.Op == RichAtom {
			out = append(out, x.Dep)
			return
		}
		for _, a := range x.Args {
			walk(a)
		}
	}
	walk(e)
	return out
}

// Eval reports whether e is fulfilled by a set of packages, with the
// semantics rpm documents for Requires (for Conflicts, a true result
// means the conflict applies). providers(atom) returns an identity (such
// as the NEVRA) for every package of the set that provides the atom; an
// atom is fulfilled when the list is not empty.
//
//   - "a and b": both; "a or b": at least one.
//   - "a if b": a when b is fulfilled, otherwise true; with "else c": c
//     when b is not fulfilled.
//   - "a unless b": a when b is not fulfilled, otherwise true; with
//     "else c": c when b is fulfilled.
//   - "a with b": one package provides both a and b; "a without b": one
//     package provides a and not b. Their operands are atoms, or, with and
//     without (ParseRich refuses anything else); an "or" there is the union
//     of its operands' providers.
func (e RichExpr) Eval(providers func(atom Dep) []string) bool {
	switch e.Op {
	case RichAtom:
		return len(providers(e.Dep)) > 0
	case RichAnd:
		for _, a := range e.Args {
			if !a.Eval(providers) {
				return false
			}
		}
		return true
	case RichOr:
		for _, a := range e.Args {
			if a.Eval(providers) {
				return true
			}
		}
		return false
	case RichIf, RichUnless:
		if len(e.Args) < 2 {
			return false
		}
		cond := e.Args[1].Eval(providers)
		if e.Op == RichUnless {
			cond = !cond
		}
		if cond {
			return e.Args[0].Eval(providers)
		}
		if len(e.Args) > 2 {
			return e.Args[2].Eval(providers)
		}
		return true
	case RichWith, RichWithout:
		return len(e.ProviderSet(providers)) > 0
	}
	return false
}

// ProviderSet returns, sorted, the identities of the packages that fulfil
// e on their own: an atom's providers, the union for "or", the
// intersection for "with", the difference for "without". It is what
// "with" and "without" are evaluated on; for and/if/unless, which no
// single package fulfils by definition, it returns nil.
func (e RichExpr) ProviderSet(providers func(atom Dep) []string) []string {
	var set map[string]bool
	switch e.Op {
	case RichAtom:
		set = toSet(providers(e.Dep))
	case RichOr:
		set = map[string]bool{}
		for _, a := range e.Args {
			for _, id := range a.ProviderSet(providers) {
				set[id] = true
			}
		}
	case RichWith:
		for i, a := range e.Args {
			s := toSet(a.ProviderSet(providers))
			if i == 0 {
				set = s
				continue
			}
			for id := range set {
				if !s[id] {
					delete(set, id)
				}
			}
		}
	case RichWithout:
		if len(e.Args) != 2 {
			return nil
		}
		set = toSet(e.Args[0].ProviderSet(providers))
		for _, id := range e.Args[1].ProviderSet(providers) {
			delete(set, id)
		}
	default:
		return nil
	}
	out := make([]string, 0, len(set))
	for id := range set {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

func toSet(ids []string) map[string]bool {
	m := make(map[string]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	return m
}
