// Package mockrun rebuilds source RPMs for a platform. Two builders share
// one interface:
//
//   - mock: the distribution's own tool, driven through a generated
//     configuration that includes the platform's plain base config (never
//     EPEL) and puts the local repository of already rebuilt packages first;
//   - sandbox: rpmbuild inside a pinned Debian rootfs made once with
//     mmdebstrap, run per job on an overlay (rootfs + the job's
//     BuildRequires RPMs extracted into a layer + a scratch upper layer) in
//     private mount, pid, ipc, uts and network namespaces with bubblewrap.
//
// Every external command goes through runner.Runner, so it is logged and its
// failure carries the log tail.
package mockrun

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/bundle-dev/bundle/bundle/atomicfile"
	"github.com/bundle-dev/bundle/bundle/runner"
	"github.com/bundle-dev/bundle/platforms"
)

// Job is one rebuild of one source RPM.
type Job struct {
	Name string // package name in the recipe
	// ID is unique per build attempt (e.g. name + short cache key); mock
	// uses it for --uniqueext, the sandbox for its scratch directory.
	ID        string
	SRPM      string // the source RPM to rebuild
	ResultDir string // where built RPMs (+ the rebuilt SRPM) land; created, must be empty
	LogDir    string // per-job logs (build.log etc.)
	Jobs      int    // %_smp_mflags = -jN for this job (<= 0 means 1)
	// MemoryBytes caps the build's memory (0 = none). The sandbox puts the
	// build in a memory cgroup with this limit when the host lets it
	// (cgroup v1 memory controller or a delegated v2 one), else it sets
	// RLIMIT_AS (a per-process address-space cap) through prlimit. Mock runs
	// rpmbuild under systemd-nspawn with --rlimit=RLIMIT_AS.
	MemoryBytes   int64
	Defines       map[string]string // --define "k v"
	With, Without []string          // --with X / --without X
	// BuildRequires are paths of local-repo RPMs that satisfy this job's
	// BuildRequires (closure already computed). The sandbox extracts them
	// into the job's layer; mock resolves them itself from LocalRepo.
	BuildRequires []string
	LocalRepo     string // WORKDIR/repo, with repodata
}

// Result lists what a build produced.
type Result struct {
	RPMs     []string // binary RPMs in ResultDir, sorted
	SRPMs    []string // the rebuilt source RPM(s) in ResultDir
	Logs     []string // log files of the job
	Duration time.Duration
}

// Builder rebuilds source RPMs for one platform.
type Builder interface {
	// Kind is "mock" or "sandbox".
	Kind() string
	// Digest is a hash of the builder definition, for cache keys: it
	// changes when anything that can change a build's output changes.
	Digest() string
	// Prepare makes the build root once (sandbox: the rootfs; mock: the
	// configuration file). Build calls it when it has not run yet.
	Prepare(ctx context.Context) error
	// Build rebuilds job.SRPM.
	Build(ctx context.Context, job Job) (*Result, error)
	// BuildSRPM turns a spec plus its sources and patches into a source
	// RPM in outDir (`rpmbuild -bs` in the build root) and returns its path.
	BuildSRPM(ctx context.Context, spec string, files []string, outDir, logDir string) (string, error)
	// QuerySpec runs `rpmspec ARGS SPEC` in the build root, never on the
	// host (a spec's macros run shell and Lua), with the spec's directory
	// readable, and returns rpmspec's standard output. Its log goes to
	// logDir/rpmspec.log (sandbox) or logDir/mock-rpmspec.log (mock).
	QuerySpec(ctx context.Context, spec string, args []string, logDir string) ([]byte, error)
}

// Options configure a builder.
type Options struct {
	Platform *platforms.Platform
	WorkDir  string // the run's work directory (mock configs, scratch)
	CacheDir string // persistent cache (the sandbox rootfs)
	Runner   runner.Runner
	// ExtraPackages are added to the build root: mock's chroot setup, the
	// sandbox rootfs.
	ExtraPackages []string
	Logger        *slog.Logger
	// Extract unpacks the payloads of rpms under root, safely (the
	// assemble stage's extractor). The sandbox needs it for jobs with
	// BuildRequires.
	Extract func(ctx context.Context, root string, rpms []string) error
}

// New returns the builder Platform.Builder.Kind names.
func New(opts Options) (Builder, error) {
	if opts.Platform == nil {
		return nil, errors.New("builder: no platform given")
	}
	if err := opts.Platform.Validate(); err != nil {
		return nil, fmt.Errorf("builder for %s: %w", opts.Platform.Name, err)
	}
	if opts.WorkDir == "" {
		return nil, fmt.Errorf("builder for %s: no work directory given", opts.Platform.Name)
	}
	if opts.Runner == nil {
		opts.Runner = runner.Exec{Logger: opts.Logger}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	for _, p := range opts.ExtraPackages {
		if p == "" || strings.ContainsAny(p, " \t\n,'\"\\") {
			return nil, fmt.Errorf("builder for %s: extra package %q is not a package name", opts.Platform.Name, p)
		}
	}
	switch opts.Platform.Builder.Kind {
	case "mock":
		return newMock(opts)
	case "sandbox":
		return newSandbox(opts)
	default:
		return nil, fmt.Errorf("builder for %s: kind %q is not a builder (mock or sandbox)", opts.Platform.Name, opts.Platform.Builder.Kind)
	}
}

// checkJob validates the fields every builder needs.
func checkJob(job *Job) error {
	if job.Name == "" {
		return errors.New("job has no name")
	}
	if job.ID == "" {
		return fmt.Errorf("job %s has no ID", job.Name)
	}
	if strings.ContainsAny(job.ID, "/\\ \t\n'\"") || job.ID == "." || job.ID == ".." {
		return fmt.Errorf("job %s: ID %q must be a plain file name (no slashes, spaces or quotes)", job.Name, job.ID)
	}
	if job.SRPM == "" {
		return fmt.Errorf("job %s has no source RPM", job.Name)
	}
	if st, err := os.Stat(job.SRPM); err != nil {
		return fmt.Errorf("job %s: source RPM: %w", job.Name, err)
	} else if !st.Mode().IsRegular() {
		return fmt.Errorf("job %s: source RPM %s is not a regular file", job.Name, job.SRPM)
	}
	if job.ResultDir == "" || job.LogDir == "" {
		return fmt.Errorf("job %s: ResultDir and LogDir are required", job.Name)
	}
	for k := range job.Defines {
		if k == "" || strings.ContainsAny(k, " \t\n%{}") {
			return fmt.Errorf("job %s: define %q is not a macro name", job.Name, k)
		}
	}
	for _, w := range append(append([]string(nil), job.With...), job.Without...) {
		if w == "" || strings.ContainsAny(w, " \t\n") {
			return fmt.Errorf("job %s: bcond %q is not a name", job.Name, w)
		}
	}
	if job.Jobs <= 0 {
		job.Jobs = 1
	}
	if job.MemoryBytes < 0 {
		return fmt.Errorf("job %s: negative memory cap", job.Name)
	}
	return nil
}

// prepareDirs creates the result and log directories. A result directory
// that already holds files is refused: its content would be mistaken for
// this build's output.
func prepareDirs(job Job) error {
	if err := os.MkdirAll(job.ResultDir, 0o755); err != nil {
		return fmt.Errorf("job %s: result directory: %w", job.Name, err)
	}
	ents, err := os.ReadDir(job.ResultDir)
	if err != nil {
		return fmt.Errorf("job %s: result directory: %w", job.Name, err)
	}
	if len(ents) > 0 {
		return fmt.Errorf("job %s: result directory %s is not empty: remove it or give a fresh one", job.Name, job.ResultDir)
	}
	if err := os.MkdirAll(job.LogDir, 0o755); err != nil {
		return fmt.Errorf("job %s: log directory: %w", job.Name, err)
	}
	return nil
}

// sortedKeys returns m's keys in order, so generated command lines and
// configs are deterministic.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// hashJSON is the hex sha256 of v's JSON encoding (maps encode sorted).
func hashJSON(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("mockrun: hash %T: %v", v, err)) // only plain structs are hashed
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// copyFile copies src to dst atomically (atomicfile), so dst is never seen
// half written.
func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp, err := atomicfile.Create(dst)
	if err != nil {
		return err
	}
	defer tmp.Cleanup()
	if _, err := io.Copy(tmp, in); err != nil {
		return err
	}
	return tmp.Commit(mode)
}

// tailFile returns the last n lines of the file at path ("" when it cannot
// be read).
func tailFile(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return tailLines(string(data), n)
}

// tailLines returns the last n lines of s, without a trailing newline.
func tailLines(s string, n int) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return ""
	}
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// isSRPM reports whether name is a source package file name.
func isSRPM(name string) bool {
	return strings.HasSuffix(name, ".src.rpm") || strings.HasSuffix(name, ".nosrc.rpm")
}

// BuildError is a failed build: what failed, in which stage, and the last
// lines of the log that says why.
type BuildError struct {
	What  string // "mock build of foo"
	Stage string // the stage that did not finish ("" when unknown)
	Log   string // the full log
	Tail  string // its last lines
	Hint  string // what the failure most likely means, when known
	Err   error
}

// Error says what failed, where, why when known, and ends with the log's
// last lines.
func (e *BuildError) Error() string {
	var b strings.Builder
	b.WriteString(e.What + " failed")
	if e.Stage != "" {
		b.WriteString(" during " + e.Stage)
	}
	cause := e.Err
	var re *runner.Error
	if errors.As(e.Err, &re) {
		cause = re.Err
	}
	switch {
	case e.Hint != "" && cause != nil:
		b.WriteString(": " + e.Hint + " (" + cause.Error() + ")")
	case e.Hint != "":
		b.WriteString(": " + e.Hint)
	case cause != nil:
		b.WriteString(": " + cause.Error())
	}
	if e.Log != "" {
		b.WriteString(" (full log: " + e.Log + ")")
	}
	if e.Tail != "" {
		b.WriteString("\n--- last lines ---\n" + e.Tail)
	}
	return b.String()
}

// Unwrap returns the command's error (a *runner.Error, or the context's).
func (e *BuildError) Unwrap() error { return e.Err }
