package plan

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/bundle-dev/bundle/bundle/rpm"
	"github.com/bundle-dev/bundle/bundle/rpm/rpmtest"
	"github.com/bundle-dev/bundle/bundle/runner"
	"github.com/bundle-dev/bundle/bundle/testenv"
)

var fixtures = testenv.Fixture("rpm-testsuite") + "/"

// fakeQuerier records queries and answers with canned stdout.
type fakeQuerier struct {
	specs  []string
	args   [][]string
	stdout string
	err    error
}

func (f *fakeQuerier) query(_ context.Context, spec string, args []string) ([]byte, error) {
	f.specs = append(f.specs, spec)
	f.args = append(f.args, args)
	return []byte(f.stdout), f.err
}

// hostQuery runs the host's rpmspec: only for the trusted specs of
// testdata; bundle itself queries specs in its builder's sandbox.
func hostQuery(ctx context.Context, spec string, args []string) ([]byte, error) {
	return runner.Output(ctx, runner.Default, runner.Cmd{Name: "rpmspec", Args: append(args, spec), Dir: filepath.Dir(spec)})
}

func TestSpecQueriesArguments(t *testing.T) {
	spec, _ := filepath.Abs("testdata/demo.spec")
	data, err := os.ReadFile("testdata/specquery-demo.txt")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeQuerier{stdout: string(data)}
	deps, err := SpecProvides(context.Background(), f.query, "testdata/demo.spec", map[string]string{"dist": ".el9", "_with_docs": "1", "b": "x y"})
	if err != nil {
		t.Fatal(err)
	}
	if len(deps) != 5 {
		t.Errorf("got %d provides, want 5", len(deps))
	}
	want := []string{"-q", "--define", "_with_docs 1", "--define", "b x y", "--define", "dist .el9", "--builtrpms", "--qf", specQueryFormat}
	if !reflect.DeepEqual(f.args[0], want) || f.specs[0] != spec {
		t.Errorf("queried %s with %q, want %s with %q", f.specs[0], f.args[0], spec, want)
	}

	f = &fakeQuerier{stdout: "gcc\nrpmlib(CompressedFileNames) <= 3.0.4-1\nzlib-devel >= 1.2\n"}
	deps, err = SpecBuildRequires(context.Background(), f.query, spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := mustDeps(t, "gcc", "zlib-devel >= 1.2"); !reflect.DeepEqual(deps, want) {
		t.Errorf("SpecBuildRequires = %v, want %v", deps, want)
	}
	if got := f.args[0]; !reflect.DeepEqual(got, []string{"-q", "--buildrequires"}) {
		t.Errorf("args %q", got)
	}

	f = &fakeQuerier{err: errors.New("exit status 1")}
	if _, err := SpecBuildRequires(context.Background(), f.query, spec, nil); err == nil || !strings.Contains(err.Error(), "demo.spec") {
		t.Errorf("error %v does not name the spec", err)
	}
	f = &fakeQuerier{stdout: "package\n"}
	if _, err := SpecProvides(context.Background(), f.query, spec, nil); err == nil || !strings.Contains(err.Error(), "rpmspec output") {
		t.Errorf("bad output: error %v", err)
	}
	if _, err := SpecProvides(context.Background(), f.query, "testdata/missing.spec", nil); err == nil {
		t.Error("missing spec: no error")
	}
}

func depStrings(deps []rpm.Dep) []string {
	out := make([]string, len(deps))
	for i, d := range deps {
		out[i] = d.String()
	}
	return out
}

func TestSpecQueriesRpmspec(t *testing.T) {
	testenv.Tools(t, "rpmspec")
	ctx := context.Background()
	prov, err := SpecProvides(ctx, hostQuery, "testdata/demo.spec", map[string]string{"dist": ".el9"})
	if err != nil {
		t.Fatal(err)
	}
	got := depStrings(prov)
	for _, want := range []string{"demo = 1:2.1-3.el9", "demo-devel = 1:2.1-3.el9", "libdemo-devel(x86-64) = 2.1"} {
		if !slices.Contains(got, want) {
			t.Errorf("provides %q lack %q", got, want)
		}
	}
	for _, d := range got {
		if strings.Contains(d, "unbuilt") {
			t.Errorf("provides %q include the subpackage without %%files", got)
		}
	}

	br, err := SpecBuildRequires(ctx, hostQuery, "testdata/demo.spec", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := depStrings(br), []string{"(python3-setuptools or python3-pip)", "/usr/bin/make", "gcc", "zlib-devel >= 1.2.11"}; !reflect.DeepEqual(got, want) {
		t.Errorf("BuildRequires = %q, want %q", got, want)
	}
	br, err = SpecBuildRequires(ctx, hostQuery, "testdata/demo.spec", map[string]string{"with_extra": "1", "_with_docs": "1"})
	if err != nil {
		t.Fatal(err)
	}
	if got := depStrings(br); !slices.Contains(got, "extra-devel = 4") || !slices.Contains(got, "sphinx") {
		t.Errorf("defines and bconds not applied: %q", got)
	}
}

func TestSRPMSpec(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	spec, err := SRPMSpec(ctx, fixtures+"hello-1.0-1.src.rpm", dir)
	if err != nil {
		t.Fatal(err)
	}
	if spec != filepath.Join(dir, "hello.spec") {
		t.Errorf("spec at %s", spec)
	}
	data, err := os.ReadFile(spec)
	if err != nil || !strings.Contains(string(data), "Name: hello") {
		t.Errorf("extracted spec %q, %v", data, err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("dir holds %d entries, want only the spec", len(ents))
	}

	for _, bad := range []struct{ file, want string }{
		{"hello-2.0-1.x86_64-corrupted.rpm", "extract spec of"},
		{"hello-2.0-1.x86_64.rpm", "binary package, not a source RPM"},
		{"does-not-exist.src.rpm", "no such file"},
	} {
		_, err := SRPMSpec(ctx, fixtures+bad.file, dir)
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: error %v, want %q", bad.file, err, bad.want)
		}
	}
	// Source packages made here: no spec, two specs, a spec in a
	// subdirectory or as a symlink (neither counts), a spec with a
	// payload that does not match its header.
	src := t.TempDir()
	file := func(p, data string) rpmtest.File { return rpmtest.File{Path: p, Mode: 0o100644, Data: []byte(data)} }
	for _, bad := range []struct {
		name  string
		files []rpmtest.File
		want  string
	}{
		{"nospec", []rpmtest.File{file("/x.tar.gz", "tar")}, "no top-level .spec"},
		{"two", []rpmtest.File{file("/a.spec", "Name: a"), file("/b.spec", "Name: b")}, "several spec files (a.spec, b.spec)"},
		{"nested", []rpmtest.File{file("/sub/a.spec", "Name: a"), {Path: "/b.spec", Mode: 0o120777, LinkTo: "/etc/passwd"}}, "no top-level .spec"},
	} {
		p, err := rpmtest.WriteFile(src, bad.name+".src.rpm", rpmtest.Package{Name: bad.name, Version: "1", Release: "1", Arch: "x86_64", Source: true, Files: bad.files})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := SRPMSpec(ctx, p, dir); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: error %v, want %q", bad.name, err, bad.want)
		}
	}
	corrupt, err := rpmtest.WriteFile(src, "corrupt.src.rpm", rpmtest.Package{Name: "corrupt", Version: "1", Release: "1", Arch: "x86_64", Source: true,
		Files: []rpmtest.File{file("/a.spec", "Name: a")}, Payload: []byte("070701garbage"), Integrity: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := SRPMSpec(ctx, corrupt, dir); err == nil {
		t.Error("a corrupt payload gave a spec")
	}
	ents, _ = os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("failed extractions left %d entries in dir", len(ents))
	}

	// The extracted spec gives the same provides as the one in testdata.
	testenv.Tools(t, "rpmspec")
	prov, err := SpecProvides(ctx, hostQuery, spec, nil) // the fixture's spec is trusted
	if err != nil {
		t.Fatal(err)
	}
	if got := depStrings(prov); !slices.Contains(got, "hello = 1.0-1") {
		t.Errorf("provides of extracted spec: %q", got)
	}
}

func TestSRPMSpecCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := t.TempDir()
	if _, err := SRPMSpec(ctx, fixtures+"hello-1.0-1.src.rpm", dir); err == nil {
		t.Fatal("cancelled extraction succeeded")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("cancelled extraction left %d entries", len(ents))
	}
}

func TestSRPMBuildRequires(t *testing.T) {
	dir := t.TempDir()
	src, err := rpmtest.WriteFile(dir, "demo-1.0-1.src.rpm", rpmtest.Package{
		Name: "demo", Version: "1.0", Release: "1", Arch: "x86_64", Source: true,
		Requires: []rpmtest.Dep{
			{Name: "gcc"},
			{Name: "zlib-devel", Flags: uint32(rpm.SenseGreater | rpm.SenseEqual), Version: "1.2.11"},
			{Name: "rpmlib(CompressedFileNames)", Flags: uint32(rpm.SenseLess | rpm.SenseEqual | rpm.SenseRpmlib), Version: "3.0.4-1"},
			{Name: "(python3-setuptools or python3-pip)"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := SRPMBuildRequires(src)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"gcc", "zlib-devel >= 1.2.11", "(python3-setuptools or python3-pip)"}; !reflect.DeepEqual(depStrings(got), want) {
		t.Errorf("SRPMBuildRequires = %q, want %q", depStrings(got), want)
	}

	// A real SRPM with only rpmlib() requirements has no BuildRequires.
	got, err = SRPMBuildRequires(fixtures + "foo-1.0-1.src.rpm")
	if err != nil || len(got) != 0 {
		t.Errorf("foo SRPM: %v, %v", got, err)
	}
	if _, err := SRPMBuildRequires(fixtures + "hello-2.0-1.x86_64.rpm"); err == nil || !strings.Contains(err.Error(), "not a source RPM") {
		t.Errorf("binary package: error %v", err)
	}
	if _, err := SRPMBuildRequires(fixtures + "hello-2.0-1.x86_64-corrupted.rpm"); err == nil {
		t.Error("corrupted package: no error")
	}
}
