package rpm

import (
	"strconv"
	"strings"
)

// Vercmp compares two version (or release) strings exactly as rpm's
// rpmvercmp does and returns -1, 0 or 1.
//
// The strings are split into maximal runs of ASCII digits or ASCII letters;
// every other byte only separates segments (so "2.0" equals "2_0", and
// non-ASCII bytes are separators). Segments compare pairwise: numeric
// segments as numbers (leading zeros ignored, any length), alphabetic
// segments with strcmp, and a numeric segment is newer than an alphabetic
// one. '~' sorts before anything, even the end of the string ("1.0~rc1" <
// "1.0"); '^' sorts after the end of the string but before any other
// segment ("1.0" < "1.0^git1" < "1.0.1"). When all segments compare equal
// the string with segments left over is newer. Two empty strings are equal;
// the empty string is older than anything except a string starting with '~'.
func Vercmp(a, b string) int {
	if a == b {
		return 0
	}
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		for i < len(a) && !isAlnum(a[i]) && a[i] != '~' && a[i] != '^' {
			i++
		}
		for j < len(b) && !isAlnum(b[j]) && b[j] != '~' && b[j] != '^' {
			j++
		}

		// Tilde sorts before everything else, including the end.
		ta, tb := i < len(a) && a[i] == '~', j < len(b) && b[j] == '~'
		if ta || tb {
			if !ta {
				return 1
			}
			if !tb {
				return -1
			}
			i++
			j++
			continue
		}

		// Caret is like tilde, except that the end of a string (the base
		// version) sorts before it.
		ca, cb := i < len(a) && a[i] == '^', j < len(b) && b[j] == '^'
		if ca || cb {
			if i >= len(a) {
				return -1
			}
			if j >= len(b) {
				return 1
			}
			if !ca {
				return 1
			}
			if !cb {
				return -1
			}
			i++
			j++
			continue
		}

		if i >= len(a) || j >= len(b) {
			break
		}

		// Take the next all-digit or all-letter segment of a, and the
		// segment of the same kind at the start of b (possibly empty).
		si, sj := i, j
		isNum := isDigit(a[i])
		if isNum {
			for i < len(a) && isDigit(a[i]) {
				i++
			}
			for j < len(b) && isDigit(b[j]) {
				j++
			}
		} else {
			for i < len(a) && isAlpha(a[i]) {
				i++
			}
			for j < len(b) && isAlpha(b[j]) {
				j++
			}
		}
		segA, segB := a[si:i], b[sj:j]
		// Different kinds: a numeric segment is newer than an alphabetic one.
		if segB == "" {
			if isNum {
				return 1
			}
			return -1
		}
		if isNum {
			segA = strings.TrimLeft(segA, "0")
			segB = strings.TrimLeft(segB, "0")
			if len(segA) != len(segB) {
				if len(segA) > len(segB) {
					return 1
				}
				return -1
			}
		}
		if c := strings.Compare(segA, segB); c != 0 {
			return c
		}
	}
	if i >= len(a) && j >= len(b) {
		return 0
	}
	if i >= len(a) {
		return -1
	}
	return 1
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isAlnum(c byte) bool { return isDigit(c) || isAlpha(c) }

// ParseEVR splits "[epoch:]version[-release]" the way rpm's parseEVR does:
// the epoch is the leading run of digits when a ':' follows it ("" when
// absent, "0" for a bare leading ':'), and the release is what follows the
// last '-' after the epoch ("" when there is none).
func ParseEVR(s string) EVR {
	var e EVR
	k := 0
	for k < len(s) && isDigit(s[k]) {
		k++
	}
	rest := s
	if k < len(s) && s[k] == ':' {
		e.Epoch = s[:k]
		if e.Epoch == "" {
			e.Epoch = "0"
		}
		rest = s[k+1:]
	}
	if d := strings.LastIndexByte(rest, '-'); d >= 0 {
		e.Version, e.Release = rest[:d], rest[d+1:]
	} else {
		e.Version = rest
	}
	return e
}

// formatEVR renders the EVR as "[epoch:]version[-release]"; the epoch is
// left out when it is empty.
func formatEVR(e EVR) string {
	var b strings.Builder
	if e.Epoch != "" {
		b.WriteString(e.Epoch)
		b.WriteByte(':')
	}
	b.WriteString(e.Version)
	// A version containing '-' needs the separator even before an empty
	// release, or the last part of the version would read as the release.
	if e.Release != "" || strings.Contains(e.Version, "-") {
		b.WriteByte('-')
		b.WriteString(e.Release)
	}
	return b.String()
}

// evrEmpty reports whether the EVR carries no version at all.
func evrEmpty(e EVR) bool { return e.Epoch == "" && e.Version == "" && e.Release == "" }

// CompareEVR orders two EVRs and returns -1, 0 or 1. A missing epoch is 0.
// Versions compare with Vercmp; releases too, except that when either
// release is empty the releases compare equal (rpm's rule for a dependency
// such as "foo = 1.0", which matches every release of 1.0).
func CompareEVR(a, b EVR) int {
	if c := compareEpoch(a.Epoch, b.Epoch); c != 0 {
		return c
	}
	if c := Vercmp(a.Version, b.Version); c != 0 {
		return c
	}
	if a.Release == "" || b.Release == "" {
		return 0
	}
	return Vercmp(a.Release, b.Release)
}

// compareEpoch follows rpmverOverlap: two present epochs compare with
// Vercmp; when only one is present it wins if it is a positive number (so
// a missing epoch equals "0").
func compareEpoch(a, b string) int {
	switch {
	case a != "" && b != "":
		return Vercmp(a, b)
	case a != "" && atol(a) > 0:
		return 1
	case b != "" && atol(b) > 0:
		return -1
	}
	return 0
}

// atol is C's atol on the leading digits (epochs are validated digits when
// they come from ParseEVR; a header could carry anything).
func atol(s string) int64 {
	k := 0
	for k < len(s) && isDigit(s[k]) {
		k++
	}
	n, err := strconv.ParseInt(s[:k], 10, 64)
	if err != nil && k > 0 {
		return 1 << 62 // overflow: certainly positive
	}
	return n
}

// String renders the dependency as rpm prints it: "name", or
// "name >= [epoch:]version[-release]" when it is versioned.
func (d Dep) String() string {
	op := senseOp(d.Flags)
	if op == "" || evrEmpty(d.EVR) {
		return d.Name
	}
	return d.Name + " " + op + " " + formatEVR(d.EVR)
}

// senseOp returns the comparison operator of the flags: "<", "<=", "=",
// ">=", ">" or "" when no comparison bit is set. (The meaningless "<>" and
// "<>=" combinations are printed as such.)
func senseOp(f DepFlags) string {
	var b strings.Builder
	if f&SenseLess != 0 {
		b.WriteByte('<')
	}
	if f&SenseGreater != 0 {
		b.WriteByte('>')
	}
	if f&SenseEqual != 0 {
		b.WriteByte('=')
	}
	return b.String()
}

// parseSense converts a comparison operator as written in a spec file
// ("<", "<=", "=<", "=", "==", ">=", "=>", ">") to its flags; ok is false
// for anything else (rpm's rpmParseDSFlags).
func parseSense(op string) (f DepFlags, ok bool) {
	switch op {
	case "<=", "=<":
		return SenseLess | SenseEqual, true
	case "<":
		return SenseLess, true
	case "==", "=":
		return SenseEqual, true
	case ">=", "=>":
		return SenseGreater | SenseEqual, true
	case ">":
		return SenseGreater, true
	}
	return 0, false
}

// SatisfiedBy reports whether the provide prov satisfies the requirement
// req, with rpm's rpmdsCompare semantics: the names must be equal, then the
// two version ranges must overlap.
//
// Either side without a comparison (or without a version) is an existence
// test and always overlaps. That includes rpm's documented quirk that an
// unversioned "Provides: foo" satisfies "Requires: foo >= 2": rpm (and
// libsolv for rpm repositories) accept it, so this does too.
//
// When the versions are equal and only one side has a release, the ranges
// overlap when the side without a release includes equality: "foo = 1.0"
// matches "foo = 1.0-3", while "foo > 1.0" does not match "foo = 1.0-3".
func (req Dep) SatisfiedBy(prov Dep) bool {
	if req.Name != prov.Name {
		return false
	}
	return overlap(req.Flags, req.EVR, prov.Flags, prov.EVR)
}

// overlap reports whether the ranges "flagsA evrA" and "flagsB evrB"
// intersect (rpm's rpmverOverlap), where a range without comparison flags
// or without a version is everything.
func overlap(fa DepFlags, a EVR, fb DepFlags, b EVR) bool {
	fa &= SenseCompareMask
	fb &= SenseCompareMask
	if fa == 0 || fb == 0 || evrEmpty(a) || evrEmpty(b) {
		return true
	}
	sense := compareEpoch(a.Epoch, b.Epoch)
	if sense == 0 {
		sense = Vercmp(a.Version, b.Version)
		if sense == 0 {
			if a.Release != "" && b.Release != "" {
				sense = Vercmp(a.Release, b.Release)
			} else if a.Release != "" && fb&SenseEqual != 0 || b.Release != "" && fa&SenseEqual != 0 {
				return true
			}
		}
	}
	switch {
	case sense < 0:
		return fa&SenseGreater != 0 || fb&SenseLess != 0
	case sense > 0:
		return fa&SenseLess != 0 || fb&SenseGreater != 0
	}
	return fa&SenseEqual != 0 && fb&SenseEqual != 0 ||
		fa&SenseLess != 0 && fb&SenseLess != 0 ||
		fa&SenseGreater != 0 && fb&SenseGreater != 0
}
