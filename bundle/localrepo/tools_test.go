package localrepo

import (
	"compress/gzip"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bundle-dev/bundle/bundle/runner"
	"github.com/bundle-dev/bundle/bundle/testenv"
)

// repoquery lists "name-version-release.arch" of every package dnf sees in
// the repository.
func repoquery(t *testing.T, dir string) []string {
	t.Helper()
	cmd := exec.Command("dnf", "--repofrompath=local,"+dir, "--repo=local",
		"--setopt=cachedir="+t.TempDir(), "--setopt=local.gpgcheck=0", "--releasever=9", "-y",
		"repoquery", "-q", "--qf", "%{name}-%{version}-%{release}.%{arch}")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("dnf repoquery: %v\n%s", err, out)
	}
	var pkgs []string
	for _, l := range strings.Split(string(out), "\n") {
		// dnf warns on stderr about things like the release version; keep
		// only package lines.
		if l = strings.TrimSpace(l); l != "" && !strings.Contains(l, " ") {
			pkgs = append(pkgs, l)
		}
	}
	slices.Sort(pkgs)
	return pkgs
}

func TestDnfReadsRefreshedRepo(t *testing.T) {
	testenv.Tools(t, "createrepo_c", "dnf")
	repo := openRepo(t, runner.Exec{})
	repo.LogDir = t.TempDir()
	ctx := context.Background()
	if _, err := repo.Add(ctx, []string{
		fixture("rpm-testsuite/hello-2.0-1.x86_64.rpm"),
		fixture("rpm-testsuite/hello-1.0-1.src.rpm"),
		fixture("rpm-testsuite/foo-1.0-1.noarch.rpm"),
		fixture("createrepo-testsuite/Archer-3.4.5-6.x86_64.rpm"),
		fixture("createrepo-testsuite/balicek-iso88591-1.1.1-1.x86_64.rpm"),
	}); err != nil {
		t.Fatal(err)
	}
	if err := repo.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"Archer-3.4.5-6.x86_64", "balicek-iso88591-1.1.1-1.x86_64", "foo-1.0-1.noarch",
		"hello-1.0-1.src", "hello-2.0-1.x86_64",
	}
	if got := repoquery(t, repo.Dir); !slices.Equal(got, want) {
		t.Errorf("dnf sees %v, want %v", got, want)
	}
	if _, err := os.Stat(filepath.Join(repo.LogDir, "createrepo_c.log")); err != nil {
		t.Errorf("no createrepo_c log: %v", err)
	}

	// Incremental: one more package, one removed.
	if _, err := repo.Add(ctx, []string{fixture("rpm-testsuite/hlinktest-1.0-1.noarch.rpm")}); err != nil {
		t.Fatal(err)
	}
	if err := repo.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if err := repo.Remove(ctx, "noarch/foo-1.0-1.noarch.rpm"); err != nil {
		t.Fatal(err)
	}
	if err := repo.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	want = []string{
		"Archer-3.4.5-6.x86_64", "balicek-iso88591-1.1.1-1.x86_64", "hello-1.0-1.src",
		"hello-2.0-1.x86_64", "hlinktest-1.0-1.noarch",
	}
	if got := repoquery(t, repo.Dir); !slices.Equal(got, want) {
		t.Errorf("after add and remove dnf sees %v, want %v", got, want)
	}
	// Old metadata does not pile up: primary, filelists, other, repomd.
	if md, _ := os.ReadDir(filepath.Join(repo.Dir, "repodata")); len(md) != 4 {
		t.Errorf("repodata holds %d files, want 4", len(md))
	}
}

// readTree maps every file under dir (relative path) to its bytes.
func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			rel, _ := filepath.Rel(dir, p)
			out[rel] = string(b)
		}
		return nil
	})
	return out
}

// TestMetadataIsDeterministic builds the same repository three ways (in
// different orders, incrementally with --update, and from scratch after a
// removal) and wants byte-identical repodata.
func TestMetadataIsDeterministic(t *testing.T) {
	testenv.Tools(t, "createrepo_c")
	ctx := context.Background()
	pkgs := []string{
		fixture("rpm-testsuite/hello-2.0-1.x86_64.rpm"),
		fixture("rpm-testsuite/hello-1.0-1.src.rpm"),
		fixture("createrepo-testsuite/Archer-3.4.5-6.x86_64.rpm"),
		fixture("createrepo-testsuite/Rimmer-1.0.2-2.x86_64.rpm"),
		fixture("rpm-testsuite/hlinktest-1.0-1.noarch.rpm"),
		fixture("rpm-testsuite/capstest-1.0-1.noarch.rpm"),
	}
	build := func(steps ...func(*Repo)) map[string]string {
		repo := openRepo(t, runner.Exec{})
		for _, s := range steps {
			s(repo)
		}
		return readTree(t, filepath.Join(repo.Dir, "repodata"))
	}
	add := func(files ...string) func(*Repo) {
		return func(r *Repo) {
			if _, err := r.Add(ctx, files); err != nil {
				t.Fatal(err)
			}
		}
	}
	refresh := func(r *Repo) {
		if err := r.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
	}
	remove := func(names ...string) func(*Repo) {
		return func(r *Repo) {
			if err := r.Remove(ctx, names...); err != nil {
				t.Fatal(err)
			}
		}
	}
	reversed := slices.Clone(pkgs)
	slices.Reverse(reversed)

	a := build(add(pkgs...), refresh)
	variants := map[string]map[string]string{
		"reverse order":       build(add(reversed...), refresh),
		"incremental":         build(add(pkgs[:3]...), refresh, add(pkgs[3:]...), refresh),
		"refreshed twice":     build(add(pkgs...), refresh, refresh),
		"after add & removal": build(add(pkgs...), add(fixture("rpm-testsuite/foo-1.0-1.noarch.rpm")), refresh, remove("noarch/foo-1.0-1.noarch.rpm"), refresh),
	}
	if len(a) != 4 {
		t.Fatalf("repodata: %d files", len(a))
	}
	// What makes it deterministic: file times are build times, and the
	// revision and timestamps are the newest build time, not "now".
	// hello-1.0-1.src.rpm is the newest: built 1715603895.
	if !strings.Contains(a["repomd.xml"], "<revision>1715603895</revision>") {
		t.Errorf("repomd.xml revision is not the newest build time:\n%s", a["repomd.xml"])
	}
	if strings.Count(a["repomd.xml"], "<timestamp>1715603895</timestamp>") != 3 {
		t.Errorf("repomd.xml timestamps are not the revision:\n%s", a["repomd.xml"])
	}
	var primary string
	for name, content := range a {
		if strings.HasSuffix(name, "-primary.xml.gz") {
			zr, err := gzip.NewReader(strings.NewReader(content))
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(zr)
			if err != nil {
				t.Fatal(err)
			}
			primary = string(b)
		}
	}
	if !strings.Contains(primary, `<time file="1227355200" build="1227355200"/>`) {
		t.Errorf("hello's file time is not its build time:\n%s", primary)
	}
	for name, b := range variants {
		if len(a) != len(b) {
			t.Errorf("%s: %d files, want %d", name, len(b), len(a))
			continue
		}
		for f, content := range a {
			if b[f] != content {
				t.Errorf("%s: %s differs", name, f)
			}
		}
	}
}
