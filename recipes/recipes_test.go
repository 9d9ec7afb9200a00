package recipes

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/bundle-dev/bundle/bundle/testenv"
)

func TestLoadValidFull(t *testing.T) {
	r, err := Load("testdata/valid-full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := filepath.Abs("testdata")
	if r.Dir != dir || r.File != "testdata/valid-full.yaml" {
		t.Errorf("Dir, File = %q, %q", r.Dir, r.File)
	}
	if got := r.PlatformRef(); got != filepath.Join(dir, "platform-custom.yaml") {
		t.Errorf("PlatformRef = %q", got)
	}
	if p, err := r.LoadPlatform(); err != nil || p.Name != "custom-x86_64" {
		t.Errorf("LoadPlatform = %v, %v", p, err)
	}
	var names []string
	for _, p := range r.All() {
		names = append(names, p.Name)
	}
	if want := []string{"python3", "gdb", "hello", "helper"}; !slices.Equal(names, want) {
		t.Errorf("All = %v; want %v", names, want)
	}
	hello := r.Package("hello")
	if hello == nil || r.Package("nope") != nil {
		t.Fatal("Package lookup")
	}
	if hello.Spec != (Path{"specs/hello.spec", filepath.Join(dir, "specs/hello.spec")}) {
		t.Errorf("spec = %+v", hello.Spec)
	}
	if got := hello.Sources[1].FileName(); got != "COPYING" {
		t.Errorf("named source FileName = %q", got)
	}
	if got := hello.Sources[0].FileName(); got != "hello.txt" {
		t.Errorf("path source FileName = %q", got)
	}
	if got := hello.Patches[1].FileName(); got != "fix-build.patch" {
		t.Errorf("url patch FileName = %q", got)
	}
	if r.Output.Dir.Resolved != filepath.Join(dir, "dist") || r.Output.Compression != "zstd" {
		t.Errorf("output = %+v", r.Output)
	}
	if r.TopDir != "fullbundle" {
		t.Errorf("top-dir = %q", r.TopDir)
	}
	if r.Pip == nil || r.Pip.FindLinks[0].Resolved != filepath.Join(dir, "wheels") {
		t.Errorf("pip = %+v", r.Pip)
	}
	if h := r.Package("helper"); !h.BuildOnly || h.Memory != 512<<20 {
		t.Errorf("helper (merged from x-shared) = %+v", h)
	}
	if err := r.Validate(); err != nil {
		t.Errorf("Validate after Load: %v", err)
	}
}

func TestLoadExample(t *testing.T) {
	r, err := Load("example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if r.TopDir != "example" || r.Output.Compression != "zstd" || len(r.Packages) != 4 {
		t.Errorf("recipe = %+v", r)
	}
	for _, p := range r.Packages {
		if p.Spec.IsZero() || len(p.Sources) != 1 || p.Sources[0].SHA256 == "" {
			t.Errorf("%s: want a spec and one url source with sha256", p.Name)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("testdata/does-not-exist.yaml")
	if err == nil || !strings.Contains(err.Error(), "does-not-exist.yaml") {
		t.Errorf("err = %v", err)
	}
}

func TestDefaultsFilled(t *testing.T) {
	r, err := Parse("r.yaml", []byte(minimal+"packages: [{name: a, spec: specs/hello.spec}]\n"), "testdata")
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := filepath.Abs("testdata")
	want := Output{Compression: "gzip", CatalogMax: 200000, CatalogMin: 1000, Dir: Path{"out", filepath.Join(dir, "out")}}
	if r.Output != want || r.TopDir != "t" {
		t.Errorf("output = %+v, top-dir = %q", r.Output, r.TopDir)
	}
}

func boolp(b bool) *bool { return &b }

func TestEffective(t *testing.T) {
	defaults := Defaults{
		Jobs: 2, Memory: 1 << 30,
		Defines: map[string]string{"a": "1", "b": "2"},
		Keep:    []string{"lib*"},
		Exclude: []string{"*-debuginfo"},
		With:    []string{"x11", "tests"},
		Without: []string{"docs"},
	}
	tests := []struct {
		name      string
		pkg       Package
		bootstrap bool
		want      Settings
	}{
		{"defaults only", Package{Name: "p"}, false, Settings{
			Jobs: 2, Memory: 1 << 30, Defines: map[string]string{"a": "1", "b": "2"},
			With: []string{"tests", "x11"}, Without: []string{"docs"},
			Keep: []string{"lib*"}, Exclude: []string{"*-debuginfo"},
		}},
		{"package overrides", Package{
			Name: "p", Jobs: 8, Memory: 1 << 20, BuildOnly: true,
			Defines: map[string]string{"b": "20", "c": "3"},
			With:    []string{"docs"}, Without: []string{"x11"},
			Keep: []string{"p"}, Exclude: []string{"*-doc", "*-debuginfo"},
		}, false, Settings{
			Jobs: 8, Memory: 1 << 20, BuildOnly: true,
			Defines: map[string]string{"a": "1", "b": "20", "c": "3"},
			With:    []string{"docs", "tests"}, Without: []string{"x11"},
			Keep: []string{"p"}, Exclude: []string{"*-debuginfo", "*-doc"},
		}},
		{"bootstrap with python", Package{Name: "gdb", WithPython: boolp(true)}, true, Settings{
			Jobs: 2, Memory: 1 << 30, Defines: map[string]string{"a": "1", "b": "2"},
			With: []string{"python", "tests", "x11"}, Without: []string{"docs"},
			Keep: []string{"lib*"}, Exclude: []string{"*-debuginfo"},
		}},
		{"bootstrap without python", Package{Name: "gdb", WithPython: boolp(false)}, true, Settings{
			Jobs: 2, Memory: 1 << 30, Defines: map[string]string{"a": "1", "b": "2"},
			With: []string{"tests", "x11"}, Without: []string{"docs", "python"},
			Keep: []string{"lib*"}, Exclude: []string{"*-debuginfo"},
		}},
		{"with-python ignored outside bootstrap", Package{Name: "p", WithPython: boolp(true)}, false, Settings{
			Jobs: 2, Memory: 1 << 30, Defines: map[string]string{"a": "1", "b": "2"},
			With: []string{"tests", "x11"}, Without: []string{"docs"},
			Keep: []string{"lib*"}, Exclude: []string{"*-debuginfo"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.pkg
			r := &Recipe{Defaults: defaults}
			if tt.bootstrap {
				r.Bootstrap = []*Package{&p}
			} else {
				r.Packages = []*Package{&p}
			}
			before := *r
			got := r.Effective(&p)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
			if !reflect.DeepEqual(before.Defaults, r.Defaults) {
				t.Error("Effective changed the defaults")
			}
		})
	}
}

func TestKeeps(t *testing.T) {
	tests := []struct {
		s    Settings
		name string
		want bool
	}{
		{Settings{}, "anything", true},
		{Settings{Exclude: []string{"*-debuginfo"}}, "zlib-debuginfo", false},
		{Settings{Exclude: []string{"*-debuginfo"}}, "zlib", true},
		{Settings{Keep: []string{"zlib", "zlib-devel"}}, "zlib-devel", true},
		{Settings{Keep: []string{"zlib", "zlib-devel"}}, "zlib-static", false},
		{Settings{Keep: []string{"zlib*"}, Exclude: []string{"*-static"}}, "zlib-static", false},
	}
	for _, tt := range tests {
		if got := tt.s.Keeps(tt.name); got != tt.want {
			t.Errorf("%+v.Keeps(%q) = %v; want %v", tt.s, tt.name, got, tt.want)
		}
	}
}

// TestValidateNoSideEffects checks that Validate neither changes the recipe
// nor depends on Parse for programmatic recipes.
func TestValidateNoSideEffects(t *testing.T) {
	r := &Recipe{
		Name: "prog", Version: "1", Platform: "debian12-x86_64",
		Packages: []*Package{{Name: "a", SRPM: &Source{URL: "https://example.org/a.src.rpm"}}},
	}
	before := *r
	pkgBefore := *r.Packages[0]
	err := r.Validate()
	want := "packages[0].srpm.sha256: required with a url (sha256sum the file you checked)"
	if err == nil || err.Error() != want {
		t.Errorf("Validate = %v; want %s", err, want)
	}
	if !reflect.DeepEqual(before, *r) || !reflect.DeepEqual(pkgBefore, *r.Packages[0]) {
		t.Error("Validate changed the recipe")
	}
	if r.TopDir != "" || r.Output.Compression != "" {
		t.Error("Validate filled in defaults")
	}
}

func TestDigest(t *testing.T) {
	load := func(t *testing.T, yml string) *Recipe {
		t.Helper()
		r, err := Parse("r.yaml", []byte(yml), "testdata")
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	base := minimal + "packages:\n  - {name: a, spec: specs/hello.spec, jobs: 4}\n"
	d := load(t, base).Digest()
	if len(d) != 64 || d != load(t, base).Digest() {
		t.Fatalf("digest %q not stable", d)
	}
	same := map[string]string{
		"explicit defaults":  base + "top-dir: t\noutput: {compression: gzip, catalog-max: 200000, catalog-min: 1000, dir: out}\n",
		"jobs from defaults": minimal + "defaults: {jobs: 4}\npackages:\n  - {name: a, spec: specs/hello.spec}\n",
		"output dir":         base + "output: {dir: elsewhere}\n",
		"key order":          "platform: debian12-x86_64\nversion: \"1\"\nname: t\npackages:\n  - {jobs: 4, spec: specs/hello.spec, name: a}\n",
		"comments and style": "# c\n" + minimal + "packages:\n  - name: a   # x\n    spec: './specs//hello.spec'\n    jobs: 0x4\n",
	}
	for name, yml := range same {
		if got := load(t, yml).Digest(); got != d {
			t.Errorf("%s: digest %s; want %s", name, got, d)
		}
	}
	different := map[string]string{
		"jobs":       minimal + "packages:\n  - {name: a, spec: specs/hello.spec, jobs: 5}\n",
		"version":    strings.Replace(base, `"1"`, `"2"`, 1),
		"top-dir":    base + "top-dir: other\n",
		"bcond":      base + "defaults: {with: [x]}\n",
		"spec":       minimal + "packages:\n  - {name: a, spec: ../testdata/specs/hello.spec, jobs: 4}\n",
		"closure":    base + "closure: {weak-deps: true}\n",
		"build-only": minimal + "packages:\n  - {name: a, spec: specs/hello.spec, jobs: 4, build-only: true}\n",
	}
	for name, yml := range different {
		if got := load(t, yml).Digest(); got == d {
			t.Errorf("%s: digest did not change", name)
		}
	}
	// the recipe's location does not matter
	tmp := t.TempDir()
	data, err := os.ReadFile("testdata/valid-full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	a, err := Parse("valid-full.yaml", data, "testdata")
	if err != nil {
		t.Fatal(err)
	}
	moved := *a
	moved.Dir = tmp
	if a.Digest() != moved.Digest() {
		t.Error("digest depends on the recipe's folder")
	}
}

// TestDigestGolden pins the digest of the full recipe, so a change of the
// canonical form (which invalidates every cache) is deliberate.
func TestDigestGolden(t *testing.T) {
	r, err := Load("testdata/valid-full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got := r.Digest() + "\n"
	golden := "testdata/valid-full.digest"
	testenv.Golden(t, golden, []byte(got))
}

func TestFileURLSource(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "a.tar.gz")
	if err := os.WriteFile(src, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	yml := minimal + "packages:\n  - name: a\n    srpm:\n      url: file://" + src + "\n      sha256: 2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881\n"
	r, err := Parse("r.yaml", []byte(yml), "testdata")
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Packages[0].SRPM.FileName(); got != "a.tar.gz" {
		t.Errorf("FileName = %q", got)
	}
	if err := os.Remove(src); err != nil {
		t.Fatal(err)
	}
	if err := r.Validate(); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("Validate after removing the file = %v", err)
	}
}

func BenchmarkParseFull(b *testing.B) {
	data, err := os.ReadFile("testdata/valid-full.yaml")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Parse("valid-full.yaml", data, "testdata"); err != nil {
			b.Fatal(err)
		}
	}
}
