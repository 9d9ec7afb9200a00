package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/bundle-dev/bundle/bundle/runner"
	"github.com/bundle-dev/bundle/bundle/schedule"
	"github.com/bundle-dev/bundle/bundle/testenv"
	"github.com/bundle-dev/bundle/mockrun"
	"github.com/bundle-dev/bundle/platforms"
	"github.com/bundle-dev/bundle/recipes"
)

// hostBuilder is a Builder for tests that runs rpmbuild on the host,
// without isolation, and records what it built.
type hostBuilder struct {
	mu     sync.Mutex
	built  []string
	brs    map[string][]string
	failOn string
}

func (h *hostBuilder) Kind() string                  { return "host-test" }
func (h *hostBuilder) Digest() string                { return "host-test-1" }
func (h *hostBuilder) Prepare(context.Context) error { return nil }

func rpmbuild(ctx context.Context, top string, args ...string) error {
	argv := append([]string{"--define", "_topdir " + top, "--define", "use_source_date_epoch_as_buildtime 1",
		"--define", "clamp_mtime_to_source_date_epoch 1", "--define", "_buildhost test", "--nodeps"}, args...)
	_, err := runner.Exec{}.Run(ctx, runner.Cmd{Name: "rpmbuild", Args: argv, Env: runner.CleanEnv("SOURCE_DATE_EPOCH=1767225600")})
	return err
}

func (h *hostBuilder) Build(ctx context.Context, job mockrun.Job) (*mockrun.Result, error) {
	if job.Name == h.failOn {
		return nil, fmt.Errorf("%s: build failed on purpose", job.Name)
	}
	top, err := os.MkdirTemp("", "hostbuild")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(top)
	if err := rpmbuild(ctx, top, "--rebuild", job.SRPM); err != nil {
		return nil, err
	}
	rpms, _ := filepath.Glob(filepath.Join(top, "RPMS", "*", "*.rpm"))
	os.MkdirAll(job.ResultDir, 0o755)
	res := &mockrun.Result{}
	for _, r := range rpms {
		dst := filepath.Join(job.ResultDir, filepath.Base(r))
		data, _ := os.ReadFile(r)
		os.WriteFile(dst, data, 0o644)
		res.RPMs = append(res.RPMs, dst)
	}
	h.mu.Lock()
	h.built = append(h.built, job.Name)
	if h.brs == nil {
		h.brs = map[string][]string{}
	}
	var names []string
	for _, b := range job.BuildRequires {
		names = append(names, filepath.Base(b))
	}
	h.brs[job.Name] = names
	h.mu.Unlock()
	return res, nil
}

func (h *hostBuilder) BuildSRPM(ctx context.Context, spec string, files []string, outDir, logDir string) (string, error) {
	top, err := os.MkdirTemp("", "hostsrpm")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(top)
	if err := rpmbuild(ctx, top, "--define", "_sourcedir "+filepath.Dir(spec), "-bs", spec); err != nil {
		return "", err
	}
	srpms, _ := filepath.Glob(filepath.Join(top, "SRPMS", "*.src.rpm"))
	if len(srpms) != 1 {
		return "", fmt.Errorf("rpmbuild -bs made %d SRPMs", len(srpms))
	}
	dst := filepath.Join(outDir, filepath.Base(srpms[0]))
	data, _ := os.ReadFile(srpms[0])
	return dst, os.WriteFile(dst, data, 0o644)
}

// QuerySpec runs the host's rpmspec: the engine tests' specs are their
// own, trusted ones.
func (h *hostBuilder) QuerySpec(ctx context.Context, spec string, args []string, logDir string) ([]byte, error) {
	return runner.Output(ctx, runner.Exec{}, runner.Cmd{Name: "rpmspec", Args: append(args, spec), Dir: filepath.Dir(spec)})
}

func (h *hostBuilder) reset() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	b := h.built
	h.built = nil
	slices.Sort(b)
	return b
}

// spec writes a spec for a library package "name" with a -devel
// subpackage that BuildRequires the given capabilities.
func writeSpec(t testing.TB, dir, name, comment string, buildRequires ...string) {
	t.Helper()
	br := ""
	for _, b := range buildRequires {
		br += "BuildRequires: " + b + "\n"
	}
	spec := fmt.Sprintf(`# %[3]s
Name: %[1]s
Version: 1.0
Release: 1
Summary: test package %[1]s
License: MIT
BuildArch: noarch
Source0: %[1]s.txt
%[2]s
%%description
test

%%package devel
Summary: headers of %[1]s
Requires: %[1]s = %%{version}-%%{release}

%%description devel
test

%%prep
cp %%{SOURCE0} .

%%install
mkdir -p %%{buildroot}/usr/share/%[1]s %%{buildroot}/usr/include
cp %[1]s.txt %%{buildroot}/usr/share/%[1]s/
echo '#define %[1]s 1' > %%{buildroot}/usr/include/%[1]s.h

%%files
/usr/share/%[1]s

%%files devel
/usr/include/%[1]s.h
`, name, br, comment)
	if err := os.WriteFile(filepath.Join(dir, name+".spec"), []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".txt"), []byte("data of "+name+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func loadRecipe(t testing.TB, dir string, extra string) *recipes.Recipe {
	t.Helper()
	y := `name: t
version: "1"
platform: debian12-x86_64
defaults:
  exclude: ["*-devel"]
packages:
  - name: alpha
    spec: alpha.spec
    sources: [{path: alpha.txt}]
` + extra + `
  - name: beta
    spec: beta.spec
    sources: [{path: beta.txt}]
  - name: gamma
    spec: gamma.spec
    sources: [{path: gamma.txt}]
  - name: delta
    spec: delta.spec
    sources: [{path: delta.txt}]
`
	p := filepath.Join(dir, "recipe.yaml")
	os.WriteFile(p, []byte(y), 0o644)
	r, err := recipes.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func newTestEngine(t testing.TB, r *recipes.Recipe, work, cache string, b *hostBuilder) *Engine {
	t.Helper()
	plat, err := platforms.Load("debian12-x86_64")
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(Options{Recipe: r, Platform: plat, WorkDir: work, CacheDir: cache, Builder: b, Workers: 2, CPUs: 2})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// fourPackages writes the specs of the four-package recipe (beta
// build-requires alpha-devel, gamma beta-devel; delta stands alone) into
// a new directory; the cache is beside them.
func fourPackages(t *testing.T) (ctx context.Context, dir, cache string) {
	t.Helper()
	testenv.Tools(t, "rpmbuild", "rpmspec", "createrepo_c", "rpm2cpio", "cpio")
	dir = t.TempDir()
	writeSpec(t, dir, "alpha", "v1")
	writeSpec(t, dir, "beta", "v1", "alpha-devel")
	writeSpec(t, dir, "gamma", "v1", "beta-devel")
	writeSpec(t, dir, "delta", "v1")
	return context.Background(), dir, filepath.Join(dir, "cache")
}

// The engine on a four-package recipe with a host builder: dependency
// order, the cache, early cut-off, rebuilds of reverse dependencies only,
// keep-going past a failure.
func TestEngineBuild(t *testing.T) {
	ctx, dir, cache := fourPackages(t)
	b := &hostBuilder{}

	e := newTestEngine(t, loadRecipe(t, dir, ""), filepath.Join(dir, "w1"), cache, b)
	res, err := e.Build(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := b.reset(); strings.Join(got, ",") != "alpha,beta,delta,gamma" {
		t.Fatalf("built %v", got)
	}
	if got := b.brs["gamma"]; len(got) != 2 || !strings.HasPrefix(got[0], "beta-1.0-1") {
		t.Errorf("gamma's build root got %v, want beta-devel and beta (its Requires)", got)
	}
	if strings.Join(res.Ship, ",") != "alpha,beta,delta,gamma" || strings.Join(res.BuildOnly, ",") != "alpha-devel,beta-devel,delta-devel,gamma-devel" {
		t.Errorf("ship %v, build-only %v", res.Ship, res.BuildOnly)
	}
	p, _ := e.Plan(nil)
	if layers := p.Layers(); len(layers) != 3 {
		t.Errorf("layers %v", layers)
	}

	// A new work directory, same cache: nothing is built.
	e = newTestEngine(t, loadRecipe(t, dir, ""), filepath.Join(dir, "w2"), cache, b)
	res, err = e.Build(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := b.reset(); len(got) != 0 {
		t.Fatalf("second run built %v", got)
	}
	if n := res.Summary.Count(schedule.Cached); n != 4 {
		t.Errorf("cached %d, want 4", n)
	}

	// A comment in alpha's spec: alpha rebuilds, to the same bytes, so
	// its dependents stay cached (early cut-off).
	writeSpec(t, dir, "alpha", "v1, comment changed")
	e = newTestEngine(t, loadRecipe(t, dir, ""), filepath.Join(dir, "w2"), cache, b)
	if err := e.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	p, err = e.Plan(nil)
	if err != nil {
		t.Fatal(err)
	}
	why := e.Explain(p)
	if !slices.Contains(why["alpha"], "spec changed") && !slices.Contains(why["alpha"], "source changed") {
		t.Errorf("explain alpha: %v", why)
	}
	if !slices.Contains(why["beta"], "dependency alpha rebuilt") || !slices.Contains(why["gamma"], "dependency beta rebuilt") || len(why["delta"]) != 0 {
		t.Errorf("explain: %v", why)
	}
	if _, err = e.Build(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if got := b.reset(); strings.Join(got, ",") != "alpha" {
		t.Fatalf("after a comment change built %v, want alpha only", got)
	}

	// A real change to alpha's content: alpha rebuilds, so does beta (its
	// build root holds the new alpha); beta's rebuild gives the same bytes,
	// so gamma stays cached; delta is untouched.
	os.WriteFile(filepath.Join(dir, "alpha.txt"), []byte("new data\n"), 0o644)
	e = newTestEngine(t, loadRecipe(t, dir, ""), filepath.Join(dir, "w2"), cache, b)
	if _, err = e.Build(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if got := b.reset(); strings.Join(got, ",") != "alpha,beta" {
		t.Fatalf("after a source change built %v, want alpha,beta", got)
	}

	// A failure: beta fails (new key through a define), gamma is skipped,
	// delta is unaffected; the error names beta.
	b.failOn = "beta"
	os.WriteFile(filepath.Join(dir, "beta.txt"), []byte("beta v2\n"), 0o644)
	e = newTestEngine(t, loadRecipe(t, dir, ""), filepath.Join(dir, "w2"), cache, b)
	res, err = e.Build(ctx, nil)
	if err == nil || !strings.Contains(err.Error(), "beta") {
		t.Fatalf("err = %v, want beta's failure", err)
	}
	if res.Summary.Node("gamma").State != schedule.Skipped || res.Summary.Node("delta").State.Finished() == false {
		t.Errorf("summary: %+v", res.Summary.Nodes)
	}
}

// BenchmarkNoopRebuild measures a re-run of a fully built recipe: prepare
// (every SRPM found prepared), plan, resume every node from the state,
// collect the outputs. The budget is 2 s.
func BenchmarkNoopRebuild(b *testing.B) {
	testenv.Tools(b, "rpmbuild", "rpmspec", "createrepo_c")
	t := b
	dir := b.TempDir()
	writeSpec(t, dir, "alpha", "")
	writeSpec(t, dir, "beta", "", "alpha-devel")
	writeSpec(t, dir, "gamma", "", "beta-devel")
	writeSpec(t, dir, "delta", "")
	r := loadRecipe(t, dir, "")
	work, cache := filepath.Join(dir, "w"), filepath.Join(dir, "c")
	hb := &hostBuilder{}
	if _, err := newTestEngine(t, r, work, cache, hb).Build(context.Background(), nil); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := newTestEngine(t, r, work, cache, hb).Build(context.Background(), nil); err != nil {
			b.Fatal(err)
		}
	}
	if len(hb.reset()) != 4 {
		b.Fatal("the re-runs built something")
	}
}
