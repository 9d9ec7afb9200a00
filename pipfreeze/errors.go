package pipfreeze

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/bundle-dev/bundle/bundle/runner"
)

// GatherHint tells how to add a missing distribution to an offline set.
const GatherHint = "recipes/gather-python-wheels.sh DIR gathers pip, setuptools, wheel and the Debian-built set; " +
	"any other wheel or sdist (NAME-VERSION.tar.gz, NAME-VERSION-*.whl) can be copied into a find-links directory"

// MissingError reports requirements the offline set cannot satisfy.
type MissingError struct {
	Requirements []string // as pip or the lock wrote them
	FindLinks    []string // the directories searched
}

func (e *MissingError) Error() string {
	where := "the offline set"
	if len(e.FindLinks) > 0 {
		where += " (" + strings.Join(e.FindLinks, ", ") + ")"
	}
	return fmt.Sprintf("not in %s: %s; add it: %s", where, strings.Join(e.Requirements, "; "), GatherHint)
}

// HashMismatch is one file whose digest is not the one the lock expects.
type HashMismatch struct {
	Requirement string   // "name==version"
	File        string   // path or URL of the file
	Expected    []string // "sha256:..." from the lock
	Got         string   // "sha256:..." of the file
}

// HashMismatchError reports files whose digest differs from the lock's.
type HashMismatchError struct {
	Mismatches []HashMismatch
}

func (e *HashMismatchError) Error() string {
	var b strings.Builder
	b.WriteString("hash mismatch: the lock's sha256 does not match the file (the file changed, or the lock is stale: regenerate it with bundle lock)")
	for _, m := range e.Mismatches {
		fmt.Fprintf(&b, "\n  %s: %s\n    expected %s\n    got      %s", m.Requirement, m.File, strings.Join(m.Expected, " or "), m.Got)
	}
	return b.String()
}

// MismatchError reports how the installed distributions differ from the lock.
type MismatchError struct {
	Differences []string // one line each, sorted by name
}

func (e *MismatchError) Error() string {
	return "installed Python packages differ from the lock:\n  " + strings.Join(e.Differences, "\n  ")
}

var (
	noMatchRE = regexp.MustCompile(`(?m)No matching distribution found for (.+?)\s*$`)
	expectRE  = regexp.MustCompile(`^\s+Expected (sha256) ([0-9a-f]+)\s*$`)
	gotRE     = regexp.MustCompile(`^\s+Got\s+([0-9a-f]+)\s*$`)
	fromRE    = regexp.MustCompile(`^\s+(\S+) from (\S+)`)
)

// classifyPipError turns pip's failure output into a MissingError or a
// HashMismatchError when it is one, keeping the runner's error (with its log
// tail) otherwise.
func classifyPipError(err error, findLinks []string) error {
	var re *runner.Error
	if !errors.As(err, &re) {
		return err
	}
	if m := parseHashMismatch(re.Tail); m != nil {
		return fmt.Errorf("%w\n(pip: %v)", m, shortPipErr(re))
	}
	if reqs := parseNoMatch(re.Tail); len(reqs) > 0 {
		return fmt.Errorf("%w\n(pip: %v)", &MissingError{Requirements: reqs, FindLinks: findLinks}, shortPipErr(re))
	}
	if strings.Contains(re.Tail, "No module named 'setuptools'") || strings.Contains(re.Tail, "invalid command 'bdist_wheel'") {
		return fmt.Errorf("%w\nhint: sdists build with the locked setuptools and wheel (pip runs with --no-build-isolation): "+
			"add setuptools and wheel to the requirements and lock again", err)
	}
	return err
}

// shortPipErr names the failed command and its log without the tail.
func shortPipErr(e *runner.Error) string {
	s := fmt.Sprintf("exit status %d", e.ExitCode)
	if e.Log != "" {
		s += ", full log: " + e.Log
	}
	return s
}

// parseNoMatch extracts the requirements of pip's "No matching
// distribution found for X" lines.
func parseNoMatch(out string) []string {
	var reqs []string
	for _, m := range noMatchRE.FindAllStringSubmatch(out, -1) {
		reqs = append(reqs, m[1])
	}
	return reqs
}

// parseHashMismatch reads pip's "THESE PACKAGES DO NOT MATCH THE HASHES"
// block: for each package a "REQ from URL" line, then "Expected sha256 X"
// (one or more) and "Got Y".
func parseHashMismatch(out string) *HashMismatchError {
	if !strings.Contains(out, "DO NOT MATCH THE HASHES") {
		return nil
	}
	var e HashMismatchError
	var cur *HashMismatch
	for _, line := range strings.Split(out, "\n") {
		if m := expectRE.FindStringSubmatch(line); m != nil && cur != nil {
			cur.Expected = append(cur.Expected, m[1]+":"+m[2])
			continue
		}
		if m := gotRE.FindStringSubmatch(line); m != nil && cur != nil {
			cur.Got = "sha256:" + m[1]
			e.Mismatches = append(e.Mismatches, *cur)
			cur = nil
			continue
		}
		if m := fromRE.FindStringSubmatch(line); m != nil {
			cur = &HashMismatch{Requirement: m[1], File: strings.TrimPrefix(m[2], "file://")}
		}
	}
	if len(e.Mismatches) == 0 {
		return nil
	}
	return &e
}
