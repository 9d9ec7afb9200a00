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

	"github.com/bundle-dev/bundle/bundle/atomicfile"
	"github.com/bundle-dev/bundle/bundle/rpm"
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

// Querier runs `rpmspec ARGS SPEC` and returns its standard output. Parsing
// a spec expands its macros, and %(...) or %{lua:...} run whatever the spec
// says, so a Querier runs rpmspec where nothing of the spec reaches the
// host: mockrun's builders run it in their build root's sandbox
// (Builder.QuerySpec), as the unprivileged build user with no network.
// spec is an absolute path; its directory is what the query can see.
type Querier func(ctx context.Context, spec string, args []string) ([]byte, error)

// SpecProvides predicts the Provides of the binary packages spec builds
// (only subpackages with a %files section, rpmspec --builtrpms), with
// defines (macro name → value) set: every "provide" rpmspec reports plus
// each subpackage's own "NAME = [EPOCH:]VERSION-RELEASE", deduplicated in
// first-seen order. The spec is parsed by rpmspec through q, in the build
// root, so the build root's macros give the answer the build will.
func SpecProvides(ctx context.Context, q Querier, spec string, defines map[string]string) ([]rpm.Dep, error) {
	abs, err := absSpec(spec)
	if err != nil {
		return nil, err
	}
	out, err := q(ctx, abs, rpmspecArgs(defines, "--builtrpms", "--qf", specQueryFormat))
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
// --buildrequires through q, with defines set), rpmlib() requirements left
// out.
// Dynamic ones (%generate_buildrequires) are only known in the build root.
func SpecBuildRequires(ctx context.Context, q Querier, spec string, defines map[string]string) ([]rpm.Dep, error) {
	abs, err := absSpec(spec)
	if err != nil {
		return nil, err
	}
	out, err := q(ctx, abs, rpmspecArgs(defines, "--buildrequires"))
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

// maxSpecSize bounds a spec file read from a source RPM.
const maxSpecSize = 16 << 20

// SRPMSpec extracts the .spec file of the source RPM path into dir (which
// must exist) and returns its path. The payload is read by bundle's own RPM
// and cpio readers, never by a host tool, and fully verified (sizes and
// digests) before anything is written; only a single regular top-level
// *.spec is accepted, and it is written to a temporary name and renamed
// into place, so dir never holds a partial file nor anything else from the
// archive.
func SRPMSpec(ctx context.Context, path, dir string) (string, error) {
	name, data, err := readSRPMSpec(ctx, path)
	if err != nil {
		return "", fmt.Errorf("extract spec of %s: %w", path, err)
	}
	final := filepath.Join(dir, name)
	if err := atomicfile.Write(final, data, 0o644); err != nil {
		return "", fmt.Errorf("extract spec of %s: %w", path, err)
	}
	return final, nil
}

// readSRPMSpec returns the name and bytes of the single top-level spec of
// a source RPM, after reading the whole payload (which verifies it).
func readSRPMSpec(ctx context.Context, path string) (string, []byte, error) {
	pkg, pl, err := rpm.Open(path)
	if err != nil {
		return "", nil, err
	}
	defer pl.Close()
	if !pkg.IsSource {
		return "", nil, fmt.Errorf("%s is a binary package, not a source RPM", pkg.Name)
	}
	var specs []string
	var data []byte
	for {
		if err := ctx.Err(); err != nil {
			return "", nil, err
		}
		e, err := pl.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", nil, err
		}
		dir, name := filepath.Split(e.Path)
		if dir != "/" || !strings.HasSuffix(name, ".spec") || !e.FileMode().IsRegular() {
			continue
		}
		specs = append(specs, name)
		if len(specs) > 1 {
			continue
		}
		if e.DataSize > maxSpecSize {
			return "", nil, fmt.Errorf("spec %s is %d bytes, more than the %d a spec may have", name, e.DataSize, maxSpecSize)
		}
		if data, err = io.ReadAll(io.LimitReader(pl, maxSpecSize+1)); err != nil {
			return "", nil, err
		}
	}
	switch len(specs) {
	case 0:
		return "", nil, errors.New("the source RPM holds no top-level .spec file")
	case 1:
		return specs[0], data, nil
	}
	return "", nil, fmt.Errorf("the source RPM holds several spec files (%s); unpack it and give the spec explicitly", strings.Join(specs, ", "))
}
