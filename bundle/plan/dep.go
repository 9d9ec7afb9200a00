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
		if _, err := rpm.ParseRich(s); err != nil {
			return rpm.Dep{}, err
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
		evr := rpm.ParseEVR(f[2])
		if evr.Version == "" {
			return rpm.Dep{}, fmt.Errorf("dependency %q: %q has no version", s, f[2])
		}
		return rpm.Dep{Name: f[0], Flags: flags, EVR: evr}, nil
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

// installable returns the atoms of a rich dependency that it may cause to
// be installed: everything except the conditions of if/unless and the
// excluded side of without. The planner orders a package after every
// local provider of these, so the build sees the same repository
// whichever alternative the solver picks.
func installable(e rpm.RichExpr) []rpm.Dep {
	if e.Op == rpm.RichAtom {
		return []rpm.Dep{e.Dep}
	}
	var out []rpm.Dep
	for i, a := range e.Args {
		if i == 1 && (e.Op == rpm.RichIf || e.Op == rpm.RichUnless || e.Op == rpm.RichWithout) {
			continue // a condition, or what must not be there
		}
		out = append(out, installable(a)...)
	}
	return out
}
