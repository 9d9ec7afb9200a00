// Package audit is "bundle test": it checks a bundle the way a grid site
// will meet it, after DIRACOS's symlink, ldd, import and CLI tests.
//
// [Run] unpacks the bundle (a .tar.gz, .tar.zst, .tar.xz or .tar, or a
// copy of an unpacked bundle directory) into a fresh directory whose path
// is longer than any build path, makes it read-only (chmod -R a-w), and
// runs everything that executes bundle code as the unprivileged user
// nobody (through setpriv; as the calling user when that is not root) with
// a read-only HOME and a scratch TMPDIR. Then:
//
//   - tree: no absolute or escaping symlink, no dangling symlink that
//     broken-links.txt does not list, no hard link, no special file, no
//     setuid or setgid bit, no file over 1 GiB (CVMFS warns), no name
//     starting with ".cvmfs" other than .cvmfscatalog and
//     .cvmfsautocatalog;
//   - ELF: every DT_NEEDED of every executable and shared object resolves
//     inside the bundle through its own DT_RPATH ($ORIGIN-relative), from
//     every directory it is loaded from, or is in the platform's base
//     library list; no DT_RUNPATH (LD_LIBRARY_PATH overrides it) and no
//     absolute search path entry; the highest GLIBC_x.y version needed is
//     within the platform's glibc ceiling and nothing needs GLIBC_PRIVATE;
//     and the host's dynamic loader, run as nobody with LD_LIBRARY_PATH at
//     the decoys, lists every library inside the bundle or the base;
//   - no build-root, staging or source-cache path in any file, text or
//     binary (streamed);
//   - every executable script's "#!" is /bin/sh, /usr/bin/env or another
//     base file, or a launcher that runs an interpreter found relative to
//     the script inside the bundle;
//   - bundlerc, sourced twice by bash, zsh and dash (dash with the root
//     variable preset, see relocate's bundlerc), exports the root
//     variable, puts the bundle first on PATH once, and unsets
//     LD_LIBRARY_PATH;
//   - the recipe's declared checks run with bash after sourcing bundlerc.
//     The host's programs are kept out of reach without a mount namespace:
//     PATH holds the bundle's directories (from bundlerc) and then only a
//     directory of symlinks to a fixed list of basic host tools (sh,
//     coreutils, grep, sed, find...), never the host's python, perl or
//     compilers; the environment is otherwise empty. After sourcing,
//     LD_LIBRARY_PATH is set to a directory of decoys — a library with the
//     SONAME of every non-base library the bundle needs or provides, which
//     defines no symbol and on x86_64 exits with status 97 and a message
//     when loaded — as a job wrapper would set it; decoys of libraries the
//     basic host tools themselves load are left out so the tools keep
//     working.
//   - with RootFS: the loader listing and the declared checks run again
//     inside that root filesystem (bubblewrap; the bundle read-only under
//     /tmp, network and other namespaces unshared, as nobody through the
//     root filesystem's setpriv when running as root), with
//     PATH=/usr/bin:/bin before bundlerc. [EnsureRootFS] makes a minimal
//     Debian one with mmdebstrap and caches it.
//
// Each check gives one [CheckResult]; Run returns an error when any
// failed.
package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/bundle-dev/bundle/bundle/runner"
	"github.com/bundle-dev/bundle/platforms"
)

// Check is a command the recipe declares: a Python import, a CLI smoke
// test.
type Check struct {
	// Name labels the check in the report.
	Name string `json:"name"`
	// Command is run by /bin/sh -c, after bundlerc was sourced.
	Command string `json:"command"`
	// Timeout bounds the command (default DefaultCheckTimeout).
	Timeout time.Duration `json:"timeout,omitempty"`
}

// DefaultCheckTimeout bounds a declared check without its own timeout.
const DefaultCheckTimeout = 10 * time.Minute

// Options configures Run.
type Options struct {
	// Target is a bundle tarball (.tar.gz, .tgz, .tar.zst, .tar.xz, .tar;
	// recognised by content) or an unpacked bundle's top directory.
	Target string
	// Platform gives the base libraries, base files and glibc ceiling.
	// Required.
	Platform *platforms.Platform
	// BrokenList is the file at the bundle top listing the symlinks the
	// links stage removed (default "broken-links.txt").
	BrokenList string
	// BuildPaths must appear in no file (build roots, the staging tree,
	// source caches). When Target is a directory its own path is added.
	BuildPaths []string
	// Checks are the recipe's declared checks.
	Checks []Check
	// RootVar is the variable bundlerc exports ("DIRACOS"); empty skips
	// that part of the bundlerc check.
	RootVar string
	// RootFS is another distribution's root filesystem to run the
	// checks in too (optional).
	RootFS string
	// Runner runs setpriv, the loader, the shells, bwrap (default
	// runner.Default).
	Runner runner.Runner
	// Logger receives progress (default slog.Default()).
	Logger *slog.Logger
	// WorkDir holds this run's own test directory (WorkDir/bundle-test-*,
	// created fresh with an unpredictable name), removed at
	// the end unless Keep. Default: the system's temporary directory. It
	// must be searchable by nobody.
	WorkDir string
	// Keep leaves the unpacked bundle and the logs in place.
	Keep bool
	// Workers bounds the files read at once (default GOMAXPROCS).
	Workers int
}

// MaxOffenders is how many offenders a CheckResult lists.
const MaxOffenders = 20

// CheckResult is the outcome of one check.
type CheckResult struct {
	Name string `json:"name"`
	OK   bool   `json:"ok"`
	// Skipped reports a check that could not run here (Detail says why);
	// it does not fail the report.
	Skipped bool `json:"skipped,omitempty"`
	// Count is how many items were checked.
	Count int `json:"count"`
	// Offenders are the first MaxOffenders failing items, sorted.
	Offenders []string `json:"offenders,omitempty"`
	// OffenderCount is how many items failed in all.
	OffenderCount int    `json:"offender_count"`
	Detail        string `json:"detail,omitempty"`
	// Summary is a finding shown whatever the outcome (the host
	// requirement the ELF files measure).
	Summary string `json:"summary,omitempty"`
}

// Report is the outcome of Run.
type Report struct {
	Target string `json:"target"`
	// Dir is where the bundle was unpacked (gone unless Options.Keep).
	Dir     string        `json:"dir"`
	Seconds float64       `json:"seconds"`
	Checks  []CheckResult `json:"checks"`
}

// OK reports whether every check passed or was skipped.
func (r *Report) OK() bool {
	for _, c := range r.Checks {
		if !c.OK && !c.Skipped {
			return false
		}
	}
	return true
}

// Failed returns the names of the failed checks.
func (r *Report) Failed() []string {
	var out []string
	for _, c := range r.Checks {
		if !c.OK && !c.Skipped {
			out = append(out, c.Name)
		}
	}
	return out
}

// Get returns the result of the named check.
func (r *Report) Get(name string) (CheckResult, bool) {
	for _, c := range r.Checks {
		if c.Name == name {
			return c, true
		}
	}
	return CheckResult{}, false
}

// WriteText writes one line per check — status, name, count, offender
// count — followed by its offenders, indented, and its detail.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, c := range r.Checks {
		status := "ok  "
		switch {
		case c.Skipped:
			status = "skip"
		case !c.OK:
			status = "FAIL"
		}
		fmt.Fprintf(&b, "%s %-22s %6d checked", status, c.Name, c.Count)
		if c.OffenderCount > 0 {
			fmt.Fprintf(&b, ", %d failing", c.OffenderCount)
		}
		b.WriteByte('\n')
		if c.Summary != "" {
			fmt.Fprintf(&b, "       %s\n", c.Summary)
		}
		for _, o := range c.Offenders {
			fmt.Fprintf(&b, "       %s\n", oneLine(o))
		}
		if c.OffenderCount > len(c.Offenders) {
			fmt.Fprintf(&b, "       ... and %d more\n", c.OffenderCount-len(c.Offenders))
		}
		if c.Detail != "" && (!c.OK || c.Skipped) {
			for l := range strings.SplitSeq(strings.TrimRight(c.Detail, "\n"), "\n") {
				fmt.Fprintf(&b, "       | %s\n", l)
			}
		}
	}
	if r.OK() {
		fmt.Fprintf(&b, "bundle test: %s passed (%d checks, %.1fs)\n", r.Target, len(r.Checks), r.Seconds)
	} else {
		fmt.Fprintf(&b, "bundle test: %s FAILED: %s\n", r.Target, strings.Join(r.Failed(), ", "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// oneLine makes an offender printable on one line.
func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", `\n`)
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

// ErrFailed is wrapped by Run's error when checks failed.
var ErrFailed = errors.New("bundle test failed")

// result collects one check's offenders.
type result struct {
	CheckResult
	all []string
}

func newResult(name string) *result { return &result{CheckResult: CheckResult{Name: name}} }

func (r *result) fail(format string, args ...any) {
	r.all = append(r.all, fmt.Sprintf(format, args...))
}

// done sorts the offenders and fills the result.
func (r *result) done() CheckResult {
	c := r.CheckResult
	slices.Sort(r.all)
	c.OffenderCount = len(r.all)
	if len(r.all) > MaxOffenders {
		c.Offenders = append([]string(nil), r.all[:MaxOffenders]...)
	} else {
		c.Offenders = r.all
	}
	c.OK = len(r.all) == 0 && !c.Skipped
	return c
}

func skipped(name, why string) CheckResult {
	return CheckResult{Name: name, Skipped: true, Detail: why}
}
