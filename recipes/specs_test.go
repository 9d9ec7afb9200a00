package recipes

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/bundle-dev/bundle/bundle/testenv"
)

func rpmspec(t *testing.T, args ...string) string {
	t.Helper()
	// dist as the platform sets it; %{?dist} must expand in Release
	args = append([]string{"--define", "dist .deb12"}, args...)
	out, err := exec.Command("rpmspec", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("rpmspec %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

var sourceTag = regexp.MustCompile(`(?m)^Source\d*:\s*(\S+)\s*$`)

// TestExampleSpecs parses every spec of example.yaml with rpmspec and checks
// that the recipe supplies exactly the files the spec's Source tags name,
// that Release carries the dist tag, that every package has a -devel
// subpackage, and that libxml2's BuildRequires on zlib and xz are provided
// by the recipe's own packages.
func TestExampleSpecs(t *testing.T) {
	testenv.Tools(t, "rpmspec")
	r, err := Load("example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	provides := map[string]string{}
	buildRequires := map[string][]string{}
	for _, p := range r.Packages {
		spec := p.Spec.String()
		parsed := rpmspec(t, "-P", spec)
		var want []string
		for _, m := range sourceTag.FindAllStringSubmatch(parsed, -1) {
			want = append(want, filepath.Base(m[1]))
		}
		var got []string
		for _, s := range p.Sources {
			got = append(got, s.FileName())
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s: recipe sources %v; spec needs %v", p.Name, got, want)
		}
		names := strings.Fields(rpmspec(t, "-q", "--qf", "%{name}-%{release} ", spec))
		if !slices.Contains(names, p.Name+"-1.deb12") || !slices.Contains(names, p.Name+"-devel-1.deb12") {
			t.Errorf("%s: binary packages %v; want %s and %s-devel with release 1.deb12", p.Name, names, p.Name, p.Name)
		}
		for _, line := range strings.Split(rpmspec(t, "-q", "--provides", spec), "\n") {
			if f := strings.Fields(line); len(f) > 0 {
				provides[f[0]] = p.Name
			}
		}
		for _, line := range strings.Split(rpmspec(t, "-q", "--buildrequires", spec), "\n") {
			if f := strings.Fields(line); len(f) > 0 {
				buildRequires[p.Name] = append(buildRequires[p.Name], f[0])
			}
		}
	}
	for _, dep := range []string{"zlib-devel", "xz-devel"} {
		if !slices.Contains(buildRequires["libxml2"], dep) {
			t.Errorf("libxml2 does not BuildRequire %s: %v", dep, buildRequires["libxml2"])
		}
		if provides[dep] == "" {
			t.Errorf("no package of the recipe provides %s", dep)
		}
	}
}
