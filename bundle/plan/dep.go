package plan

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"

	"github.com/bundle-dev/bundle/bundle/rpm"
)

// ParseDep parses one dependency as rpmspec and `rpm -q --requires`
// print it: "name", "name >= [epoch:]version[-release]", or a rich
// (boolean) dependency such as "(a or b >= 2)". A rich dependency is
// checked for well-formedness and kept whole in Name with an empty EVR,
// as the rpm package's Dep type prescribes.
func ParseDep(s string) (rpm.Dep, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return rpm.Dep{}, fmt.Errorf("dependency: empty")
	}
	if s[0] == '(' {
		if _, err := parseRich(s); err != nil {
			return rpm.Dep{}, fmt.Errorf("rich dependency %q: %w", s, err)
		}
		return rpm.Dep{Name: s}, nil
	}
	f := strings.Fields(s)
	switch len(f) {
	case 1:
		return rpm.Dep{Name: f[0]}, nil
	case 3:
		flags, ok := senseFlags(f[1])
		if !ok {
			return rpm.Dep{}, fmt.Errorf("dependency %q: %q is not a comparison (<, <=, =, >=, >)", s, f[1])
		}
		return rpm.Dep{Name: f[0], Flags: flags, EVR: rpm.ParseEVR(f[2])}, nil
	}
	return rpm.Dep{}, fmt.Errorf("dependency %q: want \"name\" or \"name OP version\"", s)
}

// ParseDeps parses rpmspec/rpm query output: one dependency per line,
// blank lines ignored. The error names the offending line.
func ParseDeps(out []byte) ([]rpm.Dep, error) {
	var deps []rpm.Dep
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		d, err := ParseDep(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		deps = append(deps, d)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return deps, nil
}

// senseFlags converts a comparison operator to rpm sense flags.
func senseFlags(op string) (rpm.DepFlags, bool) {
	switch op {
	case "<":
		return rpm.SenseLess, true
	case "<=", "=<":
		return rpm.SenseLess | rpm.SenseEqual, true
	case "=", "==":
		return rpm.SenseEqual, true
	case ">=", "=>":
		return rpm.SenseGreater | rpm.SenseEqual, true
	case ">":
		return rpm.SenseGreater, true
	}
	return 0, false
}

// richOps are rpm's boolean operators.
var richOps = map[string]bool{"and": true, "or": true, "if": true, "unless": true, "with": true, "without": true, "else": true}

// rich is a parsed boolean dependency: a leaf (Atom) or an operator
// applied to operands. For "if"/"unless" the operands are [then, cond]
// or [then, cond, else].
type rich struct {
	Op   string
	Atom rpm.Dep
	Args []*rich
}

// String renders the expression in rpm's canonical spacing.
func (r *rich) String() string {
	if r.Op == "" {
		return r.Atom.String()
	}
	var b strings.Builder
	b.WriteByte('(')
	for i, a := range r.Args {
		if i > 0 {
			op := r.Op
			if i == 2 {
				op = "else"
			}
			b.WriteString(" " + op + " ")
		}
		b.WriteString(a.String())
	}
	b.WriteByte(')')
	return b.String()
}

// maxRichDepth bounds nesting so hostile input cannot exhaust the stack.
const maxRichDepth = 64

// parseRich parses a whole rich dependency "( ... )" with rpm's grammar
// (rpmrichParse): operands are simple dependencies or parenthesized
// expressions; and/or/with may be chained with the same operator,
// if/unless take an optional else branch, operators are not mixed at one
// level without parentheses.
func parseRich(s string) (*rich, error) {
	p := &richParser{s: s}
	p.skipSpace()
	r, err := p.group(0)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.i != len(p.s) {
		return nil, fmt.Errorf("unexpected %q after the closing parenthesis", p.s[p.i:])
	}
	return r, nil
}

type richParser struct {
	s string
	i int
}

func (p *richParser) skipSpace() {
	for p.i < len(p.s) && isSpace(p.s[p.i]) {
		p.i++
	}
}

// isSpace is rpm's SKIPWHITE set: white space and ','.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' || c == ','
}

// group parses "( operand [op operand]... )" starting at '('.
func (p *richParser) group(depth int) (*rich, error) {
	if depth > maxRichDepth {
		return nil, fmt.Errorf("nested deeper than %d levels", maxRichDepth)
	}
	if p.i >= len(p.s) || p.s[p.i] != '(' {
		return nil, fmt.Errorf("expected '(' at offset %d", p.i)
	}
	p.i++
	first, err := p.operand(depth)
	if err != nil {
		return nil, err
	}
	r := &rich{Args: []*rich{first}}
	for {
		p.skipSpace()
		if p.i >= len(p.s) {
			return nil, fmt.Errorf("missing ')'")
		}
		if p.s[p.i] == ')' {
			p.i++
			if r.Op == "" {
				return first, nil // "(foo)" is foo
			}
			return r, nil
		}
		start := p.i
		op := p.word()
		if !richOps[op] {
			return nil, fmt.Errorf("expected an operator (and, or, if, unless, with, without, else) at offset %d, got %q", start, op)
		}
		switch {
		case op == "else":
			if (r.Op != "if" && r.Op != "unless") || len(r.Args) != 2 {
				return nil, fmt.Errorf("'else' at offset %d does not follow if/unless", start)
			}
		case r.Op == "":
			r.Op = op
		case op != r.Op:
			return nil, fmt.Errorf("operators %q and %q mixed without parentheses at offset %d", r.Op, op, start)
		case op == "if" || op == "unless" || op == "without":
			return nil, fmt.Errorf("%q cannot be chained (offset %d); use parentheses", op, start)
		}
		next, err := p.operand(depth)
		if err != nil {
			return nil, err
		}
		r.Args = append(r.Args, next)
	}
}

// operand parses a parenthesized group or a simple "name [op evr]".
func (p *richParser) operand(depth int) (*rich, error) {
	p.skipSpace()
	if p.i >= len(p.s) {
		return nil, fmt.Errorf("missing operand at the end")
	}
	if p.s[p.i] == '(' {
		return p.group(depth + 1)
	}
	start := p.i
	name := p.word()
	if name == "" {
		return nil, fmt.Errorf("missing operand at offset %d", start)
	}
	d := rpm.Dep{Name: name}
	// An operator is only taken when the next token is one (rpm's
	// parseSimpleDep); otherwise the token is left for the caller.
	save := p.i
	p.skipSpace()
	if flags, ok := senseFlags(p.peekWord()); ok {
		p.word()
		p.skipSpace()
		vstart := p.i
		evr := p.word()
		if evr == "" {
			return nil, fmt.Errorf("missing version at offset %d", vstart)
		}
		d.Flags, d.EVR = flags, rpm.ParseEVR(evr)
	} else {
		p.i = save
	}
	return &rich{Atom: d}, nil
}

// word reads a token up to white space, ',' or an unbalanced ')',
// keeping balanced parentheses inside names such as "python3dist(foo)"
// (rpm's SKIPNONWHITEX).
func (p *richParser) word() string {
	start, depth := p.i, 0
	for p.i < len(p.s) {
		c := p.s[p.i]
		if isSpace(c) {
			break
		}
		if c == ')' {
			if depth <= 0 {
				break
			}
			depth--
		} else if c == '(' {
			depth++
		}
		p.i++
	}
	return p.s[start:p.i]
}

// peekWord returns the next token without consuming it.
func (p *richParser) peekWord() string {
	save := p.i
	w := p.word()
	p.i = save
	return w
}

// installable returns the atoms of a rich dependency that it may cause to
// be installed: everything except the conditions of if/unless and the
// excluded side of without. The planner orders a package after every
// local provider of these, so the build sees the same repository
// whichever alternative the solver picks.
func (r *rich) installable() []rpm.Dep {
	if r.Op == "" {
		return []rpm.Dep{r.Atom}
	}
	var out []rpm.Dep
	for i, a := range r.Args {
		switch r.Op {
		case "if", "unless":
			if i == 1 {
				continue // the condition
			}
		case "without":
			if i == 1 {
				continue
			}
		}
		out = append(out, a.installable()...)
	}
	return out
}
