package links

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
)

func TestComponents(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"/", nil},
		{"a", []string{"a"}},
		{"/a//b/", []string{"a", "b", "."}},
		{"./a/../b/.", []string{".", "a", "..", "b", "."}},
		{"a/", []string{"a", "."}},
		{"//", nil},
	} {
		if got := components(c.in); !slices.Equal(got, c.want) {
			t.Errorf("components(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestResolve(t *testing.T) {
	root := realTempDir(t)
	build(t, root,
		F("usr/lib/f", "f"),
		D("usr/lib/d"),
		F("opt/x/y", "y"),
		L("usr/lib/up", "../../../opt/x"), // escapes, to a directory
		L("usr/lib/abs", "/opt/x"),
		L("usr/lib/chain", "abs/y"),
		L("lib64", "usr/lib"),
	)
	r, err := os.OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	res := newResolver(r)
	for _, c := range []struct {
		dir, target string
		followLast  bool
		want        resolution
	}{
		{"/usr/lib", "f", true, resolution{status: resolved, path: "/usr/lib/f", mode: 0o644}},
		{"/usr/lib", "../../../../usr/lib/f", true, resolution{status: resolved, path: "/usr/lib/f", mode: 0o644, escaped: true}},
		{"/usr/lib", "up/y", true, resolution{status: resolved, path: "/opt/x/y", mode: 0o644}},
		{"/usr/lib", "up/..", true, resolution{status: resolved, path: "/opt", mode: os.ModeDir}},
		{"/usr/lib", "up/../../..", true, resolution{status: resolved, path: "/", mode: os.ModeDir, escaped: true}},
		{"/usr/lib", "chain", true, resolution{status: resolved, path: "/opt/x/y", mode: 0o644}},
		{"/usr/lib", "chain", false, resolution{status: resolved, path: "/usr/lib/chain"}},
		{"/", "/lib64/abs/y", false, resolution{status: resolved, path: "/opt/x/y"}},
		{"/", "/lib64/abs/..", false, resolution{status: resolved, path: "/opt", mode: os.ModeDir}},
		{"/", "/lib64/./", true, resolution{status: resolved, path: "/usr/lib", mode: os.ModeDir | 0o755}},
		{"/usr", "lib/f/", true, resolution{status: notDir}},
		{"/usr", "lib/f/..", true, resolution{status: notDir}},
		{"/usr", "lib/none/..", true, resolution{status: missing}},
		{"/usr", "", true, resolution{status: missing}},
		{"/usr/lib", ".", true, resolution{status: resolved, path: "/usr/lib", mode: os.ModeDir}},
	} {
		got, err := res.resolve(c.dir, c.target, c.followLast)
		if err != nil {
			t.Errorf("resolve(%q, %q): %v", c.dir, c.target, err)
			continue
		}
		if got != c.want {
			t.Errorf("resolve(%q, %q, %v) = %+v, want %+v", c.dir, c.target, c.followLast, got, c.want)
		}
	}
}

// kernelStatus is the status the kernel gives the path p.
func kernelStatus(p string) status {
	_, err := os.Stat(p)
	switch {
	case err == nil:
		return resolved
	case errors.Is(err, syscall.ELOOP):
		return loop
	case errors.Is(err, syscall.ENOTDIR):
		return notDir
	default:
		return missing
	}
}

// checkAgainstKernel resolves every symlink of spec (all relative) with the
// resolver and with the kernel and fails where they differ. It reports false
// when a target climbs above the root, where the two namespaces differ by
// design.
func checkAgainstKernel(t *testing.T, root string, spec []entry) bool {
	t.Helper()
	r, err := os.OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	res := newResolver(r)
	type result struct {
		e           entry
		full, named resolution
	}
	var results []result
	for _, e := range spec {
		if e.kind != 'l' {
			continue
		}
		dir := path.Dir("/" + e.path)
		full, err := res.resolve(dir, e.target, true)
		if err != nil {
			t.Fatal(err)
		}
		named, err := res.resolve(dir, e.target, false)
		if err != nil {
			t.Fatal(err)
		}
		if full.escaped || named.escaped {
			return false
		}
		results = append(results, result{e, full, named})
	}
	for _, rs := range results {
		link := filepath.Join(root, rs.e.path)
		want := kernelStatus(link)
		got := rs.full.status
		if got == tooLong {
			got = loop
		}
		if got != want {
			t.Errorf("%s -> %q: resolver says %v, kernel %v", rs.e.path, rs.e.target, rs.full.status.reason(), want.reason())
			continue
		}
		if got != resolved {
			continue
		}
		kfi, _ := os.Stat(link)
		rfi, err := os.Lstat(filepath.Join(root, rs.full.path))
		if err != nil || !os.SameFile(kfi, rfi) {
			t.Errorf("%s -> %q: resolver reaches %s, kernel another file", rs.e.path, rs.e.target, rs.full.path)
		}
		nfi, err := os.Stat(filepath.Join(root, rs.named.path))
		if err != nil || !os.SameFile(kfi, nfi) {
			t.Errorf("%s -> %q: named path %s does not lead to the same file (%v)", rs.e.path, rs.e.target, rs.named.path, err)
		}
	}
	return true
}

// TestResolveMatchesKernel compares the resolver with the kernel on relative
// links that stay inside the tree.
func TestResolveMatchesKernel(t *testing.T) {
	root := realTempDir(t)
	spec := []entry{
		F("f1", "1"), F("d1/f2", "2"), D("d1/d2/d3"), F("d1/d2/d3/f3", "3"),
		L("d1/up", ".."),
		L("d1/d2/deep", "d3"),
		L("a", "d1/d2/deep/../../f2"),
		L("b", "d1/up/d1/d2/deep/f3"),
		L("c", "d1/d2/deep/../deep/../../up/f1"),
		L("d", "f1/"),
		L("e", "d1/f2/.."),
		L("loop1", "loop2"), L("loop2", "loop1/x"),
		L("self", "self"),
		L("dang", "d1/nothing"),
		L("trail", "d1/d2/"),
		L("dots", "././d1/./up/./f1"),
		L("viaDang", "dang/.."),
		L("d1/d2/d3/back", "../../../d1/d2/deep/f3"),
	}
	// c00 -> c01 -> ... -> c40 -> d1/f2: 41 links from c00, 40 from c01.
	for i := range 41 {
		next := fmt.Sprintf("c%02d", i+1)
		if i == 40 {
			next = "d1/f2"
		}
		spec = append(spec, L(fmt.Sprintf("c%02d", i), next))
	}
	build(t, root, spec...)
	if !checkAgainstKernel(t, root, spec) {
		t.Fatal("a target of the test tree escapes")
	}
}
