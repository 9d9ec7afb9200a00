package plan

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/bundle-dev/bundle/bundle/rpm"
	"github.com/bundle-dev/bundle/bundle/runner"
)

// specQueryFormat prints, per binary package the spec builds, a
// "package NAME EPOCH:VERSION-RELEASE" line followed by one
// "provide DEP" line per Provides (what `rpmspec -q --provides` prints).
const specQueryFormat = `package %{NAME} %{EPOCH}:%{VERSION}-%{RELEASE}\n[provide %{PROVIDENEVRS}\n]`

// rpmspecArgs renders the defines, sorted, and the query arguments.
func rpmspecArgs(defines map[string]string, query ...string) []string {
	args := []string{"-q"}
	keys := make([]string, 0, len(defines))
	for k := range defines {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "--define", k+" "+defines[k])
	}
	return append(args, query...)
}

func absSpec(spec string) (string, error) {
	abs, err := filepath.Abs(spec)
	if err != nil {
		return "", fmt.Errorf("spec %s: %w", spec, err)
	}
	if _, err := os.Stat(abs); err != nil {
		return "", fmt.Errorf("spec %s: %w", spec, err)
	}
	return abs, nil
}

// SpecProvides predicts the Provides of the binary packages spec builds
// (only subpackages with a %files section, rpmspec --builtrpms), with
// defines (macro name → value) set: every "provide" rpmspec reports plus
// each subpackage's own "NAME = [EPOCH:]VERSION-RELEASE", deduplicated in
// first-seen order. The spec is parsed by the host's rpmspec through r:
// macros the host lacks (e.g. distribution python macros) may change the
// answer, so pass a Runner that runs inside the build root when that
// matters.
func SpecProvides(ctx context.Context, r runner.Runner, spec string, defines map[string]string) ([]rpm.Dep, error) {
	abs, err := absSpec(spec)
	if err != nil {
		return nil, err
	}
	out, err := runner.Output(ctx, r, runner.Cmd{
		Name: "rpmspec",
		Args: rpmspecArgs(defines, "--builtrpms", "--qf", specQueryFormat, abs),
		Dir:  filepath.Dir(abs),
	})
	if err != nil {
		return nil, fmt.Errorf("predict provides of %s: %w", spec, err)
	}
	deps, err := parseSpecQuery(out)
	if err != nil {
		return nil, fmt.Errorf("predict provides of %s: rpmspec output: %w", spec, err)
	}
	return deps, nil
}

// parseSpecQuery parses specQueryFormat output.
func parseSpecQuery(out []byte) ([]rpm.Dep, error) {
	var deps []rpm.Dep
	seen := map[string]bool{}
	add := func(d rpm.Dep) {
		k := d.String()
		if !seen[k] {
			seen[k] = true
			deps = append(deps, d)
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		kind, rest, _ := strings.Cut(line, " ")
		switch kind {
		case "":
			continue
		case "package":
			f := strings.Fields(rest)
			if len(f) != 2 {
				return nil, fmt.Errorf("line %d: want \"package NAME EVR\", got %q", n, line)
			}
			evr := strings.TrimPrefix(f[1], "(none):")
			add(rpm.Dep{Name: f[0], Flags: rpm.SenseEqual, EVR: rpm.ParseEVR(evr)})
		case "provide":
			d, err := ParseDep(rest)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", n, err)
			}
			add(d)
		default:
			return nil, fmt.Errorf("line %d: unexpected %q", n, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return deps, nil
}

// SpecBuildRequires returns the static BuildRequires of spec (rpmspec -q
// --buildrequires, with defines set), rpmlib() requirements left out.
// Dynamic ones (%generate_buildrequires) are only known in the build root.
func SpecBuildRequires(ctx context.Context, r runner.Runner, spec string, defines map[string]string) ([]rpm.Dep, error) {
	abs, err := absSpec(spec)
	if err != nil {
		return nil, err
	}
	out, err := runner.Output(ctx, r, runner.Cmd{
		Name: "rpmspec",
		Args: rpmspecArgs(defines, "--buildrequires", abs),
		Dir:  filepath.Dir(abs),
	})
	if err != nil {
		return nil, fmt.Errorf("read BuildRequires of %s: %w", spec, err)
	}
	deps, err := ParseDeps(out)
	if err != nil {
		return nil, fmt.Errorf("read BuildRequires of %s: rpmspec output: %w", spec, err)
	}
	return dropRpmlib(deps), nil
}

func dropRpmlib(deps []rpm.Dep) []rpm.Dep {
	return slices.DeleteFunc(deps, isRpmlib)
}

// SRPMBuildRequires returns the BuildRequires recorded in a source RPM's
// header (its Requires), rpmlib() requirements left out. They are the
// ones of the platform the SRPM was built on; SRPMSpec + SpecBuildRequires
// re-evaluates them for ours.
func SRPMBuildRequires(path string) ([]rpm.Dep, error) {
	pkg, err := rpm.ReadPackageFile(path)
	if err != nil {
		return nil, fmt.Errorf("read BuildRequires of %s: %w", path, err)
	}
	if !pkg.IsSource {
		return nil, fmt.Errorf("read BuildRequires of %s: %s is a binary package, not a source RPM", path, pkg.Name)
	}
	return dropRpmlib(slices.Clone(pkg.Requires)), nil
}

// SRPMSpec extracts the .spec file of the source RPM path into dir (which
// must exist) and returns its path. The payload is unpacked by rpm2cpio |
// cpio through r into a private temporary directory inside dir; only a
// single regular top-level *.spec is accepted, and it is renamed into
// place, so dir never holds a partial file nor anything else from the
// archive.
func SRPMSpec(ctx context.Context, r runner.Runner, path, dir string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("extract spec of %s: %w", path, err)
	}
	if _, err := os.Stat(abs); err != nil {
		return "", fmt.Errorf("extract spec of %s: %w", path, err)
	}
	tmp, err := os.MkdirTemp(dir, ".srpm-spec-")
	if err != nil {
		return "", fmt.Errorf("extract spec of %s: %w", path, err)
	}
	defer os.RemoveAll(tmp)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := r.Run(ctx, runner.Cmd{Name: "rpm2cpio", Args: []string{abs}, Stdout: pw})
		pw.CloseWithError(err)
		done <- err
	}()
	_, cpioErr := r.Run(ctx, runner.Cmd{
		Name:  "cpio",
		Args:  []string{"-i", "--quiet", "--make-directories", "--no-absolute-filenames", "*.spec"},
		Dir:   tmp,
		Stdin: pr,
	})
	if cpioErr == nil {
		// cpio stops at the trailer; let rpm2cpio finish writing the
		// padding instead of failing it with a broken pipe.
		_, _ = io.Copy(io.Discard, pr)
	} else {
		cancel()
		pr.CloseWithError(errors.New("cpio exited"))
	}
	rpmErr := <-done
	if rpmErr != nil {
		return "", fmt.Errorf("extract spec of %s: %w", path, rpmErr)
	}
	if cpioErr != nil {
		return "", fmt.Errorf("extract spec of %s: %w", path, cpioErr)
	}
	ents, err := os.ReadDir(tmp)
	if err != nil {
		return "", fmt.Errorf("extract spec of %s: %w", path, err)
	}
	var specs []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".spec") && e.Type().IsRegular() {
			specs = append(specs, e.Name())
		}
	}
	switch len(specs) {
	case 0:
		return "", fmt.Errorf("extract spec of %s: the source RPM holds no top-level .spec file", path)
	case 1:
	default:
		return "", fmt.Errorf("extract spec of %s: the source RPM holds several spec files (%s); unpack it and give the spec explicitly", path, strings.Join(specs, ", "))
	}
	final := filepath.Join(dir, specs[0])
	if err := os.Rename(filepath.Join(tmp, specs[0]), final); err != nil {
		return "", fmt.Errorf("extract spec of %s: %w", path, err)
	}
	return final, nil
}
