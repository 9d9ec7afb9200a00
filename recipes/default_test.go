package recipes

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bundle-dev/bundle/bundle/testenv"
)

// TestLoadDefault checks the reference recipe's shape: its Python first,
// gdb as a bootstrap package embedding it, -devel and debug subpackages
// never shipped, the pip files it names.
func TestLoadDefault(t *testing.T) {
	r, err := Load("default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if r.Python == nil || r.Python.Name != "python3.11" {
		t.Fatalf("python = %+v; want python3.11", r.Python)
	}
	if len(r.Bootstrap) != 1 || r.Bootstrap[0].Name != "gdb" || r.Bootstrap[0].WithPython == nil || !*r.Bootstrap[0].WithPython {
		t.Errorf("bootstrap = %+v; want gdb with with-python: true", r.Bootstrap)
	}
	for _, glob := range []string{"*-devel", "*-debuginfo", "*-debugsource", "*-static"} {
		if !slices.Contains(r.Defaults.Exclude, glob) {
			t.Errorf("defaults.exclude %v lacks %s", r.Defaults.Exclude, glob)
		}
	}
	if s := r.Effective(r.Package("openssl")); s.Keeps("openssl-perl") || !s.Keeps("openssl-libs") || s.Keeps("openssl-devel") {
		t.Errorf("openssl: ships openssl-perl %v, openssl-libs %v, openssl-devel %v; want false, true, false",
			s.Keeps("openssl-perl"), s.Keeps("openssl-libs"), s.Keeps("openssl-devel"))
	}
	if r.Pip == nil || filepath.Base(r.Pip.Requirements.String()) != "requirements.txt" || filepath.Base(r.Pip.Lock.String()) != "requirements.lock" {
		t.Errorf("pip = %+v", r.Pip)
	}
	for _, p := range r.All() {
		if p.Spec.IsZero() || len(p.Sources) != 1 || len(p.Sources[0].SHA256) != 64 || p.Sources[0].URL == "" {
			t.Errorf("%s: want a spec and one url source with its sha256", p.Name)
		}
		for _, pa := range p.Patches {
			if _, err := os.Stat(pa.Path.Resolved); err != nil {
				t.Errorf("%s: patch: %v", p.Name, err)
			}
		}
	}
}

// specInfo is what rpmspec says about one spec of the recipe.
type specInfo struct {
	parsed        string   // rpmspec -P
	names         []string // binary packages, NAME-RELEASE
	provides      []string // capability names
	buildRequires []string // capability names
}

func querySpec(t *testing.T, spec string, extra ...string) specInfo {
	t.Helper()
	args := func(a ...string) []string { return append(slices.Clone(extra), a...) }
	var si specInfo
	si.parsed = rpmspec(t, args("-P", spec)...)
	si.names = strings.Fields(rpmspec(t, args("-q", "--qf", "%{name}-%{release} ", spec)...))
	for _, line := range strings.Split(rpmspec(t, args("-q", "--provides", spec)...), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			si.provides = append(si.provides, f[0])
		}
	}
	for _, line := range strings.Split(rpmspec(t, args("-q", "--buildrequires", spec)...), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			si.buildRequires = append(si.buildRequires, f[0])
		}
	}
	return si
}

// TestDefaultSpecs parses every spec of default.yaml with rpmspec and checks
// that the recipe supplies exactly the files its Source tags name, that
// Release carries the dist tag, that the libraries have -devel subpackages,
// that every -devel BuildRequires is satisfied by the recipe itself (the
// bundle links its own libraries, never the build root's), the BuildRequires
// that order the build (python3.11 after its libraries, gdb after
// python3.11 only with the python bcond) and the configure options the
// bundle depends on.
func TestDefaultSpecs(t *testing.T) {
	testenv.Tools(t, "rpmspec")
	r, err := Load("default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	infos := map[string]specInfo{}
	provided := map[string]bool{}
	for _, p := range r.All() {
		si := querySpec(t, p.Spec.String())
		infos[p.Name] = si
		for _, c := range si.provides {
			provided[c] = true
		}
		var want []string
		for _, m := range sourceTag.FindAllStringSubmatch(si.parsed, -1) {
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
		if !slices.Contains(si.names, p.Name+"-1.deb12") {
			t.Errorf("%s: binary packages %v; want %s with release 1.deb12", p.Name, si.names, p.Name)
		}
		if p.Name != "gdb" && !slices.Contains(si.names, p.Name+"-devel-1.deb12") {
			t.Errorf("%s: binary packages %v; want a -devel subpackage", p.Name, si.names)
		}
		if len(p.Patches) > 0 && !strings.Contains(mustRead(t, p.Spec.String()), "%autosetup") {
			t.Errorf("%s: the recipe patches it but its %%prep has no %%autosetup", p.Name)
		}
	}
	for name, si := range infos {
		for _, br := range si.buildRequires {
			if strings.HasSuffix(br, "-devel") && !provided[br] {
				t.Errorf("%s BuildRequires %s, which no package of the recipe provides (the build root's -dev packages must not be used)", name, br)
			}
		}
	}
	for _, dep := range []string{"openssl-devel", "libffi-devel", "sqlite-devel", "ncurses-devel", "readline-devel",
		"zlib-devel", "bzip2-devel", "xz-devel", "expat-devel"} {
		if !slices.Contains(infos["python3.11"].buildRequires, dep) {
			t.Errorf("python3.11 does not BuildRequire %s", dep)
		}
	}
	for _, dep := range []string{"python3.11-devel", "gmp-devel", "mpfr-devel", "expat-devel", "ncurses-devel", "readline-devel", "zlib-devel", "xz-devel"} {
		if !slices.Contains(infos["gdb"].buildRequires, dep) {
			t.Errorf("gdb does not BuildRequire %s", dep)
		}
	}
	for _, c := range []string{"/usr/bin/python3", "/usr/bin/python3.11", "python3"} {
		if !slices.Contains(infos["python3.11"].provides, c) && !fileListed(t, r.Python.Spec.String(), c) {
			t.Errorf("python3.11 provides no %s", c)
		}
	}
	for _, opt := range []string{"--enable-shared", "--with-system-ffi", "--with-system-expat", "--with-openssl=/usr",
		"--with-ensurepip=install", "--with-platlibdir=lib64"} {
		if !strings.Contains(infos["python3.11"].parsed, opt) {
			t.Errorf("python3.11.spec: no %s", opt)
		}
	}
	if !strings.Contains(mustRead(t, r.Python.Spec.String()), "%global __brp_python_bytecompile %{nil}") {
		t.Error("python3.11.spec does not switch rpm's byte-compilation off")
	}
	if !strings.Contains(infos["ncurses"].parsed, "%{_datadir}/terminfo/") && !strings.Contains(infos["ncurses"].parsed, "/usr/share/terminfo/") {
		t.Error("ncurses ships no terminfo database")
	}

	// gdb's python bcond: on by default, off with --without python.
	if !strings.Contains(infos["gdb"].parsed, "--with-python=/usr/bin/python3.11") {
		t.Error("gdb.spec: the default build does not configure --with-python=/usr/bin/python3.11")
	}
	off := querySpec(t, r.Package("gdb").Spec.String(), "--without", "python")
	if slices.Contains(off.buildRequires, "python3.11-devel") || !strings.Contains(off.parsed, "--without-python") {
		t.Errorf("gdb.spec --without python: BuildRequires %v; want no python3.11-devel and --without-python", off.buildRequires)
	}
}

func mustRead(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// fileListed reports whether the expanded %files sections of spec name
// path (rpmspec lists a package's files only once built; a spec's %files
// lines are enough to know it ships a path).
func fileListed(t *testing.T, spec, path string) bool {
	t.Helper()
	parsed := rpmspec(t, "-P", spec)
	in := false
	for _, line := range strings.Split(parsed, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "%files"):
			in = true
		case strings.HasPrefix(line, "%changelog"), strings.HasPrefix(line, "%package"):
			in = false
		case in && line == path:
			return true
		}
	}
	return false
}
