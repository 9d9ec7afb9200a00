// Package shebang reads "#!" lines and writes the relocatable launchers that
// replace absolute interpreter paths in a bundle.
//
// A script whose first line is "#!/usr/bin/python3.11" only runs where that
// path holds the right interpreter, which on a worker node is the host's,
// not the bundle's. The launcher makes the script start under /bin/sh (every
// host has it, and the "#!" line stays far below the kernel's 127-byte
// limit), find its own directory, and exec the interpreter at a path
// relative to it:
//
//	"$(dirname -- "$(readlink -f -- "$0")")/REL"
//
// $0 is the path the script was started by: absolute when found through
// PATH, relative ("./bin/x", "bin/x") when given so, and possibly a symlink
// from outside the bundle (~/bin/x -> /cvmfs/.../usr/bin/x). readlink -f
// turns any of these into the script's physical path before the directory is
// taken, so REL, computed from the script's real directory in the bundle,
// is right in every case; the interpreter itself still gets "$0" as given,
// so its argv[0] is what the user typed. readlink -f and dirname are
// coreutils (and busybox) on every Linux host, found through PATH. A
// directory name ending in a newline would be cut by the command
// substitution; bundles have none.
//
// The language decides how the rest of the script skips the launcher lines.
// Python gets the polyglot pip writes, a line that is an exec to sh and a
// string literal to Python:
//
//	#!/bin/sh
//	'''exec' "$(dirname -- "$(readlink -f -- "$0")")/python3.11" "$0" "$@"
//	' '''
//
// The string literal becomes the first statement, so a docstring that
// followed the old "#!" line is no longer the module's __doc__ (as with
// pip's own launchers). A PEP 263 coding line must be on line 1 or 2: a
// script declaring another encoding than UTF-8 is refused. Perl gets a
// second "#!" line, a comment to sh where perl -x starts reading and takes
// its switches, and an exec that Perl reads as a no-op:
//
//	#!/bin/sh
//	#!perl -w
//	eval 'exec "$(dirname -- "$(readlink -f -- "$0")")/perl" -x "$0" "$@"'
//	    if 0;
//
// bash and zsh get one line that re-executes under the bundle's shell unless
// BUNDLE_LAUNCHER already holds $0, and then unsets it, so the second
// reading of the line, by the bundle's shell, goes on whatever shell /bin/sh
// is on the host (bash on Enterprise Linux, dash on Debian), while the
// scripts it starts are launched afresh:
//
//	#!/bin/sh
//	if [ "${BUNDLE_LAUNCHER-}" != "$0" ]; then BUNDLE_LAUNCHER=$0 exec "$(dirname -- "$(readlink -f -- "$0")")/bash" "$0" "$@"; fi; unset BUNDLE_LAUNCHER
//
// Tcl (tclsh, wish) continues a comment over the exec line:
//
//	#!/bin/sh
//	# \
//	exec "$(dirname -- "$(readlink -f -- "$0")")/tclsh8.6" "$0" "$@"
//
// Other interpreters have no launcher (ErrUnsupported).
package shebang

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"
)

// Line is a parsed "#!" line.
type Line struct {
	// Interp is the interpreter path as written.
	Interp string
	// Arg is the optional argument: the rest of the line after the
	// interpreter and blanks, with trailing blanks removed (Linux passes
	// it as one argument).
	Arg string
}

// Parse reads the "#!" line at the start of data. It reports false when
// data does not start with "#!" or names no interpreter.
func Parse(data []byte) (Line, bool) {
	if !bytes.HasPrefix(data, []byte("#!")) {
		return Line{}, false
	}
	line := data[2:]
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	s := strings.TrimRight(string(line), " \t\r")
	s = strings.TrimLeft(s, " \t")
	if s == "" {
		return Line{}, false
	}
	interp, arg, _ := strings.Cut(s, " ")
	if i := strings.IndexByte(interp, '\t'); i >= 0 {
		interp, arg = interp[:i], s[i+1:]
	}
	return Line{Interp: interp, Arg: strings.TrimLeft(arg, " \t")}, true
}

// Kind is the language of an interpreter, as far as launchers care.
type Kind int

// Interpreter kinds.
const (
	Unknown Kind = iota
	Python
	Perl
	Bash
	Zsh
	Tcl
)

var (
	pythonName = regexp.MustCompile(`^python[0-9.]*[a-z]?$`)
	perlName   = regexp.MustCompile(`^perl[0-9.]*$`)
	tclName    = regexp.MustCompile(`^(tclsh|wish)[0-9.]*$`)
)

// KindOf returns the kind of the interpreter at interp, by its file name.
func KindOf(interp string) Kind {
	switch b := path.Base(interp); {
	case pythonName.MatchString(b):
		return Python
	case perlName.MatchString(b):
		return Perl
	case b == "bash":
		return Bash
	case b == "zsh":
		return Zsh
	case tclName.MatchString(b):
		return Tcl
	}
	return Unknown
}

// ErrUnsupported is returned for interpreters no launcher is known for.
var ErrUnsupported = errors.New("no relocatable launcher is known for this interpreter (python, perl, bash, zsh, tclsh and wish have one)")

// findSelf is the shell expression for the script's real directory. It is
// also how Find recognises a launcher Rewrite wrote.
const findSelf = `"$(dirname -- "$(readlink -f -- "$0")")/`

// Launcher is the interpreter a /bin/sh launcher at the top of a script
// execs.
type Launcher struct {
	// Relative reports a launcher that finds the interpreter relative to
	// the script's directory (the form Rewrite writes); otherwise Interp
	// is the absolute path pip's launcher names.
	Relative bool
	// Interp is the interpreter path: relative to the script's directory
	// when Relative, absolute otherwise.
	Interp string
	// Lines is how many lines at the top of the file the launcher takes,
	// "#!" line included.
	Lines int
}

// Find recognises a launcher at the top of data: the ones Rewrite writes
// and pip's, which execs an absolute path from a triple-quoted Python
// string.
func Find(data []byte) (Launcher, bool) {
	l, ok := Parse(data)
	if !ok || l.Interp != "/bin/sh" || l.Arg != "" {
		return Launcher{}, false
	}
	lines := splitLines(data, 4)
	if len(lines) < 2 {
		return Launcher{}, false
	}
	for n := 1; n < len(lines) && n <= 2; n++ {
		s := lines[n]
		if i := strings.Index(s, findSelf); i >= 0 && strings.Contains(s, "exec") {
			rest := s[i+len(findSelf):]
			j := strings.IndexByte(rest, '"')
			if j <= 0 {
				return Launcher{}, false
			}
			used := n + 1
			if strings.HasPrefix(s, "'''exec'") || strings.HasPrefix(s, "eval 'exec") {
				used++ // the closing "' '''" or "    if 0;" line
			}
			return Launcher{Relative: true, Interp: rest[:j], Lines: used}, true
		}
	}
	if rest, ok := strings.CutPrefix(lines[1], "'''exec' "); ok && len(lines) >= 3 && strings.TrimRight(lines[2], " \r") == "' '''" {
		interp, ok := firstWord(rest)
		if !ok {
			return Launcher{}, false
		}
		return Launcher{Interp: interp, Lines: 3}, true
	}
	return Launcher{}, false
}

// firstWord returns the first shell word of s when it is a plain word or
// one double- or single-quoted string without escapes.
func firstWord(s string) (string, bool) {
	s = strings.TrimLeft(s, " \t")
	if s == "" {
		return "", false
	}
	if q := s[0]; q == '"' || q == '\'' {
		j := strings.IndexByte(s[1:], q)
		if j < 0 {
			return "", false
		}
		w := s[1 : 1+j]
		if w == "" || q == '"' && strings.ContainsAny(w, "\\$`") {
			return "", false
		}
		return w, true
	}
	w, _, _ := strings.Cut(s, " ")
	if strings.ContainsAny(w, "\\$`'\"") {
		return "", false
	}
	return w, true
}

// splitLines returns up to n first lines of data, without newlines.
func splitLines(data []byte, n int) []string {
	var out []string
	for len(out) < n && len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			out = append(out, string(data))
			break
		}
		out = append(out, string(data[:i]))
		data = data[i+1:]
	}
	return out
}

var codingLine = regexp.MustCompile(`^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)`)

// safeWord reports whether s can be written bare inside the launcher lines,
// which are at once shell, and a Python string literal or a Perl string.
func safeWord(s string) bool {
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("-_.,+=/:@%", r):
		default:
			return false
		}
	}
	return true
}

// Rewrite returns data with its interpreter line (or pip's three-line
// launcher) replaced by a launcher that runs the interpreter at rel, a path
// relative to the script's own directory, with arg (the old "#!" line's
// argument, "" for none) before the script's path.
func Rewrite(data []byte, interp, rel, arg string) ([]byte, error) {
	kind := KindOf(interp)
	if kind == Unknown {
		return nil, fmt.Errorf("interpreter %s: %w", interp, ErrUnsupported)
	}
	if rel == "" || !safeWord(rel) || strings.HasPrefix(rel, "/") {
		return nil, fmt.Errorf("interpreter path %q: only letters, digits and -_.,+=/:@%% fit in a launcher, relative", rel)
	}
	if !safeWord(arg) {
		return nil, fmt.Errorf("interpreter argument %q: only letters, digits and -_.,+=/:@%% fit in a launcher", arg)
	}
	if _, ok := Parse(data); !ok {
		return nil, errors.New("no #! line")
	}
	skip := 1
	if l, ok := Find(data); ok {
		skip = l.Lines
	}
	body := data
	for range skip {
		i := bytes.IndexByte(body, '\n')
		if i < 0 {
			body = nil
			break
		}
		body = body[i+1:]
	}
	if kind == Python {
		if first := splitLines(body, 1); len(first) == 1 {
			if m := codingLine.FindStringSubmatch(first[0]); m != nil {
				if enc := strings.ToLower(strings.ReplaceAll(m[1], "_", "-")); enc != "utf-8" && enc != "utf8" && !strings.HasPrefix(enc, "utf-8-") {
					return nil, fmt.Errorf("declares the %s encoding, which Python only honours on line 1 or 2, where the launcher goes", m[1])
				}
			}
		}
	}
	a := ""
	if arg != "" {
		a = " " + arg
	}
	self := findSelf + rel + `"`
	var head string
	switch kind {
	case Python:
		head = "#!/bin/sh\n'''exec' " + self + a + ` "$0" "$@"` + "\n' '''\n"
	case Perl:
		head = "#!/bin/sh\n#!perl" + a + "\neval 'exec " + self + ` -x "$0" "$@"'` + "\n    if 0;\n"
	case Bash, Zsh:
		head = "#!/bin/sh\n" + `if [ "${BUNDLE_LAUNCHER-}" != "$0" ]; then BUNDLE_LAUNCHER=$0 exec ` + self + a +
			` "$0" "$@"; fi; unset BUNDLE_LAUNCHER` + "\n"
	case Tcl:
		head = "#!/bin/sh\n# \\\nexec " + self + a + ` "$0" "$@"` + "\n"
	}
	out := make([]byte, 0, len(head)+len(body))
	out = append(out, head...)
	return append(out, body...), nil
}
